"""Large tables are reconciled by worker processes (the duplicate rule and the main pass);
small ones in-process.  The test database is small, so the threshold is lowered to force the
parallel path, which must give the same verdicts as the serial one — including the merged
duplicates (tblMPSCrime has dozens at this scale, checked against the ledger's records)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import URL

from migration.cli import main
from tests.reconcile.conftest import results_of

pytestmark = pytest.mark.postgres


def test_the_parallel_path_agrees_with_the_serial_one_and_finds_a_tampered_row(
        target: URL, cli_env: Callable[..., None], sql: Callable[..., Any], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import migration.reconcile.extract as extract

    cli_env(target)
    monkeypatch.setenv("SAFESTATS_RECONCILE_WORKERS", "2")
    assert main(["reconcile", "mps_crime"]) == 0, capsys.readouterr()
    serial = {(r["check_name"], r["status"], r["summary"]) for r in results_of(target)}

    monkeypatch.setattr(extract, "PARALLEL_ROWS", 1)
    used: list[bool] = []
    real_run = extract.TablePass.run

    def run(self: Any) -> None:
        real_run(self)
        used.append(self.parallel)
    monkeypatch.setattr(extract.TablePass, "run", run)
    assert main(["reconcile", "mps_crime"]) == 0, capsys.readouterr()
    assert used == [True]
    parallel = {(r["check_name"], r["status"], r["summary"]) for r in results_of(target)}
    assert parallel == serial
    merged = [r for r in results_of(target) if r["check_name"] == "accounting/tblMPSCrime"][0]
    assert "merged 0 " not in merged["summary"]  # the duplicate rule really had work to do

    incident_id, ref = sql("SELECT i.incident_id, i.source_ref FROM core.incident i JOIN core.police_crime d "
                           "USING (incident_id) WHERE d.outcome IS NOT NULL ORDER BY i.source_ref DESC LIMIT 1")[0]
    sql("UPDATE core.police_crime SET outcome = 'Tampered with' WHERE incident_id = :i", i=incident_id)
    used.clear()
    assert main(["reconcile", "mps_crime"]) == 1
    assert used == [True]
    failed = {r["check_name"]: r for r in results_of(target) if r["status"] == "fail"}
    assert set(failed) == {"row_hash/core.police_crime"}
    assert f"source_ref={ref}" in failed["row_hash/core.police_crime"]["summary"]
