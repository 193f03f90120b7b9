"""Rolling back a FULL run with other stages' rows in the same tables (issue 7).

Every stage is loaded, so core.incident holds police, fire, ambulance, transport and ISTV
incidents side by side.  `safestats-migrate rollback lfb_incident` must remove exactly the
fire incidents and leave every other row — surrogate key, load_run_id and every value —
as it was.  A TRUNCATE of the LFB stage's tables fails this check (shown below on a copy),
because core.incident is shared.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from migration.console import RecordingConsole
from migration.ledger.books import actor
from migration.plan.execute import Orchestrator
from tests.rollback.conftest import (
    Exact,
    Targets,
    assert_exact,
    engine,
    exact,
    rollback_api,
    rollback_cli,
    rows,
    scalar,
    stage_run,
)
from tests.steps.conftest import settings_for, snapshot

pytestmark = pytest.mark.postgres

OTHER_DATASETS = ("MPS", "LAS", "TRANSPORT", "ISTV")


@dataclass
class Scenario:
    url: URL
    run_id: int
    before: Exact
    lfb_keys: set[str]                       # printed primary keys of the LFB incidents
    incidents_before: dict[str, list[int]]   # dataset → incident_ids
    dry: subprocess.CompletedProcess[str]
    after_dry: Exact
    events_before: int
    events_after_dry: int
    started: Any                             # database clock around the rollback
    finished: Any
    out: subprocess.CompletedProcess[str]
    after: Exact


def incident_ids(url: URL) -> dict[str, list[int]]:
    return {d: list(ids) for d, ids in rows(
        url, "SELECT dataset, array_agg(incident_id ORDER BY incident_id) FROM core.incident GROUP BY dataset")}


def check_lfb_undone(sc_before: Exact, lfb_keys: set[str], after: Exact,
                     ids_before: dict[str, list[int]], ids_after: dict[str, list[int]]) -> None:
    """The claim itself: the LFB rows are gone and nothing else moved by a byte."""
    expected = {t: dict(r) for t, r in sc_before.items()}
    for t in ("core.incident", "core.fire_incident"):
        expected[t] = {k: v for k, v in expected[t].items() if k not in lfb_keys}
    # what a TRUNCATE cannot pass: the other agencies' incidents are still there, same ids
    for dataset in OTHER_DATASETS:
        assert ids_before.get(dataset), f"the fixture should hold {dataset} incidents"
        assert ids_after.get(dataset) == ids_before[dataset], f"{dataset} incidents lost or renumbered"
    assert "LFB" not in ids_after
    assert_exact(expected, after, "after rolling back lfb_incident, rows other than LFB's differ")


@pytest.fixture(scope="module")
def lfb(_loaded_template: URL, targets: Targets, legacy: Path) -> Scenario:
    url = targets.clone(_loaded_template, "ss_rb_lfb")
    before = exact(url)
    lfb_keys = {f"({i})" for (i,) in rows(url, "SELECT incident_id FROM core.incident WHERE dataset = 'LFB'")}
    ids_before = incident_ids(url)
    events_before = scalar(url, "SELECT count(*) FROM ledger.event")
    dry = rollback_cli(["lfb_incident", "--dry-run"], legacy, url)
    after_dry = exact(url)
    events_after_dry = scalar(url, "SELECT count(*) FROM ledger.event")
    started = scalar(url, "SELECT clock_timestamp()")
    out = rollback_cli(["lfb_incident"], legacy, url)
    finished = scalar(url, "SELECT clock_timestamp()")
    return Scenario(url, stage_run(url, "lfb_incident"), before, lfb_keys, ids_before, dry, after_dry,
                    events_before, events_after_dry, started, finished, out, exact(url))


def table_lines(stdout: str) -> list[list[str]]:
    """The rows of the rich table the command printed, as cells."""
    return [[c.strip() for c in line.strip("│ ").split("│")] for line in stdout.splitlines()
            if line.startswith("│")]


def test_the_lfb_rows_are_gone(lfb: Scenario) -> None:
    assert lfb.out.returncode == 0, lfb.out.stderr
    assert len(lfb.lfb_keys) > 1000 and len(lfb.before["core.fire_incident"]) == len(lfb.lfb_keys)
    assert scalar(lfb.url, "SELECT count(*) FROM core.incident WHERE dataset = 'LFB'") == 0
    assert lfb.after["core.fire_incident"] == {}


def test_every_other_row_is_untouched_byte_for_byte(lfb: Scenario) -> None:
    check_lfb_undone(lfb.before, lfb.lfb_keys, lfb.after, lfb.incidents_before, incident_ids(lfb.url))
    # the same statement, table by table: only the two LFB tables changed at all
    changed = {t for t in lfb.before if lfb.before[t] != lfb.after[t]}
    assert changed == {"core.incident", "core.fire_incident"}


def test_a_truncate_based_rollback_fails_this_check(lfb: Scenario, _loaded_template: URL, targets: Targets) -> None:
    """The check has teeth: TRUNCATE of the LFB stage's tables (what a schema tool's data
    downgrade would do) on a copy of the same loaded target is caught."""
    url = targets.clone(_loaded_template, "ss_rb_trunc")
    try:
        eng = engine(url)
        with eng.begin() as conn:
            conn.execute(text("TRUNCATE core.fire_incident, core.incident CASCADE"))
        eng.dispose()
        with pytest.raises(AssertionError, match="MPS incidents lost"):
            check_lfb_undone(lfb.before, lfb.lfb_keys, exact(url), lfb.incidents_before, incident_ids(url))
    finally:
        targets.drop(url)


def test_equals_a_target_where_lfb_was_never_loaded(lfb: Scenario, legacy: Path, targets: Targets) -> None:
    """Identical as the runner issue defines it (natural keys, every value; surrogate keys and
    load_run_id differ between two loads by nature)."""
    url = targets.fresh("ss_rb_nolfb")
    runner = Orchestrator(settings_for(legacy, url), RecordingConsole())
    try:
        runner.run([s.stage for s in runner.specs if s.stage != "lfb_incident"])
    finally:
        runner.close()
    never, got = snapshot(url), snapshot(lfb.url)
    targets.drop(url)
    assert [t for t in never if never[t] != got[t]] == []
    assert got["core.fire_incident"] == [] and len(got["core.incident"]) > 0


def test_it_reports_and_records_what_it_removed(lfb: Scenario) -> None:
    n = len(lfb.lfb_keys)
    assert [c[:6] for c in table_lines(lfb.out.stdout)] == [
        ["lfb_incident", str(lfb.run_id), "core.incident", f"{n:,}", "0", "0"],
        ["lfb_incident", str(lfb.run_id), "core.fire_incident", f"{n:,}", "0", "0"]]
    detail = scalar(lfb.url, "SELECT detail FROM ledger.event WHERE kind = 'run_rolled_back'")
    assert detail["run_id"] == lfb.run_id
    assert detail["tables"] == {"core.incident": {"deleted": n, "reverted": 0, "restored": 0},
                                "core.fire_incident": {"deleted": n, "reverted": 0, "restored": 0}}


def test_dry_run_lists_tables_and_counts_and_changes_nothing(lfb: Scenario) -> None:
    assert lfb.dry.returncode == 0, lfb.dry.stderr
    assert "dry run: nothing changed" in lfb.dry.stdout
    # the same tables and counts the rollback then reported (the seconds column aside)
    assert [c[:6] for c in table_lines(lfb.dry.stdout)] == [c[:6] for c in table_lines(lfb.out.stdout)]
    assert_exact(lfb.before, lfb.after_dry, "--dry-run changed the target")
    assert lfb.events_after_dry == lfb.events_before


def test_the_ledger_records_who_when_and_what(lfb: Scenario) -> None:
    ev = rows(lfb.url, "SELECT kind, run_id, actor, at, detail FROM ledger.event WHERE stage = 'lfb_incident' "
                       "AND kind IN ('run_rolled_back', 'stage_rolled_back') ORDER BY event_id")
    assert [e.kind for e in ev] == ["run_rolled_back", "stage_rolled_back"]
    for e in ev:
        assert e.actor == actor()  # user@host of the process that ran the command
        assert lfb.started <= e.at <= lfb.finished
    assert ev[0].detail["run_id"] == lfb.run_id and ev[0].detail["members"] == [lfb.run_id]
    state = scalar(lfb.url, "SELECT kind FROM ledger.event WHERE stage = 'lfb_incident' ORDER BY event_id DESC "
                            "LIMIT 1")
    assert state == "stage_rolled_back"
    # the audit trail of the load is kept: the run, its events, its accounting
    assert scalar(lfb.url, "SELECT count(*) FROM ledger.run WHERE run_id = :r", r=lfb.run_id) == 1
    assert scalar(lfb.url, "SELECT count(*) FROM ledger.event WHERE run_id = :r AND kind IN "
                           "('stage_started', 'stage_loaded')", r=lfb.run_id) == 2
    assert scalar(lfb.url, "SELECT count(*) FROM ledger.table_count WHERE run_id = :r", r=lfb.run_id) == 1


def test_quarantine_rows_of_the_run_are_marked_rolled_back(lfb: Scenario) -> None:
    marked = rows(lfb.url, "SELECT run_id, rolled_back_at FROM ledger.quarantine WHERE rolled_back_at IS NOT NULL "
                           "UNION ALL SELECT run_id, rolled_back_at FROM ledger.disposition "
                           "WHERE rolled_back_at IS NOT NULL")
    lfb_quarantined = scalar(lfb.url, "SELECT count(*) FROM ledger.quarantine WHERE run_id = :r", r=lfb.run_id)
    lfb_disposed = scalar(lfb.url, "SELECT count(*) FROM ledger.disposition WHERE run_id = :r", r=lfb.run_id)
    assert lfb_quarantined > 0
    assert len(marked) == lfb_quarantined + lfb_disposed
    assert {m.run_id for m in marked} == {lfb.run_id}          # no other run's records
    assert all(lfb.started <= m.rolled_back_at <= lfb.finished for m in marked)


def test_rolling_back_again_says_so_and_changes_nothing(lfb: Scenario, legacy: Path) -> None:
    events = scalar(lfb.url, "SELECT count(*) FROM ledger.event")
    again = rollback_cli(["lfb_incident", "--run", str(lfb.run_id)], legacy, lfb.url)
    assert again.returncode == 0, again.stderr
    assert re.search(rf"run {lfb.run_id} of lfb_incident was already rolled back by \S+ at [0-9-]+ [0-9:]+; "
                     r"nothing to do", again.stderr), again.stderr
    assert "Rolled back" not in again.stdout
    latest = rollback_cli(["lfb_incident"], legacy, lfb.url)
    assert latest.returncode == 0, latest.stderr
    assert "lfb_incident: nothing to roll back" in latest.stderr
    assert_exact(lfb.after, exact(lfb.url), "a second rollback changed the target")
    assert scalar(lfb.url, "SELECT count(*) FROM ledger.event") == events


def test_an_unknown_run_is_a_clear_one_line_error(lfb: Scenario, legacy: Path) -> None:
    unknown = rollback_cli(["lfb_incident", "--run", "987654"], legacy, lfb.url)
    assert unknown.returncode != 0
    assert unknown.stderr.strip().splitlines() == [unknown.stderr.strip()]
    assert unknown.stderr.startswith("error: there is no run 987654")
    mps = stage_run(lfb.url, "mps_crime")
    other = rollback_cli(["lfb_incident", "--run", str(mps)], legacy, lfb.url)
    assert other.returncode != 0
    assert other.stderr.strip().splitlines() == [f"error: run {mps} did not load stage lfb_incident — "
                                                 "name the stage the run belongs to"]
    stage = rollback_cli(["no_such_stage"], legacy, lfb.url)
    assert stage.returncode != 0 and stage.stderr.startswith("error: unknown stage no_such_stage")
    assert_exact(lfb.after, exact(lfb.url), "a refused rollback changed the target")


def test_after_a_rollback_the_stage_loads_again_to_the_same_target(loaded: URL, legacy: Path) -> None:
    """Undo then `run` again: identical as the runner issue defines it (new surrogate keys and run)."""
    want = snapshot(loaded)
    rb, eng = rollback_api(loaded)
    rb.run("lfb_incident")
    eng.dispose()
    assert snapshot(loaded)["core.fire_incident"] == []
    runner = Orchestrator(settings_for(legacy, loaded), RecordingConsole())
    try:
        (again,) = runner.run(["lfb_incident"])
    finally:
        runner.close()
    assert again.action == "loaded"
    got = snapshot(loaded)
    assert [t for t in want if want[t] != got[t]] == []
