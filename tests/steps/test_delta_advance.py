"""Issue 5's proof with the generator's own legacy activity (`legacy advance`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from migration.console import RecordingConsole
from migration.legacy import advance
from migration.plan.execute import Orchestrator, run_delta
from migration.schema import api
from tests.steps.conftest import REPO, run_all, settings_for, snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _copy(legacy_sqlite: Path, tmp_path: Path) -> Path:
    legacy = tmp_path / "legacy.sqlite"
    shutil.copy(legacy_sqlite, legacy)
    manifest = legacy_sqlite.with_name(legacy_sqlite.stem + ".manifest.json")
    shutil.copy(manifest, tmp_path / "legacy.manifest.json")
    for suffix in ("-wal", "-shm"):
        side = legacy_sqlite.with_name(legacy_sqlite.name + suffix)
        if side.exists():
            shutil.copy(side, tmp_path / (legacy.name + suffix))
    return legacy


def _delta(legacy: Path, target: Any) -> list[Any]:
    runner = Orchestrator(settings_for(legacy, target), RecordingConsole())
    try:
        return run_delta(runner, [], all_=True)
    finally:
        runner.close()


def _fresh(legacy: Path, pg_databases: Any) -> dict[str, Any]:
    url = pg_databases.create("ss_fresh")
    api.upgrade(url)
    run_all(legacy, url)
    return snapshot(url)


def test_after_legacy_advance_the_delta_equals_a_fresh_full_load_and_is_idempotent(
        legacy_sqlite: Path, tmp_path: Path, pg_databases: Any) -> None:
    legacy = _copy(legacy_sqlite, tmp_path)
    target = pg_databases.create("ss_delta")
    api.upgrade(target)
    run_all(legacy, target)
    advance(make_url(f"sqlite:///{legacy}"), 5, 11, tmp_path / "legacy.manifest.json", console=RecordingConsole())
    first = _delta(legacy, target)
    assert all(c.balanced for r in first for c in r.counts)
    assert sum(c.rows_read for r in first for c in r.counts if c.source_table == "tblMPSCrime") > 0
    want = _fresh(legacy, pg_databases)
    got = snapshot(target)
    for table in want:
        assert got[table] == want[table], f"{table} differs from a fresh full load of the advanced legacy"
    second = _delta(legacy, target)
    assert all(c.rows_loaded == 0 for r in second for c in r.counts), "a second delta wrote rows"
    assert snapshot(target) == want


def test_a_legacy_that_moves_during_the_full_load_is_caught_up_by_the_first_delta(
        legacy_sqlite: Path, tmp_path: Path, pg_databases: Any) -> None:
    legacy = _copy(legacy_sqlite, tmp_path)
    target = pg_databases.create("ss_moving")
    api.upgrade(target)
    env_target = target.render_as_string(hide_password=False)
    import os

    env = dict(os.environ, SAFESTATS_SOURCE_URL=f"sqlite:///{legacy}", SAFESTATS_TARGET_URL=env_target,
               SAFESTATS_MAPPINGS_DIR=str(REPO / "mappings"))
    # a slow full load (small chunks) while the legacy advances beside it
    load = subprocess.Popen([sys.executable, "-m", "migration", "run", "--all", "--chunk-rows", "500"], env=env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    advance(make_url(f"sqlite:///{legacy}"), 3, 5, tmp_path / "legacy.manifest.json", console=RecordingConsole())
    out, err = load.communicate(timeout=600)
    assert load.returncode == 0, err[-3000:]
    _delta(legacy, target)
    want = _fresh(legacy, pg_databases)
    got = snapshot(target)
    for table in want:
        assert got[table] == want[table], f"{table} differs after a load the legacy moved under"
