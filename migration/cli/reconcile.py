"""`safestats-migrate reconcile STAGE… | --all [--strict]` and `reconcile accept STAGE --reason "…"`."""

from __future__ import annotations

import typer

from migration.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command("reconcile")
    def reconcile(
        ctx: typer.Context,
        stages: list[str] | None = typer.Argument(
            None, help="Stages to reconcile; or `accept STAGE` to accept a stage's failed checks."),
        all_: bool = typer.Option(False, "--all", help="Reconcile every loaded stage."),
        strict: bool = typer.Option(False, "--strict", help="Warnings fail too (exit code 4)."),
        reason: str | None = typer.Option(None, "--reason", help="Why the failure is accepted (with `accept`)."),
    ) -> None:
        """Prove each stage: accounting, control totals, key sets, row hashes, expectations, leaks, quarantine rates.

        Exit codes: 0 all passed (warnings printed), 1 a check failed, 3 the checks could not
        run, 4 warnings under --strict."""
        from migration.errors import CheckFailed, ChecksCouldNotRun
        from migration.reconcile import accept, reconcile
        from migration.reconcile.gate import render

        st = state(ctx)
        names = list(stages or [])
        if names and names[0] == "accept":
            if len(names) != 2 or all_:
                raise typer.BadParameter("accept takes exactly one stage: `reconcile accept STAGE --reason \"…\"`")
            if not reason:
                raise typer.BadParameter("accepting a failed stage needs --reason \"…\"")
            done = accept(st.settings, st.console, names[1], reason)
            st.console.info(f"{done['stage']}: the failed checks of load run {done['run_id']} "
                            f"({', '.join(done['failed']) or 'none recorded'}) are accepted by {done['actor']} at "
                            f"{done['at']:%Y-%m-%d %H:%M:%S%z}: {done['reason']}")
            return
        if reason is not None:
            raise typer.BadParameter("--reason goes with `reconcile accept STAGE`")
        if not names and not all_:
            raise typer.BadParameter("name the stages to reconcile, or pass --all")
        outcome = reconcile(st.settings, st.console, names, all_=all_)
        for rec in outcome.stages:
            if rec.skipped:
                st.console.info(f"{rec.stage}: not reconciled ({rec.skipped})")
            else:
                render(st.console, rec)
        failed = [(s.stage, r) for s in outcome.stages for r in s.results if r.status == "fail"]
        errors = [(s.stage, r) for s in outcome.stages for r in s.results if r.status == "error"]
        warned = [(s.stage, r) for s in outcome.stages for r in s.results if r.status == "warn"]
        if failed:
            stage, r = failed[0]
            raise CheckFailed(f"{len(failed)} check(s) failed (run {outcome.run_id}); first: {stage} {r.check}: "
                              f"{r.summary}", hint="fix and reconcile again, roll the stage back, or accept it "
                              "(`safestats-migrate reconcile accept STAGE --reason \"…\"`)")
        if errors:
            stage, r = errors[0]
            raise ChecksCouldNotRun(f"{len(errors)} check(s) could not run (run {outcome.run_id}); first: {stage} "
                                    f"{r.check}: {r.summary}", hint="fix the cause and reconcile again")
        if warned and strict:
            st.console.warn(f"{len(warned)} warning(s) under --strict (run {outcome.run_id})")
            raise typer.Exit(4)
        st.console.info(f"reconciled {sum(1 for s in outcome.stages if not s.skipped)} stage(s) in run "
                        f"{outcome.run_id}: {sum(len(s.results) for s in outcome.stages)} checks, "
                        f"{len(warned)} warning(s)")
