"""Delta loads for the parallel run: bring a loaded stage up to date with the moving legacy.

A delta run is a run of its own (``ledger.run`` kind ``delta``), undone by rollback like
any other.  Per legacy table:

1. **Key snapshot.**  The legacy's current keys (with each row's duplicate group and winner
   values) are copied into PostgreSQL (``staging.…__keys_r<delta run>``) and compared there
   with the snapshot the previous run left, by anti-join: keys gone = hard deletes, keys new
   = inserts.  No key set is ever held in Python.
2. **Changed rows.**  By the table's strategy (``source.delta``): ``watermark`` — rows whose
   watermark is at or after the previous run's high watermark *minus an overlap window*
   (London local time runs backwards in the autumn hour; several rows may share the last
   value; a NULL watermark that gets a value later is then caught); ``batch`` — rows of
   import batches whose status changed (a re-submitted ISTV month marks the older batch
   RELOADED); ``append_only`` — none; ``reference`` — every row (small tables).  Rows of
   batches whose status changed are re-read for every table that looks batch status up.
3. **Affected groups.**  Every business-key group touched by a delete, an insert, a change,
   or a change of winner (the duplicate rule re-runs over the new snapshot) is re-evaluated
   whole: its rows are read again by key and go through the same engine as the full load;
   the winner is upserted (before-images kept), a group left without a loadable winner has
   its target rows deleted (before-images kept, so rollback restores them with their keys).
4. **Watermarks** are recorded *before* reading, so whatever changes while the delta runs
   is re-read by the next one (every delta is idempotent).

A delta refuses to run when the mapping files changed since the stage's full load, unless
told to accept it: two rule sets must not mix silently.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.engine import Connection

from migration import interrupt
from migration import version as _version
from migration.db.source import SourceReader, fetch_by_keys
from migration.errors import Interrupted, StageError
from migration.ledger import Ledger, TableCount, history, images, records
from migration.ledger.history import run_groups, watermarks
from migration.mapping.lookups import load_lookups, load_table_lookups, ref_lookup_keys
from migration.mapping.spec import StageSpec, TableMappingSpec
from migration.schema import models
from migration.schema.sql import pg_type, qident
from migration.secrets import redact_url
from migration.steps.context import RunContext
from migration.steps.load import LoadContext, TableLoad, keys_table, losers_table


@dataclass
class DeltaPlan:
    """What a delta would do for one table (``run --delta --dry-run``)."""

    stage: str
    source_table: str
    strategy: str
    watermark_from: str | None
    watermark_to: str | None
    new_keys: int
    gone_keys: int
    changed_rows: int
    groups: int
    target_rows: int
    legacy_rows: int
    extra: dict[str, Any] = field(default_factory=dict)


def batch_lookup(tm: TableMappingSpec) -> tuple[str, str] | None:
    """(lookup name, legacy batch column) when the mapping reads ref.import_batch."""
    for name, lk in tm.lookups.items():
        if lk.table == "ref.import_batch":
            return name, next(iter(lk.match.values()))
    return None


def record_watermarks(conn: Connection, reader: SourceReader, spec: StageSpec, run_id: int) -> None:
    """Low/high watermarks of every table of the stage, read BEFORE the extract begins."""
    for tm in spec.tables:
        marks: dict[str, Any] = {}
        d = tm.source.delta
        if d is not None and d.watermark_column:
            marks["timestamp"] = reader.max_value(tm.source.table, d.watermark_column)
        if tm.source.key is not None and tm.source.key_type == "int":
            marks["key"] = reader.max_key(tm.source.table, tm.source.key)
        if batch_lookup(tm) is not None:
            rows = conn.execute(text("SELECT batch_id, status FROM ref.import_batch")).all()
            marks["batch_status"] = json.dumps({str(b): s for b, s in rows}, sort_keys=True)
        for kind, value in marks.items():
            history.record_watermark(conn, run_id=run_id, stage=spec.stage, source_table=tm.source.table, kind=kind,
                                     value=None if value is None else str(value), if_absent=True)



class TableDelta:
    def __init__(self, lc: LoadContext, stage: StageSpec, tm: TableMappingSpec, run_id: int, base_run: int,
                 load: TableLoad) -> None:
        self.lc, self.stage, self.tm, self.run_id, self.base_run, self.load = lc, stage, tm, run_id, base_run, load
        self.table = tm.source.table
        self.prev_keys = keys_table(stage.stage, self.table, base_run)
        self.prev_losers = losers_table(stage.stage, self.table, base_run)
        self.new_keys = keys_table(stage.stage, self.table, run_id)
        self.new_losers = losers_table(stage.stage, self.table, run_id)
        d = tm.source.delta
        self.strategy: str = d.strategy if d is not None else ("reference" if tm.source.key is None else "append_only")
        if tm.source.key is None:
            self.strategy = "reference"  # keyless: positions are not identities; re-read it whole

    # ------------------------------------------------------------------ change detection
    def _changed_keys(self, conn: Connection) -> tuple[list[str], dict[str, Any]]:
        reader = self.lc.source
        base = watermarks(conn, self.base_run, self.stage.stage, self.table)
        info: dict[str, Any] = {}
        keys: set[str] = set()
        d = self.tm.source.delta
        if self.strategy == "watermark" and d is not None and d.watermark_column:
            since = _minus_minutes(base.get("timestamp"), d.overlap_minutes)
            info["watermark_from"] = since
            keys |= set(reader.keys_where(self.table, self.tm.source.key or "", d.watermark_column, since))
        bl = batch_lookup(self.tm)
        if bl is not None and base.get("batch_status"):
            before = json.loads(base["batch_status"] or "{}")
            now = {str(b): s for b, s in conn.execute(text("SELECT batch_id, status FROM ref.import_batch"))}
            changed = sorted({b for b in set(before) | set(now) if before.get(b) != now.get(b)})
            info["batches_changed"] = changed
            if changed:
                keys |= set(reader.keys_in(self.table, self.tm.source.key or "", bl[1], changed))
        return sorted(keys), info

    def plan_sql(self) -> str:
        """The affected groups: touched by deletes, inserts, changes or a change of winner."""
        if self.strategy == "redrive":  # exactly the quarantined rows' groups, nothing else
            return ("CREATE TEMP TABLE _affected ON COMMIT DROP AS SELECT DISTINCT n._part FROM "
                    f"{self.new_keys} n JOIN _changed c ON c._src_key = n._src_key WHERE n._part IS NOT NULL")
        parts = [
            f"SELECT p._part FROM {self.prev_keys} p WHERE NOT EXISTS (SELECT 1 FROM {self.new_keys} n "
            f"WHERE n._src_key = p._src_key)",
            f"SELECT n._part FROM {self.new_keys} n WHERE NOT EXISTS (SELECT 1 FROM {self.prev_keys} p "
            f"WHERE p._src_key = n._src_key)",
            f"SELECT n._part FROM {self.new_keys} n JOIN _changed c ON c._src_key = n._src_key",
            f"SELECT p._part FROM {self.prev_keys} p JOIN _changed c ON c._src_key = p._src_key",
            f"SELECT n._part FROM {self.new_keys} n JOIN {self.prev_keys} p ON p._src_key = n._src_key "
            f"WHERE p._part IS DISTINCT FROM n._part",
            # winners that changed: a key that is a loser in exactly one of the two snapshots
            f"SELECT n._part FROM {self.new_keys} n WHERE (n._src_key IN (SELECT _src_key FROM {self.new_losers})) "
            f"<> (n._src_key IN (SELECT _src_key FROM {self.prev_losers}))",
        ]
        if self.strategy == "reference":
            parts += [f"SELECT _part FROM {self.new_keys}", f"SELECT _part FROM {self.prev_keys}"]
        return ("CREATE TEMP TABLE _affected ON COMMIT DROP AS SELECT DISTINCT _part FROM ("
                + " UNION ALL ".join(parts) + ") a WHERE _part IS NOT NULL")

    # ------------------------------------------------------------------ run
    def run(self, *, dry_run: bool = False, force_keys: list[str] | None = None
            ) -> tuple[TableCount | None, DeltaPlan]:
        """Bring the table up to date (or, with ``dry_run``, only say what that would do).

        ``force_keys`` (redrive): re-evaluate exactly these legacy keys' groups as well."""
        lc = self.lc
        with lc.target.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass(:t)"), dict(t=self.prev_keys)).scalar_one()
            if exists is None:
                raise StageError(f"no key snapshot of {self.table} from run {self.base_run}",
                                 hint=f"roll the stage back and load it again: `safestats-migrate rollback "
                                      f"{self.stage.stage}`, then `run {self.stage.stage}`")
            changed, info = self._changed_keys(conn)
        if self.strategy == "redrive":
            changed = sorted(set(force_keys or []))
            with lc.target.begin() as conn:  # the legacy is not re-read: the snapshot carries over
                for new, old in ((self.new_keys, self.prev_keys), (self.new_losers, self.prev_losers)):
                    conn.execute(text(f"DROP TABLE IF EXISTS {new}"))
                    conn.execute(text(f"CREATE TABLE {new} AS TABLE {old}"))
                conn.execute(text(f"CREATE INDEX ON {self.new_keys} (_src_key)"))
                conn.execute(text(f"CREATE INDEX ON {self.new_keys} (_part)"))
        else:
            if force_keys:
                changed = sorted(set(changed) | set(force_keys))
            self.load.snapshot_keys(None, into=self.new_keys, record=not dry_run)
        with lc.target.connect() as conn:
            trans = conn.begin()
            conn.execute(text("CREATE TEMP TABLE _changed (_src_key text COLLATE \"C\") ON COMMIT DROP"))
            if changed:
                conn.execute(text("INSERT INTO _changed VALUES (:k)"), [{"k": k} for k in changed])
            conn.execute(text(self.plan_sql()))
            counts = conn.execute(text(
                f"SELECT (SELECT count(*) FROM {self.new_keys} n WHERE NOT EXISTS (SELECT 1 FROM {self.prev_keys} p "
                f"WHERE p._src_key = n._src_key)), (SELECT count(*) FROM {self.prev_keys} p WHERE NOT EXISTS "
                f"(SELECT 1 FROM {self.new_keys} n WHERE n._src_key = p._src_key)), (SELECT count(*) FROM _affected), "
                f"(SELECT count(*) FROM {self.new_keys})")).one()
            affected_parts = [r[0] for r in conn.execute(text("SELECT _part FROM _affected"))]
            affected_keys = [r[0] for r in conn.execute(text(
                f"SELECT n._src_key FROM {self.new_keys} n JOIN _affected a ON a._part = n._part "
                f"UNION SELECT n._src_key FROM {self.new_keys} n JOIN _changed c ON c._src_key = n._src_key "
                f"WHERE n._part IS NULL"))]
            trans.rollback() if dry_run else trans.commit()
        if lc.fault and not dry_run:  # kill matrix: the anti-join's affected groups are known, none applied
            lc.fault("delta_plan", 0, self.table)
        plan = DeltaPlan(stage=self.stage.stage, source_table=self.table, strategy=self.strategy,
                         watermark_from=info.get("watermark_from"), watermark_to=None, new_keys=int(counts[0]),
                         gone_keys=int(counts[1]), changed_rows=len(changed), groups=int(counts[2]),
                         target_rows=len(affected_keys), legacy_rows=int(counts[3]), extra=info)
        if dry_run:
            with lc.target.begin() as conn:
                for t in (self.new_keys, self.new_losers):
                    conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
            return None, plan
        self._apply(affected_parts, affected_keys)
        with lc.target.connect() as conn:
            count = self.load.count(conn, self.stage.dataset)
        return count, plan

    def _apply(self, parts: list[str], keys: list[str]) -> None:
        """Re-evaluate the affected groups' rows and write them; then remove what no longer derives."""
        lc, load = self.lc, self.load
        losers = load.losers()
        extracted = load.extracted
        primary = load.apply.targets[0]
        produced: list[pl.DataFrame] = []
        loaded_keys: list[str] = []
        chunk_no = 0
        if self.tm.source.key is None:
            chunks: Any = lc.source.stream(self.table, extracted, key=None, chunk_rows=10**9)
        elif not keys:
            chunks = []
        else:
            chunks = fetch_by_keys(lc.source, self.table, extracted, key=self.tm.source.key,
                                   key_type=self.tm.source.key_type, keys=keys, batch=lc.chunk_rows)
        row_no = 1
        with interrupt.deferred():  # Ctrl-C/SIGTERM: the chunk in flight commits whole, then the delta stops
            for chunk in chunks:
                if interrupt.requested():
                    raise Interrupted(f"{interrupt.requested()}: the delta of {self.stage.stage}/{self.table} "
                                      f"stopped at a chunk boundary")
                chunk_no += 1
                df = load._frame(chunk, row_no)
                row_no += chunk.size
                out = load.mark_merged(load.evaluator.evaluate(df), losers)
                loaded = out.filter(pl.col("_disp") == "load")
                loaded_keys += loaded.get_column("_src_key").to_list()
                produced.append(loaded.select([pl.col(primary.chunk_column[c].removeprefix("c.")).cast(pl.String)
                                               .alias(c) for c in primary.conflict]))
                reevaluated = out.get_column("_src_key").to_list()
                if lc.fault:  # kill matrix: the re-derivation of a chunk, before its write
                    lc.fault("delta_apply", chunk_no, self.table)

                def redriven(conn: Connection, keys: list[str] = reevaluated) -> None:
                    # in the chunk's own transaction: a record is closed only with its row's new outcome
                    records.mark_redriven(conn, run_id=self.run_id, stage=self.stage.stage,
                                          source_table=self.table, keys=keys)

                load._write_chunk(load._payload(out, False), chunk_no=chunk_no, last_key=chunk.last_key,
                                  rows=chunk.size, fresh=False, also=redriven)
                self._replace_exploded(out)
        if interrupt.requested():
            raise Interrupted(f"{interrupt.requested()}: the delta of {self.stage.stage}/{self.table} stopped "
                              "at a chunk boundary")
        if lc.fault:  # kill matrix: every affected group written, the vanished ones not yet deleted
            lc.fault("delta_delete", 0, self.table)
        if self.strategy == "reference":
            self._delete_unproduced(pl.concat(produced) if produced else None)
            return
        with lc.target.connect() as conn:
            loaded_parts = {r[0] for r in conn.execute(text(
                f"SELECT DISTINCT _part FROM {self.new_keys} WHERE _src_key = ANY(:k)"), dict(k=loaded_keys))}
        gone = sorted(set(parts) - loaded_parts)
        if gone:
            self._delete_groups(gone)

    def _stage_runs(self, conn: Connection) -> list[int]:
        """This stage's table runs (full, delta, redrive — not seed runs) that are not undone."""
        return history.table_runs(conn, self.stage.stage) + [self.run_id]

    def _delete_unproduced(self, produced: pl.DataFrame | None) -> None:
        """A reference table was re-evaluated whole: rows this stage wrote that no legacy row
        produces any more are deleted (imaged first; children first)."""
        primary = self.load.apply.targets[0]
        table = models.table(primary.table)
        cols = primary.conflict
        with self.lc.target.begin() as conn:
            runs = self._stage_runs(conn)
            conn.execute(text("CREATE TEMP TABLE _produced (" + ", ".join(f"{qident(c)} text" for c in cols)
                              + ") ON COMMIT DROP"))
            if produced is not None and produced.height:
                conn.execute(text(f"INSERT INTO _produced VALUES ({', '.join(':' + c for c in cols)})"),
                             produced.unique().to_dicts())
            match = " AND ".join(f"p.{qident(c)} = t.{qident(c)}::text" for c in cols)
            where = (f"t.load_run_id = ANY(:runs) AND NOT EXISTS (SELECT 1 FROM _produced p WHERE {match})"
                     + (" AND t.dataset = :dataset" if "dataset" in table.c and self.stage.dataset else ""))
            params = dict(r=self.run_id, s=self.stage.stage, runs=runs, dataset=self.stage.dataset)
            self._delete_where(conn, primary.table, where, params)

    def _delete_where(self, conn: Connection, table_name: str, where: str, params: dict[str, Any]) -> int:
        """Delete rows of a target (``t``) and of the stage's tables hanging off it, imaging every row."""
        table = models.table(table_name)
        pk = [c.name for c in table.primary_key.columns]
        rows = f"SELECT {', '.join('t.' + qident(c) for c in pk)} FROM {table_name} t WHERE {where}"
        mine = {tp.table for tp in self.load.apply.targets}
        for child in models.metadata.sorted_tables:
            fks = [fk for fk in child.foreign_key_constraints if fk.referred_table.fullname == table_name]
            if not fks or child.fullname not in mine:
                continue
            col = fks[0].column_keys[0]
            images.capture(conn, run_id=self.run_id, stage=self.stage.stage, table_name=child.fullname, op="D", row="c",
                           rows=f"FROM {child.fullname} c WHERE c.{qident(col)} IN ({rows})", params=params)
            conn.execute(text(f"DELETE FROM {child.fullname} c WHERE c.{qident(col)} IN ({rows})"), params)
        images.capture(conn, run_id=self.run_id, stage=self.stage.stage, table_name=table_name, op="D", row="t",
                       rows=f"FROM {table_name} t WHERE {where}", params=params)
        n = int(conn.execute(text(f"DELETE FROM {table_name} t WHERE {where}"), params).rowcount)
        self.lc.ledger.event(conn, run_id=self.run_id, stage=self.stage.stage, kind="delta_deleted",
                             detail={"source_table": self.table, "target": table_name, "rows": n})
        return n

    def _replace_exploded(self, out: pl.DataFrame) -> None:
        """Rows of exploding targets (one legacy row → many) that the new evaluation no longer
        produces are deleted (imaged first): a permission removed in legacy is revoked."""
        for tp in self.load.apply.targets:
            if not tp.explode:
                continue
            owners = [c for c in tp.conflict if not tp.chunk_column[c].startswith("e_")]
            produced = [c for c in tp.conflict if tp.chunk_column[c].startswith("e_")]
            if not owners or not produced:
                continue
            f = out.filter(pl.col("_disp") == "load")
            for w in tp.where:
                f = f.filter(pl.col(w.removeprefix("c.")))
            rows = f.select([pl.col(tp.chunk_column[c].removeprefix("c.")).alias(c) for c in owners]
                            + [pl.col(f"_x{tp.index}_{tp.chunk_column[c][2:].split('.')[0]}").alias(c)
                               for c in produced])
            for name in {tp.chunk_column[c][2:].split(".")[0] for c in produced}:
                col = next(c for c in produced if tp.chunk_column[c][2:].split(".")[0] == name)
                rows = rows.filter(pl.col(col).list.len() > 0).explode(col)
            all_owners = out.select([pl.col(tp.chunk_column[c].removeprefix("c.")).alias(c) for c in owners]).unique()
            table = models.table(tp.table)
            with self.lc.target.begin() as conn:
                conn.execute(text("CREATE TEMP TABLE _own (" + ", ".join(
                    f"{qident(c)} {_pg(table, c)}" for c in owners) + ") ON COMMIT DROP"))
                conn.execute(text("CREATE TEMP TABLE _keep (" + ", ".join(
                    f"{qident(c)} {_pg(table, c)}" for c in owners + produced) + ") ON COMMIT DROP"))
                if all_owners.height:
                    conn.execute(text(f"INSERT INTO _own VALUES ({', '.join(':' + c for c in owners)})"),
                                 all_owners.to_dicts())
                if rows.height:
                    conn.execute(text(f"INSERT INTO _keep VALUES ({', '.join(':' + c for c in owners + produced)})"),
                                 rows.to_dicts())
                own = " AND ".join(f"o.{qident(c)} = t.{qident(c)}" for c in owners)
                keep = " AND ".join(f"k.{qident(c)} IS NOT DISTINCT FROM t.{qident(c)}" for c in owners + produced)
                stale = (f"FROM {tp.table} t WHERE EXISTS (SELECT 1 FROM _own o WHERE {own}) "
                         f"AND NOT EXISTS (SELECT 1 FROM _keep k WHERE {keep})")
                images.capture(conn, run_id=self.run_id, stage=self.stage.stage, table_name=tp.table, op="D",
                               row="t", rows=stale)
                conn.execute(text(f"DELETE {stale.replace('FROM ', 'FROM ', 1)}"))

    def _delete_groups(self, parts: list[str]) -> None:
        """Target rows of groups that no longer have a loadable winner go (imaged; children too).

        The group is the business key, and the primary target is keyed on it (plus the
        stage's dataset) — true of every incremental table; checked, never assumed."""
        primary = self.load.apply.targets[0]
        table = models.table(primary.table)
        key_cols = [c for c in primary.conflict if c != "dataset"]
        dup = self.tm.duplicates
        if (dup is not None and dup.partition) or len(key_cols) != len(self.tm.business_key.columns):
            raise StageError(f"{self.stage.stage}/{self.table}: an incremental delta needs the duplicate groups "
                             f"and {primary.table}'s key to be the business key",
                             hint="give the table `delta: {strategy: reference}` (re-read whole) in its mapping")
        cond = "t.dataset = :dataset AND " if "dataset" in table.c and self.stage.dataset else ""
        if len(key_cols) == 1:
            match = f"t.{qident(key_cols[0])}::text = ANY(:parts)"
        else:
            match = f"concat_ws('|', {', '.join(f't.{qident(c)}::text' for c in key_cols)}) = ANY(:parts)"
        with self.lc.target.begin() as conn:
            self._delete_where(conn, primary.table, cond + match,
                               dict(r=self.run_id, s=self.stage.stage, dataset=self.stage.dataset, parts=parts))


def _pg(table: Any, column: str) -> str:
    return pg_type(table, column)


def _minus_minutes(value: str | None, minutes: int) -> str | None:
    if value is None:
        return None
    from datetime import datetime, timedelta

    try:
        dt = datetime.fromisoformat(str(value).replace("T", " "))
    except ValueError:
        return str(value)
    return (dt - timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S.%f")


def delta_timing(started: float) -> float:
    return round(time.monotonic() - started, 3)


__all__ = ["DeltaPlan", "Ledger", "TableDelta", "record_watermarks", "watermarks"]


# --------------------------------------------------------------------------- stage level
@dataclass
class DeltaResult:
    stage: str
    run_id: int | None
    action: str                       # delta | redrive | dry-run | skipped
    counts: list[TableCount] = field(default_factory=list)
    plans: list[DeltaPlan] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""


def stage_delta(ctx: RunContext, ledger: Ledger, spec: StageSpec, *, dry_run: bool = False,
                accept_mapping_change: bool = False, redrive: bool = False) -> DeltaResult:
    """The delta step (or the quarantine redrive) of one loaded stage, on top of its newest load.

    Which stages get one is the plan's to say (:func:`migration.plan.builder.build_plan`,
    mode ``delta`` / ``redrive``); the executor holds the lock.  Refuses when the mapping
    files changed since that load, unless ``accept_mapping_change``."""
    with ctx.target.connect() as conn:
        st = ledger.stage_state(spec.stage, conn)
        groups = run_groups(conn, spec.stage)
        completed = history.completed_runs(conn, spec.stage)
    if not completed:
        raise StageError(f"stage {spec.stage} is not loaded (state {st.state}): nothing to bring up to date",
                         hint=f"run `safestats-migrate run {spec.stage}` first")
    base_run = completed[-1]
    stopped = [r for r in groups if r > base_run]
    if stopped and not dry_run:
        ctx.console.warn(f"{spec.stage}: run(s) {', '.join(map(str, stopped))} stopped before their end; this "
                         f"{'redrive' if redrive else 'delta'} builds on run {base_run}, the last that finished, "
                         "and reads again everything since")
    with ctx.target.connect() as conn:
        info = ledger.run_info(conn, base_run) or {}
    if not redrive and info.get("mapping_hash") and info["mapping_hash"] != ctx.mapping_hash \
            and not accept_mapping_change:
        raise StageError(
            f"the mapping files changed since run {base_run} loaded {spec.stage}",
            hint="two rule sets must not mix silently: roll the stage back and load it again, or "
                 "pass --accept-mapping-change to bring it up to date under the new rules")
    with ctx.target.connect() as conn:
        full = [r for r in ledger.runs_of_stage(conn, spec.stage) if r <= base_run]
    if full:
        check_tool_version(ctx, ledger, spec.stage, full[-1],
                           command="run --redrive-quarantine" if redrive else "run --delta")
    return _stage_delta(ctx, ledger, spec, base_run, dry_run=dry_run, redrive=redrive)


def check_tool_version(ctx: RunContext, ledger: Ledger, stage: str, load_run: int, *, command: str) -> None:
    """The package version now against the one recorded for the stage's full load (``load_run``):
    a warning when they differ — rows written now may follow other rules than the rows already
    there — and, under ``--strict``, a refusal before anything is written (exit 1, like the
    mapping-hash refusal)."""
    with ctx.target.connect() as conn:
        info = ledger.run_info(conn, load_run) or {}
    recorded, now = info.get("package_version"), _version.__version__
    if not recorded or recorded == now:
        return
    what = f"stage {stage} was loaded by run {load_run} with safestats-migrate {recorded}; this is {now}"
    if ctx.strict:
        raise StageError(f"{what} (refused under --strict)",
                         hint=f"run `{command}` with safestats-migrate {recorded}, or without --strict to go on "
                              "(each run records its version)")
    ctx.console.warn(f"{what}: rows written now may follow other rules than the rows already there "
                     "(--strict refuses)")


def _stage_delta(ctx: RunContext, ledger: Ledger, spec: StageSpec, base_run: int, *, dry_run: bool,
                 redrive: bool) -> DeltaResult:
    started = time.monotonic()
    kind = "redrive" if redrive else "delta"
    reader = ctx.reader()
    with ctx.target.begin() as conn:
        if dry_run:  # records nothing: its key snapshots are scratch tables, dropped when it is done
            run_id = ledger.reserve_run_id(conn)
        else:
            run_id = ledger.new_run(conn, kind=kind, mapping_hash=ctx.mapping_hash,
                                    refdata_version=ctx.refdata_version,
                                    source_url=redact_url(ctx.settings.source_url),
                                    options={"stage": spec.stage, "base_run": base_run})
            ledger.event(conn, run_id=run_id, stage=spec.stage, kind=f"{kind}_started",
                         detail={"base_run": base_run})
            record_watermarks(conn, reader, spec, run_id)
    if not dry_run:
        ctx.console.info(f"{spec.stage}: {kind} run {run_id} started (on top of run {base_run})", run_id=run_id)
    result = DeltaResult(spec.stage, run_id, "dry-run" if dry_run else kind)
    try:
        for tm in spec.tables:
            with ctx.target.connect() as conn:
                lookups = load_lookups(conn, ref_lookup_keys(ctx.specs))
                tables, frames = load_table_lookups(conn, tm)
                force = None
                if redrive:
                    force = records.open_keys(conn, spec.stage, tm.source.table)
            lc = LoadContext(source=reader, target=ctx.target, ledger=ledger, console=ctx.console,
                             chunk_rows=ctx.settings.chunk_rows, fault=ctx.fault,
                             guard=ctx.lock_guard)
            load = TableLoad(lc, spec, tm, run_id, lookups, tables, frames)
            flag = "--redrive-quarantine" if redrive else "--delta"
            load.retry_hint = (f"fix the cause and run `safestats-migrate run {flag} {spec.stage}` again: it builds "
                               f"on run {base_run}, the last that finished, and reads again everything since")
            td = TableDelta(lc, spec, tm, run_id, base_run, load)
            if redrive and td.strategy != "reference":
                td.strategy = "redrive"
            count, plan = td.run(dry_run=dry_run, force_keys=force)
            result.plans.append(plan)
            if count is not None:
                result.counts.append(count)
        if not dry_run:
            with ctx.target.begin() as conn:
                for c in result.counts:
                    ledger.record_counts(conn, c, {"kind": kind})
                unbalanced = [c for c in result.counts if not c.balanced]
                if unbalanced:
                    c = unbalanced[0]
                    raise StageError(
                        f"accounting of the {kind} of {spec.stage}/{c.source_table} does not balance: read "
                        f"{c.rows_read} ≠ loaded {c.rows_loaded} + unchanged {c.rows_unchanged} + merged "
                        f"{c.rows_merged} + quarantined {c.rows_quarantined} + filtered {c.rows_filtered}",
                        hint="do not go on; roll this run back (see runbooks/delta.md)")
                ledger.event(conn, run_id=run_id, stage=spec.stage, kind=f"{kind}_loaded",
                             detail={"counts": [c.__dict__ for c in result.counts],
                                     "plans": [p.__dict__ for p in result.plans],
                                     "seconds": delta_timing(started)})
    except BaseException as exc:
        if isinstance(exc, (Interrupted, KeyboardInterrupt)):
            raise _interrupted(ctx, ledger, spec, kind, run_id, base_run, exc, dry_run=dry_run) from exc
        if not dry_run:
            try:
                with ctx.target.begin() as conn:
                    ledger.event(conn, run_id=run_id, stage=spec.stage, kind=f"{kind}_failed",
                                 detail={"error": str(getattr(exc, "what", exc))[:2000]})
            except Exception:
                pass
        raise
    result.seconds = time.monotonic() - started
    return result


def _interrupted(ctx: RunContext, ledger: Ledger, spec: StageSpec, kind: str, run_id: int, base_run: int,
                 exc: BaseException, *, dry_run: bool) -> Interrupted:
    """Ctrl-C/SIGTERM: the delta stopped at a chunk boundary.  Recorded as interrupted; the next
    delta builds on ``base_run`` (the last run that finished) and so finds every change again."""
    signame = interrupt.signal_name(exc)
    done: dict[str, Any] = {"chunks": "?", "rows": "?"}
    if not dry_run:
        try:
            with ctx.target.begin() as conn:
                done = ledger.committed(conn, run_id=run_id, stage=spec.stage)
                ledger.event(conn, run_id=run_id, stage=spec.stage, kind=f"{kind}_interrupted",
                             detail={"signal": signame, "base_run": base_run, **done})
        except Exception:  # the target may be gone too; the next delta starts from base_run anyway
            pass
    flag = "--redrive-quarantine" if kind == "redrive" else "--delta"
    stopped = (f"the {kind} of stage {spec.stage} (run {run_id}) stopped at a chunk boundary"
               + ("" if dry_run else f" with {done['chunks']} chunk(s) committed"))
    if signame == interrupt.STOP_AT:
        return Interrupted(interrupt.stopped_message(stopped) + f"; `safestats-migrate run {flag} {spec.stage}` "
                           "resumes", hint=f"it builds on run {base_run}, the last that finished, and reads again "
                                           "everything since (add --stop-at for the next window)")
    what = f"interrupted ({signame}): {stopped}"
    return Interrupted(what, hint=f"`safestats-migrate run {flag} {spec.stage}` brings it up to date: it builds on "
                                  f"run {base_run}, the last that finished, and reads again everything since")
