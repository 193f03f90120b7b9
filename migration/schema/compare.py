"""Which database objects are ours, and how the model is compared with a live database.

Used by ``env.py`` (so an autogenerate draft only ever sees our schemas) and by
:func:`migration.schema.api.check`, the equivalent of ``alembic check``: the database
upgraded to heads must match :mod:`migration.schema.models` exactly.  PostGIS's own
objects (``public.spatial_ref_sys``, the ``tiger``/``topology`` schemas) and
``alembic_version`` live outside our schemas and are therefore never compared.

Alembic compares no privileges; :func:`exposed_locations` adds the one whose loss would
leak: the application role must not be able to read an exact location.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from migration.schema.models import DATA_SCHEMAS, LEDGER_SCHEMAS, metadata
from migration.schema.roles import APP_ROLE, EXACT_LOCATION_COLUMNS

OUR_SCHEMAS = frozenset(DATA_SCHEMAS + LEDGER_SCHEMAS)


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Reflect only our schemas (the default schema, ``public``, holds PostGIS and Alembic)."""
    if type_ == "schema":
        return name in OUR_SCHEMAS
    return True


#: schemas whose tables are created at run time (the loader's key snapshots), not by revisions
RUNTIME_SCHEMAS = frozenset({"staging"})


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Belt and braces for objects ``include_name`` cannot see the schema of; the loader's
    own tables in ``staging`` are not part of the model."""
    if type_ == "table":
        schema = getattr(obj, "schema", None)
        if reflected and compare_to is None and schema in RUNTIME_SCHEMAS:
            return False
        return schema in OUR_SCHEMAS
    if type_ == "index" and reflected and compare_to is None:
        table = getattr(obj, "table", None)
        if getattr(table, "schema", None) in RUNTIME_SCHEMAS:
            return False
    return True


def comparison_options() -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        "include_schemas": True,
        "include_name": include_name,
        "include_object": include_object,
        "compare_type": True,
        "compare_server_default": True,
    }


def differences(connection: Connection) -> list[Any]:
    """Alembic's diff between the model and the database (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    opts = comparison_options()
    model = opts.pop("target_metadata")
    mc = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(mc, model))


def exposed_locations(connection: Connection) -> list[str]:
    """One line per exact-location column the application role can select (empty: none).

    ``has_column_privilege`` counts every way in: a table-wide grant, a column grant, a
    grant to PUBLIC, membership of a role that holds one.  Tables that do not exist (the
    data branch downgraded) expose nothing.
    """
    found = []
    for table, column in EXACT_LOCATION_COLUMNS:
        exposed = connection.execute(text("""
            SELECT CASE WHEN to_regclass(:t) IS NULL
                          OR NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :r)
                        THEN false
                        ELSE pg_catalog.has_column_privilege(:r, to_regclass(:t), :c, 'SELECT') END"""),
            {"t": table, "c": column, "r": APP_ROLE}).scalar_one()
        if exposed:
            found.append(f"privilege: role {APP_ROLE} can select the exact location {table}.{column}; "
                         f"revoke it and grant the other columns one by one as revision d0005 does "
                         f"(runbooks/application-access.md)")
    return found
