"""A rollback killed halfway, a held migration lock, the quarantine and disposition books, an
interrupted load undone (issue 7)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from migration.ledger import MigrationLock, quarantine
from migration.ledger.books import actor
from migration.schema import api
from tests.rollback.conftest import (
    assert_exact,
    engine,
    exact,
    rollback_api,
    rollback_cli,
    rows,
    scalar,
    stage_run,
    wait_until,
)
from tests.steps.conftest import REPO, cli

pytestmark = pytest.mark.postgres


def cli_env(source: Path, target: URL) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SAFESTATS_SOURCE_URL": f"sqlite:///{source}",
                "SAFESTATS_TARGET_URL": target.render_as_string(hide_password=False),
                "SAFESTATS_MAPPINGS_DIR": str(REPO / "mappings")})
    return env


def test_a_rollback_killed_halfway_changed_nothing_and_runs_again_to_completion(loaded: URL, legacy: Path) -> None:
    """SIGKILL while the rollback's transaction has already suspended the incident keys and
    deleted every police row, and waits for a lock on the run's quarantine records (held
    here): PostgreSQL discards all of it, and the same command then completes."""
    before = exact(loaded)
    mps = {f"({i})" for (i,) in rows(loaded, "SELECT incident_id FROM core.incident WHERE dataset = 'MPS'")}
    assert len(mps) > 10_000
    run = stage_run(loaded, "mps_crime")
    eng = engine(loaded)
    blocker = eng.connect()
    held = blocker.begin()
    blocker.execute(text("SELECT 1 FROM ledger.quarantine WHERE run_id = :r LIMIT 1 FOR UPDATE"), dict(r=run))
    proc = subprocess.Popen([sys.executable, "-m", "migration", "rollback", "mps_crime"], cwd=REPO,
                            env=cli_env(legacy, loaded), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        backend = wait_until(lambda: scalar(
            loaded, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
                    "AND query LIKE 'INSERT INTO ledger.quarantine_event%'"), timeout=120, what="the rollback to block")
        # halfway: its transaction holds what it has done so far (the keys dropped, the rows deleted)
        locks = dict(rows(loaded, "SELECT CAST(relation::regclass AS text), array_agg(mode) FROM pg_locks "
                                  "WHERE pid = :p AND granted AND relation IS NOT NULL GROUP BY 1", p=backend))
        for table in ("core.incident", "core.police_crime", "core.fire_incident"):  # keys suspended
            assert "AccessExclusiveLock" in locks.get(table, []), (table, locks.get(table))
        assert "RowExclusiveLock" in locks["core.incident"]  # rows deleted
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        held.rollback()
        blocker.close()
        eng.dispose()
    # the server notices the client is gone at its next reply and aborts the transaction
    wait_until(lambda: not scalar(loaded, "SELECT count(*) FROM pg_stat_activity WHERE pid = :p", p=backend),
               what="the killed rollback's backend to end")
    assert_exact(before, exact(loaded), "a killed rollback changed the target")
    assert scalar(loaded, "SELECT count(*) FROM ledger.event WHERE kind LIKE '%rolled_back'") == 0
    assert scalar(loaded, "SELECT count(*) FROM ledger.quarantine WHERE rolled_back_at IS NOT NULL") == 0
    assert scalar(loaded, "SELECT count(*) FROM pg_constraint WHERE confrelid = 'core.incident'::regclass") == 5

    again = rollback_cli(["mps_crime"], legacy, loaded)
    assert again.returncode == 0, again.stderr
    assert f"pid {proc.pid}" in again.stderr and "is gone; its lock was freed" in again.stderr
    after = exact(loaded)
    want = {t: dict(r) for t, r in before.items()}
    for t in ("core.incident", "core.police_crime"):
        want[t] = {k: v for k, v in want[t].items() if k not in mps}
    assert_exact(want, after, "after the second attempt")
    assert scalar(loaded, "SELECT count(*) FROM pg_constraint WHERE confrelid = 'core.incident'::regclass") == 5


def test_a_held_migration_lock_makes_rollback_fail_at_once_naming_the_holder(loaded: URL, legacy: Path) -> None:
    before = exact(loaded)
    eng = engine(loaded)
    with MigrationLock(eng, "run --all"):
        started = time.monotonic()
        out = rollback_cli(["lfb_incident"], legacy, loaded)
        took = time.monotonic() - started
    eng.dispose()
    assert out.returncode != 0
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith(f"error: another migration holds the target: {actor()} (pid {os.getpid()} on "
                           f"{socket.gethostname()}) running `run --all` since ")
    assert took < 15, f"it waited {took:.0f}s for the lock"  # interpreter start-up included
    assert_exact(before, exact(loaded), "a rollback refused by the lock changed the target")


def test_quarantine_and_disposition_records_of_the_run_are_marked_rolled_back(loaded: URL) -> None:
    """istv_assault filters rows (dispositions) and quarantines others; only its records are marked."""
    run = stage_run(loaded, "istv_assault")
    counts = dict(rows(loaded, "SELECT 'q', count(*) FROM ledger.quarantine WHERE run_id = :r UNION ALL "
                               "SELECT 'd', count(*) FROM ledger.disposition WHERE run_id = :r", r=run))
    assert counts["q"] > 0 and counts["d"] > 0
    rb, eng = rollback_api(loaded)
    t0 = scalar(loaded, "SELECT clock_timestamp()")
    rb.run("istv_assault")
    t1 = scalar(loaded, "SELECT clock_timestamp()")
    for book in ("quarantine", "disposition"):
        marked = rows(loaded, f"SELECT run_id, rolled_back_at FROM ledger.{book} WHERE rolled_back_at IS NOT NULL")
        assert len(marked) == counts[book[0]]
        assert {m.run_id for m in marked} == {run}
        assert all(t0 <= m.rolled_back_at <= t1 for m in marked)
    # no longer listed as open (`quarantine list`); still shown, as rolled back, when asked for
    assert [g for g in quarantine.summary(eng, stage="istv_assault")] == []
    assert all(r.rolled_back_at for r in quarantine.records(eng, stage="istv_assault", include_closed=True))
    assert quarantine.summary(eng, stage="mps_crime") != []
    eng.dispose()


def test_undoing_an_interrupted_full_load_puts_back_the_keys_it_had_dropped(loaded: URL, legacy: Path) -> None:
    """A fresh bulk load drops the keys and indexes of its tables when it is at least as big as
    what they hold (core.incident is shared with the other agencies: the police load is the
    biggest) and re-creates them at its end.  Killed before that, then undone: the target is
    as before the load, keys included (`schema check` finds no difference)."""
    rb, eng = rollback_api(loaded)
    rb.run("mps_crime")
    eng.dispose()
    before = exact(loaded)
    assert api.check(loaded).ok
    killed = cli(["run", "mps_crime"], legacy, loaded,
                 env_extra={"SAFESTATS_FAULT_KILL": "after_commit:1:tblMPSCrime"})
    assert killed.returncode == -signal.SIGKILL
    dropped = api.check(loaded).differences
    assert any("uq_incident_dataset_source_ref" in d for d in dropped)
    assert any("fk_fire_incident_incident_id_incident" in d for d in dropped)  # other tables' keys to it
    assert scalar(loaded, "SELECT count(*) FROM core.police_crime") > 0

    out = rollback_cli(["mps_crime"], legacy, loaded)
    assert out.returncode == 0, out.stderr
    assert api.check(loaded).differences == ()
    assert_exact(before, exact(loaded), "undoing the interrupted load")


def test_a_smaller_load_into_a_shared_table_keeps_its_keys_and_drops_only_its_own(loaded: URL, legacy: Path) -> None:
    """The fire brigade's rows are fewer than the incidents already held: core.incident keeps
    its keys and indexes during the load (maintaining them is cheaper than rebuilding them for
    every agency), while the empty core.fire_incident loses and regains its own."""
    rb, eng = rollback_api(loaded)
    rb.run("lfb_incident")
    eng.dispose()
    before = exact(loaded)
    killed = cli(["run", "lfb_incident"], legacy, loaded,
                 env_extra={"SAFESTATS_FAULT_KILL": "after_commit:1:tblLFBIncident"})
    assert killed.returncode == -signal.SIGKILL
    dropped = api.check(loaded).differences
    assert not any("incident" in d and "fire_incident" not in d for d in dropped), dropped
    assert any("fk_fire_incident_incident_id_incident" in d for d in dropped), dropped
    held = {r for (r,) in rows(loaded, "SELECT conname FROM pg_constraint WHERE conrelid IN "
                                       "('core.incident'::regclass, 'core.fire_incident'::regclass)")}
    assert "pk_fire_incident" not in held and {"pk_incident", "uq_incident_dataset_source_ref"} <= held
    out = rollback_cli(["lfb_incident"], legacy, loaded)
    assert out.returncode == 0, out.stderr
    assert api.check(loaded).differences == ()
    assert_exact(before, exact(loaded), "undoing the interrupted load")
