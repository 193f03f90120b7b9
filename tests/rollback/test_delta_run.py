"""Rolling back DELTA runs (issue 7): the target returns exactly to its state before the delta.

The legacy moves by ``legacy advance`` (three days of generated activity: new batches, a
re-sent MPS batch, an ISTV period re-submitted, MPS and LAS revisions and hard deletes
incl. a duplicate-group winner, a user added, changed, narrowed to fewer boroughs).  The
delta then updates rows in place (before-images), deletes rows whose legacy rows went or
were superseded (before-images, op D), revokes grants and inserts new rows.  Undoing it must give
updated rows their old values, bring deleted rows back *with their surrogate keys*
(``incident_id``, ``grant_id``) and remove what it inserted — while the full load's rows
of the same dataset stay.  Deleting what the run wrote, or the dataset's rows, fails the
same check (shown on copies).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from migration.console import RecordingConsole
from migration.legacy import advance
from migration.plan.execute import Orchestrator, run_delta
from migration.rollback import RunUndo
from tests.rollback.conftest import (
    Exact,
    Targets,
    assert_exact,
    diff,
    engine,
    exact,
    move_legacy,
    rollback_api,
    rollback_cli,
    rows,
    scalar,
    shared_across_workers,
)
from tests.steps.conftest import settings_for, snapshot

pytestmark = pytest.mark.postgres


def delta(source: Path, target: URL, stages: list[str] | None = None) -> list[Any]:
    runner = Orchestrator(settings_for(source, target), RecordingConsole())
    try:
        return run_delta(runner, stages or [], all_=not stages)
    finally:
        runner.close()


NAIVE = {
    # what an undo without before-images would do: delete what the delta runs wrote…
    "delete what the run wrote": [
        f"DELETE FROM {t} WHERE load_run_id = ANY(:runs)" for t in (
            "core.police_crime", "core.ambulance_assault", "istv.ed_assault", "core.incident", "sec.access_grant",
            "sec.app_user", "ref.import_batch")],
    # …or every row of the dataset the delta brought up to date
    "delete the dataset's rows": ["DELETE FROM core.incident WHERE dataset = 'MPS'"],
}


@dataclass
class Scenario:
    moved: dict[str, dict[str, int]]   # legacy table → inserted / revised / deleted
    delta_runs: dict[str, int]         # stage → its delta run
    before: Exact                      # after the full load, before the delta
    after_delta: Exact
    after_dry: Exact
    planned: list[RunUndo]             # --dry-run, every stage
    done: list[RunUndo]                # the rollbacks, every stage, reverse load order
    after: Exact                       # after rolling the delta back
    staging_left: list[str]
    identical_after_delta: dict[str, Any]
    identical_after_redo: dict[str, Any]
    naive: dict[str, Exact]            # the target after each naive undo (on copies)


def build(template: URL, targets: Targets, legacy: Path, folder: Path) -> Scenario:
    source = folder / "legacy.sqlite"
    shutil.copy(legacy, source)
    shutil.copy(legacy.with_suffix(".manifest.json"), source.with_suffix(".manifest.json"))
    url = targets.clone(template, "ss_rb_delta")
    before = exact(url)
    moved = advance(make_url(f"sqlite:///{source}"), 3, 5, source.with_suffix(".manifest.json"),
                    console=RecordingConsole()).changes
    results = delta(source, url)
    delta_runs = {r.stage: r.run_id for r in results}
    after_delta = exact(url)
    identical_after_delta = snapshot(url)
    naive = {}
    for name, statements in NAIVE.items():  # on copies of the target as the delta left it
        copy = targets.clone(url, "ss_rb_naive")
        eng = engine(copy)
        with eng.begin() as conn:
            for sql in statements:
                conn.execute(text(sql), dict(runs=list(delta_runs.values())))
        eng.dispose()
        naive[name] = exact(copy)
        targets.drop(copy)
    rb, eng = rollback_api(url)
    order = list(reversed(rb.order))
    planned = [p for s in order for p in rb.run(s, dry_run=True)]
    after_dry = exact(url)
    done = [d for s in order for d in rb.run(s)]
    eng.dispose()
    after = exact(url)
    staging_left = [r[0] for r in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'staging' "
                                            "AND tablename ~ :p", p="_r(" + "|".join(map(str, delta_runs.values()))
                                       + ")$")]
    # the same delta again on the rolled-back target: the full load's snapshots and watermarks still serve
    delta(source, url)
    redo = snapshot(url)
    targets.drop(url)
    return Scenario(moved, delta_runs, before, after_delta, after_dry, planned, done, after, staging_left,
                    identical_after_delta, redo, naive)


@pytest.fixture(scope="module")
def scenario(_loaded_template: URL, targets: Targets, legacy: Path, tmp_path_factory: pytest.TempPathFactory,
             worker_id: str) -> Scenario:
    """Built once per session (it runs two deltas of every stage), whichever worker asks first."""
    return shared_across_workers(tmp_path_factory, worker_id, "rollback_delta_scenario", lambda: build(
        _loaded_template, targets, legacy, tmp_path_factory.mktemp("rb_delta")))


def test_the_delta_updated_deleted_and_inserted_rows(scenario: Scenario) -> None:
    """Not a claim about rollback: what makes the following ones mean something."""
    assert scenario.moved["tblMPSCrime"]["deleted"] and scenario.moved["tblMPSCrime"]["revised"]
    d = {t: diff(scenario.before[t], scenario.after_delta[t]) for t in scenario.before}
    for t in ("core.incident", "core.police_crime"):
        assert d[t].changed and d[t].gone and d[t].new, t
    assert d["istv.ed_assault"].gone and d["core.ambulance_assault"].gone  # re-submitted / deleted legacy rows
    assert d["sec.access_grant"].gone and d["sec.app_user"].changed      # revoked grants, changed accounts
    assert d["ref.import_batch"].changed and d["ref.import_batch"].new   # the codes stage's delta too
    untouched = {t for t, x in d.items() if x.empty}
    assert {"ref.local_authority", "ref.ward", "sec.organisation"} <= untouched


def test_rolling_back_restores_every_table_exactly(scenario: Scenario) -> None:
    assert_exact(scenario.before, scenario.after, "after rolling the delta back, the target differs from before it")


def test_rows_the_delta_deleted_come_back_with_their_surrogate_keys(scenario: Scenario) -> None:
    for table in ("core.incident", "core.police_crime", "core.ambulance_assault", "istv.ed_assault",
                  "sec.access_grant"):
        gone = diff(scenario.before[table], scenario.after_delta[table]).gone
        assert gone, table
        # the primary key IS the surrogate key (incident_id, grant_id): same key, same row
        assert {k: scenario.after[table].get(k) for k in gone} == {k: scenario.before[table][k] for k in gone}, table


def test_rows_the_delta_updated_have_their_old_values(scenario: Scenario) -> None:
    for table in ("core.incident", "core.police_crime", "sec.app_user", "ref.import_batch"):
        changed = diff(scenario.before[table], scenario.after_delta[table]).changed
        assert changed, table
        for k in changed:
            assert scenario.after[table][k] == scenario.before[table][k] != scenario.after_delta[table][k]


def test_rows_the_delta_inserted_are_gone(scenario: Scenario) -> None:
    for table in ("core.incident", "core.police_crime"):
        new = diff(scenario.before[table], scenario.after_delta[table]).new
        assert new and not new & set(scenario.after[table]), table
    assert not scenario.staging_left, "the delta's key snapshots were left in staging"


def test_reported_counts_are_the_rows_that_changed(scenario: Scenario) -> None:
    """Rows removed = rows the delta added, restored = rows it deleted, reverted = rows it changed."""
    reported: dict[str, dict[str, int]] = {}
    for r in scenario.done:  # several stages' deltas write core.incident: their counts add up
        assert r.run_id == scenario.delta_runs[r.stage]
        for t, c in r.tables.items():
            reported[t] = {k: reported.get(t, {}).get(k, 0) + v for k, v in c.items()}
    want = {}
    for t in scenario.before:
        d = diff(scenario.before[t], scenario.after_delta[t])
        if not d.empty:
            want[t] = {"deleted": len(d.new), "reverted": len(d.changed), "restored": len(d.gone)}
    assert reported == want


def test_dry_run_showed_the_same_counts_and_changed_nothing(scenario: Scenario) -> None:
    assert [(p.stage, p.run_id, p.tables) for p in scenario.planned] == \
           [(d.stage, d.run_id, d.tables) for d in scenario.done]
    assert all(p.dry_run for p in scenario.planned)
    assert_exact(scenario.after_delta, scenario.after_dry, "--dry-run changed the target")


def test_the_same_delta_after_the_rollback_gives_the_same_target(scenario: Scenario) -> None:
    """Undo then redo: nothing the rollback left behind (snapshots, watermarks) misleads the next delta."""
    assert scenario.identical_after_redo == scenario.identical_after_delta


@pytest.mark.parametrize("naive", list(NAIVE))
def test_a_rollback_without_before_images_fails_this_check(scenario: Scenario, naive: str) -> None:
    """The check has teeth: on copies of the target right after the delta, undone the naive
    way (no before-images), the comparison with the state before fails."""
    with pytest.raises(AssertionError, match="core.incident"):
        assert_exact(scenario.before, scenario.naive[naive], naive)


def test_undoing_an_older_delta_first_undoes_the_later_one_and_says_so(
        loaded: URL, legacy: Path, tmp_path: Path) -> None:
    """LIFO: the second delta revises a row the first one revised (its before-image is the
    first delta's row), so the first cannot be undone alone."""
    source = tmp_path / "legacy.sqlite"
    shutil.copy(legacy, source)
    before = exact(loaded)
    first_move = move_legacy(source, 0)
    (first,) = delta(source, loaded, ["mps_crime"])
    after_first = exact(loaded)
    move_legacy(source, 1, revise_again=first_move["revised"][:1])
    (second,) = delta(source, loaded, ["mps_crime"])
    assert second.run_id > first.run_id
    imaged = scalar(loaded, "SELECT count(*) FROM ledger.before_image WHERE run_id = :r AND table_name = "
                            "'core.incident' AND (row_data->>'load_run_id')::bigint = :f",
                    r=second.run_id, f=first.run_id)
    assert imaged > 0, "the second delta should have changed rows the first one wrote"
    assert diff(after_first["core.incident"], exact(loaded)["core.incident"]).changed

    out: subprocess.CompletedProcess[str] = rollback_cli(["mps_crime", "--run", str(first.run_id)], source, loaded)
    assert out.returncode == 0, out.stderr
    assert (f"mps_crime: undoing the later runs {second.run_id} first (runs are undone last-in-first-out)"
            in out.stderr), out.stderr
    undone = [r.run_id for r in rows(loaded, "SELECT CAST(detail->>'run_id' AS bigint) AS run_id FROM ledger.event "
                                             "WHERE kind = 'run_rolled_back' ORDER BY event_id")]
    assert undone == [second.run_id, first.run_id]
    assert_exact(before, exact(loaded), "after undoing the older delta, the target differs from before both")
