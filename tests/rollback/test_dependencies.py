"""Stages that depend on each other (issue 7): refusal naming the dependants, --cascade in
reverse dependency order, `rollback --all`, and the schema downgrade it makes possible."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from migration.mapping.order import parsed_specs
from migration.schema import api, models
from tests.rollback.conftest import assert_exact, exact, rollback_cli, rows, scalar
from tests.steps.conftest import REPO, cli

pytestmark = pytest.mark.postgres

SPECS = parsed_specs(REPO / "mappings")
DEPENDS = {s.stage: set(s.depends_on) for s in SPECS}
INCIDENT_STAGES = ["mps_crime", "lfb_incident", "las_assault", "transport_crime", "istv_assault"]


def undone_in_order(url: URL) -> list[str]:
    return [r.stage for r in rows(url, "SELECT stage FROM ledger.event WHERE kind = 'run_rolled_back' "
                                       "ORDER BY event_id")]


def data_rows(url: URL) -> dict[str, int]:
    """Every table of the data schemas, models or not (nothing of ours may be left anywhere)."""
    tables = [r[0] for r in rows(url, "SELECT schemaname || '.' || tablename FROM pg_tables "
                                      "WHERE schemaname IN ('ref', 'core', 'istv', 'sec') ORDER BY 1")]
    assert {t.fullname for t in models.DATA_TABLES} <= set(tables)
    return {t: scalar(url, f"SELECT count(*) FROM {t}") for t in tables}


def test_a_stage_that_loaded_stages_depend_on_is_refused_naming_them(loaded: URL, legacy: Path) -> None:
    before = exact(loaded)
    out = rollback_cli(["boroughs"], legacy, loaded)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines() == [
        "error: stage boroughs cannot be rolled back: areas, codes, organisations, users, mps_crime, lfb_incident, "
        "las_assault, transport_crime, istv_assault loaded later and depend on it — roll those back first, or add "
        "--cascade to undo them too"]
    out = rollback_cli(["areas"], legacy, loaded)
    assert out.returncode != 0
    assert f"areas cannot be rolled back: {', '.join(INCIDENT_STAGES)} loaded later" in out.stderr
    assert_exact(before, exact(loaded), "a refused rollback changed the target")
    assert undone_in_order(loaded) == []


def test_cascade_undoes_only_the_dependants_first_then_the_stage(loaded: URL, legacy: Path) -> None:
    before = exact(loaded)
    out = rollback_cli(["areas", "--cascade"], legacy, loaded)
    assert out.returncode == 0, out.stderr
    assert undone_in_order(loaded) == list(reversed(INCIDENT_STAGES)) + ["areas"]
    after = exact(loaded)
    gone = {"core.incident", "core.police_crime", "core.fire_incident", "core.ambulance_assault",
            "core.transport_crime", "istv.ed_assault", "ref.ward", "ref.lsoa"}
    assert all(before[t] for t in gone)
    assert {t: len(after[t]) for t in gone} == dict.fromkeys(gone, 0)  # nothing of them left
    # boroughs, codes, organisations and users do not depend on areas: untouched, byte for byte
    assert_exact({t: r for t, r in before.items() if t not in gone},
                 {t: r for t, r in after.items() if t not in gone}, "--cascade touched a stage it should not")


def test_cascade_undoes_dependants_of_dependants_before_them(loaded: URL, legacy: Path) -> None:
    """boroughs: users depend on organisations, the incident stages on areas and codes, all
    of them on boroughs; each stage is undone only after every stage that depends on it."""
    out = rollback_cli(["boroughs", "--cascade"], legacy, loaded)
    assert out.returncode == 0, out.stderr
    order = undone_in_order(loaded)
    assert sorted(order) == sorted(DEPENDS) and order[-1] == "boroughs"
    for stage, deps in DEPENDS.items():
        for dep in deps:
            assert order.index(stage) < order.index(dep), f"{dep} undone before {stage}, which depends on it"
    assert {t: n for t, n in data_rows(loaded).items() if n} == {}


def test_schema_downgrade_refuses_while_stages_are_loaded_and_says_why(loaded: URL, legacy: Path) -> None:
    before = exact(loaded)
    out = cli(["schema", "downgrade", "data@base"], legacy, loaded)
    assert out.returncode != 0
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: refusing to drop the data schemas while data is loaded: ")
    assert "holds rows" in line and "rollback --all" in line and "--force" in line
    assert {r.revision for r in api.current(loaded).applied} == {r.revision for r in api.history() if r.is_head}
    assert_exact(before, exact(loaded), "a refused downgrade changed the target")


def test_rollback_all_empties_every_data_table_keeps_the_audit_trail_and_allows_the_downgrade(
        loaded: URL, legacy: Path) -> None:
    runs = scalar(loaded, "SELECT count(*) FROM ledger.run")
    events = scalar(loaded, "SELECT count(*) FROM ledger.event")
    stage_runs = scalar(loaded, "SELECT count(*) FROM ledger.event WHERE kind = 'stage_started'")
    assert sum(data_rows(loaded).values()) > 30_000

    out = rollback_cli(["--all", "--yes"], legacy, loaded)  # not on a terminal: --yes (issue 14)
    assert out.returncode == 0, out.stderr
    assert {t: n for t, n in data_rows(loaded).items() if n} == {}, "rows of ours left in the data schemas"
    assert rows(loaded, "SELECT tablename FROM pg_tables WHERE schemaname = 'staging'") == []
    # stages in reverse load order, and the audit trail kept: every run, every event, plus the rollbacks
    assert undone_in_order(loaded) == [s.stage for s in reversed(SPECS)]
    assert scalar(loaded, "SELECT count(*) FROM ledger.run") == runs
    assert scalar(loaded, "SELECT count(*) FROM ledger.event") == events + 2 * stage_runs
    states = dict(rows(loaded, "SELECT DISTINCT ON (stage) stage, kind FROM ledger.event WHERE kind IN "
                               "('stage_loaded', 'stage_rolled_back') ORDER BY stage, event_id DESC"))
    assert states == {s.stage: "stage_rolled_back" for s in SPECS}
    assert scalar(loaded, "SELECT count(*) FROM ledger.table_count") > 0

    down = cli(["schema", "downgrade", "data@base"], legacy, loaded)  # no --force
    assert down.returncode == 0, down.stderr
    assert {r.revision for r in api.current(loaded).applied} == {
        r.revision for r in api.history() if r.is_head and r.branch == "ledger"}
    assert scalar(loaded, "SELECT count(*) FROM ledger.run") == runs  # the ledger branch stays
