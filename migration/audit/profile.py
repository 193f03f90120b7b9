"""``safestats-migrate profile``: the legacy database held against the mappings, read-only.

One streamed pass per legacy table (plus, for a table with a duplicate rule, a first read
of the few columns the rule needs — as reconciliation does), chunk by chunk, memory flat:

- column statistics and value shapes (:mod:`migration.audit.stats`), examples masked
  (:mod:`migration.audit.masking`);
- predictions (:mod:`migration.audit.predict`): per stage and reason, the rows the run
  will quarantine, filter, merge and load, and the flags the target will hold — from
  reconciliation's Python reference, with the lookups simulated from the source and the
  shipped reference data (:mod:`migration.audit.simulate`);
- cross-table facts: references that find nothing (orphans), duplicate keys and how the
  rule resolves them, import batches whose ``RowCount`` disagrees with their rows,
  watermark columns' NULL share and range;
- an estimate of each stage's duration and the target size (:mod:`migration.audit.estimate`).

Values are read exactly as the loader reads them (:class:`migration.db.source.SourceReader`,
decoded by :mod:`migration.db.codec`).  No target is needed.
"""

from __future__ import annotations

import io
import multiprocessing
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import URL

from migration.audit.estimate import estimate_stages
from migration.audit.masking import check_sensitive, mask_example, sensitive_columns
from migration.audit.model import (
    SCHEMA_VERSION,
    BatchMismatch,
    ProfileResult,
    StageProfile,
    TableProfile,
)
from migration.audit.predict import TablePrediction, TablePredictor, find_losers
from migration.audit.simulate import SimulatedTarget
from migration.audit.stats import ColumnStats, frame_shapes
from migration.console import Console
from migration.db.engines import check_connect, source_engine
from migration.db.source import Chunk, SourceReader
from migration.errors import SettingsError, SourceError
from migration.mapping.spec import StageSpec
from migration.reconcile.extract import PARALLEL_ROWS, workers_default
from migration.secrets import redact_url
from migration.version import __version__


def _closure(specs: list[StageSpec], names: list[str]) -> tuple[list[StageSpec], set[str]]:
    """The stages to evaluate (the asked ones and everything they depend on) and the asked ones."""
    by = {s.stage: s for s in specs}
    unknown = [n for n in names if n not in by]
    if unknown:
        raise SettingsError(f"unknown stage(s): {', '.join(unknown)}",
                         hint=f"stages are: {', '.join(s.stage for s in specs)}")
    wanted = set(names) if names else set(by)
    need: set[str] = set()

    def visit(n: str) -> None:
        if n in need:
            return
        need.add(n)
        for d in by[n].depends_on:
            visit(d)

    for n in wanted:
        visit(n)
    return [s for s in specs if s.stage in need], wanted


def profile(source_url: URL, specs: list[StageSpec], *, stages: list[str] | None = None,
            sample: int | None = None, chunk_rows: int = 20_000, checks_dir: Path | None = None,
            target_url: URL | None = None, console: Console | None = None) -> ProfileResult:
    """Profile the legacy tables of ``stages`` (default: all) and predict what ``run`` will do.

    ``specs`` in run order (:func:`migration.mapping.order.stage_order`).  ``sample``: read
    only the first N rows of each table (figures then describe that sample, and
    predictions are no longer exact).  ``target_url``: where earlier runs' throughput is
    read for the estimate (optional; the benchmark's figures otherwise)."""
    started = time.monotonic()
    order, wanted = _closure(specs, list(stages or []))
    engine = source_engine(source_url)
    try:
        check_connect(engine, role="source")
        reader = SourceReader(engine)
        sensitive = check_sensitive(checks_dir, specs)
        sim = SimulatedTarget(specs)
        out: list[StageProfile] = []
        try:
            for spec in order:
                report = spec.stage in wanted
                sim.seeds(spec, "before_tables")
                tables = []
                for tm in spec.tables:
                    tables.append(_table(reader, spec, tm, sim, sensitive, report=report, sample=sample,
                                         chunk_rows=chunk_rows, console=console))
                sim.seeds(spec, "after_tables")
                if report:
                    out.append(StageProfile(spec.stage, spec.title or spec.stage, tables, dataset=spec.dataset))
            mismatches, checked = _batch_mismatches(sim, out)
        finally:
            sim.close()
    finally:
        engine.dispose()
    estimate_stages(out, target_url)
    notes = []
    if sample:
        notes.append(f"sampled: only the first {sample:,} rows of each table were read; predictions describe "
                     "that sample and cascades from unread rows are missing")
    return ProfileResult(source=redact_url(source_url), generated_at=datetime.now(UTC),
                         seconds=time.monotonic() - started, stages=out, sample=sample,
                         batch_mismatches=mismatches, batches_checked=checked, notes=notes)


def _table(reader: SourceReader, spec: StageSpec, tm: Any, sim: SimulatedTarget, sensitive: dict[str, list[str]],
           *, report: bool, sample: int | None, chunk_rows: int, console: Console | None) -> TableProfile:
    t0 = time.monotonic()
    table = tm.source.table
    live = reader.columns(table)
    dropped = set(tm.personal_data.drop)
    missing = [c for c in tm.source.columns if c not in live and c not in dropped]
    if missing:
        raise SourceError(f"legacy table {table} has no column {', '.join(missing)} that the mapping of stage "
                          f"{spec.stage} reads", hint="run `safestats-migrate preflight` for the schema drift")
    secret = sensitive_columns(tm, live, sensitive)
    read = [c for c in live if c not in dropped]
    predictor = TablePredictor(spec.stage, tm, sim.lookups(), sim.table_lookups(tm), sim, hidden=secret)
    step = min(chunk_rows, sample) if sample else chunk_rows

    def stream(columns: list[str], rows: int) -> Any:
        seen = 0
        for chunk in reader.stream(table, columns, key=tm.source.key, key_type=tm.source.key_type, chunk_rows=rows):
            if sample is not None and seen + chunk.size > sample:
                chunk = Chunk(frame=chunk.frame.head(sample - seen), key=chunk.key, last_key=None)
            seen += chunk.size
            yield chunk
            if sample is not None and seen >= sample:
                return

    if tm.duplicates is not None:
        proc = predictor.processor()
        names = proc.dup_columns()
        losers, winners = find_losers(proc, stream(names, step * 2), names)
        predictor.set_duplicates(losers, winners)
    stats = {c: ColumnStats(c, showable=c not in secret, mask=mask_example) for c in read} if report else {}
    total: int | None = reader.count(table)
    rows = 0
    progress_cm = console.progress(f"profile {spec.stage}: {table}", total) if console is not None else None
    bar = progress_cm.__enter__() if progress_cm is not None else None
    workers = workers_default()
    parallel = (tm.source.key is not None and not predictor.sim_targets and workers >= 2
                and (total if total is not None else reader.count(table)) >= PARALLEL_ROWS and not sample)
    pool: ProcessPoolExecutor | None = None
    pending: deque[Future[TablePrediction]] = deque()
    try:
        if parallel:
            # the reference is pure Python: chunks are evaluated by worker processes (as reconciliation
            # does) while this process reads the next chunk and keeps the column statistics
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_worker_init, initargs=(predictor,))
        row_no = 1
        for chunk in stream(read, step):
            frame = chunk.frame
            if pool is not None:
                pending.append(pool.submit(_worker_add, _ipc(frame.select(
                    [c for c in predictor.extracted if c in frame.columns])), row_no))
            shapes: dict[str, pl.Series] = {}
            if report:
                shapes = frame_shapes(frame)
                for c, st in stats.items():
                    if c in frame.columns:
                        st.update(frame.get_column(c), shapes[c])
            if pool is None:
                predictor.add(frame, shapes)
            while pending and (len(pending) > 2 * workers or pending[0].done()):
                predictor.pred.merge(pending.popleft().result())
            row_no += chunk.size
            rows += chunk.size
            if bar is not None:
                bar.advance(chunk.size)
        while pending:
            predictor.pred.merge(pending.popleft().result())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if progress_cm is not None:
            progress_cm.__exit__(None, None, None)
    predictor.pred.sampled = sample is not None
    watermark = None
    wm = tm.source.delta.watermark_column if tm.source.delta else None
    if report and wm and wm in stats:
        st = stats[wm]
        watermark = {"column": wm, "rows": st.rows, "nulls": st.nulls,
                     "null_share": (st.nulls / st.rows) if st.rows else 0.0,
                     "min": st.min_text, "max": st.max_text}
    return TableProfile(spec.stage, table, rows, time.monotonic() - t0, list(stats.values()), predictor.pred,
                        unmapped_columns=[c for c in live if c not in tm.source.columns],
                        not_read=sorted(dropped & set(live)), watermark=watermark,
                        workers=workers if parallel else 1)


_PREDICTOR: TablePredictor | None = None


def _worker_init(predictor: TablePredictor) -> None:
    global _PREDICTOR
    _PREDICTOR = predictor


def _worker_add(ipc: bytes, row_no: int) -> TablePrediction:
    assert _PREDICTOR is not None
    return _PREDICTOR.partial(pl.read_ipc(io.BytesIO(ipc)), row_no)


def _ipc(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ipc(buf)
    return buf.getvalue()


def _batch_mismatches(sim: SimulatedTarget, stages: list[StageProfile]) -> tuple[list[BatchMismatch], int]:
    """Import batches whose claimed RowCount differs from the rows carrying their BatchID."""
    batches = sim.table_rows("ref.import_batch")
    if not batches:
        return [], 0
    carried: Counter[str] = Counter()
    for s in stages:
        for t in s.tables:
            carried.update(t.prediction.batch_rows)
    datasets = {s.dataset.upper() for s in stages if s.dataset}
    batches = [b for b in batches if str(b.get("dataset") or "").upper() in datasets]
    if not carried or not batches:
        return [], 0
    out = []
    for b in batches:
        bid = b.get("batch_id")
        if bid is None:
            continue
        claimed = b.get("claimed_rows")
        rows = carried.get(str(bid), 0)
        if claimed is None or int(claimed) != rows:
            out.append(BatchMismatch(str(bid), None if claimed is None else int(claimed), rows))
    return sorted(out, key=lambda m: int(m.batch_id) if m.batch_id.isdigit() else 0), len(batches)


__all__ = ["ProfileResult", "SCHEMA_VERSION", "StageProfile", "TableProfile", "profile", "__version__"]
