"""Fixtures for the target-schema tests: upgraded throwaway databases and catalog probes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from migration.schema import api


@pytest.fixture
def upgraded_url(pg_url: URL) -> URL:
    """A fresh database upgraded to every head."""
    api.upgrade(pg_url)
    return pg_url


@pytest.fixture
def connect() -> Iterator[object]:
    """``connect(url)`` → a connection (superuser ``postgres``), closed after the test."""
    engines = []

    def _connect(url: URL) -> Connection:
        engine = create_engine(url, poolclass=NullPool)
        engines.append(engine)
        return engine.connect()

    yield _connect
    for engine in engines:
        engine.dispose()


# Objects that are not PostgreSQL's own and not members of an extension (PostGIS's
# tables, types and functions are extension members and therefore left out).
OUR_OBJECTS_SQL = """
WITH ext AS (
    SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
), sys(nsp) AS (
    VALUES ('pg_catalog'), ('information_schema'), ('pg_toast')
)
SELECT 'schema ' || n.nspname
FROM pg_namespace n
WHERE n.nspname NOT IN (SELECT nsp FROM sys) AND n.nspname <> 'public'
  AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
  AND (n.oid) NOT IN (SELECT objid FROM ext WHERE classid = 'pg_namespace'::regclass)
UNION ALL
SELECT 'relation ' || n.nspname || '.' || c.relname || ' (' || c.relkind::text || ')'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN (SELECT nsp FROM sys)
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
  AND c.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_class'::regclass)
  -- a composite type's membership is recorded on its pg_type row
  AND c.reltype NOT IN (SELECT objid FROM ext WHERE classid = 'pg_type'::regclass)
UNION ALL
SELECT 'function ' || n.nspname || '.' || p.proname
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN (SELECT nsp FROM sys)
  AND p.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_proc'::regclass)
UNION ALL
SELECT 'type ' || n.nspname || '.' || t.typname
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname NOT IN (SELECT nsp FROM sys)
  AND t.typtype IN ('e', 'd', 'r', 'm')
  AND t.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_type'::regclass)
UNION ALL
SELECT 'policy ' || polname FROM pg_policy
UNION ALL
SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'event trigger ' || evtname FROM pg_event_trigger
UNION ALL
SELECT 'default acl ' || defaclrole::regrole::text FROM pg_default_acl
"""


class Catalog:
    """Probes of the system catalogs."""

    @staticmethod
    def our_objects(conn: Connection) -> set[str]:
        """Every schema, relation, function, type, policy, trigger… not PostgreSQL's or an extension's."""
        return {row[0] for row in conn.execute(text(OUR_OBJECTS_SQL))}

    @staticmethod
    def role_dependencies_here(conn: Connection, *roles: str) -> list[str]:
        """Ownerships, grants and policies in *this* database that name one of ``roles``."""
        rows = conn.execute(text("""
            SELECT r.rolname || ' ' || d.deptype::text || ' ' || pg_describe_object(d.classid, d.objid, d.objsubid)
            FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
            WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND r.rolname = ANY(:roles)
        """), {"roles": list(roles)})
        return [row[0] for row in rows]

    @staticmethod
    def schemas(conn: Connection) -> set[str]:
        return {row[0] for row in conn.execute(text("SELECT nspname FROM pg_namespace"))}


@pytest.fixture
def catalog() -> Catalog:
    return Catalog()
