"""Carry a plan out: the orchestrator visits each stage's steps and an executor does them.

The plan (:func:`migration.plan.builder.build_plan`) is the only decider; nothing here
looks at the ledger to choose what to do.  :func:`execute` walks the plan in order and
calls the executor's method for every step (:func:`migration.plan.stages.steps_of`):
``load`` / ``resume`` (:class:`migration.steps.runner.StageLoader`), ``gate``
(:func:`migration.reconcile.gate.reconcile_after_load`), ``delta``
(:func:`migration.steps.delta.stage_delta`), ``undo`` (:meth:`migration.rollback.Rollback.undo`,
the steps of a rollback plan — :mod:`migration.plan.undo`) and ``refuse`` (a blocked stage stops the run
there, with the plan's reason).  The tests run the same walk with a recording executor.

:class:`Orchestrator` is the library's entry point for ``run``: it validates the mapping
files in full when it is made (an invalid mapping never starts a run), takes the
migration lock, builds the plan from the ledger *under* the lock and executes it;
:meth:`Orchestrator.plan` builds the same plan without the lock for ``run --dry-run``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from migration import interrupt
from migration.audit.fingerprint import record_first_baseline
from migration.console import Console
from migration.errors import Interrupted, StageError, UnknownNameError, UsageError
from migration.ledger import Ledger, MigrationLock, cutover
from migration.mapping.spec import StageSpec
from migration.plan.builder import build_plan
from migration.plan.stages import Plan, StagePlan
from migration.plan.state import stage_status
from migration.reconcile.gate import reconcile_after_load
from migration.settings import Settings
from migration.steps.context import RunContext
from migration.steps.delta import DeltaResult, check_tool_version, stage_delta
from migration.steps.runner import StageLoader, StageResult

Result = StageResult | DeltaResult


class Executor(Protocol):
    """Does the steps of a plan; one method per step."""

    def load(self, stage: StagePlan) -> Result: ...

    def resume(self, stage: StagePlan) -> Result: ...

    def gate(self, stage: StagePlan) -> None: ...

    def delta(self, stage: StagePlan) -> Result: ...

    def undo(self, stage: StagePlan) -> None: ...

    def refuse(self, stage: StagePlan) -> None: ...


def refusal(plan: Plan, stage: StagePlan) -> StageError:
    """The error a blocked stage stops the run with (one line: what, and what to do next)."""
    verb = "cannot start" if plan.mode == "load" else "cannot be brought up to date"
    return StageError(f"stage {stage.stage} {verb}: {stage.reason}", hint=stage.hint or None)


def execute(plan: Plan, executor: Executor) -> list[Result]:
    """Visit every step of the plan, in order; a result per selected stage (skipped ones too)."""
    results: list[Result] = []
    for stage in plan.stages:
        if stage.action == "skip":
            if stage.selected:
                results.append(skipped(plan, stage))
            continue
        for step in stage.steps:
            done = getattr(executor, step)(stage)
            if done is not None:
                results.append(done)
    return results


def skipped(plan: Plan, stage: StagePlan) -> Result:
    if plan.mode in ("load", "rollback"):
        return StageResult(stage.stage, stage.run_id, "skipped", message=stage.reason)
    return DeltaResult(stage.stage, None, "skipped", message=stage.reason)


class StepExecutor:
    """The real steps, against the databases of a run context, under the lock the orchestrator holds."""

    def __init__(self, ctx: RunContext, plan: Plan, *, dry_run: bool = False, accept_mapping_change: bool = False,
                 before_first_write: Callable[[], None] | None = None, command: str = "run") -> None:
        self.ctx = ctx
        self.command = command
        self.plan = plan
        self.dry_run = dry_run
        self.accept_mapping_change = accept_mapping_change
        self.ledger = Ledger(ctx.target)
        self.loader = StageLoader(ctx)
        self._before_first_write = before_first_write
        #: the run each stage was loaded under in this run (what its gate checks)
        self.loaded: dict[str, int] = {}

    def _not_yet_stopped(self, stage: StagePlan) -> None:
        """``--stop-at``: a stage not started before the time is left for the next window."""
        if interrupt.requested() == interrupt.STOP_AT:
            done = ", ".join(self.loaded) or "none"
            raise Interrupted(interrupt.stopped_message(f"stage {stage.stage} was not started (stages finished in "
                                                        f"this run: {done}); `safestats-migrate {self.command}` "
                                                        "resumes"),
                              hint="everything finished is committed; add --stop-at for the next window")

    def _writing(self) -> None:
        if self._before_first_write is not None:
            self._before_first_write()
            self._before_first_write = None

    def load(self, stage: StagePlan) -> Result:
        self._not_yet_stopped(stage)
        self._writing()
        result = self.loader.load(self.ledger, self.ctx.spec(stage.stage))
        assert result.run_id is not None
        self.loaded[stage.stage] = result.run_id
        return result

    def resume(self, stage: StagePlan) -> Result:
        if stage.run_id is None:
            raise StageError(f"stage {stage.stage}: the plan resumes it but names no run to resume",
                             hint="build the plan again (`safestats-migrate plan`)")
        self._not_yet_stopped(stage)
        check_tool_version(self.ctx, self.ledger, stage.stage, stage.run_id, command=self.command)
        self._writing()
        result = self.loader.load(self.ledger, self.ctx.spec(stage.stage), resume_run=stage.run_id)
        self.loaded[stage.stage] = stage.run_id
        return result

    def gate(self, stage: StagePlan) -> None:
        run_id = self.loaded.get(stage.stage, stage.run_id)
        if run_id is None:
            raise StageError(f"stage {stage.stage}: nothing loaded to reconcile",
                             hint=f"load it first (`safestats-migrate run {stage.stage}`)")
        reconcile_after_load(self.ctx, self.ledger, self.ctx.spec(stage.stage), run_id,
                             enabled=self.ctx.reconcile and self.plan.gate)

    def delta(self, stage: StagePlan) -> Result:
        if not self.dry_run:
            self._not_yet_stopped(stage)
            self._writing()
        return stage_delta(self.ctx, self.ledger, self.ctx.spec(stage.stage), dry_run=self.dry_run,
                           accept_mapping_change=self.accept_mapping_change, redrive=self.plan.mode == "redrive")

    def undo(self, stage: StagePlan) -> None:
        # a rollback plan is walked by migration.plan.undo (its own lock, refusals and dry run)
        raise UsageError(f"stage {stage.stage}: `run` plans hold no undo step; use `safestats-migrate rollback`")

    def refuse(self, stage: StagePlan) -> None:
        raise refusal(self.plan, stage)


class Orchestrator:
    """``run``: the run context, the plan built under the lock, and its execution."""

    def __init__(self, settings: Settings, console: Console, *, fault: Callable[..., None] | None = None,
                 reconcile: bool = True, strict: bool = False) -> None:
        self.ctx = RunContext(settings, console, fault=fault, reconcile=reconcile, strict=strict)

    # what callers (the CLI, scripts, tests) read of the run
    @property
    def specs(self) -> list[StageSpec]:
        return self.ctx.specs

    @property
    def timings(self) -> dict[tuple[str, str], dict[str, float]]:
        return self.ctx.timings

    @property
    def source(self) -> Engine:
        return self.ctx.source

    @property
    def target(self) -> Engine:
        return self.ctx.target

    def close(self) -> None:
        self.ctx.close()

    def plan(self, names: Iterable[str] = (), *, all_: bool = False, mode: str = "load") -> Plan:
        """The plan from the ledger as it is now (no lock: what ``run --dry-run`` shows)."""
        names = list(names)
        return build_plan(self.ctx.specs, stage_status=stage_status(self.ctx.target),
                          only=None if all_ or not names else names, mapping_hash=self.ctx.mapping_hash,
                          mode=mode, gate=self.ctx.reconcile)

    def run(self, names: Iterable[str] = (), *, all_: bool = False, command: str = "run",
            executor: Callable[[Plan], Executor] | None = None, stop_at: datetime | None = None) -> list[Result]:
        """Take the lock, build the plan from the ledger under it, execute it.  ``executor``: make
        another executor for the plan (the tests record the steps with one).  ``stop_at``: stop at
        the first chunk boundary after that time, as Ctrl-C does (:func:`migration.interrupt.stop_at`)."""
        return self._locked(list(names), all_=all_, mode="load", command=command, executor=executor,
                            stop_at=stop_at)

    def delta(self, names: Iterable[str] = (), *, all_: bool = False, dry_run: bool = False,
              accept_mapping_change: bool = False, redrive: bool = False,
              command: str = "run --delta", stop_at: datetime | None = None) -> list[Result]:
        """Deltas (or quarantine redrives) of the loaded stages the plan names, in run order."""
        mode = "redrive" if redrive else "delta"
        names = list(names)
        if dry_run:
            plan = self.plan(names, all_=all_, mode=mode)
            return execute(plan, StepExecutor(self.ctx, plan, dry_run=True))
        return self._locked(names, all_=all_, mode=mode, command=command, executor=None,
                            accept_mapping_change=accept_mapping_change, stop_at=stop_at)

    def _locked(self, names: list[str], *, all_: bool, mode: str, command: str,
                executor: Callable[[Plan], Executor] | None, accept_mapping_change: bool = False,
                stop_at: datetime | None = None) -> list[Result]:
        known = [s.stage for s in self.ctx.specs]
        unknown = [n for n in names if n not in known]
        if unknown:  # a usage error is said before any database is needed
            raise UnknownNameError(f"unknown stage(s): {', '.join(unknown)}", hint=f"stages are: {', '.join(known)}")
        target = self.ctx.target
        Ledger(target).require_installed()  # before the lock, which lives in the ledger
        with MigrationLock(target, command) as lock:
            if lock.freed_note:
                self.ctx.console.warn(lock.freed_note)
            with target.connect() as conn:  # under the lock: a go recorded meanwhile is seen
                cutover.refuse_after_go(conn, command)
            plan = self.plan(names, all_=all_, mode=mode)
            if executor is not None:
                return execute(plan, executor(plan))

            def baseline() -> None:
                # the legacy schema's fingerprint, the baseline of `preflight`'s drift check (once)
                record_first_baseline(target, self.ctx.source)

            self.ctx.lock_guard = lock.ensure  # chunk writers re-check the lock (issue 13: dropped connections)
            try:
                with interrupt.stop_at(stop_at):
                    return execute(plan, StepExecutor(self.ctx, plan, accept_mapping_change=accept_mapping_change,
                                                      before_first_write=baseline if mode == "load" else None,
                                                      command=command))
            finally:
                self.ctx.lock_guard = None




def run_delta(orchestrator: Orchestrator, names: Iterable[str] = (), **options: Any) -> list[Result]:
    """``run --delta`` / ``--redrive-quarantine`` as a function: :meth:`Orchestrator.delta`."""
    return orchestrator.delta(names, **options)


__all__ = ["Executor", "Orchestrator", "Result", "StepExecutor", "execute", "refusal", "run_delta", "skipped"]
