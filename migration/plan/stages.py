"""The plan as data: one frozen record per stage, in the order ``run`` would take them.

Nothing here does anything.  :mod:`migration.plan.builder` makes a :class:`Plan` from the
stage specs, the source row counts and the ledger's view of each stage (all passed in as
plain data); :mod:`migration.plan.explain` describes it to people and machines (``plan``,
``run --dry-run``); :mod:`migration.plan.execute` executes it (``run``).  What a stage's
action means in steps is :func:`steps_of`, the one place the executor and the tests read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from migration.errors import UsageError

#: what ``run`` would do with a stage
Action = Literal["load", "resume", "skip", "blocked", "reconcile", "delta", "rollback"]
#: the steps an action stands for, in the order the executor visits them
Step = Literal["load", "resume", "gate", "delta", "undo", "refuse"]
#: ledger states (``ledger.stage_state``) in which a stage counts as loaded
DONE_STATES = ("loaded", "reconciled", "accepted")
#: ledger states of a stage run that stopped before its end (``run`` resumes it)
UNFINISHED_STATES = ("running", "failed")


class PlanError(UsageError):
    """A plan cannot be built as asked (an unknown mode or legacy table): a usage error, exit 2."""


@dataclass(frozen=True)
class StageStatus:
    """The ledger's view of one stage, as plain data (the runner reads it from the ledger).

    ``state`` is the ledger's word: not_started, running, failed, loaded, reconciled,
    check_failed, accepted or rolled_back.  ``mapping_hash`` is the hash of the mapping
    files (:func:`migration.mapping.loader.files_hash`) the stage's run was started with.
    """

    stage: str
    state: str
    run_id: int | None = None
    mapping_hash: str | None = None

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    @property
    def unfinished(self) -> bool:
        return self.state in UNFINISHED_STATES and self.run_id is not None

    @property
    def word(self) -> str:
        """The state as the plan shows it: fresh, resumable, failed, loaded, reconciled,
        check_failed, accepted or rolled_back."""
        if self.state == "not_started":
            return "fresh"
        if self.state == "running":
            return "resumable"
        return self.state


@dataclass(frozen=True)
class SourceTablePlan:
    """One legacy table of a stage."""

    table: str
    key: str | None
    targets: tuple[str, ...]
    #: rows in the live source, or None when no source was given (or the table is missing)
    estimated_rows: int | None = None


@dataclass(frozen=True)
class StagePlan:
    position: int
    stage: str
    title: str
    file: str
    depends_on: tuple[str, ...]
    dataset: str | None
    #: target tables of the reference files shipped with the migration, in load order
    seeds: tuple[str, ...]
    tables: tuple[SourceTablePlan, ...]
    #: every table the stage writes, in the order it writes them
    target_tables: tuple[str, ...]
    action: Action
    reason: str = ""
    #: the stage's state in the ledger (:attr:`StageStatus.word`); "fresh" without a target
    state: str = "fresh"
    #: what to do next when the action is ``blocked``
    hint: str = ""
    #: the load run a ``resume`` continues, or the run a ``delta`` builds on
    run_id: int | None = None
    #: False for a stage the run was not asked for (its action is ``skip``)
    selected: bool = True
    #: ``rollback``: the runs (group ids) to undo, in the order they are undone (newest first)
    undo_runs: tuple[int, ...] = ()

    @property
    def estimated_rows(self) -> int | None:
        """Rows of all its legacy tables, when every one is known."""
        counts = [t.estimated_rows for t in self.tables]
        if not counts:
            return 0
        if any(c is None for c in counts):
            return None
        return sum(c for c in counts if c is not None)

    @property
    def action_text(self) -> str:
        if self.action == "blocked":
            return f"blocked: {self.reason}"
        return f"{self.action} ({self.reason})" if self.reason else self.action

    @property
    def writes(self) -> bool:
        return self.action in ("load", "resume", "delta", "rollback")

    @property
    def steps(self) -> tuple[Step, ...]:
        return steps_of(self)


@dataclass(frozen=True)
class Plan:
    stages: tuple[StagePlan, ...]
    #: the source the row estimates came from, redacted; None when none was given
    source: str | None = None
    #: legacy tables the mappings name that the source does not have
    missing_source_tables: tuple[str, ...] = field(default_factory=tuple)
    #: hash of the mapping files the plan was made from (recorded with every run)
    mapping_hash: str | None = None
    #: "load" (``run``), "delta" (``run --delta``), "redrive" (``run --redrive-quarantine``) or
    #: "rollback" (``rollback``: the stages in reverse load order)
    mode: str = "load"
    #: False when the plan was made without a target (every stage shows as fresh)
    target_read: bool = True
    #: False with ``run --no-reconcile``: the gate step only records that the checks were skipped
    gate: bool = True

    def stage(self, name: str) -> StagePlan:
        for s in self.stages:
            if s.stage == name:
                return s
        raise KeyError(name)

    def steps(self) -> list[tuple[str, Step]]:
        """(stage, step) in the order the executor visits them."""
        out: list[tuple[str, Step]] = []
        for s in self.stages:
            out += [(s.stage, step) for step in s.steps]
        return out

    @property
    def estimated_rows(self) -> int | None:
        counts = [s.estimated_rows for s in self.stages if s.writes]
        if any(c is None for c in counts):
            return None
        return sum(c for c in counts if c is not None)


def steps_of(stage: StagePlan) -> tuple[Step, ...]:
    """The steps a stage's action stands for: a load (or resume) is gated by its checks,
    ``reconcile`` is the gate alone, ``rollback`` undoes the stage's runs (:attr:`StagePlan.undo_runs`),
    a blocked stage refuses (and stops the run there)."""
    table: dict[str, tuple[Step, ...]] = {
        "load": ("load", "gate"), "resume": ("resume", "gate"), "reconcile": ("gate",),
        "delta": ("delta",), "rollback": ("undo",), "skip": (), "blocked": ("refuse",)}
    return table[stage.action]
