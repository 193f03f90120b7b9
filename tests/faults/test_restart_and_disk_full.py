"""PostgreSQL restarted during a stage, and the target's disk full (issue 13), with real servers:

- a throwaway cluster the test creates (``initdb`` under ``runuser -u postgres``, in a directory
  it owns, on a port of its own) is restarted (``pg_ctl restart -m fast``) while ``run --all`` is
  paused right after a committed chunk: the run reconnects, takes its lock again, finishes, and
  the target equals an uninterrupted run's;
- the target database lives in a tablespace on a small tmpfs the test mounts and fills: the run
  stops cleanly (exit 3, one line naming the stage, table, chunk and the cause), nothing half
  written; once space is freed the same command completes, identical.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.schema import api
from tests.faults.conftest import (
    CHUNK_ROWS,
    Reference,
    assert_identical,
    cli_env,
    start,
    wait_paused,
)

pytestmark = pytest.mark.postgres

RUN = ["run", "--all", "--chunk-rows", CHUNK_ROWS]
BIN = Path(shutil.which("pg_ctl") or "/usr/local/bin/pg_ctl").parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120)


def _postgres_dir(prefix: str) -> Path:
    """A directory the postgres user owns (pytest's own temporary folders are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    shutil.chown(path, "postgres")
    return path


def _postmaster_started(url: URL) -> object:
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as c:
            return c.execute(text("SELECT pg_postmaster_start_time()")).scalar_one()
    finally:
        eng.dispose()


@contextmanager
def _own_cluster(home: Path, database: str, tablespace: Path | None = None) -> Iterator[tuple[Path, URL]]:
    """A PostgreSQL cluster of the test's own in ``home`` (same binaries as the main server: PostGIS is
    there), with one database — in a tablespace at ``tablespace`` when given.  Faults planted in it
    (a restart, a full disk: its checkpointer then fails) never reach the server the other tests share."""
    data = home / "data"
    done = _as_postgres(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    assert done.returncode == 0, done.stderr
    port = _free_port()
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {home} -c fsync=off"
    done = _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(home / "log"), "-w", "start")
    assert done.returncode == 0, done.stderr + (home / "log").read_text()
    try:
        url = make_url(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres")
        eng = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            if tablespace is None:
                c.execute(text(f"CREATE DATABASE {database}"))
            else:
                c.execute(text(f"CREATE TABLESPACE ss_small LOCATION '{tablespace}'"))
                c.execute(text(f"CREATE DATABASE {database} TABLESPACE ss_small"))
        eng.dispose()
        yield data, url.set(database=database)
    finally:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[tuple[Path, URL]]:
    home = _postgres_dir("ss_cluster_")
    try:
        with _own_cluster(home, "ss_restart") as (data, url):
            yield data, url
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_postgresql_restarted_mid_stage_the_run_reconnects_and_finishes_identical(
        cluster: tuple[Path, URL], legacy: Path, reference: Reference, tmp_path: Path) -> None:
    data, url = cluster
    api.upgrade(url)
    pause = tmp_path / "pause"
    pause.mkdir()
    proc = start(RUN, cli_env(legacy, url, {"SAFESTATS_FAULT_PAUSE": "after_commit:2:tblMPSCrime",
                                            "SAFESTATS_FAULT_DIR": str(pause)}))
    wait_paused(proc, pause)
    before = _postmaster_started(url)
    done = _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "log"), "-m", "fast", "-w",
                        "restart")  # -l: the server must not hold this command's output pipe
    assert done.returncode == 0, done.stderr
    (pause / "resume").write_text("")
    _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert _postmaster_started(url) > before  # the server the run finished on is not the one it began on
    # the lock died with its session: the run held it again for the chunks after the restart
    assert "lock" not in err.lower() or "freed" not in err.lower(), err[-3000:]
    assert_identical(url, reference, "a PostgreSQL restart mid-stage")


@pytest.fixture
def small_disk() -> Iterator[tuple[Path, URL]]:
    """A target database whose tablespace is a 64 MB tmpfs (WAL stays on the cluster's own disk, as a
    data disk filling up leaves it), in a cluster of the test's own: a full tablespace makes the
    checkpointer fail, which must not stop the server the other tests share."""
    home = _postgres_dir("ss_small_")
    mnt = home / "space"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a tmpfs (this test needs root): {done.stderr}"
    shutil.chown(mnt, "postgres")
    try:
        with _own_cluster(home, "ss_disk", tablespace=mnt) as (_data, url):
            yield mnt, url
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("room_kb", [3072, 64], ids=["full-mid-police", "full-at-first-write"])
def test_the_target_disk_full_stops_cleanly_and_the_rerun_after_freeing_space_is_identical(
        small_disk: tuple[Path, URL], legacy: Path, reference: Reference, room_kb: int) -> None:
    """3 MB left: the reference tables fit, the police rows do not; 64 kB: the first stage's first
    write finds the disk full."""
    mnt, url = small_disk
    api.upgrade(url)
    free = shutil.disk_usage(mnt).free
    ballast = mnt / "ballast"
    with ballast.open("wb") as f:
        f.truncate(0)
    subprocess.run(["fallocate", "-l", str(free - room_kb * 1024), str(ballast)], check=True)
    proc = start(RUN, cli_env(legacy, url))
    _out, err = proc.communicate(timeout=600)
    last = err.strip().splitlines()[-1]
    assert proc.returncode == 3, err[-3000:]
    assert "No space left on device" in last and "run the same command again" in last, last
    assert "incident-disk-full.md" in last, last  # what to do, on the line itself
    assert "stage " in last, last  # where: the stage whose write found the disk full
    ballast.unlink()  # space freed
    proc = start(RUN, cli_env(legacy, url))
    _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert_identical(url, reference, "the disk full, then space freed")
