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
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import queue
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal, localcontext
from importlib import resources
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from migration.db.source import Chunk, SourceReader, fetch_by_keys
from migration.mapping import keys as key_rule
from migration.mapping.compile import qident
from migration.mapping.sourcetext import TextCleaning, key_source_columns
from migration.mapping.spec import SeedSpec, StageSpec, TableMappingSpec
from migration.mapping.transforms.text import clean
from migration.reconcile.normalise import FIELD_SEP, KEY_SEP, py_column, py_normaliser
from migration.reconcile.reference import (
    ChunkOutcome,
    ChunkReference,
    Reference,
    TargetRows,
    reference_for,
)
from migration.reconcile.spec import ControlTotalSpec, bucket_parts, measure_column, measure_kind
from migration.reconcile.tableplan import TablePlan
from migration.schema import models

_INT18 = re.compile(r"^-?[0-9]{1,18}$")
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_LONDON: Any = None
#: tables with at least this many rows are evaluated by worker processes
PARALLEL_ROWS = int(os.environ.get("SAFESTATS_RECONCILE_PARALLEL_ROWS", "50000"))


def workers_default() -> int:
    env = os.environ.get("SAFESTATS_RECONCILE_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))


def london() -> Any:
    global _LONDON
    if _LONDON is None:
        from zoneinfo import ZoneInfo

        _LONDON = ZoneInfo("Europe/London")
    return _LONDON


def staging_name(stage: str, suffix: str) -> str:
    return f"staging.{qident(f'rec__{stage}__{suffix}')}"


def csv_bytes(columns: dict[str, list[Any]]) -> bytes:
    """Columns of text/ints/booleans as COPY … (FORMAT csv, NULL '\\N') data (written by Polars, in Rust)."""
    import polars as pl

    frame = pl.DataFrame(columns, strict=False)
    if frame.height == 0:
        return b""
    buf = io.BytesIO()
    frame.write_csv(buf, include_header=False, null_value="\\N", quote_style="non_numeric")
    return buf.getvalue()


def clean_column(values: list[Any]) -> list[str | None]:
    """``[clean(v) for v in values]``, once per distinct value when values repeat."""
    distinct = set(values)
    if len(distinct) * 2 > len(values):
        return [clean(v) for v in values]
    cleaned = {v: clean(v) for v in distinct}
    return [cleaned[v] for v in values]


def _int_or_none(value: Any) -> int | None:
    """A winner-ordering integer: the cleaned text when it is 1–18 digits, else None."""
    v = clean(value)
    return int(v) if v is not None and _INT18.match(v) else None


def esc(value: str | None) -> str:
    """A value for COPY … (FORMAT text): backslash, tab and line breaks escaped; None → \\N."""
    return "\\N" if value is None else value.translate(_COPY_ESCAPE)


# ---------------------------------------------------------------------------- COPY in the background
class CopyWriter:
    """COPY buffers into staging tables on one connection of its own, in a thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.q: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=6)
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, name="reconcile-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        raw = self.engine.raw_connection()
        try:
            with raw.cursor() as cur:  # type: ignore[attr-defined]
                while True:
                    item = self.q.get()
                    try:
                        if item is None:
                            return
                        if self.error is not None:
                            continue
                        t0 = time.perf_counter()
                        try:
                            sql, data = item
                            cur.copy_expert(sql, io.BytesIO(data), size=65536)  # type: ignore[attr-defined]
                            raw.commit()
                        except BaseException as exc:
                            self.error = exc
                            try:
                                raw.rollback()
                            except Exception:  # noqa: S110 - the connection itself is gone (a terminated
                                # backend): nothing to roll back, and this thread must keep taking items
                                # or put() and flush() wait for ever
                                pass
                        self.seconds += time.perf_counter() - t0
                    finally:
                        self.q.task_done()
        finally:
            raw.close()

    def put(self, table: str, columns: list[str], data: bytes) -> None:
        if self.error is not None:
            raise self.error
        if data:
            self.q.put((f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", data))

    def flush(self) -> None:
        """Wait until everything queued so far is in PostgreSQL."""
        self.q.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


# ---------------------------------------------------------------------------- control totals
def _month(v: Any) -> str:
    if hasattr(v, "hour"):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        if v.tzinfo is UTC and 2 <= v.day <= 27:
            return f"{v.year:04d}-{v.month:02d}"  # London is UTC or UTC+1: mid-month, the month is the same
        v = v.astimezone(london())
    return f"{v.year:04d}-{v.month:02d}"


def _bucket_text(v: Any, kind: str, month: bool) -> str | None:
    if v is None:
        return None
    if month:
        return _month(v)
    if kind == "text":
        return v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
    if kind == "bool":
        return "true" if py_normaliser("bool")(v) == "t" else "false"
    return py_normaliser(kind)(v)


class Totals:
    """Control totals of one declaration: bucket tuple → one accumulator per measure."""

    def __init__(self, spec: ControlTotalSpec, plan: TablePlan) -> None:
        from migration.reconcile.normalise import kind_of

        self.spec = spec
        self.plan = plan
        self.by: list[tuple[str, bool, str]] = []
        for b in spec.by:
            ref, month = bucket_parts(b)
            _sql, col = plan.column_expr(ref)
            self.by.append((ref, month, kind_of(col)))
        self.measures: list[tuple[str, str, str | None, str | None]] = []
        for m in spec.measures:
            col_ref = measure_column(m)
            kind = kind_of(plan.column_expr(col_ref)[1]) if col_ref else None
            self.measures.append((m, measure_kind(m), col_ref, kind))
        self.buckets: dict[tuple[str | None, ...], list[Any]] = {}

    @staticmethod
    def scaled(v: Any, kind: str) -> int:
        """An exact integer for sums: numeric(p,s) in units of 10^-s (money in 10000ths), never via float."""
        if kind == "int":
            return int(v)
        scale = int(kind.split(":", 1)[1])
        with localcontext() as ctx:
            ctx.prec = 60
            d = Decimal(v) if not isinstance(v, float) else Decimal(format(v, ".15g"))
            return int(d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP).scaleb(scale))

    def _empty(self) -> list[Any]:
        return [0 if mk not in ("min", "max") else None for _m, mk, _c, _k in self.measures]

    def add(self, get: Callable[[str], list[Any]], n: int) -> None:
        if n == 0:
            return
        bcols = [[_bucket_text(v, kind, month) for v in get(ref)] for ref, month, kind in self.by]
        keys = list(zip(*bcols, strict=True)) if bcols else [()] * n
        buckets = self.buckets
        for b in set(keys):
            if b not in buckets:
                buckets[b] = self._empty()
        accs = [buckets[b] for b in keys]
        bool_norm = py_normaliser("bool")
        for j, (_m, mk, col, kind) in enumerate(self.measures):
            if mk == "count" and col is None:
                for acc in accs:
                    acc[j] += 1
                continue
            values = get(col)  # type: ignore[arg-type]
            if mk == "count":
                for acc, v in zip(accs, values, strict=True):
                    if v is not None:
                        acc[j] += 1
            elif mk == "count_true":
                for acc, v in zip(accs, values, strict=True):
                    if v is True or (v is not None and v is not False and bool_norm(v) == "t"):
                        acc[j] += 1
            elif mk == "sum":
                for acc, v in zip(accs, values, strict=True):
                    if v is not None:
                        acc[j] += v if (kind == "int" and type(v) is int) else self.scaled(v, kind or "int")
            elif mk == "min":
                for acc, v in zip(accs, values, strict=True):
                    if v is not None and (acc[j] is None or v < acc[j]):
                        acc[j] = v
            else:
                for acc, v in zip(accs, values, strict=True):
                    if v is not None and (acc[j] is None or v > acc[j]):
                        acc[j] = v

    def merge(self, other: dict[tuple[str | None, ...], list[Any]]) -> None:
        """Add another accumulator's buckets (from a worker) to these."""
        for b, acc in other.items():
            mine = self.buckets.get(b)
            if mine is None:
                self.buckets[b] = list(acc)
                continue
            for j, (_m, mk, _c, _k) in enumerate(self.measures):
                if mk == "min":
                    if acc[j] is not None and (mine[j] is None or acc[j] < mine[j]):
                        mine[j] = acc[j]
                elif mk == "max":
                    if acc[j] is not None and (mine[j] is None or acc[j] > mine[j]):
                        mine[j] = acc[j]
                else:
                    mine[j] += acc[j]

    def take(self) -> dict[tuple[str | None, ...], list[Any]]:
        out, self.buckets = self.buckets, {}
        return out

    def finish(self, buckets: dict[tuple[str | None, ...], list[Any]]) -> dict[tuple[str | None, ...], list[Any]]:
        """min/max values to canonical text, so both sides compare as text."""
        out = {}
        for b, acc in buckets.items():
            row = list(acc)
            for j, (_m, mk, _c, kind) in enumerate(self.measures):
                if mk in ("min", "max") and row[j] is not None:
                    row[j] = py_normaliser(kind or "text")(row[j])
            out[b] = row
        return out

    def sql(self) -> str:
        """The same totals computed in PostgreSQL over the stage's rows of the table."""
        from migration.reconcile.normalise import sql_value

        bexprs = []
        for ref, month, kind in self.by:
            expr, _col = self.plan.column_expr(ref)
            if month:
                bexprs.append(f"to_char(({expr}) AT TIME ZONE 'Europe/London', 'YYYY-MM')" if kind == "timestamptz"
                              else f"to_char({expr}, 'YYYY-MM')")
            elif kind == "text":
                bexprs.append(f"({expr})::text")
            elif kind == "bool":
                bexprs.append(f"(CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END)")
            else:
                bexprs.append(sql_value(expr, kind))
        mexprs = []
        for _m, mk, mcol, _kind in self.measures:
            mexpr = self.plan.column_expr(mcol)[0] if mcol else None
            if mk == "count":
                mexprs.append(f"count({mexpr})" if mexpr else "count(*)")
            elif mk == "count_true":
                mexprs.append(f"count(*) FILTER (WHERE {mexpr})")
            else:
                mexprs.append(f"{mk}({mexpr})")
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(bexprs)))}" if bexprs else ""
        return (f"SELECT {', '.join(bexprs + mexprs)} FROM {self.plan.scope_from} WHERE {self.plan.scope_where}"
                f"{group}")

    def actual(self, rows: list[Any]) -> dict[tuple[str | None, ...], list[Any]]:
        nb = len(self.by)
        out: dict[tuple[str | None, ...], list[Any]] = {}
        for r in rows:
            acc: list[Any] = []
            for j, (_m, mk, _c, kind) in enumerate(self.measures):
                v = r[nb + j]
                if mk in ("count", "count_true"):
                    acc.append(int(v))
                elif mk == "sum":
                    acc.append(0 if v is None else self.scaled(v, kind or "int"))
                else:
                    acc.append(None if v is None else py_normaliser(kind or "text")(v))
            out[tuple(r[:nb])] = acc
        return out


# ---------------------------------------------------------------------------- canonical rows of one table
def _server_default(column: Any) -> Any:
    d = column.server_default
    if d is None:
        return None
    s = str(getattr(d, "arg", d)).strip()
    if s in ("false", "true"):
        return s == "true"
    if s.startswith("'{}'"):
        return ()
    if s.startswith("'") and "'" in s[1:]:
        return s[1:s.index("'", 1)]
    raise ValueError(f"cannot reproduce the default {s!r} of {column.table.fullname}.{column.name}")


class Emitter:
    """Canonical keys and row hashes of one target table (picklable: runs in workers too)."""

    def __init__(self, plan: TablePlan) -> None:
        self.plan = plan
        self.value_norms = plan.py_value_normalisers()
        self.defaults: dict[str, Any] = {}
        if plan.merged:
            table = models.table(plan.table)
            self.defaults = {v.column: _server_default(table.c[v.column]) for v in plan.values}

    def __getstate__(self) -> dict[str, Any]:
        return {"plan": self.plan, "defaults": self.defaults}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.plan = state["plan"]
        self.defaults = state["defaults"]
        self.value_norms = self.plan.py_value_normalisers()

    def keys(self, get: Callable[[str, bool], list[Any]]) -> list[str]:
        fields = [py_column(kp.kind, get(kp.column, kp.from_parent)) for kp in self.plan.key]
        if len(fields) == 1:
            return fields[0]
        return [FIELD_SEP.join(t) for t in zip(*fields, strict=True)]

    def values(self, get: Callable[[str, bool], list[Any]]) -> list[list[str]]:
        out = []
        for v, norm in zip(self.plan.values, self.value_norms, strict=True):
            values = get(v.column, False)
            out.append(py_column(v.kind, values) if v.ref is None else [norm(x) for x in values])
        return out

    def lines(self, keys: list[str], value_cols: list[list[str]], skeys: list[str], ordinals: list[int]) -> bytes:
        md5 = hashlib.md5
        sep, fsep = KEY_SEP, FIELD_SEP
        if value_cols:
            hashes = [md5((k + sep + fsep.join(vals)).encode()).hexdigest()
                      for k, vals in zip(keys, zip(*value_cols, strict=True), strict=True)]
        else:
            hashes = [md5((k + sep).encode()).hexdigest() for k in keys]
        buckets = [md5(k.encode()).hexdigest()[:4] for k in keys]
        return csv_bytes({"k": keys, "s": skeys, "h": hashes, "n": ordinals, "b": buckets})


def _getter(rows: TargetRows, sel: list[int], parent: TargetRows | None,
            parent_index: dict[int, int] | None) -> Callable[..., list[Any]]:
    own = rows.columns
    source = rows.source

    def get(column: str, from_parent: bool = False) -> list[Any]:
        if from_parent:
            assert parent is not None and parent_index is not None
            pc = parent.columns[column]
            return [pc[parent_index[source[j]]] if source[j] in parent_index else None for j in sel]
        c = own.get(column)
        if c is None:
            return [None] * len(sel)
        return [c[j] for j in sel]
    return get



# ---------------------------------------------------------------------------- one chunk
def source_keys(tm: TableMappingSpec, extracted: list[str], columns: dict[str, list[Any]], n: int,
                first_row_no: int) -> list[str]:
    """The ledger's identity of each row: its primary key, or for a keyless table the raw values
    its business key is made of and its position in the read (``00AAFA|2002#17``)."""
    def printable(key: str) -> str:  # the recorded form: a NUL in a text key as \\x00
        return key_rule.printable(key) or key

    if tm.source.key is not None:
        return [printable(str(v)) for v in columns[tm.source.key]]
    raw = raw_key_columns(tm, extracted)
    parts = [[("" if v is None else v) for v in columns[c]] for c in raw]
    joined = ["|".join(p) for p in zip(*parts, strict=True)] if parts else [""] * n
    return [printable(f"{j}#{first_row_no + i}") for i, j in enumerate(joined)]


def raw_key_columns(tm: TableMappingSpec, extracted: list[str]) -> list[str]:
    """The legacy columns the business key is made of (through derives); ``extracted`` is the
    mapping's extracted columns, which :func:`key_source_columns` derives the same way."""
    return [c for c in key_source_columns(tm) if c in extracted]


def chunk_columns(chunk: Chunk, names: list[str]) -> dict[str, list[Any]]:
    cols = {}
    for c in names:
        if c in chunk.frame.columns:
            cols[c] = chunk.frame.get_column(c).to_list()
        else:
            cols[c] = [None] * chunk.size
    return cols


class ChunkResult:
    """What one chunk gives: COPY data per staging table, fates, partial totals, merged rows."""

    __slots__ = ("rows", "counts", "copies", "totals", "merge", "seconds")

    def __init__(self) -> None:
        self.rows = 0
        self.counts: Counter[tuple[str, str | None]] = Counter()
        self.copies: dict[str, bytes] = {}
        self.totals: dict[str, dict[tuple[str | None, ...], list[Any]]] = {}
        self.merge: dict[str, list[tuple[str, str, dict[str, Any], int]]] = {}
        self.seconds: dict[str, float] = {}


class ChunkProcessor:
    """Reference, fates, canonical rows and totals of one chunk of one legacy table.

    Built once per table pass; picklable, so worker processes rebuild the reference from
    the mapping and the reference data read by the main process."""

    def __init__(self, tm: TableMappingSpec, lookups: dict[str, Any], lookup_tables: dict[str, Any],
                 plans: dict[str, TablePlan], totals: dict[str, list[Totals]], losers: set[str],
                 exp_tables: dict[str, str], disp_table: str) -> None:
        self.tm = tm
        self.lookups = lookups
        self.lookup_tables = lookup_tables
        self.plans = plans
        self.totals = totals
        self.losers = losers
        self.exp_tables = exp_tables
        self.disp_table = disp_table
        self._setup()

    def _setup(self) -> None:
        self.reference: Reference = reference_for(self.tm, self.lookups, self.lookup_tables)
        self.extracted = list(self.reference.extracted)
        self.emitters = {t: Emitter(p) for t, p in self.plans.items()}
        self.dup_reason = self.tm.duplicates.reason if self.tm.duplicates else "DUPLICATE_MERGED"

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("tm", "lookups", "lookup_tables", "plans", "totals", "losers",
                                              "exp_tables", "disp_table")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self._setup()

    # ------------------------------------------------------------------ duplicates
    def dup_columns(self) -> list[str]:
        """The legacy columns the duplicate rule reads."""
        tm, dup = self.tm, self.tm.duplicates
        assert dup is not None
        if (any("." in c for c in tm.business_key.columns) and not dup.partition) or any(
                "." in c for c in dup.partition or []):
            return self.extracted  # a derived key, or a group named by derive outputs, needs the derives
        cols = ([tm.source.key] if tm.source.key else []) + raw_key_columns(tm, self.extracted)
        cols += list(dup.partition or tm.business_key.columns)
        for w in dup.winner:
            if "." in w.expr:
                cols += list(tm.lookups[w.expr.split(".", 1)[0]].match.values())
            else:
                cols.append(w.expr)
        return [c for c in dict.fromkeys(cols) if c in self.extracted]

    def dup_rows(self, cols: dict[str, list[Any]], n: int, first_row_no: int) -> bytes:
        """COPY data (s, rn, p, w0…) of the duplicate rule: source key, read position, the
        partition (null = never merged) and the winner-ordering values, as the mapping declares."""
        tm, dup = self.tm, self.tm.duplicates
        assert dup is not None
        skeys = source_keys(tm, self.extracted, cols, n, first_row_no)
        cols = dict(cols)
        TextCleaning.of(tm).columns(cols, n)  # the values the mapping's transforms see
        if dup.partition:
            derived: dict[str, list[Any]] = {}
            if any("." in c for c in dup.partition):  # text derive outputs, as the reference computes them
                ref = self.reference if isinstance(self.reference, ChunkReference) else ChunkReference(
                    tm, self.lookups, self.lookup_tables)
                derived = ref.values(cols, n, [c for c in dup.partition if "." in c])
            parts = [clean_column(derived[c] if c in derived else cols[c]) for c in dup.partition]
            part = parts[0] if len(parts) == 1 else [
                None if None in p else "|".join(p) for p in zip(*parts, strict=True)]  # type: ignore[arg-type]
        elif any("." in c for c in tm.business_key.columns):
            part = self.reference.evaluate(cols, n).key
        else:  # the effective key: the trimmed business key, RecID:<n> for a blank one (a group of its own)
            prefix = key_rule.legacy_key_prefix(tm)
            kp = list(zip(*[cols[c] for c in tm.business_key.columns], strict=True))
            part = [key_rule.effective_key(*key_rule.key_state(p, prefix), s, prefix)
                    for p, s in zip(kp, skeys, strict=True)]
        data: dict[str, list[Any]] = {"s": skeys, "rn": list(range(first_row_no, first_row_no + n)), "p": part}
        for i, w in enumerate(dup.winner):
            values: list[str | None]
            if "." in w.expr:
                lname, lcol = w.expr.split(".", 1)
                spec = tm.lookups[lname]
                lk = self.lookup_tables[lname]
                srcs = [cols[c] for c in spec.match.values()]
                raws = list(zip(*srcs, strict=True))
                found_by: dict[tuple[Any, ...], str | None] = {}
                for raw in set(raws):
                    key = tuple(clean(x) for x in raw)
                    found = None if None in key else lk.get(key)
                    got = None if found is None else found[lcol]
                    found_by[raw] = None if got is None else str(got)
                values = [found_by[r] for r in raws]
            elif w.type == "int" and w.equals is None:
                # integers read as integers are taken as they are (what clean + the pattern give them)
                data[f"w{i}"] = [v if type(v) is int and -10**18 < v < 10**18 else _int_or_none(v)
                                 for v in cols[w.expr]]
                continue
            else:
                values = clean_column(cols[w.expr])
            if w.equals is not None:
                data[f"w{i}"] = [v == w.equals for v in values]
            elif w.type == "int":
                data[f"w{i}"] = [int(v) if v is not None and _INT18.match(v) else None for v in values]
            else:  # in the recorded form, as the loader ranks them: a NUL cannot enter PostgreSQL text
                data[f"w{i}"] = [key_rule.printable(v) for v in values]
        return csv_bytes(data)

    def process(self, cols: dict[str, list[Any]], n: int, first_row_no: int,
                loser_rows: set[int] | None = None) -> ChunkResult:
        res = ChunkResult()
        res.rows = n
        t0 = time.perf_counter()
        tm = self.tm
        skeys = source_keys(tm, self.extracted, cols, n, first_row_no)
        out: ChunkOutcome = self.reference.evaluate(cols, n)
        t1 = time.perf_counter()
        res.seconds["reference"] = t1 - t0
        disp, reason = out.disp, out.reason
        if loser_rows is None and self.losers:
            loser_rows = {i for i, s in enumerate(skeys) if s in self.losers}
        for i in loser_rows or ():
            disp[i], reason[i] = "merged", self.dup_reason
        res.counts.update(zip(disp, reason, strict=True))
        out_rows = [i for i in range(n) if disp[i] != "load"]
        bkeys = out.business_key
        res.copies[self.disp_table] = csv_bytes({
            "t": [tm.source.table] * len(out_rows), "s": [skeys[i] for i in out_rows],
            "d": [disp[i] for i in out_rows], "r": [reason[i] for i in out_rows],
            "b": [bkeys[i] for i in out_rows]})
        first_ordinal = first_row_no - 1
        for tname, emitter in self.emitters.items():
            plan = emitter.plan
            rows = out.targets[tname]
            sel = [j for j, i in enumerate(rows.source) if disp[i] == "load"]
            if not sel:
                continue
            parent = parent_index = None
            if plan.parent is not None:
                parent = out.targets[plan.parent]
                parent_index = {i: j for j, i in enumerate(parent.source)}
            get = _getter(rows, sel, parent, parent_index)
            keys = emitter.keys(get)
            s = [skeys[rows.source[j]] for j in sel]
            ordinals = [first_ordinal + rows.source[j] for j in sel]
            if plan.merged:
                cols_of = list(rows.columns)
                res.merge[tname] = [(k, s[idx], {c: rows.columns[c][j] for c in cols_of}, ordinals[idx])
                                    for idx, (k, j) in enumerate(zip(keys, sel, strict=True))]
                continue
            res.copies[self.exp_tables[tname]] = emitter.lines(keys, emitter.values(get), s, ordinals)

            def total_get(ref: str, get: Callable[..., list[Any]] = get) -> list[Any]:
                if ref.startswith("parent."):
                    return get(ref.split(".", 1)[1], True)
                return get(ref)
            for t in self.totals.get(tname, []):
                t.add(total_get, len(sel))
                res.totals[t.spec.name] = t.take()
        res.seconds["normalise and hash"] = time.perf_counter() - t1
        return res


_PROCESSOR: ChunkProcessor | None = None


def _worker_init(processor: ChunkProcessor) -> None:
    global _PROCESSOR
    _PROCESSOR = processor


def _frame_columns(ipc: bytes, names: list[str]) -> tuple[dict[str, list[Any]], int]:
    import polars as pl

    frame = pl.read_ipc(io.BytesIO(ipc))
    return {c: (frame.get_column(c).to_list() if c in frame.columns else [None] * frame.height)
            for c in names}, frame.height


def _worker_ping() -> int:
    return os.getpid()


def _worker_process(ipc: bytes, first_row_no: int, loser_rows: list[int]) -> ChunkResult:
    """One chunk in a worker: the frame arrives as Arrow IPC bytes (serialised in Rust, not pickled)."""
    assert _PROCESSOR is not None
    cols, n = _frame_columns(ipc, _PROCESSOR.extracted)
    return _PROCESSOR.process(cols, n, first_row_no, set(loser_rows))


def _worker_dup(ipc: bytes, first_row_no: int) -> bytes:
    """The duplicate rule's COPY data of one chunk (the few columns it reads), in a worker."""
    assert _PROCESSOR is not None
    cols, n = _frame_columns(ipc, _PROCESSOR.dup_columns())
    return _PROCESSOR.dup_rows(cols, n, first_row_no)


def _ipc(chunk: Chunk) -> bytes:
    buf = io.BytesIO()
    chunk.frame.write_ipc(buf)
    return buf.getvalue()


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
        path = resources.files("migration.refdata") / seed.file
        text_ = path.read_text(encoding="utf-8")
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


__all__ = ["ChunkProcessor", "CopyWriter", "Emitter", "ExpectedTable", "TablePass", "Totals", "esc", "staging_name"]
