"""Deltas over blank business keys: each ends with the target equal to a fresh full load of
the moved legacy, a second delta writes nothing, and rolling the deltas back is exact.

1. a blank-key row is hard-deleted in the legacy: its ``RecID:<n>`` row goes;
2. a blank key is filled in: the ``RecID:<n>`` row goes and the row joins its CrimeRef group —
   here winning it (same batch as the old winner, read later), so the old winner is merged;
3. a key is blanked: the row leaves its group, which elects a winner again, and appears as
   ``RecID:<n>`` flagged ``key_blank``.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from migration.console import RecordingConsole
from migration.plan.execute import Orchestrator, run_delta
from tests.conftest import PgDatabases
from tests.reconcile.conftest import clone_of
from tests.rollback.conftest import assert_exact, exact, rollback_api, rows, scalar
from tests.steps.blank_keys import MPS_STAGES, Planted, load, plant
from tests.steps.conftest import settings_for, snapshot

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def base(legacy_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Planted, URL]]:
    """The keyed legacy and a target with its MPS stages loaded (a template: only ever cloned)."""
    from migration.schema import api

    path = tmp_path_factory.mktemp("delta_keys") / "legacy.sqlite"
    shutil.copy(legacy_sqlite, path)
    planted = plant(path)
    dbs = PgDatabases()
    url = dbs.create("ss_dk_tpl")
    api.upgrade(url)
    load(path, url, MPS_STAGES, gate=False)
    yield path, planted, url
    dbs.drop_all()


def _delta(source: Path, target: URL) -> list[Any]:
    runner = Orchestrator(settings_for(source, target), RecordingConsole())
    try:
        return run_delta(runner, ["mps_crime"])
    finally:
        runner.close()


def _touch(c: sqlite3.Cursor) -> str:
    """A LastModified after the load's high watermark (the delta re-reads from it)."""
    return c.execute("SELECT datetime(max(julianday(LastModified)), '+1 hour') FROM tblMPSCrime").fetchone()[0]


def delete_blank_row(c: sqlite3.Cursor, p: Planted) -> dict[str, Any]:
    recid = next(k for k, v in p.blank.items() if v == "N/A")
    c.execute("DELETE FROM tblMPSCrime WHERE RecID = ?", (recid,))
    return {"gone": [f"RecID:{recid}"], "group": None}


def fill_blank_key(c: sqlite3.Cursor, p: Planted) -> dict[str, Any]:
    c.execute("UPDATE tblMPSCrime SET CrimeRef = 'BKDUP1', LastModified = ? WHERE RecID = ?",
              (_touch(c), p.blank_late))
    return {"gone": [f"RecID:{p.blank_late}"], "group": ("BKDUP1", p.blank_late), "merged": p.winner}


def blank_a_key(c: sqlite3.Cursor, p: Planted) -> dict[str, Any]:
    c.execute("UPDATE tblMPSCrime SET CrimeRef = ' null ', LastModified = ? WHERE RecID = ?", (_touch(c), p.winner))
    # the group elects again: the remaining copies share a batch, the one read last wins
    rest = max(k for k in p.duplicates if k != p.winner)
    return {"gone": [], "new": f"RecID:{p.winner}", "group": ("BKDUP1", rest)}


@pytest.mark.parametrize("move", [delete_blank_row, fill_blank_key, blank_a_key])
def test_delta_over_blank_keys_equals_a_fresh_full_load(base: tuple[Path, Planted, URL], tmp_path: Path,
                                                         pg_databases: Any,
                                                         move: Callable[[sqlite3.Cursor, Planted], dict[str, Any]]
                                                         ) -> None:
    template_legacy, p, template = base
    legacy = tmp_path / "legacy.sqlite"
    shutil.copy(template_legacy, legacy)
    target = clone_of(template, pg_databases)
    before = exact(target)
    db = sqlite3.connect(legacy)
    want = move(db.cursor(), p)
    db.commit()
    db.close()

    results = _delta(legacy, target)
    assert all(c.balanced for r in results for c in r.counts), [c for r in results for c in r.counts]
    refs = {r[0]: (r[1], list(r[2])) for r in rows(target, "SELECT source_ref, legacy_pk, dq_flags FROM "
                                                           "core.incident WHERE dataset = 'MPS'")}
    for gone in want["gone"]:
        assert gone not in refs, f"{gone} is still in the target"
    if want.get("new"):
        assert refs[want["new"]][0] == want["new"].split(":")[1] and "key_blank" in refs[want["new"]][1]
    if want["group"]:
        key, recid = want["group"]
        assert refs[key][0] == str(recid), f"group {key} is held by RecID {refs[key][0]}, not {recid}"
    if want.get("merged"):
        delta_run = results[0].run_id
        assert scalar(target, "SELECT business_key FROM ledger.disposition WHERE run_id = :r AND source_key = :k "
                              "AND disposition = 'merged'", r=delta_run, k=str(want["merged"])) == "BKDUP1"

    fresh = pg_databases.create("ss_dk_fresh")
    from migration.schema import api

    api.upgrade(fresh)
    load(legacy, fresh, MPS_STAGES, gate=False)
    got, expected = snapshot(target), snapshot(fresh)
    for table in expected:
        assert got[table] == expected[table], f"{table} differs from a fresh full load after {move.__name__}"

    # a second delta writes nothing: not a row, not a load_run_id changes
    after_first = exact(target)
    again = _delta(legacy, target)
    assert all(c.rows_loaded == 0 for r in again for c in r.counts), [c for r in again for c in r.counts]
    assert_exact(after_first, exact(target), f"a second delta after {move.__name__} wrote")

    # undoing both deltas restores the target exactly (surrogate keys and load_run_id included)
    rb, eng = rollback_api(target)
    try:
        rb.run("mps_crime")
        rb.run("mps_crime")
    finally:
        eng.dispose()
    assert_exact(before, exact(target), f"rolling back the deltas after {move.__name__}")
