"""The load step of a run: one stage's seeds and tables, chunk by chunk, with its accounting.

A stage run is one ``ledger.run`` (kind ``full``); its rows in the target carry that
run id in ``load_run_id``.  Reference rows that ship with the migration (seeds) are
loaded under a run of their own, so a table's "rows loaded" count is never mixed with
seed rows.  A *resumed* stage continues under its run: every committed chunk is kept,
the rest is read again.  Which stages load or resume is the plan's to say
(:mod:`migration.plan`), not this module's.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import AddConstraint

from migration import interrupt
from migration.db.source import SourceReader
from migration.errors import Interrupted, SafeStatsError, StageError, TargetFull, out_of_resources
from migration.ledger import Ledger, TableCount, history, images
from migration.mapping.lookups import load_lookups, load_table_lookups, ref_lookup_keys
from migration.mapping.spec import SeedSpec, StageSpec
from migration.refdata import refdata_path
from migration.schema import models
from migration.schema.sql import conflict_columns, qident
from migration.secrets import redact_url, scrub
from migration.steps.context import RunContext
from migration.steps.delta import record_watermarks
from migration.steps.load import LoadContext, TableLoad


@dataclass
class StageResult:
    stage: str
    run_id: int | None
    action: str                      # loaded | resumed | skipped | reconciled
    seconds: float = 0.0
    counts: list[TableCount] = field(default_factory=list)
    seed_rows: int = 0
    message: str = ""


class StageLoader:
    """The load step: loads one stage (or resumes its run) as the plan says; decides nothing.

    Whether a stage is loaded, resumed, skipped or refused is the plan's to say
    (:func:`migration.plan.builder.build_plan`); the executor (:mod:`migration.plan.execute`)
    calls :meth:`load` for the stages the plan loads and runs the reconciliation gate after it.
    """

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def load(self, ledger: Ledger, spec: StageSpec, resume_run: int | None = None) -> StageResult:
        """Load ``spec`` under a new run, or continue run ``resume_run`` from its last committed chunk."""
        started = time.monotonic()
        resumed = resume_run is not None
        before_runs: list[int] = []
        try:
            run_id, seed_rows = self._start(ledger, spec, resume_run, before_runs)
        except BaseException as exc:
            if out_of_resources(exc) and not isinstance(exc, SafeStatsError):
                raise self._target_full(spec, resume_run, exc) from None
            raise
        if not resumed:
            self.ctx.console.info(f"{spec.stage}: run {run_id} started (full load)", run_id=run_id)
        try:
            counts = []
            for tm in spec.tables:
                counts.append(self._load_table(ledger, spec, tm, run_id))
            seed_rows += self._seeds(ledger, spec, run_id, "after_tables")
            t0 = time.perf_counter()
            self._finish_indexes(spec)
            self.ctx.timings.setdefault((spec.stage, "*"), {})["indexes and keys"] = time.perf_counter() - t0
            unbalanced = [c for c in counts if not c.balanced]
            with self.ctx.target.begin() as conn:
                for c in counts:
                    ledger.record_counts(conn, c)
                if unbalanced:
                    c = unbalanced[0]
                    raise StageError(
                        f"accounting of {spec.stage}/{c.source_table} does not balance: read {c.rows_read} ≠ "
                        f"loaded {c.rows_loaded} + unchanged {c.rows_unchanged} + merged {c.rows_merged} + "
                        f"quarantined {c.rows_quarantined} + filtered {c.rows_filtered}",
                        hint="rows were lost or doubled: do not go on; see runbooks/accounting.md")
                ledger.event(conn, run_id=run_id, stage=spec.stage, kind="stage_loaded",
                             detail={"counts": [c.__dict__ for c in counts], "seed_rows": seed_rows,
                                     "seconds": round(time.monotonic() - started, 3)})
        except BaseException as exc:
            if isinstance(exc, (Interrupted, KeyboardInterrupt)):
                raise self._interrupted(ledger, spec, run_id, exc) from exc
            if out_of_resources(exc) and not isinstance(exc, SafeStatsError):
                exc = self._target_full(spec, run_id, exc)
                self._failed(ledger, spec, run_id, exc)
                raise exc from None
            self._failed(ledger, spec, run_id, exc)
            raise
        result = StageResult(spec.stage, run_id, "resumed" if resumed else "loaded",
                             seconds=time.monotonic() - started, counts=counts, seed_rows=seed_rows)
        return result

    def _start(self, ledger: Ledger, spec: StageSpec, resume_run: int | None,
               before_runs: list[int]) -> tuple[int, int]:
        """The stage's seed rows (a fresh load only) and its run: a new one, or ``resume_run`` resumed."""
        seed_rows = 0
        if resume_run is None:
            # reference rows the tables build on are written first, each under a run of its own
            # (so a table's "rows loaded" never counts seed rows); the stage run lists them, and
            # rollback undoes the whole group, newest write first
            seed_rows += self._seeds(ledger, spec, None, "before_tables", before_runs)
        with self.ctx.target.begin() as conn:
            if resume_run is not None:
                run_id = resume_run
                ledger.event(conn, run_id=run_id, stage=spec.stage, kind="stage_resumed")
                self.ctx.console.info(f"{spec.stage}: resuming run {run_id} from its last committed chunk",
                                      run_id=run_id)
            else:
                run_id = ledger.new_run(conn, kind="full", mapping_hash=self.ctx.mapping_hash,
                                        refdata_version=self.ctx.refdata_version,
                                        source_url=redact_url(self.ctx.settings.source_url),
                                        options={"stage": spec.stage})
                ledger.event(conn, run_id=run_id, stage=spec.stage, kind="stage_started",
                             detail={"tables": [t.source.table for t in spec.tables], "file": spec.file,
                                     "seed_runs": before_runs})
                # low watermarks BEFORE the extract: what changes while it runs is the first delta's
                record_watermarks(conn, self.ctx.reader(), spec, run_id)
        return run_id, seed_rows

    def _target_full(self, spec: StageSpec, run_id: int | None, exc: BaseException) -> TargetFull:
        """A driver error of SQLSTATE class 53 as the one-line stop users read (exit 3)."""
        what = " ".join(scrub(str(getattr(exc, "orig", exc))).split())
        run = f" run {run_id}" if run_id is not None else ""
        return TargetFull(f"stage {spec.stage}{run} stopped: the target ran out of room: {what}",
                          hint=TargetFull.hint_then(f"run the same command again: `run {spec.stage}` resumes "
                                                    "from the last committed chunk"))

    def _failed(self, ledger: Ledger, spec: StageSpec, run_id: int, exc: BaseException) -> None:
        try:
            with self.ctx.target.begin() as conn:
                ledger.event(conn, run_id=run_id, stage=spec.stage, kind="stage_failed",
                             detail={"error": str(getattr(exc, "what", exc))[:2000]})
        except Exception:  # the target itself may be gone (or full); the next run resumes anyway
            pass

    def _interrupted(self, ledger: Ledger, spec: StageSpec, run_id: int, exc: BaseException) -> Interrupted:
        """Ctrl-C/SIGTERM: record the run as interrupted and say what it committed and how to resume."""
        signame = interrupt.signal_name(exc)
        done: dict[str, Any] = {"chunks": "?", "rows": "?"}
        try:
            with self.ctx.target.begin() as conn:
                done = ledger.committed(conn, run_id=run_id, stage=spec.stage)
                ledger.event(conn, run_id=run_id, stage=spec.stage, kind="stage_interrupted",
                             detail={"signal": signame, **done})
        except Exception:  # the target may be gone too; the next run resumes from its checkpoints anyway
            pass
        rows = f"{done['rows']:,}" if isinstance(done["rows"], int) else done["rows"]
        what = (f"stage {spec.stage} run {run_id} stopped at a chunk boundary with {done['chunks']} chunk(s), "
                f"{rows} legacy row(s) committed")
        if signame == interrupt.STOP_AT:
            return Interrupted(interrupt.stopped_message(what) + f"; `safestats-migrate run {spec.stage}` resumes",
                               hint="it resumes from the last committed chunk (add --stop-at for the next window)")
        return Interrupted(f"interrupted ({signame}): {what}",
                           hint=f"`safestats-migrate run {spec.stage}` resumes from the last committed chunk")

    # ---------------------------------------------------------------- pieces
    def _fresh(self, conn: Connection, spec: StageSpec, table: str, run_id: int) -> bool:
        t = models.table(table)
        cond = "load_run_id <> :r"
        if "dataset" in t.c and spec.dataset:
            cond += " AND dataset = :d"
        return conn.execute(text(f"SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE {cond})"),
                            dict(r=run_id, d=spec.dataset)).scalar_one()

    def _load_table(self, ledger: Ledger, spec: StageSpec, tm: Any, run_id: int) -> TableCount:
        reader = self.ctx.reader()
        with self.ctx.target.connect() as conn:
            lookups = load_lookups(conn, ref_lookup_keys(self.ctx.specs))
            tables, frames = load_table_lookups(conn, tm)
            fresh = all(self._fresh(conn, spec, t, run_id) for t in tm.targets)
            # rows already in the tables (other datasets' included): rebuilding their indexes
            # costs more than maintaining them while a smaller load goes in
            held = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tm.targets} \
                if fresh else {}
        total = reader.count(tm.source.table)
        t0 = time.perf_counter()
        if fresh:
            self._drop_secondary_indexes(spec, [t for t in tm.targets if held[t] <= total])
            for t in tm.targets:
                if held[t] > total:
                    self.ctx.console.info(f"{spec.stage}: {t}: indexes kept during the load ({held[t]:,} rows "
                                      f"already there, {total:,} to read from {tm.source.table})")
        self.ctx.timings.setdefault((spec.stage, "*"), {})["drop indexes"] = time.perf_counter() - t0
        upto = None
        if tm.source.key is not None and tm.source.key_type == "int" and tm.duplicates is not None:
            upto = self._snapshot_bound(ledger, spec, tm, run_id, reader)
        lc = LoadContext(source=reader, target=self.ctx.target, ledger=ledger, console=self.ctx.console,
                         chunk_rows=self.ctx.settings.chunk_rows, fault=self.ctx.fault,
                         guard=self.ctx.lock_guard)
        load = TableLoad(lc, spec, tm, run_id, lookups, tables, frames)
        with self.ctx.console.progress(f"{spec.stage}: {tm.source.table}", total) as bar:
            load.run(fresh=fresh, upto=upto, progress=bar)
        self.ctx.timings[(spec.stage, tm.source.table)] = dict(load.timings)
        t0 = time.perf_counter()
        with self.ctx.target.connect() as conn:
            counted = load.count(conn, spec.dataset)
        self.ctx.timings[(spec.stage, tm.source.table)]["count"] = time.perf_counter() - t0
        return counted

    def _snapshot_bound(self, ledger: Ledger, spec: StageSpec, tm: Any, run_id: int, reader: SourceReader) -> Any:
        """The highest key when the run began (kept in the ledger so a resume uses the same bound)."""
        with self.ctx.target.begin() as conn:
            row = history.watermark(conn, run_id=run_id, stage=spec.stage, source_table=tm.source.table, kind="key")
            if row:
                return int(row[0]) if row[0] is not None else None
            upto = reader.max_key(tm.source.table, tm.source.key)
            history.record_watermark(conn, run_id=run_id, stage=spec.stage, source_table=tm.source.table, kind="key",
                                     value=None if upto is None else str(upto))
            return upto

    def _seeds(self, ledger: Ledger, spec: StageSpec, stage_run: int | None, when: str,
               runs: list[int] | None = None) -> int:
        total = 0
        for seed in (s for s in spec.seeds if s.load == when):
            total += self._seed(ledger, spec, seed, stage_run, runs)
        return total

    def _seed(self, ledger: Ledger, spec: StageSpec, seed: SeedSpec, stage_run: int | None,
              runs: list[int] | None = None) -> int:
        """Upsert a refdata CSV under its own run: unchanged rows are left alone, changed rows of
        other runs are imaged first (so rollback restores them)."""
        path = refdata_path(seed.file)
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        table = models.table(seed.target)
        cols = list(seed.columns)
        with self.ctx.target.begin() as conn:
            if stage_run is not None and history.seed_loaded(conn, stage=spec.stage, file=seed.file,
                                                             stage_run=stage_run):
                return 0  # a resumed stage: this seed was loaded before the interruption
            seed_run = ledger.new_run(conn, kind="full", mapping_hash=self.ctx.mapping_hash,
                                      refdata_version=self.ctx.refdata_version, source_url=None,
                                      options={"stage": spec.stage, "seed": seed.file})
            if runs is not None:
                runs.append(seed_run)
            conflict = conflict_columns(table)
            upd = [c for c in cols if c not in conflict]
            conn.execute(text(f"CREATE TEMP TABLE _seed ON COMMIT DROP AS SELECT {', '.join(qident(c) for c in cols)} "
                              f"FROM {seed.target} WITH NO DATA"))
            values = [{c: (r[seed.columns[c]] if r[seed.columns[c]] != "" else None) for c in cols} for r in rows]
            conn.execute(text(f"INSERT INTO _seed ({', '.join(qident(c) for c in cols)}) VALUES ("
                              + ", ".join(f":{c}" for c in cols) + ")"), values)
            match = " AND ".join(f"o.{qident(k)} = s.{qident(k)}" for k in conflict)
            differs = (f"({', '.join('o.' + qident(c) for c in upd)}) IS DISTINCT FROM "
                       f"({', '.join('s.' + qident(c) for c in upd)})") if upd else "false"
            images.capture(conn, run_id=seed_run, stage=spec.stage, table_name=seed.target, op="U", row="o",
                           rows=f"FROM _seed s JOIN {seed.target} o ON {match} WHERE {differs}")
            sets = ", ".join(f"{qident(c)} = EXCLUDED.{qident(c)}" for c in upd + ["load_run_id"])
            where = (f" WHERE ({', '.join(f't.{qident(c)}' for c in upd)}) IS DISTINCT FROM "
                     f"({', '.join(f'EXCLUDED.{qident(c)}' for c in upd)})") if upd else ""
            written = conn.execute(text(
                f"INSERT INTO {seed.target} AS t ({', '.join(qident(c) for c in cols)}, load_run_id) "
                f"SELECT {', '.join(qident(c) for c in cols)}, :run FROM _seed "
                f"ON CONFLICT ({', '.join(qident(c) for c in conflict)}) DO UPDATE SET {sets}{where}"),
                dict(run=seed_run)).rowcount
            ledger.event(conn, run_id=seed_run, stage=spec.stage, kind="seed_loaded",
                         detail={"file": seed.file, "target": seed.target, "rows": len(values), "written": written,
                                 "seed_run": seed_run, "stage_run": stage_run, "load": seed.load})
        return len(values)

    def _drop_secondary_indexes(self, spec: StageSpec, tables: list[str]) -> None:
        """Before a fresh bulk load: drop the indexes, keys and foreign keys of the loaded tables
        (only when the load is at least as big as what the tables already hold: the later
        incident stages go into a ``core.incident`` holding the police rows, and rebuilding
        those indexes would cost more than maintaining them).

        Per-row index maintenance and foreign-key triggers cost more than everything else
        in a load; building an index once from sorted data at the end is several times
        cheaper (what pg_restore does).  Everything comes back in :meth:`_finish_indexes`,
        keys and references re-validated set-based, so a duplicate or a broken reference
        still fails the stage.  The dropped names are recorded in the ledger, and every
        stage run ends by re-creating whatever the model has and the database lacks, so a
        killed load is repaired by its resume."""
        with self.ctx.target.begin() as conn:
            for tname in tables:
                t = models.table(tname)
                for fk in t.foreign_key_constraints:
                    conn.execute(text(f"ALTER TABLE {tname} DROP CONSTRAINT IF EXISTS {qident(str(fk.name))}"))
                for idx in t.indexes:
                    conn.execute(text(f"DROP INDEX IF EXISTS {t.schema}.{qident(str(idx.name))}"))
                for cons in t.constraints:
                    kind = cons.__class__.__name__
                    if kind in ("PrimaryKeyConstraint", "UniqueConstraint") and cons.name:
                        # CASCADE: foreign keys of other tables pointing here go too; they are re-added
                        conn.execute(text(f"ALTER TABLE {tname} DROP CONSTRAINT IF EXISTS "
                                          f"{qident(str(cons.name))} CASCADE"))

    def _finish_indexes(self, spec: StageSpec) -> None:
        """Re-create every key, index and foreign key the model has and the database lacks
        (for the stage's tables and every table referring to them), then ANALYZE."""
        tables = {t for tm in spec.tables for t in tm.targets} | {s.target for s in spec.seeds}
        with self.ctx.target.begin() as conn:
            def existing(tname: str) -> set[str]:
                return {r[0] for r in conn.execute(text(
                    "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)"), dict(t=tname))}

            def add(tname: str, cons: Any) -> None:
                try:
                    with conn.begin_nested():
                        conn.execute(AddConstraint(cons, isolate_from_table=False))
                except Exception as exc:
                    raise StageError(
                        f"stage {spec.stage}: {tname} breaks its constraint {cons.name}: "
                        f"{getattr(exc, 'orig', exc)}".strip().splitlines()[0],
                        hint="a mapping produced duplicate keys or a reference to a missing row; roll the stage "
                             "back and fix the mapping (see runbooks/run.md)") from exc

            for tname in sorted(tables):
                t = models.table(tname)
                have = existing(tname)
                for cons in t.constraints:
                    if cons.__class__.__name__ in ("PrimaryKeyConstraint", "UniqueConstraint") \
                            and cons.name and cons.name not in have:
                        add(tname, cons)
                for idx in t.indexes:
                    idx.create(conn, checkfirst=True)
                    if self.ctx.fault:  # kill matrix: index/key rebuild (n-th index, its transaction open)
                        self.ctx.fault("index_rebuild", 0, spec.stage)
            for t in models.metadata.sorted_tables:
                refs = {fk.referred_table.fullname for fk in t.foreign_key_constraints}
                if t.fullname in tables or refs & tables:
                    have = existing(t.fullname)
                    for fk in t.foreign_key_constraints:
                        if fk.name not in have:
                            add(t.fullname, fk)
        with self.ctx.target.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            for tname in sorted(tables):
                conn.execute(text(f"ANALYZE {tname}"))
                if self.ctx.fault:  # kill matrix: ANALYZE (after the n-th table's)
                    self.ctx.fault("analyze", 0, spec.stage)


__all__ = ["StageLoader", "StageResult"]
