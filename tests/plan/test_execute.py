"""The plan is what runs: one builder decides, the orchestrator only visits its steps.

Table-driven: every ledger state of a stage gives one action, and executing the plan with a
recording executor visits exactly the plan's steps.  Against real databases: a hand-built
plan that says ``load`` for a loaded stage loads it (nothing decides a second time); an
invalid mapping stops ``run`` before any write; ``plan --json`` and ``run --dry-run --json``
print the same document; an unreachable target is exit 3.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.cli import main
from migration.console import RecordingConsole
from migration.errors import StageError
from migration.ledger import Ledger
from migration.plan import Plan, StagePlan, StageStatus, build_plan, plan_to_dict
from migration.plan.builder import build_rollback_plan
from migration.plan.execute import Orchestrator, StepExecutor, execute, refusal
from migration.plan.undo import RollbackRunner, UndoExecutor
from migration.rollback import RollbackError
from tests.plan.test_plan import _specs
from tests.steps.conftest import REPO, cli, settings_for


class Recording:
    """An executor that does nothing but note each step it is asked to do."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str]] = []
        self.undone: list[tuple[str, int]] = []

    def _note(self, step: str, stage: StagePlan) -> None:
        self.steps.append((stage.stage, step))

    def load(self, stage: StagePlan) -> None:
        self._note("load", stage)

    def resume(self, stage: StagePlan) -> None:
        self._note("resume", stage)

    def gate(self, stage: StagePlan) -> None:
        self._note("gate", stage)

    def delta(self, stage: StagePlan) -> None:
        self._note("delta", stage)

    def undo(self, stage: StagePlan) -> None:
        self._note("undo", stage)
        self.undone += [(stage.stage, r) for r in stage.undo_runs]

    def refuse(self, stage: StagePlan) -> None:
        self._note("refuse", stage)


# state of "areas" (its dependency "boroughs" is loaded; "codes", "users" are loaded; "facts" waits for areas)
CASES = [
    # (ledger state of areas, its run's mapping hash) → (state shown, action, steps of areas, action of facts)
    (None, None, "fresh", "load", ["load", "gate"], "load"),
    ("loaded", "h1", "loaded", "reconcile", ["gate"], "load"),  # loaded, never checked: the gate runs
    ("reconciled", "h1", "reconciled", "skip", [], "load"),
    ("accepted", "h1", "accepted", "skip", [], "load"),
    ("running", "h1", "resumable", "resume", ["resume", "gate"], "load"),
    ("failed", "h1", "failed", "resume", ["resume", "gate"], "load"),
    ("failed", "h0", "failed", "blocked", ["refuse"], "blocked"),          # started with other mapping files
    ("check_failed", "h1", "check_failed", "blocked", ["refuse"], "blocked"),
    ("rolled_back", "h1", "rolled_back", "load", ["load", "gate"], "load"),
]


@pytest.mark.parametrize(("state", "mhash", "shown", "action", "steps", "facts"), CASES)
def test_every_state_gives_one_action_and_the_executor_visits_exactly_the_plan_steps(
        state: str | None, mhash: str | None, shown: str, action: str, steps: list[str], facts: str) -> None:
    status = [StageStatus("boroughs", "reconciled", 1, "h1"), StageStatus("codes", "reconciled", 2, "h1"),
              StageStatus("users", "accepted", 3, "h1")]
    if state is not None:
        status.append(StageStatus("areas", state, 4, mhash))
    plan = build_plan(_specs(), stage_status=status, mapping_hash="h1")
    areas = plan.stage("areas")
    assert (areas.state, areas.action) == (shown, action), areas.reason
    assert list(areas.steps) == steps
    assert plan.stage("facts").action == facts
    if action == "blocked":
        assert areas.reason and areas.hint  # what is wrong and what to do next
    if action == "resume":
        assert areas.run_id == 4
    rec = Recording()
    execute(plan, rec)
    assert rec.steps == plan.steps()
    assert [st for st, _ in rec.steps] == [s.stage for s in plan.stages if s.steps for _ in s.steps]


def test_a_blocked_stage_stops_the_run_with_the_plans_reason() -> None:
    plan = build_plan(_specs(), only=["facts"])
    err = refusal(plan, plan.stage("facts"))
    assert isinstance(err, StageError)
    assert err.one_line().startswith("stage facts cannot start: waits for codes, areas")
    assert "run codes areas" in err.one_line()


def test_delta_plans_bring_loaded_stages_up_to_date_only() -> None:
    status = [StageStatus("boroughs", "reconciled", 1), StageStatus("areas", "failed", 2)]
    plan = build_plan(_specs(), stage_status=status, mode="delta")
    assert [(s.stage, s.action) for s in plan.stages] == [
        ("boroughs", "delta"), ("areas", "skip"), ("codes", "skip"), ("users", "skip"), ("facts", "skip")]
    rec = Recording()
    execute(plan, rec)
    assert rec.steps == [("boroughs", "delta")]
    named = build_plan(_specs(), stage_status=status, mode="delta", only=["areas"])
    assert named.stage("areas").action == "blocked" and "not loaded" in named.stage("areas").reason


# runs not undone per stage (group ids, oldest first); facts depends on codes and areas, both on boroughs
GROUPS = {"boroughs": [1], "areas": [4, 9], "codes": [2], "facts": [5, 11]}
ROLLBACK_CASES = [
    # (stage, --run, --cascade) → (stage, run) undone in order, or the stage blocked
    (None, None, False, [("facts", 11), ("facts", 5), ("codes", 2), ("areas", 9), ("areas", 4), ("boroughs", 1)],
     None),
    ("areas", None, False, [("areas", 9)], None),            # a later run: areas stays loaded, facts may stay
    ("areas", 9, False, [("areas", 9)], None),
    ("areas", 4, False, [], "areas"),                        # its first load: facts would be orphaned
    ("areas", 4, True, [("facts", 11), ("facts", 5), ("areas", 9), ("areas", 4)], None),
    ("boroughs", None, True, [("facts", 11), ("facts", 5), ("codes", 2), ("areas", 9), ("areas", 4),
                              ("boroughs", 1)], None),
    ("users", None, False, [], None),                        # nothing loaded: nothing to do
]


@pytest.mark.parametrize(("stage", "run", "cascade", "undone", "blocked"), ROLLBACK_CASES)
def test_rollback_is_a_plan_the_orchestrator_walks(stage: str | None, run: int | None, cascade: bool,
                                                   undone: list[tuple[str, int]], blocked: str | None) -> None:
    plan = build_rollback_plan(_specs(), GROUPS, stage=stage, run_id=run, cascade=cascade)
    assert plan.mode == "rollback"
    assert [s.stage for s in plan.stages] == ["facts", "users", "codes", "areas", "boroughs"]  # reverse load order
    rec = Recording()
    execute(plan, rec)
    assert rec.steps == plan.steps()
    assert rec.undone == undone
    if blocked:
        b = plan.stage(blocked)
        assert rec.steps == [(blocked, "refuse")]
        assert b.reason == "facts loaded later and depend on it" and "--cascade" in b.hint
        err = pytest.raises(RollbackError, UndoExecutor(None, dry_run=True).refuse, b)  # type: ignore[arg-type]
        assert err.value.one_line() == ("stage areas cannot be rolled back: facts loaded later and depend on it "
                                        "— roll those back first, or add --cascade to undo them too")
    doc = plan_to_dict(plan)
    assert [(d["stage"], d["undo_runs"]) for d in doc["stages"] if d["action"] == "rollback"] == \
        [(s.stage, list(s.undo_runs)) for s in plan.stages if s.action == "rollback"]


# --------------------------------------------------------------------------- real databases


def _ledger_rows(url: URL) -> tuple[int, int]:
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            return (conn.execute(text("SELECT count(*) FROM ledger.run")).scalar_one(),
                    conn.execute(text("SELECT count(*) FROM ledger.event")).scalar_one())
    finally:
        eng.dispose()


@pytest.mark.postgres
def test_a_hand_built_plan_that_says_load_really_loads_a_loaded_stage(legacy_sqlite: Path, target_url: URL) -> None:
    orch = Orchestrator(settings_for(legacy_sqlite, target_url), RecordingConsole(), reconcile=False)
    try:
        (first,) = orch.run(["boroughs"])
        assert first.action == "loaded"
        planned = orch.plan(["boroughs"])
        assert planned.stage("boroughs").action == "skip"  # the builder says skip …
        # … but the executor does what the plan it is given says: no second decider
        forced = Plan(stages=tuple(replace(s, action="load", reason="by hand") if s.stage == "boroughs" else s
                                   for s in planned.stages), mapping_hash=planned.mapping_hash, gate=False)
        rec = Recording()
        execute(forced, rec)
        assert rec.steps == [("boroughs", "load"), ("boroughs", "gate")]
        (again,) = execute(forced, StepExecutor(orch.ctx, forced))
        assert again.action == "loaded" and again.run_id is not None and again.run_id > first.run_id  # type: ignore[operator]
        assert Ledger(orch.ctx.target).stage_state("boroughs").run_id == again.run_id
    finally:
        orch.close()


@pytest.mark.postgres
def test_an_invalid_mapping_stops_run_before_any_write(legacy_sqlite: Path, target_url: URL, tmp_path: Path) -> None:
    maps = tmp_path / "mappings"
    shutil.copytree(REPO / "mappings", maps)
    users = maps / "45_users.yaml"
    users.write_text(users.read_text(encoding="utf-8").replace("transform: london_datetime\n",
                                                               "transform: london_datetime_txt\n"), encoding="utf-8")
    before = _ledger_rows(target_url)
    proc = cli(["run", "--all"], legacy_sqlite, target_url, env_extra={"SAFESTATS_MAPPINGS_DIR": str(maps)})
    assert proc.returncode == 1, proc.stderr
    assert "unknown transform 'london_datetime_txt'" in proc.stderr
    assert "internal error" not in proc.stderr
    assert _ledger_rows(target_url) == before == (0, 0)  # not a run, not an event, not a fingerprint


@pytest.mark.postgres
def test_plan_and_dry_run_print_the_same_document_from_the_ledger(legacy_sqlite: Path, target_url: URL) -> None:
    orch = Orchestrator(settings_for(legacy_sqlite, target_url), RecordingConsole(), reconcile=False)
    try:
        orch.run(["boroughs"])
    finally:
        orch.close()
    planned = cli(["plan", "--json"], legacy_sqlite, target_url)
    dry = cli(["run", "--all", "--dry-run", "--json"], legacy_sqlite, target_url)
    assert planned.returncode == dry.returncode == 0, planned.stderr + dry.stderr
    assert planned.stdout == dry.stdout
    doc = json.loads(planned.stdout)
    first = doc["stages"][0]
    assert doc["schema_version"] == 1
    # loaded with the gate off: `run` (gate on) checks it before anything else
    assert (first["stage"], first["state"], first["action"]) == ("boroughs", "loaded", "reconcile")
    assert {s["action"] for s in doc["stages"][1:]} <= {"load", "blocked"}
    human = cli(["run", "--all", "--dry-run"], legacy_sqlite, target_url)
    assert "reconcile (loaded by run" in human.stdout and "would write" in human.stderr
    assert _ledger_rows(target_url)[0] >= 1


@pytest.mark.usefixtures("_clean_env")
def test_plan_with_an_unreachable_target_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--target", "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere", "plan"]) == 3
    err = capsys.readouterr().err
    assert "cannot connect to the target database" in err


@pytest.fixture
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SAFESTATS_SOURCE_URL", "SAFESTATS_TARGET_URL", "SAFESTATS_CONFIG", "SAFESTATS_MAPPINGS_DIR",
                 "SAFESTATS_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.postgres
def test_a_hand_built_rollback_plan_undoes_what_it_names(legacy_sqlite: Path, target_url: URL) -> None:
    """The builder would skip boroughs (only users was asked for); a plan that says undo its run
    undoes it — the executor does not decide again."""
    orch = Orchestrator(settings_for(legacy_sqlite, target_url), RecordingConsole(), reconcile=False)
    try:
        (loaded,) = orch.run(["boroughs"])
        with orch.ctx.target.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ref.local_authority")).scalar_one() > 0
        runner = RollbackRunner(orch.ctx.target, orch.ctx.specs, RecordingConsole())
        built = runner.plan("users")
        assert built is not None and built.stage("boroughs").action == "skip"
        forced = Plan(stages=tuple(replace(s, action="rollback", undo_runs=(loaded.run_id,)) if s.stage == "boroughs"
                                   else s for s in built.stages), mode="rollback")
        ex = UndoExecutor(runner.rollback)
        execute(forced, ex)
        assert [(u.stage, u.run_id) for u in ex.undone] == [("boroughs", loaded.run_id)]
        assert Ledger(orch.ctx.target).stage_state("boroughs").state == "rolled_back"
        with orch.ctx.target.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ref.local_authority")).scalar_one() == 0
    finally:
        orch.close()
