"""Exact locations are hidden by the database (issue 16, revision d0005).

Every probe runs as the application role (``SET ROLE safestats_app``) acting for one user
(``safestats.user_id``), for users of every grant shape: points or not, one borough,
several, all London, ISTV or not, overlapping grants, disabled, grantless, nobody.  The
expected answer of each user comes from a small oracle over the seeded grants, not from
the database.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migration.schema import api
from migration.schema.roles import (
    APP_ROLE,
    EXACT_LOCATION_COLUMNS,
    MASKED_INCIDENT_VIEW,
    MIGRATOR_ROLE,
    PUBLIC_POINT_COLUMNS,
    act_for_user,
)

pytestmark = pytest.mark.postgres

CAMDEN, HACKNEY, ISLINGTON = "E09000007", "E09000012", "E09000019"


def _shipped_centroids() -> dict[str, tuple[int, int]]:
    raw = (resources.files("migration.refdata") / "local_authority.csv").read_text(encoding="utf-8")
    return {r["gss_code"]: (int(r["centroid_easting"]), int(r["centroid_northing"]))
            for r in csv.DictReader(io.StringIO(raw))}


SHIPPED = _shipped_centroids()
# Islington is loaded without a centroid: its rows keep their borough, with no point
CENTROIDS = {CAMDEN: SHIPPED[CAMDEN], HACKNEY: SHIPPED[HACKNEY]}

# incident_id: (dataset, agency, gss_code, exact point or None, location_precision, detail table)
INCIDENTS: dict[int, tuple[str, str, str | None, tuple[int, int] | None, str, str]] = {
    1: ("MPS", "MPS", CAMDEN, (528101, 184102), "exact", "core.police_crime"),
    2: ("MPS", "MPS", HACKNEY, (534203, 185204), "exact", "core.police_crime"),
    3: ("MPS", "MPS", ISLINGTON, (531305, 184906), "exact", "core.police_crime"),
    4: ("MPS", "MPS", None, (529407, 183408), "exact", "core.police_crime"),      # no borough given
    5: ("MPS", "MPS", CAMDEN, None, "none", "core.police_crime"),                # no grid reference
    6: ("LFB", "LFB", CAMDEN, (527609, 184610), "rounded", "core.fire_incident"),
    7: ("ISTV", "ED", CAMDEN, (528711, 185012), "exact", "istv.ed_assault"),
    8: ("ISTV", "ED", HACKNEY, (535813, 184914), "street", "istv.ed_assault"),
    9: ("ISTV", "ED", None, None, "none", "istv.ed_assault"),                    # GeoLevel 9
    10: ("LAS", "LAS", HACKNEY, (535015, 185516), "exact", "core.ambulance_assault"),
}

# user_id: (disabled, [(dataset, gss_code or None = all London, show_points)])
USERS: dict[int, tuple[bool, list[tuple[str, str | None, bool]]]] = {
    10: (False, [("MPS", CAMDEN, False)]),                                            # one borough, no points
    11: (False, [("MPS", CAMDEN, True)]),                                             # one borough, points
    12: (False, [("MPS", CAMDEN, True), ("MPS", HACKNEY, False), ("MPS", ISLINGTON, False)]),  # several, mixed
    13: (False, [("MPS", CAMDEN, True), ("MPS", HACKNEY, True)]),                     # several, points
    14: (False, [("MPS", None, False)]),                                              # all London, no points
    15: (False, [("MPS", None, True)]),                                               # all London, points
    16: (False, [("ISTV", CAMDEN, True)]),                                            # ISTV, one borough, points
    17: (False, [("ISTV", None, False)]),                                             # ISTV, all London, no points
    18: (False, [("ISTV", None, True), ("MPS", CAMDEN, False), ("LFB", CAMDEN, True)]),  # ISTV + others
    19: (False, [("MPS", None, False), ("MPS", CAMDEN, True)]),                       # overlapping: points in one
    20: (True, [("MPS", None, True), ("ISTV", None, True)]),                          # disabled
    21: (False, []),                                                                  # no grant
    22: (False, [("LAS", HACKNEY, False), ("LFB", None, False)]),                     # several datasets, no points
}
NOBODY = (None, 999)  # no user set; an unknown user
EVERYONE = [*USERS, *NOBODY]


def expected(user_id: int | None) -> dict[int, tuple[tuple[int, int] | None, str, bool]]:
    """incident_id → (point, location_precision, point_shown) the user must get through the view."""
    disabled, grants = USERS.get(user_id, (False, [])) if user_id is not None else (False, [])
    if disabled:
        return {}
    out = {}
    for incident_id, (dataset, _agency, gss, point, precision, _detail) in INCIDENTS.items():
        matching = [g for g in grants if g[0] == dataset and (g[1] is None or g[1] == gss)]
        if not matching:
            continue
        if point is not None and any(show for *_, show in matching):
            out[incident_id] = (point, precision, True)
        else:
            out[incident_id] = (CENTROIDS.get(gss) if gss else None, "borough" if gss else "none", False)
    return out


def _seed(conn: Connection) -> None:
    run = {"run": 1}
    for gss, name in ((CAMDEN, "Camden"), (HACKNEY, "Hackney"), (ISLINGTON, "Islington")):
        e, n = CENTROIDS.get(gss, (None, None))
        conn.execute(text("""
            INSERT INTO ref.local_authority (gss_code, name, csp_name, centroid_easting, centroid_northing, load_run_id)
            VALUES (:g, :n, :n, :e, :no, :run)"""), {"g": gss, "n": name, "e": e, "no": n, **run})
    conn.execute(text("INSERT INTO ref.offence_category (id, scheme, code, label, load_run_id) "
                      "VALUES (1, 'MPS', 'UNKNOWN', 'Unknown', :run)"), run)
    conn.execute(text("INSERT INTO ref.code_value VALUES ('ISTV_METHOD', '01', 'Fist', :run), "
                      "('ISTV_LOCATION', '01', 'Street', :run)"), run)
    conn.execute(text("INSERT INTO ref.ed_site (ods_site_code, name, gss_code, geom, active, legacy_hospital_id, "
                      "load_run_id) VALUES ('RAL01', 'Royal Free', :c, "
                      "ST_SetSRID(ST_MakePoint(527000, 185500), 27700), true, 1, :run)"), {"c": CAMDEN, **run})
    for incident_id, (dataset, agency, gss, point, precision, detail) in INCIDENTS.items():
        conn.execute(text("""
            INSERT INTO core.incident (incident_id, agency_code, dataset, source_ref, legacy_pk,
                                       occurred_precision, gss_code, geom, location_precision, load_run_id)
            VALUES (:id, :agency, :dataset, :ref, :ref, 'minute', :gss,
                    ST_SetSRID(ST_MakePoint(:x, :y), 27700), :precision, :run)"""),
                     {"id": incident_id, "agency": agency, "dataset": dataset, "ref": f"R{incident_id}",
                      "gss": gss, "x": point[0] if point else None, "y": point[1] if point else None,
                      "precision": precision, **run})
        extra = {
            "core.police_crime": ("offence_category_id", "1"),
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
    conn.execute(text("ANALYZE"))  # statistics exist, so pg_stats could leak them (it must not)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """One upgraded, seeded database for the module (the probes only read, in rolled-back transactions)."""
    admin_url = make_url(os.environ.get("SAFESTATS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"))
    name = f"ss_loc_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # never skip: the server is part of this project's machines
        pytest.fail(f"PostgreSQL is not usable: {exc}")
    url = admin_url.set(database=name)
    eng = create_engine(url, poolclass=NullPool)
    try:
        api.upgrade(url)
        with eng.begin() as conn:
            _seed(conn)
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def as_app(engine: Engine, user_id: int | None) -> Iterator[Connection]:
    """A transaction as the application role acting for ``user_id`` (None: the setting is never made)."""
    with engine.connect() as conn:
        trans = conn.begin()
        conn.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
        assert conn.execute(text("SELECT current_user")).scalar_one() == APP_ROLE
        if user_id is not None:
            act_for_user(conn, user_id)
        try:
            yield conn
        finally:
            trans.rollback()


def refused(engine: Engine, user_id: int | None, statement: str) -> bool:
    """True when ``statement`` as the application role fails with permission denied."""
    with as_app(engine, user_id) as conn:
        try:
            conn.execute(text(statement)).all()
        except DBAPIError as exc:
            assert "permission denied" in str(exc.orig), str(exc.orig)
            return True
    return False


def _through_view(conn: Connection) -> dict[int, tuple[tuple[int, int] | None, str, bool]]:
    rows = conn.execute(text(f"""
        SELECT incident_id, round(ST_X(geom))::int, round(ST_Y(geom))::int, ST_SRID(geom),
               location_precision, point_shown
        FROM {MASKED_INCIDENT_VIEW}"""))
    out = {}
    for incident_id, x, y, srid, precision, shown in rows:
        assert srid in (27700, None)
        out[incident_id] = ((x, y) if x is not None else None, precision, shown)
    return out


# ----------------------------------------------------------------------------- the base table
DIRECT_PROBES = (
    "SELECT geom FROM core.incident",
    "SELECT count(*) FILTER (WHERE geom IS NOT NULL) FROM core.incident",  # the probe of issue 16
    "SELECT * FROM core.incident",
    "TABLE core.incident",
    "SELECT i FROM core.incident i",                                       # a whole-row reference
    "SELECT to_jsonb(i) FROM core.incident i",
    "SELECT incident_id FROM core.incident WHERE geom IS NOT NULL",
    "SELECT incident_id FROM core.incident ORDER BY geom",
    "SELECT incident_id FROM core.incident WHERE ST_X(geom) > 0",
    "SELECT ST_AsText(i.geom) FROM istv.ed_assault a JOIN core.incident i USING (incident_id)",
    "SELECT ST_AsText(i.geom) FROM core.police_crime p JOIN core.incident i USING (incident_id)",
)


@pytest.mark.parametrize("user_id", EVERYONE)
def test_every_read_of_an_exact_point_in_the_base_table_is_refused(engine: Engine, user_id: int | None) -> None:
    for probe in DIRECT_PROBES:
        assert refused(engine, user_id, probe), probe
    # what the application may read of the base table it still reads, row-level security applied
    with as_app(engine, user_id) as conn:
        rows = conn.execute(text("SELECT incident_id, gss_code, location_precision FROM core.incident")).all()
        assert {r[0] for r in rows} == set(expected(user_id))
        assert conn.execute(text("SELECT count(*) FROM core.incident")).scalar_one() == len(expected(user_id))


def test_the_probes_can_succeed_so_their_refusal_means_something(engine: Engine) -> None:
    with engine.connect() as conn:  # postgres, the superuser: every probe runs
        for probe in DIRECT_PROBES:
            conn.execute(text(probe)).all()
        assert conn.execute(text(DIRECT_PROBES[1])).scalar_one() == sum(1 for i in INCIDENTS.values() if i[3])
        conn.rollback()
        with conn.begin():
            conn.execute(text(f"SET LOCAL ROLE {MIGRATOR_ROLE}"))  # the owner: what loads and reconciles
            points = dict(conn.execute(text(
                "SELECT incident_id, ARRAY[ST_X(geom)::int, ST_Y(geom)::int] FROM core.incident "
                "WHERE geom IS NOT NULL")).all())
            assert points == {i: list(row[3]) for i, row in INCIDENTS.items() if row[3]}


def test_the_app_role_holds_no_privilege_on_an_exact_column_and_reads_the_rest_column_by_column(
        engine: Engine) -> None:
    with engine.connect() as conn:
        for table, column in EXACT_LOCATION_COLUMNS:
            assert conn.execute(text("SELECT has_column_privilege(:r, :t, :c, 'SELECT')"),
                                {"r": APP_ROLE, "t": table, "c": column}).scalar_one() is False, (table, column)
            assert conn.execute(text("SELECT has_table_privilege(:r, :t, 'SELECT')"),
                                {"r": APP_ROLE, "t": table}).scalar_one() is False, table
        readable = {r[0] for r in conn.execute(text("""
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = 'core' AND table_name = 'incident'
              AND has_column_privilege(:r, 'core.incident', column_name, 'SELECT')"""), {"r": APP_ROLE})}
        every = {r[0] for r in conn.execute(text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'core' AND table_name = 'incident'"))}
        assert readable == every - {"geom"}
        # every point column of the data schemas is either hidden or a public place, by decision
        points = {(r[0], r[1]) for r in conn.execute(text("""
            SELECT c.oid::regclass::text, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('ref', 'core', 'istv', 'sec') AND c.relkind = 'r' AND NOT a.attisdropped
              AND a.atttypid = 'geometry'::regtype"""))}
        assert points == set(EXACT_LOCATION_COLUMNS) | set(PUBLIC_POINT_COLUMNS)


def test_statistics_do_not_leak_exact_points(engine: Engine) -> None:
    query = text("SELECT attname FROM pg_stats WHERE schemaname = 'core' AND tablename = 'incident'")
    with engine.connect() as conn:
        assert "geom" in {r[0] for r in conn.execute(query)}  # planted: the superuser sees them
    with as_app(engine, 15) as conn:
        seen = {r[0] for r in conn.execute(query)}
    # pg_stats hides a column without SELECT privilege (and, under RLS, the whole table)
    assert "geom" not in seen


# ----------------------------------------------------------------------------- the view
@pytest.mark.parametrize("user_id", EVERYONE)
def test_the_view_gives_exact_points_exactly_where_a_grant_allows_and_the_borough_elsewhere(
        engine: Engine, user_id: int | None) -> None:
    with as_app(engine, user_id) as conn:
        got = _through_view(conn)
        base = {r[0] for r in conn.execute(text("SELECT incident_id FROM core.incident"))}
    assert got == expected(user_id)
    # the view adds no row to what row-level security gives the same session in the base table
    assert set(got) == base


def test_the_oracle_covers_every_case(engine: Engine) -> None:
    """The grant shapes above really produce each kind of answer (so the test above can fail)."""
    answers = [v for u in EVERYONE for v in expected(u).values()]
    assert any(shown for _p, _prec, shown in answers)
    assert any(not shown and p is not None for p, _prec, shown in answers)                 # a centroid
    assert any(not shown and p is None and prec == "borough" for p, prec, shown in answers)  # Islington
    assert any(not shown and prec == "none" for _p, prec, shown in answers)                 # no borough
    assert not expected(None) and not expected(999) and not expected(20) and not expected(21)
    # a user with points in Camden only gets Hackney and Islington at borough level
    assert expected(12) == {1: ((528101, 184102), "exact", True), 2: (CENTROIDS[HACKNEY], "borough", False),
                            3: (None, "borough", False), 5: (CENTROIDS[CAMDEN], "borough", False)}


def test_a_session_acting_for_nobody_sees_nothing_through_the_view(engine: Engine) -> None:
    for user_id in (None, 999, 20, 21):
        with as_app(engine, user_id) as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {MASKED_INCIDENT_VIEW}")).scalar_one() == 0
    with as_app(engine, 15) as conn:  # and the setting is read per query: clearing it closes the view
        assert conn.execute(text(f"SELECT count(*) FROM {MASKED_INCIDENT_VIEW}")).scalar_one() > 0
        act_for_user(conn, None)
        assert conn.execute(text(f"SELECT count(*) FROM {MASKED_INCIDENT_VIEW}")).scalar_one() == 0


def test_a_leaky_function_in_a_query_sees_only_the_rows_the_view_returns(engine: Engine) -> None:
    """security_barrier: a cheap, non-leakproof function in the caller's WHERE clause is not
    run on the rows the view filters out."""
    with engine.connect() as conn, conn.begin():
        conn.execute(text("""
            CREATE OR REPLACE FUNCTION public.ss_test_leak(bigint, text) RETURNS boolean
            LANGUAGE plpgsql COST 0.0000001 AS $$
            BEGIN RAISE NOTICE 'leaked % %', $1, $2; RETURN true; END $$"""))
    with as_app(engine, 10) as conn:  # MPS Camden only
        raw = conn.connection.dbapi_connection  # notices are kept on the driver's own cursor path
        raw.notices.clear()
        with raw.cursor() as cur:
            cur.execute(f"SELECT incident_id FROM {MASKED_INCIDENT_VIEW} WHERE public.ss_test_leak(incident_id, dataset)")
            rows = cur.fetchall()
        leaked = {int(n.split()[2]) for n in raw.notices if "leaked" in n}
    assert {r[0] for r in rows} == set(expected(10)) == {1, 5}
    assert leaked <= {1, 5}, leaked


def test_the_view_is_owned_by_the_migrator_and_is_a_security_barrier(engine: Engine) -> None:
    with engine.connect() as conn:
        owner, options = conn.execute(text(
            "SELECT pg_get_userbyid(relowner), reloptions FROM pg_class WHERE oid = to_regclass(:v)"),
            {"v": MASKED_INCIDENT_VIEW}).one()
        assert owner == MIGRATOR_ROLE
        assert "security_barrier=true" in options and not any(o.startswith("security_invoker") for o in options)
        assert conn.execute(text("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                                 "WHERE attrelid = to_regclass(:v) AND attname = 'geom'"),
                            {"v": MASKED_INCIDENT_VIEW}).scalar_one() == "geometry(Point,27700)"


def test_the_app_role_still_reads_public_hospital_sites(engine: Engine) -> None:
    with as_app(engine, 17) as conn:
        assert conn.execute(text("SELECT ST_X(geom)::int FROM ref.ed_site")).scalar_one() == 527000


# ----------------------------------------------------------------------------- the revision
def test_schema_check_reports_an_exact_location_the_app_role_can_read(upgraded_url: URL, connect) -> None:
    assert api.check(upgraded_url).ok
    for grant, undo in (
        (f"GRANT SELECT ON core.incident TO {APP_ROLE}", f"REVOKE SELECT ON core.incident FROM {APP_ROLE}"),
        ("GRANT SELECT (geom) ON core.incident TO PUBLIC", "REVOKE SELECT (geom) ON core.incident FROM PUBLIC"),
    ):
        with connect(upgraded_url) as conn, conn.begin():
            conn.execute(text(grant))
        found = api.check(upgraded_url).differences
        assert [d for d in found if "core.incident.geom" in d and APP_ROLE in d], (grant, found)
        with connect(upgraded_url) as conn, conn.begin():
            conn.execute(text(undo))
            if "TO PUBLIC" not in grant:  # the revoke took the column grants too: give them back
                conn.execute(text(f"GRANT SELECT (incident_id) ON core.incident TO {APP_ROLE}"))
        assert api.check(upgraded_url).ok


def _access(conn: Connection) -> dict[str, Any]:
    """What decides the application's access to incidents, as the catalog says."""
    return {
        "table_acl": conn.execute(text(
            "SELECT relacl::text[] FROM pg_class WHERE oid = 'core.incident'::regclass")).scalar_one(),
        "column_acl": conn.execute(text(
            "SELECT array_agg(attname || '=' || attacl::text ORDER BY attname) FROM pg_attribute "
            "WHERE attrelid = 'core.incident'::regclass AND attacl IS NOT NULL")).scalar_one(),
        "view": conn.execute(text(
            "SELECT reloptions, pg_get_viewdef(oid), obj_description(oid, 'pg_class'), relacl::text[] "
            "FROM pg_class WHERE oid = 'core.incident_masked'::regclass")).one(),
        "centroid": conn.execute(text(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'ref.local_authority'::regclass "
            "AND attname LIKE 'centroid%' AND NOT attisdropped")).scalar_one(),
        "geom_comment": conn.execute(text(
            "SELECT col_description('core.incident'::regclass, attnum) FROM pg_attribute "
            "WHERE attrelid = 'core.incident'::regclass AND attname = 'geom'")).scalar_one(),
    }


def test_downgrade_restores_the_grants_of_d0004_exactly(pg_databases, connect) -> None:
    at_d0004, round_trip = pg_databases.create(), pg_databases.create()
    api.upgrade(at_d0004, "d0004")
    api.upgrade(round_trip)
    with connect(round_trip) as conn:
        upgraded = _access(conn)
    api.downgrade(round_trip, "d0004")
    with connect(at_d0004) as a, connect(round_trip) as b:
        before, after = _access(a), _access(b)
    assert after == before
    assert upgraded != before and upgraded["centroid"] == 2 and before["centroid"] == 0
    assert "security_invoker=true" in before["view"][0]

    engine = create_engine(round_trip, poolclass=NullPool)
    try:
        with as_app(engine, None) as conn:  # today's grants are back: the base table's points are readable
            conn.execute(text("SELECT geom FROM core.incident")).all()
    finally:
        engine.dispose()
    api.upgrade(round_trip)
    assert api.check(round_trip).ok


def test_the_upgrade_fills_the_centroids_of_authorities_already_loaded(pg_url: URL, connect) -> None:
    api.upgrade(pg_url, "d0004")
    with connect(pg_url) as conn, conn.begin():
        conn.execute(text("INSERT INTO ref.local_authority (gss_code, name, csp_name, load_run_id) "
                          "VALUES (:c, 'Camden', 'Camden CSP', 1), (:h, 'Hackney', 'Hackney CSP', 1)"),
                     {"c": CAMDEN, "h": HACKNEY})
    api.upgrade(pg_url)
    with connect(pg_url) as conn:
        got = {r[0]: (r[1], r[2]) for r in conn.execute(text(
            "SELECT gss_code, centroid_easting, centroid_northing FROM ref.local_authority"))}
    # the same values the boroughs stage seeds, so both paths reconcile alike
    assert got == {CAMDEN: SHIPPED[CAMDEN], HACKNEY: SHIPPED[HACKNEY]}


def test_the_revision_and_the_seed_agree_on_every_centroid() -> None:
    from importlib import import_module

    d0005 = import_module("migration.schema.versions.d0005_exact_locations")
    assert d0005.CENTROIDS == SHIPPED
    assert len(SHIPPED) == 33
    for e, n in SHIPPED.values():  # inside Greater London's extent on the British National Grid
        assert 500_000 < e < 565_000 and 155_000 < n < 205_000
