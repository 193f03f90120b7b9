"""Reading check details, drawing charts and rendering, without a database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from migration.errors import SafeStatsError
from migration.report import details as dt
from migration.report import parse_formats, render_html, render_json, render_markdown
from migration.report.build import _bucket_charts, _month_axis, _overall
from migration.report.model import (
    FAIL,
    INCOMPLETE,
    PASS,
    PASS_WITH_ACCEPTED,
    AccountingRow,
    Chart,
    CheckRow,
    Report,
    Scope,
    Series,
    StageSummary,
    Verdict,
)
from migration.report.svg import grouped_bars, nice_ticks
from migration.secrets import MASK, register_secret

AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("item", [
    {"key": {"dataset": "MPS", "source_ref": "A1"}, "columns": {"occurred_at": {"before": "x", "after": "y"}}},
    {"key": {"dataset": "MPS", "source_ref": "A1"}, "columns": {"occurred_at": {"expected": "x", "actual": "y"}}},
    {"key": ["MPS", "A1"], "columns": [{"column": "occurred_at", "source": "x", "target": "y"}]},
    {"dataset": "MPS", "source_ref": "A1", "column": "occurred_at", "before": "x", "after": "y"},
    {"key": {"dataset": "MPS", "source_ref": "A1"}, "values": {"occurred_at": ["x", "y"]}},
])
def test_differing_rows_are_read_in_every_usual_spelling(item: dict) -> None:
    found = dt.find_differences("mps_crime", "row_hash/core.incident", {"differences": [item], "compared": 10})
    (d,) = found.differences
    assert (d.kind, d.column, d.before, d.after) == ("changed", "occurred_at", "x", "y")
    assert d.key in ("dataset=MPS, source_ref=A1", "MPS / A1")
    assert found.consumed == {"differences"} and (found.found, found.listed) == (1, 1)


def test_key_lists_per_table_and_declared_totals() -> None:
    detail = {"tables": {"core.incident": {"missing": ["A", "B"], "missing_total": 40, "extra": [{"key": "Z"}]}},
              "load_run_id": 7}
    found = dt.find_differences("s", "keys", detail)
    assert [(d.kind, d.key, d.table) for d in found.differences] == [
        ("missing", "A", "core.incident"), ("missing", "B", "core.incident"), ("extra", "Z", "core.incident")]
    assert (found.found, found.listed) == (41, 3)


def test_sensitive_columns_and_registered_secrets_are_masked() -> None:
    register_secret("s3cr3t-value-xyz")
    found = dt.find_differences("users", "row_hash", {"differences": [
        {"key": 1, "columns": {"password": {"before": "a", "after": "b"}, "email": ["p@q", "r@s"],
                               "login": {"before": "s3cr3t-value-xyz", "after": "bob"}}}]})
    by = {d.column: (d.before, d.after) for d in found.differences}
    assert by["password"] == (MASK, MASK) and by["email"] == (MASK, MASK)
    assert by["login"] == (MASK, "bob")
    cleaned = dt.clean({"nhs_number": "485 777 3456", "note": "s3cr3t-value-xyz", "s3cr3t-value-xyz": 1,
                        "nested": [{"api_key": "k"}]})
    assert "s3cr3t-value-xyz" not in json.dumps(cleaned) and "485 777 3456" not in json.dumps(cleaned)
    assert dt.clean_text("x" * 500).endswith("…") and len(dt.clean_text("x" * 500)) == dt.MAX_VALUE_CHARS


def test_buckets_in_the_shapes_control_totals_write() -> None:
    rows, consumed = dt.find_buckets({"buckets": [
        {"bucket": {"gss_code": "E09000001", "month(occurred_at)": "2012-03"},
         "source": {"count": 3, "min(occurred_at)": "2012-03-01"}, "target": {"count": 2}},
        {"gss_code": "E09000002", "month": "2012-04-01", "source_count": 5, "target_count": 5, "diff": 0},
    ], "tolerances": []})
    assert consumed == {"buckets"}
    assert rows[0].dims == {"borough": "E09000001", "month": "2012-03"} and (rows[0].source, rows[0].target) == (3, 2)
    assert rows[1].dims == {"borough": "E09000002", "month": "2012-04-01"} and rows[1].source == 5
    by_month, _ = dt.find_buckets({"by_month": {"2012-01": {"source": 1, "target": 1},
                                                "2012-03": {"source": 4, "target": 3}}})
    assert [(b.dims, b.source, b.target) for b in by_month] == [({"month": "2012-01"}, 1, 1),
                                                                ({"month": "2012-03"}, 4, 3)]


def test_bucket_charts_fill_month_gaps_and_name_boroughs() -> None:
    check = CheckRow(1, 9, "lfb_incident", "control_totals/by_borough_month", "fail", "", AT)
    rows, _ = dt.find_buckets({"buckets": [
        {"gss_code": "E09000001", "month": "2012-01", "source": 2, "target": 2},
        {"gss_code": "E09000001", "month": "2012-03", "source": 4, "target": 3},
        {"gss_code": None, "month": None, "source": 1, "target": 1}]})
    month, borough = _bucket_charts("lfb_incident", check, rows, {"E09000001": "City of London"})
    assert month.categories == ("2012-01", "2012-02", "2012-03", "(none)")
    assert month.series[0].values == (2, 0, 4, 1) and month.differing == ("2012-03",)
    assert borough.categories == ("City of London", "(none)") and borough.differing == ("City of London",)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", month.chart_id)
    assert _month_axis({"2011-11": 1, "2012-02": 1}) == ["2011-11", "2011-12", "2012-01", "2012-02"]


def test_unknown_details_flatten_to_key_values() -> None:
    items, tables, left = dt.flatten({"seconds": 0.5, "a": {"b": 1, "c": [1, 2, 3]}, "d": [{"e": None}],
                                      "token": "t0k", "skip": 1, "missing_keys": [],
                                      "rows": [{"x": 1, "password": "p"}, {"x": 2, "y": [3, 4]}]}, skip={"skip"})
    assert items == [("a.b", "1"), ("a.c", "1, 2, 3"), ("d[0].e", ""), ("token", MASK), ("seconds", "0.5")]
    (table,) = tables
    assert (table.path, table.columns, table.rows) == ("rows", ("x", "password", "y"),
                                                       (("1", MASK, ""), ("2", "", "3, 4")))
    many, _, left = dt.flatten({f"k{i}": i for i in range(80)}, skip=set())
    assert len(many) == 60 and left == 20 and many[2] == ("k2", "2")  # natural order, not k10 after k1


def test_svg_chart_is_inline_and_marks_differences() -> None:
    chart = Chart("c1", "s", "month", "t", "o", ("2012-01", "2012-02"),
                  (Series("source", (1, 5)), Series("target", (1, 4))))
    svg = grouped_bars(chart)
    assert svg.startswith("<svg") and "http" not in svg and "href" not in svg
    assert "2012-02 · source: 5" in svg and "source and target differ" in svg
    assert nice_ticks(0) == [0, 1] and nice_ticks(97)[-1] >= 97 and nice_ticks(12_345)[1] in (2000, 2500, 3000)


def _stage(name: str, verdict: str, reasons: tuple[str, ...] = ()) -> StageSummary:
    return StageSummary(name, "loaded", 1, AT, ("t",), 1, 1, 0, {}, verdict, reasons)


def test_the_verdict_of_a_run_report_is_the_worst_stage() -> None:
    assert _overall([]).status == INCOMPLETE
    assert _overall([_stage("a", PASS), _stage("b", PASS)]).status == PASS
    assert _overall([_stage("a", PASS), _stage("b", PASS_WITH_ACCEPTED, ("w",))]).status == PASS_WITH_ACCEPTED
    v = _overall([_stage("a", FAIL, ("f",)), _stage("b", INCOMPLETE, ("n",)), _stage("c", PASS)])
    assert v.status == FAIL and v.reasons == ("f", "n") and (v.planned, v.reconciled) == (3, 1)
    assert _overall([_stage("c", INCOMPLETE, ("rolled back",))]).status == INCOMPLETE


def test_parse_formats() -> None:
    assert parse_formats("html, JSON,markdown,html") == ["html", "json", "md"]
    with pytest.raises(SafeStatsError, match="pdf, doc"):
        parse_formats("pdf,html,doc")
    with pytest.raises(SafeStatsError):
        parse_formats(" , ")


def test_renderers_escape_what_they_are_given() -> None:
    hostile = '<script>alert(1)</script>|x see https://cdn.example.org/x.js'
    report = Report(
        generated_at=AT, target="postgresql://u@h/db", package_version="1", scope=Scope(None, None, "now"),
        verdict=Verdict(FAIL, (hostile,)), stages=(_stage("s", FAIL, (hostile,)),),
        checks=(CheckRow(1, 2, "s", "c", "fail", hostile, AT),),
        accounting=(AccountingRow(2, "s", "tbl", 10, 8, 0, 0, 1, 0),), quarantine=(), differences=(),
        difference_counts={}, charts=(), details=())
    html = render_html(report)
    assert hostile not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "https://" not in html and "//cdn" not in html  # a quoted URL is text, never a reference
    assert html.count("<script>") == 1  # only the report's own inline script
    assert "✖ off by +1" in html
    md = render_markdown(report)
    assert "\\|x" in md
    assert json.loads(render_json(report))["accounting"][0]["difference"] == 1
