"""``legacy advance``: the manifest records exactly what changed, checked with SQL.

A small database is generated, copied, and advanced twice (about seven months, up to a
week past the last Sunday of October 2017, then 3 more days).  Every check compares the database
before and after with plain SQL: the keys the manifest lists as inserted, revised and
deleted are exactly the keys whose rows appeared, changed and disappeared; revised rows
hold the recorded values; duplicate winners, re-sent batches and re-submissions follow
the dictionary's rules; and the full anomaly recount of ``recount.py`` matches the
updated manifest.  Nothing here uses the generator's logic.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from migration.cli import main
from migration.console import RecordingConsole
from migration.errors import GeneratorError
from migration.legacy import KINDS, advance, generate, read_manifest

from .recount import dst_days, manifest_keys, official_boroughs, recount, sqlite_regexp

SCALE = 0.0005
SEED = 11
AUTUMN_2017 = date(2017, 10, 29)
PKS = {"tblBorough": "BoroughID", "tblCrimeType": "CrimeTypeID", "tblHospital": "HospitalID",
       "tblOrganisation": "OrgID", "tblUser": "UserID", "tblImportLog": "BatchID", "tblMPSCrime": "RecID",
       "tblISTVAssault": "ISTVID", "tblLFBIncident": "IncidentNumber", "tblLASAssault": "LASRef",
       "tblTransportCrime": "RecID"}
KEYLESS = ("tblWard", "tblLSOA", "tblLookupCode")
FACTS = {"MPS": "tblMPSCrime", "ISTV": "tblISTVAssault", "LFB": "tblLFBIncident", "LAS": "tblLASAssault",
         "TRANSPORT": "tblTransportCrime"}


@dataclass
class Stages:
    base: Path          # as generated
    first: Path         # after advance 1
    second: Path        # after advance 2
    manifest: dict[str, Any]   # after both


def _copy(src: Path, dst: Path) -> Path:
    wal = src.with_name(src.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "committed changes left in the WAL: the copy would miss them"
    shutil.copy(src, dst)
    shutil.copy(src.with_name(src.stem + ".manifest.json"), dst.with_name(dst.stem + ".manifest.json"))
    return dst


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> Stages:
    d = tmp_path_factory.mktemp("advance")
    base = d / "base.sqlite"
    generate(f"sqlite:///{base}", SCALE, SEED, console=RecordingConsole())
    work = _copy(base, d / "work.sqlite")
    latest = max(v for (v,) in _all(base, "SELECT MAX(LoadedOn) FROM tblImportLog UNION ALL SELECT MAX(LastModified) "
                                          "FROM tblMPSCrime UNION ALL SELECT MAX(UpdatedOn) FROM tblLASAssault") if v)
    days = (AUTUMN_2017 - date.fromisoformat(latest[:10])).days + 7  # the window holds the repeated hour
    advance(f"sqlite:///{work}", days, 1, console=RecordingConsole())
    first = _copy(work, d / "first.sqlite")
    advance(f"sqlite:///{work}", 3, 2, console=RecordingConsole())
    return Stages(base, first, work, read_manifest(d / "work.manifest.json"))


def _connect(path: Path) -> Any:
    return closing(sqlite3.connect(path))


def _rows(path: Path, table: str) -> dict[Any, tuple[Any, ...]]:
    with _connect(path) as conn:
        cur = conn.execute(f'SELECT * FROM "{table}"')
        cols = [c[0] for c in cur.description]
        k = cols.index(PKS[table])
        return {r[k]: r for r in cur}


def _columns(path: Path, table: str) -> list[str]:
    with _connect(path) as conn:
        return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _one(path: Path, sql: str, *params: Any) -> Any:
    with _connect(path) as conn:
        return conn.execute(sql, params).fetchone()


def _all(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with _connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def _pairs(before: Path, after: Path) -> Iterator[tuple[str, dict[Any, Any], dict[Any, Any]]]:
    for table in PKS:
        yield table, _rows(before, table), _rows(after, table)


# ------------------------------------------------------------------ the record is exactly the change
@pytest.mark.parametrize("which", [0, 1])
def test_recorded_changes_are_exactly_the_changed_rows(stages: Stages, which: int) -> None:
    before, after = (stages.base, stages.first) if which == 0 else (stages.first, stages.second)
    record = stages.manifest["advances"][which]
    assert set(record["changes"]) == set(PKS) | set(KEYLESS)
    for table, old, new in _pairs(before, after):
        ch = record["changes"][table]
        cols = _columns(after, table)
        inserted, revised, deleted = set(ch["inserted"]), set(ch["revised"]), set(ch["deleted"])
        assert len(inserted) == len(ch["inserted"]) and len(deleted) == len(ch["deleted"]), table
        assert set(new) - set(old) == inserted, f"{table}: rows that appeared are not the ones recorded"
        assert set(old) - set(new) == deleted, f"{table}: rows that disappeared are not the ones recorded"
        changed = {k for k in set(old) & set(new) if old[k] != new[k]}
        assert changed == revised, f"{table}: rows that changed in place are not the ones recorded"
        for key, values in ch["set"]:
            assert key in revised
            row = new[key]
            for col, value in values.items():
                got = row[cols.index(col)]
                assert got == value or (isinstance(value, bool) and got == int(value)), (table, key, col)
            differs = {c for i, c in enumerate(cols) if old[key][i] != row[i]}
            assert differs <= set(values), f"{table} {key}: {differs - set(values)} changed but were not recorded"
    for table in KEYLESS:
        assert not any(record["changes"][table].values())
        assert sorted(_all(before, f'SELECT * FROM "{table}"')) == sorted(_all(after, f'SELECT * FROM "{table}"'))
    assert record["reference_tables"] == "unchanged"
    for table in ("tblBorough", "tblCrimeType", "tblHospital", "tblOrganisation"):
        assert not any(record["changes"][table].values()), table


def test_manifest_counts_and_every_anomaly_kind_recount_after_two_advances(stages: Stages) -> None:
    """The manifest stays ground truth: the independent recount of every kind agrees."""
    man = stages.manifest
    assert man["anomalies_exact"] is True and man["keys_recorded"]
    engine = create_engine(f"sqlite:///{stages.second}")
    sqlite_regexp(engine)
    try:
        with engine.connect() as conn:
            got = recount(conn, skip=lambda k: k == "hospital.closed_still_active")
            for table, entry in man["tables"].items():
                assert conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one() == entry["rows"], table
    finally:
        engine.dispose()
    wrong = [f"{k}: SQL {len(v)}, manifest {len(manifest_keys(man, k))}" for k, v in got.items()
             if v != manifest_keys(man, k)]
    assert not wrong, "\n".join(wrong)
    assert set(got) == set(KINDS) - {"hospital.closed_still_active"}


# ------------------------------------------------------------------ where and when an advance starts
def test_each_advance_starts_the_day_after_the_latest_activity(stages: Stages) -> None:
    for which, before in ((0, stages.base), (1, stages.first)):
        record = stages.manifest["advances"][which]
        latest = max(v for (v,) in _all(before, "SELECT MAX(LoadedOn) FROM tblImportLog UNION ALL "
                                                "SELECT MAX(LastModified) FROM tblMPSCrime UNION ALL "
                                                "SELECT MAX(UpdatedOn) FROM tblLASAssault UNION ALL "
                                                "SELECT MAX(LastLogin) FROM tblUser") if v)
        assert record["previous"]["now"] == latest
        start = date.fromisoformat(latest[:10]) + timedelta(days=1)
        assert record["from"] == start.isoformat()
        assert record["to"] == (start + timedelta(days=record["days"] - 1)).isoformat()
        assert record["previous"]["max_batch"] == _one(before, "SELECT MAX(BatchID) FROM tblImportLog")[0]
    a, b = stages.manifest["advances"]
    assert date.fromisoformat(b["from"]) == date.fromisoformat(a["to"]) + timedelta(days=1)
    assert (a["seed"], b["seed"], b["days"]) == (1, 2, 3)


def test_new_keys_and_batches_continue_after_the_old_maxima(stages: Stages) -> None:
    record = stages.manifest["advances"][0]
    for table in ("tblMPSCrime", "tblISTVAssault", "tblTransportCrime", "tblImportLog", "tblUser"):
        top = _one(stages.base, f'SELECT MAX("{PKS[table]}") FROM "{table}"')[0]
        assert min(record["changes"][table]["inserted"]) > top, table
    lfb = set(record["changes"]["tblLFBIncident"]["inserted"])
    assert lfb and not lfb & {r[0] for r in _all(stages.base, "SELECT IncidentNumber FROM tblLFBIncident")}
    # BatchIDs increase with LoadedOn, as in the generated log
    new = _all(stages.first, "SELECT BatchID, LoadedOn FROM tblImportLog WHERE BatchID > ? ORDER BY BatchID",
               record["previous"]["max_batch"])
    assert [x[1] for x in new] == sorted(x[1] for x in new)
    assert len(new) == len(record["batches"]) and all(x[1] >= record["from"] for x in new)


def test_every_fact_table_gets_batches_with_plausible_statuses(stages: Stages) -> None:
    record = stages.manifest["advances"][0]
    first_new = record["previous"]["max_batch"] + 1
    log = _all(stages.first, "SELECT BatchID, Dataset, Status, RowCount FROM tblImportLog WHERE BatchID >= ?",
               first_new)
    statuses = {s for _, _, s, _ in log}
    assert statuses == {"OK", "FAILED", "RELOADED"}
    for ds, table in FACTS.items():
        n = _one(stages.first, f'SELECT COUNT(*) FROM "{table}" WHERE BatchID >= ?', first_new)[0]
        assert n > 0, f"no new {table} rows"
        assert any(d == ds and s == "OK" for _, d, s, _ in log), ds
    failed = [b for b, d, s, _ in log if s == "FAILED"]
    assert any(_one(stages.first, "SELECT COUNT(*) FROM tblMPSCrime WHERE BatchID = ?", b)[0] for b in failed), \
        "the FAILED MPS load kept no rows"
    replaced = [(b, rc) for b, d, s, rc in log if s == "RELOADED"]
    for b, claimed in replaced:  # a load that was replaced: its log row stays, its rows went
        ds = next(d for x, d, _, _ in log if x == b)
        assert _one(stages.first, f'SELECT COUNT(*) FROM "{FACTS[ds]}" WHERE BatchID = ?', b)[0] == 0
        assert claimed > 0


# ------------------------------------------------------------------ MPS: watermarks
def _lm(path: Path, recids: list[int]) -> dict[int, str | None]:
    marks = ",".join("?" * len(recids))
    return dict(_all(path, f"SELECT RecID, LastModified FROM tblMPSCrime WHERE RecID IN ({marks})", *recids))


def test_lastmodified_null_to_value_and_value_to_value(stages: Stages) -> None:
    mps = stages.manifest["advances"][0]["mps"]
    assert len(mps["null_to_value"]) >= 3 and mps["value_to_value"]
    before = _lm(stages.base, mps["null_to_value"] + mps["value_to_value"])
    after = _lm(stages.first, mps["null_to_value"] + mps["value_to_value"])
    assert all(before[k] is None and after[k] is not None for k in mps["null_to_value"])
    assert all(str(after[k]) > str(before[k]) and before[k] is not None for k in mps["value_to_value"])
    assert mps["outcome_changed"]  # their values are checked by the exactness test


@pytest.mark.parametrize("which", [0, 1])
def test_late_writers_are_stamped_at_or_before_the_previous_maximum(stages: Stages, which: int) -> None:
    before = stages.base if which == 0 else stages.first
    after = stages.first if which == 0 else stages.second
    mps = stages.manifest["advances"][which]["mps"]
    prev = _one(before, "SELECT MAX(LastModified) FROM tblMPSCrime")[0]
    assert stages.manifest["advances"][which]["previous"]["max_lastmodified"] == prev
    late = mps["late_writers"]
    assert {w["behind_seconds"] == 0 for w in late} == {True, False}, "want one AT and one before the maximum"
    got = _lm(after, [w["recid"] for w in late])
    for w in late:
        assert got[w["recid"]] == w["stamp"] <= prev
        lag = datetime.fromisoformat(prev) - datetime.fromisoformat(w["stamp"])
        assert lag.total_seconds() == w["behind_seconds"] <= 1800
        reported = _one(after, "SELECT ReportedDT FROM tblMPSCrime WHERE RecID = ?", w["recid"])[0]
        assert reported < w["stamp"], "revised before it was reported"
    # the AT writer shares the old maximum with the row(s) that held it
    assert _one(after, "SELECT COUNT(*) FROM tblMPSCrime WHERE LastModified = ?", prev)[0] >= 2


def test_lastmodified_runs_backwards_in_the_autumn_repeated_hour(stages: Stages) -> None:
    mps = stages.manifest["advances"][0]["mps"]
    _, repeated = dst_days(2016, 2018)
    assert mps["autumn_days"] == [d.isoformat() for d in repeated if d.year == 2017]
    dst = mps["dst_repeated"]
    got = _lm(stages.first, [x["recid"] for x in dst])
    for x in dst:
        assert got[x["recid"]] == x["stamp"]
        d = date.fromisoformat(x["stamp"][:10])
        assert d in repeated and "01:00:00" <= x["stamp"][11:] < "02:00:00"
    first = [x["stamp"] for x in dst if x["pass"] == "first"]
    second = [x["stamp"] for x in dst if x["pass"] == "second"]
    assert first and second
    assert min(second) < max(first), "the second pass must be stamped earlier than the first (clock went back)"
    # every dst_repeated row is a LastModified in the hour, as the kind definition says
    day = mps["autumn_days"][0]
    in_hour = {r for (r,) in _all(stages.first, "SELECT RecID FROM tblMPSCrime WHERE LastModified >= ? AND "
                                                  "LastModified < ?", f"{day} 01:00:00", f"{day} 02:00:00")}
    assert {x["recid"] for x in dst} <= in_hour


def test_several_rows_share_a_stamp_and_the_new_maximum(stages: Stages) -> None:
    for which, after in ((0, stages.first), (1, stages.second)):
        mps = stages.manifest["advances"][which]["mps"]
        assert any(len(s["recids"]) >= 3 for s in mps["shared_stamps"])
        for s in mps["shared_stamps"]:
            assert set(_lm(after, s["recids"]).values()) == {s["stamp"]}
        top = _one(after, "SELECT MAX(LastModified) FROM tblMPSCrime")[0]
        assert mps["max_lastmodified"] == top
        assert _one(after, "SELECT COUNT(*) FROM tblMPSCrime WHERE LastModified = ?", top)[0] >= 2, \
            "the last watermark value should be shared"


# ------------------------------------------------------------------ MPS: deletes and duplicates
def _group(path: Path, ref: str) -> list[tuple[int, int, str]]:
    return _all(path, "SELECT m.RecID, m.BatchID, l.Status FROM tblMPSCrime m JOIN tblImportLog l "
                      "ON l.BatchID = m.BatchID WHERE RTRIM(m.CrimeRef) = ? ORDER BY m.RecID", ref)


def _rule_winner(members: list[tuple[int, int, str]]) -> int | None:
    ok = [m for m in members if m[2] != "FAILED"]
    return max(ok, key=lambda m: (m[1], m[0]))[0] if ok else None


@pytest.mark.parametrize("which", [0, 1])
def test_a_deleted_winner_leaves_a_group_that_must_re_elect(stages: Stages, which: int) -> None:
    before = stages.base if which == 0 else stages.first
    after = stages.first if which == 0 else stages.second
    record = stages.manifest["advances"][which]
    gone = record["mps"]["deleted_winners"]
    assert gone, "no duplicate-group winner was deleted"
    for g in gone:
        old = _group(before, g["crimeref"])
        new = _group(after, g["crimeref"])
        assert [m[0] for m in old] == g["members_before"] and len(old) >= 2
        assert _rule_winner(old) == g["winner_before"] in record["changes"]["tblMPSCrime"]["deleted"]
        assert new and [m[0] for m in new] == g["members_after"]
        assert _rule_winner(new) == g["winner_after"] != g["winner_before"]


def test_no_crimed_rows_were_recent_and_are_gone(stages: Stages) -> None:
    ch = stages.manifest["advances"][0]["changes"]["tblMPSCrime"]
    assert len(ch["deleted"]) >= 3
    marks = ",".join("?" * len(ch["deleted"]))
    assert _one(stages.first, f"SELECT COUNT(*) FROM tblMPSCrime WHERE RecID IN ({marks})", *ch["deleted"])[0] == 0
    assert _one(stages.base, f"SELECT COUNT(*) FROM tblMPSCrime WHERE RecID IN ({marks})",
                *ch["deleted"])[0] == len(ch["deleted"])
    top = _one(stages.base, "SELECT MAX(RecID) FROM tblMPSCrime")[0]
    assert top not in ch["deleted"], "the highest RecID must stay (keys continue from it)"


def test_a_re_sent_batch_makes_later_copies_that_win(stages: Stages) -> None:
    record = stages.manifest["advances"][0]
    rl = record["mps"]["reload"]
    assert rl and rl["copies"]
    assert _one(stages.base, "SELECT Status FROM tblImportLog WHERE BatchID = ?", rl["source_batch"])[0] == "OK"
    assert _one(stages.first, "SELECT Status FROM tblImportLog WHERE BatchID = ?", rl["source_batch"])[0] == "RELOADED"
    assert [rl["source_batch"], "OK", "RELOADED"] in record["status_changes"]
    assert rl["batch"] > rl["source_batch"]
    for orig, copy in rl["copies"]:
        o = _one(stages.first, "SELECT RTRIM(CrimeRef), BatchID, ReportedDT FROM tblMPSCrime WHERE RecID = ?", orig)
        c = _one(stages.first, "SELECT RTRIM(CrimeRef), BatchID, ReportedDT, LastModified FROM tblMPSCrime "
                               "WHERE RecID = ?", copy)
        assert (o[0], o[2]) == (c[0], c[2]) and o[1] == rl["source_batch"] and c[1] == rl["batch"]
        assert c[3] is None
        assert _rule_winner(_group(stages.first, o[0])) == copy, "the re-sent copy must win"
    name = _one(stages.first, "SELECT FileName FROM tblImportLog WHERE BatchID = ?", rl["batch"])[0]
    assert name == _one(stages.first, "SELECT FileName FROM tblImportLog WHERE BatchID = ?", rl["source_batch"])[0]


# ------------------------------------------------------------------ ISTV and LAS
def test_an_istv_period_is_re_submitted_and_the_old_batch_is_reloaded(stages: Stages) -> None:
    rs = stages.manifest["advances"][0]["istv"]["resubmission"]
    old_b, new_b = rs["superseded_batch"], rs["batch"]
    cols = "HospitalID, SiteCode, ArrivalDT, AssaultDate, AssaultTime, Method, MethodOther, LocType, LocDesc, " \
           "GeoLevel, GeoConfidence, Easting, Northing, BoroughID, PeriodStart, PeriodEnd"
    old_rows = _all(stages.first, f"SELECT {cols} FROM tblISTVAssault WHERE BatchID = ? ORDER BY ISTVID", old_b)
    new_rows = _all(stages.first, f"SELECT {cols} FROM tblISTVAssault WHERE BatchID = ? ORDER BY ISTVID", new_b)
    assert old_rows == new_rows and len(new_rows) == rs["rows"] > 0
    assert {(r[0], r[14], r[15]) for r in new_rows} == {(rs["hospital"], rs["period_start"], rs["period_end"])}
    assert _one(stages.first, "SELECT Status FROM tblImportLog WHERE BatchID = ?", old_b)[0] == "RELOADED"
    assert _one(stages.first, "SELECT FileName FROM tblImportLog WHERE BatchID = ?", new_b)[0].endswith(
        "_resubmitted.csv")
    assert rs in [dict(x, copies=rs["copies"]) for x in stages.manifest["istv_resubmissions"]]


def test_las_revisions_set_updatedon(stages: Stages) -> None:
    las = stages.manifest["advances"][0]["las"]
    ch = stages.manifest["advances"][0]["changes"]["tblLASAssault"]
    assert las["null_to_value"] and ch["deleted"]
    rec = stages.manifest["advances"][0]
    for ref, values in ch["set"]:
        got = _one(stages.first, "SELECT UpdatedOn FROM tblLASAssault WHERE LASRef = ?", ref)[0]
        assert got == values["UpdatedOn"] and rec["from"] <= got[:10] <= rec["to"]
    for ref in las["null_to_value"]:
        assert _one(stages.base, "SELECT UpdatedOn FROM tblLASAssault WHERE LASRef = ?", ref)[0] is None


# ------------------------------------------------------------------ tblUser
def test_user_changes(stages: Stages) -> None:
    users = stages.manifest["advances"][0]["users"]
    (new,) = users["new"]
    assert _one(stages.base, "SELECT COUNT(*) FROM tblUser WHERE UserID = ?", new)[0] == 0
    login, org = _one(stages.first, "SELECT Login, OrgID FROM tblUser WHERE UserID = ?", new)
    assert _one(stages.first, "SELECT COUNT(*) FROM tblUser WHERE Login = ?", login)[0] == 1
    assert _one(stages.first, "SELECT COUNT(*) FROM tblOrganisation WHERE OrgID = ?", org)[0] == 1
    (change,) = users["allowed_removed"]
    before = _one(stages.base, "SELECT AllowedBoroughs FROM tblUser WHERE UserID = ?", change["user"])[0]
    after = _one(stages.first, "SELECT AllowedBoroughs FROM tblUser WHERE UserID = ?", change["user"])[0]
    toks = lambda s: sorted(x.strip() for x in s.split(","))  # noqa: E731
    assert (before, after) == (change["before"], change["after"])
    assert toks(before) == sorted(toks(after) + [change["removed"]])
    assert change["removed"] in official_boroughs(), "the grant removed is a plain borough name"
    (off,) = users["disabled"]
    assert _one(stages.base, "SELECT Disabled FROM tblUser WHERE UserID = ?", off)[0] == 0
    assert _one(stages.first, "SELECT Disabled FROM tblUser WHERE UserID = ?", off)[0] == 1
    (pw,) = users["password_changed"]
    old_pw = _one(stages.base, 'SELECT "Password" FROM tblUser WHERE UserID = ?', pw)[0]
    new_pw = _one(stages.first, 'SELECT "Password" FROM tblUser WHERE UserID = ?', pw)[0]
    assert old_pw != new_pw and bool(re.fullmatch("[0-9a-f]{32}", old_pw)) == bool(re.fullmatch("[0-9a-f]{32}", new_pw))
    record = stages.manifest["advances"][0]
    last = _one(stages.first, "SELECT MAX(LastLogin) FROM tblUser")[0]
    assert last[:10] == record["to"], "someone logs in on the last day"
    assert off not in users["logged_in"]


# ------------------------------------------------------------------ determinism, concurrency, errors
def test_same_state_seed_and_days_give_the_same_advance(stages: Stages, tmp_path: Path) -> None:
    dumps, records = [], []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        db = _copy(stages.base, tmp_path / f"{name}.sqlite")
        advance(f"sqlite:///{db}", 12, seed, console=RecordingConsole())
        digest = hashlib.sha256()
        with _connect(db) as conn:
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
                for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                    digest.update(repr(row).encode())
        dumps.append(digest.hexdigest())
        records.append((tmp_path / f"{name}.manifest.json").read_bytes())
    assert dumps[0] == dumps[1] and records[0] == records[1]
    assert dumps[0] != dumps[2] and records[0] != records[2]


def test_advance_does_not_wait_for_a_reader_holding_a_snapshot(stages: Stages, tmp_path: Path) -> None:
    """A full load reading the legacy file keeps its snapshot; the advance is not blocked (WAL)."""
    db = _copy(stages.base, tmp_path / "busy.sqlite")
    assert _one(db, "PRAGMA journal_mode")[0] == "wal"
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    before = reader.execute("SELECT COUNT(*) FROM tblMPSCrime").fetchone()[0]
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(
        advance(f"sqlite:///{db}", 10, 3, console=RecordingConsole())))
    worker.start()
    worker.join(timeout=60)
    assert done, "the advance did not finish while a reader held its snapshot"
    assert reader.execute("SELECT COUNT(*) FROM tblMPSCrime").fetchone()[0] == before
    reader.execute("COMMIT")
    after = reader.execute("SELECT COUNT(*) FROM tblMPSCrime").fetchone()[0]
    reader.close()
    ch = json.loads((tmp_path / "busy.manifest.json").read_text())["advances"][0]["changes"]["tblMPSCrime"]
    assert after == before + len(ch["inserted"]) - len(ch["deleted"])
    assert done[0].journal_mode == "wal"


def test_a_manifest_without_keys_still_records_every_change(tmp_path: Path) -> None:
    db = tmp_path / "nokeys.sqlite"
    generate(f"sqlite:///{db}", 0.0002, 4, keys=False, console=RecordingConsole())
    result = advance(f"sqlite:///{db}", 5, 1, console=RecordingConsole())
    man = read_manifest(tmp_path / "nokeys.manifest.json")
    assert not result.anomalies_exact and man["anomalies_exact"] is False and man["anomalies_note"]
    ch = man["advances"][0]["changes"]["tblMPSCrime"]
    assert ch["inserted"] and ch["deleted"] and ch["revised"]
    with _connect(db) as conn:
        for table, entry in man["tables"].items():
            assert conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] == entry["rows"], table


def test_refuses_what_it_cannot_do(stages: Stages, tmp_path: Path) -> None:
    db = _copy(stages.first, tmp_path / "x.sqlite")
    other = tmp_path / "x.manifest.json"
    shutil.copy(stages.base.with_name("base.manifest.json"), other)  # a manifest of the state before
    with pytest.raises(GeneratorError, match="does not describe this database"):
        advance(f"sqlite:///{db}", 2, 1, console=RecordingConsole())
    with pytest.raises(GeneratorError, match="out of range"):
        advance(f"sqlite:///{db}", 0, 1, console=RecordingConsole())
    with pytest.raises(GeneratorError, match="does not exist"):
        advance(f"sqlite:///{db}", 2, 1, tmp_path / "none.json", console=RecordingConsole())
    with pytest.raises(GeneratorError, match="--manifest"):
        advance("postgresql+psycopg2://postgres@127.0.0.1:5432/test", 2, 1, console=RecordingConsole())
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    shutil.copy(other, tmp_path / "empty.manifest.json")
    with pytest.raises(GeneratorError, match="does not hold the legacy tables"):
        advance(f"sqlite:///{empty}", 2, 1, console=RecordingConsole())


def test_cli_advance(stages: Stages, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _copy(stages.base, tmp_path / "cli.sqlite")
    code = main(["legacy", "advance", "--url", f"sqlite:///{db}", "--days", "4", "--seed", "9"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "tblMPSCrime" in out.out and "inserted" in out.out
    assert "journal mode wal" in out.out + out.err
    assert read_manifest(tmp_path / "cli.manifest.json")["advances"][0]["seed"] == 9


# ------------------------------------------------------------------ other engines
@pytest.mark.mariadb
def test_mariadb_advance(mariadb_url: URL, tmp_path: Path) -> None:
    man_path = tmp_path / "maria.json"
    generate(mariadb_url, 0.0002, 3, man_path, console=RecordingConsole())
    engine = create_engine(mariadb_url)
    try:
        with engine.connect() as conn:
            old_recids = {r[0] for r in conn.execute(text("SELECT RecID FROM tblMPSCrime"))}
        result = advance(mariadb_url, 40, 7, man_path, console=RecordingConsole())
        assert result.engine == "mariadb" and result.anomalies_exact
        man = read_manifest(man_path)
        record = man["advances"][0]
        ch = record["changes"]["tblMPSCrime"]
        with engine.connect() as conn:
            recids = {r[0] for r in conn.execute(text("SELECT RecID FROM tblMPSCrime"))}
            assert recids == (old_recids | set(ch["inserted"])) - set(ch["deleted"])
            for recid, values in ch["set"]:
                got = conn.execute(text("SELECT LastModified FROM tblMPSCrime WHERE RecID = :r"), {"r": recid}).scalar()
                assert got is not None and got.strftime("%Y-%m-%d %H:%M:%S") == values["LastModified"]
            for batch, values in record["changes"]["tblImportLog"]["set"]:
                assert conn.execute(text("SELECT Status FROM tblImportLog WHERE BatchID = :b"),
                                    {"b": batch}).scalar() == values["Status"]
            got = recount(conn, skip=lambda k: k == "hospital.closed_still_active")
            for table, entry in man["tables"].items():
                assert conn.execute(text(f"SELECT COUNT(*) FROM `{table}`")).scalar_one() == entry["rows"], table
        wrong = [k for k, v in got.items() if v != manifest_keys(man, k)]
        assert not wrong, wrong
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_advance(pg_url: URL, tmp_path: Path) -> None:
    man_path = tmp_path / "pg.json"
    generate(pg_url, 0.0002, 3, man_path, console=RecordingConsole())
    result = advance(pg_url, 40, 7, man_path, console=RecordingConsole())
    assert result.engine == "postgresql"
    man = read_manifest(man_path)
    users = man["advances"][0]["users"]
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            for table, entry in man["tables"].items():
                assert conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one() == entry["rows"], table
            assert conn.execute(text('SELECT "Disabled" FROM "tblUser" WHERE "UserID" = :u'),
                                {"u": users["disabled"][0]}).scalar() is True
    finally:
        engine.dispose()
