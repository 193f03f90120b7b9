"""The report as one self-contained HTML file.

Opens offline and leaks nothing when opened: the stylesheet and the (optional) script are
inlined from the package files ``report.css`` and ``report.js``, charts are inline SVG
drawn by :mod:`migration.report.svg`, fonts are the system's.  There is no URL in the
output at all (the test greps for one).  Every text is escaped here; it was scrubbed of
secrets when the report was built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from html import escape
from importlib import resources
from string import Template
from zoneinfo import ZoneInfo

from migration.report import blank_keys, signoff, svg
from migration.report.model import (
    FAIL,
    INCOMPLETE,
    PASS,
    PASS_WITH_ACCEPTED,
    AccountingRow,
    Chart,
    CheckDetail,
    CheckRow,
    Difference,
    Report,
    StageSummary,
    verdict_label,
)

#: the most differing keys shown per check (the JSON has every one the check kept)
MAX_DIFFERENCES_PER_CHECK = 100
#: the most verdict reasons listed in the banner (each stage lists its own below)
MAX_REASONS = 12
LONDON = ZoneInfo("Europe/London")

_ICON = {PASS: "✔", PASS_WITH_ACCEPTED: "▲", FAIL: "✖", INCOMPLETE: "●"}
_STATUS_ICON = {"pass": "✔", "warn": "▲", "fail": "✖", "error": "!"}
_SENTENCE = {
    PASS: "Every planned stage is loaded and reconciled: every check passed (warnings, if any, are listed) and "
          "every table's accounting balances.",
    PASS_WITH_ACCEPTED: "Every planned stage is loaded and reconciled, some only because a person accepted their "
                        "failed checks (who and why below): read them before signing off.",
    FAIL: "At least one check failed or a table's accounting does not balance: do not sign off. "
          "See runbooks/report.md for what to do next.",
    INCOMPLETE: "Not every planned stage is loaded and reconciled (not started, failed, rolled back, never "
                "checked, or changed after its checks): nothing is proven for those yet.",
}
_KIND = {"changed": "changed", "missing": "missing in target", "extra": "extra in target",
         "duplicate": "duplicated", "bucket": "totals differ", "other": "differs"}


@cache
def _asset(name: str) -> str:
    return resources.files("migration.report").joinpath(name).read_text(encoding="utf-8")


def when(at: datetime | None, *, seconds: bool = False, zone: bool = True) -> str:
    """A timestamp as people in London read it (``2024-03-01 14:05 GMT``)."""
    if at is None:
        return ""
    fmt = "%Y-%m-%d %H:%M" + (":%S" if seconds else "") + (" %Z" if zone else "")
    return at.astimezone(LONDON).strftime(fmt)


def _cell_time(at: datetime | None) -> str:
    """A time in a table cell: the zone in the hover text only (the page says times are London's)."""
    if at is None:
        return ""
    return f'<time datetime="{_e(at.isoformat())}" title="{_e(when(at, seconds=True))}">{_e(when(at, zone=False))}</time>'


def _e(value: object) -> str:
    """Escaped text. ``//`` is written as character references: it reads the same, but a URL quoted
    in a check's summary (a GX error, say) never appears as a URL in the file."""
    return escape("" if value is None else str(value)).replace("//", "&#47;&#47;")


def _n(value: int) -> str:
    return f"{value:,}"


def badge(status: str) -> str:
    """A check status as a coloured pill that also says it in words."""
    return (f'<span class="badge s-{_e(status)}">{_STATUS_ICON.get(status, "")} {_e(status.upper())}</span>')


def verdict_badge(verdict: str) -> str:
    return f'<span class="badge b-{_e(verdict)}">{_ICON.get(verdict, "")} {_e(verdict_label(verdict))}</span>'


def _table(head: Sequence[tuple[str, str]], rows: Iterable[str], *, table_id: str = "", cls: str = "",
           foot: str = "") -> str:
    ths = "".join(f'<th class="{c}" scope="col">{_e(h)}</th>' for h, c in head)
    tid = f' id="{table_id}"' if table_id else ""
    tcls = f' class="{cls}"' if cls else ""
    tf = f"<tfoot>{foot}</tfoot>" if foot else ""
    return f'<div class="scroll"><table{tid}{tcls}><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody>{tf}</table></div>'


# --------------------------------------------------------------------------- sections
def _header(r: Report) -> str:
    return (
        '<header class="page"><div class="kicker">SafeStats migration · legacy SQL Server → PostgreSQL</div>'
        "<h1>Reconciliation report</h1>"
        '<dl class="meta">'
        f"<dt>Target</dt><dd class=\"mono\">{_e(r.target)}</dd>"
        f"<dt>Covers</dt><dd>{_e(r.scope.description)}</dd>"
        f"<dt>Generated</dt><dd>{_e(when(r.generated_at, seconds=True))} · safestats-migrate {_e(r.package_version)}</dd>"
        "</dl></header>")


def _verdict(r: Report) -> str:
    v = r.verdict
    reasons = [] if r.empty else list(v.reasons)  # the empty-target box below says it all
    items = "".join(f"<li>{_e(x)}</li>" for x in reasons[:MAX_REASONS])
    if len(reasons) > MAX_REASONS:
        items += f'<li class="muted">and {len(reasons) - MAX_REASONS} more — see the stages below</li>'
    sentence = ("Nothing has been loaded into this target yet, so there is nothing to reconcile."
                if r.empty else _SENTENCE.get(v.status, ""))
    return (f'<section class="verdict v-{_e(v.status)}" aria-label="Verdict">'
            f'<div class="label"><span class="icon" aria-hidden="true">{_ICON.get(v.status, "")}</span>'
            f'<span>{_e(v.label)}</span></div>'
            + (f'<p class="summary"><strong>{_e(v.summary)}</strong></p>' if v.summary else "")
            + f"<p>{_e(sentence)}</p>"
            + (f"<ul>{items}</ul>" if items else "") + "</section>")


def _tiles(r: Report) -> str:
    t = r.totals()
    c = t["checks"]

    def tile(n: str, label: str, bad: bool = False) -> str:
        return f'<div class="tile{" bad" if bad else ""}"><div class="n">{_e(n)}</div><div class="t">{_e(label)}</div></div>'

    return ('<div class="tiles">'
            + (tile(f'{t["stages_reconciled"]} / {t["stages_planned"]}', "stages reconciled / planned",
                    bad=t["stages_reconciled"] < t["stages_planned"]) if t["stages_planned"]
               else tile(str(t["stages"]), "stages"))
            + tile(f'{c["pass"]} / {c["warn"]} / {c["fail"] + c["error"]}', "checks pass / warn / fail",
                   bad=(c["fail"] + c["error"]) > 0)
            + tile(_n(t["rows_read"]), "source rows read")
            + tile(_n(t["rows_loaded"] + t["rows_unchanged"]), "rows in target (loaded + unchanged)")
            + tile(_n(t["rows_quarantined"]), "rows quarantined")
            + tile(str(t["unbalanced_tables"]), "tables not balancing", bad=t["unbalanced_tables"] > 0)
            + tile(_n(t["differences"]), "differences (keys, rows, buckets)", bad=t["differences"] > 0)
            + "</div>")


def _toc(r: Report) -> str:
    links = [("stages", "Stages"), ("checks", "Checks"), ("accounting", "Accounting"), ("quarantine", "Quarantine"),
             ("differences", "Differences"), ("charts", "Charts")]
    if _big_details(r):
        links.append(("details", "Check details"))
    if r.notes:
        links.append(("notes", "Notes"))
    return '<nav class="toc" aria-label="Contents">' + "".join(
        f'<a href="#{a}">{_e(t)}</a>' for a, t in links) + "</nav>"


def _stages(stages: Sequence[StageSummary]) -> str:
    head = [("Stage", ""), ("Verdict", ""), ("State", ""), ("Run", "num"), ("Finished", ""),
            ("Source tables", ""), ("Read", "num"), ("Loaded", "num"), ("Quarantined", "num"),
            ("Checks ✔ ▲ ✖", "num")]
    rows = []
    for s in stages:
        c = s.checks
        accepted = (f'<div class="accepted">failure accepted by {_e(s.accepted.by)} on {_e(when(s.accepted.at))}: '
                    f"{_e(s.accepted.reason)}</div>") if s.accepted else ""
        rows.append(
            f'<tr><td><strong>{_e(s.stage)}</strong></td><td>{verdict_badge(s.verdict)}{accepted}</td>'
            f'<td class="nowrap">{_e((s.verdict_state or s.state).replace("_", " "))}</td><td class="num">{_e(s.load_run_id or "—")}</td>'
            f'<td class="nowrap">{_cell_time(s.loaded_at)}</td><td class="tables">{_e(", ".join(s.tables))}</td>'
            f'<td class="num">{_n(s.rows_read)}</td><td class="num">{_n(s.rows_loaded)}</td>'
            f'<td class="num">{_n(s.rows_quarantined)}</td>'
            f'<td class="num">{_counts(c)}</td></tr>')
    return _table(head, rows)


#: a check detail with at most this many items (and this much text) is shown inline under its summary
INLINE_DETAIL_ITEMS = 6
INLINE_DETAIL_CHARS = 120
#: bookkeeping every check detail carries: in the detail block and the JSON, not in the inline line
_BOOKKEEPING = ("load_run_id", "seconds")


def _inline_items(d: CheckDetail) -> list[tuple[str, str]]:
    return [(p, v) for p, v in d.items if p not in _BOOKKEEPING]


def _is_inline(d: CheckDetail) -> bool:
    items = _inline_items(d)
    return (len(items) <= INLINE_DETAIL_ITEMS and not d.truncated and not d.tables
            and sum(len(p) + len(v) + 3 for p, v in items) <= INLINE_DETAIL_CHARS)


def _check_name(name: str) -> str:
    """``control_totals/incidents_by_borough_month`` may break after its slash."""
    return _e(name).replace("/", "/<wbr>")


def _inline(d: CheckDetail | None, *, link: bool = True) -> str:
    """The detail under a check's summary: inline when short, else a link to it (for problems only:
    the details of passing checks are folded together at the end)."""
    if d is None:
        return ""
    if _is_inline(d):
        items = _inline_items(d)
        if not items:
            return ""
        return '<div class="kvline">' + " · ".join(
            f'<span><span class="k">{_e(p)}</span> {_e(v)}</span>' for p, v in items) + "</div>"
    return f'<div class="kvline"><a href="#detail-{d.result_id}">details ↓</a></div>' if link else ""


def _counts(c: dict[str, int]) -> str:
    """pass ▲warn ✖fail counts of a stage's checks, the non-zero problems coloured."""
    warn, bad = c.get("warn", 0), c.get("fail", 0) + c.get("error", 0)
    return (f'{c.get("pass", 0)} <span class="{"c-warn" if warn else "c-zero"}">{warn}</span> '
            f'<span class="{"c-fail" if bad else "c-zero"}">{bad}</span>')


def _checks(checks: Sequence[CheckRow], details: Sequence[CheckDetail]) -> str:
    if not checks:
        return '<p class="none">No check results in the ledger for what this report covers.</p>'
    by_result = {d.result_id: d for d in details}
    head = [("Stage", ""), ("Check", ""), ("Status", ""), ("Summary", ""), ("When", ""), ("Run", "num")]
    rows = []
    prev = None
    for c in checks:
        ok = c.status == "pass"
        accepted = (f'<div class="accepted"><span class="badge s-accepted">ACCEPTED</span> by {_e(c.accepted.by)}: '
                    f"{_e(c.accepted.reason)}</div>") if c.accepted else ""
        cls = ("ok-row" if ok else "problem-row") + ("" if c.stage == prev else " group-start")
        rows.append(
            f'<tr class="{cls}"><td class="{"repeat" if c.stage == prev else "stage"}">'
            f"{_e(c.stage)}</td><td><strong>{_check_name(c.check)}</strong></td><td>{badge(c.status)}{accepted}</td>"
            f'<td>{_e(c.summary)}{_inline(by_result.get(c.result_id), link=not ok)}</td>'
            f'<td class="nowrap">{_cell_time(c.at)}</td><td class="num">{c.run_id}</td></tr>')
        prev = c.stage
    problems = sum(1 for c in checks if c.status != "pass")
    filt = ('<div class="filters"><button type="button" data-filter-for="checks-table" aria-pressed="false">'
            f"Show only the {problems} not passing</button></div>") if problems and problems < len(checks) else ""
    return filt + _table(head, rows, table_id="checks-table")


def _accounting(rows_in: Sequence[AccountingRow]) -> str:
    if not rows_in:
        return '<p class="none">No accounting recorded for what this report covers.</p>'
    head = [("Stage", ""), ("Run", "num"), ("Source table", ""), ("Read", "num"), ("= Loaded", "num"),
            ("+ Unchanged", "num"), ("+ Merged", "num"), ("+ Quarantined", "num"), ("+ Filtered", "num"),
            ("Balance", "")]
    rows = []
    for a in rows_in:
        bal = ('<td class="balance ok">✔ balances</td>' if a.balanced else
               f'<td class="balance">✖ off by {a.difference:+,}</td>')
        rows.append(
            f'<tr class="{"" if a.balanced else "unbalanced"}"><td>{_e(a.stage)}</td><td class="num">{a.run_id}</td>'
            f'<td class="mono">{_e(a.source_table)}</td><td class="num">{_n(a.read)}</td>'
            f'<td class="num">{_n(a.loaded)}</td><td class="num">{_n(a.unchanged)}</td>'
            f'<td class="num">{_n(a.merged)}</td><td class="num">{_n(a.quarantined)}</td>'
            f'<td class="num">{_n(a.filtered)}</td>{bal}</tr>')
    tot = {k: sum(getattr(a, k) for a in rows_in) for k in ("read", "loaded", "unchanged", "merged", "quarantined",
                                                             "filtered")}
    bad = sum(1 for a in rows_in if not a.balanced)
    foot = (f'<tr><td colspan="3">Total ({len(rows_in)} tables)</td>'
            + "".join(f'<td class="num">{_n(v)}</td>' for v in tot.values())
            + (f'<td class="balance">✖ {bad} not balancing</td>' if bad else '<td class="balance ok">✔ all balance</td>')
            + "</tr>")
    return _table(head, rows, foot=foot)


def _quarantine(r: Report) -> str:
    if not r.quarantine:
        return '<p class="none">No row of what this report covers was quarantined.</p>'
    head = [("Stage", ""), ("Source table", ""), ("Reason", ""), ("Rows", "num"), ("Still open", "num"),
            ("Fields", ""), ("Runs", "")]
    rows = [f'<tr><td>{_e(q.stage)}</td><td class="mono">{_e(q.source_table)}</td><td class="mono">{_e(q.reason)}</td>'
            f'<td class="num">{_n(q.rows)}</td><td class="num">{_n(q.open_rows)}</td>'
            f'<td class="mono">{_e(", ".join(q.fields))}</td><td>{_e(", ".join(map(str, q.runs)))}</td></tr>'
            for q in r.quarantine]
    foot = (f'<tr><td colspan="3">Total</td><td class="num">{_n(sum(q.rows for q in r.quarantine))}</td>'
            f'<td class="num">{_n(sum(q.open_rows for q in r.quarantine))}</td><td colspan="2"></td></tr>')
    return ('<p class="lead">Keys, reasons and field names only; the rows themselves stay in the legacy system '
            "(<code>safestats-migrate quarantine show KEY</code>).</p>" + _table(head, rows, foot=foot))


def _differences(r: Report) -> str:
    if not r.differences:
        return '<p class="none">No check reported a differing key.</p>'
    groups: dict[tuple[str, str], list[Difference]] = defaultdict(list)
    for d in r.differences:
        groups[(d.stage, d.check)].append(d)
    out = ['<p class="lead">Before = the source after mapping (what the target should hold); after = what the '
           "target holds. Sensitive fields are masked (<code>***</code>).</p>"]
    for (stage, check), diffs in groups.items():
        keys = len({(d.table, d.key) for d in diffs})
        counts = r.difference_counts.get(f"{stage}/{check}", {"found": keys, "listed": keys})
        shown = diffs[:MAX_DIFFERENCES_PER_CHECK]
        shown_keys = len({(d.table, d.key) for d in shown})
        noun = "bucket" if all(d.kind == "bucket" for d in diffs) else "key"
        if counts["found"] > counts["listed"]:
            heading = (f"{counts['found']:,} differences found"
                       f' <span class="muted">(the check kept {counts["listed"]:,}: {keys:,} {noun}'
                       f'{"s" if keys != 1 else ""} below)</span>')
        else:
            heading = f'{keys:,} differing {noun}{"s" if keys != 1 else ""}'
        if shown_keys < keys:
            heading += (f' <span class="muted">(showing the first {shown_keys:,}; the JSON report lists '
                        "them all)</span>")
        out.append(f"<h3>{_e(stage)} · {_check_name(check)} — {heading}</h3>")
        with_table = any(d.table for d in shown)
        with_values = any(d.column or d.before is not None or d.after is not None for d in shown)
        with_source = any(d.source_key for d in shown)
        head = ([("Table", "")] if with_table else []) + [("Key", ""), ("What", "")]
        if with_source:
            head.append(("Legacy key", ""))
        if with_values:
            head += ([("Measure", ""), ("Expected (source)", ""), ("Target", "")] if noun == "bucket"
                     else [("Column", ""), ("Before (source)", ""), ("After (target)", "")])
        rows = []
        for d in shown:
            cells = (f'<td class="mono">{_e(d.table or "")}</td>' if with_table else "")
            cells += f'<td class="key">{_e(d.key)}</td><td class="nowrap">{_e(_KIND.get(d.kind, d.kind))}</td>'
            if with_source:
                cells += f'<td class="key">{_e(d.source_key or "")}</td>'
            if with_values:
                cells += (f'<td class="mono">{_e(d.column or "")}</td><td class="val before">{_val(d.before, d.column)}</td>'
                          f'<td class="val after">{_val(d.after, d.column)}</td>')
            rows.append(f"<tr>{cells}</tr>")
        out.append(_table(head, rows))
    return "".join(out)


def _val(v: str | None, column: str | None = "") -> str:
    if v is None:
        return "" if column is None else '<span class="ellipsis">NULL</span>'
    return _e(v)


def _chart(c: Chart) -> str:
    cap = _e(c.origin) + (f"<br>{_e(c.note)}" if c.note else "")
    differing = set(c.differing)
    data_rows = []
    for i, cat in enumerate(c.categories):
        cells = "".join(f'<td class="num">{"" if s.values[i] is None else _n(s.values[i] or 0)}</td>' for s in c.series)
        mark = ' class="unbalanced"' if cat in differing else ""
        data_rows.append(f"<tr{mark}><td>{_e(cat)}</td>{cells}</tr>")
    head = [(c.dimension, "")] + [(s.name, "num") for s in c.series]
    label = f"The numbers ({len(c.categories)} {c.dimension}s" + (f", {len(differing)} differing)" if differing else ")")
    return (f'<figure class="chart-box" id="chart-{_e(c.chart_id)}"><h3>{_e(c.title)}</h3>'
            f'<div class="legend">{svg.legend(c)}</div>{svg.grouped_bars(c)}'
            f"<figcaption>{cap}</figcaption>"
            f"<details><summary>{_e(label)}</summary>{_table(head, data_rows)}</details></figure>")


def _charts(r: Report) -> str:
    if not r.charts:
        return '<p class="none">Nothing to draw: no stage in this report wrote incidents, and no check recorded counts per bucket.</p>'
    return "".join(_chart(c) for c in r.charts)


def _big_details(r: Report) -> list[CheckDetail]:
    return [d for d in r.details if not _is_inline(d)]


def _detail_block(d: CheckDetail) -> str:
    rows = [f'<tr><td>{_e(p)}</td><td class="val">{_e(v)}</td></tr>' for p, v in d.items]
    if d.truncated:
        rows.append(f'<tr><td class="ellipsis">…</td><td class="ellipsis">{d.truncated} more items in '
                    "the ledger (ledger.check_result.detail)</td></tr>")
    subs = []
    for t in d.tables:
        head = [(c, "") for c in t.columns]
        body = [("<tr>" + "".join(f'<td class="val">{_e(v)}</td>' for v in row) + "</tr>") for row in t.rows]
        if t.truncated:
            body.append(f'<tr><td class="ellipsis" colspan="{len(t.columns)}">… {t.truncated} more rows in '
                        "the ledger</td></tr>")
        subs.append(f'<h4 class="sub">{_e(t.path)}</h4>' + _table(head, body, cls="sub"))
    kv = f'<table class="kv"><tbody>{"".join(rows)}</tbody></table>' if rows else ""
    return (f'<details class="check-detail" id="detail-{d.result_id}" data-print-open><summary>'
            f'{_e(d.stage)} · {_e(d.check)} <span class="muted">(result {d.result_id})</span></summary>'
            f'{kv}{"".join(subs)}</details>')


def _details(r: Report) -> str:
    status = {c.result_id: c.status for c in r.checks}
    big = _big_details(r)
    problems = [d for d in big if status.get(d.result_id) != "pass"]
    passing = [d for d in big if status.get(d.result_id) == "pass"]
    out = ['<p class="lead">What the checks recorded beyond their summary, where it is too long to show beside '
           "it (scrubbed of secrets; sensitive values masked).</p>"]
    out += [_detail_block(d) for d in problems]
    if passing:
        out.append(f'<details class="passing-details"><summary>Details of {len(passing)} passing '
                   f'check{"s" if len(passing) != 1 else ""}</summary>'
                   + "".join(_detail_block(d) for d in passing) + "</details>")
    return "".join(out)


def render_html(report: Report) -> str:
    """The whole report as one HTML document (no external reference of any kind)."""
    r = report
    parts = [_header(r), _verdict(r)]
    if r.empty:
        parts.append('<div class="empty">The ledger of this target records no load and no check. Load the stages '
                     "with <code>safestats-migrate run --all</code>, reconcile them with "
                     "<code>safestats-migrate reconcile --all</code>, then run <code>safestats-migrate report</code> "
                     "again.</div>")
    else:
        parts += [_tiles(r), _toc(r),
                  '<h2 id="stages">Stages</h2><p class="lead">Each stage at the load run reported on, with the '
                  "verdict of its checks and accounting.</p>", _stages(r.stages),
                  '<h2 id="checks">Checks</h2><p class="lead">The latest result of each check, per stage.</p>',
                  _checks(r.checks, r.details),
                  '<h2 id="accounting">Accounting</h2><p class="lead">Every source row read is loaded, found '
                  "unchanged, merged into a duplicate, quarantined or filtered — exactly once. A row that does "
                  "not add up is highlighted.</p>", _accounting(r.accounting),
                  '<h2 id="quarantine">Quarantine by reason</h2>', _quarantine(r),
                  blank_keys.html_section(r.blank_keys),
                  signoff.html_section(r.signoff) if r.signoff is not None else "",
                  '<h2 id="differences">Differences</h2>', _differences(r),
                  '<h2 id="charts">Counts per month and borough</h2><p class="lead">Source beside target. A red '
                  "mark under a bucket means the two differ there.</p>", _charts(r)]
        if _big_details(r):
            parts += ['<h2 id="details">Check details</h2>', _details(r)]
    if r.notes:
        parts.append('<h2 id="notes">Notes</h2><ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in r.notes)
                     + "</ul>")
    parts.append(
        '<footer class="page">Generated by <code>safestats-migrate report</code> from the ledger '
        "(<code>ledger.table_count</code>, <code>ledger.check_result</code>, <code>ledger.quarantine</code>) and "
        "the target. Times are London time. Secrets are scrubbed and sensitive fields masked; this file "
        "loads nothing from anywhere.</footer>")
    body = '<div class="wrap">' + "".join(parts) + "</div>"
    return Template(_asset("report.html")).substitute(
        title=_e(f"{r.verdict.label} · SafeStats reconciliation report · {when(r.generated_at)}"),
        version=_e(r.package_version), css=_asset("report.css"), js=_asset("report.js"),
        verdict_class=_e(r.verdict.status), body=body)
