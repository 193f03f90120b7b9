"""The runner against real databases: a full run balances, is repeatable, resumes after
kill -9 to the identical target, holds one lock, and never writes to the source."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.db.engines import source_engine
from migration.errors import LockError
from migration.ledger import Ledger, MigrationLock
from migration.plan.execute import Orchestrator
from tests.steps.conftest import cli, run_all, settings_for, snapshot

pytestmark = pytest.mark.postgres


def test_full_run_balances_every_table_and_fills_every_data_table(legacy_sqlite: Path, target_url: URL) -> None:
    results = run_all(legacy_sqlite, target_url)
    counts = [c for r in results for c in r.counts]
    assert {c.source_table for c in counts} == {
        "tblBorough", "tblWard", "tblLSOA", "tblCrimeType", "tblLookupCode", "tblHospital", "tblImportLog",
        "tblOrganisation", "tblUser", "tblMPSCrime", "tblLFBIncident", "tblLASAssault", "tblTransportCrime",
        "tblISTVAssault"}
    for c in counts:
        assert c.balanced, c
    legacy = sqlite3.connect(legacy_sqlite)
    for c in counts:
        assert c.rows_read == legacy.execute(f'SELECT count(*) FROM "{c.source_table}"').fetchone()[0], c
    snap = snapshot(target_url)
    assert all(snap[t] for t in snap), [t for t in snap if not snap[t]]
    eng = create_engine(target_url, poolclass=NullPool)
    with eng.connect() as conn:
        stored = Ledger(eng).table_counts(conn)
        assert len(stored) == len(counts) and all(c.balanced for c in stored)
        # no password, ever: the app_user table has no such column and no ledger row mentions one
        cols = {r[0] for r in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'sec'"))}
        assert not any("pass" in c for c in cols)
    eng.dispose()


def test_running_a_finished_stage_again_changes_nothing(legacy_sqlite: Path, target_url: URL) -> None:
    run_all(legacy_sqlite, target_url)
    before = snapshot(target_url)
    again = run_all(legacy_sqlite, target_url)
    assert {r.action for r in again} == {"skipped"}
    assert snapshot(target_url) == before


def test_a_stage_whose_dependencies_are_not_loaded_is_refused(legacy_sqlite: Path, target_url: URL) -> None:
    proc = cli(["run", "mps_crime"], legacy_sqlite, target_url)
    assert proc.returncode != 0
    assert "mps_crime cannot start" in proc.stderr and "areas" in proc.stderr and "codes" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


POINTS = ["mid_copy", "after_copy", "before_commit", "after_commit"]
TABLES = {"tblMPSCrime": 8, "tblLSOA": 4, "tblLFBIncident": 2}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_random_points_then_resume_gives_the_identical_target(
        seed: int, legacy_sqlite: Path, target_url: URL, reference_snapshot: dict[str, Any]) -> None:
    rnd = random.Random(seed)
    kills = []
    for _ in range(3):
        table = rnd.choice(sorted(TABLES))
        point = rnd.choice(POINTS)
        chunk = rnd.randint(1, TABLES[table])
        proc = cli(["run", "--all", "--chunk-rows", "2000"], legacy_sqlite, target_url,
                   env_extra={"SAFESTATS_FAULT_KILL": f"{point}:{chunk}:{table}"})
        kills.append((point, chunk, table, proc.returncode))
        assert proc.returncode in (-signal.SIGKILL, 0), (kills, proc.stderr[-2000:])
    final = cli(["run", "--all", "--chunk-rows", "2000"], legacy_sqlite, target_url)
    assert final.returncode == 0, (kills, final.stderr[-3000:])
    assert any(k[3] == -signal.SIGKILL for k in kills), f"no kill happened: {kills}"
    got = snapshot(target_url)
    for table in got:
        assert got[table] == reference_snapshot[table], f"{table} differs after kills {kills}"
    eng = create_engine(target_url, poolclass=NullPool)
    with eng.connect() as conn:
        assert all(c.balanced for c in Ledger(eng).table_counts(conn))
    eng.dispose()


def test_a_second_run_fails_at_once_naming_the_lock_holder(legacy_sqlite: Path, target_url: URL) -> None:
    eng = create_engine(target_url, poolclass=NullPool)
    with MigrationLock(eng, "run --all (test holder)"):
        proc = cli(["run", "--all"], legacy_sqlite, target_url, timeout=60)
        assert proc.returncode == 4
        assert "another migration holds the target" in proc.stderr
        assert "run --all (test holder)" in proc.stderr and "since" in proc.stderr
        with pytest.raises(LockError):
            MigrationLock(eng, "second").acquire()
    eng.dispose()


def test_a_lock_left_by_a_killed_process_is_recognised_as_stale_and_freed(target_url: URL) -> None:
    holder = (
        "import os, signal, sys\n"
        "from sqlalchemy import create_engine\n"
        "from migration.ledger import MigrationLock\n"
        f"lock = MigrationLock(create_engine({target_url.render_as_string(hide_password=False)!r}), 'doomed')\n"
        "lock.acquire()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", holder], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    eng = create_engine(target_url, poolclass=NullPool)
    lock = MigrationLock(eng, "next")
    lock.acquire()
    try:
        assert lock.freed_stale is not None and lock.freed_stale["command"] == "doomed"
    finally:
        lock.release()
    eng.dispose()


def test_the_sqlite_source_is_read_only_by_the_database(legacy_sqlite: Path) -> None:
    from sqlalchemy.engine import make_url

    eng = source_engine(make_url(f"sqlite:///{legacy_sqlite}"))
    with eng.connect() as conn:
        with pytest.raises(Exception, match="readonly|read-only"):
            conn.execute(text('DELETE FROM "tblBorough"'))
    eng.dispose()
    assert sqlite3.connect(legacy_sqlite).execute('SELECT count(*) FROM "tblBorough"').fetchone()[0] == 35


def test_progress_and_summary_are_plain_lines_and_never_show_the_password(
        legacy_sqlite: Path, target_url: URL) -> None:
    s = settings_for(legacy_sqlite, target_url)
    console = RecordingConsole()
    from migration.plan.execute import Orchestrator

    r = Orchestrator(s, console)
    try:
        r.run(["boroughs"])
    finally:
        r.close()
    assert not any("***" in line or "password" in line.lower() for line in console.lines)


def test_the_sqlite_fast_path_reads_exactly_what_the_generic_path_reads(legacy_sqlite: Path) -> None:
    """ADBC (Arrow) and SQLAlchemy (one Python object per value) give identical text, keys and chunks."""
    import polars as pl
    from sqlalchemy.engine import make_url

    from migration.db.source import SourceReader

    reader = SourceReader(source_engine(make_url(f"sqlite:///{legacy_sqlite}")))
    for table, key in [("tblMPSCrime", "RecID"), ("tblISTVAssault", "ISTVID"), ("tblWard", None),
                       ("tblUser", "UserID"), ("tblLookupCode", None)]:
        cols = list(reader.columns(table))
        assert reader._adbc_ok(table, cols, key, "int"), table
        for after in (None, 7):
            fast = list(reader.stream(table, cols, key=key, after=after if key else None, chunk_rows=1000))
            generic = SourceReader(reader.engine)
            generic._adbc_ok = lambda *a: False  # type: ignore[method-assign]
            slow = list(generic.stream(table, cols, key=key, after=after if key else None, chunk_rows=1000))
            assert [c.size for c in fast] == [c.size for c in slow], table
            assert [str(c.last_key) for c in fast] == [str(c.last_key) for c in slow], table
            assert pl.concat([c.frame for c in fast]).equals(pl.concat([c.frame for c in slow])), table
    reader.engine.dispose()


def test_a_chunk_whose_rows_write_no_child_rows_loads(legacy_sqlite: Path, target_url: URL,
                                                       tmp_path: Path) -> None:
    """Every user an orphan (no grant for anyone): the grants' identity range is empty, and
    the users stage still loads every user (found by the property tests: the sequence was set
    below its minimum and the stage stopped)."""
    import shutil

    legacy = tmp_path / "legacy.sqlite"
    shutil.copy(legacy_sqlite, legacy)
    db = sqlite3.connect(legacy)
    db.execute('UPDATE "tblUser" SET "OrgID" = 987654')
    db.commit()
    users = db.execute('SELECT count(*) FROM "tblUser"').fetchone()[0]
    db.close()
    runner = Orchestrator(
        settings_for(legacy, target_url), RecordingConsole(), reconcile=False)
    try:
        results = runner.run(["boroughs", "organisations", "users"])
    finally:
        runner.close()
    assert all(c.balanced for r in results for c in r.counts)
    eng = create_engine(target_url, poolclass=NullPool)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sec.app_user")).scalar_one() == users
        assert conn.execute(text("SELECT count(*) FROM sec.access_grant")).scalar_one() == 0
    eng.dispose()
