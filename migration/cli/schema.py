"""`safestats-migrate schema …`: the target schema under Alembic."""

from __future__ import annotations

import typer

from migration import api
from migration.cli.state import state
from migration.errors import SchemaError

app = typer.Typer(no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="schema", help="The target schema (Alembic).")


def _revs(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "base (nothing installed)"


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: str | None = typer.Argument(
        None, help="Target revision: head or heads (the default: every branch to its head), data@head, ledger@head, "
                   "d0002, …"),
    sql: bool = typer.Option(False, "--sql", help="Print the DDL for review instead of running it (no database used)."),
) -> None:
    """Upgrade the target schema (both branches, ledger and data, by default)."""
    st = state(ctx)
    if sql:
        typer.echo(api.upgrade_schema(None, revision, sql=True).sql, nl=False)
        return
    change = api.upgrade_schema(st.settings.require_target(), revision)
    if change.changed:
        st.console.info(f"upgraded {change.target}: {_revs(change.before)} → {_revs(change.after)}")
    else:
        st.console.info(f"{change.target} is already at {_revs(change.after)}")


@app.command("downgrade")
def downgrade(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="Target revision: data@base, ledger@base, base, d0002, …; with --sql FROM:TO."),
    sql: bool = typer.Option(False, "--sql", help="Print the DDL for review instead of running it (needs FROM:TO)."),
    force: bool = typer.Option(False, "--force", help="Drop tables even though they hold rows (data or ledger)."),
) -> None:
    """Downgrade the target schema; refuses to drop loaded data or a used ledger without --force."""
    st = state(ctx)
    if sql:
        typer.echo(api.downgrade_schema(None, revision, sql=True, force=force).sql, nl=False)
        return
    if force:
        st.console.warn("--force: tables will be dropped with any rows they hold")
    change = api.downgrade_schema(st.settings.require_target(), revision, force=force)
    if change.changed:
        st.console.info(f"downgraded {change.target}: {_revs(change.before)} → {_revs(change.after)}")
    else:
        st.console.info(f"{change.target} is already at {_revs(change.after)}")


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Show the revisions the target database is at."""
    st = state(ctx)
    status = api.schema_status(st.settings.require_target())
    if not status.applied:
        st.console.info(f"{status.target}: nothing installed; run `safestats-migrate schema upgrade`")
        return
    rows = [(r.revision, r.branch, "yes" if r.is_head else "no", r.message) for r in status.applied]
    st.console.table(f"Schema of {status.target}", ["revision", "branch", "head", "description"], rows)
    if not status.up_to_date:
        st.console.info(f"not at every head ({', '.join(status.heads)}): run `safestats-migrate schema upgrade`")


@app.command("history")
def history(ctx: typer.Context) -> None:
    """List every revision of both branches, base first (no database needed)."""
    st = state(ctx)
    rows = [(r.revision, r.branch, r.down_revision or "base", "head" if r.is_head else "", r.message)
            for r in api.schema_history()]
    st.console.table("Schema history", ["revision", "branch", "after", "", "description"], rows)


@app.command("check")
def check(ctx: typer.Context, limit: int | None = typer.Option(50, help="Show at most this many differences.")) -> None:
    """Compare the target database with the model (like `alembic check`); fails on any difference."""
    st = state(ctx)
    result = api.check_schema(st.settings.require_target())
    if result.ok:
        st.console.info(f"{result.target} matches the model")
        return
    shown = result.differences[: limit or None]
    st.console.table(f"Differences between {result.target} and the model", ["difference"], [(d,) for d in shown])
    raise SchemaError(
        f"the target schema differs from the model in {len(result.differences)} place(s)",
        where=result.target,
        hint="run `safestats-migrate schema upgrade` if it is behind; otherwise write a revision for the change",
    )
