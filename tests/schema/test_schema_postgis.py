"""PostGIS that cannot be created fails with the cause and the fix, as a SchemaError."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migration.errors import SchemaError
from migration.schema import api, ddl
from migration.schema.roles import APP_ROLE, MIGRATOR_ROLE

_HISTORY = api.history()
DATA_HEAD = next(r.revision for r in _HISTORY if r.branch == "data" and r.is_head)
LEDGER_HEAD = next(r.revision for r in _HISTORY if r.branch == "ledger" and r.is_head)
ALL_REVISIONS = [r.revision for r in _HISTORY]


PG_ADMIN_URL = os.environ.get("SAFESTATS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _run_helper(url: URL, helper, *args) -> None:
    """Run one ddl helper on ``url`` the way a revision would, and commit."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            with Operations.context(MigrationContext.configure(conn)):
                helper(*args)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_extension_that_is_not_installed_names_the_package_to_install(pg_url: URL) -> None:
    # PostGIS is installed on every machine of this project, so the check is exercised
    # with a name that is not; the SQL is the same block the d0001 revision runs.
    with pytest.raises(DBAPIError) as raised:
        _run_helper(pg_url, ddl.ensure_postgis, "postgis_not_installed_here")
    assert raised.value.orig.pgcode == ddl.SQLSTATE_POSTGIS_MISSING  # type: ignore[union-attr]
    error = api._translate(raised.value, pg_url, "upgrade")
    assert isinstance(error, SchemaError)
    assert error.what == "the postgis_not_installed_here extension is not installed on this PostgreSQL server"
    assert "postgresql-15-postgis-3" in (error.hint or "")


@pytest.mark.postgres
def test_a_login_that_may_not_create_postgis_is_told_to_ask_a_superuser(pg_url: URL) -> None:
    _run_helper(pg_url, ddl.ensure_roles)  # the roles exist, so PostGIS is the first obstacle
    login = f"ss_noext_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)  # inside the database
    maintenance = create_engine(make_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE {login} LOGIN NOSUPERUSER"))
            conn.execute(text(f'ALTER DATABASE "{pg_url.database}" OWNER TO {login}'))
        with pytest.raises(SchemaError) as raised:
            api.upgrade(pg_url.set(username=login), "data@head")
        error = raised.value
        assert error.what == (f"role {login} may not create the postgis extension in database {pg_url.database}")
        assert "have a superuser run CREATE EXTENSION postgis" in (error.hint or "")
        assert login in (error.where or "")
        # all or nothing: not even alembic_version was left behind
        with admin.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar_one() is None
            # once a superuser has created it, the same login gets past this step…
            conn.execute(text("CREATE EXTENSION postgis"))
        # …to the next one: it must be allowed to act as the owner role
        with pytest.raises(SchemaError) as raised:
            api.upgrade(pg_url.set(username=login), "data@head")
        assert f'permission denied to set role "{MIGRATOR_ROLE}"' in raised.value.what
        assert f"GRANT {MIGRATOR_ROLE} TO {login}" in (raised.value.hint or "")
        with admin.connect() as conn:
            conn.execute(text(f"GRANT {MIGRATOR_ROLE} TO {login}"))
        change = api.upgrade(pg_url.set(username=login), "data@head")
        assert change.after == (DATA_HEAD,)
        with admin.connect() as conn:
            owner = conn.execute(text("SELECT pg_get_userbyid(relowner) FROM pg_class "
                                      "WHERE oid = 'core.incident'::regclass")).scalar_one()
            assert owner == MIGRATOR_ROLE
    finally:
        admin.dispose()
        with maintenance.connect() as conn:  # the database first: the login owns it
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_url.database}" WITH (FORCE)'))
            conn.execute(text(f"DROP ROLE IF EXISTS {login}"))
        maintenance.dispose()


def test_an_app_role_that_bypasses_rls_stops_the_upgrade() -> None:
    # Altering the real cluster-wide role would race other tests, so the guard's SQL is
    # checked instead: it must look at both attributes of the app role.
    sql = api.upgrade(None, "d0001", sql=True).sql or ""
    assert f"WHERE rolname = '{APP_ROLE}' AND (rolsuper OR rolbypassrls)" in sql
    assert f"CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS" in sql
