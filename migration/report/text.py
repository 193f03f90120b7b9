"""The report as JSON (for machines) and Markdown (for tickets)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from migration.report import blank_keys, signoff
from migration.report.html import when
from migration.report.model import Report, verdict_label

#: differing keys listed in the Markdown (a ticket wants the first few, the HTML has more)
MD_TOP_DIFFERENCES = 20


def render_json(report: Report) -> str:
    """``Report.to_dict`` as indented JSON (keys in a fixed, documented order)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


def _cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    s = "" if value is None else str(value)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _md_table(head: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(head))]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def _side(value: str | None, column: str | None) -> str:
    if value is None:
        return "" if column is None else "NULL"
    return value


def render_markdown(report: Report) -> str:
    """Verdict, per-stage table, per-check table and the top differences, for a ticket."""
    r = report
    icon = {"PASS": "✅", "PASS_WITH_ACCEPTED": "⚠️", "FAIL": "❌", "INCOMPLETE": "⏸️"}.get(r.verdict.status, "")
    lines = [f"# Reconciliation report: {icon} **{r.verdict.label}**", ""]
    if r.verdict.summary:
        lines += [f"**{_cell(r.verdict.summary)}**", ""]
    lines += [f"- Target: `{r.target}`",
             f"- Covers: {r.scope.description}",
             f"- Generated: {when(r.generated_at, seconds=True)} (safestats-migrate {r.package_version})", ""]
    if r.empty:
        lines += ["Nothing has been loaded into this target yet: the ledger records no load and no check. "
                  "Run `safestats-migrate run --all`, then `safestats-migrate reconcile --all`.", ""]
    if r.verdict.reasons and not r.empty:
        lines += ["## Why", ""] + [f"- {_cell(x)}" for x in r.verdict.reasons[:30]]
        if len(r.verdict.reasons) > 30:
            lines.append(f"- … and {len(r.verdict.reasons) - 30} more (see the HTML report)")
        lines.append("")
    if r.stages:
        t = r.totals()
        lines += ["## Stages", ""]
        lines += _md_table(
            ["stage", "verdict", "state", "load run", "read", "loaded", "quarantined", "checks pass/warn/fail"],
            [(s.stage, verdict_label(s.verdict), (s.verdict_state or s.state).replace("_", " "), s.load_run_id or "",
              f"{s.rows_read:,}",
              f"{s.rows_loaded:,}", f"{s.rows_quarantined:,}",
              f"{s.checks.get('pass', 0)}/{s.checks.get('warn', 0)}/{s.checks.get('fail', 0) + s.checks.get('error', 0)}")
             for s in r.stages], right=(3, 4, 5, 6))
        lines += ["", f"Accounting: {t['rows_read']:,} rows read, {t['rows_loaded']:,} loaded, "
                      f"{t['rows_unchanged']:,} unchanged, {t['rows_merged']:,} merged, "
                      f"{t['rows_quarantined']:,} quarantined, {t['rows_filtered']:,} filtered; "
                      + (f"**{t['unbalanced_tables']} table(s) do not balance**."
                         if t["unbalanced_tables"] else "every table balances."), ""]
        unbalanced = [a for a in r.accounting if not a.balanced]
        if unbalanced:
            lines += _md_table(["stage", "table", "read", "accounted", "off by"],
                               [(a.stage, a.source_table, f"{a.read:,}", f"{a.accounted:,}", f"{a.difference:+,}")
                                for a in unbalanced], right=(2, 3, 4)) + [""]
    if r.empty:
        return "\n".join(lines) + "\n"
    lines += ["## Checks", ""]
    problems = [c for c in r.checks if c.status != "pass"]
    if problems:
        lines += _md_table(["stage", "check", "status", "summary", "when", "run"],
                           [(c.stage, c.check, c.status.upper() + (" (accepted)" if c.accepted else ""), c.summary,
                             when(c.at), c.run_id) for c in problems], right=(5,))
        lines.append("")
    passing = len(r.checks) - len(problems)
    if not r.checks:
        lines.append("No check results in the ledger for what this report covers.")
    elif passing:
        lines.append(f"{'All ' if not problems else ''}{passing} {'other ' if problems else ''}check"
                     f"{'s' if passing != 1 else ''} pass: "
                     + ", ".join(f"{s.stage} ({s.checks.get('pass', 0)})" for s in r.stages if s.checks.get("pass")))
    lines.append("")
    if r.differences:
        top = r.differences[:MD_TOP_DIFFERENCES]
        found = sum(c["found"] for c in r.difference_counts.values())
        lines += [f"## Top differences ({found:,} found by {len(r.difference_counts)} check"
                  f"{'s' if len(r.difference_counts) != 1 else ''}; the first {len(top)} rows)", ""]
        lines += _md_table(["stage", "check", "table", "key", "what", "column", "before (source)", "after (target)"],
                           [(d.stage, d.check, d.table or "",
                             f"`{d.key}`" + (f" (legacy `{d.source_key}`)" if d.source_key else ""), d.kind,
                             d.column or "",
                             _side(d.before, d.column), _side(d.after, d.column)) for d in top])
        lines.append("")
    if r.quarantine:
        lines += ["## Quarantine by reason", ""]
        lines += _md_table(["stage", "table", "reason", "rows", "open"],
                           [(q.stage, q.source_table, q.reason, f"{q.rows:,}", f"{q.open_rows:,}")
                            for q in r.quarantine], right=(3, 4)) + [""]
    lines += blank_keys.markdown_section(r.blank_keys)
    if r.signoff is not None:
        lines += signoff.markdown_lines(r.signoff)
    if r.notes:
        lines += ["## Notes", ""] + [f"- {_cell(n)}" for n in r.notes] + [""]
    lines.append("_Sensitive fields are masked (`***`); the HTML report has the charts and every check's detail._")
    return "\n".join(lines) + "\n"
