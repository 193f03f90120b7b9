"""Row-level security and the masked view, seen through the application role.

The ``postgres`` superuser bypasses RLS, so every query that proves something runs
after ``SET ROLE safestats_app`` with ``safestats.user_id`` set for one user.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migration.schema import api
from migration.schema.roles import APP_ROLE, MIGRATOR_ROLE, USER_ID_SETTING, act_for_user

pytestmark = pytest.mark.postgres

CAMDEN, HACKNEY = "E09000007", "E09000012"

# incident_id: (dataset, agency, gss_code, detail table)
INCIDENTS = {
    1: ("MPS", "MPS", CAMDEN, "core.police_crime"),
    2: ("MPS", "MPS", HACKNEY, "core.police_crime"),
    3: ("LFB", "LFB", CAMDEN, "core.fire_incident"),
    4: ("MPS", "MPS", None, "core.police_crime"),  # the source gave no location
    5: ("ISTV", "ED", CAMDEN, "istv.ed_assault"),
    6: ("LAS", "LAS", HACKNEY, "core.ambulance_assault"),
    7: ("TRANSPORT", "BTP", CAMDEN, "core.transport_crime"),
}
DETAIL_TABLES = sorted({d for *_, d in INCIDENTS.values()})

# user_id: (disabled, [(dataset, gss_code or None = all London, show_points)])
USERS = {
    1: (False, [("MPS", CAMDEN, False)]),
    2: (False, [("MPS", None, True)]),
    3: (False, [("MPS", CAMDEN, True), ("LFB", CAMDEN, False)]),
    4: (True, [("MPS", None, True)]),
    5: (False, [("ISTV", CAMDEN, False)]),
    6: (False, []),
}


def _seed(conn: Connection) -> None:
    run = {"run": 1}
    conn.execute(text("""
        INSERT INTO ref.local_authority (gss_code, name, csp_name, load_run_id)
        VALUES (:c, 'Camden', 'Camden CSP', :run), (:h, 'Hackney', 'Hackney CSP', :run)"""),
                 {"c": CAMDEN, "h": HACKNEY, **run})
    conn.execute(text("INSERT INTO ref.offence_category (id, scheme, code, label, load_run_id) "
                      "VALUES (1, 'MPS', 'UNKNOWN', 'Unknown', :run)"), run)
    conn.execute(text("INSERT INTO ref.code_value VALUES ('ISTV_METHOD', '01', 'Fist', :run), "
                      "('ISTV_LOCATION', '01', 'Street', :run)"), run)
    conn.execute(text("INSERT INTO ref.ed_site (ods_site_code, name, gss_code, active, legacy_hospital_id, load_run_id) "
                      "VALUES ('RAL01', 'Royal Free', :c, true, 1, :run)"), {"c": CAMDEN, **run})
    for incident_id, (dataset, agency, gss, detail) in INCIDENTS.items():
        conn.execute(text("""
            INSERT INTO core.incident (incident_id, agency_code, dataset, source_ref, legacy_pk,
                                       occurred_precision, gss_code, geom, location_precision, load_run_id)
            VALUES (:id, :agency, :dataset, :ref, :ref, 'minute', :gss,
                    ST_SetSRID(ST_MakePoint(529000 + :id, 184000 + :id), 27700), 'exact', :run)"""),
                     {"id": incident_id, "agency": agency, "dataset": dataset, "ref": f"R{incident_id}",
                      "gss": gss, **run})
        extra = {
            "core.police_crime": ("offence_category_id", "1"),
            "core.transport_crime": ("source_agency", "'BTP'"),
            "istv.ed_assault": ("ods_site_code, assault_method, location_type", "'RAL01', '01', '01'"),
        }.get(detail)
        cols, vals = (f", {extra[0]}", f", {extra[1]}") if extra else ("", "")
        conn.execute(text(f"INSERT INTO {detail} (incident_id, load_run_id{cols}) VALUES (:id, :run{vals})"),
                     {"id": incident_id, **run})
    conn.execute(text("INSERT INTO sec.organisation VALUES (1, 'GLA', 'gla', NULL, :run)"), run)
    for user_id, (disabled, grants) in USERS.items():
        conn.execute(text("""
            INSERT INTO sec.app_user (user_id, login, org_id, can_see_istv, can_see_points, disabled, load_run_id)
            VALUES (:u, :login, 1, false, false, :disabled, :run)"""),
                     {"u": user_id, "login": f"user{user_id}", "disabled": disabled, **run})
        for dataset, gss, points in grants:
            conn.execute(text("""
                INSERT INTO sec.access_grant (user_id, dataset, gss_code, show_points, load_run_id)
                VALUES (:u, :d, :g, :p, :run)"""), {"u": user_id, "d": dataset, "g": gss, "p": points, **run})


@pytest.fixture(scope="module")
def secured_url() -> Iterator[URL]:
    """One database for the module: upgraded, seeded as the superuser, dropped at the end."""
    admin_url = make_url(os.environ.get("SAFESTATS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"))
    name = f"ss_rls_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # never skip: the server is part of this project's machines
        pytest.fail(f"PostgreSQL is not usable: {exc}")
    url = admin_url.set(database=name)
    engine = create_engine(url, poolclass=NullPool)
    try:
        api.upgrade(url)
        with engine.begin() as conn:
            _seed(conn)
        yield url
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def engine(secured_url: URL) -> Iterator[object]:
    eng = create_engine(secured_url, poolclass=NullPool)
    yield eng
    eng.dispose()


@contextmanager
def as_app(engine, user_id: int | None, *, set_setting: bool = True) -> Iterator[Connection]:
    """A transaction running as the application role, acting for ``user_id``; rolled back after."""
    with engine.connect() as conn:
        trans = conn.begin()
        conn.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
        assert conn.execute(text("SELECT current_user")).scalar_one() == APP_ROLE
        if set_setting:
            act_for_user(conn, user_id)
        try:
            yield conn
        finally:
            trans.rollback()


def _visible(conn: Connection, table: str = "core.incident") -> set[int]:
    return {r[0] for r in conn.execute(text(f"SELECT incident_id FROM {table}"))}


def test_a_borough_grant_shows_only_that_dataset_in_that_borough(engine) -> None:
    with as_app(engine, 1) as conn:
        assert _visible(conn) == {1}  # MPS Camden
        # negative cases, by name: MPS Hackney, LFB Camden, MPS without a borough
        assert not _visible(conn) & {2, 3, 4}


def test_an_all_london_grant_sees_every_borough_and_rows_without_one(engine) -> None:
    with as_app(engine, 2) as conn:
        assert _visible(conn) == {1, 2, 4}  # every MPS row, the NULL-borough one included


def test_no_user_setting_means_no_rows(engine) -> None:
    with as_app(engine, None, set_setting=False) as conn:
        assert conn.execute(text("SELECT current_setting(:s, true)"), {"s": USER_ID_SETTING}).scalar_one() is None
        assert _visible(conn) == set()
        for table in DETAIL_TABLES:
            assert _visible(conn, table) == set(), table
    with as_app(engine, None) as conn:  # set, but empty
        assert _visible(conn) == set()


def test_disabled_unknown_and_grantless_users_see_nothing(engine) -> None:
    for user_id in (4, 6, 999):
        with as_app(engine, user_id) as conn:
            assert _visible(conn) == set(), user_id


def test_istv_rows_need_an_istv_grant(engine) -> None:
    with as_app(engine, 3) as conn:  # MPS + LFB in Camden, no ISTV
        assert _visible(conn) == {1, 3}
        assert _visible(conn, "istv.ed_assault") == set()
    with as_app(engine, 5) as conn:
        assert _visible(conn) == {5}
        assert _visible(conn, "istv.ed_assault") == {5}


def test_detail_tables_follow_their_incident(engine) -> None:
    with as_app(engine, 1) as conn:
        assert _visible(conn, "core.police_crime") == {1}
        for table in ("core.fire_incident", "core.ambulance_assault", "core.transport_crime", "istv.ed_assault"):
            assert _visible(conn, table) == set(), table
    with as_app(engine, 3) as conn:
        assert _visible(conn, "core.police_crime") == {1}
        assert _visible(conn, "core.fire_incident") == {3}


def test_the_masked_view_hides_points_without_show_points(engine) -> None:
    query = text("SELECT incident_id, gss_code, geom IS NOT NULL, point_shown FROM core.incident_masked")
    with as_app(engine, 1) as conn:  # Camden MPS, no points: area only
        assert {tuple(r) for r in conn.execute(query)} == {(1, CAMDEN, False, False)}
    with as_app(engine, 2) as conn:  # all London MPS with points
        assert {tuple(r) for r in conn.execute(query)} == {
            (1, CAMDEN, True, True), (2, HACKNEY, True, True), (4, None, True, True)}
    with as_app(engine, 3) as conn:  # points for MPS Camden, not for LFB Camden
        assert {tuple(r) for r in conn.execute(query)} == {(1, CAMDEN, True, True), (3, CAMDEN, False, False)}
    with as_app(engine, None) as conn:  # the view adds nothing RLS did not grant
        assert conn.execute(query).all() == []


def test_a_user_sees_only_their_own_grants(engine) -> None:
    with as_app(engine, 3) as conn:
        rows = conn.execute(text("SELECT user_id, dataset FROM sec.access_grant ORDER BY dataset")).all()
        assert [tuple(r) for r in rows] == [(3, "LFB"), (3, "MPS")]


def test_the_app_role_cannot_write_or_reach_the_ledger(engine) -> None:
    for statement in (
        "INSERT INTO sec.access_grant (user_id, dataset, gss_code, show_points, load_run_id) "
        "VALUES (1, 'LFB', NULL, true, 1)",
        "UPDATE core.incident SET gss_code = NULL",
        "DELETE FROM core.incident",
        "SELECT count(*) FROM ledger.run",
    ):
        with as_app(engine, 2) as conn, pytest.raises(DBAPIError, match="permission denied"):
            conn.execute(text(statement))


def test_the_owner_and_the_superuser_see_every_row(engine) -> None:
    with engine.connect() as conn:
        assert _visible(conn) == set(INCIDENTS)  # postgres (superuser)
        conn.rollback()
        with conn.begin():
            conn.execute(text(f"SET LOCAL ROLE {MIGRATOR_ROLE}"))
            assert _visible(conn) == set(INCIDENTS)  # the owner: RLS enabled, not forced
            assert len(conn.execute(text("SELECT * FROM core.incident_masked WHERE point_shown")).all()) == 0
