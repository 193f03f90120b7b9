"""`safestats-migrate runs [--stage STAGE] [--limit N]`: the runs in the ledger, newest first."""

from __future__ import annotations

import typer

from migration import api
from migration.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command("runs")
    def runs(
        ctx: typer.Context,
        stage: str | None = typer.Option(None, "--stage", help="Only the runs that touched this stage."),
        limit: int = typer.Option(20, "--limit", min=1, help="Show at most this many runs (newest first)."),
    ) -> None:
        """List the runs: id, kind, stages, state, who, when and legacy rows read (newest first)."""
        st = state(ctx)
        found, total = api.runs(st.settings, stage=stage, limit=limit)
        st.console.table("Runs (newest first)", ["run", "kind", "stages", "state", "who", "started", "rows read"],
                         [(r.run_id, r.kind, ", ".join(r.stages), r.state.replace("_", " "), r.actor,
                           f"{r.started_at:%Y-%m-%d %H:%M:%S}", f"{r.rows_read:,}") for r in found])
        if total > len(found):
            st.console.warn(f"showing {len(found):,} of {total:,} runs; --limit {total} to see more")
        elif not found:
            st.console.info("no runs yet" + (f" of stage {stage}" if stage else "")
                            + "; `safestats-migrate run --all` starts the migration")
