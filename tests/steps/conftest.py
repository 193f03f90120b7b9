"""Fixtures for the runner tests: a generated legacy database and upgraded targets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.legacy import generate
from migration.plan.execute import Orchestrator
from migration.schema import api
from migration.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
SCALE = 0.002


@pytest.fixture(scope="session")
def legacy_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic legacy database (seed 7), shared by the runner tests (read-only)."""
    d = tmp_path_factory.mktemp("legacy")
    path = d / "legacy.sqlite"
    generate(make_url(f"sqlite:///{path}"), SCALE, 7, None, console=RecordingConsole())
    return path


@pytest.fixture
def target_url(pg_url: URL) -> URL:
    api.upgrade(pg_url)
    return pg_url


def settings_for(source: Path | URL, target: URL, **extra: Any):  # type: ignore[no-untyped-def]
    src = f"sqlite:///{source}" if isinstance(source, Path) else source.render_as_string(hide_password=False)
    return load_settings(cli={"source_url": src, "target_url": target.render_as_string(hide_password=False),
                              "mappings_dir": str(REPO / "mappings"), **extra}, env={})


def run_all(source: Path | URL, target: URL, *, reconcile: bool = True, **extra: Any) -> list[Any]:
    runner = Orchestrator(settings_for(source, target, **extra), RecordingConsole(), reconcile=reconcile)
    try:
        return runner.run([], all_=True)
    finally:
        runner.close()


def cli(args: list[str], source: Path, target: URL, env_extra: dict[str, str] | None = None,
        timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # tables the tests parse are boxed at this width, whatever an earlier test left in COLUMNS
    env["COLUMNS"] = "200"
    env.update({"SAFESTATS_SOURCE_URL": f"sqlite:///{source}",
                "SAFESTATS_TARGET_URL": target.render_as_string(hide_password=False),
                "SAFESTATS_MAPPINGS_DIR": str(REPO / "mappings")})
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "migration", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


#: every data table as comparable rows: natural keys instead of surrogate keys, no load_run_id
SNAPSHOT_SQL = {
    "ref.local_authority": "SELECT gss_code, name, legacy_ons_code, mps_code, csp_name, legacy_borough_id FROM ref.local_authority",
    "ref.la_alias": "SELECT alias_norm, gss_code, flag FROM ref.la_alias",
    "ref.ward": "SELECT ward_code, vintage, name, gss_code FROM ref.ward",
    "ref.lsoa": "SELECT lsoa_code, census_year, name, gss_code FROM ref.lsoa",
    "ref.offence_category": "SELECT o.scheme, o.code, o.label, p.scheme, p.code, o.ho_code, o.police_uk_category, "
                            "o.violent, o.retired FROM ref.offence_category o "
                            "LEFT JOIN ref.offence_category p ON p.id = o.parent_id",
    "ref.ed_site": "SELECT ods_site_code, name, gss_code, ST_AsEWKT(geom), istv_from, active, legacy_hospital_id "
                   "FROM ref.ed_site",
    "ref.code_value": "SELECT code_system, code, label FROM ref.code_value",
    "ref.import_batch": "SELECT batch_id, dataset, file_name, loaded_at, claimed_rows, status, dq_flags "
                        "FROM ref.import_batch",
    "core.incident": "SELECT agency_code, dataset, source_ref, legacy_pk, batch_id, occurred_at, occurred_precision, "
                     "reported_at, gss_code, ward_code, lsoa_code, ST_AsEWKT(geom), location_precision, dq_flags "
                     "FROM core.incident",
    "core.police_crime": "SELECT i.dataset, i.source_ref, o.scheme, o.code, d.force, d.location_text, d.outcome, "
                         "d.domestic, d.knife FROM core.police_crime d JOIN core.incident i USING (incident_id) "
                         "JOIN ref.offence_category o ON o.id = d.offence_category_id",
    "core.fire_incident": "SELECT i.dataset, i.source_ref, d.incident_group, d.stop_code, d.property_category, "
                          "d.property_type, d.postcode, d.first_pump_secs, d.notional_cost "
                          "FROM core.fire_incident d JOIN core.incident i USING (incident_id)",
    "core.ambulance_assault": "SELECT i.dataset, i.source_ref, d.category, d.alcohol FROM core.ambulance_assault d "
                              "JOIN core.incident i USING (incident_id)",
    "core.transport_crime": "SELECT i.dataset, i.source_ref, d.source_agency, d.mode, d.route, d.station, "
                            "d.offence_desc FROM core.transport_crime d JOIN core.incident i USING (incident_id)",
    "istv.ed_assault": "SELECT i.dataset, i.source_ref, d.ods_site_code, d.reporting_month, d.arrival_at, "
                       "d.assault_method, d.assault_method_other, d.location_type, d.location_text_clean, "
                       "d.geocode_level, d.geocode_confidence FROM istv.ed_assault d JOIN core.incident i "
                       "USING (incident_id)",
    "sec.organisation": "SELECT org_id, name, org_type, gss_code FROM sec.organisation",
    "sec.app_user": "SELECT user_id, login, email, org_id, can_see_istv, can_see_points, last_login_at, disabled, "
                    "dq_flags FROM sec.app_user",
    "sec.access_grant": "SELECT user_id, dataset, gss_code, show_points FROM sec.access_grant",
}


def snapshot(url: URL) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table, sorted, as the runner issue defines "identical"."""
    from migration.schema import models

    assert set(SNAPSHOT_SQL) == {t.fullname for t in models.DATA_TABLES}, "a data table is missing from SNAPSHOT_SQL"
    eng = create_engine(url, poolclass=NullPool)
    out = {}
    with eng.connect() as conn:
        for table, sql in SNAPSHOT_SQL.items():
            out[table] = sorted((tuple(r) for r in conn.execute(text(sql))), key=repr)
    eng.dispose()
    return out


@pytest.fixture
def reference_snapshot(legacy_sqlite: Path, pg_databases: Any) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    url = pg_databases.create("ss_ref")
    api.upgrade(url)
    run_all(legacy_sqlite, url)
    yield snapshot(url)
