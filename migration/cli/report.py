"""`safestats-migrate report [RUN_ID] [--out DIR] [--format html,json,md] [--check]`."""

from __future__ import annotations

from pathlib import Path

import typer

from migration import api
from migration.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        ctx: typer.Context,
        run_id: int | None = typer.Argument(None, metavar="[RUN_ID]",
                                            help="Report on this run only (default: what is in the target now, each stage at its latest runs)."),
        out: Path | None = typer.Option(None, "--out", help="Folder to write into (default reports/<timestamp>/)."),
        formats: str = typer.Option("html,json,md", "--format", help="Any of html, json, md, comma-separated."),
        check: bool = typer.Option(False, "--check",
                                   help="Exit with the verdict: 0 PASS (or PASS_WITH_ACCEPTED), 1 FAIL, 3 INCOMPLETE "
                                        "(default: 0 once written)."),
    ) -> None:
        """Write the reconciliation report: verdict, checks, accounting, quarantine, differences, charts."""
        st = state(ctx)
        outcome = api.write_report(st.settings, run_id, out=out, formats=formats, check=check)
        result, paths = outcome.report, outcome.paths
        st.console.table(f"Report: {result.verdict.label}", ["format", "file"],
                         [(p.suffix.lstrip("."), str(p)) for p in paths])
        if result.verdict.summary and outcome.failure is None:  # a failing --check says it in its error line
            st.console.info(result.verdict.summary)
        if outcome.failure is not None:
            raise outcome.failure
