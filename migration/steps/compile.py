"""What a table mapping needs in PostgreSQL: staging names and the set-based apply SQL.

Rows are transformed in Python (:mod:`migration.steps.engine`, vectorised with Polars)
and COPY'd into a temporary table ``_chunk`` whose columns are the engine's output; the
statements here move that chunk into the target in one transaction with its checkpoint:

1. quarantine and disposition records (legacy and business keys, reasons and field names —
   never payload);
2. before-images of target rows this run is about to change (skipped on a fresh load);
3. one upsert per target table, in mapping order, linked tables joined to their parent
   through the parent's natural key.

Parameters: ``%(run_id)s``, ``%(stage)s``, ``%(source_table)s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from migration.mapping.spec import StageSpec, TableMappingSpec
from migration.mapping.transforms.base import TRIM_CHARS  # noqa: F401  (documented normalisation)
from migration.schema import models
from migration.schema.sql import (
    conflict_columns,
    pg_type,
    qident,
    qliteral,
)


def extracted_columns(tm: TableMappingSpec) -> list[str]:
    """Legacy columns read from the source: every declared column except dropped ones."""
    dropped = set(tm.personal_data.drop)
    return [c for c in tm.source.columns if c not in dropped]


@dataclass
class TargetPlan:
    index: int
    table: str
    columns: list[str]                      # mapped target columns (link column first when linked)
    chunk_column: dict[str, str]            # target column → _chunk column or expression
    conflict: list[str]
    link: str | None
    link_column: str | None
    explode: list[str]                      # row names
    where: list[str]                        # _chunk boolean columns


@dataclass
class ApplyPlan:
    stage: str
    source_table: str
    targets: list[TargetPlan]
    #: upserts of the targets, run after :attr:`records`
    statements: list[str] = field(default_factory=list)
    #: SELECTs of the old rows the upserts will change, as (run_id, stage, table_name, op, row_data);
    #: the loader inserts them into the ledger's before-images first
    before_images: list[str] = field(default_factory=list)
    #: (book, SELECT) of the chunk's rows not loaded, for the loader to record in the ledger
    #: ("quarantine": run_id, stage, source_table, source_key, business_key, reason_code, fields;
    #: "disposition": the same with the disposition after source_key), in this order
    records: list[tuple[str, str]] = field(default_factory=list)


def build_apply(stage: StageSpec, tm: TableMappingSpec) -> ApplyPlan:
    targets: list[TargetPlan] = []
    by_name: dict[str, TargetPlan] = {}
    for ti, (tname, tspec) in enumerate(tm.targets.items()):
        table = models.table(tname)
        link_col = None
        if tspec.link:
            parent = models.table(tspec.link)
            link_col = [c.name for c in parent.primary_key.columns][0]
        chunk_col: dict[str, str] = {}
        for col, cspec in tspec.columns.items():
            if cspec.from_ and len(cspec.from_) == 1 and cspec.from_[0].startswith("row."):
                chunk_col[col] = f"e_{cspec.from_[0].split('.', 1)[1]}.item"
            else:
                chunk_col[col] = f"c._t{ti}_{col}"
        cols = list(tspec.columns)
        if link_col and link_col not in cols:
            cols = [link_col] + cols
            chunk_col[link_col] = f"p.{qident(link_col)}"
        tp = TargetPlan(
            index=ti, table=tname, columns=cols, chunk_column=chunk_col, conflict=conflict_columns(table),
            link=tspec.link, link_column=link_col, explode=[e.name for e in tspec.explode],
            where=[f"c._w{ti}_{i}" for i in range(len(tspec.where))],
        )
        targets.append(tp)
        by_name[tname] = tp
    plan = ApplyPlan(stage=stage.stage, source_table=tm.source.table, targets=targets)
    plan.records.append((
        "quarantine",
        "SELECT %(run_id)s, %(stage)s, %(source_table)s, c._src_key, c._bkey, c._reason, c._fields "
        "FROM _chunk c WHERE c._disp = 'quarantine'"))
    plan.records.append((
        "disposition",
        "SELECT %(run_id)s, %(stage)s, %(source_table)s, c._src_key, c._disp, c._bkey, c._reason, c._fields "
        "FROM _chunk c WHERE c._disp IN ('filter', 'merged')"))
    for tp in targets:
        froms, conds = _from_clause(tp, by_name)
        table = models.table(tp.table)
        if tp.index == 0:
            # rows the target already holds exactly as this run would write them: left alone by the
            # upsert, and recorded so accounting still balances (read = loaded + unchanged + …)
            pkey = " AND ".join(f"o.{qident(k)} = CAST({tp.chunk_column[k]} AS {pg_type(table, k)})"
                                for k in tp.conflict)
            same = [c for c in tp.columns if c not in tp.conflict and not tp.chunk_column[c].startswith("p.")]
            cmp = (f" AND ({', '.join(f'o.{qident(c)}' for c in same)}) IS NOT DISTINCT FROM "
                   f"({', '.join(f'CAST({tp.chunk_column[c]} AS {pg_type(table, c)})' for c in same)})") if same else ""
            plan.records.append((
                "disposition",
                f"SELECT DISTINCT ON (c._src_key) %(run_id)s, %(stage)s, %(source_table)s, "
                f"c._src_key, 'unchanged', c._bkey, 'UNCHANGED', '{{}}'::text[] FROM {froms} JOIN {tp.table} o ON {pkey} "
                f"WHERE {' AND '.join(conds)} AND o.load_run_id <> %(run_id)s{cmp}"))
        key_match = " AND ".join(f"o.{qident(k)} = CAST({tp.chunk_column[k]} AS {pg_type(table, k)})"
                                 for k in tp.conflict)
        plan.before_images.append(
            f"SELECT DISTINCT ON (o.ctid) %(run_id)s, %(stage)s, {qliteral(tp.table)}, 'U', to_jsonb(o) "
            f"FROM {froms} JOIN {tp.table} o ON {key_match} "
            f"WHERE {' AND '.join(conds)} AND o.load_run_id <> %(run_id)s")
        all_cols = tp.columns + ["load_run_id"]
        exprs = [f"CAST({tp.chunk_column[c]} AS {pg_type(table, c)})" for c in tp.columns] + ["%(run_id)s"]
        updatable = [c for c in all_cols if c not in tp.conflict]
        compared = [c for c in updatable if c != "load_run_id"]
        if updatable:
            on_conflict = (
                f"ON CONFLICT ({', '.join(qident(c) for c in tp.conflict)}) DO UPDATE SET "
                + ", ".join(f"{qident(c)} = EXCLUDED.{qident(c)}" for c in updatable)
                + (f" WHERE ({', '.join(f't.{qident(c)}' for c in compared)}) IS DISTINCT FROM "
                   f"({', '.join(f'EXCLUDED.{qident(c)}' for c in compared)})" if compared else ""))
        else:
            on_conflict = f"ON CONFLICT ({', '.join(qident(c) for c in tp.conflict)}) DO NOTHING"
        plan.statements.append(
            f"INSERT INTO {tp.table} AS t ({', '.join(qident(c) for c in all_cols)}) "
            f"SELECT {', '.join(exprs)} FROM {froms} WHERE {' AND '.join(conds)} {on_conflict}")
    return plan


def _from_clause(tp: TargetPlan, by_name: dict[str, TargetPlan]) -> tuple[str, list[str]]:
    froms = "_chunk c"
    for name in tp.explode:
        froms += f" CROSS JOIN LATERAL unnest(c._x{tp.index}_{name}) AS e_{name}(item)"
    if tp.link:
        parent = by_name[tp.link]
        ptable = models.table(tp.link)
        froms += f" JOIN {tp.link} p ON " + " AND ".join(
            f"p.{qident(k)} = CAST({parent.chunk_column[k]} AS {pg_type(ptable, k)})" for k in parent.conflict)
    return froms, ["c._disp = 'load'"] + tp.where
