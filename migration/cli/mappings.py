"""`safestats-migrate mappings …`: check the mapping files, write their JSON Schema, show lineage."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from migration import api
from migration.cli.state import state
from migration.plan.lineage import LINEAGE_COLUMNS

app = typer.Typer(no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="mappings", help="The mapping files: validate them, their JSON Schema, lineage.")


@app.command("validate")
def validate_cmd(
    ctx: typer.Context,
    path: Path | None = typer.Argument(
        None, help="A mapping folder, or one file checked among its neighbours (default: the configured mappings)."),
    offline: bool = typer.Option(False, "--offline",
                                 help="Do not compare with the live legacy database even when a source is set."),
) -> None:
    """Report every problem of the mapping files (file:line: path: message); exit 1 if there is any."""
    st = state(ctx)
    report = api.validate_mappings(st.settings, path, offline=offline)
    for p in report.problems:
        typer.echo(str(p))
    for w in report.warnings:
        st.console.warn(str(w))
    files = f"{len(report.files)} file(s)"
    live = " and the live legacy database" if report.source_checked else ""
    if report.problems:
        st.console.info(f"{len(report.problems)} problem(s), {len(report.warnings)} warning(s) in {files}{live}")
        raise typer.Exit(1)
    st.console.info(f"{files} valid ({len(report.specs)} stage(s)); {len(report.warnings)} warning(s); "
                    f"checked against the target model at Alembic head{live}")


@app.command("schema")
def schema_cmd(
    ctx: typer.Context,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Write the JSON Schema of the mapping language (for editors: completion and checks)."""
    text = json.dumps(api.mapping_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    state(ctx).console.info(f"wrote {output}; point your editor's YAML schema setting for mappings/*.yaml at it")


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    table: str = typer.Argument(..., help="Legacy table name (any case), e.g. tblMPSCrime."),
) -> None:
    """Show source → target lineage of one legacy table."""
    st = state(ctx)
    found = api.lineage(st.settings, table)
    rows = [(r.legacy_column or "—", r.through, r.target, r.note) for r in found.rows]
    st.console.table(f"{found.source_table} (stage {found.stage}, {found.file})", LINEAGE_COLUMNS, rows)
    if found.mapping_problems:
        st.console.warn(f"the mapping files have {found.mapping_problems} problem(s); "
                        "run `safestats-migrate mappings validate`")
