"""`safestats-migrate report [RUN_ID] [--out DIR] [--format html,json,md] [--check]`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from migration.cli.state import state

#: --check: the exit code per verdict (1 = a check failed, 3 = nothing proven, as `reconcile`)
CHECK_EXIT = {"PASS": 0, "PASS_WITH_WARNINGS": 0, "FAIL": 1, "NOT_RECONCILED": 3}


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        ctx: typer.Context,
        run_id: int | None = typer.Argument(None, metavar="[RUN_ID]",
                                            help="Report on this run only (default: what is in the target now, each stage at its latest runs)."),
        out: Path | None = typer.Option(None, "--out", help="Folder to write into (default reports/<timestamp>/)."),
        formats: str = typer.Option("html,json,md", "--format", help="Any of html, json, md, comma-separated."),
        check: bool = typer.Option(False, "--check",
                                   help="Exit 1 on FAIL and 3 on NOT RECONCILED (default: 0 once written)."),
    ) -> None:
        """Write the reconciliation report: verdict, checks, accounting, quarantine, differences, charts."""
        from migration.db.engines import check_connect, target_engine
        from migration.report import build_report, parse_formats, write_reports

        st = state(ctx)
        wanted = parse_formats(formats)
        folder = out or Path("reports") / datetime.now(ZoneInfo("Europe/London")).strftime("%Y%m%d-%H%M%S")
        engine = target_engine(st.settings.require_target())
        check_connect(engine, role="target")
        try:
            result = build_report(engine, run_id)
        finally:
            engine.dispose()
        paths = write_reports(result, folder, wanted)
        st.console.table(f"Report: {result.verdict.label}", ["format", "file"],
                         [(p.suffix.lstrip("."), str(p)) for p in paths])
        if check and CHECK_EXIT.get(result.verdict.status, 0):
            raise typer.Exit(CHECK_EXIT[result.verdict.status])
