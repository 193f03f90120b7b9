"""`reconcile --all` exits with the verdict over every planned stage (0 PASS, 1 FAIL, 3 INCOMPLETE),
saying which stages and why; an explicit reconcile always re-runs the checks on the target as it
is now.  Real PostgreSQL, the in-process entry point (``main(argv)``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from migration.cli import main
from tests.reconcile.conftest import copy_checks
from tests.reconcile.test_gate import _too_strict_boroughs

pytestmark = pytest.mark.postgres

PLANNED = ["boroughs", "areas", "codes", "organisations", "users", "mps_crime", "lfb_incident", "las_assault",
           "transport_crime", "istv_assault"]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, list[dict[str, Any]]]:
    code = main(["--log-json", *args])
    out = capsys.readouterr()
    records = [json.loads(line) for line in out.err.splitlines() if line.startswith("{")]
    return code, out.out + out.err, records


def _verdict_rows(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    table = next(r for r in records if str(r.get("message", "")).startswith("Verdict over the"))
    return {row[0]: row[1:] for row in table["rows"]}


def test_a_half_loaded_target_is_incomplete_with_exit_3_naming_every_stage(
        target_url: URL, cli_env: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    cli_env(target_url)
    # nothing loaded at all: nothing to check, still a verdict
    code, out, records = _cli(capsys, "reconcile", "--all")
    assert code == 3, out
    assert "INCOMPLETE: 0 of 10 stages reconciled; 10 not started" in out
    assert list(_verdict_rows(records)) == PLANNED

    assert _cli(capsys, "run", "boroughs", "areas")[0] == 0
    code, out, records = _cli(capsys, "reconcile", "--all")
    assert code == 3, out
    assert "INCOMPLETE: 2 of 10 stages reconciled; 8 not started" in out
    rows = _verdict_rows(records)
    assert list(rows) == PLANNED  # every planned stage, the ones not started included
    assert rows["boroughs"][0] == "reconciled" and rows["mps_crime"][0] == "not started"
    assert "safestats-migrate run --all" in out  # what to do next
    # the explicit reconcile of a loaded stage passes (its own checks), and says the whole is incomplete
    code, out, _ = _cli(capsys, "reconcile", "areas")
    assert code == 0, out
    assert "the migration as a whole: INCOMPLETE: 2 of 10 stages reconciled" in out
    # the library call status/cutover use: the same verdict, from the ledger, no check run
    from migration.reconcile import verdict
    from migration.settings import load_settings

    v = verdict(load_settings())
    assert (v.status, v.planned, v.reconciled, v.exit_code) == ("INCOMPLETE", 10, 2, 3)


def test_a_failed_check_wins_over_stages_not_started(
        target_url: URL, cli_env: Callable[..., None], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    checks = copy_checks(tmp_path)
    _too_strict_boroughs(checks)
    cli_env(target_url, checks)
    assert _cli(capsys, "run", "--all")[0] == 1  # the gate stops the run at boroughs
    code, out, records = _cli(capsys, "reconcile", "--all")
    assert code == 1, out
    assert "FAIL: 0 of 10 stages reconciled; boroughs failed its checks, 9 not started" in out
    rows = _verdict_rows(records)
    assert rows["boroughs"][0] == "check failed" and "expectations/borough_aliases" in rows["boroughs"][1]

    # accepted with a reason: nothing fails any more, but 9 stages are still not loaded
    assert _cli(capsys, "reconcile", "accept", "boroughs", "--reason", "alias flags under review, GLA-1234")[0] == 0
    code, out, _ = _cli(capsys, "reconcile", "--all")
    # --all re-ran the checks, which fail again: a new outcome needs a new acceptance
    assert code == 1 and "boroughs failed its checks" in out


def test_a_change_after_the_checks_is_incomplete_until_reconciled_again(
        target: URL, cli_env: Callable[..., None], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A run written after the checks (a delta, even one that found nothing to change) leaves
    the stage's results stale: the verdict (read from the ledger by `report --check`) is
    INCOMPLETE until `reconcile` runs the checks again on the target as it is now."""
    cli_env(target)
    code, out, _ = _cli(capsys, "report", "--out", str(tmp_path / "before"), "--check")
    assert code == 0 and "PASS" in out, out
    assert _cli(capsys, "run", "--delta", "codes")[0] == 0
    code, out, _ = _cli(capsys, "report", "--out", str(tmp_path / "stale"), "--check")
    assert code == 3, out
    assert "INCOMPLETE: 9 of 10 stages reconciled; codes changed after its checks" in out
    code, out, _ = _cli(capsys, "reconcile", "--all")
    assert code == 0 and "PASS: 10 of 10 stages reconciled" in out, out
    assert _cli(capsys, "report", "--out", str(tmp_path / "after"), "--check")[0] == 0


def test_a_lock_held_by_another_process_exits_4_and_nothing_else_does(
        target: URL, cli_env: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from migration.ledger import MigrationLock

    cli_env(target)
    eng = create_engine(target, poolclass=NullPool)
    try:
        with MigrationLock(eng, "run --all (another operator)"):
            code, out, _ = _cli(capsys, "reconcile", "codes")
            assert code == 4, out
            assert "run --all (another operator)" in out
            assert _cli(capsys, "reconcile", "--all")[0] == 4
    finally:
        eng.dispose()
