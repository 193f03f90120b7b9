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

#: the report properties of the kill matrix (tests/faults/test_kill_matrix.py): a kill's rework
#: (:meth:`tests.faults.rework.Rework.as_property` with its source and phase), a point whose re-run
#: differed from the uninterrupted target
REWORK_PROPERTY = "kill_rework"
MISMATCH_PROPERTY = "kill_mismatch"


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


# --------------------------------------------------------------------------- the kill matrix's table
def _kill_reports(terminalreporter: Any) -> list[tuple[Any, dict[str, Any] | None, bool]]:
    """(report, rework property, mismatch) of every kill-matrix call (from any xdist worker)."""
    out = []
    for key in ("passed", "failed"):
        for rep in terminalreporter.stats.get(key, []):
            if getattr(rep, "when", None) != "call" or "test_kill_matrix.py::" not in rep.nodeid:
                continue
            props = dict(rep.user_properties)
            if "[" not in rep.nodeid and REWORK_PROPERTY not in props:
                continue
            out.append((rep, props.get(REWORK_PROPERTY), MISMATCH_PROPERTY in props))
    return out


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The kill matrix's table: per phase, the points killed, the re-runs that differed from the
    uninterrupted target, and the largest rework (chunks, legacy rows, steps) any kill needed; then
    every kill's rework as the ledger showed it (the CI chain's too)."""
    reports = _kill_reports(terminalreporter)
    chain = [r for r in reports if "test_ci_chain" in r[0].nodeid]
    proof = [r for r in reports if "test_kill_at_every_point" in r[0].nodeid]
    write = terminalreporter.write_line
    if proof:
        from tests.faults.test_kill_matrix import POINTS
        write("")
        write("kill matrix (issue 13): points per phase, mismatches, rework per kill (from the ledger)")
        head = ("phase", "points", "mismatches", "other failures", "max rework: chunks (rows) at", "max rows at",
                "steps redone at the points")
        table: list[tuple[str, ...]] = []
        totals = [0, 0, 0]
        for phase in POINTS:
            mine = [rw for _rep, rw, _m in proof if rw is not None and rw["phase"] == phase]
            points = [r for r in proof if r[0].nodeid.split("[", 1)[-1].rstrip("]") in POINTS[phase]]
            mismatches = sum(1 for r in points if r[2])
            other = sum(1 for r in points if r[0].outcome == "failed" and not r[2])
            most = max(mine, key=lambda rw: (rw["chunks"], rw["rows"]), default=None)
            rows = max(mine, key=lambda rw: rw["rows"], default=None)
            kinds: dict[str, int] = {}
            for rw in mine:
                if rw["kind"]:
                    kinds[rw["kind"]] = kinds.get(rw["kind"], 0) + 1
            table.append((
                phase, str(len(points)), str(mismatches), str(other),
                f"{most['chunks']} ({most['rows']}) at {most['point']}" if most and most["chunks"] else "0",
                f"{rows['rows']} at {rows['point']}" + ("" if rows["keyed"] else " (keyless: 1 chunk)")
                if rows and rows["rows"] else "0",
                "; ".join(f"{k} ×{n}" for k, n in kinds.items()) or "-"))
            totals[0] += len(points)
            totals[1] += mismatches
            totals[2] += other
        table.append(("total", *(str(t) for t in totals), "", "", ""))
        widths = [max(len(row[i]) for row in [head, *table]) for i in range(len(head))]
        for row in [head, tuple("-" * w for w in widths), *table]:
            write(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        write("")
        write("rework per kill (committed before the kill; what the re-run loaded or did again):")
        for rep, kill, mismatch in proof:
            line = kill["line"] if kill is not None else f"{rep.nodeid.split('[', 1)[-1].rstrip(']')}: no rework read"
            write(f"  {line}" + (" — MISMATCH" if mismatch else "") + (" — FAILED" if rep.outcome == "failed" else ""))
    if chain:
        write("")
        write("kill matrix CI chain: rework per kill (committed before the kill; what the runs after it did again):")
        for rep, _rw, _mismatch in chain:
            for name, value in rep.user_properties:
                if name == REWORK_PROPERTY:
                    write(f"  {value['line']}")
            if rep.outcome == "failed":
                write("  (the chain failed)")
