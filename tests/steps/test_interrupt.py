"""Ctrl-C and SIGTERM stop a load at a chunk boundary, exit 130, say what was committed, and
`run STAGE` resumes to the identical target (a real subprocess sent real signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.ledger import Ledger
from migration.plan.execute import Orchestrator
from tests.steps.conftest import REPO, cli, settings_for, snapshot

STAGE = "mps_crime"
CHUNK_ROWS = 200  # tblMPSCrime at the test scale: about 80 chunks, so a signal lands mid-stage


def _start(source: Path, target: URL) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.update({"SAFESTATS_SOURCE_URL": f"sqlite:///{source}",
                "SAFESTATS_TARGET_URL": target.render_as_string(hide_password=False),
                "SAFESTATS_MAPPINGS_DIR": str(REPO / "mappings")})
    return subprocess.Popen([sys.executable, "-m", "migration", "run", STAGE, "--chunk-rows", str(CHUNK_ROWS)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _chunks(eng: Any) -> list[tuple[int, int]]:
    with eng.connect() as conn:
        return [(int(r[0]), int(r[1])) for r in conn.execute(text(
            "SELECT run_id, chunk_no FROM ledger.checkpoint WHERE stage = :s AND phase = 'load' "
            "ORDER BY run_id, chunk_no"), dict(s=STAGE))]


def _signal_mid_stage(proc: subprocess.Popen[str], eng: Any, sig: signal.Signals, *, after: int) -> tuple[str, str]:
    """Send ``sig`` once the stage has committed ``after`` more chunks; wait for the process."""
    deadline = time.monotonic() + 180
    while len(_chunks(eng)) < after:
        assert proc.poll() is None, f"the run ended before the signal: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "no chunk was committed in time"
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return out, err


@pytest.mark.slow
def test_sigint_and_sigterm_stop_at_a_chunk_boundary_and_resume_to_the_identical_target(
        legacy_sqlite: Path, target_url: URL, reference_snapshot: dict[str, Any]) -> None:
    runner = Orchestrator(settings_for(legacy_sqlite, target_url), RecordingConsole())
    try:
        runner.run(["boroughs", "areas", "codes"])
    finally:
        runner.close()
    eng = create_engine(target_url, poolclass=NullPool)
    try:
        # 1. Ctrl-C mid-stage
        proc = _start(legacy_sqlite, target_url)
        _out, err = _signal_mid_stage(proc, eng, signal.SIGINT, after=3)
        assert proc.returncode == 130, err[-3000:]
        last = err.strip().splitlines()[-1]
        assert "interrupted (SIGINT)" in last and "chunk boundary" in last and "committed" in last, err[-3000:]
        assert f"`safestats-migrate run {STAGE}` resumes from the last committed chunk" in last
        first = _chunks(eng)
        run_id = first[0][0]
        # every committed chunk is whole and in order; the stage stopped mid-way
        assert [c for _r, c in first] == list(range(1, len(first) + 1))
        assert 3 <= len(first) < 60, first
        with eng.connect() as conn:
            events = [(k, d) for k, d in conn.execute(text(
                "SELECT kind, detail FROM ledger.event WHERE stage = :s AND run_id = :r ORDER BY event_id"),
                dict(s=STAGE, r=run_id))]
        assert events[-1][0] == "stage_interrupted", events
        assert events[-1][1]["signal"] == "SIGINT" and events[-1][1]["chunks"] == len(first)
        assert f"{len(first)} chunk(s)" in last
        assert not [k for k, _d in events if k == "stage_failed"]
        assert Ledger(eng).stage_states()[STAGE].state == "running"  # unfinished: `run` resumes it
        runs, _total = Ledger(eng).runs(stage=STAGE)
        assert runs[0].run_id == run_id and runs[0].state == "interrupted"

        # 2. SIGTERM during the resumed run: the same, under the same run id
        proc = _start(legacy_sqlite, target_url)
        _out, err = _signal_mid_stage(proc, eng, signal.SIGTERM, after=len(first) + 3)
        assert proc.returncode == 130, err[-3000:]
        assert "interrupted (SIGTERM)" in err.strip().splitlines()[-1]
        assert f"resuming run {run_id}" in err
        second = _chunks(eng)
        assert {r for r, _c in second} == {run_id}
        assert [c for _r, c in second] == list(range(1, len(second) + 1)) and len(second) > len(first)

        # 3. resume to the end: identical to an uninterrupted load, and the books balance
        final = cli(["run", "--all"], legacy_sqlite, target_url)
        assert final.returncode == 0, final.stderr[-3000:]
        assert f"resuming run {run_id}" in final.stderr
        got = snapshot(target_url)
        for table in got:
            assert got[table] == reference_snapshot[table], f"{table} differs after the interrupted runs"
        with eng.connect() as conn:
            assert all(c.balanced for c in Ledger(eng).table_counts(conn))
    finally:
        eng.dispose()
