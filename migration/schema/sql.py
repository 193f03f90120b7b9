"""SQL text for the target database: quoting, staging table names, column types, upsert keys.

Every layer that writes or reads the target by hand uses these (the loader's apply SQL in
:mod:`migration.steps.compile`, rollback, reconciliation, the lookups, the profile's
simulation); they depend on the model only, so they sit with it in the schema layer.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

STAGING_SCHEMA = "staging"
_PG = postgresql.dialect()


def qident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qliteral(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def staging_table(stage: str, source_table: str, suffix: str) -> str:
    return f"{STAGING_SCHEMA}.{qident(f'{stage}__{source_table.lower()}__{suffix}')}"


def pg_type(table: Table, column: str) -> str:
    t = table.c[column].type.compile(dialect=_PG).split(" COLLATE ")[0]
    return {"geometry(POINT,27700)": "geometry(Point,27700)"}.get(t, t)


def conflict_columns(table: Table) -> list[str]:
    """The columns that identify a row for upserts: the PK unless it is an identity, else a unique key."""
    pk = [c.name for c in table.primary_key.columns]
    if pk and not any(table.c[c].identity is not None for c in pk):
        return pk
    for cons in sorted(table.constraints, key=lambda c: str(c.name or "")):
        if cons.__class__.__name__ == "UniqueConstraint":
            return [c.name for c in cons.columns]  # type: ignore[attr-defined]
    for idx in sorted(table.indexes, key=lambda i: i.name or ""):
        if idx.unique:
            return [c.name for c in idx.columns]
    raise ValueError(f"{table.fullname} has no key to upsert on")
