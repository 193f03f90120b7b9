"""The reference data a run would find, simulated from the source and the shipped refdata.

The loader and reconciliation read their lookups (borough aliases, wards, offence
categories, code lists, ED sites, import batches, organisations) from the *target*, where
earlier stages wrote them.  ``profile`` needs no target: it replays those writes here —
each seed file upserted as ``run`` does, and each loaded row the Python reference gives
an earlier table (:mod:`migration.reconcile.reference`) upserted on the table's key — into
an in-memory SQLite database whose attached schemas are named like the target's
(``ref``, ``sec``).  The lookups are then read from it by the *same* functions the loader
and reconciliation use (:func:`migration.mapping.lookups.load_lookups` and
:func:`~migration.mapping.lookups.load_table_lookups`), so a hospital quarantined in
stage ``codes`` is missing from the ED-site lookup of stage ``istv_assault`` exactly as
it would be after a real run.

Only the tables some lookup reads are kept (reference tables: a few thousand rows).
Surrogate identity keys (``ref.offence_category.id``) are numbered in insertion order:
their values differ from the target's, but they are only ever compared with each other.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from migration.mapping.lookups import load_lookups, load_table_lookups, ref_lookup_keys
from migration.mapping.spec import SeedSpec, StageSpec, TableMappingSpec
from migration.refdata import read_refdata
from migration.schema import models
from migration.schema.sql import conflict_columns, qident

#: tables :func:`load_lookups` always reads
_ALWAYS = ("ref.la_alias", "ref.ward", "ref.offence_category", "ref.code_value")


def lookup_tables_of(specs: Iterable[StageSpec]) -> set[str]:
    """Every target table a lookup of these mappings reads."""
    specs = list(specs)
    out = set(_ALWAYS) | {t for t, _k, _c in ref_lookup_keys(specs)}
    for s in specs:
        for tm in s.tables:
            out |= {lk.table for lk in tm.lookups.values()}
    return out


def _python_value(column: Any, raw: str | None) -> Any:
    """A seed CSV cell as PostgreSQL would store it in that column (text in, typed out)."""
    if raw is None:
        return None
    try:
        pytype = column.type.python_type
    except NotImplementedError:
        return raw
    if pytype is bool:
        return raw.strip().lower() in ("t", "true", "1", "y", "yes", "on")
    if pytype is int:
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def _coerce(column: Any, v: Any) -> Any:
    """A reference output as the target column stores it (an integer written to a text column is text)."""
    if v is None:
        return None
    try:
        pytype = column.type.python_type
    except NotImplementedError:
        return v
    if pytype is str and not isinstance(v, str):
        return str(v)
    if pytype is int and isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return v
    return v


def _sqlite_value(v: Any) -> Any:
    if v is None or isinstance(v, (int, float, str, bytes)):
        return v
    return str(v)


class SimulatedTarget:
    """The target's reference tables as a run would leave them, stage after stage."""

    def __init__(self, specs: list[StageSpec]) -> None:
        self.specs = specs
        self.ref_keys = ref_lookup_keys(specs)
        self.tables = lookup_tables_of(specs)
        self.rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {t: {} for t in self.tables}
        self._identity: dict[str, int] = {}
        self._dirty: set[str] = set(self.tables)
        self.engine: Engine = create_engine("sqlite://", poolclass=StaticPool,
                                            connect_args={"check_same_thread": False})
        with self.engine.begin() as conn:
            for schema in sorted({t.split(".", 1)[0] for t in self.tables}):
                conn.exec_driver_sql(f"ATTACH DATABASE ':memory:' AS {schema}")

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ writes
    def upsert(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Rows written to ``table`` (upsert on its key, as the loader and the seeds do)."""
        if table not in self.tables:
            return
        t = models.table(table)
        key_cols = conflict_columns(t)
        identity = [c.name for c in t.primary_key.columns if c.identity is not None]
        store = self.rows[table]
        for raw in rows:
            r = {c: (_coerce(t.c[c], v) if c in t.c else v) for c, v in raw.items()}
            k = tuple(r.get(c) for c in key_cols)
            have = store.get(k)
            if have is None:
                row = dict(r)
                for c in identity:
                    if row.get(c) is None:
                        self._identity[table] = self._identity.get(table, 0) + 1
                        row[c] = self._identity[table]
                store[k] = row
            else:
                have.update(r)
        self._dirty.add(table)

    def seed(self, seed: SeedSpec) -> None:
        t = models.table(seed.target) if seed.target in self.tables else None
        if t is None:
            return
        data = read_refdata(seed.file)
        rows = []
        for r in csv.DictReader(io.StringIO(data, newline="")):
            rows.append({c: _python_value(t.c[c], r[src] if r[src] != "" else None) for c, src in seed.columns.items()})
        self.upsert(seed.target, rows)

    def seeds(self, stage: StageSpec, when: str) -> None:
        for s in stage.seeds:
            if s.load == when:
                self.seed(s)

    # ------------------------------------------------------------------ reads
    def _materialise(self) -> None:
        if not self._dirty:
            return
        with self.engine.begin() as conn:
            for table in sorted(self._dirty):
                t = models.table(table)
                cols = [c.name for c in t.columns]
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
                conn.exec_driver_sql(f"CREATE TABLE {table} ({', '.join(qident(c) for c in cols)})")
                rows = [{c: _sqlite_value(r.get(c)) for c in cols} for r in self.rows[table].values()]
                if rows:
                    conn.execute(text(f"INSERT INTO {table} ({', '.join(qident(c) for c in cols)}) VALUES ("
                                      + ", ".join(f":{c}" for c in cols) + ")"), rows)
        self._dirty.clear()

    def lookups(self) -> dict[str, Any]:
        """What :func:`load_lookups` would read from the target now."""
        self._materialise()
        with self.engine.connect() as conn:
            return load_lookups(conn, self.ref_keys)

    def table_lookups(self, tm: TableMappingSpec) -> dict[str, Any]:
        """What :func:`load_table_lookups` would read from the target now (the dict form)."""
        self._materialise()
        with self.engine.connect() as conn:
            return load_table_lookups(conn, tm)[0]

    def table_rows(self, table: str) -> list[dict[str, Any]]:
        return list(self.rows.get(table, {}).values())


__all__ = ["SimulatedTarget", "lookup_tables_of"]
