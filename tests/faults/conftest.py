"""Fixtures of the fault tests (issue 13): a tiny legacy, upgraded empty targets cloned from a
template, the reference result of an uninterrupted run, and a CLI started as a real process
that pauses at a named point while the test does the fault."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.ledger import Ledger
from migration.legacy import generate
from tests.rollback.conftest import SCALE, SEED, Targets
from tests.steps.conftest import REPO, run_all, snapshot

#: small chunks so a stage has several (tblMPSCrime: 8 at this scale) and a fault hits the middle
CHUNK_ROWS = "2000"


@pytest.fixture(scope="session")
def targets() -> Iterator[Targets]:
    t = Targets()
    try:
        yield t
    finally:
        t.dbs.drop_all()


@pytest.fixture(scope="session")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic legacy of the rollback suite (read-only)."""
    path = tmp_path_factory.mktemp("flt_legacy") / "legacy.sqlite"
    generate(make_url(f"sqlite:///{path}"), SCALE, SEED, None, console=RecordingConsole())
    return path


@pytest.fixture(scope="session")
def empty_template(targets: Targets) -> URL:
    """An upgraded, empty target: only ever cloned."""
    return targets.fresh("ss_flt_tpl")


@pytest.fixture
def target(empty_template: URL, targets: Targets) -> Iterator[URL]:
    url = targets.clone(empty_template, "ss_flt")
    yield url
    targets.drop(url)


def accounting(url: URL) -> list[tuple[Any, ...]]:
    """The ledger's accounting of every table, without run ids (two separate loads compare)."""
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            counts = Ledger(eng).table_counts(conn)
    finally:
        eng.dispose()
    assert all(c.balanced for c in counts), counts
    return sorted((c.stage, c.source_table, c.rows_read, c.rows_loaded, c.rows_merged, c.rows_quarantined,
                   c.rows_filtered, c.rows_unchanged) for c in counts)


def quarantine(url: URL) -> list[tuple[Any, ...]]:
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(text(
                "SELECT stage, source_table, source_key, reason_code FROM ledger.quarantine")))
    finally:
        eng.dispose()


@dataclass
class Reference:
    rows: dict[str, list[tuple[Any, ...]]]
    accounting: list[tuple[Any, ...]]
    quarantine: list[tuple[Any, ...]]
    #: the loaded target itself, only ever cloned (a template) after this
    template: URL


@pytest.fixture(scope="session")
def reference(legacy: Path, empty_template: URL, targets: Targets) -> Reference:
    """What an uninterrupted `run --all` leaves (rows by (dataset, source_ref), accounting, quarantine)."""
    url = targets.clone(empty_template, "ss_flt_ref")
    run_all(legacy, url, chunk_rows=int(CHUNK_ROWS))
    return Reference(snapshot(url), accounting(url), quarantine(url), url)


def assert_identical(url: URL, ref: Reference, what: str) -> None:
    got = snapshot(url)
    for table in got:
        assert got[table] == ref.rows[table], f"{table} differs after {what}"
    assert accounting(url) == ref.accounting, f"the ledger's accounting differs after {what}"
    assert quarantine(url) == ref.quarantine, f"the quarantine set differs after {what}"


def cli_env(source: Path | URL, target: URL, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["COLUMNS"] = "200"
    src = f"sqlite:///{source}" if isinstance(source, Path) else source.render_as_string(hide_password=False)
    env.update({"SAFESTATS_SOURCE_URL": src, "SAFESTATS_TARGET_URL": target.render_as_string(hide_password=False),
                "SAFESTATS_MAPPINGS_DIR": str(REPO / "mappings")})
    env.update(extra or {})
    return env


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """The CLI as a real process leading its own process group (the kill harness's SIGKILL goes
    to the group: workers die with it)."""
    return subprocess.Popen([sys.executable, "-m", "migration", *args], env=env, cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def wait_paused(proc: subprocess.Popen[str], directory: Path, timeout: float = 240) -> None:
    """Until the CLI reports it reached its pause point (it fails the test if the CLI ended first)."""
    deadline = time.monotonic() + timeout
    while not (directory / "paused").exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the CLI ended (exit {proc.returncode}) before its pause point: {err[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the CLI never reached its pause point")
        time.sleep(0.05)


def terminate_target_backends(url: URL, keep: int | None = None) -> int:
    """``pg_terminate_backend`` every session of the target but this one (the user's scenario:
    every backend of the run killed, its lock's session included)."""
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> :keep"),
                dict(keep=keep or 0)).scalar_one())
    finally:
        eng.dispose()
