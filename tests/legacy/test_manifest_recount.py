"""The manifest is ground truth: every anomaly kind, recounted with SQL, matches it.

The recount SQL lives in ``tests/legacy/recount.py`` and is written from the kind
definitions, independently of the generator.  SQLite is checked kind by kind; MariaDB
(through pyodbc, latin1 tables) is checked for every kind in one generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine

from migration.console import RecordingConsole
from migration.legacy import KINDS, generate, read_manifest
from migration.legacy.kinds import OPTIONAL_AT_SMALL_SCALE

from .recount import Sql, manifest_keys, query_for, recount, row_key, sort_key, sqlite_regexp

SCALE = 0.002
SEED = 20160401
EXTERNAL_KINDS = {"hospital.closed_still_active"}  # not derivable from the rows: checked separately
RECOUNTED = sorted(set(KINDS) - EXTERNAL_KINDS)


@pytest.fixture(scope="module")
def sqlite_legacy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("legacy") / "legacy.sqlite"
    result = generate(f"sqlite:///{path}", SCALE, SEED, console=RecordingConsole())
    engine = create_engine(f"sqlite:///{path}")
    sqlite_regexp(engine)
    yield engine, read_manifest(result.manifest_path)
    engine.dispose()


def test_every_kind_has_a_recount_query() -> None:
    for kind in RECOUNTED:
        sql, _ = query_for("sqlite", kind)
        assert sql.lstrip().upper().startswith(("SELECT", "WITH")), kind


@pytest.mark.parametrize("kind", RECOUNTED)
def test_sqlite_recount_matches_manifest(sqlite_legacy: tuple[Engine, dict[str, Any]], kind: str) -> None:
    engine, manifest = sqlite_legacy
    sql, params = query_for("sqlite", kind)
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).fetchall()
    got = sorted((row_key(r) for r in rows), key=sort_key)
    table = KINDS[kind].table
    entry = manifest["tables"][table]["anomalies"][kind]
    assert len(got) == entry["rows"], f"{kind}: SQL finds {len(got)} rows, manifest says {entry['rows']}"
    assert got == manifest_keys(manifest, kind), f"{kind}: same count, different rows"
    if kind not in OPTIONAL_AT_SMALL_SCALE:
        assert entry["rows"] > 0, f"{kind} was never injected at scale {SCALE}"


def test_manifest_row_counts_match_tables(sqlite_legacy: tuple[Engine, dict[str, Any]]) -> None:
    engine, manifest = sqlite_legacy
    with engine.connect() as conn:
        for table, entry in manifest["tables"].items():
            n = conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()
            assert n == entry["rows"], table


def test_duplicate_winners_follow_the_rule(sqlite_legacy: tuple[Engine, dict[str, Any]]) -> None:
    """Re-derive each group's winner from the data (highest non-FAILED BatchID, then RecID)."""
    engine, manifest = sqlite_legacy
    dup = manifest["duplicates"]
    assert dup["groups"] == len(dup["members"]) > 0
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT m.RecID, RTRIM(m.CrimeRef), m.BatchID, l.Status FROM tblMPSCrime m "
            "JOIN tblImportLog l ON l.BatchID = m.BatchID WHERE TRIM(m.CrimeRef) <> ''")).fetchall()
    by_ref: dict[str, list[tuple[int, int, str]]] = {}
    for recid, ref, batch, status in rows:
        by_ref.setdefault(ref, []).append((recid, batch, status))
    groups = {ref: members for ref, members in by_ref.items() if len(members) > 1}
    assert len(groups) == dup["groups"]
    statuses = set()
    for g in dup["members"]:
        members = groups[g["crimeref"]]
        assert sorted(m[0] for m in members) == g["recids"]
        eligible = [m for m in members if m[2] != "FAILED"]
        assert eligible, f"group {g['crimeref']} has no row outside FAILED batches"
        assert max(eligible, key=lambda m: (m[1], m[0]))[0] == g["winner"]
        statuses.update(m[2] for m in members)
    # every load history is present: re-loaded (RELOADED → OK), failed attempts, same-batch copies
    assert {"RELOADED", "FAILED", "OK"} <= statuses
    assert any(len({m[1] for m in groups[g["crimeref"]]}) == 1 for g in dup["members"]), "no same-batch duplicate"


def test_failed_batch_duplicates_lose_whichever_side_is_later(sqlite_legacy: tuple[Engine, dict[str, Any]]) -> None:
    """Some FAILED batches precede their retry, some follow the original: the rule must skip both."""
    engine, manifest = sqlite_legacy
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT f.BatchID, MIN(o.BatchID), MAX(o.BatchID) FROM tblMPSCrime f "
            "JOIN tblImportLog lf ON lf.BatchID = f.BatchID AND lf.Status = 'FAILED' "
            "JOIN tblMPSCrime o ON RTRIM(o.CrimeRef) = RTRIM(f.CrimeRef) AND o.RecID <> f.RecID "
            "GROUP BY f.BatchID")).fetchall()
    assert any(fb < lo for fb, lo, _ in rows), "no FAILED attempt before its retry"
    assert any(fb > hi for fb, _, hi in rows), "no FAILED re-load after the original"


def test_istv_missing_months_and_closures(sqlite_legacy: tuple[Engine, dict[str, Any]]) -> None:
    engine, manifest = sqlite_legacy
    gaps = manifest["istv_missing_months"]
    closures = manifest["hospital_closures"]
    assert gaps and closures
    with engine.connect() as conn:
        for hid, ym in gaps:
            n = conn.execute(text("SELECT COUNT(*) FROM tblISTVAssault WHERE HospitalID = :h "
                                  "AND SUBSTR(ArrivalDT, 1, 7) = :ym"), {"h": hid, "ym": ym}).scalar_one()
            assert n == 0, f"hospital {hid} has ISTV rows in its missing month {ym}"
        still_active = []
        for hid, c in closures.items():
            after = conn.execute(text("SELECT COUNT(*) FROM tblISTVAssault WHERE HospitalID = :h "
                                      "AND ArrivalDT >= :d"), {"h": int(hid), "d": c["closed_on"]}).scalar_one()
            assert after == 0, f"closed hospital {hid} has ISTV rows after {c['closed_on']}"
            active = conn.execute(text("SELECT Active FROM tblHospital WHERE HospitalID = :h"),
                                  {"h": int(hid)}).scalar_one()
            assert bool(active) == c["active"]
            if active:
                still_active.append(int(hid))
    assert sorted(still_active) == manifest_keys(manifest, "hospital.closed_still_active")
    assert manifest["tables"]["tblHospital"]["anomalies"]["hospital.closed_still_active"]["rows"] >= 2


def test_istv_resubmissions_replace_whole_periods(sqlite_legacy: tuple[Engine, dict[str, Any]]) -> None:
    engine, manifest = sqlite_legacy
    resub = manifest["istv_resubmissions"]
    assert resub
    with engine.connect() as conn:
        for r in resub:
            old = conn.execute(text("SELECT COUNT(*) FROM tblISTVAssault WHERE BatchID = :b"),
                               {"b": r["superseded_batch"]}).scalar_one()
            new = conn.execute(text("SELECT COUNT(*), MIN(HospitalID), MAX(HospitalID), MIN(PeriodStart), "
                                    "MAX(PeriodEnd) FROM tblISTVAssault WHERE BatchID = :b"),
                               {"b": r["batch"]}).one()
            assert new[0] == r["rows"] == old > 0
            assert new[1] == new[2] == r["hospital"]
            assert (new[3], new[4]) == (r["period_start"], r["period_end"])
            status = conn.execute(text("SELECT Status FROM tblImportLog WHERE BatchID = :b"),
                                  {"b": r["superseded_batch"]}).scalar_one()
            assert status == "RELOADED"


def test_every_no_value_spelling_and_cp1252_character_is_present(sqlite_legacy: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = sqlite_legacy
    columns = [("tblMPSCrime", "Location"), ("tblMPSCrime", "Outcome"), ("tblMPSCrime", "WardCode"),
               ("tblMPSCrime", "Borough"), ("tblISTVAssault", "MethodOther"), ("tblTransportCrime", "Route"),
               ("tblTransportCrime", "Station"), ("tblLASAssault", "GridRef"), ("tblMPSCrime", "Easting")]
    seen: set[str | None] = set()
    with engine.connect() as conn:
        for table, col in columns:
            seen |= {r[0] for r in conn.execute(text(f"SELECT DISTINCT {col} FROM {table}"))}
        texts = " ".join(r[0] for r in conn.execute(text(
            "SELECT Location FROM tblMPSCrime WHERE Location IS NOT NULL UNION ALL "
            "SELECT LocDesc FROM tblISTVAssault WHERE LocDesc IS NOT NULL UNION ALL "
            "SELECT PropertyType FROM tblLFBIncident UNION ALL SELECT OrgName FROM tblOrganisation")))
    for spelling in (None, "", " ", "NULL", "N/A", "n/a", "-"):
        assert spelling in seen, f"no-value spelling {spelling!r} never generated"
    for ch in "’–£é“”":
        assert ch in texts, f"Windows-1252 character {ch!r} never generated"


def test_dates_span_2007_to_2016(sqlite_legacy: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = sqlite_legacy
    with engine.connect() as conn:
        lo, hi = conn.execute(text("SELECT MIN(ReportedDT), MAX(ReportedDT) FROM tblMPSCrime")).one()
    assert lo[:4] == "2007" and hi[:4] == "2016"
    gap, repeat = Sql("sqlite").gap, Sql("sqlite").repeat
    assert date(2014, 3, 30) in gap and date(2014, 10, 26) in repeat


@pytest.mark.mariadb
def test_mariadb_recount_matches_manifest(mariadb_url: URL, tmp_path: Path) -> None:
    manifest_path = tmp_path / "maria.manifest.json"
    result = generate(mariadb_url, 0.001, SEED, manifest_path, console=RecordingConsole())
    assert result.engine == "mariadb"
    manifest = read_manifest(manifest_path)
    engine = create_engine(mariadb_url)
    try:
        with engine.connect() as conn:
            got = recount(conn, skip=lambda k: k in EXTERNAL_KINDS)
            for table, entry in manifest["tables"].items():
                assert conn.execute(text(f"SELECT COUNT(*) FROM `{table}`")).scalar_one() == entry["rows"], table
    finally:
        engine.dispose()
    problems = []
    for kind in RECOUNTED:
        want = manifest_keys(manifest, kind)
        if got[kind] != want:
            problems.append(f"{kind}: SQL {len(got[kind])} rows, manifest {len(want)}")
        elif not want and kind not in OPTIONAL_AT_SMALL_SCALE:
            problems.append(f"{kind}: never injected")
    assert not problems, "\n".join(problems)
