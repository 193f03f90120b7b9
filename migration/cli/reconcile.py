"""`safestats-migrate reconcile STAGE… | --all [--strict]` and `reconcile accept STAGE --reason "…"`."""

from __future__ import annotations

import typer

from migration import api
from migration.cli.state import state
from migration.console import Console
from migration.ledger.verdict import MigrationVerdict
from migration.reconcile.gate import render


def register(app: typer.Typer) -> None:
    @app.command("reconcile")
    def reconcile(
        ctx: typer.Context,
        stages: list[str] | None = typer.Argument(
            None, help="Stages to reconcile; or `accept STAGE` to accept a stage's failed checks."),
        all_: bool = typer.Option(False, "--all", help="Reconcile every loaded stage; exit with the verdict "
                                                          "over every planned stage."),
        strict: bool = typer.Option(False, "--strict", help="Warnings fail too (exit code 1)."),
        reason: str | None = typer.Option(None, "--reason", help="Why the failure is accepted (with `accept`)."),
    ) -> None:
        """Prove each stage: accounting, control totals, key sets, row hashes, expectations, leaks, quarantine rates.

        With --all the exit code is the migration's verdict over every planned stage: 0 PASS
        (or PASS_WITH_ACCEPTED), 1 FAIL, 3 INCOMPLETE. With stages: 0 their checks passed, 1 a
        check failed, 3 the checks could not run. Warnings under --strict: 1. Lock held: 4."""
        st = state(ctx)
        names = list(stages or [])
        if names and names[0] == "accept":
            if len(names) != 2 or all_:
                raise typer.BadParameter("accept takes exactly one stage: `reconcile accept STAGE --reason \"…\"`")
            if not reason:
                raise typer.BadParameter("accepting a failed stage needs --reason \"…\"")
            done = api.accept(st.settings, st.console, names[1], reason)
            st.console.info(f"{done['stage']}: the failed checks of load run {done['run_id']} "
                            f"({', '.join(done['failed']) or 'none recorded'}) are accepted by {done['actor']} at "
                            f"{done['at']:%Y-%m-%d %H:%M:%S%z}: {done['reason']}")
            return
        if reason is not None:
            raise typer.BadParameter("--reason goes with `reconcile accept STAGE`")
        if not names and not all_:
            raise typer.BadParameter("name the stages to reconcile, or pass --all")
        outcome = api.reconcile_stages(st.settings, st.console, names, all_=all_)
        for rec in outcome.stages:
            if not rec.skipped:
                render(st.console, rec)
        results = [r for s in outcome.stages for r in s.results]
        verdict = outcome.verdict
        assert verdict is not None
        checked = sum(1 for s in outcome.stages if not s.skipped)
        if outcome.run_id is not None:
            count = {k: sum(1 for r in results if r.status == k) for k in ("fail", "error", "warn")}
            st.console.info(f"checked {checked} stage(s) in run {outcome.run_id}: {len(results)} checks, "
                            f"{count['fail']} failed, {count['error']} could not run, {count['warn']} warning(s)")
        if all_:
            render_verdict(st.console, verdict)
        else:
            st.console.info(f"the migration as a whole: {verdict.summary}")
        failure = api.reconcile_failure(outcome, all_=all_, strict=strict)
        if failure is not None:
            raise failure


def render_verdict(console: Console, verdict: MigrationVerdict) -> None:
    """Every planned stage with its state and why, then the one-line verdict."""
    console.table(f"Verdict over the {verdict.planned} planned stage(s)", ["stage", "state", "why"],
                  [(s.stage, s.state.replace("_", " "), s.reason) for s in verdict.stages])
    if verdict.exit_code == 0:
        console.info(verdict.summary)
