"""The rework of a kill (issue 13): what the killed process had committed, what the runs after
it committed, and so what the kill threw away and the re-run had to do again — read from the
target's ledger and the kill point.

The ledger is read three times around a kill (:func:`read_books`): when the killed process
starts (``start``), right after the SIGKILL (``killed``) and after the run that finished the
work (``final``).  :func:`rework` names the stage (and legacy table) in flight, the chunks of it
committed before the kill, and the rework:

- a chunk point (``extract``, ``transform``, ``mid_copy``, ``after_copy``, ``before_commit``,
  ``after_commit`` of chunk *n*): the chunks the re-run committed that are numbered after the
  last one committed before the kill and at most *n* — the chunks the killed process had taken
  up to the kill's own one without committing them, which the re-run read, transformed and
  wrote again (the reader's read-ahead past *n* is not counted: nothing of it was transformed).
  The ledger says which were committed; where the kill was says which were taken;
- a step point (key snapshot, index/key rebuild, ANALYZE, reconcile): the step of the stage in
  flight that the re-run did again, named (or, when it did not, said so).

How many chunks a chunk point can leave uncommitted is the loader's pipeline
(``migration/steps/load.py``): one writer thread commits chunks in order, one at a time, from a
queue of one chunk, while the main thread transforms the next and a reader thread reads ahead
into a queue of two.  So a kill inside chunk *n*'s transaction loses chunk *n* only (the writer
had committed every chunk before it); after its commit, none; at its transform, *n* and at most
the two handed to the writer before it; at its read, *n* and at most five before it (two in the
reader's queue, one transforming, two handed to the writer).  :data:`PIPELINE` holds these
bounds; at most one of the lost chunks was ever inside a write transaction.

Whatever the point, nothing committed may be done again (:func:`check_nothing_committed_redone`):
every checkpoint of the killed process is there unchanged after the re-run, each (run, stage,
table) has its chunks numbered 1..m once each and their rows add up to its key snapshot (no
legacy row committed twice), every stage has one loading run (an interrupted one is resumed,
never loaded again by a second run), and no key snapshot, stage end or check result is recorded
twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.ledger import Ledger, StageState

#: points inside a chunk's pipeline (n: the chunk's number; for extract, the n-th read of the process)
CHUNK_POINTS = ("extract", "transform", "mid_copy", "after_copy", "before_commit", "after_commit")
#: points inside chunk n's write transaction (its checkpoint not yet committed)
WRITE_POINTS = ("mid_copy", "after_copy", "before_commit")
#: chunk point → the most chunks a kill there can leave uncommitted up to its own (see above)
PIPELINE = {"mid_copy": 1, "after_copy": 1, "before_commit": 1, "after_commit": 0, "transform": 3, "extract": 6}
#: step points → the step's name
STEPS = {"key_snapshot": "key snapshot", "key_snapshot_copy": "key snapshot", "index_rebuild": "index/key rebuild",
         "analyze": "ANALYZE", "reconcile": "reconcile"}

#: (run id, stage, legacy table)
Slot = tuple[int, str, str]


@dataclass(frozen=True)
class Checkpoint:
    last_key: str | None
    rows: int
    committed_at: datetime


@dataclass(frozen=True)
class Books:
    """The ledger at one moment, as far as the rework of a kill needs it."""

    #: every committed chunk (phase load): slot → chunk number → its checkpoint
    chunks: dict[Slot, dict[int, Checkpoint]]
    #: checkpoint rows per slot, counted (more than its distinct chunk numbers: one committed twice)
    checkpoint_rows: dict[Slot, int]
    states: dict[str, StageState]
    #: stage run → its legacy tables in load order (its stage_started event)
    tables: dict[int, list[str]]
    #: slot → rows of its key snapshot; how many keys_snapshot events it has
    snapshot_rows: dict[Slot, int]
    snapshots: Counter[Slot]
    #: (run, stage, kind) → stage_resumed, stage_loaded, stage_reconciled, stage_check_failed events
    events: Counter[tuple[int, str, str]]
    #: (run, stage, check) → check results recorded
    checks: Counter[tuple[int, str, str]]

    def committed(self, slot: Slot) -> dict[int, Checkpoint]:
        return self.chunks.get(slot, {})

    def rows(self, slots: list[Slot]) -> int:
        return sum(c.rows for s in slots for c in self.committed(s).values())

    def complete(self, slot: Slot) -> bool:
        """Every row of the table's key snapshot is committed (its load is done)."""
        return slot in self.snapshot_rows and self.rows([slot]) == self.snapshot_rows[slot]


def read_books(url: URL) -> Books:
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            states = Ledger(eng).stage_states(conn)
            chunks: dict[Slot, dict[int, Checkpoint]] = {}
            counted: Counter[Slot] = Counter()
            # per chunk: the ledger's read API (Ledger.committed, last_checkpoint) gives sums and the last one only
            for r in conn.execute(text(
                    "SELECT run_id, stage, source_table, chunk_no, last_key, rows, committed_at "
                    "FROM ledger.checkpoint WHERE phase = 'load' ORDER BY run_id, stage, source_table, chunk_no")):
                slot = (int(r.run_id), r.stage, r.source_table)
                chunks.setdefault(slot, {})[int(r.chunk_no)] = Checkpoint(r.last_key, int(r.rows), r.committed_at)
                counted[slot] += 1
            tables: dict[int, list[str]] = {}
            snapshot_rows: dict[Slot, int] = {}
            snapshots: Counter[Slot] = Counter()
            events: Counter[tuple[int, str, str]] = Counter()
            for r in conn.execute(text(
                    "SELECT run_id, stage, kind, detail FROM ledger.event WHERE kind IN ('stage_started', "
                    "'keys_snapshot', 'stage_resumed', 'stage_loaded', 'stage_reconciled', 'stage_check_failed') "
                    "ORDER BY event_id")):
                detail: dict[str, Any] = dict(r.detail or {})
                if r.kind == "stage_started":
                    tables[int(r.run_id)] = [str(t) for t in detail.get("tables", [])]
                elif r.kind == "keys_snapshot":
                    slot = (int(r.run_id), r.stage, str(detail["source_table"]))
                    snapshots[slot] += 1
                    snapshot_rows[slot] = int(detail["rows"])
                else:
                    events[(int(r.run_id), r.stage, r.kind)] += 1
            checks: Counter[tuple[int, str, str]] = Counter(
                (int(r.run_id), r.stage, r.check_name) for r in conn.execute(text(
                    "SELECT run_id, stage, check_name FROM ledger.check_result")))
    finally:
        eng.dispose()
    return Books(chunks, dict(counted), states, tables, snapshot_rows, snapshots, events, checks)


@dataclass(frozen=True)
class Rework:
    """What one kill threw away and the runs after it did again."""

    point: str
    stage: str
    #: the legacy table in flight (None at index/ANALYZE/reconcile points: the stage's step was)
    table: str | None
    #: chunks (and legacy rows) committed before the kill: of the table in flight, or of the stage at a stage step
    committed_chunks: int
    committed_rows: int
    #: the chunks, and the legacy rows in them, loaded again; their numbers
    chunks: int
    rows: int
    redone: tuple[int, ...]
    #: the table in flight is read in key order (chunks of at most --chunk-rows); a keyless one is one chunk
    keyed: bool
    #: steps done again (0 or 1) and what was (or was not) done again, in words
    steps: int
    step: str
    #: the step's words without the stage (what the session's table groups by)
    kind: str = ""

    @property
    def name(self) -> str:
        return self.point.split(":")[0]

    def what(self) -> str:
        if self.name in CHUNK_POINTS:
            if not self.chunks:
                return "nothing"
            keyless = "" if self.keyed else " (a keyless table: one chunk of all its rows)"
            return f"{self.chunks} chunk(s) {list(self.redone)}, {self.rows} legacy row(s){keyless}"
        return self.step

    def describe(self) -> str:
        where = f"{self.stage}/{self.table}" if self.table else self.stage
        return (f"{self.point}: {where}: {self.committed_chunks} chunk(s), {self.committed_rows} row(s) committed "
                f"before the kill; redone: {self.what()}")

    def as_property(self) -> dict[str, Any]:
        """A plain dict (a test report's user property: it crosses to the xdist controller)."""
        return dict(point=self.point, stage=self.stage, table=self.table, committed_chunks=self.committed_chunks,
                    committed_rows=self.committed_rows, chunks=self.chunks, rows=self.rows, steps=self.steps,
                    step=self.step, kind=self.kind, keyed=self.keyed, what=self.what(), line=self.describe())


def _parse(point: str) -> tuple[str, int, str]:
    name, _, rest = point.partition(":")
    n, _, table = rest.partition(":")
    return name, int(n or "1"), table


def _only(found: list[str], what: str) -> str:
    assert len(found) == 1, f"{what}: expected exactly one stage, found {found}"
    return found[0]


def check_nothing_committed_redone(point: str, killed: Books, final: Books) -> None:
    """Nothing the killed process committed was done again, and nothing was committed twice."""
    for slot, cps in killed.chunks.items():
        got = final.committed(slot)
        changed = {n: (cp, got.get(n)) for n, cp in cps.items() if got.get(n) != cp}
        assert not changed, f"{point}: committed chunks of {slot} changed after the kill: {changed}"
    for slot, cps in final.chunks.items():
        assert sorted(cps) == list(range(1, len(cps) + 1)), f"{point}: {slot} has chunks {sorted(cps)}"
        assert final.checkpoint_rows[slot] == len(cps), f"{point}: a chunk of {slot} committed twice"
    for slot in final.snapshot_rows:
        assert final.complete(slot), \
            f"{point}: {slot}: {final.rows([slot])} rows committed, its key snapshot has {final.snapshot_rows[slot]}"
    runs: dict[str, set[int]] = {}
    for run, stage, _table in final.chunks:
        runs.setdefault(stage, set()).add(run)
    assert all(len(r) == 1 for r in runs.values()), f"{point}: a stage loaded by more than one run: {runs}"
    for run, stage, _table in killed.chunks:
        assert final.states[stage].run_id == run, \
            f"{point}: run {run} of {stage} (chunks committed before the kill) did not finish it: {final.states[stage]}"
    assert all(n == 1 for n in final.snapshots.values()), f"{point}: a key snapshot taken twice: {final.snapshots}"
    ends = {k: n for k, n in final.events.items() if k[2] != "stage_resumed"}
    assert all(n == 1 for n in ends.values()), f"{point}: a stage loaded or reconciled twice in a run: {ends}"
    assert all(n == 1 for n in final.checks.values()), f"{point}: a check result recorded twice: {final.checks}"


def rework(point: str, start: Books, killed: Books, final: Books) -> Rework:
    """The rework of a kill at ``point`` (see the module's docstring)."""
    check_nothing_committed_redone(point, killed, final)
    name, n, table = _parse(point)
    if name == "reconcile":
        # its checks ran, their results not recorded: the stage this process loaded is loaded, not reconciled
        stage = _only([s for s, st in killed.states.items() if st.state == "loaded" and st.run_id is not None
                       and killed.events[(st.run_id, s, "stage_loaded")] > start.events[(st.run_id, s, "stage_loaded")]],
                      f"{point}: loaded by the killed process")
        run = killed.states[stage].run_id
        assert run is not None
        assert not any(k[:2] == (run, stage) for k in killed.checks), f"{point}: check results recorded before"
        slots = [(run, stage, t) for t in killed.tables[run]]
        assert all(final.committed(s) == killed.committed(s) for s in slots), f"{point}: {stage} loaded again"
        again = final.events[(run, stage, "stage_reconciled")] + final.events[(run, stage, "stage_check_failed")]
        step = (f"reconcile of stage {stage} redone" if again else
                f"reconcile of stage {stage} NOT redone: the re-run skipped the stage, left "
                f"'{final.states[stage].state}' without check results")
        kind = "reconcile of the stage redone" if again else "reconcile NOT redone (stage left unreconciled)"
        return Rework(point, stage, None, sum(len(killed.committed(s)) for s in slots), killed.rows(slots),
                      0, 0, (), False, again, step, kind)
    stage = _only([s for s, st in killed.states.items() if st.state == "running"], f"{point}: running")
    run = killed.states[stage].run_id
    assert run is not None
    assert final.states[stage].done and final.states[stage].run_id == run, f"{point}: {final.states[stage]}"
    assert final.events[(run, stage, "stage_resumed")] > killed.events[(run, stage, "stage_resumed")], \
        f"{point}: run {run} of {stage} not resumed after the kill"
    slots = [(run, stage, t) for t in killed.tables[run]]
    if name in CHUNK_POINTS:
        assert table in killed.tables[run], f"{point}: {table} is not a table of {stage} ({killed.tables[run]})"
        slot = (run, stage, table)
        before, after = killed.committed(slot), final.committed(slot)
        # extract counts the reads of this process, which read on from what was committed when it began
        last = n + len(start.committed(slot)) if name == "extract" else n
        k = len(before)
        if name in WRITE_POINTS:  # the writer commits in order: every chunk before the open one is committed
            assert k == last - 1, f"{point}: {k} chunk(s) committed at a kill inside chunk {last}'s transaction"
        elif name == "after_commit":
            assert k == last, f"{point}: {k} chunk(s) committed at a kill after chunk {last}'s commit"
        else:  # read or transformed: chunks before it may still be in the pipeline, none after it committed
            assert k < last, f"{point}: {k} chunk(s) committed before chunk {last} was read or transformed"
        redone = tuple(c for c in sorted(after) if c not in before and c <= last)
        assert redone == tuple(range(k + 1, last + 1)), \
            f"{point}: chunks {k + 1}..{last} not all committed after the kill: {sorted(after)}"
        keyed = all(after[c].last_key is not None for c in after)
        return Rework(point, stage, table, k, killed.rows([slot]), len(redone), sum(after[c].rows for c in redone),
                      redone, keyed, 0, "")
    if name == "key_snapshot_copy":
        # inside a table's key snapshot (one transaction): nothing of it committed, taken again once
        todo = [s for s in slots if not killed.complete(s)]
        assert todo and todo[0][2] == table, f"{point}: {table} is not the table in flight ({todo})"
        slot = todo[0]
        assert all(not killed.committed(s) for s in todo), f"{point}: a table of {stage} half loaded at the kill"
        assert not killed.snapshots[slot], f"{point}: a half-taken key snapshot of {table} was committed"
        assert final.snapshots[slot] == 1, f"{point}: the key snapshot of {table} not taken after the kill"
        done = [s for s in slots if killed.complete(s)]
        return Rework(point, stage, table, sum(len(killed.committed(s)) for s in done), killed.rows(done),
                      0, 0, (), False, 1, f"the key snapshot of {table} (rolled back half-way by the kill) taken again",
                      "key snapshot redone (its transaction rolled back)")
    if name == "key_snapshot":
        # at the start of a table's load: the tables before it are done, it and those after it untouched
        todo = [s for s in slots if not killed.complete(s)]
        assert todo, f"{point}: every table of {stage} was loaded"
        slot = todo[0]
        assert all(not killed.committed(s) for s in todo), f"{point}: a table of {stage} half loaded at the kill"
        step = (f"none (the key snapshot of {slot[2]}, taken before, kept)" if killed.snapshots[slot] else
                f"none (the key snapshot of {slot[2]} had not begun; taken once, after the kill)")
        done = [s for s in slots if killed.complete(s)]
        kind = "none: snapshot kept" if killed.snapshots[slot] else "none: killed before the snapshot began"
        return Rework(point, stage, slot[2], sum(len(killed.committed(s)) for s in done), killed.rows(done),
                      0, 0, (), False, 0, step, kind)
    assert name in ("index_rebuild", "analyze"), point
    assert all(killed.complete(s) for s in slots), f"{point}: {stage} not wholly committed at the kill"
    assert all(final.committed(s) == killed.committed(s) for s in slots), f"{point}: {stage} loaded again"
    return Rework(point, stage, None, sum(len(killed.committed(s)) for s in slots), killed.rows(slots), 0, 0, (),
                  False, 1, f"{STEPS[name]} of stage {stage} redone", f"{STEPS[name]} of the stage redone")


def check_bound(rw: Rework, chunk_rows: int) -> None:
    """At most the chunk or step in flight: the chunks the pipeline held up to the kill's own
    (:data:`PIPELINE`; inside a write exactly that chunk, after its commit none), each of at most
    ``chunk_rows`` legacy rows when the table is read in key order; at a step, no chunk and at
    most that step."""
    if rw.name in CHUNK_POINTS:
        assert rw.chunks <= PIPELINE[rw.name], f"rework beyond the pipeline: {rw.describe()}"
        if rw.keyed:
            assert rw.rows <= rw.chunks * chunk_rows, f"rework beyond {rw.chunks} chunk(s): {rw.describe()}"
    else:
        assert rw.chunks == 0 and rw.rows == 0 and rw.steps <= 1, f"rework beyond the step: {rw.describe()}"
    if rw.name == "reconcile":  # the killed gate's checks are run again: green means checked
        assert rw.steps == 1, f"the stage is left unreconciled: {rw.describe()}"
