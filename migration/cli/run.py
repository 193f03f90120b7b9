"""`safestats-migrate run STAGE… | --all [--dry-run]`: load stages into the target."""

from __future__ import annotations

import typer

from migration.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        stages: list[str] | None = typer.Argument(None, help="Stages to run (default with --all: every stage)."),
        all_: bool = typer.Option(False, "--all", help="Run every stage in dependency order."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Say what would happen; change nothing."),
        chunk_rows: int | None = typer.Option(None, "--chunk-rows", help="Rows per committed chunk."),
    ) -> None:
        """Load stages: streamed extract, Polars transforms, COPY, one transaction per chunk with its checkpoint."""
        from dataclasses import replace

        from migration.steps.runner import Runner

        st = state(ctx)
        if not stages and not all_:
            raise typer.BadParameter("name the stages to run, or pass --all")
        settings = st.settings if chunk_rows is None else replace(st.settings, chunk_rows=chunk_rows)
        runner = Runner(settings, st.console)
        try:
            results = runner.run(list(stages or []), all_=all_, dry_run=dry_run, command="run " + " ".join(
                ["--all"] if all_ else list(stages or [])))
        finally:
            runner.close()
        if dry_run:
            st.console.table("What `run` would do", ["stage", "run", "action"],
                             [(r.stage, r.run_id or "", r.message) for r in results])
            return
        rows = []
        for r in results:
            if not r.counts:
                rows.append((r.stage, str(r.run_id or ""), r.action, "", "", "", "", "", "", f"{r.seconds:.1f}"))
            for c in r.counts:
                rate = f"{c.rows_read / r.seconds:,.0f}" if r.seconds else ""
                loaded = f"{c.rows_loaded:,}" + (f" (+{c.rows_unchanged:,} unchanged)" if c.rows_unchanged else "")
                rows.append((r.stage, str(r.run_id), r.action, c.source_table, f"{c.rows_read:,}", loaded,
                             f"{c.rows_merged:,}", f"{c.rows_quarantined:,}", f"{c.rows_filtered:,}",
                             f"{r.seconds:.1f} ({rate}/s)"))
        st.console.table("Stage summary", ["stage", "run", "action", "table", "read", "loaded", "merged",
                                            "quarantined", "filtered", "seconds"], rows)
