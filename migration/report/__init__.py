"""The reconciliation report: the ledger and the check results, rendered for people and machines.

::

    report = build_report(engine, planned=stages)  # or build_report(engine, run_id=42)
    paths = write_reports(report, Path("reports/now"), ["html", "json", "md"])

* :func:`build_report` reads the ledger (and the target, for charts) and returns a
  :class:`Report` — pure data, scrubbed of secrets, with the verdict decided;
* :func:`render_html` (one self-contained file: inline CSS, inline SVG charts, no
  external reference), :func:`render_json` (keys documented in ``runbooks/report.md``)
  and :func:`render_markdown` (for tickets) turn it into text;
* :func:`write_reports` writes the chosen formats into a folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from migration import faults
from migration.errors import UsageError
from migration.report.build import ReportError, build_report
from migration.report.html import render_html
from migration.report.model import (
    FAIL,
    FORMAT_VERSION,
    INCOMPLETE,
    PASS,
    PASS_WITH_ACCEPTED,
    VERDICTS,
    Report,
    Verdict,
)
from migration.report.text import render_json, render_markdown
from migration.secrets import scrub

FORMATS = {"html": ("report.html", render_html), "json": ("report.json", render_json),
           "md": ("report.md", render_markdown)}


def parse_formats(spec: str | Iterable[str]) -> list[str]:
    """``"html,json"`` → ``["html", "json"]``; every unknown name is reported at once."""
    names = [s.strip().lower() for part in ([spec] if isinstance(spec, str) else spec) for s in part.split(",")]
    names = [("md" if n == "markdown" else n) for n in names if n]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise UsageError(f"unknown report format(s): {', '.join(unknown) or '(none given)'}",
                             hint=f"choose from {', '.join(FORMATS)} (comma-separated)")
    return list(dict.fromkeys(names))


def write_reports(report: Report, out_dir: Path, formats: Iterable[str] = tuple(FORMATS)) -> list[Path]:
    """Write the report in each format into ``out_dir`` (created); returns the files written."""
    wanted = parse_formats(list(formats))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report folder {out_dir}: {scrub(exc.strerror or exc)}",
                          hint="choose another folder with --out") from exc
    paths = []
    for fmt in wanted:
        name, render = FORMATS[fmt]
        path = out_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            tmp.write_text(render(report), encoding="utf-8")
            faults.at("report_write", 0, fmt)  # kill matrix: written, not yet in place
            tmp.replace(path)  # a reader never sees half a report
        except OSError as exc:
            raise ReportError(f"cannot write {path}: {scrub(exc.strerror or exc)}",
                              hint="choose another folder with --out") from exc
        paths.append(path)
    return paths


__all__ = [
    "FAIL", "FORMATS", "FORMAT_VERSION", "INCOMPLETE", "PASS", "PASS_WITH_ACCEPTED", "VERDICTS", "Report",
    "ReportError", "Verdict", "build_report", "parse_formats", "render_html", "render_json", "render_markdown",
    "write_reports",
]
