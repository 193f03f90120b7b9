"""data: PostGIS, roles, and the four data schemas

Revision ID: d0001
Revises: (none; root of the ``data`` branch)

Cluster- and database-level prerequisites are done as the *session user*, because only
it may: the roles (CREATEROLE), the PostGIS extension (PostGIS is not a trusted
extension, so a superuser must create it) and ``GRANT CREATE ON DATABASE`` to the owner
role.  Everything else is created after ``SET ROLE safestats_migrator``, so the owner is
right by construction even when a superuser runs the upgrade; the alternative, creating
as the superuser and ``ALTER … OWNER`` afterwards, has to list every object and silently
misses any a later revision forgets.

In production a DBA creates the extension and roles once and grants the owner role to
the migration login; every step here then finds them present and does nothing.

Downgrading drops the schemas but leaves, on purpose:
- the PostGIS extension: other schemas or databases' tools may use it, and dropping it
  needs a superuser;
- the roles and their database-level CREATE privilege: roles are cluster-wide, shared
  by every database of the cluster (``DROP ROLE`` fails while any database still
  grants them anything); a DBA removes them with ``REVOKE``/``DROP ROLE`` if wanted.
"""

from __future__ import annotations

from alembic import op

from migration.schema import ddl
from migration.schema.roles import APP_ROLE

revision = "d0001"
down_revision = None
branch_labels = ("data",)
depends_on = None

SCHEMAS = {
    "ref": "Reference data keyed on official codes (GSS, ONS, ODS).",
    "core": "One row per incident from any agency, plus one detail table per kind.",
    "istv": "Information Sharing to Tackle Violence: ED assault attendances, without patient identifiers.",
    "sec": "Organisations, users and their access grants; drives row-level security.",
}


def upgrade() -> None:
    ddl.ensure_roles()
    ddl.ensure_postgis()
    ddl.grant_create_on_database()

    with ddl.as_owner():
        for schema, comment in SCHEMAS.items():
            op.execute(f"CREATE SCHEMA {schema}")
            op.execute(f"COMMENT ON SCHEMA {schema} IS '{comment}'")
            # USAGE only lets the application name objects; what it may read is granted
            # table by table in d0003.
            op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}")


def downgrade() -> None:
    with ddl.as_owner():
        # RESTRICT (the default): d0002 dropped every table by name, so an object found
        # here was made outside the migrations and must be looked at, not dropped.
        for schema in reversed(list(SCHEMAS)):
            op.execute(f"DROP SCHEMA {schema}")
