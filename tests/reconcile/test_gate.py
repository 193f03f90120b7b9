"""The runner's gate and the exit codes of `reconcile` (issue 6, "Gate and outcome").

A stage whose checks fail after its load is marked ``check_failed``; no stage depending on it
starts until the failure is fixed and reconciled again, or accepted with a reason (recorded
with who and when).  Exit codes: 0 pass, 1 a check failed (or warnings under ``--strict``),
3 the checks could not run; ``--all`` exits with the verdict over every planned stage
(tests/reconcile/test_verdict_cli.py).  Real processes (`python -m migration`), real PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from tests.reconcile.conftest import copy_checks
from tests.steps.conftest import cli

pytestmark = pytest.mark.postgres


def _states(sql: Callable[..., Any]) -> dict[str, str]:
    rows = sql("SELECT DISTINCT ON (stage) stage, kind FROM ledger.event WHERE kind LIKE 'stage_%' "
               "ORDER BY stage, event_id DESC")
    return {s: k.removeprefix("stage_") for s, k in rows}


def _too_strict_boroughs(checks: Path) -> None:
    """A check file that disagrees with the data: aliases may only be flagged 'heathrow'
    (the legacy data has misspelt ones too), so the borough_aliases suite fails."""
    f = checks / "10_boroughs.yaml"
    text = f.read_text()
    assert "values: [heathrow, misspelt]" in text
    f.write_text(text.replace("values: [heathrow, misspelt]", "values: [heathrow]"))


def test_a_failed_check_stops_the_run_and_blocks_dependants_until_accepted_with_a_reason(
        legacy_sqlite: Path, target_url: URL, tmp_path: Path, pg_sql: Callable[..., Any]) -> None:
    checks = copy_checks(tmp_path)
    _too_strict_boroughs(checks)
    env = {"SAFESTATS_CHECKS_DIR": str(checks), "LOGNAME": "qalead"}

    first = cli(["run", "--all"], legacy_sqlite, target_url, env)
    assert first.returncode == 1, first.stdout + first.stderr
    out = first.stdout + first.stderr
    assert "stage boroughs failed" in out and "expectations/borough_aliases" in out
    assert "reconcile accept boroughs" in out  # the line says what to do next
    assert _states(pg_sql) == {"boroughs": "check_failed"}  # nothing after it started

    # a dependant is refused, naming the stage that blocks it
    blocked = cli(["run", "areas"], legacy_sqlite, target_url, env)
    assert blocked.returncode != 0
    assert re.search(r"boroughs.*(check|reconcil)", blocked.stdout + blocked.stderr), blocked.stderr
    assert "areas" not in _states(pg_sql)

    # on demand, the same checks still fail (exit 1) and name the suite
    again = cli(["reconcile", "boroughs"], legacy_sqlite, target_url, env)
    assert again.returncode == 1 and "borough_aliases" in again.stdout + again.stderr

    # accepting needs a reason (usage error), then records who, when and why
    no_reason = cli(["reconcile", "accept", "boroughs"], legacy_sqlite, target_url, env)
    assert no_reason.returncode == 2
    ok = cli(["reconcile", "accept", "boroughs", "--reason", "alias flags under review, ticket GLA-1234"],
             legacy_sqlite, target_url, env)
    assert ok.returncode == 0, ok.stderr
    ((actor, detail, at),) = pg_sql("SELECT actor, detail, at FROM ledger.event WHERE kind = 'stage_accepted'")
    assert actor.startswith("qalead@") and detail["reason"] == "alias flags under review, ticket GLA-1234"
    assert at is not None and "expectations/borough_aliases" in str(detail)

    # and the migration goes on from there
    rest = cli(["run", "--all"], legacy_sqlite, target_url, env, timeout=600)
    assert rest.returncode == 0, rest.stdout[-2000:] + rest.stderr[-2000:]
    states = _states(pg_sql)
    assert states.pop("boroughs") == "accepted"
    assert set(states.values()) == {"reconciled"} and len(states) == 9


def test_fixing_the_cause_and_reconciling_again_unblocks_the_stage(
        legacy_sqlite: Path, target_url: URL, tmp_path: Path, pg_sql: Callable[..., Any]) -> None:
    checks = copy_checks(tmp_path)
    _too_strict_boroughs(checks)
    env = {"SAFESTATS_CHECKS_DIR": str(checks)}
    assert cli(["run", "boroughs"], legacy_sqlite, target_url, env).returncode == 1
    assert _states(pg_sql) == {"boroughs": "check_failed"}
    # the check file is corrected; reconciling again passes and the stage is reconciled
    (checks / "10_boroughs.yaml").write_text((Path(__file__).parents[2] / "checks" / "10_boroughs.yaml").read_text())
    fixed = cli(["reconcile", "boroughs"], legacy_sqlite, target_url, env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert _states(pg_sql) == {"boroughs": "reconciled"}
    nxt = cli(["run", "organisations"], legacy_sqlite, target_url, env)
    assert nxt.returncode == 0, nxt.stdout + nxt.stderr
    assert _states(pg_sql) == {"boroughs": "reconciled", "organisations": "reconciled"}


def test_checks_that_cannot_run_exit_3(target: URL, cli_env: Callable[..., None], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from migration.cli import main

    checks = copy_checks(tmp_path)
    (checks / "50_mps_crime.yaml").unlink()
    cli_env(target, checks)
    assert main(["reconcile", "mps_crime"]) == 3
    err = capsys.readouterr().err
    assert "mps_crime" in err and "check" in err
    # a source that is gone: the checks cannot run either, the reason is named
    cli_env(target)
    import os

    os.environ["SAFESTATS_SOURCE_URL"] = f"sqlite:///{tmp_path / 'gone.sqlite'}"
    assert main(["reconcile", "codes"]) == 3
    assert "gone.sqlite" in capsys.readouterr().err


def test_warnings_pass_with_exit_0_and_fail_under_strict_with_exit_1(
        target: URL, cli_env: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from migration.cli import main

    checks = copy_checks(tmp_path)
    f = checks / "90_istv_assault.yaml"
    text = f.read_text()
    f.write_text(re.sub(r"default: \{warn: [0-9.]+, fail: [0-9.]+\}",
                        "default: {warn: 0.0, fail: 0.5, min_rows: 1}", text, count=1))
    cli_env(target, checks)
    assert main(["reconcile", "istv_assault"]) == 0
    out = capsys.readouterr()
    assert "quarantine_rate/tblISTVAssault" in out.out + out.err and "warn" in (out.out + out.err).lower()
    assert main(["reconcile", "istv_assault", "--strict"]) == 1  # exit 4 is the lock's alone
    assert "warning(s) under --strict" in capsys.readouterr().err


def test_a_few_rows_never_warn_but_the_fail_threshold_always_holds(
        target: URL, cli_env: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ISTV at test scale quarantines 6 rows (UNKNOWN_CODE, ~2.4%): under the default
    ``min_rows`` of 10 that is no warning, even with a warning threshold of 0; a fail threshold
    below the rate fails however few rows it is."""
    from migration.cli import main

    checks = copy_checks(tmp_path)
    f = checks / "90_istv_assault.yaml"
    original = f.read_text()
    f.write_text(re.sub(r"default: \{warn: [0-9.]+, fail: [0-9.]+\}", "default: {warn: 0.0, fail: 0.5}",
                        original, count=1))
    cli_env(target, checks)
    assert main(["reconcile", "istv_assault", "--strict"]) == 0, capsys.readouterr()
    f.write_text(re.sub(r"default: \{warn: [0-9.]+, fail: [0-9.]+\}", "default: {warn: 0.0, fail: 0.01}",
                        original, count=1))
    assert main(["reconcile", "istv_assault"]) == 1
    assert "quarantine_rate/tblISTVAssault" in capsys.readouterr().err
