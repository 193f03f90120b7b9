"""Loading one legacy table of a stage: key snapshot, duplicate rule, streamed chunks.

1. **Key snapshot** (only for tables with a duplicate rule): the key, the duplicate
   partition and the winner-ordering values of every row are streamed and COPY'd into
   ``staging.<stage>__<table>__keys``; the duplicate rule runs there as one window
   query (``rank() … > 1`` = merged).  The snapshot also bounds the main pass for integer
   keys: rows added to the legacy table after it are left to the next delta.  Each group
   keeps exactly one winner (``row_number``); rows tied on every declared value are
   identical in them, and the one read last wins so the choice is repeatable.
2. **Main pass**: rows are streamed in key order after the last committed checkpoint,
   transformed in Python (:mod:`migration.steps.engine`), COPY'd into a temporary
   ``_chunk`` table and applied set-based (:mod:`migration.steps.compile`); the chunk's
   quarantine and disposition records, target rows, before-images and its checkpoint
   commit in ONE transaction.  A kill at any moment loses at most the uncommitted chunk,
   which the next run repeats.  Reading runs ahead in a thread, so the source, Python and
   PostgreSQL work at the same time.
3. **Accounting**: rows read (counted from the stream, kept per checkpoint) must equal
   loaded (counted in the target) + merged + filtered (``ledger.disposition``) +
   quarantined (``ledger.quarantine``); each term is counted on its own.

A chunk becomes COPY text in :mod:`.copytext`.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from migration import interrupt
from migration.console import Console
from migration.db.source import Chunk, SourceReader, is_transient
from migration.errors import (
    ConnectionLost,
    Interrupted,
    LockError,
    StageError,
    TargetFull,
    out_of_resources,
)
from migration.ledger import Ledger, TableCount, history, images, records
from migration.mapping import keys as key_rule
from migration.mapping.sourcetext import key_source_columns
from migration.mapping.spec import StageSpec, TableMappingSpec
from migration.mapping.transforms.text import pl_clean
from migration.schema import models
from migration.schema.sql import qident, staging_table
from migration.secrets import scrub
from migration.steps.compile import ApplyPlan, build_apply
from migration.steps.copytext import NulInText, _FaultyStream, to_copy_csv
from migration.steps.engine import ChunkEvaluator

#: "no chunk taken from the reader's queue yet"
_NOTHING = object()


def keys_table(stage: str, source_table: str, run_id: int) -> str:
    """The key snapshot of a table as a run left it (what the next delta compares with)."""
    return staging_table(stage, source_table, f"keys_r{run_id}")


def losers_table(stage: str, source_table: str, run_id: int) -> str:
    return staging_table(stage, source_table, f"losers_r{run_id}")




@dataclass
class FreshPart:
    table: str
    columns: list[str]
    frame: pl.DataFrame
    identity: str | None = None
    link: str | None = None
    link_column: str | None = None
    #: ``_row_no`` → ``_src_key`` of the chunk (names the row if a value cannot be COPY'd)
    source_keys: pl.DataFrame | None = None
    #: a book of ledger records (``table`` is the book), not a target table
    record: bool = False


@dataclass
class LoadContext:
    source: SourceReader
    target: Engine
    ledger: Ledger
    console: Console
    chunk_rows: int = 50_000
    retries: int = 4
    #: test hook called at named points ("before_commit", "after_copy", "after_commit")
    fault: Callable[..., None] | None = None
    #: called before each chunk is written: holds the migration lock (re-taken after its session died)
    guard: Callable[[], None] | None = None


class TableLoad:
    def __init__(self, lc: LoadContext, stage: StageSpec, tm: TableMappingSpec, run_id: int,
                 lookups: dict[str, Any], lookup_tables: dict[str, dict], lookup_frames: dict[str, pl.DataFrame]):
        self.lc = lc
        self.stage = stage
        self.tm = tm
        self.run_id = run_id
        self.table = tm.source.table
        self.evaluator = ChunkEvaluator(tm, lookups, lookup_frames)
        self.apply: ApplyPlan = build_apply(stage, tm)
        #: the chunk's ledger statements (images first, then records), run with the upserts
        self.image_statements = [images.insert_from(sel) for sel in self.apply.before_images]
        self.record_statements = [records.insert_from(book, sel) for book, sel in self.apply.records]
        self.keys_table = keys_table(stage.stage, self.table, run_id)
        self.losers_table = losers_table(stage.stage, self.table, run_id)
        self.extracted = [c for c in tm.source.columns if c not in set(tm.personal_data.drop)]
        #: seconds spent per phase of the main pass (reported with the stage, used by the benchmark)
        self.timings: dict[str, float] = {}
        #: what to do after a chunk could not be written (a delta says its own)
        self.retry_hint = "fix the cause and run the same command again: it resumes from the last committed chunk"

    def _t(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - since
        return now

    # ------------------------------------------------------------------ common
    def _params(self) -> dict[str, Any]:
        return dict(run_id=self.run_id, stage=self.stage.stage, source_table=self.table)

    def _raw_key_columns(self) -> list[str]:
        """The legacy columns the business key is made of (through derives, for a derived key)."""
        return key_source_columns(self.tm)

    def _src_key(self, row_no: pl.Expr) -> pl.Expr:
        """The legacy row's identity in the ledger: its primary key; for a keyless reference
        table, the raw values its business key is made of and its position (``00AAFA|2002#17``)."""
        if self.tm.source.key is not None:
            return pl.col(self.tm.source.key)
        return pl.concat_str([pl.concat_str([pl.col(c).fill_null("") for c in self._raw_key_columns()],
                                            separator="|"), pl.lit("#"), row_no.cast(pl.String)])

    def _frame(self, chunk: Chunk, first_row_no: int) -> pl.DataFrame:
        df = chunk.frame.select(self.extracted)
        row_no = pl.int_range(first_row_no, first_row_no + chunk.size, dtype=pl.Int64)
        return self._with_src_key(df, row_no)

    def _with_src_key(self, df: pl.DataFrame, row_no: pl.Expr) -> pl.DataFrame:
        """``df`` with ``_row_no`` and ``_src_key`` in its recorded form (a NUL in a text key as
        ``\\x00``: the ledger and the key snapshots name the row by it)."""
        return key_rule.printable_column(df.with_columns(_row_no=row_no, _src_key=self._src_key(row_no)),
                                         "_src_key")

    # ------------------------------------------------------------------ key snapshot
    def winner_frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """_src_key, _row_no, _part (duplicate group text: the effective key — ``RecID:<n>`` for a blank
        business key, a group of its own; null = a key the row cannot load under, never merged) and the
        winner-ordering values ``_w0…`` (none for a table without a duplicate rule)."""
        dup = self.tm.duplicates
        df, _ = self.evaluator.text.frame(df)  # the values the load's transforms see
        if dup is None:
            return df.with_columns(self.evaluator.keys(df).alias("_part")).select("_src_key", "_row_no", "_part")
        if dup.partition:
            if any("." in c for c in dup.partition):  # a group named by derive outputs (text)
                df = self.evaluator.derived(df)
            parts = [pl_clean(pl.col(c).cast(pl.String)) for c in dup.partition]
            part = parts[0] if len(parts) == 1 else pl.when(pl.any_horizontal([p.is_null() for p in parts])).then(
                None).otherwise(pl.concat_str(parts, separator="|"))
            work = df.with_columns(_part=part)
        else:  # the business key, exactly as the load computes it (derived keys included)
            work = df.with_columns(self.evaluator.keys(df).alias("_part"))
        exprs = []
        for i, w in enumerate(dup.winner):
            if "." in w.expr:
                lname, lcol = w.expr.split(".", 1)
                spec = self.tm.lookups[lname]
                frame = self.evaluator.lookup_frames[lname]
                left = [f"_lk{i}_{j}" for j in range(len(spec.match))]
                work = work.with_columns([pl_clean(pl.col(s)).alias(lk) for lk, s in
                                          zip(left, spec.match.values(), strict=True)])
                work = work.join(frame.select([f"_k{j}" for j in range(len(spec.match))] + [lcol])
                                 .rename({lcol: f"_lv{i}"}),
                                 left_on=left, right_on=[f"_k{j}" for j in range(len(spec.match))],
                                 how="left", maintain_order="left")
                value = pl.col(f"_lv{i}").cast(pl.String)
            else:
                value = pl_clean(pl.col(w.expr))
            if w.equals is not None:
                e = (value == w.equals).fill_null(False)
            elif w.type == "int":
                e = pl.when(value.str.contains("^-?[0-9]{1,18}$")).then(value.cast(pl.Int64, strict=False))
            else:
                e = value
            exprs.append(e.alias(f"_w{i}"))
        work = work.with_columns(exprs)
        for i in range(len(dup.winner)):
            # a winner value read from a key column is not cleaned; one holding a NUL belongs to a
            # row whose key is invalid (no group, so its order never counts), yet must reach COPY
            work = key_rule.printable_column(work, f"_w{i}")
        return work.select(["_src_key", "_row_no", "_part"] + [f"_w{i}" for i in range(len(dup.winner))])

    def snapshot_columns(self) -> list[str]:
        """The legacy columns the key snapshot reads: key, business key, duplicate rule inputs."""
        dup = self.tm.duplicates
        derived = any("." in c for c in self.tm.business_key.columns) or (
            dup is not None and any("." in c for c in dup.partition or []))
        key_cols = self.extracted if derived else self.tm.business_key.columns
        cols = ([self.tm.source.key] if self.tm.source.key else []) + key_cols
        if dup is not None:
            cols += [c for c in dup.partition or [] if "." not in c] + [w.expr for w in dup.winner if "." not in w.expr]
            cols += [c for name in {w.expr.split(".")[0] for w in dup.winner if "." in w.expr}
                     for c in self.tm.lookups[name].match.values()]
        return list(dict.fromkeys(cols))

    def snapshot_keys(self, upto: Any, *, into: str | None = None, record: bool = True) -> int:
        """Copy every legacy row's key, group and winner values into ``staging.…__keys_r<run>`` and
        run the duplicate rule there (``…__losers_r<run>``).  Idempotent per run.  The snapshot is
        kept (logged table): the next delta compares the legacy's keys with it in PostgreSQL."""
        dup = self.tm.duplicates
        lc, ledger = self.lc, self.lc.ledger
        keys, losers = into or self.keys_table, self.losers_table
        if lc.fault:  # kill matrix: key snapshot
            lc.fault("key_snapshot", 0, self.table)
        with lc.target.connect() as conn:
            done = history.keys_snapshot_taken(conn, run_id=self.run_id, stage=self.stage.stage,
                                               source_table=self.table)
        if done:
            return 0
        cols = self.snapshot_columns()
        started = time.monotonic()
        with lc.target.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {keys}"))
            conn.execute(text(f"DROP TABLE IF EXISTS {losers}"))
            created = False
            row_no = 1
            total = 0
            copied = 0
            for chunk in lc.source.stream(self.table, cols, key=self.tm.source.key,
                                          key_type=self.tm.source.key_type, upto=upto, chunk_rows=lc.chunk_rows * 2):
                rn = pl.int_range(row_no, row_no + chunk.size, dtype=pl.Int64)
                df = self._with_src_key(chunk.frame.select(cols), rn)
                frame = self.winner_frame(df)
                try:
                    data, types = to_copy_csv(frame)
                except NulInText as exc:
                    raise self._nul_error(exc, None, frame) from None
                if not created:
                    conn.execute(text(f"CREATE TABLE {keys} ("
                                      + ", ".join(f"{qident(n)} {t}" for n, t in types) + ")"))
                    created = True
                raw = conn.connection.dbapi_connection
                with raw.cursor() as cur:  # type: ignore[union-attr]
                    cur.copy_expert(f"COPY {keys} FROM STDIN WITH (FORMAT csv, NULL '\\N')", io.BytesIO(data))
                copied += 1
                if lc.fault:  # kill matrix: the key snapshot half taken (its transaction open)
                    lc.fault("key_snapshot_copy", copied, self.table)
                row_no += chunk.size
                total += chunk.size
            if not created:
                conn.execute(text(f"CREATE TABLE {keys} (_src_key text COLLATE \"C\", _row_no bigint, "
                                  f"_part text COLLATE \"C\")"))
            conn.execute(text(f"CREATE INDEX ON {keys} (_src_key)"))
            conn.execute(text(f"CREATE INDEX ON {keys} (_part)"))
            if dup is not None:
                order = ", ".join(f"{qident(f'_w{i}')} {w.order.upper()} NULLS LAST" for i, w in enumerate(dup.winner))
                # exactly one winner per group: rows still tied after the declared order are identical in
                # every compared value, and the last one read wins so the choice is repeatable
                conn.execute(text(
                    f"CREATE TABLE {losers} AS SELECT _src_key FROM (SELECT _src_key, "
                    f"row_number() OVER (PARTITION BY _part COLLATE \"C\" ORDER BY {order}, _row_no DESC) AS rk "
                    f"FROM {keys} WHERE _part IS NOT NULL) x WHERE rk > 1"))
            else:
                conn.execute(text(f"CREATE TABLE {losers} (_src_key text)"))
            n_losers = conn.execute(text(f"SELECT count(*) FROM {losers}")).scalar_one()
            if record:  # a dry run's snapshot is scratch: nothing of it goes into the ledger
                ledger.event(conn, run_id=self.run_id, stage=self.stage.stage, kind="keys_snapshot",
                             detail=dict(source_table=self.table, rows=total, losers=n_losers, upto=upto,
                                         seconds=round(time.monotonic() - started, 3)))
        return total

    def mark_merged(self, out: pl.DataFrame, losers: pl.Series) -> pl.DataFrame:
        """Rows the duplicate rule did not elect are merged (whatever their own disposition)."""
        if not losers.len():
            return out
        dup = self.tm.duplicates
        reason = dup.reason if dup else "DUPLICATE_MERGED"
        fields = dup.partition if dup and dup.partition else self.tm.business_key.columns
        is_loser = pl.col("_src_key").is_in(losers.implode())
        return out.with_columns(
            _disp=pl.when(is_loser).then(pl.lit("merged")).otherwise(pl.col("_disp")),
            _reason=pl.when(is_loser).then(pl.lit(reason)).otherwise(pl.col("_reason")),
            _fields=pl.when(is_loser).then(pl.lit(list(fields), dtype=pl.List(pl.String))).otherwise(pl.col("_fields")))

    def losers(self) -> pl.Series:
        with self.lc.target.connect() as conn:
            keys = [r[0] for r in conn.execute(text(f"SELECT _src_key FROM {self.losers_table}"))]
        return pl.Series("_src_key", keys, dtype=pl.String)

    # ------------------------------------------------------------------ main pass
    def run(self, *, fresh: bool, upto: Any = None, progress: Any = None) -> None:
        lc = self.lc
        t0 = time.perf_counter()
        self.snapshot_keys(upto)
        losers = self.losers()
        self._t("key snapshot", t0)
        with lc.target.connect() as conn:
            cp = lc.ledger.last_checkpoint(conn, run_id=self.run_id, stage=self.stage.stage,
                                           source_table=self.table, phase="load")
        if cp and self.tm.source.key is None:
            return  # keyless tables load in one chunk: a checkpoint means done
        chunk_no, after, done_rows = (cp if cp else (0, None, 0))
        row_no = done_rows + 1
        if progress is not None and done_rows:
            progress.advance(done_rows)
        stream_rows = lc.chunk_rows if self.tm.source.key is not None else 10**9
        q: queue.Queue[Any] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def reader() -> None:
            try:
                for ch in lc.source.stream(self.table, self.extracted, key=self.tm.source.key,
                                           key_type=self.tm.source.key_type, after=after, upto=upto,
                                           chunk_rows=stream_rows):
                    if lc.fault:  # the n-th chunk read from the legacy (kill matrix: extract)
                        lc.fault("extract", 0, self.table)
                    while not stop.is_set():
                        try:
                            q.put(ch, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(None)
            except BaseException as exc:  # handed to the main thread
                q.put(exc)

        t = threading.Thread(target=reader, name=f"read-{self.table}", daemon=True)
        t.start()
        # the writer thread commits chunks in order while this thread transforms the next one
        wq: queue.Queue[Any] = queue.Queue(maxsize=1)
        failure: list[BaseException] = []

        def writer() -> None:
            while True:
                job = wq.get()
                if job is None:
                    return
                if failure:
                    continue
                try:
                    self._write_chunk(*job[0], **job[1])
                    if progress is not None:
                        progress.advance(job[1]["rows"])
                except BaseException as exc:
                    failure.append(exc)

        w = threading.Thread(target=writer, name=f"write-{self.table}", daemon=True)
        w.start()
        stop_asked: str | None = None
        try:
            with interrupt.deferred():  # Ctrl-C/SIGTERM: the chunks already handed over still commit whole
                while not failure:
                    t0 = time.perf_counter()
                    item: Any = _NOTHING
                    while item is _NOTHING and not interrupt.requested():
                        try:  # polled: a throttled source may be slow to hand over its next chunk
                            item = q.get(timeout=0.5)
                        except queue.Empty:
                            continue
                    stop_asked = interrupt.requested()
                    if stop_asked:
                        break
                    t0 = self._t("wait_source", t0)
                    if item is None:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    chunk: Chunk = item
                    chunk_no += 1
                    df = self._frame(chunk, row_no)
                    t0 = self._t("frame", t0)
                    out = self.evaluator.evaluate(df)
                    t0 = self._t("transform", t0)
                    if lc.fault:  # kill matrix: transform
                        lc.fault("transform", chunk_no, self.table)
                    out = self.mark_merged(out, losers)
                    payload = self._payload(out, fresh)
                    self._t("payload", t0)
                    wq.put(((payload,), dict(chunk_no=chunk_no, last_key=chunk.last_key, rows=chunk.size,
                                             fresh=fresh)))
                    row_no += chunk.size
        finally:
            wq.put(None)
            w.join()
            stop.set()
            t.join(timeout=5)
        if failure:
            raise failure[0]
        if stop_asked:
            raise Interrupted(f"{stop_asked}: stage {self.stage.stage} stopped loading {self.table} at a chunk "
                              "boundary", hint=f"`safestats-migrate run {self.stage.stage}` resumes from the last "
                                               "committed chunk")

    def _nul_error(self, exc: NulInText, part: FreshPart | None, frame: pl.DataFrame) -> StageError:
        """The bug-stop of a NUL that reached COPY, naming the legacy row and the column."""
        column, key = exc.column, None
        if "source_key" in frame.columns:
            key = frame.get_column("source_key")[exc.row]
        elif "_src_key" in frame.columns:
            key = frame.get_column("_src_key")[exc.row]
        elif part is not None and part.source_keys is not None:
            row_no = part.frame.get_column("_row_no")[exc.row]
            hit = part.source_keys.filter(pl.col("_row_no") == row_no).get_column("_src_key")
            key = hit[0] if hit.len() else None
        internal = {"_part": "the business key (duplicate group)", "_key": "the business key (source_ref)",
                    "_src_key": "the legacy key"}
        if column in internal:
            column = internal[column]
        elif part is not None and not column.startswith("_"):
            column = f"{records.public_name(part.table) if part.record else part.table}.{column}"
        elif column.startswith("_t"):  # _t{i}_{column}: target i's column
            i, _, name = column[2:].partition("_")
            if i.isdigit() and int(i) < len(self.apply.targets):
                column = f"{self.apply.targets[int(i)].table}.{name}"
        src_key = self.tm.source.key or "row"
        return StageError(
            f"stage {self.stage.stage}: legacy {self.table} {src_key} {key} would write a NUL character "
            f"into {column}, which PostgreSQL text cannot hold; this is a bug (text cleaning removes NUL "
            f"from every column but the keys)",
            hint="report it with the stage, table, key and column above; nothing of this chunk was written")

    def _payload(self, out: pl.DataFrame, fresh: bool) -> Any:
        if fresh:
            return self._fresh_payload(out)
        # The upsert reads only the rows it loads; a quarantined, filtered or merged row's target
        # values are never written, so they do not travel — a value no target may hold (a NUL in
        # an uncleaned key column) is why such a row was quarantined in the first place.
        unused = [c for c in out.columns if c[:2] in ("_t", "_x", "_w") and c[2:3].isdigit()]
        if unused:
            keep = pl.col("_disp") == "load"
            out = out.with_columns([pl.when(keep).then(pl.col(c)).otherwise(None).alias(c) for c in unused])
        try:
            data, types = to_copy_csv(out)
        except NulInText as exc:
            raise self._nul_error(exc, None, out) from None
        return ("CREATE TEMP TABLE _chunk (" + ", ".join(f"{qident(n)} {t}" for n, t in types)
                + ") ON COMMIT DROP", data)

    def _committed(self, chunk_no: int) -> bool:
        """After a connection lost mid-write: did chunk ``chunk_no`` commit after all?  (A COMMIT
        whose reply was lost may have succeeded; its checkpoint commits with it, so reading the
        checkpoint back tells.)  Read on a fresh connection, before anything is redone."""
        with self.lc.target.connect() as conn:
            last = self.lc.ledger.last_checkpoint(conn, run_id=self.run_id, stage=self.stage.stage,
                                                  source_table=self.table, phase="load")
        return last is not None and last[0] >= chunk_no

    def _write_chunk(self, payload: Any, *, chunk_no: int, last_key: Any, rows: int, fresh: bool,
                     also: Callable[[Connection], None] | None = None) -> None:
        """Write one chunk and its checkpoint in one transaction (``also``: more ledger writes that
        must commit with it); retried on a dropped connection, never written twice."""
        attempt = 0
        lost = False
        while True:
            attempt += 1
            try:
                if lost and self._committed(chunk_no):
                    self.lc.console.warn(f"{self.stage.stage}/{self.table} chunk {chunk_no}: its commit had "
                                         "succeeded before the connection dropped; not written again")
                    return
                if self.lc.guard:  # the lock's session may have died with the others: hold it again first
                    self.lc.guard()
                with self.lc.target.begin() as conn:
                    if also is not None:
                        also(conn)
                    if fresh:
                        self._apply_fresh(conn, payload, chunk_no=chunk_no)
                    else:
                        self._apply_chunk(conn, *payload, chunk_no=chunk_no)
                    self.lc.ledger.checkpoint(conn, run_id=self.run_id, stage=self.stage.stage,
                                              source_table=self.table, phase="load", chunk_no=chunk_no,
                                              last_key=None if last_key is None else str(last_key), rows=rows)
                    if self.lc.fault:
                        self.lc.fault("before_commit", chunk_no, self.table)
                if self.lc.fault:
                    self.lc.fault("after_commit", chunk_no, self.table)
                return
            except (StageError, LockError):
                raise
            except Exception as exc:
                lost = lost or is_transient(exc)
                if is_transient(exc) and attempt <= self.lc.retries:
                    problem = "the target is out of room" if out_of_resources(exc) else "database connection problem"
                    self.lc.console.warn(
                        f"{self.stage.stage}/{self.table} chunk {chunk_no}: {problem}, retrying "
                        f"({attempt}/{self.lc.retries}): {scrub(getattr(exc, 'orig', exc))}".strip())
                    time.sleep(min(2 ** attempt * 0.25, 8))
                    continue
                # unreachable (or full) after the retries: exit 3
                cls = TargetFull if out_of_resources(exc) else ConnectionLost if is_transient(exc) else StageError
                undone = "this chunk" if last_key is None else f"rows after key {last_key!r}"
                raise cls(
                    f"stage {self.stage.stage} stopped loading {self.table} at chunk {chunk_no} "
                    f"({undone} back to the last checkpoint): {scrub(getattr(exc, 'orig', exc))}".strip(),
                    hint=self.retry_hint if cls is not TargetFull
                    else TargetFull.hint_then(self.retry_hint.removeprefix("fix the cause and ")),
                ) from exc

    # -- fresh bulk load: COPY straight into the final tables
    def _fresh_payload(self, out: pl.DataFrame) -> list[FreshPart]:
        """What to COPY, per table: ledger records, then each target in mapping order.

        Each target's rows are cut from the engine output exactly as the upsert SQL would
        select them (disposition 'load', the target's ``where`` columns, exploded lists —
        an empty list gives no row, as unnest does).  A parent's surrogate keys are drawn
        from its identity sequence when the chunk is written and handed to linked
        children by source row (``_row_no``)."""
        parts: list[FreshPart] = []
        rec = ["_src_key", "_bkey", "_reason", "_fields"]
        quarantined = out.filter(pl.col("_disp") == "quarantine").select(rec)
        if quarantined.height:
            parts.append(FreshPart(records.QUARANTINE, ["source_key", "business_key", "reason_code", "fields"],
                                   quarantined, record=True))
        disposed = out.filter(pl.col("_disp").is_in(["filter", "merged"])).select(["_src_key", "_disp"] + rec[1:])
        if disposed.height:
            parts.append(FreshPart(records.DISPOSITION, ["source_key", "disposition", "business_key", "reason_code",
                                                          "fields"], disposed, record=True))
        load = out.filter(pl.col("_disp") == "load")
        for tp in self.apply.targets:
            f = load
            for w in tp.where:
                f = f.filter(pl.col(w.removeprefix("c.")))
            for name in tp.explode:
                col = f"_x{tp.index}_{name}"
                f = f.filter(pl.col(col).list.len() > 0).explode(col)
            table = models.table(tp.table)
            exprs, cols = [pl.col("_row_no")], []
            for c in tp.columns:
                src = tp.chunk_column[c]
                if src.startswith("p."):
                    continue  # the parent's surrogate key, joined when ids are drawn
                if src.startswith("e_"):
                    exprs.append(pl.col(f"_x{tp.index}_{src[2:].split('.')[0]}").alias(c))
                else:
                    exprs.append(pl.col(src.removeprefix("c.")).alias(c))
                cols.append(c)
            identity = next((c.name for c in table.primary_key.columns if c.identity is not None), None)
            parts.append(FreshPart(tp.table, cols, f.select(exprs),
                                   identity=identity if identity and identity not in cols else None,
                                   link=tp.link, link_column=tp.link_column,
                                   source_keys=out.select("_row_no", "_src_key")))
        return parts

    def _apply_fresh(self, conn: Connection, parts: list[FreshPart], *, chunk_no: int) -> None:
        fault = self.lc.fault
        raw = conn.connection.dbapi_connection
        t0 = time.perf_counter()
        ids: dict[str, pl.DataFrame] = {}
        with raw.cursor() as cur:  # type: ignore[union-attr]
            for part in parts:
                frame, cols = part.frame, list(part.columns)
                if part.record:
                    frame = frame.select(pl.lit(self.run_id, dtype=pl.Int64).alias("run_id"),
                                         pl.lit(self.stage.stage).alias("stage"),
                                         pl.lit(self.table).alias("source_table"), pl.all())
                    cols = ["run_id", "stage", "source_table"] + cols
                else:
                    if part.link and part.link_column:
                        frame = frame.join(ids[part.link], on="_row_no", how="inner", maintain_order="left")
                        cols = [part.link_column] + cols
                    if part.identity and frame.height == 0:
                        # nothing to number (e.g. a chunk of users none of whom gets a grant):
                        # drawing an empty range would setval the sequence below its minimum
                        ids[part.table] = frame.select("_row_no", pl.lit(None, dtype=pl.Int64)
                                                       .alias(part.identity))
                        continue
                    if part.identity:
                        # one range per chunk (the migration lock keeps other writers out; ids of a
                        # chunk that rolls back are simply never used)
                        cur.execute("SELECT setval(s, nextval(s) + %s - 1) FROM "
                                    "(SELECT pg_get_serial_sequence(%s, %s) AS s) q",
                                    (frame.height, part.table, part.identity))
                        last = int(cur.fetchone()[0])  # type: ignore[index]
                        drawn = range(last - frame.height + 1, last + 1)
                        t0 = self._t("draw ids", t0)
                        frame = frame.with_columns(pl.int_range(drawn.start, drawn.stop, dtype=pl.Int64)
                                                   .alias(part.identity))
                        ids[part.table] = frame.select("_row_no", pl.col(part.identity))
                        cols = [part.identity] + cols
                    frame = frame.with_columns(load_run_id=pl.lit(self.run_id, dtype=pl.Int64))
                    cols = cols + ["load_run_id"]
                    frame = frame.select(cols)
                if frame.height == 0:
                    continue
                try:
                    data, _ = to_copy_csv(frame)
                except NulInText as exc:
                    raise self._nul_error(exc, part, frame) from None
                label = records.public_name(part.table) if part.record else part.table
                t0 = self._t(f"csv {label}", t0)
                stream: io.BytesIO = io.BytesIO(data) if fault is None else _FaultyStream(data, fault, chunk_no, self.table)
                if part.record:  # into the ledger, in this chunk's transaction
                    records.copy_from(cur, part.table, cols, stream, size=65536)
                else:
                    cur.copy_expert(f"COPY {part.table} ({', '.join(qident(c) for c in cols)}) FROM STDIN "
                                    f"WITH (FORMAT csv, NULL '\\N')", stream, size=65536)
                t0 = self._t(f"copy {label}", t0)
        if fault:
            fault("after_copy", chunk_no, self.table)

    def _apply_chunk(self, conn: Connection, ddl: str, data: bytes, *, chunk_no: int) -> None:
        fault = self.lc.fault
        conn.execute(text(ddl))
        raw = conn.connection.dbapi_connection
        t0 = time.perf_counter()
        with raw.cursor() as cur:  # type: ignore[union-attr]
            stream: io.BytesIO = io.BytesIO(data) if fault is None else _FaultyStream(data, fault, chunk_no, self.table)
            cur.copy_expert("COPY _chunk FROM STDIN WITH (FORMAT csv, NULL '\\N')", stream, size=65536)
            t0 = self._t("copy", t0)
            if fault:
                fault("after_copy", chunk_no, self.table)
            params = self._params()
            for stmt in self.image_statements:
                cur.execute(stmt, params)
            t0 = self._t("before_images", t0)
            for i, stmt in enumerate(self.record_statements + self.apply.statements):
                cur.execute(stmt, params)
                t0 = self._t(f"apply_{i}", t0)

    # ------------------------------------------------------------------ accounting
    def count(self, conn: Connection, dataset: str | None) -> TableCount:
        primary = self.apply.targets[0].table
        t = models.table(primary)
        where = "load_run_id = :r"
        if "dataset" in t.c and dataset:
            where += " AND dataset = :d"
        loaded = conn.execute(text(f"SELECT count(*) FROM {primary} WHERE {where}"),
                              dict(r=self.run_id, d=dataset)).scalar_one()
        read = history.checkpointed_rows(conn, run_id=self.run_id, stage=self.stage.stage, source_table=self.table)
        quarantined, disp = records.run_tallies(conn, run_id=self.run_id, stage=self.stage.stage,
                                                source_table=self.table)
        return TableCount(run_id=self.run_id, stage=self.stage.stage, source_table=self.table,
                          rows_read=int(read), rows_loaded=int(loaded), rows_merged=int(disp.get("merged", 0)),
                          rows_quarantined=int(quarantined), rows_filtered=int(disp.get("filter", 0)),
                          rows_unchanged=int(disp.get("unchanged", 0)))

