"""A profile as JSON (for machines), console tables and one self-contained HTML page.

The HTML uses the reconciliation report's stylesheet, page template and inline SVG bar
charts (:mod:`migration.report.html`, :mod:`migration.report.svg`): no script from
anywhere, no external reference.
"""

from __future__ import annotations

import json
from string import Template
from typing import Any

from migration.audit.model import ProfileResult, StageProfile, _classes, _reason_rows, profile_dict
from migration.report import svg
from migration.report.html import _asset, _e, _n, _table, when
from migration.report.model import Chart, Series
from migration.secrets import scrub
from migration.version import __version__


def render_json(r: ProfileResult) -> str:
    return scrub(json.dumps(profile_dict(r), indent=2, ensure_ascii=False, default=str)) + "\n"


# --------------------------------------------------------------------------- console
def summary_rows(r: ProfileResult) -> list[tuple[str, ...]]:
    """stage | table | rows | load | merged | filtered | quarantined | top reasons | est. seconds."""
    rows: list[tuple[str, ...]] = []
    for s in r.stages:
        for t in s.tables:
            p = t.prediction
            reasons = sorted(((rr, n) for (d, rr), n in p.outcomes.items() if d == "quarantine"),
                             key=lambda kv: -kv[1])
            rows.append((s.stage, t.table, _n(t.rows), _n(p.count("load")), _n(p.count("merged")),
                         _n(p.count("filter")), _n(p.count("quarantine")),
                         ", ".join(f"{rr} {n:,}" for rr, n in reasons[:3]) + (" …" if len(reasons) > 3 else ""),
                         f"{s.estimate.seconds:,.0f}" if s.estimate else ""))
    return rows


def class_lines(r: ProfileResult, limit: int = 40) -> list[str]:
    """The most common value classes behind quarantines and flags, one line each:
    ``tblMPSCrime.CommittedDate: 310 rows in shape `9/9/9999` → flagged date_unpadded (e.g. 9/3/2010)``."""
    items = []
    for s in r.stages:
        for t in s.tables:
            for (kind, name), cols in t.prediction.classes.items():
                verb = {"quarantine": "quarantined", "filter": "filtered", "merged": "merged",
                        "flag": "flagged"}.get(kind, kind)
                rank = {"quarantine": 0, "filter": 1, "merged": 2}.get(kind, 3)
                for col, tally in cols.items():
                    for shape, n in tally.summary.top(3):
                        ex = tally.examples.get(shape, [])
                        items.append((rank, -n, f"{t.table}.{col}: {n:,} rows in shape `{shape}` → {verb} {name}"
                                      + (f" (e.g. {', '.join(ex[:2])})" if ex else "")))
    items.sort(key=lambda x: (x[0], x[1]))
    return [scrub(line) for _r, _n_, line in items[:limit]]


def fact_lines(r: ProfileResult) -> list[str]:
    out = []
    for s in r.stages:
        for t in s.tables:
            d = t.prediction.duplicates
            if d is not None and d.groups:
                out.append(f"{t.table}: {d.groups:,} duplicate keys ({'+'.join(d.partition)}) over {d.rows_in_groups:,} "
                           f"rows: {d.merged:,} merged as {d.reason}, {d.winners_quarantined:,} keys quarantined "
                           "with their winner")
            for rel in t.prediction.relations.values():
                if rel.orphans:
                    out.append(f"{rel.name}: {rel.orphans:,} of {rel.rows_with_value:,} rows find nothing"
                               + (f" (e.g. {', '.join(rel.examples[:3])})" if rel.examples else ""))
            if t.watermark:
                w = t.watermark
                out.append(f"{t.table}.{w['column']} (delta watermark): {w['nulls']:,} NULL of {w['rows']:,} "
                           f"({w['null_share']:.1%}) — a delta cannot see changes to those rows; range "
                           f"{w['min']} … {w['max']}")
    if r.batch_mismatches:
        out.append(f"import batches: {len(r.batch_mismatches):,} of {r.batches_checked:,} claim a RowCount other "
                   "than the rows carrying their BatchID (e.g. " + ", ".join(
                       f"{m.batch_id}: claims {m.claimed}, has {m.rows}" for m in r.batch_mismatches[:3]) + ")")
    return [scrub(x) for x in out]


# --------------------------------------------------------------------------- HTML
def _stage_chart(s: StageProfile) -> str:
    outcomes = s.outcomes()
    cats = ["load", "merged", "filter", "quarantine"]
    values = tuple(sum(n for (d, _r), n in outcomes.items() if d == c) for c in cats)
    chart = Chart(chart_id=f"pred-{s.stage}", stage=s.stage, dimension="disposition",
                  title=f"{s.stage}: predicted fate of {s.rows:,} rows", origin="profile",
                  categories=tuple(cats), series=(Series("rows", values),))
    return svg.grouped_bars(chart, plot_h=120)


def _shape_chart(table: str, col: Any) -> str:
    top = col.shapes.summary.top(12)
    chart = Chart(chart_id=f"shape-{table}-{col.name}", stage=None, dimension="shape",
                  title=f"{table}.{col.name}", origin="profile", categories=tuple(s for s, _ in top),
                  series=(Series("rows", tuple(n for _, n in top)),))
    return svg.grouped_bars(chart, plot_h=90)


def _column_table(t: Any) -> str:
    head = [("column", ""), ("rows", "num"), ("NULL", "num"), ("no value", ""), ("distinct", "num"),
            ("length", ""), ("min … max", ""), ("shapes (count, examples)", ""), ("top values", "")]
    rows = []
    for c in t.columns:
        d = c.to_dict()
        nv = ", ".join(f"{k} {v:,}" for k, v in d["no_value"].items())
        distinct = ("" if d["distinct_exact"] else "≈") + _n(d["distinct"])
        length = "" if d["min_length"] is None else f"{d['min_length']}–{d['max_length']}"
        if "min_number" in d:
            rng = f"{d['min_number']:g} … {d['max_number']:g}"
        elif d["examples_shown"] and d.get("min") is not None:
            rng = f"{d['min']} … {d['max']}"
        else:
            rng = "masked" if not d["examples_shown"] else ""
        shapes = "<br>".join(
            f"<code>{_e(s['shape'])}</code> {_n(s['count'])}"
            + (f' <span class="muted">{_e(", ".join(s["examples"]))}</span>' if s["examples"] else "")
            for s in d["shapes"][:8])
        if d["shapes_total"] > 8:
            shapes += f'<br><span class="muted">… {d["shapes_total"] - 8} more shapes</span>'
        top = ("masked (sensitive column)" if not d["examples_shown"] else
               "<br>".join(f"{_e(x['value'])} {_n(x['count'])}" for x in d.get("top_values", [])[:5]))
        rows.append(f"<tr><td>{_e(c.name)}</td><td class=\"num\">{_n(d['rows'])}</td>"
                    f"<td class=\"num\">{_n(d['nulls'])}</td><td>{_e(nv)}</td><td class=\"num\">{distinct}</td>"
                    f"<td>{_e(length)}</td><td>{_e(rng)}</td><td>{shapes}</td><td>{top}</td></tr>")
    return _table(head, rows)


def _prediction_table(t: Any) -> str:
    head = [("fate", ""), ("reason / flag", ""), ("rows", "num"), ("value classes (column, shape, rows, examples)", "")]
    rows = []
    for e in _reason_rows(t.prediction):
        cls = "<br>".join(f"{_e(v['column'])} <code>{_e(v['shape'])}</code> {_n(v['rows'])}"
                          + (f' <span class="muted">{_e(", ".join(v["examples"]))}</span>' if v["examples"] else "")
                          for v in e["value_classes"][:6])
        rows.append(f"<tr><td>{_e(e['disposition'])}</td><td>{_e(e['reason'] or '')}</td>"
                    f"<td class=\"num\">{_n(e['rows'])}</td><td>{cls}</td></tr>")
    for (tt, f), n in sorted(t.prediction.flags.items()):
        cls = "<br>".join(f"{_e(v['column'])} <code>{_e(v['shape'])}</code> {_n(v['rows'])}"
                          + (f' <span class="muted">{_e(", ".join(v["examples"]))}</span>' if v["examples"] else "")
                          for v in _classes(t.prediction.classes.get(("flag", f), {}))[:6])
        rows.append(f"<tr><td>flagged</td><td>{_e(f)} <span class=\"muted\">({_e(tt)})</span></td>"
                    f"<td class=\"num\">{_n(n)}</td><td>{cls}</td></tr>")
    return _table(head, rows)


def render_html(r: ProfileResult) -> str:
    parts = ['<header class="page"><div class="kicker">SafeStats migration · legacy audit before the first load'
             f'</div><h1>Legacy profile</h1><p class="muted">{_e(r.source)} · {_e(when(r.generated_at))} · '
             f'{r.seconds:,.1f} s</p></header>']
    total = sum(s.rows for s in r.stages)
    q = sum(n for s in r.stages for (d, _r), n in s.outcomes().items() if d == "quarantine")
    est = sum(s.estimate.seconds for s in r.stages if s.estimate)
    parts.append(f'<p class="lead">{_n(total)} legacy rows in {len(r.stages)} stages; the run is predicted to '
                 f'quarantine {_n(q)} of them; estimated load time {est:,.0f} s.</p>')
    for n in r.notes:
        parts.append(f'<p class="muted">{_e(n)}</p>')
    head = [("stage", ""), ("table", ""), ("rows", "num"), ("load", "num"), ("merged", "num"), ("filtered", "num"),
            ("quarantined", "num"), ("top reasons", ""), ("est. s", "num")]
    parts.append('<h2 id="summary">Predictions</h2>' + _table(head, (
        "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in summary_rows(r))))
    facts = fact_lines(r)
    parts.append('<h2 id="facts">Cross-table facts</h2>' + ("<ul class=\"notes\">" + "".join(
        f"<li>{_e(x)}</li>" for x in facts) + "</ul>" if facts else '<p class="none">Nothing to report.</p>'))
    lines = class_lines(r)
    if lines:
        parts.append('<h2 id="classes">Value classes behind the predictions</h2><ul class="notes">'
                     + "".join(f"<li>{_e(x)}</li>" for x in lines) + "</ul>")
    for s in r.stages:
        parts.append(f'<h2 id="stage-{_e(s.stage)}">{_e(s.stage)} <span class="muted">{_e(s.title)}</span></h2>')
        parts.append(f'<figure class="chart-box">{_stage_chart(s)}</figure>')
        for t in s.tables:
            parts.append(f"<h3>{_e(t.table)} <span class=\"muted\">{_n(t.rows)} rows</span></h3>")
            if t.not_read:
                parts.append(f'<p class="muted">Not read (personal_data.drop): {_e(", ".join(t.not_read))}</p>')
            parts.append(_prediction_table(t))
            parts.append(f"<details><summary>Columns of {_e(t.table)}</summary>{_column_table(t)}"
                         + "".join(f'<figure class="chart-box">{_shape_chart(t.table, c)}</figure>'
                                   for c in t.columns if c.shapes.summary.counts) + "</details>")
    parts.append('<footer class="page">Generated by <code>safestats-migrate profile</code>, read-only, from the '
                 "legacy database and the mapping files. Sensitive columns show counts and shapes only; every "
                 "example passed the identifier scrubber. This file loads nothing from anywhere.</footer>")
    body = '<div class="wrap">' + "".join(parts) + "</div>"
    return scrub(Template(_asset("report.html")).substitute(
        title=_e(f"SafeStats legacy profile · {when(r.generated_at)}"), version=_e(__version__),
        css=_asset("report.css"), js=_asset("report.js"), verdict_class="PASS", body=body))


__all__ = ["class_lines", "fact_lines", "profile_dict", "render_html", "render_json", "summary_rows"]
