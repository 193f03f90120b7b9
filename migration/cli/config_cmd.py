"""`safestats-migrate config show`: the effective settings, redacted, with their origins."""

from __future__ import annotations

import typer

from migration.cli.state import state

app = typer.Typer(no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="config", help="Show the effective settings.")


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Print every setting (passwords hidden) and where it came from."""
    st = state(ctx)
    rows = [(k, v) for k, v in st.settings.describe().items()]
    st.console.table("Effective settings", ["setting", "value [origin]"], rows)
