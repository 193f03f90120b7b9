"""Small, stable building blocks the Alembic revisions share.

The revisions are history: once applied somewhere they must keep doing exactly what
they did.  They therefore import only these helpers and the names in
:mod:`migration.schema.roles`, never :mod:`migration.schema.models` (the model moves
with head; a revision must not).  Change a helper's behaviour only by adding a new one.

Everything here is emitted through ``op.execute`` so that ``schema upgrade --sql``
prints it for a DBA exactly as it would run.  No statement may contain a percent sign
(the offline renderer would double it) or a ``:word`` outside a literal cast (it would
be taken for a bind parameter).

Errors raised from inside PL/pgSQL carry our own SQLSTATEs (class ``SS``) so that
:mod:`migration.schema.api` can turn them into a :class:`~migration.errors.SchemaError`
with the right next step; the message and hint are already written for a person, so a
DBA running the ``--sql`` script sees the same advice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from alembic import context, op

from migration.schema.roles import APP_ROLE, MIGRATOR_ROLE

#: SQLSTATEs raised by the guards below (see migration.schema.api)
SQLSTATE_POSTGIS_MISSING = "SSP01"
SQLSTATE_POSTGIS_PRIVILEGE = "SSP02"
SQLSTATE_ROLE = "SSR01"
SQLSTATE_DATA_LOADED = "SSD01"
SQLSTATE_LEDGER_IN_USE = "SSD02"

#: ``config.attributes`` key set by ``downgrade(force=True)``
FORCE_ATTRIBUTE = "safestats_force_downgrade"


def _lit(value: str) -> str:
    """A SQL string literal (the values here are our own constants, never user input)."""
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """An identifier, quoted only when it has to be."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def ensure_roles() -> None:
    """Create the two NOLOGIN group roles if missing; refuse an app role that bypasses RLS.

    Roles are cluster-wide, so two databases upgraded at once may race to create them:
    the loser's ``duplicate_object``/``unique_violation`` is swallowed.  A pre-existing
    app role with SUPERUSER or BYPASSRLS would silently defeat row-level security, so
    the upgrade stops instead of going on with a false sense of safety.
    """
    blocks = []
    for role, attrs in ((MIGRATOR_ROLE, "NOLOGIN"), (APP_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS")):
        blocks.append(f"""
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {_lit(role)}) THEN
    BEGIN
      CREATE ROLE {role} {attrs};
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN
        NULL;  -- created meanwhile by a concurrent upgrade of another database
      WHEN insufficient_privilege THEN
        RAISE EXCEPTION USING
          ERRCODE = {_lit(SQLSTATE_ROLE)},
          MESSAGE = 'role {role} does not exist and role ' || quote_ident(current_user)
                    || ' may not create it',
          HINT = 'have a DBA run: CREATE ROLE {role} {attrs}; then rerun the upgrade';
    END;
  END IF;""")
    op.execute(f"""
DO $roles$
BEGIN{''.join(blocks)}
  IF EXISTS (SELECT FROM pg_catalog.pg_roles
             WHERE rolname = {_lit(APP_ROLE)} AND (rolsuper OR rolbypassrls)) THEN
    RAISE EXCEPTION USING
      ERRCODE = {_lit(SQLSTATE_ROLE)},
      MESSAGE = 'role {APP_ROLE} has SUPERUSER or BYPASSRLS, so row-level security would not apply to it',
      HINT = 'have a DBA run: ALTER ROLE {APP_ROLE} NOSUPERUSER NOBYPASSRLS; then rerun the upgrade';
  END IF;
END
$roles$""")


def ensure_postgis(extension: str = "postgis") -> None:
    """``CREATE EXTENSION IF NOT EXISTS postgis``, failing with the cause and the fix.

    Runs as the session user (PostGIS is not a trusted extension: only a superuser may
    create it).  An extension that already exists is fine whoever created it, so a DBA
    can create it once and the migration login needs no superuser rights.
    (``extension`` exists for the tests, which cannot uninstall PostGIS.)
    """
    name = _lit(extension)
    op.execute(f"""
DO $postgis$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = {name}) THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = {name}) THEN
    RAISE EXCEPTION USING
      ERRCODE = {_lit(SQLSTATE_POSTGIS_MISSING)},
      MESSAGE = {_lit(f"the {extension} extension is not installed on this PostgreSQL server")},
      HINT = 'install PostGIS on the database server (Debian: apt-get install postgresql-'
             || current_setting('server_version_num')::int / 10000
             || '-postgis-3), or have its DBA do it, then rerun the upgrade';
  END IF;
  BEGIN
    CREATE EXTENSION IF NOT EXISTS {_ident(extension)};
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION USING
      ERRCODE = {_lit(SQLSTATE_POSTGIS_PRIVILEGE)},
      MESSAGE = 'role ' || quote_ident(current_user) || {_lit(f" may not create the {extension} extension in database ")}
                || quote_ident(current_database()),
      HINT = {_lit(f"have a superuser run CREATE EXTENSION {_ident(extension)}; in that database, then rerun the upgrade")};
  END;
END
$postgis$""")


def grant_create_on_database() -> None:
    """Let the owner role create schemas in this database (needed once ``SET ROLE`` is in force).

    Granted only when missing, so a migration login that is not the database owner does
    not fail on a GRANT it may not give once a DBA has already given it.
    """
    op.execute(f"""
DO $grant$
BEGIN
  IF NOT pg_catalog.has_database_privilege({_lit(MIGRATOR_ROLE)}, current_database(), 'CREATE') THEN
    EXECUTE 'GRANT CREATE ON DATABASE ' || quote_ident(current_database()) || ' TO {MIGRATOR_ROLE}';
  END IF;
END
$grant$""")


@contextmanager
def as_owner() -> Iterator[None]:
    """Run the enclosed DDL as :data:`MIGRATOR_ROLE`, so it owns what is created.

    ``RESET ROLE`` afterwards gives the session user back before Alembic writes
    ``alembic_version`` (which the session user created and owns).  The session user
    must be a superuser or a member of the owner role.
    """
    op.execute(f"SET ROLE {MIGRATOR_ROLE}")
    yield
    op.execute("RESET ROLE")


def forced() -> bool:
    """True when the downgrade was asked for with ``--force``."""
    return bool(context.config.attributes.get(FORCE_ATTRIBUTE, False))


def refuse_drop_if_rows(schemas: Sequence[str], *, sqlstate: str, what: str, hint: str) -> None:
    """Stop a downgrade that would drop rows from any table of ``schemas``, unless forced.

    Emitted as SQL (not decided in Python) so it guards the database the statements
    finally run on — also when a DBA runs the ``--sql`` script by hand.
    """
    if forced():
        return
    schema_list = ", ".join(_lit(s) for s in schemas)
    op.execute(f"""
DO $guard$
DECLARE
  t record;
  has_rows boolean;
BEGIN
  FOR t IN
    SELECT n.nspname, c.relname
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ({schema_list}) AND c.relkind IN ('r', 'p')
    ORDER BY 1, 2
  LOOP
    EXECUTE 'SELECT EXISTS (SELECT FROM ' || quote_ident(t.nspname) || '.' || quote_ident(t.relname) || ')'
      INTO has_rows;
    IF has_rows THEN
      RAISE EXCEPTION USING
        ERRCODE = {_lit(sqlstate)},
        MESSAGE = {_lit(what)} || ': ' || t.nspname || '.' || t.relname || ' holds rows',
        HINT = {_lit(hint)};
    END IF;
  END LOOP;
END
$guard$""")
