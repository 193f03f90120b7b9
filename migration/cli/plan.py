"""`safestats-migrate plan`: the stages in order and what `run` would do; touches nothing.

`run --dry-run` shows the very same plan (:func:`show_plan`); `run` executes it."""

from __future__ import annotations

import json

import typer

from migration import api
from migration.cli.state import AppState, state
from migration.plan import PLAN_COLUMNS, Plan, plan_rows, plan_to_dict, summary_lines


def show_plan(st: AppState, plan: Plan, *, as_json: bool, title: str = "Migration plan") -> None:
    """The explainer: the JSON document alone on stdout, or a table and summary lines."""
    if as_json:
        typer.echo(json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False))
        return
    st.console.table(title, PLAN_COLUMNS, plan_rows(plan))
    for line in summary_lines(plan):
        st.console.info(line)


def plan_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON (alone on stdout)."),
    stages: list[str] | None = typer.Option(None, "--stage", help="Only these stages (repeatable)."),
) -> None:
    """Show the stages in run order: tables, dependencies, source rows, state and what `run` would do."""
    st = state(ctx)
    show_plan(st, api.make_plan(st.settings, st.console, stages), as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
