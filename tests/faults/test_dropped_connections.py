"""Dropped connections and server faults (issue 13): every target backend terminated mid-COPY
and mid-commit, the lock taken by someone else meanwhile, a statement timeout.  The CLI runs as
a real process that pauses at the named point (``SAFESTATS_FAULT_PAUSE``) while the test does
the fault, so the moment is chosen by the chunk, never by sleeping."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.errors import EXIT_LOCKED, EXIT_NOT_READY
from migration.ledger import MigrationLock
from tests.faults.conftest import (
    CHUNK_ROWS,
    Reference,
    assert_identical,
    cli_env,
    start,
    terminate_target_backends,
    wait_paused,
)

pytestmark = pytest.mark.postgres

RUN = ["run", "--all", "--chunk-rows", CHUNK_ROWS]


def _resume(directory: Path) -> None:
    (directory / "resume").write_text("")


@pytest.mark.parametrize("point", ["mid_copy:3:tblMPSCrime", "before_commit:2:tblMPSCrime",
                                   pytest.param("after_copy:1:tblLFBIncident", marks=pytest.mark.proof)])
def test_every_backend_terminated_mid_chunk_is_retried_and_the_run_completes_identical(
        point: str, legacy: Path, target: URL, reference: Reference, tmp_path: Path) -> None:
    proc = start(RUN, cli_env(legacy, target, {"SAFESTATS_FAULT_PAUSE": point, "SAFESTATS_FAULT_DIR": str(tmp_path)}))
    wait_paused(proc, tmp_path)
    # the chunk's session (mid-COPY, or its COMMIT about to be sent) and the lock's session both die
    assert terminate_target_backends(target) >= 2
    _resume(tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    stage_table = point.split(":")[2]
    chunk = point.split(":")[1]
    assert f"{stage_table} chunk {chunk}: database connection problem, retrying (1/4)" in err + out, err[-3000:]
    assert "internal error" not in err
    assert_identical(target, reference, f"backends terminated at {point}")


def test_a_lock_taken_by_another_command_while_the_session_was_dead_stops_the_run_with_exit_4(
        legacy: Path, target: URL, reference: Reference, tmp_path: Path) -> None:
    proc = start(RUN, cli_env(legacy, target, {"SAFESTATS_FAULT_PAUSE": "before_commit:2:tblMPSCrime",
                                               "SAFESTATS_FAULT_DIR": str(tmp_path)}))
    wait_paused(proc, tmp_path)
    terminate_target_backends(target)
    eng = create_engine(target, poolclass=NullPool)
    intruder = MigrationLock(eng, "intruder --all")
    try:
        intruder.acquire()  # the advisory lock died with the run's session: someone else gets it
        _resume(tmp_path)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == EXIT_LOCKED, err[-3000:]
        assert "intruder --all" in err, err[-3000:]
        with eng.connect() as conn:  # nothing of the chunk in flight was written without the lock
            n = conn.execute(text("SELECT count(*) FROM ledger.checkpoint WHERE source_table = 'tblMPSCrime'"))
            assert n.scalar_one() == 1
    finally:
        intruder.release()
        eng.dispose()
    again = start(RUN, cli_env(legacy, target))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert_identical(target, reference, "the lock was lost and the run repeated")


def test_a_statement_timeout_is_retried_then_stops_naming_the_chunk_with_exit_3(
        legacy: Path, target: URL, reference: Reference, tmp_path: Path) -> None:
    env = cli_env(legacy, target, {"SAFESTATS_FAULT_PAUSE": "after_copy:2:tblMPSCrime",
                                   "SAFESTATS_FAULT_DIR": str(tmp_path),
                                   "PGOPTIONS": "-c statement_timeout=3000"})
    proc = start(RUN, env)
    wait_paused(proc, tmp_path)
    eng = create_engine(target, poolclass=NullPool)
    try:
        with eng.connect() as blocker:
            # checkpoints cannot be written (reads still can) until this transaction ends
            blocker.execute(text("LOCK TABLE ledger.checkpoint IN SHARE MODE"))
            _resume(tmp_path)
            out, err = proc.communicate(timeout=300)
            blocker.rollback()
    finally:
        eng.dispose()
    assert proc.returncode == EXIT_NOT_READY, err[-3000:]
    assert "retrying (4/4)" in err, err[-3000:]
    assert "stopped loading tblMPSCrime at chunk 2" in err and "statement timeout" in err, err[-3000:]
    again = start(RUN, cli_env(legacy, target))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert_identical(target, reference, "a statement timeout")
