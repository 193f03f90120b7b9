"""The kill matrix beyond the full load (issue 13): deltas (key snapshot, anti-join,
re-derivation, deletes), the quarantine redrive, rollback, report writing and the Great
Expectations worker.  ``SAFESTATS_FAULT_KILL`` SIGKILLs the CLI's whole process group at a named
point chosen by event counts (:mod:`migration.faults`); the same command is run again and the
result must equal an uninterrupted run of it:

- a delta or redrive: the target rows by (dataset, source_ref), the open quarantine set and the
  accounting of the finished run (rows a killed run had already written come back as unchanged,
  so loaded and unchanged are compared as one figure);
- ``rollback --all``: the killed command undid exactly the runs committed before the kill (rework:
  at most the run in flight), and the re-run leaves every data table as before the first load;
- ``report``: no report file is ever half written (a kill leaves the previous file or a ``.tmp``);
- ``reconcile --all`` killed in its GX worker: the re-run passes and the target is untouched.

CI runs one point per phase; ``make test-proofs`` runs every point (table printed by the note).
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.ledger import Ledger
from migration.legacy import advance
from tests.faults.conftest import CHUNK_ROWS, Reference, cli_env, start
from tests.rollback.conftest import Targets, exact, rows
from tests.steps.conftest import snapshot

pytestmark = pytest.mark.postgres

DELTA = ["run", "--delta", "--all", "--chunk-rows", CHUNK_ROWS]
REDRIVE = ["run", "--redrive-quarantine", "--all", "--chunk-rows", CHUNK_ROWS]
ROLLBACK = ["rollback", "--all", "--yes"]
RECONCILE = ["reconcile", "--all"]
#: the legacy tables a delta of the moved legacy re-derives (rows changed in each)
MOVED_TABLES = ["tblMPSCrime", "tblLASAssault", "tblISTVAssault", "tblUser", "tblImportLog"]
LEGACY_TABLES = ["tblBorough", "tblWard", "tblLSOA", "tblCrimeType", "tblHospital", "tblOrganisation", "tblUser",
                 "tblLookupCode", "tblImportLog", "tblMPSCrime", "tblLFBIncident", "tblLASAssault",
                 "tblTransportCrime", "tblISTVAssault"]

#: phase → (command, kill points); n counts chunks for chunk points, else calls of the point
POINTS: dict[str, tuple[list[str], list[str]]] = {
    "delta snapshot": (DELTA, [f"key_snapshot:{n}" for n in range(1, 15)]),
    "delta anti-join": (DELTA, [f"delta_plan:{n}" for n in range(1, 15)]),
    "delta re-derivation": (DELTA, [f"delta_apply:1:{t}" for t in MOVED_TABLES]
                            + [f"before_commit:1:{t}" for t in MOVED_TABLES]
                            + [f"after_commit:1:{t}" for t in MOVED_TABLES]
                            + [f"delta_delete:{n}" for n in range(1, 15)]),
    "redrive": (REDRIVE, [f"delta_plan:{n}" for n in range(1, 15)]
                + [f"delta_apply:1:{t}" for t in ("tblMPSCrime", "tblLFBIncident", "tblLASAssault",
                                                  "tblTransportCrime", "tblISTVAssault", "tblOrganisation")]),
    "rollback": (ROLLBACK, [f"undo:{n}" for n in range(1, 21)] + [f"undo_committed:{n}" for n in (1, 5, 10, 15, 19)]),
    "report writing": (["report"], ["report_write:1", "report_write:2", "report_write:3", "report_write:1:html",
                                    "report_write:1:json", "report_write:1:md"]),
    "GX worker": (RECONCILE, [f"gx:{n}" for n in range(1, 6)]),
}
#: CI: one point per phase
CI_POINTS = ["key_snapshot:9", "delta_plan:10", "delta_apply:1:tblMPSCrime", "delta_apply:1:tblISTVAssault",
             "undo:7", "report_write:2", "gx:2"]
CI_PHASES = {"key_snapshot:9": "delta snapshot", "delta_plan:10": "delta anti-join",
             "delta_apply:1:tblMPSCrime": "delta re-derivation", "delta_apply:1:tblISTVAssault": "redrive",
             "undo:7": "rollback", "report_write:2": "report writing", "gx:2": "GX worker"}


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def moved(legacy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The legacy three days later: new batches, revisions, hard deletes, a re-submitted ISTV month."""
    path = tmp_path_factory.mktemp("flt_moved") / "legacy.sqlite"
    shutil.copy(legacy, path)
    shutil.copy(legacy.with_suffix(".manifest.json"), path.with_suffix(".manifest.json"))
    advance(make_url(f"sqlite:///{path}"), 3, 5, path.with_suffix(".manifest.json"), console=RecordingConsole())
    return path


def _run(args: list[str], source: Path, target: URL, extra: dict[str, str] | None = None) -> tuple[int, str]:
    proc = start(args, cli_env(source, target, extra))
    _out, err = proc.communicate(timeout=600)
    return proc.returncode, err


def _open_quarantine(url: URL) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in rows(url, "SELECT stage, source_table, source_key, reason_code "
                                              "FROM ledger.quarantine_open"))


def _accounting(url: URL, kinds: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The accounting of each stage's first finished run of these kinds after its load — the one
    that did the work (a stage whose delta finished before the kill is brought up to date again
    by the re-run, which finds nothing new) — with loaded and unchanged as one figure."""
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            counts = Ledger(eng).table_counts(conn)
            kind = {int(r[0]): r[1] for r in conn.execute(text("SELECT run_id, kind FROM ledger.run"))}
    finally:
        eng.dispose()
    assert all(c.balanced for c in counts), counts
    first: dict[str, int] = {}
    for c in counts:
        if kind[c.run_id] in kinds:
            first[c.stage] = min(first.get(c.stage, c.run_id), c.run_id)
    return sorted((c.stage, c.source_table, c.rows_read, c.rows_loaded + c.rows_unchanged, c.rows_merged,
                   c.rows_quarantined, c.rows_filtered) for c in counts if first.get(c.stage) == c.run_id)


class Outcome:
    def __init__(self, url: URL, kinds: tuple[str, ...]) -> None:
        self.rows = snapshot(url)
        self.quarantine = _open_quarantine(url)
        self.accounting = _accounting(url, kinds)

    def assert_same(self, other: Outcome, what: str) -> None:
        for table in self.rows:
            assert other.rows[table] == self.rows[table], f"{table} differs after {what}"
        assert other.quarantine == self.quarantine, f"the open quarantine differs after {what}"
        assert other.accounting == self.accounting, f"the accounting differs after {what}"


@pytest.fixture(scope="session")
def after_delta(reference: Reference, moved: Path, targets: Targets) -> Iterator[tuple[URL, Outcome]]:
    """The loaded target after an uninterrupted delta of the moved legacy (a template: only cloned)."""
    url = targets.clone(reference.template, "ss_flt_dref")
    code, err = _run(DELTA, moved, url)
    assert code == 0, err[-3000:]
    yield url, Outcome(url, ("delta",))


@pytest.fixture(scope="session")
def after_redrive(reference: Reference, legacy: Path, targets: Targets) -> Outcome:
    url = targets.clone(reference.template, "ss_flt_rref")
    code, err = _run(REDRIVE, legacy, url)
    assert code == 0, err[-3000:]
    out = Outcome(url, ("redrive",))
    targets.drop(url)
    return out


@pytest.fixture(scope="session")
def empty_exact(empty_template: URL) -> dict[str, Any]:
    return exact(empty_template)


# --------------------------------------------------------------------------- one kill, then the re-run
def _killed(args: list[str], point: str, source: Path, target: URL) -> str:
    code, err = _run(args, source, target, {"SAFESTATS_FAULT_KILL": point})
    assert code == -signal.SIGKILL, f"{point}: not reached (exit {code}): {err[-2000:]}"
    return err


def _rolled_back(url: URL) -> int:
    return int(rows(url, "SELECT count(*) FROM ledger.event WHERE kind = 'run_rolled_back'")[0][0])


def kill_and_rerun(phase: str, point: str, *, legacy: Path, moved: Path, reference: Reference,
                   after_delta: tuple[URL, Outcome], after_redrive: Outcome, empty_exact: dict[str, Any],
                   targets: Targets, tmp: Path) -> None:
    args = POINTS[phase][0]
    if phase.startswith("delta") or phase == "redrive":
        delta = phase.startswith("delta")
        source, expected, kind = (moved, after_delta[1], "delta") if delta else (legacy, after_redrive, "redrive")
        url = targets.clone(reference.template, "ss_flt_kd")
        try:
            _killed(args, point, source, url)
            code, err = _run(args, source, url)
            assert code == 0, err[-3000:]
            expected.assert_same(Outcome(url, (kind,)), f"SIGKILL at {point} of the {kind}")
        finally:
            targets.drop(url)
    elif phase == "rollback":
        url = targets.clone(after_delta[0], "ss_flt_kb")
        try:
            _killed(args, point, moved, url)
            name, _, n = point.partition(":")
            # rework at most the run in flight: the runs committed before the kill stay undone
            assert _rolled_back(url) == (int(n) - 1 if name == "undo" else int(n)), point
            code, err = _run(args, moved, url)
            assert code == 0, err[-3000:]
            got = exact(url)
            assert got == empty_exact, f"rows left after the rollback killed at {point} and run again"
            eng = create_engine(url, poolclass=NullPool)
            states = Ledger(eng).stage_states()
            eng.dispose()
            assert {s.state for s in states.values()} == {"rolled_back"}, states
        finally:
            targets.drop(url)
    elif phase == "report writing":
        url = targets.clone(reference.template, "ss_flt_kp")
        out = tmp / "report"
        try:
            _killed(["report", "--out", str(out)], point, legacy, url)
            _whole_files(out)
            code, err = _run(["report", "--out", str(out)], legacy, url)
            assert code == 0, err[-3000:]
            assert sorted(p.name for p in out.iterdir() if p.suffix != ".tmp") == \
                ["report.html", "report.json", "report.md"]
            _whole_files(out)
        finally:
            targets.drop(url)
    elif phase == "GX worker":
        url = targets.clone(reference.template, "ss_flt_kg")
        try:
            _killed(args, point, legacy, url)
            code, err = _run(args, legacy, url)
            assert code == 0, err[-3000:]
            assert snapshot(url) == reference.rows
        finally:
            targets.drop(url)
    else:  # pragma: no cover - a phase without a harness is a test bug
        raise AssertionError(phase)


def _whole_files(folder: Path) -> None:
    """Every report file in place is whole: JSON parses, HTML and Markdown end as written."""
    if not folder.exists():
        return
    for p in folder.iterdir():
        if p.suffix == ".tmp":
            continue
        body = p.read_text(encoding="utf-8")
        if p.suffix == ".json":
            json.loads(body)
        elif p.suffix == ".html":
            assert body.rstrip().endswith("</html>"), f"{p.name} is cut short"
        else:
            assert body.endswith("\n") and len(body) > 200, f"{p.name} is cut short"


def test_every_phase_has_a_harness_and_enough_points() -> None:
    from tests.faults.test_kill_matrix import POINTS as LOAD_POINTS

    assert {CI_PHASES[p] for p in CI_POINTS} == set(POINTS)
    everything = {**{k: v for k, v in LOAD_POINTS.items()}, **{k: v[1] for k, v in POINTS.items()}}
    assert len(everything) >= 15
    assert sum(len(v) for v in everything.values()) >= 200, {k: len(v) for k, v in everything.items()}
    assert all(len(v) >= 3 for v in everything.values())


@pytest.mark.parametrize("point", CI_POINTS)
def test_ci_kill_in_every_transition_phase_then_the_same_command_gives_the_uninterrupted_result(
        point: str, legacy: Path, moved: Path, reference: Reference, after_delta: tuple[URL, Outcome],
        after_redrive: Outcome, empty_exact: dict[str, Any], targets: Targets, tmp_path: Path) -> None:
    kill_and_rerun(CI_PHASES[point], point, legacy=legacy, moved=moved, reference=reference,
                   after_delta=after_delta, after_redrive=after_redrive, empty_exact=empty_exact,
                   targets=targets, tmp=tmp_path)


@pytest.mark.proof
@pytest.mark.parametrize(("phase", "point"), [(ph, p) for ph, (_a, ps) in POINTS.items() for p in ps])
def test_kill_at_every_transition_point(phase: str, point: str, legacy: Path, moved: Path, reference: Reference,
                                        after_delta: tuple[URL, Outcome], after_redrive: Outcome,
                                        empty_exact: dict[str, Any], targets: Targets, tmp_path: Path) -> None:
    kill_and_rerun(phase, point, legacy=legacy, moved=moved, reference=reference, after_delta=after_delta,
                   after_redrive=after_redrive, empty_exact=empty_exact, targets=targets, tmp=tmp_path)
