"""preflight: PASS / WARN / FAIL lines and the exit codes of DESIGN.md (0 ready, 1 not ready,
3 unreachable); the first full run records the legacy fingerprint; --record re-baselines."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.audit import fingerprint
from migration.audit.preflight import FAIL, WARN, preflight
from tests.audit.conftest import CHECKS
from tests.steps.conftest import cli, settings_for


def _legacy(src: Path, tmp_path: Path) -> Path:
    path = tmp_path / "legacy.sqlite"
    shutil.copy(src, path)
    con = sqlite3.connect(path)
    with con:
        con.execute('ALTER TABLE "tblMPSCrime" ADD COLUMN "Notes" VARCHAR(100)')
    con.close()
    return path


def _sql(path: Path, statement: str) -> None:
    con = sqlite3.connect(path)
    with con:
        con.execute(statement)
    con.close()


def test_ready_then_drift(legacy_sqlite: Path, target_url: URL, tmp_path: Path) -> None:
    path = _legacy(legacy_sqlite, tmp_path)
    settings = settings_for(path, target_url, checks_dir=str(CHECKS))
    first = preflight(settings)
    assert first.exit_code == 0, [x for x in first.lines if x.status == FAIL]
    assert any(x.status == WARN and x.check == "schema fingerprint" for x in first.lines)

    recorded = preflight(settings, record=True)
    assert recorded.exit_code == 0 and recorded.recorded
    assert not any(x.check == "schema fingerprint" for x in recorded.lines)

    # a column no mapping uses goes: WARN with a readable diff, still ready
    _sql(path, 'ALTER TABLE "tblMPSCrime" DROP COLUMN "Notes"')
    warned = preflight(settings)
    assert warned.exit_code == 0
    line = next(x for x in warned.lines if x.check == "schema drift (elsewhere)")
    assert line.status == WARN and "- column tblMPSCrime.Notes VARCHAR(100)" in line.message
    assert "preflight --record" in line.action

    # a column the police mapping reads is renamed: FAIL naming it, not ready
    _sql(path, 'ALTER TABLE "tblMPSCrime" RENAME COLUMN "Outcome" TO "OutcomeText"')
    failed = preflight(settings)
    assert failed.exit_code == 1
    line = next(x for x in failed.lines if x.check == "schema drift (mapped columns)")
    assert line.status == FAIL and "tblMPSCrime.Outcome" in line.message and "OutcomeText" in line.message

    # the same through the command line: exit 1, the line printed
    proc = cli(["preflight"], path, target_url, env_extra={"SAFESTATS_CHECKS_DIR": str(CHECKS)})
    assert proc.returncode == 1, proc.stderr
    assert "FAIL  schema drift (mapped columns): tblMPSCrime.Outcome" in proc.stdout + proc.stderr
    proc = cli(["preflight", "--json"], path, target_url, env_extra={"SAFESTATS_CHECKS_DIR": str(CHECKS)})
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["verdict"] == "NOT READY" and data["exit_code"] == 1
    assert any(x["status"] == "FAIL" and "tblMPSCrime.Outcome" in x["message"] for x in data["lines"])


def test_unreachable_is_exit_3(legacy_sqlite: Path, target_url: URL, tmp_path: Path) -> None:
    gone = target_url.set(database="ss_no_such_database_here")
    report = preflight(settings_for(legacy_sqlite, gone, checks_dir=str(CHECKS)))
    assert report.exit_code == 3 and report.unreachable == ["target"]
    assert any(x.status == FAIL and x.check == "target reachable" for x in report.lines)
    report = preflight(settings_for(tmp_path / "missing.sqlite", target_url, checks_dir=str(CHECKS)))
    assert report.exit_code == 3


def test_not_ready_without_schema(legacy_sqlite: Path, pg_url: URL) -> None:
    report = preflight(settings_for(legacy_sqlite, pg_url, checks_dir=str(CHECKS)))
    assert report.exit_code == 1
    line = next(x for x in report.lines if x.check == "target schema")
    assert line.status == FAIL and "schema upgrade" in line.action


def test_first_full_run_records_the_fingerprint(legacy_sqlite: Path, target_url: URL) -> None:
    from tests.audit.conftest import run_all

    run_all(legacy_sqlite, target_url, reconcile=False)
    eng = create_engine(target_url, poolclass=NullPool)
    with eng.connect() as conn:
        fp = fingerprint.latest(conn)
    eng.dispose()
    assert fp is not None and fp["recorded_by"] == "run" and "tblMPSCrime" in fp["tables"]
    report = preflight(settings_for(legacy_sqlite, target_url, checks_dir=str(CHECKS)))
    line = next(x for x in report.lines if x.check == "schema drift (elsewhere)")
    assert line.status != WARN, line
