"""The Alembic history on a real PostgreSQL: round trips, branches, model agreement, guards."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from migration.errors import SchemaError
from migration.schema import api
from migration.schema.models import DATA_TABLES, LEDGER_TABLES
from migration.schema.roles import APP_ROLE, MIGRATOR_ROLE

pytestmark = pytest.mark.postgres

_HISTORY = api.history()
DATA_HEAD = next(r.revision for r in _HISTORY if r.branch == "data" and r.is_head)
LEDGER_HEAD = next(r.revision for r in _HISTORY if r.branch == "ledger" and r.is_head)
ALL_REVISIONS = [r.revision for r in _HISTORY]


DATA_SCHEMAS = {"ref", "core", "istv", "sec"}
LEDGER_SCHEMAS = {"ledger", "staging"}


def _insert_run(conn) -> int:
    run_id = conn.execute(text("""
        INSERT INTO ledger.run (kind, actor, host, pid, package_version)
        VALUES ('full', 'tester', 'host', 1, '0.1.0') RETURNING run_id""")).scalar_one()
    conn.execute(text("INSERT INTO ledger.event (run_id, stage, kind, actor) VALUES (:r, 'mps', 'started', 't')"),
                 {"r": run_id})
    conn.execute(text("INSERT INTO ledger.event (run_id, stage, kind, actor) VALUES (:r, 'mps', 'finished', 't')"),
                 {"r": run_id})
    return run_id


def test_upgrade_then_downgrade_to_base_leaves_nothing_and_upgrades_again(pg_url: URL, connect, catalog) -> None:
    with connect(pg_url) as conn:
        before = catalog.our_objects(conn)

    change = api.upgrade(pg_url)
    assert change.before == () and set(change.after) == {DATA_HEAD, LEDGER_HEAD}
    with connect(pg_url) as conn:
        installed = catalog.our_objects(conn)
        # the probe does see our objects, so an empty result below means something
        assert {"schema core", "relation core.incident (r)", "relation core.incident_masked (v)",
                "relation ledger.stage_state (v)", "function sec.acting_user_id",
                "function ledger.refuse_change", "policy incident_granted"} <= installed
        assert conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar_one() == 1
        assert catalog.role_dependencies_here(conn, MIGRATOR_ROLE, APP_ROLE)  # owners, grants, policies

    change = api.downgrade(pg_url, "base")
    assert change.after == ()
    with connect(pg_url) as conn:
        assert catalog.our_objects(conn) == before
        assert not (catalog.schemas(conn) & (DATA_SCHEMAS | LEDGER_SCHEMAS))
        assert conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar_one() is None
        # nothing in this database is owned by, granted to or policed for our roles any
        # more; the roles themselves are cluster-wide and stay (as does PostGIS)
        assert catalog.role_dependencies_here(conn, MIGRATOR_ROLE, APP_ROLE) == []

    change = api.upgrade(pg_url)
    assert set(change.after) == {DATA_HEAD, LEDGER_HEAD}
    assert api.check(pg_url).ok


def test_downgrading_the_data_branch_keeps_the_ledger_and_its_rows(upgraded_url: URL, connect, catalog) -> None:
    with connect(upgraded_url) as conn, conn.begin():
        run_id = _insert_run(conn)

    change = api.downgrade(upgraded_url, "data@base")
    assert change.after == (LEDGER_HEAD,)

    with connect(upgraded_url) as conn:
        schemas = catalog.schemas(conn)
        assert not (schemas & DATA_SCHEMAS)
        assert LEDGER_SCHEMAS <= schemas
        for table in LEDGER_TABLES:
            assert conn.execute(text("SELECT to_regclass(:t)"), {"t": table.fullname}).scalar_one() is not None
        assert conn.execute(text("SELECT count(*) FROM ledger.run")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM ledger.event WHERE run_id = :r"), {"r": run_id}).scalar_one() == 2
        state = conn.execute(text("SELECT stage, kind FROM ledger.stage_state")).all()
        assert state == [("mps", "finished")]

    status = api.current(upgraded_url)
    assert [r.revision for r in status.applied] == [LEDGER_HEAD]
    assert not status.up_to_date

    # and the data branch comes back on top of the surviving ledger
    api.upgrade(upgraded_url, "data@head")
    assert api.current(upgraded_url).up_to_date


def test_model_and_migrations_agree(upgraded_url: URL, connect) -> None:
    result = api.check(upgraded_url)
    assert result.differences == ()

    # the comparison can fail: a drift in the database is reported
    with connect(upgraded_url) as conn, conn.begin():
        conn.execute(text("ALTER TABLE core.fire_incident ALTER COLUMN postcode TYPE varchar(10)"))
        conn.execute(text("DROP INDEX ledger.ix_quarantine_run_id"))
        conn.execute(text("ALTER TABLE ref.ed_site ALTER COLUMN geom TYPE geometry(Polygon, 27700)"))
    found = api.check(upgraded_url).differences
    assert any("core.fire_incident.postcode" in d for d in found)
    assert any("ix_quarantine_run_id" in d for d in found)
    assert any("ref.ed_site.geom" in d and "POLYGON" in d for d in found)


def test_every_object_is_owned_by_the_migrator_and_the_app_role_is_plain(upgraded_url: URL, connect) -> None:
    with connect(upgraded_url) as conn:
        owners = dict(conn.execute(text("""
            SELECT n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('ref', 'core', 'istv', 'sec', 'ledger', 'staging')
              AND c.relkind IN ('r', 'p', 'v', 'm', 'S')""")).all())
        for table in DATA_TABLES + LEDGER_TABLES:
            assert owners[table.fullname] == MIGRATOR_ROLE, table.fullname
        assert set(owners.values()) == {MIGRATOR_ROLE}
        schema_owners = dict(conn.execute(text("""
            SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace
            WHERE nspname IN ('ref', 'core', 'istv', 'sec', 'ledger', 'staging')""")).all())
        assert schema_owners == dict.fromkeys(DATA_SCHEMAS | LEDGER_SCHEMAS, MIGRATOR_ROLE)
        function_owners = {r[0] for r in conn.execute(text("""
            SELECT pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname IN ('sec', 'ledger')"""))}
        assert function_owners == {MIGRATOR_ROLE}

        app = conn.execute(text("""
            SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :r"""),
            {"r": APP_ROLE}).one()
        assert tuple(app) == (False, False, False)
        owned_by_app = conn.execute(text("""
            SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = :r)"""),
            {"r": APP_ROLE}).scalar_one()
        assert owned_by_app == 0

        rls = {r[0]: (r[1], r[2]) for r in conn.execute(text("""
            SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname IN ('core', 'istv', 'sec')"""))}
        for table in ("core.incident", "core.police_crime", "core.fire_incident", "core.ambulance_assault",
                      "core.transport_crime", "istv.ed_assault", "sec.access_grant"):
            assert rls[table] == (True, False), table  # enabled, not forced: the owner sees all


def test_the_ledger_is_append_only(upgraded_url: URL, connect) -> None:
    with connect(upgraded_url) as conn, conn.begin():
        _insert_run(conn)
    for statement in ("UPDATE ledger.event SET kind = 'rewritten'", "DELETE FROM ledger.run",
                      "TRUNCATE ledger.event CASCADE"):
        with connect(upgraded_url) as conn, conn.begin():
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(statement))


def test_data_downgrade_is_refused_while_data_is_loaded_unless_forced(upgraded_url: URL, connect) -> None:
    with connect(upgraded_url) as conn, conn.begin():
        conn.execute(text("INSERT INTO ref.local_authority VALUES ('E09000007', 'Camden', NULL, NULL, 'Camden', 1)"))

    with pytest.raises(SchemaError) as err:
        api.downgrade(upgraded_url, "data@base")
    assert "ref.local_authority holds rows" in err.value.what
    assert "rollback --all" in (err.value.hint or "") and "--force" in (err.value.hint or "")
    # one transaction: the policies and grants dropped before the refusal are back
    assert api.current(upgraded_url).up_to_date
    assert api.check(upgraded_url).ok

    # the layers above the tables may still go: nothing is lost with them
    api.downgrade(upgraded_url, "d0002")
    api.upgrade(upgraded_url)

    change = api.downgrade(upgraded_url, "data@base", force=True)
    assert change.after == (LEDGER_HEAD,)


def test_ledger_downgrade_is_refused_while_it_records_a_run(upgraded_url: URL, connect, catalog) -> None:
    with connect(upgraded_url) as conn, conn.begin():
        _insert_run(conn)
    with pytest.raises(SchemaError, match="refusing to drop the migration ledger"):
        api.downgrade(upgraded_url, "ledger@base")
    api.downgrade(upgraded_url, "ledger@base", force=True)
    assert [r.revision for r in api.current(upgraded_url).applied] == [DATA_HEAD]
    with connect(upgraded_url) as conn:
        assert not (catalog.schemas(conn) & LEDGER_SCHEMAS)
        assert DATA_SCHEMAS <= catalog.schemas(conn)


def test_an_upgrade_that_fails_changes_nothing(pg_url: URL, connect, catalog) -> None:
    with connect(pg_url) as conn, conn.begin():
        conn.execute(text("CREATE SCHEMA core"))  # in the way of d0001
    with pytest.raises(SchemaError, match="nothing was changed") as err:
        api.upgrade(pg_url)
    assert 'schema "core" already exists' in err.value.what
    with connect(pg_url) as conn:
        assert not (catalog.schemas(conn) & (LEDGER_SCHEMAS | {"ref", "istv", "sec"}))
        assert conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar_one() is None


CATALOG_PROBES = {
    "constraint": """
        SELECT c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = ANY(:schemas)""",
    "index": "SELECT indexdef FROM pg_indexes WHERE schemaname = ANY(:schemas)",
    "column": """
        SELECT c.table_schema || '.' || c.table_name || '.' || c.column_name || ' ' ||
               format_type(a.atttypid, a.atttypmod) || ' null=' || c.is_nullable ||
               ' default=' || coalesce(c.column_default, '-') || ' collation=' || coalesce(c.collation_name, '-') ||
               ' identity=' || coalesce(c.identity_generation, '-') ||
               ' comment=' || coalesce(col_description(a.attrelid, a.attnum), '-')
        FROM information_schema.columns c
        JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
                           AND a.attname = c.column_name
        JOIN pg_class r ON r.oid = a.attrelid
        WHERE c.table_schema = ANY(:schemas) AND r.relkind = 'r'""",
    "table comment": """
        SELECT c.oid::regclass::text || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(:schemas) AND c.relkind = 'r'""",
}


def test_migrations_build_exactly_the_tables_the_model_builds(pg_databases, connect) -> None:
    """Beyond `alembic check`: PostgreSQL's own rendering of every constraint (CHECKs
    included, which Alembic does not compare), index, column and comment must be the
    same whether the tables come from the revisions or from ``metadata.create_all``."""
    from migration.schema.models import metadata

    migrated, modelled = pg_databases.create(), pg_databases.create()
    api.upgrade(migrated)
    with connect(modelled) as conn, conn.begin():
        conn.execute(text("CREATE EXTENSION postgis"))
        for schema in sorted(DATA_SCHEMAS | LEDGER_SCHEMAS):
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        metadata.create_all(conn)

    schemas = sorted(DATA_SCHEMAS | LEDGER_SCHEMAS)
    for what, probe in CATALOG_PROBES.items():
        with connect(migrated) as a, connect(modelled) as b:
            from_migrations = {r[0] for r in a.execute(text(probe), {"schemas": schemas})}
            from_model = {r[0] for r in b.execute(text(probe), {"schemas": schemas})}
        assert from_migrations, what
        assert from_migrations - from_model == set(), f"{what}: only in the migrations"
        assert from_model - from_migrations == set(), f"{what}: only in the model"


def test_the_sql_scripts_a_dba_would_run_do_what_the_online_commands_do(pg_url: URL, connect, catalog) -> None:
    upgrade_sql = api.upgrade(None, sql=True).sql
    script_conn = connect(pg_url)
    raw = script_conn.connection.dbapi_connection  # the script brings its own BEGIN/COMMIT
    raw.autocommit = True
    with raw.cursor() as cur:
        cur.execute(upgrade_sql)
    assert api.current(pg_url).up_to_date
    assert api.check(pg_url).ok

    with raw.cursor() as cur:
        cur.execute(api.downgrade(None, f"{DATA_HEAD}:base", sql=True).sql)
        cur.execute(api.downgrade(None, f"{LEDGER_HEAD}:base", sql=True).sql)
    script_conn.close()
    with connect(pg_url) as conn:
        assert not (catalog.schemas(conn) & (DATA_SCHEMAS | LEDGER_SCHEMAS))
    assert api.current(pg_url).applied == ()


def test_l0004_adds_the_business_key_to_records_and_downgrades_keeping_them(upgraded_url: URL, connect) -> None:
    """Ledger revision l0004: quarantine and disposition records carry the business key."""
    assert LEDGER_HEAD == "l0008"  # l0005 (record events), l0006 (decisions), l0007 (signatures), l0008 (seals) keep l0004's columns

    def columns(conn, table: str) -> set[str]:  # type: ignore[no-untyped-def]
        return {r[0] for r in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ledger' AND table_name = :t"),
            {"t": table})}

    with connect(upgraded_url) as conn, conn.begin():
        run_id = _insert_run(conn)
        assert {"business_key", "source_key"} <= columns(conn, "quarantine")
        assert {"business_key", "source_key"} <= columns(conn, "disposition")
        conn.execute(text("INSERT INTO ledger.quarantine (run_id, stage, source_table, source_key, business_key, "
                          "reason_code, fields) VALUES (:r, 'mps', 'tblMPSCrime', '2855', 'MP10SD0002442', "
                          "'IMPOSSIBLE_DATE', '{CommittedDate}')"), {"r": run_id})
        conn.execute(text("INSERT INTO ledger.disposition (run_id, stage, source_table, source_key, disposition, "
                          "business_key, reason_code, fields) VALUES (:r, 'mps', 'tblMPSCrime', '2856', 'merged', "
                          "'MP10SD0002442', 'DUPLICATE_MERGED', '{CrimeRef}')"), {"r": run_id})
        # compared byte-wise, like source_ref
        assert conn.execute(text("SELECT count(*) FROM ledger.quarantine WHERE business_key = 'mp10sd0002442'"
                                 )).scalar_one() == 0

    api.downgrade(upgraded_url, "l0003")
    with connect(upgraded_url) as conn:
        assert "business_key" not in columns(conn, "quarantine") | columns(conn, "disposition")
        assert conn.execute(text("SELECT source_key FROM ledger.quarantine")).scalars().all() == ["2855"]
        assert conn.execute(text("SELECT source_key FROM ledger.disposition")).scalars().all() == ["2856"]
        assert conn.execute(text("SELECT to_regclass('ledger.ix_quarantine_stage_business_key')")).scalar() is None

    api.upgrade(upgraded_url)
    with connect(upgraded_url) as conn:
        assert conn.execute(text("SELECT source_key, business_key FROM ledger.quarantine")).all() == [("2855", None)]
    assert api.check(upgraded_url).ok
