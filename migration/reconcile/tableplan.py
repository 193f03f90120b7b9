"""What reconciliation compares in one target table of one stage: scope, natural key, columns.

Built from the target model and the stage's mapping, never from the load's SQL:

- **scope**: the rows the stage owns — ``dataset = <stage dataset>`` for tables holding a
  dataset (and for detail tables, through their incident); the whole table otherwise;
- **natural key**: the key an upsert would use (primary key, or the unique key when the
  primary key is an identity); a key column referring to an identity (a detail table's
  ``incident_id``) is replaced by the referred row's natural key (``dataset``,
  ``source_ref``), so surrogate ids never decide whether a row matches;
- **columns**: every column the stage writes (mapping targets and seeds), in model order,
  except identity keys, the link column and ``load_run_id``; a column referring to an
  identity (``offence_category_id``, ``parent_id``) is compared as the referred row's
  natural key (``scheme``, ``code``);
- **sensitive** columns: declared in the check file, plus every column filled from a
  ``personal_data`` column of the mapping; their values are never shown, only that they
  differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.engine import Connection

from migration.mapping.spec import StageSpec
from migration.reconcile.normalise import (
    FIELD_SEP,
    KEY_SEP,
    NULL,
    kind_of,
    py_normaliser,
    sql_field,
    sql_join,
    sql_value,
)
from migration.schema import models
from migration.schema.sql import conflict_columns, qident


@dataclass(frozen=True)
class RefRender:
    """A reference to an identity key, compared as the referred row's natural key."""

    table: str
    id_column: str
    natural: tuple[tuple[str, str], ...]       # (column, kind)
    alias: str


@dataclass(frozen=True)
class KeyPart:
    name: str            # as shown: 'source_ref', or 'incident.source_ref' for a parent's column
    column: str
    kind: str
    from_parent: bool


@dataclass(frozen=True)
class ValueColumn:
    column: str
    kind: str            # normalisation kind ('ref' for references to identities)
    ref: RefRender | None = None


@dataclass
class TablePlan:
    stage: str
    table: str
    key: list[KeyPart]
    values: list[ValueColumn]
    parent: str | None                    # link parent (detail tables)
    scope_from: str
    scope_where: str
    scope_params: dict[str, Any]
    sensitive: set[str] = field(default_factory=set)
    #: writers in load order: ("seed", SeedSpec) or ("table", index of the table mapping)
    writers: list[tuple[str, Any]] = field(default_factory=list)
    #: id → canonical natural key, per referenced identity table (read at plan time)
    ref_maps: dict[str, dict[int, str]] = field(default_factory=dict)

    @property
    def merged(self) -> bool:
        """Rows assembled in memory (seeded or multi-writer reference tables) rather than streamed."""
        return len(self.writers) > 1 or any(kind == "seed" for kind, _ in self.writers)

    @property
    def key_names(self) -> list[str]:
        return [k.name for k in self.key]

    @property
    def key_kinds(self) -> list[str]:
        return [k.kind for k in self.key]

    # ------------------------------------------------------------------ SQL
    def _ref_joins(self) -> str:
        joins = ""
        for v in self.values:
            if v.ref is not None:
                joins += (f" LEFT JOIN {v.ref.table} {v.ref.alias} ON {v.ref.alias}.{qident(v.ref.id_column)} = "
                          f"t.{qident(v.column)}")
        return joins

    def _key_sql(self) -> str:
        return sql_join([sql_field(f"{'p' if k.from_parent else 't'}.{qident(k.column)}", k.kind) for k in self.key])

    def _value_sql(self, v: ValueColumn) -> str:
        if v.ref is None:
            return sql_field(f"t.{qident(v.column)}", v.kind)
        natural = sql_join([sql_field(f"{v.ref.alias}.{qident(c)}", kind) for c, kind in v.ref.natural])
        col = f"t.{qident(v.column)}"
        return (f"(CASE WHEN {col} IS NULL THEN '{NULL}' WHEN {v.ref.alias}.{qident(v.ref.id_column)} IS NULL "
                f"THEN '!' || {col}::text ELSE length({natural}) || ':' || {natural} END)")

    def actual_sql(self) -> str:
        """(k, h) of every target row in scope: canonical key and md5 of the canonical row."""
        values = sql_join([self._value_sql(v) for v in self.values])
        return (f"SELECT k, md5(k || '{KEY_SEP}' || v) AS h, left(md5(k), 4) AS b FROM (SELECT {self._key_sql()} "
                f"AS k, {values} AS v FROM {self.scope_from}{self._ref_joins()} WHERE {self.scope_where}) x")

    def columns_sql(self, keys: list[str]) -> tuple[str, dict[str, Any]]:
        """k and every column's canonical text, for the rows whose canonical key is in ``keys``
        (first narrowed on the raw first key column, so an index can serve it)."""
        from migration.reconcile.normalise import decode_fields

        cols = ", ".join(f"{self._value_sql(v)} AS {qident(v.column)}" for v in self.values)
        first = self.key[0]
        col = f"{'p' if first.from_parent else 't'}.{qident(first.column)}"
        narrow = ""
        params: dict[str, Any] = dict(self.scope_params, keys=keys)
        firsts = {decode_fields(k, self.key_kinds)[0] for k in keys}
        if first.kind in ("text", "int") and None not in firsts:
            narrow = f" AND {col}::text = ANY(:firsts)" if first.kind == "int" else f" AND {col} = ANY(:firsts)"
            params["firsts"] = sorted(firsts)  # type: ignore[type-var]
        sql = (f"SELECT * FROM (SELECT {self._key_sql()} AS k{', ' + cols if cols else ''} "
               f"FROM {self.scope_from}{self._ref_joins()} WHERE {self.scope_where}{narrow}) x WHERE k = ANY(:keys)")
        return sql, params

    def column_expr(self, ref: str) -> tuple[str, Column]:
        """SQL for ``column`` or ``parent.column`` in the scope query, and its model column."""
        if ref.startswith("parent."):
            if self.parent is None:
                raise KeyError(f"{self.table} has no parent table (parent.* needs a detail table)")
            col = ref.split(".", 1)[1]
            table = models.table(self.parent)
            if col not in table.c:
                raise KeyError(f"{self.parent} has no column {col}")
            return f"p.{qident(col)}", table.c[col]
        table = models.table(self.table)
        if ref not in table.c:
            raise KeyError(f"{self.table} has no column {ref}")
        return f"t.{qident(ref)}", table.c[ref]

    # ------------------------------------------------------------------ Python
    def py_value_normalisers(self) -> list[Any]:
        out = []
        for v in self.values:
            if v.ref is None:
                out.append(py_normaliser(v.kind))
            else:
                mapping = self.ref_maps[v.ref.table]

                def ref_norm(x: Any, mapping: dict[int, str] = mapping) -> str:
                    if x is None:
                        return NULL
                    s = mapping.get(int(x))
                    if s is None:
                        return f"!{int(x)}"
                    return f"{len(s)}:{s}"
                out.append(ref_norm)
        return out


def _identity_pk(table: Table) -> str | None:
    for c in table.primary_key.columns:
        if c.identity is not None:
            return c.name
    return None


def _fk_target(table: Table, column: str) -> Column | None:
    for fk in table.c[column].foreign_keys:
        return fk.column
    return None


def natural_key(table: Table) -> list[tuple[str, Column]]:
    """(column, model column) of a table's natural key, one level of identity references resolved
    ('' for the table's own columns, 'parent' for the referred table's)."""
    out: list[tuple[str, Column]] = []
    for c in conflict_columns(table):
        ref = _fk_target(table, c)
        if ref is not None and ref.identity is not None:
            for pc in conflict_columns(ref.table):
                out.append(("parent", ref.table.c[pc]))
        else:
            out.append(("", table.c[c]))
    return out


def build_plans(spec: StageSpec, sensitive: dict[str, set[str]] | None = None) -> list[TablePlan]:
    """One plan per target table the stage writes, in the order the stage writes them."""
    sensitive = sensitive or {}
    order: list[str] = []
    writers: dict[str, list[tuple[str, Any]]] = {}
    written: dict[str, set[str]] = {}
    parents: dict[str, str | None] = {}
    personal: dict[str, set[str]] = {}
    for seed in spec.seeds:
        if seed.load == "before_tables":
            order.append(seed.target) if seed.target not in order else None
            writers.setdefault(seed.target, []).append(("seed", seed))
            written.setdefault(seed.target, set()).update(seed.columns)
    for ti, tm in enumerate(spec.tables):
        private = set(tm.personal_data.scrub) | set(tm.personal_data.drop)
        for tname, tspec in tm.targets.items():
            if tname not in order:
                order.append(tname)
            writers.setdefault(tname, []).append(("table", ti))
            written.setdefault(tname, set()).update(tspec.columns)
            parents[tname] = tspec.link
            for col, cspec in tspec.columns.items():
                refs = cspec.from_ or []
                if any(r in private or r.split(".", 1)[0] in {f"scrub_{p}" for p in private} for r in refs):
                    personal.setdefault(tname, set()).add(col)
    for seed in spec.seeds:
        if seed.load == "after_tables":
            if seed.target not in order:
                order.append(seed.target)
            writers.setdefault(seed.target, []).append(("seed", seed))
            written.setdefault(seed.target, set()).update(seed.columns)

    plans = []
    for tname in order:
        table = models.table(tname)
        nat = natural_key(table)
        parent = parents.get(tname)
        if any(where == "parent" for where, _ in nat):
            ref_table = next(c.table for where, c in nat if where == "parent")
            if parent is None:
                parent = ref_table.fullname
            elif parent != ref_table.fullname:
                raise ValueError(f"{tname}: its key refers to {ref_table.fullname}, its mapping links to {parent}")
        key = [KeyPart(name=(f"{models.table(parent).name}.{c.name}" if where == "parent" and parent else c.name),
                       column=c.name, kind=kind_of(c), from_parent=where == "parent") for where, c in nat]
        identity = _identity_pk(table)
        link_cols = {c.name for c in table.primary_key.columns if _fk_target(table, c.name) is not None
                     and _fk_target(table, c.name).identity is not None}  # type: ignore[union-attr]
        values: list[ValueColumn] = []
        n_ref = 0
        for tcol in table.c:
            if tcol.name in ("load_run_id",) or tcol.name == identity or tcol.name in link_cols:
                continue
            if tcol.name not in written.get(tname, set()):
                continue
            ref_col = _fk_target(table, tcol.name)
            if ref_col is not None and ref_col.identity is not None:
                n_ref += 1
                rt = ref_col.table
                natural = tuple((c, kind_of(rt.c[c])) for c in conflict_columns(rt))
                values.append(ValueColumn(tcol.name, "ref", RefRender(rt.fullname, ref_col.name, natural, f"r{n_ref}")))
            else:
                values.append(ValueColumn(tcol.name, kind_of(tcol)))
        frm = f"{tname} t"
        where = "true"
        params: dict[str, Any] = {}
        if parent is not None:
            ptable = models.table(parent)
            pid = [c.name for c in ptable.primary_key.columns][0]
            link = next(iter(link_cols), pid)
            frm += f" JOIN {parent} p ON p.{qident(pid)} = t.{qident(link)}"
        if spec.dataset:
            if "dataset" in table.c:
                where, params = "t.dataset = :dataset", {"dataset": spec.dataset}
            elif parent is not None and "dataset" in models.table(parent).c:
                where, params = "p.dataset = :dataset", {"dataset": spec.dataset}
        plans.append(TablePlan(stage=spec.stage, table=tname, key=key, values=values, parent=parent,
                               scope_from=frm, scope_where=where, scope_params=params,
                               sensitive=set(sensitive.get(tname, set())) | personal.get(tname, set()),
                               writers=writers[tname]))
    return plans


def read_ref_maps(conn: Connection, plans: list[TablePlan]) -> None:
    """id → canonical natural key of every identity table the plans refer to (small tables)."""
    cache: dict[str, dict[int, str]] = {}
    for plan in plans:
        for v in plan.values:
            if v.ref is None:
                continue
            if v.ref.table not in cache:
                cols = ", ".join(qident(c) for c, _ in v.ref.natural)
                norms = [py_normaliser(kind) for _, kind in v.ref.natural]
                rows = conn.exec_driver_sql(f"SELECT {qident(v.ref.id_column)}, {cols} FROM {v.ref.table}")
                cache[v.ref.table] = {int(r[0]): FIELD_SEP.join(n(x) for n, x in zip(norms, r[1:], strict=True))
                                      for r in rows}
            plan.ref_maps[v.ref.table] = cache[v.ref.table]


__all__ = ["KeyPart", "RefRender", "TablePlan", "ValueColumn", "build_plans", "natural_key", "read_ref_maps",
           "sql_value"]
