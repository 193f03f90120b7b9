"""`safestats-migrate rollback STAGE [--run RUN_ID] | --all [--cascade] [--dry-run]`."""

from __future__ import annotations

import typer

from migration import api
from migration.cli.confirm import confirm
from migration.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command("rollback")
    def rollback(
        ctx: typer.Context,
        stage: str | None = typer.Argument(None, help="The stage whose latest (or --run) run to undo."),
        run: int | None = typer.Option(None, "--run", help="Undo this run (and the later runs of the stage)."),
        all_: bool = typer.Option(False, "--all", help="Undo every stage, in reverse dependency order."),
        cascade: bool = typer.Option(False, "--cascade", help="Undo the stages that depend on it first."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List what would change; change nothing."),
        after_cutover: bool = typer.Option(False, "--after-cutover", help="Back out after `cutover go`: refused "
                                           "while the target holds rows no migration run wrote."),
        yes: bool = typer.Option(False, "--yes", help="With --all: do not ask (required when not on a terminal)."),
    ) -> None:
        """Undo the data a run wrote: inserted rows go, updated rows get their old values, deleted rows return."""
        st = state(ctx)
        if not stage and not all_:
            raise typer.BadParameter("name a stage, or pass --all")
        if all_ and not dry_run:
            confirm("undo every run of every stage (rollback --all)", yes=yes)
        results = api.roll_back(st.settings, st.console, stage, run_id=run, all_=all_, cascade=cascade,
                                dry_run=dry_run, after_cutover=after_cutover)
        if not results:
            return  # the console said why (nothing loaded, or already rolled back)
        title = "Rollback plan (dry run: nothing changed)" if dry_run else "Rolled back"
        rows = []
        for r in results:
            if not r.tables:
                rows.append((r.stage, r.run_id, "(no rows)", "", "", "", f"{r.seconds:.1f}"))
            for t, c in r.tables.items():
                rows.append((r.stage, r.run_id, t, f"{c['deleted']:,}", f"{c['reverted']:,}", f"{c['restored']:,}",
                             f"{r.seconds:.1f}"))
        st.console.table(title, ["stage", "run", "table", "inserted rows removed", "updated rows reverted",
                                 "deleted rows restored", "seconds"], rows)
