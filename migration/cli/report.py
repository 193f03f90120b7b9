"""`safestats-migrate report [RUN_ID] [--out DIR] [--format html,json,md] [--check]`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from migration.cli.state import state

#: --check: the exit code per verdict (the design notes' table, as `reconcile --all`)
CHECK_EXIT = {"PASS": 0, "PASS_WITH_ACCEPTED": 0, "FAIL": 1, "INCOMPLETE": 3}


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
        from migration.db.engines import check_connect, target_engine
        from migration.errors import CheckFailed, MigrationIncomplete
        from migration.mapping.order import parsed_specs
        from migration.report import build_report, parse_formats, write_reports

        st = state(ctx)
        wanted = parse_formats(formats)
        folder = out or st.settings.reports_dir / datetime.now(ZoneInfo("Europe/London")).strftime("%Y%m%d-%H%M%S")
        planned = [s.stage for s in parsed_specs(st.settings.mappings_dir)]
        engine = target_engine(st.settings.require_target())
        check_connect(engine, role="target")
        try:
            result = build_report(engine, run_id, planned=planned)
        finally:
            engine.dispose()
        paths = write_reports(result, folder, wanted)
        st.console.table(f"Report: {result.verdict.label}", ["format", "file"],
                         [(p.suffix.lstrip("."), str(p)) for p in paths])
        v = result.verdict
        failing = check and CHECK_EXIT.get(v.status, 0)
        if v.summary and not failing:  # a failing --check says it in its error line
            st.console.info(v.summary)
        if failing:
            first = next(iter(v.reasons), "")
            what = (v.summary or v.label) + (f" — first: {first}" if first else "")
            hint = f"the report is in {paths[0].parent}; see runbooks/report.md"
            if v.status == "FAIL":
                raise CheckFailed(what, hint=hint)
            raise MigrationIncomplete(what, hint=hint)
