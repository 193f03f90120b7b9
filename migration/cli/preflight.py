"""`safestats-migrate preflight [--record] [--json]`: is the ground ready for a run?"""

from __future__ import annotations

import json

import typer

from migration import api
from migration.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command("preflight")
    def preflight(
        ctx: typer.Context,
        record: bool = typer.Option(False, "--record",
                                    help="Record the live legacy schema as the new baseline of the drift check."),
        as_json: bool = typer.Option(False, "--json", help="Print the lines as JSON."),
    ) -> None:
        """Check source, target, roles, lock, mapping files and legacy schema drift: PASS / WARN / FAIL lines."""
        st = state(ctx)
        report = api.preflight(st.settings, record=record)
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            for line in report.lines:
                text = f"{line.status:4}  {line.check}: {line.message}"
                if line.action:
                    text += f"\n      → {line.action}"
                st.console.info(text)
            if report.recorded:
                st.console.info(f"legacy schema fingerprint {report.recorded} recorded as the new baseline")
            st.console.info(f"preflight: {report.verdict}")
        if report.exit_code:
            raise typer.Exit(report.exit_code)
