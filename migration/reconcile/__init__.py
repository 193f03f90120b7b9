"""Reconciliation: proving, stage by stage, that nothing was lost, added or altered.

Public API (the CLI and the plan's gate step call these; nothing here prints — results go
through the console object and the ledger):

- :func:`reconcile` — run the checks of some stages now (``safestats-migrate reconcile``),
  under the migration lock, as one ``ledger.run`` of kind ``reconcile``;
- :func:`verdict` — the migration's verdict over every planned stage, from the ledger
  (:func:`migration.ledger.verdict.migration_verdict`; ``reconcile`` returns it too);
- :func:`accept` — record that a person accepts a stage's failed checks, with a reason
  (``safestats-migrate reconcile accept``), so the stages after it may start;
- :func:`migration.reconcile.gate.reconcile_after_load` — the gate step after each load.

What is checked is declared per stage in ``checks/<stage>.yaml`` (:mod:`.spec`); how each
check works is in :mod:`.extract` (the independent source pass), :mod:`.normalise` (the
canonical text of every type), :mod:`.compare` (bucketed diff inside PostgreSQL),
:mod:`.leaks`, :mod:`.expectations` (Great Expectations in a child process); what is
stored is described in :mod:`.results`.  Reconciliation never uses the load's code: it
reads the source itself (:class:`migration.db.source.SourceReader`), computes expected
values with the mappings' Python reference (:mod:`.reference`) and reads the target itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from migration.console import Console
from migration.errors import ChecksCouldNotRun, SafeStatsError, UnknownNameError, UsageError
from migration.ledger.verdict import MigrationVerdict, migration_verdict
from migration.mapping.order import parsed_specs
from migration.mapping.spec import StageSpec
from migration.reconcile.results import CheckResult, StageReconciliation
from migration.settings import Settings

#: stage states whose rows can be reconciled
CHECKABLE = ("loaded", "reconciled", "check_failed", "accepted")


@dataclass
class ReconcileOutcome:
    run_id: int | None
    stages: list[StageReconciliation] = field(default_factory=list)
    #: the verdict over every planned stage, read from the ledger after the checks were recorded
    verdict: MigrationVerdict | None = None

    @property
    def results(self) -> list[CheckResult]:
        return [r for s in self.stages for r in s.results]

    @property
    def status(self) -> str:
        statuses = {r.status for r in self.results}
        for s in ("fail", "error", "warn"):
            if s in statuses:
                return s
        return "pass"


@contextmanager
def _locked(target: Any, command: str) -> Iterator[Any]:
    """The migration lock (a lock held by someone else is a LockError: exit 4)."""
    from migration.ledger import MigrationLock

    lock = MigrationLock(target, command)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def _specs(settings: Settings) -> list[StageSpec]:
    return parsed_specs(settings.mappings_dir)


def make_context(settings: Settings, console: Console, target: Any, source: Any, specs: list[Any],
                 *, with_gx: bool = True) -> Any:
    """Check files validated against the mappings, the Great Expectations worker started."""
    from migration.reconcile.expectations import shared_worker
    from migration.reconcile.spec import load_checks
    from migration.reconcile.stage import ReconcileContext

    checks = load_checks(settings.checks_dir, {s.stage: s for s in specs})
    gx = shared_worker() if with_gx and any(c.expectations for c in checks.values()) else None
    return ReconcileContext(target=target, source=source, target_url=settings.require_target(), specs=specs,
                            checks=checks, console=console, chunk_rows=settings.chunk_rows, gx=gx)


def reconcile(settings: Settings, console: Console, stages: list[str], *, all_: bool = False) -> ReconcileOutcome:
    """Run the checks of the named stages (or, with ``all_``, of every loaded stage) against the
    target as it is now, record the results, and return them with the migration's verdict over
    every planned stage (:func:`migration.ledger.verdict.migration_verdict`)."""
    from migration.db.engines import check_connect, source_engine, target_engine
    from migration.ledger import Ledger
    from migration.reconcile.results import record
    from migration.reconcile.stage import StageCheck
    from migration.secrets import redact_url

    specs = _specs(settings)
    by = {s.stage: s for s in specs}
    unknown = [n for n in stages if n not in by]
    if unknown:
        raise UnknownNameError(f"unknown stage(s): {', '.join(unknown)}",
                               hint=f"stages are: {', '.join(s.stage for s in specs)}")
    target = target_engine(settings.require_target())
    source = None
    try:
        check_connect(target, role="target")
        ledger = Ledger(target)
        ledger.require_installed()
        states = ledger.stage_states()
        selected = [s for s in specs if all_ or not stages or s.stage in set(stages)]
        outcome = ReconcileOutcome(run_id=None)
        checkable = []
        for s in selected:
            st = states.get(s.stage)
            state = st.state if st else "not_started"
            if state in CHECKABLE and st is not None and st.run_id is not None:
                checkable.append((s, st.run_id))
            elif stages and not all_:
                raise ChecksCouldNotRun(f"stage {s.stage} is {state.replace('_', ' ')}: there is nothing to reconcile",
                                        hint=f"load it first (`safestats-migrate run {s.stage}`)")
            else:
                outcome.stages.append(StageReconciliation(s.stage, None, None, skipped=f"{state.replace('_', ' ')}"))
        if checkable:
            source = source_engine(settings.require_source())
            check_connect(source, role="source")
            ctx = make_context(settings, console, target, source, specs)
            missing = [s.stage for s, _r in checkable if s.stage not in ctx.checks]
            if missing:
                raise ChecksCouldNotRun(f"no check file for stage(s) {', '.join(missing)}",
                                        hint=f"add {settings.checks_dir}/<stage>.yaml (see runbooks/reconcile.md)")
            command = "reconcile " + (" ".join(stages) if stages and not all_ else "--all")
            with _locked(target, command) as lock:
                if lock.freed_note:
                    console.warn(lock.freed_note)
                from migration.mapping.loader import files_hash, mapping_files

                with target.begin() as conn:
                    outcome.run_id = ledger.new_run(
                        conn, kind="reconcile", mapping_hash=files_hash(mapping_files(settings.mappings_dir)),
                        refdata_version=None, source_url=redact_url(settings.source_url),
                        options={"stages": [s.stage for s, _r in checkable], "checks_dir": str(settings.checks_dir)})
                for spec, load_run in checkable:
                    rec = StageCheck(ctx, spec, load_run, outcome.run_id).run()
                    with target.begin() as conn:
                        record(conn, ledger, rec)
                    outcome.stages.append(rec)
        order = {s.stage: i for i, s in enumerate(specs)}
        outcome.stages.sort(key=lambda r: order[r.stage])
        outcome.verdict = migration_verdict(target, [s.stage for s in specs])
        return outcome
    finally:
        target.dispose()
        if source is not None:
            source.dispose()


def verdict(settings: Settings) -> MigrationVerdict:
    """The migration's verdict over every stage of the mapping set, from the ledger (no check runs)."""
    from migration.db.engines import check_connect, target_engine

    specs = _specs(settings)
    target = target_engine(settings.require_target())
    try:
        check_connect(target, role="target")
        return migration_verdict(target, [s.stage for s in specs])
    finally:
        target.dispose()


def accept(settings: Settings, console: Console, stage: str, reason: str) -> dict[str, Any]:
    """Record that the failed checks of ``stage`` are accepted, by whom, when and why."""
    from migration.db.engines import check_connect, target_engine
    from migration.ledger import Ledger
    from migration.ledger.books import actor
    from migration.reconcile.results import latest_failures

    if not reason or len(reason.strip()) < 10:
        raise UsageError("an acceptance needs a reason of at least 10 characters",
                         hint='pass --reason "why the differences are acceptable"')
    specs = _specs(settings)
    if stage not in {s.stage for s in specs}:
        raise UnknownNameError(f"unknown stage {stage}", hint=f"stages are: {', '.join(s.stage for s in specs)}")
    target = target_engine(settings.require_target())
    try:
        check_connect(target, role="target")
        ledger = Ledger(target)
        ledger.require_installed()
        with _locked(target, f"reconcile accept {stage}"):
            with target.begin() as conn:
                st = ledger.stage_state(stage, conn)
                if st.state != "check_failed":
                    raise ChecksCouldNotRun(
                        f"stage {stage} is {st.state.replace('_', ' ')}, not failed by a check: nothing to accept",
                        hint=f"`safestats-migrate reconcile {stage}` shows its checks")
                failed = latest_failures(conn, stage)
                detail = {"reason": reason.strip(), "accepted_failures": failed, "accepted_by": actor()}
                ledger.event(conn, run_id=st.run_id, stage=stage, kind="stage_accepted", detail=detail)
                at = ledger.stage_state(stage, conn).at
        return {"stage": stage, "run_id": st.run_id, "failed": failed, "actor": detail["accepted_by"], "at": at,
                "reason": reason.strip()}
    finally:
        target.dispose()


__all__ = ["CHECKABLE", "CheckResult", "MigrationVerdict", "ReconcileOutcome", "SafeStatsError", "StageReconciliation",
           "accept", "make_context", "migration_verdict", "reconcile", "verdict"]
