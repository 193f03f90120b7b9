"""Reconciliation's own pass over the source: what the target must hold, computed independently.

For each legacy table of a stage:

1. **Duplicates** (tables with a duplicate rule): the partition and the winner-ordering
   values of every row are computed here in Python (from the mapping's declaration, not
   the load's code), COPY'd into ``staging.rec__<stage>__dup_<table>`` and ranked there
   with one window query; the losers (a few per cent of the rows) come back as a set of
   source keys.
2. **Main pass**: every row is read again (streamed in key order, chunk by chunk, memory
   flat), run through the mapping's Python reference (:mod:`.reference`), and
   - its fate (load / merged / filter / quarantine with reason) is counted; rows not
     loaded are COPY'd with their reason into ``staging.rec__<stage>__disp`` to be
     compared with the ledger's records;
   - every target row it must produce is normalised (:mod:`.normalise`) into its canonical
     key and the md5 of its canonical values, COPY'd into ``staging.rec__<stage>__<n>_exp``
     (key, source key, hash, ordinal) — the expected side of the key-set and row-hash diffs;
   - the control totals of its bucket are accumulated in Python dicts (buckets are few).
   Reference tables also written by seeds (or by several legacy tables) are assembled in
   memory in load order (seed before, legacy rows, seed after — each write replacing the
   columns it sets, as an upsert does) and emitted at the end; they are small by nature.

Chunks of large tables are evaluated by a pool of worker processes (the reference is
pure Python: one core evaluates ~5–10 k rows/s), each returning its COPY data, counts and
partial totals; the main process only reads, sends and COPYs.  COPY runs in a background
thread on its own connection, so PostgreSQL parses one chunk while Python evaluates the
next.  Memory stays flat: at most two chunks per worker are in flight.

This module holds the table pass and the expected side; one chunk's evaluation is in
:mod:`.chunks`, the control totals in :mod:`.totals`, COPY text and the background writer in
:mod:`.copying`.
"""


from __future__ import annotations

import csv
import io
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from migration.db.source import Chunk, SourceReader, fetch_by_keys
from migration.mapping.spec import SeedSpec, StageSpec, TableMappingSpec
from migration.reconcile.chunks import (
    ChunkProcessor,
    ChunkResult,
    Emitter,
    _getter,
    _ipc,
    _worker_dup,
    _worker_init,
    _worker_ping,
    _worker_process,
    chunk_columns,
    source_keys,
)
from migration.reconcile.copying import CopyWriter, staging_name
from migration.reconcile.reference import (
    reference_for,
)
from migration.reconcile.tableplan import TablePlan
from migration.reconcile.totals import Totals
from migration.refdata import read_refdata

PARALLEL_ROWS = int(os.environ.get("SAFESTATS_RECONCILE_PARALLEL_ROWS", "50000"))


def workers_default() -> int:
    env = os.environ.get("SAFESTATS_RECONCILE_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))




# ---------------------------------------------------------------------------- expected side (main process)
class ExpectedTable:
    """The expected side of one target table: its staging table, merged rows, totals."""

    COLUMNS = ["k", "s", "h", "n", "b"]

    def __init__(self, plan: TablePlan, index: int, writer: CopyWriter, totals: list[Totals]) -> None:
        self.plan = plan
        self.table = staging_name(plan.stage, f"{index}_exp")
        self.writer = writer
        self.totals = totals
        self.emitter = Emitter(plan)
        self.store: dict[str, list[Any]] = {}      # merged tables: k → [source key, values, ordinal]

    def ddl(self) -> str:
        return f"CREATE UNLOGGED TABLE {self.table} (k text, s text, h text, n bigint, b text)"

    def merge(self, rows: list[tuple[str, str, dict[str, Any], int]]) -> None:
        for k, s, values, n in rows:
            row = self.store.get(k)
            if row is None:
                self.store[k] = [s, dict(values), n]
            else:
                row[0] = s
                row[1].update(values)
                row[2] = n

    def add_seed(self, seed: SeedSpec, n0: int) -> int:
        text_ = read_refdata(seed.file)
        rows = [{c: (r[src] if r[src] != "" else None) for c, src in seed.columns.items()}
                for r in csv.DictReader(io.StringIO(text_, newline=""))]
        merged = []
        for i, r in enumerate(rows):
            def one(column: str, from_parent: bool = False, r: dict[str, Any] = r) -> list[Any]:
                return [r.get(column)]
            key = self.emitter.keys(one)[0]
            merged.append((key, f"seed:{seed.file}#{i + 2}", r, n0 + i))
        self.merge(merged)
        return len(rows)

    def _dicts(self) -> tuple[list[str], list[dict[str, Any]], list[str], list[int]]:
        items = sorted(self.store.items(), key=lambda kv: kv[1][2])
        return [k for k, _v in items], [v[1] for _k, v in items], [v[0] for _k, v in items], [v[2] for _k, v in items]

    def flush_merged(self) -> None:
        if not self.plan.merged or not self.store:
            return
        keys, dicts, skeys, ordinals = self._dicts()
        defaults = self.emitter.defaults

        def get(column: str, from_parent: bool = False) -> list[Any]:
            default = defaults.get(column)
            return [d.get(column, default) for d in dicts]
        self.writer.put(self.table, self.COLUMNS, self.emitter.lines(keys, self.emitter.values(get), skeys, ordinals))
        for t in self.totals:
            t.add(lambda ref: get(ref), len(dicts))

    def merged_columns(self, keys: list[str]) -> dict[str, dict[str, str]]:
        """Canonical text per column of the given keys (merged tables only: from memory)."""
        out = {}
        defaults = self.emitter.defaults
        for k in keys:
            row = self.store.get(k)
            if row is None:
                continue
            d = row[1]
            out[k] = {v.column: norm(d.get(v.column, defaults.get(v.column)))
                      for v, norm in zip(self.plan.values, self.emitter.value_norms, strict=True)}
        return out


# ---------------------------------------------------------------------------- one legacy table
class TablePass:
    """Reconciliation's read of one legacy table (see the module docstring)."""

    def __init__(self, stage: StageSpec, tm: TableMappingSpec, lookups: dict[str, Any],
                 lookup_tables: dict[str, Any], reader: SourceReader, target: Engine,
                 expected: dict[str, ExpectedTable], writer: CopyWriter, *, chunk_rows: int, upto: Any = None,
                 progress: Any = None, workers: int | None = None, expected_rows: int | None = None) -> None:
        self.stage = stage
        self.tm = tm
        self.lookups = lookups
        self.lookup_tables = lookup_tables
        self.reference = reference_for(tm, lookups, lookup_tables)
        self.reader = reader
        self.target = target
        self.expected = expected
        self.writer = writer
        self.chunk_rows = chunk_rows
        self.upto = upto
        self.progress = progress
        self.workers = workers if workers is not None else workers_default()
        self.expected_rows = expected_rows
        self.extracted = list(self.reference.extracted)
        self.counts: Counter[tuple[str, str | None]] = Counter()
        self.rows_read = 0
        self.losers: set[str] = set()
        self.timings: dict[str, float] = {}
        self.disp_table = staging_name(stage.stage, "disp")
        self.parallel = False

    def _t(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - since
        return now

    def _stream(self, columns: list[str], chunk_rows: int) -> Iterator[Chunk]:
        return self.reader.stream(self.tm.source.table, columns, key=self.tm.source.key,
                                  key_type=self.tm.source.key_type, upto=self.upto, chunk_rows=chunk_rows)

    # ------------------------------------------------------------------ the passes
    def processor(self) -> ChunkProcessor:
        plans = {t: self.expected[t].plan for t in self.tm.targets}
        totals = {t: [Totals(x.spec, x.plan) for x in self.expected[t].totals] for t in self.tm.targets
                  if not self.expected[t].plan.merged}
        return ChunkProcessor(self.tm, self.lookups, self.lookup_tables, plans, totals, set(),
                              {t: self.expected[t].table for t in self.tm.targets}, self.disp_table)

    def _absorb(self, res: ChunkResult) -> None:
        t0 = time.perf_counter()
        self.counts.update(res.counts)
        for table, data in res.copies.items():
            cols = ["t", "s", "d", "r", "b"] if table == self.disp_table else ExpectedTable.COLUMNS
            self.writer.put(table, cols, data)
        by_name = {t.spec.name: t for exp in self.expected.values() for t in exp.totals}
        for name, buckets in res.totals.items():
            by_name[name].merge(buckets)
        for tname, rows in res.merge.items():
            self.expected[tname].merge(rows)
        for k, v in res.seconds.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        self.rows_read += res.rows
        if self.progress is not None:
            self.progress.advance(res.rows)
        self._t("send to PostgreSQL", t0)

    def _dup_table(self) -> str:
        dup = self.tm.duplicates
        assert dup is not None
        table = staging_name(self.stage.stage, f"dup_{self.tm.source.table.lower()}")
        types = ["boolean" if w.equals is not None else "bigint" if w.type == "int" else 'text COLLATE "C"'
                 for w in dup.winner]
        with self.target.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(text(f"CREATE UNLOGGED TABLE {table} (s text, rn bigint, p text COLLATE \"C\""
                              + "".join(f", w{i} {t}" for i, t in enumerate(types)) + ")"))
        return table

    def _rank(self, table: str) -> set[str]:
        """The losers of the duplicate rule: every row of a partition but the first by the declared
        order (rows still tied: the one read last wins, so the choice is repeatable)."""
        dup = self.tm.duplicates
        assert dup is not None
        self.writer.flush()
        order = ", ".join(f"w{i} {w.order.upper()} NULLS LAST" for i, w in enumerate(dup.winner))
        with self.target.begin() as conn:
            losers = {r[0] for r in conn.execute(text(
                f"SELECT s FROM (SELECT s, row_number() OVER (PARTITION BY p ORDER BY {order}, rn DESC) AS rk "
                f"FROM {table} WHERE p IS NOT NULL) x WHERE rk > 1"))}
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        return losers

    def find_losers(self, proc: ChunkProcessor | None = None, pool: ProcessPoolExecutor | None = None) -> set[str]:
        """The duplicate rule: the few columns it needs are read here; the per-row work runs
        here (small tables) or in the worker processes of ``pool``; the ranking in PostgreSQL."""
        if self.tm.duplicates is None:
            return set()
        proc = proc or self.processor()
        t0 = time.perf_counter()
        table = self._dup_table()
        names = ["s", "rn", "p"] + [f"w{i}" for i in range(len(self.tm.duplicates.winner))]
        columns = proc.dup_columns()
        row_no = 1
        pending: deque[Future[bytes]] = deque()
        for chunk in self._stream(columns, self.chunk_rows * 2):
            if pool is None:
                self.writer.put(table, names, proc.dup_rows(chunk_columns(chunk, columns), chunk.size, row_no))
            else:
                pending.append(pool.submit(_worker_dup, _ipc(chunk), row_no))
                while len(pending) > 2 * self.workers or (pending and pending[0].done()):
                    self.writer.put(table, names, pending.popleft().result())
            row_no += chunk.size
        while pending:
            self.writer.put(table, names, pending.popleft().result())
        t1 = self._t("duplicates: read and evaluate", t0)
        losers = self._rank(table)
        self._t("duplicates: COPY and rank", t1)
        return losers

    def run(self) -> None:
        proc = self.processor()
        big = (self.expected_rows or 0) >= PARALLEL_ROWS and self.tm.source.key is not None and not any(
            self.expected[t].plan.merged for t in self.tm.targets)
        if not big or self.workers < 2:
            self.losers = self.find_losers(proc)
            proc.losers = self.losers
            row_no = 1
            t0 = time.perf_counter()
            for chunk in self._stream(self.extracted, self.chunk_rows):
                t0 = self._t("read", t0)
                cols = chunk_columns(chunk, self.extracted)
                self._absorb(proc.process(cols, chunk.size, row_no))
                row_no += chunk.size
                t0 = time.perf_counter()
            return
        self.parallel = True
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_worker_init,
                                 initargs=(proc,)) as pool:
            # the workers start (import, build the reference) while this process reads the
            # few columns the duplicate rule needs; they then share its per-row work
            warm = [pool.submit(_worker_ping) for _ in range(self.workers)]
            self.losers = self.find_losers(proc, pool)
            for f in warm:
                f.result()
            key = self.tm.source.key
            assert key is not None
            row_no = 1
            pending: deque[Future[ChunkResult]] = deque()
            t0 = time.perf_counter()
            for chunk in self._stream(self.extracted, self.chunk_rows):
                keys = chunk.frame.get_column(key).to_list() if self.losers else []
                loser_rows = [i for i, k in enumerate(keys) if str(k) in self.losers]
                pending.append(pool.submit(_worker_process, _ipc(chunk), row_no, loser_rows))
                row_no += chunk.size
                t0 = self._t("read", t0)
                while len(pending) > 2 * self.workers or (pending and pending[0].done()):
                    res = pending.popleft().result()
                    t0 = self._t("wait for workers", t0)
                    self._absorb(res)
                    t0 = time.perf_counter()
            while pending:
                res = pending.popleft().result()
                t0 = self._t("wait for workers", t0)
                self._absorb(res)
                t0 = time.perf_counter()

    # ------------------------------------------------------------------ drill-down
    def expected_columns(self, exp: ExpectedTable, src_keys: list[str]) -> dict[str, dict[str, str]]:
        """Canonical text per column of the target rows the given source rows must give (for
        showing what differs), keyed by canonical key."""
        tm = self.tm
        wanted = set(src_keys)
        out: dict[str, dict[str, str]] = {}
        if tm.source.key is not None:
            chunks: Iterator[Chunk] = fetch_by_keys(self.reader, tm.source.table, self.extracted, key=tm.source.key,
                                                    key_type=tm.source.key_type, keys=sorted(wanted))
        else:
            chunks = self._stream(self.extracted, 10**9)
        row_no = 1
        emitter = exp.emitter
        for chunk in chunks:
            n = chunk.size
            cols = chunk_columns(chunk, self.extracted)
            skeys = source_keys(tm, self.extracted, cols, n, row_no)
            row_no += n
            keep = [i for i in range(n) if skeys[i] in wanted]
            if not keep:
                continue
            sub = {c: [v[i] for i in keep] for c, v in cols.items()}
            subkeys = [skeys[i] for i in keep]
            o = self.reference.evaluate(sub, len(keep))
            rows = o.targets[exp.plan.table]
            sel = [j for j, i in enumerate(rows.source) if o.disp[i] == "load"]
            parent = parent_index = None
            if exp.plan.parent is not None:
                parent = o.targets[exp.plan.parent]
                parent_index = {i: j for j, i in enumerate(parent.source)}
            get = _getter(rows, sel, parent, parent_index)
            keys = emitter.keys(get)
            values = emitter.values(get)
            for idx, k in enumerate(keys):
                out[k] = {v.column: values[vi][idx] for vi, v in enumerate(exp.plan.values)}
                out[k]["__source_key"] = subkeys[rows.source[sel[idx]]]
        return out


__all__ = ["ExpectedTable", "PARALLEL_ROWS", "TablePass", "workers_default"]

