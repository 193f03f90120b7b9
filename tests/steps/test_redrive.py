"""`run --redrive-quarantine` re-processes exactly the quarantined rows after a fix."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.mapping.transforms.geo import normalise_borough
from migration.plan.execute import Orchestrator, run_delta
from tests.steps.conftest import run_all, settings_for

pytestmark = pytest.mark.postgres


def test_redrive_loads_exactly_the_fixed_quarantined_rows(legacy_sqlite: Path, target_url: URL) -> None:
    run_all(legacy_sqlite, target_url)
    eng = create_engine(target_url, poolclass=NullPool)
    with eng.connect() as conn:
        q = conn.execute(text(
            "SELECT source_key FROM ledger.quarantine WHERE stage = 'mps_crime' AND reason_code = 'UNRESOLVED_BOROUGH' "
            "ORDER BY source_key")).all()
        open_before = conn.execute(text(
            "SELECT count(*) FROM ledger.quarantine WHERE redriven_by_run_id IS NULL")).scalar_one()
        incidents_before = conn.execute(text("SELECT count(*) FROM core.incident")).scalar_one()
    assert q, "the generated legacy has unresolved boroughs"
    key = q[0][0]
    borough = sqlite3.connect(legacy_sqlite).execute(
        'SELECT Borough FROM "tblMPSCrime" WHERE RecID = ?', (int(key),)).fetchone()[0]
    # the fix: the analysts decide this spelling is Camden (a la_alias row, as a refdata change would add)
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO ref.la_alias VALUES (:a, 'E09000007', NULL, 0)"),
                     dict(a=normalise_borough(borough)))
    runner = Orchestrator(settings_for(legacy_sqlite, target_url), RecordingConsole())
    try:
        results = run_delta(runner, ["mps_crime"], redrive=True, command="run --redrive-quarantine")
    finally:
        runner.close()
    (res,) = results
    assert res.action == "redrive" and all(c.balanced for c in res.counts)
    (count,) = res.counts
    assert count.rows_read >= len(q)  # every quarantined row's group, nothing else
    with eng.connect() as conn:
        loaded = conn.execute(text(
            "SELECT gss_code, load_run_id FROM core.incident WHERE dataset = 'MPS' AND legacy_pk = :k"),
            dict(k=key)).one()
        assert loaded.gss_code == "E09000007" and loaded.load_run_id == res.run_id
        assert conn.execute(text(
            "SELECT redriven_by_run_id FROM ledger.quarantine WHERE stage = 'mps_crime' AND source_key = :k "
            "AND run_id <> :r"), dict(k=key, r=res.run_id)).scalar_one() == res.run_id
        open_after = conn.execute(text(
            "SELECT count(*) FROM ledger.quarantine WHERE redriven_by_run_id IS NULL")).scalar_one()
        incidents_after = conn.execute(text("SELECT count(*) FROM core.incident")).scalar_one()
    eng.dispose()
    # the fixed row (and any other row with the same spelling) left quarantine; nothing else moved
    fixed = incidents_after - incidents_before
    assert fixed >= 1 and open_after == open_before - fixed
