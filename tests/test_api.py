"""The library facade (``migration.api``, re-exported by ``migration``): the policy the CLI used
to hold, decided in the library and tested without a database; one way to register commands."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

import migration
from migration import api
from migration.errors import CheckFailed, ChecksCouldNotRun, MigrationIncomplete, SettingsError
from migration.ledger.verdict import FAIL, INCOMPLETE, PASS, MigrationVerdict, StageVerdict
from migration.reconcile import ReconcileOutcome
from migration.reconcile.results import CheckResult, StageReconciliation
from migration.secrets import scrub
from migration.settings import command_line_url

REPO = Path(__file__).resolve().parents[1]


def test_the_package_re_exports_the_facade_and_keeps_its_sub_packages() -> None:
    for name in api.__all__:
        assert getattr(migration, name) is getattr(api, name), name
    # no facade name shadows a sub-package: `import migration.plan as p` still gives the package
    for sub in ("plan", "reconcile", "report", "rollback", "schema", "audit", "steps", "legacy"):
        assert getattr(migration, sub) is importlib.import_module(f"migration.{sub}"), sub


def _outcome(*statuses: str, verdict: str = PASS) -> ReconcileOutcome:
    results = [CheckResult("boroughs", f"check_{i}/x", s, f"summary {i}") for i, s in enumerate(statuses)]
    state = {PASS: "reconciled", FAIL: "check_failed", INCOMPLETE: "not_started"}[verdict]
    return ReconcileOutcome(run_id=7, stages=[StageReconciliation("boroughs", 3, 7, results)],
                            verdict=MigrationVerdict(verdict, (StageVerdict("boroughs", state, "why"),)))


@pytest.mark.parametrize(("statuses", "verdict", "all_", "strict", "expected", "code"), [
    (["pass", "pass"], PASS, False, False, None, 0),
    (["pass", "fail"], FAIL, False, False, CheckFailed, 1),
    (["error", "pass"], PASS, False, False, ChecksCouldNotRun, 3),
    (["fail", "error"], FAIL, False, False, CheckFailed, 1),      # a failed check outranks one that could not run
    (["warn"], PASS, False, False, None, 0),
    (["warn"], PASS, False, True, CheckFailed, 1),                # --strict: warnings fail too
    (["warn"], PASS, True, True, CheckFailed, 1),
    (["pass"], FAIL, True, False, CheckFailed, 1),                # --all: the migration's verdict decides
    (["pass"], INCOMPLETE, True, False, MigrationIncomplete, 3),
    (["fail"], PASS, True, False, None, 0),                       # ... not the checks of this one run
])
def test_reconcile_failure_is_the_exit_code_table(statuses: list[str], verdict: str, all_: bool, strict: bool,
                                                  expected: type | None, code: int) -> None:
    failure = api.reconcile_failure(_outcome(*statuses, verdict=verdict), all_=all_, strict=strict)
    if expected is None:
        assert failure is None
    else:
        assert type(failure) is expected and failure.exit_code == code


def test_next_step_names_the_first_stage_not_reconciled() -> None:
    v = MigrationVerdict(INCOMPLETE, (StageVerdict("boroughs", "reconciled", ""),
                                      StageVerdict("areas", "not_reconciled", "no checks yet"),
                                      StageVerdict("codes", "not_started", "")))
    assert api.next_step(v) == "reconcile it (`safestats-migrate reconcile areas`)"
    v = MigrationVerdict(INCOMPLETE, (StageVerdict("boroughs", "not_started", ""),))
    assert "run --all" in api.next_step(v) and "boroughs" in api.next_step(v)


def test_a_password_on_a_command_line_url_is_refused_by_the_one_rule() -> None:
    with pytest.raises(SettingsError) as info:
        command_line_url("postgresql://u:Sw0rdfish99@127.0.0.1/x", role="source", origin="--url", env={})
    assert "SAFESTATS_SOURCE_PASSWORD" in (info.value.hint or "")
    assert "Sw0rdfish99" not in scrub(str(info.value))
    url = command_line_url("postgresql://u@127.0.0.1/x", role="source", origin="--url",
                           env={"SAFESTATS_SOURCE_PASSWORD": "fromenv1"})
    assert isinstance(url, URL) and url.password == "fromenv1" and url.drivername == "postgresql+psycopg2"


def test_commands_are_registered_one_way_and_no_module_imports_by_name() -> None:
    from migration import cli

    for module in cli.COMMANDS:
        assert callable(module.register), module.__name__
    for path in (REPO / "migration").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                assert name not in ("__import__", "import_module"), f"{path}:{node.lineno} imports by name"
