"""Blank and unusable business keys, end to end: SQLite legacy → load → reconcile → ledger.

TARGET-MODEL ("business keys"): a blank CrimeRef loads under the legacy key (``RecID:<n>``,
flagged ``key_blank``, in no duplicate group); a key is never altered but by trimming; a key
holding control or undecodable characters quarantines ``INVALID_KEY``, one beginning with the
reserved prefix ``KEY_RESERVED_PREFIX``; a blank IncidentNumber (the legacy primary key
itself) still quarantines ``BLANK_KEY``.  Accounting is exact, reconciliation passes, and
quarantine records carry the business key (``quarantine show KEY`` finds either key).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from migration.console import RecordingConsole
from migration.reconcile import reconcile
from migration.schema import api
from tests.rollback.conftest import rows, scalar
from tests.steps.blank_keys import CHECKS, STAGES, Planted, load, plant
from tests.steps.conftest import cli, settings_for

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def keyed(legacy_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planted]:
    path = tmp_path_factory.mktemp("keys") / "legacy.sqlite"
    shutil.copy(legacy_sqlite, path)
    return path, plant(path)


@pytest.fixture(scope="module")
def loaded(keyed: tuple[Path, Planted]) -> Any:
    from tests.conftest import PgDatabases

    dbs = PgDatabases()
    url = dbs.create("ss_keys")
    api.upgrade(url)
    load(keyed[0], url, STAGES)
    yield url
    dbs.drop_all()


def test_blank_keys_load_under_the_legacy_key_flagged(keyed: tuple[Path, Planted], loaded: URL) -> None:
    _, p = keyed
    got = {r[0]: r[1:] for r in rows(loaded, "SELECT legacy_pk, source_ref, dq_flags FROM core.incident "
                                              "WHERE dataset = 'MPS' AND legacy_pk = ANY(:k)",
                                     k=[str(k) for k in p.blank])}
    assert set(got) == {str(k) for k in p.blank}, "every blank spelling loads"
    for recid, (source_ref, flags) in got.items():
        assert source_ref == f"RecID:{recid}" and "key_blank" in flags, (recid, source_ref, flags)
    # the flag says exactly that, and nothing else carries it
    assert scalar(loaded, "SELECT count(*) FROM core.incident WHERE 'key_blank' = ANY(dq_flags) AND "
                          "source_ref <> 'RecID:' || legacy_pk") == 0
    assert scalar(loaded, "SELECT count(*) FROM core.incident WHERE source_ref LIKE 'RecID:%' AND NOT "
                          "'key_blank' = ANY(dq_flags)") == 0
    # the crime rows hang off them
    assert scalar(loaded, "SELECT count(*) FROM core.police_crime d JOIN core.incident i USING (incident_id) "
                          "WHERE i.source_ref = ANY(:r)", r=[f"RecID:{k}" for k in p.blank]) == len(p.blank)


def test_unusable_keys_are_quarantined_with_the_business_key(keyed: tuple[Path, Planted], loaded: URL) -> None:
    from tests.steps.blank_keys import UNLOADABLE

    _, p = keyed
    recs = {r[0]: (r[1], r[2], list(r[3])) for r in rows(
        loaded, "SELECT source_key, reason_code, business_key, fields FROM ledger.quarantine "
                "WHERE stage = 'mps_crime' AND source_key = ANY(:k)", k=[str(k) for k in p.unloadable])}
    want = {str(k): (*UNLOADABLE[ref], ["CrimeRef"]) for k, ref in p.unloadable.items()}
    assert recs == want
    # never cleaned into another row's key: nothing loaded for them
    assert scalar(loaded, "SELECT count(*) FROM core.incident WHERE dataset = 'MPS' AND legacy_pk = ANY(:k)",
                  k=list(want)) == 0
    lfb = rows(loaded, "SELECT source_key, reason_code, business_key FROM ledger.quarantine "
                       "WHERE stage = 'lfb_incident' AND reason_code = 'BLANK_KEY' ORDER BY 1")
    assert sorted(tuple(r) for r in lfb) == sorted((k, "BLANK_KEY", None) for k in p.lfb_blank)


def test_duplicates_collide_after_trimming_only(keyed: tuple[Path, Planted], loaded: URL) -> None:
    _, p = keyed
    group = rows(loaded, "SELECT source_ref, legacy_pk FROM core.incident WHERE dataset = 'MPS' AND "
                         "lower(source_ref) = 'bkdup1' ORDER BY source_ref")
    assert [tuple(r) for r in group] == [("BKDUP1", str(p.winner)), ("bkdup1", str(p.near))]
    merged = rows(loaded, "SELECT source_key, business_key, reason_code FROM ledger.disposition WHERE "
                          "stage = 'mps_crime' AND source_key = ANY(:k)",
                  k=[str(k) for k in p.duplicates if k != p.winner])
    assert sorted(tuple(r) for r in merged) == sorted((str(k), "BKDUP1", "DUPLICATE_MERGED")
                                                       for k in p.duplicates if k != p.winner)


def test_accounting_is_exact_and_reconciliation_passes(keyed: tuple[Path, Planted], loaded: URL) -> None:
    source, p = keyed
    for t in rows(loaded, "SELECT source_table, rows_read, rows_loaded, rows_unchanged, rows_merged, "
                          "rows_quarantined, rows_filtered FROM ledger.table_count"):
        assert t[1] == sum(t[2:]), t
    mps = rows(loaded, "SELECT rows_read, rows_loaded FROM ledger.table_count WHERE source_table = 'tblMPSCrime'")
    assert mps and mps[0][0] == scalar(loaded, "SELECT rows_read FROM ledger.table_count WHERE "
                                                "source_table = 'tblMPSCrime'")
    out = reconcile(settings_for(source, loaded, checks_dir=str(CHECKS)), RecordingConsole(), STAGES)
    bad = [(r.stage, r.check, r.status, r.summary) for r in out.results if r.status in ("fail", "error")]
    assert not bad, bad
    acc = next(r for r in out.results if r.stage == "mps_crime" and r.check.startswith("accounting/"))
    assert acc.detail["record_mismatches"] == 0
    assert acc.detail["expected_by_reason"].get("quarantine:KEY_RESERVED_PREFIX") == 2
    assert acc.detail["expected_by_reason"].get("quarantine:INVALID_KEY") == 4


def test_reconciliation_sees_a_record_with_the_wrong_business_key(keyed: tuple[Path, Planted], loaded: URL,
                                                                  pg_databases: Any) -> None:
    """The expected side computes business keys on its own: a record that names the wrong one fails."""
    from tests.reconcile.conftest import clone_of

    source, p = keyed
    url = clone_of(loaded, pg_databases)
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    eng = create_engine(url, poolclass=NullPool)
    with eng.begin() as conn:
        conn.execute(text("UPDATE ledger.disposition SET business_key = 'bkdup1' WHERE source_key = :k"),
                     dict(k=str(next(k for k in p.duplicates if k != p.winner))))
    eng.dispose()
    out = reconcile(settings_for(source, url, checks_dir=str(CHECKS)), RecordingConsole(), ["mps_crime"])
    acc = next(r for r in out.results if r.check.startswith("accounting/"))
    assert acc.status == "fail" and acc.detail["record_mismatches"] == 1, acc.summary


def _table(out: Any) -> list[list[str]]:
    """The rows of the first table a `--log-json` command printed (`quarantine list` adds a
    Decisions table after it)."""
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stderr.splitlines() if x.startswith("{")]
    table = next(x for x in lines if "rows" in x)
    return [dict(zip(table["columns"], r, strict=True)) for r in table["rows"]]  # type: ignore[misc]


def test_the_check_file_sees_a_blank_key_row_that_lost_its_flag(keyed: tuple[Path, Planted], loaded: URL,
                                                                 pg_databases: Any) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from tests.reconcile.conftest import clone_of

    source, p = keyed
    url = clone_of(loaded, pg_databases)
    eng = create_engine(url, poolclass=NullPool)
    with eng.begin() as conn:
        conn.execute(text("UPDATE core.incident SET dq_flags = array_remove(dq_flags, 'key_blank') "
                          "WHERE source_ref = :r"), dict(r=f"RecID:{next(iter(p.blank))}"))
    eng.dispose()
    out = reconcile(settings_for(source, url, checks_dir=str(CHECKS)), RecordingConsole(), ["mps_crime"])
    failed = {r.check: r.summary for r in out.results if r.status == "fail"}
    assert "key_blank_under_legacy_key 1 unexpected" in failed.get("expectations/mps_incidents", ""), failed


def test_quarantine_show_finds_a_record_by_either_key(keyed: tuple[Path, Planted], loaded: URL) -> None:
    source, p = keyed
    recid = next(k for k, ref in p.unloadable.items() if ref == "RecID:1")
    for key in (str(recid), "RecID:1"):
        got = _table(cli(["--log-json", "quarantine", "show", key, "--stage", "mps_crime"], source, loaded))
        assert [(r["legacy key"], r["business key"], r["reason"]) for r in got] == [
            (str(recid), "RecID:1", "KEY_RESERVED_PREFIX")], key
    # an escaped invalid key is found as it is printed; a blank LFB number by its legacy key
    got = _table(cli(["--log-json", "quarantine", "show", "BK\\x00NUL"], source, loaded))
    assert [r["reason"] for r in got] == ["INVALID_KEY"]
    got = _table(cli(["--log-json", "quarantine", "show", "N/A", "--stage", "lfb_incident"], source, loaded))
    assert [(r["legacy key"], r["business key"], r["reason"]) for r in got] == [("N/A", "(blank)", "BLANK_KEY")]
    out = cli(["quarantine", "export", "--out", str(source.parent / "q.json"), "--format", "json",
               "--stage", "lfb_incident"], source, loaded)
    assert out.returncode == 0, out.stderr
    exported = json.loads((source.parent / "q.json").read_text())
    assert {r["source_key"] for r in exported if r["reason_code"] == "BLANK_KEY"} == set(p.lfb_blank)
    assert {r["business_key"] for r in exported if r["reason_code"] == "BLANK_KEY"} == {None}
    listed = _table(cli(["--log-json", "quarantine", "list", "--stage", "lfb_incident"], source, loaded))
    blank = next(r for r in listed if r["reason"] == "BLANK_KEY")
    assert blank["blank business key"] == str(len(p.lfb_blank))


def _expected_blank(source: Path, target: URL, reloaded: int | None = None) -> list[tuple[str, int, int]]:
    """(batch status, rows, batches) of the loaded rows whose CrimeRef is blank, from the legacy file."""
    import sqlite3
    from collections import defaultdict

    loaded_pks = {r[0] for r in rows(target, "SELECT legacy_pk FROM core.incident WHERE dataset = 'MPS'")}
    db = sqlite3.connect(source)
    status = {b: (s or "").strip() for b, s in db.execute("SELECT BatchID, Status FROM tblImportLog")}
    if reloaded is not None:
        status[reloaded] = "RELOADED"
    found: dict[str, list[int]] = defaultdict(list)
    for recid, ref, batch in db.execute("SELECT RecID, CrimeRef, BatchID FROM tblMPSCrime"):
        if str(recid) in loaded_pks and (ref is None or ref.strip(" \t\n\r\u00a0").upper() in ("", "N/A", "NULL", "-")):
            found[status.get(batch, "(no batch)")].append(batch)
    db.close()
    order = ["OK", "FAILED", "RELOADED", "(no batch)"]
    return [(s, len(found[s]), len(set(found[s]))) for s in order if found.get(s)]


def test_the_report_counts_blank_key_rows_per_batch_status(keyed: tuple[Path, Planted], loaded: URL,
                                                           pg_databases: Any) -> None:
    """A re-submitted month marks its first batch RELOADED: its blank-key rows are then counted apart."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from migration.report import build_report
    from migration.report.html import render_html
    from migration.report.text import render_json, render_markdown
    from tests.reconcile.conftest import clone_of

    source, p = keyed
    url = clone_of(loaded, pg_databases)
    eng = create_engine(url, poolclass=NullPool)
    try:
        report = build_report(eng)
        assert [(b.batch_status, b.rows, b.batches) for b in report.blank_keys] == _expected_blank(source, url)
        assert {b.stage for b in report.blank_keys} == {"mps_crime"}
        with eng.begin() as conn:
            conn.execute(text("UPDATE ref.import_batch SET status = 'RELOADED' WHERE batch_id = :b"),
                         dict(b=p.batches["early"]))
        report = build_report(eng)
    finally:
        eng.dispose()
    want = _expected_blank(source, url, reloaded=p.batches["early"])
    assert [(b.batch_status, b.rows, b.batches) for b in report.blank_keys] == want
    status, n, batches = next(w for w in want if w[0] == "RELOADED")
    assert n >= len(p.blank) - 1  # every planted blank row but one is in the re-submitted batch
    assert {"stage": "mps_crime", "dataset": "MPS", "batch_status": "RELOADED", "rows": n, "batches": batches} in \
        json.loads(render_json(report))["blank_keys"]
    md = render_markdown(report)
    assert "## Blank business keys" in md and f"| mps_crime | MPS | RELOADED | {n} | {batches} |" in md
    assert 'id="blank-keys-table"' in render_html(report)
