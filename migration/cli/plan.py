"""`safestats-migrate plan`: the stages in order and what `run` would do; touches nothing."""

from __future__ import annotations

import json

import typer

from migration.cli.state import state
from migration.plan import PLAN_COLUMNS, plan_rows, plan_to_dict, prepare_plan, summary_lines


def plan_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    stages: list[str] | None = typer.Option(None, "--stage", help="Only these stages (repeatable)."),
) -> None:
    """Show the stages in run order: tables, dependencies, source rows and what `run` would do."""
    st = state(ctx)
    plan = prepare_plan(st.settings.mappings_dir, source_url=st.settings.source_url, only=stages or None)
    if as_json:
        typer.echo(json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False))
        return
    st.console.table("Migration plan", PLAN_COLUMNS, plan_rows(plan))
    for line in summary_lines(plan):
        st.console.info(line)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
