"""`safestats-migrate profile [STAGE…] [--html PATH] [--json PATH] [--sample N]`: the legacy audit."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from migration import api
from migration.audit.render import class_lines, fact_lines, render_html, render_json, summary_rows
from migration.cli.state import state


def _write(dest: str, content: str) -> None:
    if dest == "-":
        sys.stdout.write(content)
        sys.stdout.flush()
        return
    path = Path(dest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


def register(app: typer.Typer) -> None:
    @app.command("profile")
    def profile(
        ctx: typer.Context,
        stages: list[str] | None = typer.Argument(None, help="Stages to profile (default: every stage)."),
        html: str | None = typer.Option(None, "--html", help="Write the HTML profile to this file (- = stdout)."),
        json_: str | None = typer.Option(None, "--json", help="Write the JSON profile to this file (- = stdout)."),
        sample: int | None = typer.Option(None, "--sample", min=1,
                                          help="Read only the first N rows of each table (predictions inexact)."),
    ) -> None:
        """Profile the legacy database against the mappings and predict what `run` will do (read-only)."""
        st = state(ctx)
        if html == "-" and json_ == "-":
            raise typer.BadParameter("only one of --html and --json can go to stdout (-)")
        result = api.profile(st.settings, st.console, stages or [], sample=sample)
        to_stdout = "-" in (html, json_)
        if not to_stdout:
            st.console.table(f"Predictions ({result.seconds:,.1f} s, read-only)",
                             ["stage", "table", "rows", "load", "merged", "filtered", "quarantined", "top reasons",
                              "est. s"], summary_rows(result))
            for line in class_lines(result, limit=25):
                st.console.info(line)
            for line in fact_lines(result):
                st.console.info(line)
            for note in result.notes:
                st.console.warn(note)
        if json_:
            _write(json_, render_json(result))
        if html:
            _write(html, render_html(result))
        if not to_stdout:
            for kind, dest in (("JSON", json_), ("HTML", html)):
                if dest:
                    st.console.info(f"{kind} profile written to {dest}")
