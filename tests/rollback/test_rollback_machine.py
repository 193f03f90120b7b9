"""Rollback as a property (issue 13): a Hypothesis state machine over loads, legacy activity,
deltas, redrives and rollbacks (one stage, ``--run``, ``--cascade``, ``--all``) on a micro legacy
(scale 0.0002: ≤ 1,612 rows in a fact table; the fixed-size reference tables stay whole), each
sequence on a target cloned from an empty template.

The machine keeps a stack of the writes it made (stage, run) with the exact target before each
(every data table, every column — surrogate keys and ``load_run_id`` included: the rollback suite's
``exact``).  A rollback is only drawn when what it undoes is the top of that stack (the property is
about undoing, not about rows of other stages written since), and then the target must equal the
snapshot before the undone runs.  After every step every identity/sequence stands above its column's
highest value (a restored row never leaves a key the next insert would reuse).

CI: 10 sequences of up to 12 steps; ``make test-proofs`` (marker ``proof``): 500 sequences or 60 minutes,
whichever comes first (``SAFESTATS_ROLLBACK_SEQUENCES``, ``SAFESTATS_ROLLBACK_MINUTES``).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.legacy import advance, generate
from migration.mapping.order import parsed_specs
from migration.plan.execute import Orchestrator
from migration.plan.undo import RollbackRunner
from migration.schema import api
from tests.conftest import PgDatabases, _unique
from tests.rollback.conftest import exact
from tests.steps.conftest import REPO, settings_for

pytestmark = pytest.mark.postgres

SPECS = parsed_specs(REPO / "mappings")
STAGES = [s.stage for s in SPECS]
DEPENDS = {s.stage: list(s.depends_on) for s in SPECS}


class World:
    """What every sequence starts from: the micro legacy and an empty upgraded target (a template)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.legacy = folder / "micro.sqlite"
        generate(make_url(f"sqlite:///{self.legacy}"), 0.0002, 3, None, console=RecordingConsole())
        self.dbs = PgDatabases()
        self.template = self.dbs.create("ss_rbm_tpl")
        api.upgrade(self.template)
        self.empty = exact(self.template)
        self.n = 0

    def fresh(self) -> tuple[Path, URL]:
        self.n += 1
        source = self.folder / f"legacy{self.n}.sqlite"
        shutil.copy(self.legacy, source)
        shutil.copy(self.legacy.with_suffix(".manifest.json"), source.with_suffix(".manifest.json"))
        name = _unique("ss_rbm")
        with self.dbs.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template.database}"'))
        self.dbs.created.append(name)
        return source, self.template.set(database=name)

    def drop(self, url: URL) -> None:
        with self.dbs.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        self.dbs.created.remove(str(url.database))


WORLD: dict[str, World] = {}
#: what the sequences did (the test checks they undid something, and the note reports it)
STATS: dict[str, int] = {}


def _count(what: str) -> None:
    STATS[what] = STATS.get(what, 0) + 1


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    WORLD["w"] = World(tmp_path_factory.mktemp("rbm"))
    try:
        yield WORLD["w"]
    finally:
        WORLD.pop("w").dbs.drop_all()


def sequences_behind(url: URL) -> list[str]:
    """Identities and serials whose next value would collide with a row already there."""
    eng = create_engine(url, poolclass=NullPool)
    out = []
    try:
        with eng.connect() as conn:
            cols = conn.execute(text(
                "SELECT table_schema, table_name, column_name, pg_get_serial_sequence("
                "format('%I.%I', table_schema, table_name), column_name) FROM information_schema.columns "
                "WHERE table_schema IN ('core', 'istv', 'ref', 'sec') "
                "AND (is_identity = 'YES' OR column_default LIKE 'nextval%')")).all()
            for schema, table, column, seq in cols:
                if seq is None:
                    continue
                top = conn.execute(text(f'SELECT max("{column}") FROM "{schema}"."{table}"')).scalar()
                last, called = conn.execute(text(f"SELECT last_value, is_called FROM {seq}")).one()
                nxt = last + 1 if called else last
                if top is not None and nxt <= top:
                    out.append(f"{schema}.{table}.{column}: next {nxt} ≤ max {top}")
    finally:
        eng.dispose()
    return out


class RollbackMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = WORLD["w"]
        self.source, self.url = self.world.fresh()
        _count("sequences")
        #: (stage, run, kind, exact target before the run), oldest first; the top is the latest write
        self.stack: list[tuple[str, int, str, dict[str, Any]]] = []
        self.loaded: set[str] = set()
        self.steps: list[str] = []

    def teardown(self) -> None:
        self.world.drop(self.url)

    # ------------------------------------------------------------------ helpers
    def _orchestrator(self) -> Orchestrator:
        return Orchestrator(settings_for(self.source, self.url), RecordingConsole(), reconcile=False)

    def _rollback(self) -> RollbackRunner:
        return RollbackRunner(create_engine(self.url, poolclass=NullPool), SPECS, RecordingConsole())

    def _loadable(self) -> list[str]:
        return [s for s in STAGES if s not in self.loaded and all(d in self.loaded for d in DEPENDS[s])]

    def _dependants(self, stage: str) -> set[str]:
        out = {s for s in STAGES if stage in DEPENDS[s]}
        for s in list(out):
            out |= self._dependants(s)
        return out

    # ------------------------------------------------------------------ writes
    @precondition(lambda self: bool(self._loadable()))
    @rule(data=st.data())
    def load(self, data: st.DataObject) -> None:
        stage = data.draw(st.sampled_from(self._loadable()), label="load")
        before = exact(self.url)
        o = self._orchestrator()
        try:
            (result,) = [r for r in o.run([stage]) if r.stage == stage]
        finally:
            o.close()
        assert result.run_id is not None
        self.stack.append((stage, result.run_id, "load", before))
        self.loaded.add(stage)
        self.steps.append(f"run {stage}")
        _count("load")

    @rule(days=st.integers(1, 3), seed=st.integers(0, 50))
    def legacy_moves(self, days: int, seed: int) -> None:
        advance(make_url(f"sqlite:///{self.source}"), days, seed, self.source.with_suffix(".manifest.json"),
                console=RecordingConsole())
        self.steps.append(f"legacy advance --days {days} --seed {seed}")

    @precondition(lambda self: bool(self.loaded))
    @rule(data=st.data(), redrive=st.booleans())
    def delta(self, data: st.DataObject, redrive: bool) -> None:
        stage = data.draw(st.sampled_from(sorted(self.loaded)), label="delta")
        before = exact(self.url)
        o = self._orchestrator()
        try:
            (result,) = o.delta([stage], redrive=redrive)
        finally:
            o.close()
        assert result.run_id is not None
        self.stack.append((stage, result.run_id, "redrive" if redrive else "delta", before))
        self.steps.append(f"run {'--redrive-quarantine' if redrive else '--delta'} {stage}")
        _count("redrive" if redrive else "delta")

    # ------------------------------------------------------------------ rollbacks of the top of the stack
    @precondition(lambda self: bool(self.stack))
    @rule()
    def rollback_latest(self) -> None:
        """`rollback STAGE`: the stage of the latest write; undoes exactly that run."""
        stage, run_id, kind, before = self.stack[-1]
        first = next(i for i, e in enumerate(self.stack) if e[0] == stage)
        if kind == "load" and any(d in self.loaded for d in self._dependants(stage)):
            return  # refused without --cascade (proven elsewhere); nothing to check here
        done = self._rollback().run(stage)
        assert [(d.stage, d.run_id) for d in done] == [(stage, run_id)]
        self.stack.pop()
        if len(self.stack) == first:  # its first load undone: the stage is not loaded any more
            self.loaded.discard(stage)
        self.steps.append(f"rollback {stage}")
        _count("rollback STAGE")
        assert exact(self.url) == before, f"after {self.steps}"

    @precondition(lambda self: bool(self.stack))
    @rule(data=st.data())
    def rollback_run(self, data: st.DataObject) -> None:
        """`rollback STAGE --run R`: R and the stage's later runs, when they are the top of the stack."""
        stage = self.stack[-1][0]
        top = len(self.stack)
        while top > 0 and self.stack[top - 1][0] == stage:
            top -= 1
        i = data.draw(st.integers(top, len(self.stack) - 1), label="from")
        stage, run_id, kind, before = self.stack[i]
        if kind == "load" and any(d in self.loaded for d in self._dependants(stage)):
            return
        done = self._rollback().run(stage, run_id)
        assert [d.run_id for d in done] == sorted((e[1] for e in self.stack[i:]), reverse=True)
        del self.stack[i:]
        if not any(e[0] == stage for e in self.stack):
            self.loaded.discard(stage)
        self.steps.append(f"rollback {stage} --run {run_id}")
        _count("rollback --run")
        assert exact(self.url) == before, f"after {self.steps}"

    @precondition(lambda self: bool(self.stack))
    @rule(data=st.data())
    def rollback_cascade(self, data: st.DataObject) -> None:
        """`rollback STAGE --cascade` of a stage whose first load is below only its own and its
        dependants' writes: everything from that load up is undone."""
        candidates = []
        for i, (stage, _run, kind, _before) in enumerate(self.stack):
            if kind == "load" and i == next(j for j, e in enumerate(self.stack) if e[0] == stage):
                mine = {stage} | self._dependants(stage)
                if all(e[0] in mine for e in self.stack[i:]):
                    candidates.append(i)
        if not candidates:
            return
        i = data.draw(st.sampled_from(candidates), label="cascade from")
        stage, run_id, _kind, before = self.stack[i]
        # `--run` its first load: without it `rollback STAGE --cascade` undoes the stage's latest run only
        done = self._rollback().run(stage, run_id, cascade=True)
        assert sorted(d.run_id for d in done) == sorted(e[1] for e in self.stack[i:])
        for e in self.stack[i:]:
            self.loaded.discard(e[0])
        del self.stack[i:]
        self.steps.append(f"rollback {stage} --run {run_id} --cascade")
        _count("rollback --cascade")
        assert exact(self.url) == before, f"after {self.steps}"

    @precondition(lambda self: bool(self.stack))
    @rule()
    def rollback_all(self) -> None:
        before = self.stack[0][3]
        done = self._rollback().all()
        assert sorted(d.run_id for d in done) == sorted(e[1] for e in self.stack)
        self.stack.clear()
        self.loaded.clear()
        self.steps.append("rollback --all")
        _count("rollback --all")
        assert exact(self.url) == before == self.world.empty, f"after {self.steps}"

    @invariant()
    def sequences_stay_ahead(self) -> None:
        assert not sequences_behind(self.url), f"after {self.steps}"


_SETTINGS = dict(deadline=None, database=None, stateful_step_count=12,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])


def test_rollback_restores_the_target_before_the_undone_runs(world: World) -> None:
    STATS.clear()
    machine = settings(max_examples=10, derandomize=True, **_SETTINGS)(type("CiMachine", (RollbackMachine,), {}))
    machine.TestCase().runTest()
    print(f"rollback machine: {STATS}")
    assert STATS["sequences"] >= 10 and STATS.get("load", 0) >= 10, STATS
    assert sum(v for k, v in STATS.items() if k.startswith("rollback")) >= 10, STATS
    assert len([k for k in STATS if k.startswith("rollback")]) >= 3, STATS


@pytest.mark.proof
def test_rollback_restores_the_target_before_the_undone_runs_in_bulk(world: World) -> None:
    """500 sequences or 60 minutes, whichever comes first (``SAFESTATS_ROLLBACK_SEQUENCES``,
    ``SAFESTATS_ROLLBACK_MINUTES``): batches of 20 random sequences until either is reached; the
    number that ran is printed."""
    STATS.clear()
    sequences = int(os.environ.get("SAFESTATS_ROLLBACK_SEQUENCES", "500"))
    budget = float(os.environ.get("SAFESTATS_ROLLBACK_MINUTES", "60")) * 60
    started = time.monotonic()
    while STATS.get("sequences", 0) < sequences and time.monotonic() - started < budget:
        batch = min(20, sequences - STATS.get("sequences", 0))
        machine = settings(max_examples=batch, **_SETTINGS)(type("BulkMachine", (RollbackMachine,), {}))
        machine.TestCase().runTest()
    print(f"rollback machine: {STATS.get('sequences', 0)} sequences in {(time.monotonic() - started) / 60:.1f} min "
          f"(target: {sequences} or {budget / 60:g} min, whichever first): {STATS}")
