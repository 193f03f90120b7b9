"""The report against a target loaded by a real run: self-contained HTML, documented JSON,
Markdown for tickets, an honest verdict, and no secret in any output."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from migration.cli import main
from migration.errors import TargetError, UnknownNameError
from migration.report import (
    FAIL,
    INCOMPLETE,
    PASS,
    PASS_WITH_ACCEPTED,
    build_report,
    render_html,
    render_json,
    render_markdown,
    write_reports,
)
from migration.secrets import register_secret
from tests.report.conftest import add_check, pass_everything, reconcile_run, stages_of

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
#: what an offline-safe page must not contain (any URL, remote stylesheet, import or embed)
EXTERNAL = re.compile(r"(?i)https?://|//cdn|@import|<link\b|\bsrc\s*=|url\s*\(|<iframe|<object|<embed")
DOCUMENTED_KEYS = ["format_version", "generated_at", "package_version", "target", "scope", "empty", "verdict",
                   "totals", "stages", "checks", "accounting", "quarantine", "differences", "difference_counts",
                   "charts", "check_details", "notes", "blank_keys", "provenance", "coverage", "exclusions",
                   "signoff", "ledger_head"]


def outputs(report: Any) -> dict[str, str]:
    return {"html": render_html(report), "json": render_json(report), "md": render_markdown(report)}


def test_a_clean_reconciled_target_passes_and_the_html_is_self_contained(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    pass_everything(eng)
    report = build_report(eng)
    assert report.verdict.status == PASS, report.verdict.reasons
    html = render_html(report)
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "<style>" in html and "<svg" in html
    assert ">PASS<" in html
    for stage in stages_of(eng):
        assert f"<strong>{stage}</strong>" in html
    # every accounting number, per table and run, as the ledger holds it
    with eng.connect() as c:
        counts = c.execute(text("SELECT run_id, stage, source_table, rows_read, rows_loaded, rows_merged, "
                                "rows_quarantined, rows_filtered, rows_unchanged FROM ledger.table_count")).all()
    assert counts
    for r in counts:
        row = re.search(rf'<tr class=""><td>{r.stage}</td><td class="num">{r.run_id}</td>'
                        rf'<td class="mono">{r.source_table}</td>(.*?)</tr>', html)
        assert row, r
        numbers = re.findall(r'<td class="num">([\d,]+)</td>', row.group(1))
        assert numbers == [f"{n:,}" for n in (r.rows_read, r.rows_loaded, r.rows_unchanged, r.rows_merged,
                                              r.rows_quarantined, r.rows_filtered)]
        assert "✔ balances" in row.group(1)
    assert report.totals()["rows_read"] == sum(r.rows_read for r in counts)


def test_json_parses_and_has_the_documented_keys(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    pass_everything(eng)
    data = json.loads(render_json(build_report(eng)))
    assert list(data) == DOCUMENTED_KEYS
    runbook = (REPO / "runbooks" / "report.md").read_text()
    for key in DOCUMENTED_KEYS:
        assert f"`{key}`" in runbook, f"{key} is not documented in runbooks/report.md"
    assert data["verdict"] == {"status": "PASS", "label": "PASS", "summary": "PASS: 10 of 10 stages reconciled",
                               "planned": 10, "reconciled": 10, "reasons": []}
    assert {s["stage"] for s in data["stages"]} == set(stages_of(eng))
    assert set(data["stages"][0]) == {"stage", "state", "verdict_state", "planned", "load_run_id", "runs", "loaded_at",
                                      "tables", "rows_read", "rows_loaded", "rows_quarantined", "checks", "verdict",
                                      "reasons", "accepted"}
    assert (data["totals"]["stages_planned"], data["totals"]["stages_reconciled"]) == (10, 10)
    assert set(data["checks"][0]) == {"result_id", "run_id", "stage", "check", "status", "summary", "at", "accepted"}
    assert set(data["accounting"][0]) == {"run_id", "stage", "source_table", "read", "loaded", "unchanged", "merged",
                                          "quarantined", "filtered", "accounted", "difference", "balanced"}
    assert all(a["balanced"] and a["difference"] == 0 for a in data["accounting"])
    assert data["quarantine"] and set(data["quarantine"][0]) == {"stage", "source_table", "reason", "rows",
                                                                 "open_rows", "fields", "runs"}
    assert data["totals"]["rows_quarantined"] == sum(q["rows"] for q in data["quarantine"])
    assert data["charts"] and {"id", "stage", "dimension", "title", "origin", "note", "categories", "series",
                               "differing"} == set(data["charts"][0])


def test_markdown_has_the_verdict_and_the_stage_table(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    add_check(eng, run, "mps_crime", "row_hash", "fail", "1 row differs",
              {"differences": [{"table": "core.incident", "key": {"dataset": "MPS", "source_ref": "R1"},
                                "columns": {"occurred_at": {"source": "2012-03-31T23:30:00Z",
                                                            "target": "2012-04-01T00:30:00Z"}}}]})
    md = render_markdown(build_report(eng))
    assert md.startswith("# Reconciliation report: ❌ **FAIL**")
    assert "| stage | verdict | state | load run | read | loaded | quarantined | checks pass/warn/fail |" in md
    for stage in stages_of(eng):
        assert re.search(rf"^\| {stage} \| (PASS|FAIL) \|", md, re.M), stage
    assert "| mps_crime | row_hash | FAIL | 1 row differs |" in md
    assert "`dataset=MPS, source_ref=R1`" in md and "occurred_at" in md and "2012-04-01T00:30:00Z" in md


def test_one_failing_check_makes_the_verdict_fail_and_is_named(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    add_check(eng, run, "lfb_incident", "control_totals", "fail", "cost off by 1p in 2012-03")
    report = build_report(eng)
    assert report.verdict.status == FAIL
    assert any("lfb_incident: check control_totals FAIL" in r for r in report.verdict.reasons)
    by = {s.stage: s.verdict for s in report.stages}
    assert by["lfb_incident"] == FAIL and by["mps_crime"] == PASS
    html = render_html(report)
    assert '<section class="verdict v-FAIL"' in html and "✖ FAIL" in html


def test_warnings_nothing_checked_and_stale_checks(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    assert build_report(eng).verdict.status == INCOMPLETE  # loaded, never reconciled
    run = pass_everything(eng)
    add_check(eng, run, "istv_assault", "gx_suite", "warn", "2 grid references at the boundary")
    report = build_report(eng)
    assert report.verdict.status == PASS  # warnings pass (exit 0), and are listed
    assert report.verdict.reasons == ("istv_assault: check gx_suite WARN — 2 grid references at the boundary",)
    # a check recorded before the stage's latest run proves nothing about it
    with eng.connect() as c:
        first_run = c.execute(text("SELECT min(run_id) FROM ledger.run")).scalar_one()
    with eng.begin() as c:
        c.execute(text("DELETE FROM ledger.check_result WHERE stage = 'mps_crime'"))
    add_check(eng, first_run, "mps_crime", "accounting", "pass", "recorded before the load")
    report = build_report(eng)
    assert report.verdict.status == INCOMPLETE
    mps = next(s for s in report.stages if s.stage == "mps_crime")
    assert mps.verdict == INCOMPLETE and mps.verdict_state == "stale"
    assert "after its latest checks (run" in mps.reasons[0]
    assert "no reconciliation results since its full run" in mps.reasons[1]


def test_an_accepted_failure_is_a_warning_with_who_and_why(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    add_check(eng, run, "las_assault", "quarantine_rate", "fail", "2.1% quarantined (threshold 2%)")
    with eng.begin() as c:
        c.execute(text("INSERT INTO ledger.event (run_id, stage, kind, actor, detail) VALUES "
                       "(:r, 'las_assault', 'stage_accepted', 'qa.lead@box', CAST(:d AS jsonb))"),
                  dict(r=run, d=json.dumps({"reason": "known bad partner file, ticket SS-42"})))
    report = build_report(eng)
    assert report.verdict.status == PASS_WITH_ACCEPTED
    las = next(s for s in report.stages if s.stage == "las_assault")
    assert las.accepted is not None and las.accepted.by == "qa.lead@box"
    html = render_html(report)
    assert "ACCEPTED" in html and "known bad partner file, ticket SS-42" in html


def test_unbalanced_accounting_is_highlighted_and_fails(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    pass_everything(eng)
    with eng.begin() as c:
        c.execute(text("UPDATE ledger.table_count SET rows_loaded = rows_loaded - 3 "
                       "WHERE source_table = 'tblLFBIncident'"))
    report = build_report(eng)
    assert report.verdict.status == FAIL
    assert any("tblLFBIncident" in r and "off by +3" in r for r in report.verdict.reasons)
    html = render_html(report)
    row = re.search(r'<tr class="unbalanced">(.*?)</tr>', html)
    assert row and "tblLFBIncident" in row.group(1) and "✖ off by +3" in row.group(1)
    md = render_markdown(report)
    assert "**1 table(s) do not balance**" in md and "| lfb_incident | tblLFBIncident |" in md


def test_a_secret_planted_in_check_results_appears_in_no_output(loaded_url: URL, engine_of: Any,
                                                                tmp_path: Path, monkeypatch: Any,
                                                                capsys: Any) -> None:
    secret = "Pw-" + secrets.token_hex(8)
    register_secret(secret)
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    add_check(eng, run, "users", "gx_suite", "fail", f"no password anywhere: found {secret} in sec.app_user",
              {"found": secret, secret: "as a key", "nested": {"values": [secret, f"x{secret}y"]},
               "differences": [{"table": "sec.app_user", "key": {"user_id": 7},
                                "columns": {"login": {"before": secret, "after": "alice"},
                                            "password": {"before": "hunter2", "after": "hunter3"}}}],
               "buckets": [{"month": "2012-01", "borough": secret, "source": 1, "target": 2}]})
    report = build_report(eng)
    assert report.verdict.status == FAIL
    texts = outputs(report)
    for fmt, body in texts.items():
        assert secret not in body, fmt
        assert "hunter2" not in body and "hunter3" not in body, fmt  # masked by column name
    assert "***" in texts["html"]
    monkeypatch.setenv("SAFESTATS_TARGET_URL", loaded_url.render_as_string(hide_password=False))
    assert main(["report", "--out", str(tmp_path)]) == 0
    for p in tmp_path.iterdir():
        assert secret not in p.read_text(), p
    out = capsys.readouterr()
    assert secret not in out.out + out.err


def test_control_totals_and_key_sets_become_differences_and_source_beside_target_charts(
        loaded_url: URL, engine_of: Any) -> None:
    """The shapes migration.reconcile writes: control totals list only the differing buckets, so
    the source side of a chart is the target's count wherever the check found it equal."""
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    with eng.connect() as c:
        rows = c.execute(text(
            "SELECT gss_code, to_char(occurred_at AT TIME ZONE 'Europe/London', 'YYYY-MM') AS m, count(*) AS n "
            "FROM core.incident WHERE dataset = 'LFB' AND occurred_at IS NOT NULL AND gss_code IS NOT NULL "
            "GROUP BY 1, 2 ORDER BY 2, 1")).all()
        la = dict(c.execute(text("SELECT gss_code, name FROM ref.local_authority")).all())
        lfb_run = c.execute(text("SELECT run_id FROM ledger.event WHERE stage = 'lfb_incident' "
                                 "AND kind = 'stage_started'")).scalar_one()
    odd = rows[len(rows) // 2]
    add_check(eng, run, "lfb_incident", "control_totals/incidents_by_borough_month", "fail",
              "core.incident by gss_code, month(occurred_at): 1 difference(s) in 1 bucket",
              {"table": "core.incident", "by": ["gss_code", "month(occurred_at)"], "measures": ["count"],
               "buckets_expected": len(rows), "buckets_target": len(rows), "differing": 1,
               "differences": [{"bucket": {"gss_code": odd.gss_code, "month(occurred_at)": odd.m},
                                "measure": "count", "expected": f"{odd.n + 1:,}", "target": f"{odd.n:,}",
                                "difference": "-1"}],
               "within_tolerance": [], "tolerances": [], "load_run_id": lfb_run})
    add_check(eng, run, "lfb_incident", "keys/core.incident", "fail", "1 missing, 1 duplicated",
              {"table": "core.incident", "key": ["dataset", "source_ref"], "missing": 12, "extra": 0,
               "duplicate": 1, "missing_keys": [{"dataset": "LFB", "source_ref": "LFB-404", "source_key": "404"}],
               "extra_keys": [], "duplicate_keys": [{"dataset": "LFB", "source_ref": "LFB-7", "copies": 2}],
               "load_run_id": lfb_run})
    report = build_report(eng)
    charts = {c.chart_id: c for c in report.charts}
    month, borough = charts["lfb_incident-month"], charts["lfb_incident-borough"]
    assert month.differing == (odd.m,) and borough.differing == (la[odd.gss_code],)
    assert [s.name for s in month.series] == ["source", "target"]
    i = month.categories.index(odd.m)
    assert month.series[0].values[i] == month.series[1].values[i] + 1
    assert sum(v or 0 for v in month.series[0].values) == sum(v or 0 for v in month.series[1].values) + 1
    assert "found equal" in month.origin
    # stages without control totals are drawn from the target alone, and say so
    assert "mps_crime-month-target" in charts and "only the target" in charts["mps_crime-month-target"].note
    diffs = [(d.kind, d.key, d.source_key, d.after) for d in report.differences if d.check == "keys/core.incident"]
    assert diffs == [("missing", "dataset=LFB, source_ref=LFB-404", "404", None),
                     ("duplicate", "dataset=LFB, source_ref=LFB-7", None, "2 rows in the target")]
    assert report.difference_counts["lfb_incident/keys/core.incident"] == {"found": 13, "listed": 2}
    (bucket,) = [d for d in report.differences if d.kind == "bucket"]
    assert bucket.key == f"gss_code={odd.gss_code}, month(occurred_at)={odd.m}" and bucket.column == "count"
    html = render_html(report)
    assert "missing in target" in html and "LFB-404" in html and "— 1 differing bucket</h3>" in html
    assert "13 differences found" in html and "the check kept 2" in html
    assert not EXTERNAL.search(html)


def test_unknown_detail_shapes_are_shown_as_key_values(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    detail = {"suite": "core_incident", "statistics": {"evaluated": 7, "successful": 7},
              "expectations": [{"name": f"e{i}", "success": True} for i in range(4)]}
    add_check(eng, run, "mps_crime", "gx_suite", "pass", "7 of 7 expectations met", detail)
    report = build_report(eng)
    d = next(x for x in report.details if x.check == "gx_suite")
    items = dict(d.items)
    assert items["suite"] == "core_incident" and items["statistics.evaluated"] == "7"
    (table,) = d.tables  # a list of similar objects reads as a table
    assert table.path == "expectations" and table.columns == ("name", "success")
    assert table.rows[3] == ("e3", "true")
    html = render_html(report)
    assert f'id="detail-{d.result_id}"' in html and "statistics.evaluated" in html
    assert '<h4 class="sub">expectations</h4>' in html


def test_a_run_id_reports_that_run_only(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    with eng.connect() as c:
        lfb_run = c.execute(text("SELECT run_id FROM ledger.event WHERE stage = 'lfb_incident' "
                                 "AND kind = 'stage_started'")).scalar_one()
    one = build_report(eng, lfb_run)
    assert [s.stage for s in one.stages] == ["lfb_incident"]
    assert {a.source_table for a in one.accounting} == {"tblLFBIncident"}
    assert one.scope.run_id == lfb_run and one.verdict.status == PASS
    rec = build_report(eng, run)
    assert [s.stage for s in rec.stages] == stages_of(eng) and rec.scope.run_kind == "reconcile"
    with pytest.raises(UnknownNameError, match="run 999999 is not in the ledger"):
        build_report(eng, 999999)


def test_a_target_with_nothing_loaded_says_so(target_url: URL, engine_of: Any, tmp_path: Path) -> None:
    report = build_report(engine_of(target_url))
    assert report.empty and report.verdict.status == INCOMPLETE
    assert report.verdict.reasons == ("nothing has been loaded into this target yet",)
    paths = write_reports(report, tmp_path / "r")
    assert sorted(p.name for p in paths) == ["report.html", "report.json", "report.md"]
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Nothing has been loaded into this target yet" in html and not EXTERNAL.search(html)
    assert json.loads((tmp_path / "r" / "report.json").read_text())["empty"] is True
    assert "Nothing has been loaded into this target yet" in (tmp_path / "r" / "report.md").read_text()


def test_a_target_without_the_ledger_is_refused(pg_url: URL, engine_of: Any) -> None:
    with pytest.raises(TargetError, match="schema upgrade"):
        build_report(engine_of(pg_url))


def test_cli_writes_the_chosen_formats_and_check_gives_the_exit_code(loaded_url: URL, engine_of: Any,
                                                                      tmp_path: Path, monkeypatch: Any,
                                                                      capsys: Any) -> None:
    monkeypatch.setenv("SAFESTATS_TARGET_URL", loaded_url.render_as_string(hide_password=False))
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 0  # INCOMPLETE, but written: exit 0 without --check
    (folder,) = (tmp_path / "reports").iterdir()  # relative to the working folder
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "report.json", "report.md"]
    out = capsys.readouterr()
    assert "INCOMPLETE" in out.out and "report.html" in out.out
    assert "INCOMPLETE: 0 of 10 stages reconciled; 10 never checked" in out.err
    assert main(["report", "--out", "x", "--format", "json", "--check"]) == 3
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["report.json"]
    assert "error: INCOMPLETE: 0 of 10 stages reconciled" in capsys.readouterr().err
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    assert main(["report", "--out", "y", "--format", "md,html", "--check"]) == 0
    add_check(eng, run, "codes", "key_set", "fail", "1 code missing")
    assert main(["report", "--out", "z", "--check"]) == 1
    assert main(["report", "--format", "pdf"]) == 2  # usage (runbooks/README.md: exit codes)
    assert "unknown report format(s): pdf" in capsys.readouterr().err
    assert main(["report", "424242"]) == 2  # an unknown run
    assert "run 424242 is not in the ledger" in capsys.readouterr().err


def _event(eng: Any, run_id: int | None, stage: str, kind: str, detail: dict[str, Any] | None = None) -> None:
    with eng.begin() as c:
        c.execute(text("INSERT INTO ledger.event (run_id, stage, kind, actor, detail) "
                       "VALUES (:r, :s, :k, 'test', CAST(:d AS jsonb))"),
                  dict(r=run_id, s=stage, k=kind, d=json.dumps(detail or {})))


def test_a_delta_after_the_checks_makes_them_stale_and_adds_its_accounting(loaded_url: URL, engine_of: Any) -> None:
    """What is in the target is the last full load plus the deltas since; checks older than the
    latest of them prove nothing (events as migration.steps.delta writes them)."""
    eng = engine_of(loaded_url)
    pass_everything(eng)
    with eng.begin() as c:
        full = c.execute(text("SELECT run_id FROM ledger.event WHERE stage = 'las_assault' "
                              "AND kind = 'stage_started'")).scalar_one()
        delta = c.execute(text("INSERT INTO ledger.run (kind, actor, host, pid, package_version, options) VALUES "
                               "('delta', 'test', 'test', 1, 'test', '{\"stage\": \"las_assault\"}') "
                               "RETURNING run_id")).scalar_one()
        c.execute(text("INSERT INTO ledger.table_count (run_id, stage, source_table, rows_read, rows_loaded, "
                       "rows_merged, rows_quarantined, rows_filtered, rows_unchanged) "
                       "VALUES (:r, 'las_assault', 'tblLASAssault', 30, 4, 0, 1, 0, 25)"), dict(r=delta))
    _event(eng, delta, "las_assault", "delta_started", {"base_run": full})
    _event(eng, delta, "las_assault", "delta_loaded", {})
    report = build_report(eng)
    las = next(s for s in report.stages if s.stage == "las_assault")
    assert las.runs == (full, delta) and las.load_run_id == delta
    assert las.verdict == INCOMPLETE and las.verdict_state == "stale"
    assert f"the delta run {delta} wrote to it" in las.reasons[0] and "since its delta run" in las.reasons[1]
    assert [a.run_id for a in report.accounting if a.stage == "las_assault"] == [full, delta]
    assert not [c for c in report.checks if c.stage == "las_assault"]  # all older than the delta
    run = reconcile_run(eng)
    add_check(eng, run, "las_assault", "keys/core.incident", "pass", "all keys match", {"load_run_id": delta})
    assert next(s for s in build_report(eng).stages if s.stage == "las_assault").verdict == PASS
    only = build_report(eng, delta)
    assert [s.stage for s in only.stages] == ["las_assault"] and [a.run_id for a in only.accounting] == [delta]


def test_a_stage_rolled_back_entirely_makes_the_migration_incomplete(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    pass_everything(eng)
    with eng.connect() as c:
        lfb = c.execute(text("SELECT run_id FROM ledger.event WHERE stage = 'lfb_incident' "
                             "AND kind = 'stage_started'")).scalar_one()
    _event(eng, None, "lfb_incident", "run_rolled_back", {"run_id": lfb, "members": [lfb]})
    _event(eng, lfb, "lfb_incident", "stage_rolled_back", {"run_id": lfb})
    report = build_report(eng)
    lfb_stage = next(s for s in report.stages if s.stage == "lfb_incident")
    assert lfb_stage.verdict == INCOMPLETE and lfb_stage.verdict_state == "rolled_back" and lfb_stage.runs == ()
    assert not [a for a in report.accounting if a.stage == "lfb_incident"]
    # the other stages pass, but a planned stage is not in the target: nothing is migrated for it
    assert report.verdict.status == INCOMPLETE
    assert report.verdict.summary == "INCOMPLETE: 9 of 10 stages reconciled; lfb_incident rolled back"
    assert "rolled back" in render_html(report)


def test_check_on_a_target_with_only_boroughs_loaded_is_incomplete_and_lists_every_planned_stage(
        legacy_sqlite: Path, target_url: URL, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    """Issue 10: `report --check` on a target where only `boroughs` was loaded said PASS, exit 0."""
    from migration.console import RecordingConsole
    from migration.plan.execute import Orchestrator
    from tests.steps.conftest import settings_for

    runner = Orchestrator(settings_for(legacy_sqlite, target_url), RecordingConsole())  # the gate reconciles it
    try:
        runner.run(["boroughs"])
    finally:
        runner.close()
    monkeypatch.setenv("SAFESTATS_TARGET_URL", target_url.render_as_string(hide_password=False))
    monkeypatch.delenv("SAFESTATS_MAPPINGS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # the shipped mapping files say what is planned, from any folder
    assert main(["report", "--out", "r", "--check"]) == 3
    err = capsys.readouterr().err
    assert "INCOMPLETE: 1 of 10 stages reconciled; 9 not started" in err
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["verdict"]["status"] == "INCOMPLETE" and data["verdict"]["planned"] == 10
    stages = {s["stage"]: (s["verdict"], s["verdict_state"]) for s in data["stages"]}
    assert len(stages) == 10 and stages["boroughs"] == ("PASS", "reconciled")
    assert stages["istv_assault"] == ("INCOMPLETE", "not_started")
    html = (tmp_path / "r" / "report.html").read_text()
    assert "INCOMPLETE: 1 of 10 stages reconciled" in html and "1 / 10" in html and "istv_assault" in html
    md = (tmp_path / "r" / "report.md").read_text()
    assert "**INCOMPLETE: 1 of 10 stages reconciled; 9 not started**" in md and "| istv_assault |" in md
