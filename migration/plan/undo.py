"""``rollback`` carried out as a plan: built from the ledger under the lock, walked by the
same orchestrator as ``run`` (:func:`migration.plan.execute.execute`), one ``undo`` step per
stage.  ``--dry-run`` walks the same plan with an executor that only counts.

The plan (:func:`migration.plan.builder.build_rollback_plan`) decides which runs of which
stages are undone and in which order; :class:`migration.rollback.Rollback` only knows how to
undo (or count) one run.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from migration.console import Console
from migration.errors import UsageError
from migration.ledger import Ledger, MigrationLock, cutover
from migration.mapping.spec import StageSpec
from migration.plan.builder import build_rollback_plan
from migration.plan.execute import Result, execute
from migration.plan.stages import Plan, StagePlan
from migration.rollback import Rollback, RollbackError, RunUndo


class UndoExecutor:
    """Does a rollback plan's steps: ``undo`` every run the stage's plan names (or, dry, counts
    what undoing it would do); ``refuse`` stops with the plan's reason.  The results are kept in
    :attr:`undone`, in the order the runs were visited."""

    def __init__(self, rollback: Rollback, *, dry_run: bool = False) -> None:
        self.rollback = rollback
        self.dry_run = dry_run
        self.undone: list[RunUndo] = []

    def undo(self, stage: StagePlan) -> None:
        for run_id in stage.undo_runs:
            self.undone.append(self.rollback.count(stage.stage, run_id) if self.dry_run
                               else self.rollback.undo(stage.stage, run_id))

    def refuse(self, stage: StagePlan) -> None:
        raise RollbackError(f"stage {stage.stage} cannot be rolled back: {stage.reason}", hint=stage.hint or None)

    # a rollback plan has no other step; a plan that had one was not built by build_rollback_plan
    def load(self, stage: StagePlan) -> Result:
        raise _foreign(stage, "load")

    def resume(self, stage: StagePlan) -> Result:
        raise _foreign(stage, "resume")

    def gate(self, stage: StagePlan) -> None:
        raise _foreign(stage, "gate")

    def delta(self, stage: StagePlan) -> Result:
        raise _foreign(stage, "delta")


def _foreign(stage: StagePlan, step: str) -> UsageError:
    return UsageError(f"stage {stage.stage}: a rollback plan has no {step} step")


class RollbackRunner:
    """``rollback STAGE [--run R] [--cascade]`` and ``rollback --all``: the plan, under the lock."""

    def __init__(self, engine: Engine, specs: list[StageSpec], console: Console, *,
                 after_cutover: bool = False) -> None:
        self.specs = specs
        self.console = console
        #: ``rollback --after-cutover``: allowed after a go while no row of the target is foreign
        self.after_cutover = after_cutover
        self.rollback = Rollback(engine, specs, console)
        self.engine = engine

    @property
    def order(self) -> list[str]:
        """Load (dependency) order; its reverse is the order stages are undone in."""
        return self.rollback.order

    def plan(self, stage: str | None, run_id: int | None = None, *, cascade: bool = False) -> Plan | None:
        """The rollback plan from the ledger as it is now; None when the named run was already undone."""
        if stage is not None and run_id is not None:
            resolved = self.rollback.resolve(stage, run_id)
            if resolved is None:
                return None
            run_id = resolved
        elif stage is not None and stage not in self.order:
            build_rollback_plan(self.specs, {}, stage=stage)  # raises: unknown stage, listing the stages
        return build_rollback_plan(self.specs, self.rollback.groups(), stage=stage, run_id=run_id, cascade=cascade)

    def run(self, stage: str, run_id: int | None = None, *, cascade: bool = False, dry_run: bool = False,
            command: str = "rollback") -> list[RunUndo]:
        """Undo the stage's run ``run_id`` (default: its latest) and the later ones, newest first."""
        return self._walk(stage, run_id, cascade=cascade, dry_run=dry_run, command=command)

    def all(self, *, dry_run: bool = False) -> list[RunUndo]:
        """Every run of every stage not undone yet: stages in reverse load order, runs newest first —
        under one lock, each run in its own transaction."""
        return self._walk(None, None, cascade=False, dry_run=dry_run, command="rollback --all")

    def _walk(self, stage: str | None, run_id: int | None, *, cascade: bool, dry_run: bool,
              command: str) -> list[RunUndo]:
        Ledger(self.engine).require_installed()
        if dry_run:
            return self._execute(self.plan(stage, run_id, cascade=cascade), stage, run_id, dry_run=True)
        with MigrationLock(self.engine, command) as lock:
            if lock.freed_note:
                self.console.warn(lock.freed_note)
            with self.engine.connect() as conn:
                cutover.refuse_after_go(conn, command, after_cutover=self.after_cutover)
            # planned under the lock: a run or rollback that finished meanwhile is seen
            plan = self.plan(stage, run_id, cascade=cascade)
            if plan is not None and stage is not None:
                mine = plan.stage(stage).undo_runs
                if len(mine) > 1:
                    self.console.info(f"{stage}: undoing the later runs {', '.join(map(str, mine[:-1]))} first "
                                      "(runs are undone last-in-first-out)")
            return self._execute(plan, stage, run_id, dry_run=False)

    def _execute(self, plan: Plan | None, stage: str | None, run_id: int | None, *, dry_run: bool) -> list[RunUndo]:
        if plan is None:
            return []
        if not any(s.action in ("rollback", "blocked") for s in plan.stages):
            if stage is None:
                self.console.info("nothing to roll back (no run of any stage is loaded)")
            elif run_id is None:
                self.console.info(f"{stage}: nothing to roll back (no run of it is loaded)")
            return []
        executor = UndoExecutor(self.rollback, dry_run=dry_run)
        execute(plan, executor)
        return executor.undone


__all__ = ["RollbackRunner", "UndoExecutor"]
