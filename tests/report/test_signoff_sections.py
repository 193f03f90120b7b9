"""The sign-off sections of the report: provenance, coverage and exclusions (issue 14)."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL

from migration.mapping.order import parsed_specs
from migration.report import build_report, render_html, render_json, render_markdown
from migration.settings import shipped_dir
from tests.report.conftest import add_check, pass_everything

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)|@import|url\(\s*["']?(?:https?:|//)""", re.I)


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0].split("\n_Sensitive fields", 1)[0]


def test_provenance_coverage_and_exclusions_in_every_format(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    # a row-hash check over every row of a table, and its key set (which gives the rows in scope)
    add_check(eng, run, "boroughs", "key_set/core.borough", "pass", "all keys match",
              {"table": "core.borough", "key": ["code"], "expected_rows": 33, "target_rows": 33})
    add_check(eng, run, "boroughs", "row_hash/core.borough", "pass", "no row differs",
              {"table": "core.borough", "key": ["code"], "columns": ["name", "gss_code"], "compared_rows": 33,
               "changed": 0})
    with eng.begin() as c:
        c.execute(text("INSERT INTO ledger.event (kind, actor, detail) VALUES ('legacy_fingerprint', 'ops@box', "
                       "CAST(:d AS jsonb))"),
                  dict(d=json.dumps({"hash": "abc123def4567890", "recorded_by": "ops@box",
                                     "fingerprint": {"dialect": "mssql", "hash": "abc123def4567890"}})))
        loaders = c.execute(text("SELECT DISTINCT actor FROM ledger.run WHERE kind = 'full'")).scalars()
        loaders = sorted(loaders)
        filtered = c.execute(text("SELECT count(*) FROM ledger.disposition WHERE rolled_back_at IS NULL "
                                  "AND disposition IN ('filter', 'merged')")).scalar_one()
    specs = parsed_specs(shipped_dir("mappings"))
    report = build_report(eng, planned=[s.stage for s in specs], specs=specs)
    pack = report.signoff
    assert pack is not None

    # provenance: who loaded (user@host from ledger.run), who checked, the fingerprint, the mapping hash
    assert loaders and {o.who for o in pack.provenance.loads} == set(loaders)
    assert {o.who for o in pack.provenance.checks} == {"qa@test"}  # reconcile_run: actor 'qa@test', host 'test'
    assert pack.provenance.fingerprint == "abc123def4567890" and pack.provenance.server == "mssql"
    assert all("@" not in s.split("//", 1)[-1].split("/", 1)[0] or ":" not in s.split("//", 1)[-1].split("@")[0]
               for s in pack.provenance.sources)  # never a password in a URL

    # coverage: 33 of 33 rows compared (100%), the columns compared, the not_migrated columns with reasons
    rh = next(c for c in pack.coverage if c.check == "row_hash/core.borough")
    assert (rh.rows_compared, rh.rows_in_scope, rh.percent) == (33, 33, 100.0)
    assert rh.columns == ("name", "gss_code")
    expected_nm = {(s.stage, t.source.table, col) for s in specs for t in s.tables for col in t.not_migrated
                   if s.stage in {x.stage for x in report.stages}}
    assert {(n.stage, n.source_table, n.column) for n in pack.not_compared} == expected_nm and expected_nm

    # exclusions: the disposition rows (filters, merges) with counts, and quarantine by reason
    assert sum(e.rows for e in pack.exclusions if e.kind in ("filter", "merged")) == filtered
    assert sum(e.rows for e in pack.exclusions if e.kind == "quarantine") == sum(q.rows for q in report.quarantine)

    md = render_markdown(report)
    for title in ("Provenance", "Coverage", "Exclusions"):
        body = _section(md, title)
        assert body.strip(), title
        too_long = [ln for ln in body.splitlines() if len(ln) > 80]
        assert not too_long, too_long
    assert "33 of 33 rows (100.0%)" in _section(md, "Coverage")
    assert "abc123def4567890" in _section(md, "Provenance") and loaders[0] in _section(md, "Provenance")

    html = render_html(report)
    assert 'id="provenance"' in html and 'id="coverage"' in html and 'id="exclusions"' in html
    assert not EXTERNAL.search(html)
    data = json.loads(render_json(report))
    assert data["provenance"]["schema_fingerprint"] == "abc123def4567890"
    assert data["coverage"]["checks"][0]["stage"] and data["exclusions"]["decisions_recorded"] is True
    row = next(c for c in data["coverage"]["checks"] if c["check"] == "row_hash/core.borough")
    assert row["percent"] == 100.0


def test_quarantine_decisions_and_accepted_exceptions_name_who_and_why(loaded_url: URL, engine_of: Any) -> None:
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    add_check(eng, run, "las_assault", "quarantine_rate", "fail", "2.1% quarantined (threshold 2%)")
    with eng.begin() as c:
        c.execute(text("INSERT INTO ledger.event (run_id, stage, kind, actor, detail) VALUES "
                       "(:r, 'las_assault', 'stage_accepted', 'qa.lead@box', CAST(:d AS jsonb))"),
                  dict(r=run, d=json.dumps({"reason": "known bad partner file, ticket SS-42"})))
        c.execute(text("INSERT INTO ledger.quarantine_decision (decision, note, actor, stage, reason_code, "
                       "record_count, quarantine_ids) VALUES ('accept-loss', 'duplicates of SS-7', 'dpo@box', "
                       "'las_assault', 'bad_date', 2, ARRAY[1, 2]::bigint[])"))
    report = build_report(eng)
    assert report.signoff is not None
    (dec,) = report.signoff.decisions
    assert (dec.decision, dec.who, dec.rows, dec.note) == ("accept-loss", "dpo@box", 2, "duplicates of SS-7")
    (acc,) = report.signoff.accepted
    assert (acc.stage, acc.who, acc.why) == ("las_assault", "qa.lead@box", "known bad partner file, ticket SS-42")
    md = _section(render_markdown(report), "Exclusions")
    assert "accept-loss" in md and "dpo@box" in md and "known bad partner file" in md
