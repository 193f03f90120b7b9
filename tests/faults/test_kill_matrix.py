"""The kill matrix (issue 13): ``SAFESTATS_FAULT_KILL`` SIGKILLs the CLI's whole process group at a
named point chosen by event counts; the same command is then run again and the target must equal
an uninterrupted run (rows by (dataset, source_ref), the ledger's accounting, the quarantine set).

Every kill's rework is read from the ledger (:mod:`tests.faults.rework`): what the killed process
had committed, what was committed after it, so what the re-run did again — never anything
committed, at most the chunk(s) in flight or the step in flight.

CI runs one chain hitting every covered phase once; the proof profile (`make test-proofs`) runs every point on a
target of its own; the session ends with the table of points, mismatches and the largest rework per phase
(``pytest_terminal_summary`` in ``conftest.py``)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from tests.faults.conftest import (
    CHUNK_ROWS,
    MISMATCH_PROPERTY,
    REWORK_PROPERTY,
    Reference,
    assert_identical,
    cli_env,
    start,
)
from tests.faults.rework import Books, Rework, check_bound, read_books, rework
from tests.rollback.conftest import Targets

pytestmark = pytest.mark.postgres

RUN = ["run", "--all", "--chunk-rows", CHUNK_ROWS]

#: every legacy table of the shipped mappings (each is read, transformed and committed at least once)
TABLES = ["tblBorough", "tblWard", "tblLSOA", "tblCrimeType", "tblHospital", "tblOrganisation", "tblUser",
          "tblLookupCode", "tblImportLog", "tblMPSCrime", "tblLFBIncident", "tblLASAssault", "tblTransportCrime",
          "tblISTVAssault"]

#: phase → kill points (point:n[:legacy table or stage]); n counts chunks, or calls of the point
POINTS: dict[str, list[str]] = {
    "key snapshot": ["key_snapshot:1", "key_snapshot:4", "key_snapshot:7", "key_snapshot:10", "key_snapshot:13"],
    "extract": ["extract:1:tblBorough", "extract:2:tblMPSCrime", "extract:6:tblMPSCrime", "extract:1:tblUser",
                "extract:2:tblLFBIncident"],
    "transform": ["transform:1:tblLSOA", "transform:3:tblMPSCrime", "transform:8:tblMPSCrime",
                  "transform:1:tblISTVAssault", "transform:1:tblLASAssault"],
    "COPY": ["mid_copy:1:tblMPSCrime", "mid_copy:4:tblMPSCrime", "mid_copy:1:tblLFBIncident",
             "after_copy:1:tblLSOA", "after_copy:1:tblTransportCrime"],
    "chunk commit": ["before_commit:1:tblMPSCrime", "before_commit:5:tblMPSCrime", "after_commit:2:tblMPSCrime",
                     "after_commit:1:tblLFBIncident", "after_commit:1:tblUser"],
    "index/key rebuild": ["index_rebuild:1", "index_rebuild:3", "index_rebuild:6", "index_rebuild:10",
                          "index_rebuild:15"],
    "ANALYZE": ["analyze:1", "analyze:2", "analyze:4", "analyze:6", "analyze:8"],
    "reconcile": ["reconcile:1", "reconcile:3", "reconcile:5", "reconcile:7", "reconcile:9"],
}
# the proof profile also kills once in the first chunk of every legacy table, in each of its phases
for _phase, _point in (("extract", "extract"), ("transform", "transform"), ("chunk commit", "after_commit")):
    POINTS[_phase] += [p for p in (f"{_point}:1:{t}" for t in TABLES) if p not in POINTS[_phase]]
POINTS["reconcile"] += ["reconcile:2", "reconcile:4", "reconcile:6", "reconcile:8", "reconcile:10"]
POINTS["index/key rebuild"] += ["index_rebuild:2", "index_rebuild:4", "index_rebuild:8", "index_rebuild:12"]
POINTS["key snapshot"] += [f"key_snapshot:{n}" for n in range(1, 15) if f"key_snapshot:{n}" not in POINTS["key snapshot"]]
# inside a key snapshot (chunk n of it copied, its transaction open): the snapshot is taken again, once
POINTS["key snapshot"] += ["key_snapshot_copy:1:tblMPSCrime", "key_snapshot_copy:3:tblMPSCrime",
                           "key_snapshot_copy:1:tblLFBIncident", "key_snapshot_copy:1:tblISTVAssault",
                           "key_snapshot_copy:1:tblUser"]

#: the CI chain: one point per phase, in run order — each kill lands in the run that resumes the one
#: killed before (counts restart with each process, chunk numbers continue)
CI_CHAIN = ["extract:1:tblBorough", "key_snapshot:2", "reconcile:1", "key_snapshot_copy:2:tblMPSCrime",
            "transform:3:tblMPSCrime",
            "mid_copy:5:tblMPSCrime", "before_commit:7:tblMPSCrime", "index_rebuild:2", "analyze:1"]


#: point name → its phase in the table
PHASE = {"key_snapshot": "key snapshot", "key_snapshot_copy": "key snapshot", "extract": "extract", "transform": "transform", "mid_copy": "COPY",
         "after_copy": "COPY", "before_commit": "chunk commit", "after_commit": "chunk commit",
         "index_rebuild": "index/key rebuild", "analyze": "ANALYZE", "reconcile": "reconcile"}
assert all(PHASE[p.split(":")[0]] == phase for phase, ps in POINTS.items() for p in ps)


def _kill(point: str, legacy: Path, target: URL) -> str:
    proc = start(RUN, cli_env(legacy, target, {"SAFESTATS_FAULT_KILL": point}))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"{point}: not reached (exit {proc.returncode}): {err[-2000:]}"
    return err


def _finish(legacy: Path, target: URL) -> None:
    proc = start(RUN, cli_env(legacy, target))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]


def _reworked(record_property: Callable[[str, object], None], source: str, point: str, rw: Rework) -> None:
    """Print one kill's rework and keep it for the session's table (a report property)."""
    print(f"\nrework {rw.describe()}")
    record_property(REWORK_PROPERTY, dict(rw.as_property(), source=source, phase=PHASE[rw.name]))


def test_ci_chain_kills_once_in_every_covered_phase_and_the_rerun_is_identical(
        legacy: Path, target: URL, reference: Reference, record_property: Callable[[str, object], None]) -> None:
    assert {p.split(":")[0] for p in CI_CHAIN} >= {ps[0].split(":")[0] for ps in POINTS.values()} - {"after_copy"}
    kills: list[tuple[str, Books, Books]] = []
    books = read_books(target)
    for point in CI_CHAIN:
        began = books
        _kill(point, legacy, target)
        books = read_books(target)
        kills.append((point, began, books))
    _finish(legacy, target)
    final = read_books(target)
    # each kill's rework against what was committed after it, by whichever process came next
    for point, began, killed in kills:
        rw = rework(point, began, killed, final)
        _reworked(record_property, "chain", point, rw)
        check_bound(rw, int(CHUNK_ROWS))
    assert_identical(target, reference, f"kills at {CI_CHAIN}")


@pytest.mark.proof
@pytest.mark.parametrize("point", [p for ps in POINTS.values() for p in ps])
def test_kill_at_every_point_then_the_same_command_gives_the_uninterrupted_target(
        point: str, legacy: Path, empty_template: URL, targets: Targets, reference: Reference,
        record_property: Callable[[str, object], None]) -> None:
    target = targets.clone(empty_template, "ss_flt_km")
    try:
        began = read_books(target)
        _kill(point, legacy, target)
        killed = read_books(target)
        _finish(legacy, target)
        rw = rework(point, began, killed, read_books(target))
        _reworked(record_property, "proof", point, rw)
        try:
            assert_identical(target, reference, f"SIGKILL at {point}")
        except AssertionError:
            record_property(MISMATCH_PROPERTY, point)
            raise
        check_bound(rw, int(CHUNK_ROWS))
    finally:
        targets.drop(target)


def test_a_kill_in_the_reconcile_gate_then_the_same_command_reconciles_the_stage(legacy: Path, target: URL) -> None:
    """Found by the rework report: a stage whose gate was killed stayed 'loaded' and the same command
    skipped it — never reconciled.  The plan now gives a loaded, unreconciled stage ``reconcile``."""
    _kill("reconcile:1", legacy, target)
    assert read_books(target).states["boroughs"].state == "loaded"
    # the same command again, stopped as it begins the next stage (its first table's key snapshot):
    # by then the gate of boroughs, had it run, has recorded its checks
    _kill("key_snapshot:1", legacy, target)
    assert read_books(target).states["boroughs"].state == "reconciled"
