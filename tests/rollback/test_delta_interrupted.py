"""A delta that stops half-way (a crash, a dropped connection, Ctrl-C) must not become the
base of the next one: the next delta compares the legacy with the last *completed* run's
key snapshot and watermarks, so every change the stopped one did not finish is found again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from migration.console import RecordingConsole
from migration.plan.execute import Orchestrator
from tests.rollback.conftest import Targets, move_legacy, rows
from tests.steps.conftest import REPO, cli, settings_for, snapshot

pytestmark = pytest.mark.postgres


class Crash(Exception):
    pass


def crash_at(point: str, table: str, n: int = 1) -> Any:
    def fault(where: str, chunk_no: int = 0, source_table: str | None = None) -> None:
        if where == point and source_table == table and (chunk_no or 1) == n:
            raise Crash(f"planted crash at {point} of {table}")
    return fault


def delta(source: Path, target: URL, stage: str, fault: Any = None) -> list[Any]:
    o = Orchestrator(settings_for(source, target), RecordingConsole(), fault=fault)
    try:
        return o.delta([stage])
    finally:
        o.close()


@pytest.mark.parametrize("point", ["after_commit", "before_commit"])
def test_a_stopped_delta_is_not_the_base_of_the_next(_loaded_template: URL, targets: Targets, legacy: Path,
                                                     tmp_path: Path, point: str) -> None:
    source = tmp_path / "legacy.sqlite"
    shutil.copy(legacy, source)
    move_legacy(source)
    clean = targets.clone(_loaded_template, "ss_rb_dclean")
    broken = targets.clone(_loaded_template, "ss_rb_dbroken")
    try:
        delta(source, clean, "mps_crime")
        with pytest.raises(Exception, match="planted crash"):
            delta(source, broken, "mps_crime", crash_at(point, "tblMPSCrime"))
        delta(source, broken, "mps_crime")
        assert snapshot(broken) == snapshot(clean)
    finally:
        targets.drop(clean)
        targets.drop(broken)


def test_ctrl_c_stops_a_delta_at_a_chunk_boundary_and_the_next_delta_finishes_it(
        _loaded_template: URL, targets: Targets, legacy: Path, tmp_path: Path) -> None:
    """A real ``run --delta`` process, paused right after its first chunk committed, gets SIGINT:
    exit 130, one line saying what was committed and what to run, the run recorded as
    interrupted (not failed) — and the same command afterwards gives the target a clean delta gives."""
    source = tmp_path / "legacy.sqlite"
    shutil.copy(legacy, source)
    move_legacy(source)
    clean = targets.clone(_loaded_template, "ss_rb_dclean")
    stopped = targets.clone(_loaded_template, "ss_rb_dsig")
    pause = tmp_path / "pause"
    pause.mkdir()
    try:
        delta(source, clean, "mps_crime")
        env = dict(os.environ, COLUMNS="200", SAFESTATS_SOURCE_URL=f"sqlite:///{source}",
                   SAFESTATS_TARGET_URL=stopped.render_as_string(hide_password=False),
                   SAFESTATS_MAPPINGS_DIR=str(REPO / "mappings"),
                   SAFESTATS_FAULT_PAUSE="after_commit:1:tblMPSCrime", SAFESTATS_FAULT_DIR=str(pause))
        proc = subprocess.Popen([sys.executable, "-m", "migration", "run", "--delta", "mps_crime"], env=env,
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not (pause / "paused").exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the delta never reached its first chunk"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        (pause / "resume").write_text("")
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err[-3000:]
        last = err.strip().splitlines()[-1]
        assert "interrupted (SIGINT)" in last and "chunk boundary" in last and "1 chunk(s) committed" in last, err
        assert "run --delta mps_crime" in last and "reads again everything since" in last, last
        kinds = [r[0] for r in rows(stopped, "SELECT kind FROM ledger.event WHERE stage = 'mps_crime' "
                                             "AND kind LIKE 'delta%' ORDER BY event_id")]
        assert kinds == ["delta_started", "delta_interrupted"], kinds
        again = cli(["run", "--delta", "mps_crime"], source, stopped)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "stopped before their end" in again.stderr
        assert snapshot(stopped) == snapshot(clean)
        verdict = cli(["reconcile", "mps_crime"], source, stopped)
        assert verdict.returncode == 0, verdict.stdout[-3000:] + verdict.stderr[-3000:]
    finally:
        targets.drop(clean)
        targets.drop(stopped)


def _ledger_and_staging(url: URL) -> dict[str, Any]:
    tables = [r[0] for r in rows(url, "SELECT schemaname || '.' || tablename FROM pg_tables "
                                      "WHERE schemaname IN ('ledger', 'staging') ORDER BY 1")]
    return {t: rows(url, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def test_a_delta_dry_run_records_nothing(_loaded_template: URL, targets: Targets, legacy: Path,
                                         tmp_path: Path) -> None:
    """``run --delta --all --dry-run`` says what each delta would do and leaves every ledger and
    staging table as it was (before: it recorded a run and its watermarks)."""
    source = tmp_path / "legacy.sqlite"
    shutil.copy(legacy, source)
    move_legacy(source)
    url = targets.clone(_loaded_template, "ss_rb_ddry")
    try:
        before, data = _ledger_and_staging(url), snapshot(url)
        o = Orchestrator(settings_for(source, url), RecordingConsole())
        try:
            results = o.delta([], all_=True, dry_run=True)
        finally:
            o.close()
        mps = next(r for r in results if r.stage == "mps_crime")
        assert mps.action == "dry-run" and sum(p.new_keys + p.gone_keys + p.changed_rows for p in mps.plans) > 0
        assert _ledger_and_staging(url) == before
        assert snapshot(url) == data
    finally:
        targets.drop(url)
