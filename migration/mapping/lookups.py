"""Reference data the transforms read, loaded from the target (earlier stages wrote it).

The shapes (``py`` references and the load's engine read the same object):

``la_alias``          normalised borough text → (gss_code, flag or None)
``ward``              upper-case ward code → gss_code (the smallest, when vintages disagree)
``offence_category``  (scheme, code) → id
``code_value``        set of (code_system, code)
``ref_lookup``        (table, key column, value column) → {legacy id: value}

plus, per table mapping, its declared ``lookups`` (e.g. the import batch of a row):
``lookup_tables[name]`` → {(key text, …): {column: value}} and the same as a Polars frame.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.engine import Connection

from migration.mapping import transforms
from migration.mapping.spec import StageSpec, TableMappingSpec
from migration.schema import models
from migration.schema.sql import qident


def ref_lookup_keys(specs: list[StageSpec]) -> set[tuple[str, str, str]]:
    """Every (table, key, column) the mapping files' ``ref_lookup`` calls ask for."""
    keys: set[tuple[str, str, str]] = set()
    for stage in specs:
        for tm in stage.tables:
            calls = [(d.transform, d.params) for d in tm.derive.values()]
            for t in tm.targets.values():
                for c in t.columns.values():
                    calls += [(v.name, v.params) for v in c.via]
            for name, params in calls:
                if name == "ref_lookup":
                    p = transforms.get(name).parse_params(params)
                    keys.add((p.table, p.key, p.column))  # type: ignore[attr-defined]
    return keys


def load_lookups(conn: Connection, ref_keys: set[tuple[str, str, str]]) -> dict[str, Any]:
    """Read the reference data from the target (cheap: a few thousand rows)."""
    la_alias = {r[0]: (r[1].strip() if r[1] else r[1], r[2])
                for r in conn.execute(text("SELECT alias_norm, gss_code, flag FROM ref.la_alias"))}
    ward: dict[str, str] = {}
    for code, gss in conn.execute(text(
            "SELECT upper(ward_code), min(gss_code) FROM ref.ward WHERE gss_code IS NOT NULL GROUP BY 1")):
        ward[code] = gss.strip()
    offence = {(r[0], r[1]): int(r[2]) for r in conn.execute(
        text("SELECT scheme, code, id FROM ref.offence_category"))}
    codes = {(r[0], r[1]) for r in conn.execute(text("SELECT code_system, code FROM ref.code_value"))}
    ref: dict[tuple[str, str, str], dict[int, Any]] = {}
    for table, key, column in sorted(ref_keys):
        t = models.table(table)  # raises KeyError for an unknown table (validation catches it first)
        if key not in t.c or column not in t.c:
            raise KeyError(f"{table} has no column {key} or {column}")
        rows = conn.execute(text(
            f"SELECT {qident(key)}, {qident(column)} FROM {table} WHERE {qident(key)} IS NOT NULL"))
        ref[(table, key, column)] = {int(k): (v.strip() if isinstance(v, str) else v) for k, v in rows}
    return {"la_alias": la_alias, "ward": ward, "offence_category": offence, "code_value": codes,
            "ref_lookup": ref}


def load_table_lookups(conn: Connection, tm: TableMappingSpec) -> tuple[dict[str, dict], dict[str, pl.DataFrame]]:
    """The table mapping's own ``lookups``: as dicts (reference) and as frames (engine)."""
    tables: dict[str, dict] = {}
    frames: dict[str, pl.DataFrame] = {}
    for name, spec in tm.lookups.items():
        keys = list(spec.match)
        cols = ", ".join(qident(c) for c in keys + spec.columns)
        rows = [tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM {spec.table}"))]
        rows = [tuple(v.strip() if isinstance(v, str) else v for v in r) for r in rows]
        frames[name] = lookup_frame(rows, len(keys), spec.columns)
        tables[name] = {tuple(None if v is None else str(v) for v in r[:len(keys)]):
                        dict(zip(spec.columns, r[len(keys):], strict=True)) for r in rows}
    return tables, frames


def lookup_frame(rows: list[tuple[Any, ...]], key_count: int, columns: list[str]) -> pl.DataFrame:
    """A lookup table as a frame: key columns ``_k0…`` (as text) then the looked-up columns."""
    data: dict[str, list[Any]] = {f"_k{i}": [None if r[i] is None else str(r[i]) for r in rows]
                                  for i in range(key_count)}
    for j, c in enumerate(columns):
        data[c] = [r[key_count + j] for r in rows]
    schema = {f"_k{i}": pl.String for i in range(key_count)}
    return pl.DataFrame(data, schema_overrides=schema, strict=False)
