"""The gate step: reconcile a stage as soon as it is loaded, and stop if it fails.

:func:`reconcile_after_load` is the ``gate`` step of a plan (:mod:`migration.plan.execute`
visits it after each load, once the ``stage_loaded`` event is committed).  The check results are stored under the
load's own run id, the stage's event becomes ``stage_reconciled`` or
``stage_check_failed``; on a failure the run stops here with exit code 1 (3 when the
checks could not run), and the plan blocks every stage depending on it until
the failure is fixed and reconciled again, rolled back, or accepted with a reason
(``safestats-migrate reconcile accept STAGE --reason "…"``).

``run --no-reconcile`` skips the gate; the skip is recorded (event ``reconcile_skipped``)
and the stage stays ``loaded``.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.engine import Engine

from migration.console import Console
from migration.errors import CheckFailed, ChecksCouldNotRun
from migration.ledger import Ledger
from migration.mapping.spec import StageSpec
from migration.reconcile import make_context
from migration.reconcile.results import CheckResult, StageReconciliation, record
from migration.reconcile.stage import StageCheck, _err
from migration.settings import Settings


class GateContext(Protocol):
    """What the gate reads of a run (:class:`migration.steps.context.RunContext` has it);
    a protocol, so reconciliation never imports the loader."""

    settings: Settings
    console: Console
    specs: list[StageSpec]

    @property
    def target(self) -> Engine: ...

    @property
    def source(self) -> Engine: ...


def render(console: Console, rec: StageReconciliation) -> None:
    """A results table, then one line per warning (the library never prints otherwise)."""
    console.table(f"Reconciliation of {rec.stage} (load run {rec.load_run_id}, checks in run {rec.reconcile_run_id})",
                  ["check", "status", "summary"], [(r.check, r.status.upper(), r.summary) for r in rec.results])
    for r in rec.results:
        if r.status == "warn":
            console.warn(f"{rec.stage}: {r.check}: {r.summary}")


def failure_error(rec: StageReconciliation) -> CheckFailed | ChecksCouldNotRun:
    failed = [r for r in rec.results if r.status == "fail"]
    errors = [r for r in rec.results if r.status == "error"]
    hint = (f"look at the differences (`safestats-migrate reconcile {rec.stage}` or the report), fix the cause and "
            f"reconcile again, roll the stage back (`safestats-migrate rollback {rec.stage}`), or accept it "
            f"(`safestats-migrate reconcile accept {rec.stage} --reason \"…\"`)")
    if failed:
        return CheckFailed(f"stage {rec.stage} failed {len(failed)} check(s) after load run {rec.load_run_id}: "
                           f"{failed[0].check}: {failed[0].summary}", hint=hint)
    return ChecksCouldNotRun(f"the checks of stage {rec.stage} could not run after load run {rec.load_run_id}: "
                             f"{errors[0].check}: {errors[0].summary}", hint=hint)


def reconcile_after_load(run: GateContext, ledger: Ledger, spec: StageSpec, run_id: int, *, enabled: bool = True) -> \
        StageReconciliation | None:
    """Reconcile ``spec`` right after load run ``run_id``; raise when a check failed."""
    if not enabled:
        with run.target.begin() as conn:
            ledger.event(conn, run_id=run_id, stage=spec.stage, kind="reconcile_skipped",
                         detail={"why": "run --no-reconcile"})
        run.console.warn(f"{spec.stage}: reconciliation skipped (--no-reconcile); the stage stays 'loaded' "
                            f"until `safestats-migrate reconcile {spec.stage}` runs")
        return None
    try:
        ctx = make_context(run.settings, run.console, run.target, run.source, run.specs)
        if spec.stage not in ctx.checks:
            raise ChecksCouldNotRun(f"no check file for stage {spec.stage}",
                                    hint=f"add {run.settings.checks_dir}/{spec.stage}.yaml")
        rec = StageCheck(ctx, spec, run_id, run_id).run()
        fault = getattr(run, "fault", None)
        if fault:  # kill matrix: reconcile, its workers done, its results not yet recorded
            fault("reconcile", 0, spec.stage)
    except Exception as exc:  # the stage must not count as done when its checks cannot run
        rec = StageReconciliation(spec.stage, run_id, run_id, results=[CheckResult(
            spec.stage, "reconcile/prepare", "error", f"the checks of {spec.stage} could not run: {_err(exc)}", {})])
    with run.target.begin() as conn:
        record(conn, ledger, rec)
    render(run.console, rec)
    if rec.failed:
        raise failure_error(rec)
    return rec
