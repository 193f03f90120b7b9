"""Delta loads: after the legacy moves, `run --delta` leaves the target identical to a fresh
full load of the moved legacy; a second delta changes nothing; rollback of a delta is exact."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from migration.console import RecordingConsole
from migration.plan.execute import Orchestrator, run_delta
from migration.schema import api
from tests.steps.conftest import run_all, settings_for, snapshot

pytestmark = pytest.mark.postgres


def _delta(source: Path, target: URL, **kw: Any) -> list[Any]:
    runner = Orchestrator(settings_for(source, target), RecordingConsole())
    try:
        return run_delta(runner, [], all_=True, **kw)
    finally:
        runner.close()


def _move_legacy(path: Path) -> dict[str, Any]:
    """Legacy activity by hand: revisions (incl. NULL → value and a late stamp), a deleted
    duplicate-group winner, new rows, a new duplicate from a re-loaded batch, a user's
    permissions narrowed.  (The generator's `legacy advance` does this at scale.)"""
    db = sqlite3.connect(path)
    c = db.cursor()
    wm = c.execute("SELECT max(julianday(LastModified)) FROM tblMPSCrime").fetchone()[0]
    late = c.execute("SELECT datetime(?, '-30 minutes')", (wm,)).fetchone()[0]
    revised = [r[0] for r in c.execute(
        "SELECT RecID FROM tblMPSCrime WHERE LastModified IS NULL AND trim(coalesce(CrimeRef, '')) <> '' "
        "ORDER BY RecID LIMIT 3")]
    c.execute(f"UPDATE tblMPSCrime SET Location = 'On or near Revised Road', LastModified = ? "
              f"WHERE RecID IN ({','.join('?' * len(revised))})", (late, *revised))
    # the winner of a duplicate group disappears (no-crimed): a loser must be elected
    group = c.execute(
        "SELECT rtrim(CrimeRef) FROM tblMPSCrime WHERE trim(coalesce(CrimeRef, '')) <> '' GROUP BY rtrim(CrimeRef) "
        "HAVING count(*) > 1 ORDER BY 1 LIMIT 1").fetchone()[0]
    members = c.execute("SELECT RecID, BatchID FROM tblMPSCrime WHERE rtrim(CrimeRef) = ? ORDER BY BatchID DESC, "
                        "RecID DESC", (group,)).fetchall()
    statuses = dict(c.execute("SELECT BatchID, trim(Status) FROM tblImportLog"))
    winner = next(r for r, b in members if statuses.get(b) != "FAILED")
    c.execute("DELETE FROM tblMPSCrime WHERE RecID = ?", (winner,))
    # new rows, one of them re-sending an existing CrimeRef under a later batch
    top = c.execute("SELECT max(RecID) FROM tblMPSCrime").fetchone()[0]
    batch = c.execute("SELECT max(BatchID) FROM tblImportLog").fetchone()[0] + 1
    c.execute("INSERT INTO tblImportLog (BatchID, Dataset, FileName, LoadedOn, RowCount, Status) "
              "VALUES (?, 'MPS', 'mps_delta.csv', '2017-01-02 03:04:05', 2, 'OK')", (batch,))
    cols = [r[1] for r in c.execute("PRAGMA table_info(tblMPSCrime)")]
    template = c.execute(f"SELECT {', '.join(cols)} FROM tblMPSCrime WHERE RecID = ?", (revised[0],)).fetchone()
    resent = c.execute("SELECT CrimeRef FROM tblMPSCrime WHERE RecID = ?", (revised[1],)).fetchone()[0]
    for i, ref in enumerate(["DELTA0000001", resent]):
        row = dict(zip(cols, template, strict=True))
        row.update(RecID=top + 1 + i, CrimeRef=ref, BatchID=batch, LastModified=None)
        c.execute(f"INSERT INTO tblMPSCrime ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                  [row[k] for k in cols])
    # a user loses every borough but one (grants must be revoked)
    uid = c.execute("SELECT UserID FROM tblUser WHERE AllowedBoroughs LIKE '%,%' ORDER BY UserID LIMIT 1").fetchone()[0]
    c.execute("UPDATE tblUser SET AllowedBoroughs = 'Camden' WHERE UserID = ?", (uid,))
    db.commit()
    db.close()
    return {"revised": revised, "deleted_winner": winner, "group": group, "user": uid}


@pytest.mark.slow
def test_delta_after_legacy_activity_equals_a_fresh_full_load(legacy_sqlite: Path, tmp_path: Path, pg_databases: Any
                                                               ) -> None:
    legacy = tmp_path / "legacy.sqlite"
    shutil.copy(legacy_sqlite, legacy)
    target = pg_databases.create("ss_delta")
    api.upgrade(target)
    run_all(legacy, target)
    before = snapshot(target)
    moved = _move_legacy(legacy)

    results = _delta(legacy, target)
    assert all(c.balanced for r in results for c in r.counts)
    fresh = pg_databases.create("ss_fresh")
    api.upgrade(fresh)
    run_all(legacy, fresh)
    got, want = snapshot(target), snapshot(fresh)
    for table in want:
        assert got[table] == want[table], f"{table} differs from a fresh full load ({moved})"

    # a second delta changes nothing
    again = _delta(legacy, target)
    assert all(c.rows_loaded == 0 for r in again for c in r.counts), [c for r in again for c in r.counts]
    assert snapshot(target) == want

    # rolling the deltas back restores the target exactly as the full load left it
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from migration.mapping.order import parsed_specs
    from migration.plan.undo import RollbackRunner

    eng = create_engine(target, poolclass=NullPool)
    specs = parsed_specs(Path(__file__).resolve().parents[2] / "mappings")
    rb = RollbackRunner(eng, specs, RecordingConsole())
    for spec in reversed(specs):
        for _ in range(2):
            rb.run(spec.stage)  # the two deltas of every stage, newest first
    eng.dispose()
    assert snapshot(target) == before


def test_delta_refuses_when_the_mappings_changed(legacy_sqlite: Path, target_url: URL, tmp_path: Path) -> None:
    run_all(legacy_sqlite, target_url)
    maps = tmp_path / "mappings"
    shutil.copytree(Path(__file__).resolve().parents[2] / "mappings", maps)
    f = maps / "60_lfb_incident.yaml"
    f.write_text(f.read_text() + "\n# a changed rule set\n")
    runner = Orchestrator(settings_for(legacy_sqlite, target_url, mappings_dir=str(maps)), RecordingConsole())
    try:
        from migration.errors import StageError

        with pytest.raises(StageError, match="mapping files changed"):
            run_delta(runner, ["lfb_incident"])
        assert run_delta(runner, ["lfb_incident"], accept_mapping_change=True)[0].action == "delta"
    finally:
        runner.close()
