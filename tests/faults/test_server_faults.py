"""Dropped connections outside the chunk writer (issue 13): mid-reconcile, mid-rollback, a COMMIT
that succeeded although its reply was lost, and the SIGKILL of the whole process group."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from migration.console import RecordingConsole
from migration.errors import EXIT_NOT_READY
from migration.plan.execute import Orchestrator
from tests.faults.conftest import (
    CHUNK_ROWS,
    Reference,
    assert_identical,
    cli_env,
    start,
    terminate_target_backends,
)
from tests.rollback.conftest import Targets, assert_exact, engine, exact, scalar, wait_until
from tests.steps.conftest import settings_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def loaded(reference: Reference, targets: Targets) -> Any:
    url = targets.clone(reference.template, "ss_flt_ld")
    yield url
    targets.drop(url)


def _blocked_then_terminated(url: URL, lock_sql: str, args: list[str], legacy: Path) -> tuple[int, str]:
    """Start the CLI while ``lock_sql`` holds a lock it needs; once one of its backends waits on
    it (the command is mid-way), terminate every backend of the target but the blocker's."""
    eng = engine(url)
    blocker = eng.connect()
    held = blocker.begin()
    blocker.execute(text(lock_sql))
    keep = blocker.execute(text("SELECT pg_backend_pid()")).scalar_one()
    proc = start(args, cli_env(legacy, url))
    try:
        wait_until(lambda: scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND wait_event_type = 'Lock'"), timeout=180, what="the command to block")
        assert terminate_target_backends(url, keep=keep) >= 1
    finally:
        held.rollback()
        blocker.close()
        eng.dispose()
    out, err = proc.communicate(timeout=300)
    return proc.returncode, err


def test_every_backend_terminated_mid_reconcile_stops_with_exit_3_and_the_rerun_passes(
        loaded: URL, legacy: Path) -> None:
    code, err = _blocked_then_terminated(loaded, "LOCK TABLE core.police_crime IN ACCESS EXCLUSIVE MODE",
                                         ["reconcile", "--all"], legacy)
    # never a false FAIL (1) and never "a bug" (70): the checks could not run to the end
    assert code == EXIT_NOT_READY, err[-3000:]
    # where the termination lands decides the words: a connection error of the command itself, or
    # the stage's checks recorded as not run (the verdict INCOMPLETE names the stage to reconcile)
    assert "internal error" not in err, err[-3000:]
    assert "connection" in err or "mps_crime could not be checked" in err, err[-3000:]
    again = start(["reconcile", "--all"], cli_env(legacy, loaded))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]


def test_every_backend_terminated_mid_rollback_changes_nothing_and_the_rerun_completes(
        loaded: URL, legacy: Path, targets: Targets, reference: Reference) -> None:
    clean = targets.clone(reference.template, "ss_flt_rb")
    done = start(["rollback", "mps_crime"], cli_env(legacy, clean))
    assert done.wait(timeout=300) == 0
    want = exact(clean)
    targets.drop(clean)
    before = exact(loaded)
    run = scalar(loaded, "SELECT max(run_id) FROM ledger.run WHERE options->>'stage' = 'mps_crime'")
    code, err = _blocked_then_terminated(
        loaded, f"SELECT 1 FROM ledger.quarantine WHERE run_id = {int(run)} LIMIT 1 FOR UPDATE",
        ["rollback", "mps_crime"], legacy)
    assert code == EXIT_NOT_READY, err[-3000:]
    assert "internal error" not in err, err[-3000:]
    assert_exact(before, exact(loaded), "a rollback whose backends were terminated changed the target")
    again = start(["rollback", "mps_crime"], cli_env(legacy, loaded))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert_exact(want, exact(loaded), "the repeated rollback")


def test_a_commit_that_succeeded_although_its_reply_was_lost_is_read_back_not_redone(
        legacy: Path, target: URL, reference: Reference) -> None:
    """The client side of a COMMIT whose reply never came: the writer sees a dropped connection
    after the server committed (raised here right after the commit, once, as the driver would)."""
    fired: list[int] = []

    def lost_reply(where: str, chunk_no: int = 0, source_table: str | None = None) -> None:
        if where == "after_commit" and source_table == "tblMPSCrime" and chunk_no == 3 and not fired:
            fired.append(chunk_no)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    console = RecordingConsole()
    runner = Orchestrator(settings_for(legacy, target, chunk_rows=int(CHUNK_ROWS)), console, fault=lost_reply)
    try:
        runner.run([], all_=True)
    finally:
        runner.close()
    assert fired == [3]
    said = "\n".join(console.lines)
    assert "tblMPSCrime chunk 3: its commit had succeeded before the connection dropped; not written again" in said
    assert_identical(target, reference, "a lost COMMIT reply")


def _live_members(pgid: int) -> list[int]:
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


@pytest.mark.parametrize("point", ["mid_copy:2:tblMPSCrime",
                                   pytest.param("after_commit:1:tblLFBIncident", marks=pytest.mark.proof)])
def test_sigkill_of_the_process_group_then_the_same_command_completes_identical(
        point: str, legacy: Path, target: URL, reference: Reference) -> None:
    args = ["run", "--all", "--chunk-rows", CHUNK_ROWS]
    proc = start(args, cli_env(legacy, target, {"SAFESTATS_FAULT_KILL": point}))
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    # the group died with it (members still exiting are given a moment; zombies left to init do not count)
    wait_until(lambda: not _live_members(proc.pid), timeout=15, what="the process group to end")
    again = start(args, cli_env(legacy, target))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert_identical(target, reference, f"SIGKILL at {point}")
