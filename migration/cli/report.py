"""`safestats-migrate report [RUN_ID | --run ID] [--out DIR] [--format html,json,md] [--check]`, and its
subcommands (`report runs`, …).

`report` is a group that still writes the report when no subcommand is given: a leading
positional RUN_ID (the form runbooks and scripts already use) is turned into ``--run`` before
Click looks for a subcommand, so ``report 42`` and ``report runs`` both keep working.
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup

from migration import api
from migration.cli import report_sign, report_verify
from migration.cli import runs as runs_cmd
from migration.cli.state import state


class ReportGroup(TyperGroup):
    """A group whose first positional token, when it is not a subcommand, is the run to report on."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if ctx.meta.get("report.run_rewritten"):  # Click re-enters parse_args with what is left
            return super().parse_args(ctx, args)
        ctx.meta["report.run_rewritten"] = True
        # Typer's options are not click.Option instances (Typer vendors Click): ask by attribute
        valued = {name for p in self.params
                  if getattr(p, "param_type_name", "") == "option" and not getattr(p, "is_flag", False)
                  for name in p.opts}
        i = 0
        while i < len(args):
            tok = args[i]
            if tok == "--":
                break
            if tok.startswith("-"):
                # "--out DIR" consumes the next token; "--out=DIR" and flags do not
                i += 2 if tok in valued else 1
                continue
            if tok not in self.commands:
                args = [*args[:i], "--run", tok, *args[i + 1:]]
            break
        return super().parse_args(ctx, args)


report_app = typer.Typer(cls=ReportGroup, invoke_without_command=True, no_args_is_help=False,
                         subcommand_metavar="[RUN_ID | COMMAND [ARGS]...]",
                         help="Write the reconciliation report (no subcommand), or list runs (`report runs`).")


def register(app: typer.Typer) -> None:
    runs_cmd.register(report_app)  # `report runs` shows exactly what `runs` shows
    report_sign.register(report_app)
    report_verify.register(report_app)
    app.add_typer(report_app, name="report")


@report_app.callback()
def report(
        ctx: typer.Context,
        run_id: int | None = typer.Option(None, "--run", metavar="RUN_ID",
                                          help="Report on this run only (default: what is in the target now, each "
                                               "stage at its latest runs); also accepted as the first argument."),
        out: Path | None = typer.Option(None, "--out", help="Folder to write into (default reports/<timestamp>/)."),
        formats: str = typer.Option("html,json,md", "--format", help="Any of html, json, md, comma-separated."),
        check: bool = typer.Option(False, "--check",
                                   help="Exit with the verdict: 0 PASS (or PASS_WITH_ACCEPTED), 1 FAIL, 3 INCOMPLETE "
                                        "(default: 0 once written)."),
) -> None:
    """Write the reconciliation report: verdict, checks, accounting, quarantine, differences, charts."""
    if ctx.invoked_subcommand is not None:
        return
    st = state(ctx)
    outcome = api.write_report(st.settings, run_id, out=out, formats=formats, check=check)
    result, paths = outcome.report, outcome.paths
    st.console.table(f"Report: {result.verdict.label}", ["format", "file"],
                     [(p.suffix.lstrip("."), str(p)) for p in paths])
    if result.verdict.summary and outcome.failure is None:  # a failing --check says it in its error line
        st.console.info(result.verdict.summary)
    if outcome.failure is not None:
        raise outcome.failure
