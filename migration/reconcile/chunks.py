"""One chunk of legacy rows through the mapping's Python reference: its fate counts, the
canonical target rows it must produce, its COPY data and partial totals — in the main process
or in a worker process (:mod:`.extract`)."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from migration.db.source import Chunk
from migration.mapping import keys as key_rule
from migration.mapping.sourcetext import TextCleaning, key_source_columns
from migration.mapping.spec import TableMappingSpec
from migration.mapping.transforms.text import clean
from migration.reconcile.copying import _INT18, _int_or_none, clean_column, csv_bytes
from migration.reconcile.normalise import FIELD_SEP, KEY_SEP, py_column
from migration.reconcile.reference import (
    ChunkOutcome,
    ChunkReference,
    Reference,
    TargetRows,
    reference_for,
)
from migration.reconcile.tableplan import TablePlan
from migration.reconcile.totals import Totals
from migration.schema import models


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
