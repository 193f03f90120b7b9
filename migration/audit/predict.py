"""What ``run`` will do with every legacy row, predicted with reconciliation's reference.

For each legacy table, in the order ``run`` loads them:

1. **The duplicate rule** (tables that declare one): the partition and winner-ordering
   values of every row come from reconciliation's own code
   (:meth:`migration.reconcile.chunks.ChunkProcessor.dup_rows`); the ranking — first row
   of each partition by the declared order, NULLs last, ties to the row read last — is
   the window query reconciliation runs in PostgreSQL, done here in Polars (text in byte
   order, which is PostgreSQL's ``COLLATE "C"``).  The losers are ``merged``; a winner
   keeps whatever the rules say, so a quarantined winner quarantines its key.
2. **Every row** goes through :class:`migration.reconcile.reference.ChunkReference`, the
   evaluator reconciliation uses (rule precedence, transforms memoised per distinct tuple
   of inputs), with the lookups a run would read at that moment (simulated:
   :mod:`migration.audit.simulate`).  Its fate, its flags (from the target rows it gives)
   and the value shapes of the columns behind each quarantine reason and flag are tallied.
3. The reference rows it loads are written to the simulated target, so later tables and
   stages see them (a hospital quarantined takes its ED rows as ``UNKNOWN_HOSPITAL``).
"""

from __future__ import annotations

import io
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from migration.audit.masking import mask_example, raw_columns
from migration.audit.simulate import SimulatedTarget
from migration.audit.stats import EXAMPLES_PER_SHAPE, ShapeTally, column_shapes
from migration.db.source import Chunk
from migration.mapping.spec import TableMappingSpec
from migration.reconcile.chunks import ChunkProcessor, source_keys
from migration.reconcile.copying import clean_column
from migration.reconcile.reference import ChunkReference


class ProfileReference(ChunkReference):
    """Reconciliation's evaluator, unchanged; it also keeps the last chunk's environment
    (derive outputs, lookups) so that flags can be traced to the columns behind them."""

    env: dict[str, list[Any]]

    def _keys(self, env: dict[str, list[Any]], n: int,
              source_keys: list[Any]) -> tuple[list[str | None], list[str]]:
        self.env = env  # the dict evaluate() goes on filling
        return super()._keys(env, n, source_keys)


def prediction_spec(tm: TableMappingSpec, keep_tables: set[str], extra_refs: set[str] | None = None) -> TableMappingSpec:
    """The mapping with only what decides a row's fate, its flags and the reference rows later
    lookups read: every rule, and the derives they need, unchanged; target columns that only
    carry values to the target are left out (the reference need not compute them)."""
    targets = {}
    for tname, t in tm.targets.items():
        if tname in keep_tables:
            targets[tname] = t
            continue
        cols = {c: spec for c, spec in t.columns.items() if spec.kind == "flags"}
        if cols:
            targets[tname] = t.model_copy(update={"columns": cols})
    refs = set(tm.business_key.columns) | set(extra_refs or ())
    for rule in [*tm.filters, *tm.quarantine]:
        if rule.reject:
            refs.add(f"{rule.reject}.reject")
        if rule.when is not None and rule.when.column:
            refs.add(rule.when.column)
    for t in targets.values():
        refs.update(w.column for w in t.where if w.column)
        refs.update(ex.from_ for ex in t.explode)
        for c in t.columns.values():
            refs.update(c.from_ or [])
            refs.update(f"{d}.flags" for d in (c.flags or []))
    if tm.duplicates is not None:
        refs.update(tm.duplicates.partition or [])
        refs.update(w.expr for w in tm.duplicates.winner)
    needed: set[str] = set()

    def visit(ref: str) -> None:
        head = ref.split(".", 1)[0]
        if "." in ref and head in tm.derive and head not in needed:
            needed.add(head)
            for a in tm.derive[head].args:
                visit(a)

    for r in refs:
        visit(r)
    return tm.model_copy(update={"targets": targets, "derive": {k: v for k, v in tm.derive.items() if k in needed}})


@dataclass
class Relation:
    """A reference from a legacy column to rows an earlier table loads."""

    name: str                      # tblMPSCrime.BatchID → ref.import_batch
    rows_with_value: int = 0
    orphans: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class DuplicateFacts:
    partition: list[str]
    reason: str
    groups: int = 0                # partitions with more than one row
    rows_in_groups: int = 0
    merged: int = 0
    winners_quarantined: int = 0   # keys quarantined with their winner (their losers merged)


@dataclass
class TablePrediction:
    stage: str
    table: str
    rows: int = 0
    outcomes: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    flags: Counter[tuple[str, str]] = field(default_factory=Counter)          # (target table, flag)
    #: (kind, name) → column → shapes of the rows behind it; kind quarantine | filter | merged | flag
    classes: dict[tuple[str, str], dict[str, ShapeTally]] = field(default_factory=dict)
    duplicates: DuplicateFacts | None = None
    relations: dict[str, Relation] = field(default_factory=dict)
    batch_rows: Counter[str] = field(default_factory=Counter)                # BatchID → rows carrying it
    sampled: bool = False

    def merge(self, o: TablePrediction) -> None:
        """Add the prediction of other chunks of the same table (from a worker process)."""
        self.rows += o.rows
        self.outcomes.update(o.outcomes)
        self.flags.update(o.flags)
        self.batch_rows.update(o.batch_rows)
        for k, cols in o.classes.items():
            mine = self.classes.setdefault(k, {})
            for c, tally in cols.items():
                mine.setdefault(c, ShapeTally()).merge(tally)
        if o.duplicates is not None and self.duplicates is not None:
            self.duplicates.winners_quarantined += o.duplicates.winners_quarantined
        for name, r in o.relations.items():
            mr = self.relations.setdefault(name, Relation(name))
            mr.rows_with_value += r.rows_with_value
            mr.orphans += r.orphans
            mr.examples += [e for e in r.examples if e not in mr.examples][:max(0, 5 - len(mr.examples))]

    def count(self, disp: str) -> int:
        return sum(n for (d, _r), n in self.outcomes.items() if d == disp)


def find_losers(proc: ChunkProcessor, chunks: Iterator[Chunk], names: list[str]) -> tuple[set[str], dict[str, int]]:
    """The losers of the duplicate rule (source keys) and the size of each winner's group.

    The same window query as :meth:`migration.reconcile.extract.TablePass._rank` (per
    partition, by the declared order with NULLs last, then the row read last first), run in
    a temporary SQLite file instead of PostgreSQL so that memory stays flat: SQLite sorts on
    disk, compares text byte by byte (PostgreSQL's ``COLLATE "C"``) and booleans as 0 < 1."""
    dup = proc.tm.duplicates
    assert dup is not None
    ws = [f"w{i}" for i in range(len(dup.winner))]
    cols = ["s", "rn", "p", *ws]
    schema: dict[str, Any] = {"s": pl.String, "rn": pl.Int64, "p": pl.String}
    for i, w in enumerate(dup.winner):
        schema[f"w{i}"] = pl.Boolean if w.equals is not None else pl.Int64 if w.type == "int" else pl.String
    with tempfile.TemporaryDirectory(prefix="safestats-profile-") as tmp:
        db = sqlite3.connect(str(Path(tmp) / "dup.sqlite"))
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("PRAGMA temp_store = FILE")
            db.execute(f"CREATE TABLE dup ({', '.join(cols)})")
            insert = f"INSERT INTO dup VALUES ({', '.join('?' for _ in cols)})"
            row_no = 1
            for chunk in chunks:
                data = proc.dup_rows({c: (chunk.frame.get_column(c).to_list() if c in chunk.frame.columns
                                          else [None] * chunk.size) for c in names}, chunk.size, row_no)
                row_no += chunk.size
                if data:
                    frame = pl.read_csv(io.BytesIO(data), has_header=False, new_columns=cols, schema=schema,
                                        null_values="\\N").filter(pl.col("p").is_not_null())
                    db.executemany(insert, frame.iter_rows())
            order = ", ".join(f"{w} {d.order.upper()} NULLS LAST" for w, d in zip(ws, dup.winner, strict=True))
            losers: set[str] = set()
            winners: dict[str, int] = {}
            for skey, rank, size in db.execute(
                    f"SELECT s, rk, n FROM (SELECT s, row_number() OVER (PARTITION BY p ORDER BY {order}, rn DESC) "
                    "AS rk, count(*) OVER (PARTITION BY p) AS n FROM dup) WHERE n > 1"):
                if rank > 1:
                    losers.add(skey)
                else:
                    winners[skey] = size
        finally:
            db.close()
    return losers, winners


class TablePredictor:
    """The prediction of one legacy table, fed chunk by chunk."""

    def __init__(self, stage: str, tm: TableMappingSpec, lookups: dict[str, Any], lookup_tables: dict[str, Any],
                 sim: SimulatedTarget | None, *, hidden: set[str], sim_tables: set[str] | None = None) -> None:
        self.stage = stage
        self.tm = tm
        self.lookups = lookups
        self.lookup_tables = lookup_tables
        self.hidden = set(hidden)
        self.sim = sim
        self.sim_tables = set(sim.tables) if sim is not None else set(sim_tables or ())
        relation_refs = {f"{n}.{s.columns[0]}" for n, s in tm.lookups.items() if s.columns}
        relation_refs |= {f"{n}.value" for n, d in tm.derive.items() if d.transform == "ref_lookup"}
        self.ref = ProfileReference(prediction_spec(tm, self.sim_tables, relation_refs), lookups, lookup_tables)
        self.extracted = list(self.ref.extracted)
        self.pred = TablePrediction(stage, tm.source.table)
        self.losers: set[str] = set()
        self.winners: dict[str, int] = {}
        self.row_no = 1
        self.dup_reason = tm.duplicates.reason if tm.duplicates else "DUPLICATE_MERGED"
        # flags: which derives a target's flags column reads; the columns behind each derive
        self.flag_columns = [(tname, col, list(cspec.flags or []))
                             for tname, tspec in tm.targets.items()
                             for col, cspec in tspec.columns.items() if cspec.kind == "flags"]
        flag_derives = dict.fromkeys(d for _t, _c, ds in self.flag_columns for d in ds)
        self.derive_columns = {d: raw_columns(tm, self.extracted, f"{d}.flags") for d in flag_derives}
        self.partition_columns: list[str] = []
        if tm.duplicates is not None:
            for c in (tm.duplicates.partition or tm.business_key.columns):
                self.partition_columns += [x for x in raw_columns(tm, self.extracted, c)
                                           if x not in self.partition_columns]
        # relations: declared lookups and ref_lookup derives reading a legacy column
        self.relations: list[tuple[str, list[str], str]] = []   # (name, source columns, env column)
        for name, spec in tm.lookups.items():
            srcs = [c for c in spec.match.values() if c in self.extracted]
            if srcs and spec.columns:
                rel = f"{tm.source.table}.{'+'.join(srcs)} → {spec.table}"
                self.relations.append((rel, srcs, f"{name}.{spec.columns[0]}"))
        for dname, d in tm.derive.items():
            if d.transform == "ref_lookup" and d.args and d.args[0] in self.extracted:
                params = d.params or {}
                rel = f"{tm.source.table}.{d.args[0]} → {params.get('table')}.{params.get('key')}"
                self.relations.append((rel, [d.args[0]], f"{dname}.value"))
        for rel, _s, _e in self.relations:
            self.pred.relations[rel] = Relation(rel)
        self.pred_relations = [rel for rel, _s, _e in self.relations]
        self.losers_facts: DuplicateFacts | None = None
        self.batch_column = next((list(spec.match.values())[0] for spec in tm.lookups.values()
                                  if spec.table == "ref.import_batch" and len(spec.match) == 1), None)
        self.sim_targets = [t for t in tm.targets if t in self.sim_tables]

    def partial(self, frame: pl.DataFrame, row_no: int) -> TablePrediction:
        """The prediction of one chunk on its own (what a worker process returns)."""
        self.row_no = row_no
        self.pred = TablePrediction(self.stage, self.tm.source.table)
        self.pred.relations = {k: Relation(k) for k in self.pred_relations}
        if self.losers_facts is not None:
            self.pred.duplicates = DuplicateFacts(self.losers_facts.partition, self.losers_facts.reason)
        self.add(frame)
        return self.pred

    def processor(self) -> ChunkProcessor:
        return ChunkProcessor(self.tm, dict(self.ref.plain.lookups), dict(self.ref.plain.lookup_tables), {}, {}, set(), {}, "")

    def set_duplicates(self, losers: set[str], winners: dict[str, int]) -> None:
        assert self.tm.duplicates is not None
        self.losers, self.winners = losers, winners
        self.pred.duplicates = DuplicateFacts(
            partition=self.partition_columns, reason=self.dup_reason, groups=len(winners),
            rows_in_groups=sum(winners.values()), merged=len(losers))
        self.losers_facts = DuplicateFacts(self.partition_columns, self.dup_reason)

    def __getstate__(self) -> dict[str, Any]:
        return {"args": (self.stage, self.tm, self.lookups, self.lookup_tables, None),
                "hidden": self.hidden, "sim_tables": self.sim_tables, "losers": self.losers,
                "winners": self.winners, "facts": self.losers_facts}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(*state["args"], hidden=state["hidden"], sim_tables=state["sim_tables"])  # type: ignore[misc]
        self.losers, self.winners, self.losers_facts = state["losers"], state["winners"], state["facts"]

    # ------------------------------------------------------------------ one chunk
    def add(self, frame: pl.DataFrame, shapes: Mapping[str, pl.Series] | None = None) -> None:
        shapes = shapes or {}
        n = frame.height
        tm, pred = self.tm, self.pred
        cols = {c: (frame.get_column(c).to_list() if c in frame.columns else [None] * n) for c in self.extracted}
        skeys = source_keys(tm, self.extracted, cols, n, self.row_no)
        self.row_no += n
        self.ref.env = {}
        out = self.ref.evaluate(cols, n)
        env = self.ref.env  # empty if the evaluator stopped calling _keys: then no classes for flags, no orphans
        disp, reason = list(out.disp), list(out.reason)
        if self.losers:
            for i, s in enumerate(skeys):
                if s in self.losers:
                    disp[i], reason[i] = "merged", self.dup_reason
        pred.rows += n
        pred.outcomes.update(zip(disp, reason, strict=True))
        if self.winners and pred.duplicates is not None:
            pred.duplicates.winners_quarantined += sum(
                1 for i, s in enumerate(skeys) if s in self.winners and disp[i] == "quarantine")

        shape_lists: dict[str, list[Any]] = {}

        def shapes_of(c: str) -> list[Any]:
            if c not in shape_lists:
                if c in shapes:
                    shape_lists[c] = shapes[c].to_list()
                elif c in frame.columns:
                    shape_lists[c] = column_shapes(frame.get_column(c)).to_list()
                else:
                    shape_lists[c] = [None] * n
            return shape_lists[c]

        tallies: dict[tuple[str, str, str], Counter[str]] = {}
        examples: dict[tuple[str, str, str], dict[str, list[str]]] = {}

        def tally(kind: str, name: str, columns: list[str], i: int) -> None:
            for c in columns:
                sh = shapes_of(c)[i]
                shape = "NULL" if sh is None else sh
                k = (kind, name, c)
                tallies.setdefault(k, Counter())[shape] += 1
                if c not in self.hidden and sh is not None:
                    ex = examples.setdefault(k, {}).setdefault(shape, [])
                    if len(ex) < EXAMPLES_PER_SHAPE:
                        v = cols[c][i] if c in cols else frame.get_column(c)[i]
                        m = mask_example(v)
                        if m not in ex:
                            ex.append(m)

        for i in range(n):
            d = disp[i]
            if d == "load":
                continue
            if d == "merged":
                tally("merged", reason[i] or "", self.partition_columns, i)
                continue
            fields = out.fields[i] or ()
            columns: list[str] = []
            for f in fields:
                columns += [x for x in raw_columns(tm, self.extracted, f) if x not in columns]
            tally(d, reason[i] or "", columns, i)

        # flags the target will hold (per target table), and the columns behind each
        for tname, col, _derives in self.flag_columns:
            rows = out.targets.get(tname)
            if rows is None:
                continue
            values = rows.columns.get(col, [])
            for j, i in enumerate(rows.source):
                if disp[i] == "load":
                    for fl in values[j] or ():
                        pred.flags[(tname, fl)] += 1
        for dname, columns in self.derive_columns.items():
            flags = env.get(f"{dname}.flags")
            if flags is None:
                continue
            for i in range(n):
                if disp[i] == "load" and flags[i]:
                    for fl in flags[i]:
                        tally("flag", fl, columns, i)
        for k, counts in tallies.items():
            kind, name, c = k
            pred.classes.setdefault((kind, name), {}).setdefault(c, ShapeTally()).add(dict(counts), examples.get(k))

        # relations: a value given, nothing found among the rows the run will have loaded
        for rel, srcs, env_col in self.relations:
            found = env.get(env_col)
            if found is None:
                continue
            r = pred.relations[rel]
            raws = [cols[c] for c in srcs]
            given = [all(v is not None for v in t) for t in zip(*[clean_column(raw) for raw in raws], strict=True)]
            for i in range(n):
                if given[i]:
                    r.rows_with_value += 1
                    if found[i] is None:
                        r.orphans += 1
                        if len(r.examples) < 5:
                            v = "+".join(str(raw[i]) for raw in raws)
                            if not (set(srcs) & self.hidden) and v not in r.examples:
                                r.examples.append(mask_example(v))
        if self.batch_column is not None:
            pred.batch_rows.update(b for b in clean_column(cols[self.batch_column]) if b is not None)

        # what this chunk writes to the reference tables later lookups read
        sim = self.sim
        for tname in self.sim_targets if sim is not None else ():
            assert sim is not None
            rows = out.targets[tname]
            names = list(rows.columns)
            sim.upsert(tname, ({c: rows.columns[c][j] for c in names}
                                    for j, i in enumerate(rows.source) if disp[i] == "load"))


__all__ = ["DuplicateFacts", "ProfileReference", "Relation", "TablePrediction", "TablePredictor", "find_losers",
           "raw_columns"]
