"""The plan: stages in run order, with what `run` would do; `safestats-migrate plan [--json]`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from migration.cli import main
from migration.errors import MappingError, SourceError, UnknownNameError
from migration.mapping.loader import files_hash, mapping_files
from migration.mapping.spec import StageSpec
from migration.plan import (
    Plan,
    StageStatus,
    build_plan,
    explain,
    plan_rows,
    plan_to_dict,
    prepare_plan,
    stage_order,
)
from migration.plan.estimate import count_source_rows

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "mapping" / "broken"
SHIPPED = REPO / "mappings"


def _stage(name: str, file: str, depends_on: list[str] | None = None, table: str | None = None,
           seeds: list[dict[str, Any]] | None = None) -> StageSpec:
    """A small stage: one legacy table into ref.code_value (its content does not matter here)."""
    data: dict[str, Any] = {"stage": name, "title": f"Stage {name}", "depends_on": depends_on or [],
                            "seeds": seeds or []}
    if table:
        data["tables"] = [{
            "source": {"table": table, "key": "ID", "columns": ["ID", "Code"]},
            "business_key": {"columns": "ID"},
            "targets": {"ref.code_value": {"columns": {
                "code_system": {"const": name.upper()}, "code": {"from": "Code"}, "label": {"from": "ID"}}}},
        }]
    return StageSpec.model_validate(data).model_copy(update={"file": f"mappings/{file}"})


def _specs() -> list[StageSpec]:
    return [
        _stage("facts", "50_facts.yaml", ["codes", "areas"], table="tblFacts"),
        _stage("codes", "30_codes.yaml", ["boroughs"], table="tblCodes"),
        _stage("areas", "20_areas.yaml", ["boroughs"], table="tblAreas"),
        _stage("boroughs", "10_boroughs.yaml", table="tblBorough",
               seeds=[{"file": "la.csv", "target": "ref.la_alias", "columns": {"alias_norm": "a", "gss_code": "g"}}]),
        _stage("users", "40_users.yaml", table="tblUser"),
    ]


# --------------------------------------------------------------------------- order


def test_order_is_dependencies_first_then_file_name() -> None:
    assert [s.stage for s in stage_order(_specs())] == ["boroughs", "areas", "codes", "users", "facts"]
    # the file name decides where the dependencies leave the order open, not the list order
    assert [s.stage for s in stage_order(reversed(_specs()))] == ["boroughs", "areas", "codes", "users", "facts"]


def test_a_cycle_or_an_unknown_dependency_is_a_mapping_error() -> None:
    with pytest.raises(MappingError) as err:
        stage_order([_stage("a", "a.yaml", ["b"]), _stage("b", "b.yaml", ["a"])])
    assert err.value.problems == ["stage dependency cycle: a → b → a"]
    with pytest.raises(MappingError) as err:
        stage_order([_stage("a", "a.yaml", ["nowhere"])])
    assert err.value.problems == ["mappings/a.yaml: stage a depends on unknown stage nowhere"]


# --------------------------------------------------------------------------- actions


def test_a_fresh_target_loads_every_stage_in_order() -> None:
    plan = build_plan(_specs())
    assert [(s.position, s.stage, s.action) for s in plan.stages] == [
        (1, "boroughs", "load"), (2, "areas", "load"), (3, "codes", "load"), (4, "users", "load"), (5, "facts", "load")]
    boroughs = plan.stage("boroughs")
    assert boroughs.seeds == ("ref.la_alias",)
    assert boroughs.target_tables == ("ref.la_alias", "ref.code_value")
    assert boroughs.tables[0].table == "tblBorough" and boroughs.tables[0].estimated_rows is None
    assert plan.estimated_rows is None and boroughs.estimated_rows is None


def test_the_ledger_state_decides_skip_resume_and_blocked() -> None:
    status = [
        StageStatus("boroughs", "loaded", run_id=3, mapping_hash="h1"),
        StageStatus("areas", "failed", run_id=4, mapping_hash="h1"),
        StageStatus("codes", "running", run_id=5, mapping_hash="h0"),
        StageStatus("users", "rolled_back", run_id=6),
    ]
    plan = build_plan(_specs(), stage_status=status, mapping_hash="h1")
    got = {s.stage: (s.action, s.reason) for s in plan.stages}
    assert got["boroughs"] == ("reconcile", "loaded by run 3, not reconciled yet")  # its gate never ran
    assert got["areas"] == ("resume", "run 4 (failed) from its last committed chunk")
    assert got["codes"][0] == "blocked" and "started with other mapping files" in got["codes"][1]
    assert got["users"] == ("load", "rolled back before")
    assert got["facts"] == ("blocked", "waits for codes")
    assert plan.stage("facts").action_text == "blocked: waits for codes"
    # a loaded stage whose mapping changed since is still skipped, and says so
    changed = build_plan(_specs(), stage_status=status, mapping_hash="h2").stage("boroughs")
    assert changed.action == "skip" and "mapping files changed since" in changed.reason
    # with the gate off (`run --no-reconcile`) a loaded stage is simply skipped
    ungated = build_plan(_specs(), stage_status=status, mapping_hash="h1", gate=False)
    assert (ungated.stage("boroughs").action, ungated.stage("boroughs").reason) == ("skip", "loaded by run 3")


def test_only_some_stages_blocks_those_whose_dependencies_do_not_run() -> None:
    plan = build_plan(_specs(), only=["codes", "facts"])
    got = {s.stage: (s.action, s.reason) for s in plan.stages}
    assert got["boroughs"] == ("skip", "not selected")
    assert got["codes"] == ("blocked", "waits for boroughs")
    assert got["facts"] == ("blocked", "waits for codes, areas")
    loaded = [StageStatus("boroughs", "reconciled", 1), StageStatus("areas", "accepted", 2)]
    plan = build_plan(_specs(), only=["codes", "facts"], stage_status=loaded)
    assert [(s.stage, s.action) for s in plan.stages if s.writes] == [("codes", "load"), ("facts", "load")]
    with pytest.raises(UnknownNameError, match="unknown stage"):
        build_plan(_specs(), only=["nope"])


def test_explain_and_json_describe_the_same_plan() -> None:
    counts = {"TBLBORough": 35, "tblAreas": 1200, "tblCodes": 80, "tblUser": 310, "tblFacts": 1_000_000}
    plan = build_plan(_specs(), source_counts=counts, source="sqlite:///legacy.db",
                      stage_status=[StageStatus("boroughs", "loaded", 9)])
    assert plan.stage("facts").estimated_rows == 1_000_000
    assert plan.estimated_rows == 1200 + 80 + 310 + 1_000_000  # the skipped stage reads nothing
    lines = explain(plan)
    assert lines[0] == ("1. boroughs — Stage boroughs: would reconcile (loaded by run 9, not reconciled yet): seed "
                        "ref.la_alias from the "
                        "reference files; tblBorough (35 rows) → ref.code_value")
    assert lines[-1] == "4 of 5 stage(s) would write; 1,001,590 source rows in all (from sqlite:///legacy.db)"
    rows = plan_rows(plan)
    assert rows[4] == ("5", "facts", "tblFacts → ref.code_value", "codes, areas", "1,000,000", "fresh", "load")
    data = json.loads(json.dumps(plan_to_dict(plan)))
    assert [s["stage"] for s in data["stages"]] == ["boroughs", "areas", "codes", "users", "facts"]
    assert data["schema_version"] == 1
    assert data["stages"][0] == {"stage": "boroughs", "state": "loaded", "action": "reconcile",
                                 "reason": "loaded by run 9, not reconciled yet", "depends_on": [], "estimate": 35}
    assert data["stages"][4] == {"stage": "facts", "state": "fresh", "action": "load", "reason": "",
                                 "depends_on": ["codes", "areas"], "estimate": 1_000_000}


# --------------------------------------------------------------------------- the live source


def _legacy(path: Path, tables: dict[str, int]) -> str:
    conn = sqlite3.connect(path)
    for name, n in tables.items():
        conn.execute(f'CREATE TABLE "{name}" (ID INTEGER PRIMARY KEY, Code TEXT)')
        conn.executemany(f'INSERT INTO "{name}" (Code) VALUES (?)', [(str(i),) for i in range(n)])
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def test_source_rows_are_counted_read_only(tmp_path: Path) -> None:
    url = make_url(_legacy(tmp_path / "legacy.db", {"tblLookupCode": 3, "tblLASAssault": 7}))
    before = (tmp_path / "legacy.db").read_bytes()
    counts = count_source_rows(url, ["TBLLOOKUPCODE", "tblLASAssault", "tblMissing"])
    assert counts.rows == {"TBLLOOKUPCODE": 3, "tblLASAssault": 7}
    assert counts.missing == ("tblMissing",)
    assert (tmp_path / "legacy.db").read_bytes() == before
    with pytest.raises(SourceError, match="does not exist"):
        count_source_rows(make_url(f"sqlite:///{tmp_path / 'none.db'}"), ["x"])


def _mappings(tmp_path: Path) -> Path:
    """Two valid stages: codes, then las (which depends on it)."""
    d = tmp_path / "mappings"
    d.mkdir()
    (d / "10_codes.yaml").write_text((BROKEN / "duplicate_stage" / "a_codes.yaml").read_text(encoding="utf-8"),
                                     encoding="utf-8")
    las = (BROKEN / "las_valid.yaml").read_text(encoding="utf-8").replace("dataset: LAS",
                                                                           "dataset: LAS\ndepends_on: [codes]")
    (d / "05_las.yaml").write_text(las, encoding="utf-8")
    return d


def test_prepare_plan_validates_counts_and_orders(tmp_path: Path) -> None:
    d = _mappings(tmp_path)
    url = make_url(_legacy(tmp_path / "legacy.db", {"tblLookupCode": 4}))
    plan = prepare_plan(d, source_url=url)
    assert isinstance(plan, Plan)
    assert [s.stage for s in plan.stages] == ["codes", "las"]  # the dependency beats the file name
    assert plan.stage("codes").estimated_rows == 4
    assert plan.stage("las").estimated_rows is None and plan.missing_source_tables == ("tblLASAssault",)
    assert plan.mapping_hash == files_hash(mapping_files(d))
    assert plan.source == str(url)
    (d / "20_broken.yaml").write_text((BROKEN / "unknown_transform.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(MappingError) as err:
        prepare_plan(d)
    assert any("unknown transform 'clean_txt'" in p for p in err.value.problems)
    with pytest.raises(MappingError, match="problem"):
        prepare_plan(tmp_path / "empty")


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SAFESTATS_SOURCE_URL", "SAFESTATS_TARGET_URL", "SAFESTATS_CONFIG", "SAFESTATS_MAPPINGS_DIR",
                 "SAFESTATS_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("_clean_env")
def test_cli_plan_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _mappings(tmp_path)
    url = _legacy(tmp_path / "legacy.db", {"tblLookupCode": 2, "tblLASAssault": 5})
    before = (tmp_path / "legacy.db").read_bytes()
    assert main(["--mappings", str(d), "--source", url, "plan", "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)  # the JSON alone on stdout
    assert set(data) == {"schema_version", "stages"} and data["schema_version"] == 1
    assert all(set(s) == {"stage", "state", "action", "reason", "depends_on", "estimate"} for s in data["stages"])
    assert [(s["stage"], s["depends_on"], s["estimate"], s["state"], s["action"]) for s in data["stages"]] == [
        ("codes", [], 2, "fresh", "load"), ("las", ["codes"], 5, "fresh", "load")]
    assert "no target database is configured" in err  # and it says so, on stderr
    assert (tmp_path / "legacy.db").read_bytes() == before  # plan touches nothing


@pytest.mark.usefixtures("_clean_env")
def test_cli_plan_renders_a_table_and_selects_stages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _mappings(tmp_path)
    assert main(["--log-json", "--mappings", str(d), "plan", "--stage", "las"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    table = next(r for r in records if r["message"] == "Migration plan")
    assert table["columns"] == ["#", "stage", "legacy → target", "depends on", "source rows", "state", "action"]
    assert table["rows"][1] == ["2", "las", "tblLASAssault → core.incident, core.ambulance_assault", "codes", "?",
                                "fresh", "blocked: waits for codes"]
    assert records[-1]["message"] == "0 of 2 stage(s) would write; no target read: every stage is shown as fresh"
    assert main(["--mappings", str(d), "plan", "--stage", "nope"]) == 2  # usage: an unknown stage
    assert "unknown stage(s): nope" in capsys.readouterr().err


@pytest.mark.usefixtures("_clean_env")
def test_cli_plan_refuses_invalid_mappings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _mappings(tmp_path)
    (d / "30_cycle.yaml").write_text((BROKEN / "derive_cycle.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["--mappings", str(d), "plan"]) == 1
    err = capsys.readouterr().err
    assert "problem(s) in the mapping files" in err and "mappings validate" in err


@pytest.mark.usefixtures("_clean_env")
def test_cli_plan_renders_the_shipped_mappings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mappings", str(SHIPPED), "plan", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    stages = [s["stage"] for s in data["stages"]]
    assert len(stages) == len(mapping_files(SHIPPED))
    for s in data["stages"]:  # every dependency comes first
        assert all(stages.index(d) < stages.index(s["stage"]) for d in s["depends_on"])
    assert all(s["action"] == "load" for s in data["stages"])
