"""Reconciling one stage: every check of its check file, against one load run.

Order of work (the target side and Great Expectations run while the source is read):

1. plans for every table the stage writes (:mod:`.tableplan`), the reference data the
   mapping reads (from the target, as the load read it), the run's ledger figures;
2. in the background: the Great Expectations suites (child process), and the target's
   canonical keys and row hashes plus its control totals (SQL, own connection);
3. the source pass of every legacy table (:mod:`.extract`): duplicates, reference,
   expected keys and hashes COPY'd in, control totals accumulated;
4. comparisons inside PostgreSQL (:mod:`.compare`), accounting, quarantine rates, leaks;
5. every staging table it made is dropped, whatever happened.

Each check that cannot run becomes an ``error`` result naming why; the others still run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from migration.console import Console
from migration.db.source import SourceReader
from migration.ledger import Ledger, TableCount, history, records
from migration.mapping.lookups import load_lookups, load_table_lookups, ref_lookup_keys
from migration.mapping.spec import StageSpec, TableMappingSpec
from migration.reconcile import compare
from migration.reconcile.copying import CopyWriter, staging_name
from migration.reconcile.expectations import GxWorker, suite_request, suite_result
from migration.reconcile.extract import ExpectedTable, TablePass
from migration.reconcile.leaks import password_check, patient_identifier_check, secret_digests
from migration.reconcile.results import CheckResult, StageReconciliation
from migration.reconcile.spec import CheckFileSpec
from migration.reconcile.tableplan import TablePlan, build_plans, read_ref_maps
from migration.reconcile.totals import Totals
from migration.secrets import scrub


@dataclass
class ReconcileContext:
    target: Engine
    source: Engine
    target_url: Any
    specs: list[StageSpec]
    checks: dict[str, CheckFileSpec]
    console: Console
    chunk_rows: int = 50_000
    gx: GxWorker | None = None
    workers: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _err(exc: BaseException) -> str:
    what = getattr(exc, "what", None) or f"{type(exc).__name__}: {getattr(exc, 'orig', exc)}"
    return scrub(str(what)).strip().splitlines()[0][:500] if str(what).strip() else type(exc).__name__


class StageCheck:
    def __init__(self, ctx: ReconcileContext, spec: StageSpec, load_run_id: int, check_run_id: int) -> None:
        self.ctx = ctx
        self.spec = spec
        self.checks = ctx.checks[spec.stage]
        self.load_run_id = load_run_id
        self.check_run_id = check_run_id
        self.stage = spec.stage
        self.results: list[CheckResult] = []
        self.timings: dict[str, float] = {}
        self.samples = self.checks.samples

    # ------------------------------------------------------------------ helpers
    def _staging_tables(self) -> list[tuple[str, str]]:
        """This stage's staging tables and the views its Great Expectations suites ran on."""
        with self.ctx.target.connect() as conn:
            return [(f'staging."{r[0]}"', r[1]) for r in conn.execute(text(
                "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'staging' AND c.relkind IN ('r', 'v') AND c.relname LIKE :p"),
                dict(p=f"rec\\_\\_{self.stage}\\_\\_%"))]

    def _drop_staging(self) -> None:
        found = self._staging_tables()
        if found:
            with self.ctx.target.begin() as conn:
                for name, kind in found:
                    conn.execute(text(f"DROP {'VIEW' if kind == 'v' else 'TABLE'} IF EXISTS {name}"))

    def _add(self, result: CheckResult, started: float) -> None:
        result.seconds = time.monotonic() - started
        self.results.append(result)

    def _t(self, phase: str, since: float) -> float:
        now = time.monotonic()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - since
        return now

    # ------------------------------------------------------------------ main
    def run(self) -> StageReconciliation:
        started = time.monotonic()
        rec = StageReconciliation(self.stage, self.load_run_id, self.check_run_id)
        try:
            self._drop_staging()
            self._run()
        except Exception as exc:
            self.results.append(CheckResult(self.stage, "reconcile/prepare", "error",
                                            f"the checks of {self.stage} could not run: {_err(exc)}", {}))
        finally:
            try:
                self._drop_staging()
            except Exception as exc:  # the report still stands; the leftovers are dropped next time
                self.ctx.console.warn(f"{self.stage}: could not drop reconciliation staging tables: {_err(exc)}")
        rec.results = self.results
        rec.seconds = time.monotonic() - started
        rec.timings = self.timings
        return rec

    def _run(self) -> None:
        ctx, spec, checks = self.ctx, self.spec, self.checks
        t0 = time.monotonic()
        sensitive = {t: set(c) for t, c in checks.sensitive.items()}
        plans = build_plans(spec, sensitive)
        by_table = {p.table: p for p in plans}
        ledger = Ledger(ctx.target)
        with ctx.target.connect() as conn:
            read_ref_maps(conn, plans)
            lookups = load_lookups(conn, ref_lookup_keys(ctx.specs))
            table_lookups = [load_table_lookups(conn, tm)[0] for tm in spec.tables]
            run_info = ledger.run_info(conn, self.load_run_id) or {}
            counts = {c.source_table: c for c in ledger.table_counts(conn, self.load_run_id, self.stage)}
            uptos: dict[str, Any] = history.expected_key_bounds(conn, self.stage, self.load_run_id)
        t0 = self._t("prepare", t0)

        # --- background: Great Expectations
        gx_future = None
        if checks.expectations and ctx.gx is not None:
            requests = [suite_request(s, by_table[s.table].sensitive if s.table in by_table else
                                      set(sensitive.get(s.table, set())), view=f"rec__{self.stage}__gx_{i}")
                        for i, s in enumerate(checks.expectations)]
            gx_future = ctx.gx.submit(ctx.target_url, requests)

        # --- expected tables, totals, writer
        totals: list[Totals] = []
        total_errors: list[CheckResult] = []
        for ct in checks.control_totals:
            try:
                totals.append(Totals(ct, by_table[ct.table]))
            except Exception as exc:
                total_errors.append(CheckResult(self.stage, f"control_totals/{ct.name}", "error",
                                                f"{ct.table}: the totals could not be set up: {_err(exc)}", {}))
        writer = CopyWriter(ctx.target)
        expected = {p.table: ExpectedTable(p, i, writer, [t for t in totals if t.spec.table == p.table])
                    for i, p in enumerate(plans)}
        disp_table = staging_name(self.stage, "disp")
        with ctx.target.begin() as conn:
            for exp in expected.values():
                conn.execute(text(exp.ddl()))
            conn.execute(text(f"CREATE UNLOGGED TABLE {disp_table} (t text, s text, d text, r text, "
                              f"b text COLLATE \"C\")"))

        # --- the secrets to look for (a small source read), before the target side starts
        reader = SourceReader(ctx.source)
        digests: set[tuple[int, str]] | BaseException | None = None
        if checks.leaks.passwords:
            try:
                digests = secret_digests(reader, ctx.specs)
            except Exception as exc:
                digests = exc

        # --- background: the target side (hashes, totals, leaks)
        actual: dict[str, Any] = {}
        target_error: list[BaseException] = []
        leak_results: list[CheckResult] = []

        def target_side() -> None:
            try:
                with ctx.target.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                    for i, plan in enumerate(plans):
                        t1 = time.monotonic()
                        act = staging_name(self.stage, f"{i}_act")
                        conn.execute(text(f"CREATE UNLOGGED TABLE {act} AS {plan.actual_sql()}"), plan.scope_params)
                        actual[f"hash:{plan.table}"] = time.monotonic() - t1
                    for t in totals:
                        t1 = time.monotonic()
                        try:
                            rows = conn.execute(text(t.sql()), t.plan.scope_params).all()
                            actual[f"totals:{t.spec.name}"] = t.actual(list(rows))
                        except Exception as exc:
                            actual[f"totals:{t.spec.name}"] = exc
                        actual[f"seconds:totals:{t.spec.name}"] = time.monotonic() - t1
                    t1 = time.monotonic()
                    leak_results.extend(self._leaks(conn, plans, digests))
                    actual["seconds:leaks"] = time.monotonic() - t1
            except BaseException as exc:
                target_error.append(exc)

        target_thread = threading.Thread(target=target_side, name="reconcile-target", daemon=True)
        target_thread.start()

        # --- the source passes
        passes: list[TablePass | None] = [None] * len(spec.tables)
        source_errors: dict[str, BaseException] = {}
        n0 = 0
        try:
            for seed in spec.seeds:
                if seed.load == "before_tables":
                    n0 += expected[seed.target].add_seed(seed, -1_000_000 + n0)
            for ti, tm in enumerate(spec.tables):
                upto = uptos.get(tm.source.table)
                if upto is not None and tm.source.key_type == "int":
                    upto = int(upto)
                try:
                    total = counts[tm.source.table].rows_read if tm.source.table in counts else None
                    tp = TablePass(spec, tm, lookups, table_lookups[ti], reader, ctx.target, expected, writer,
                                   chunk_rows=ctx.chunk_rows, upto=upto, workers=ctx.workers, expected_rows=total)
                    with ctx.console.progress(f"reconcile {self.stage}: {tm.source.table}", total) as bar:
                        tp.progress = bar
                        tp.run()
                    passes[ti] = tp
                    for k, v in tp.timings.items():
                        self.timings[f"{tm.source.table}: {k}"] = v
                except Exception as exc:
                    source_errors[tm.source.table] = exc
            for i, seed in enumerate(s for s in spec.seeds if s.load == "after_tables"):
                expected[seed.target].add_seed(seed, 10**12 + i * 100_000)
            for exp in expected.values():
                exp.flush_merged()
            writer.flush()
        except Exception as exc:
            for tm in spec.tables:
                source_errors.setdefault(tm.source.table, exc)
        finally:
            try:
                writer.close()
            except Exception as exc:
                for tm in spec.tables:
                    source_errors.setdefault(tm.source.table, exc)
        self.timings["copy (background)"] = writer.seconds
        t0 = self._t("source passes", t0)
        target_thread.join()
        t0 = self._t("waiting for the target side", t0)
        for k, v in actual.items():
            if k.startswith(("hash:", "seconds:")):
                self.timings[f"target {k.removeprefix('seconds:')}"] = v

        # --- the rules the rows were loaded with
        t1 = time.monotonic()
        self._add(self._mapping_version(run_info), t1)

        # --- accounting per legacy table
        for ti, tm in enumerate(spec.tables):
            t1 = time.monotonic()
            try:
                self._add(self._accounting(tm, counts.get(tm.source.table), run_info, passes[ti],
                                           source_errors.get(tm.source.table), reader), t1)
            except Exception as exc:
                self._add(CheckResult(self.stage, f"accounting/{tm.source.table}", "error",
                                      f"{tm.source.table}: accounting could not be checked: {_err(exc)}", {}), t1)
        t0 = self._t("accounting", t0)

        # --- control totals
        self.results += total_errors
        for t in totals:
            t1 = time.monotonic()
            name = f"control_totals/{t.spec.name}"
            writers = [w for kind, w in t.plan.writers if kind == "table"]
            failed_src = [spec.tables[w].source.table for w in writers if spec.tables[w].source.table in source_errors]
            got = actual.get(f"totals:{t.spec.name}")
            if failed_src:
                self._add(CheckResult(self.stage, name, "error", f"{t.spec.table}: not computed, the source pass of "
                                      f"{', '.join(failed_src)} failed: {_err(source_errors[failed_src[0]])}", {}), t1)
            elif target_error or isinstance(got, BaseException) or got is None:
                why = target_error[0] if target_error else got
                self._add(CheckResult(self.stage, name, "error", f"{t.spec.table}: the target's totals could not be "
                                      f"computed: {_err(why) if isinstance(why, BaseException) else 'no result'}", {}),
                          t1)
            else:
                self._add(compare.totals_result(self.stage, t, t.finish(t.buckets), got, self.samples), t1)
        t0 = self._t("control totals", t0)

        # --- keys and row hashes
        for i, plan in enumerate(plans):
            t1 = time.monotonic()
            writers = [w for kind, w in plan.writers if kind == "table"]
            failed_src = [spec.tables[w].source.table for w in writers if spec.tables[w].source.table in source_errors]
            if failed_src or target_error:
                why = (f"the source pass of {failed_src[0]} failed: {_err(source_errors[failed_src[0]])}" if failed_src
                       else f"the target side failed: {_err(target_error[0])}")
                for check in ("keys", "row_hash"):
                    self._add(CheckResult(self.stage, f"{check}/{plan.table}", "error", f"{plan.table}: not compared, "
                                          f"{why}", {}), t1)
                continue
            try:
                with ctx.target.connect() as conn:
                    d = compare.diff_table(conn, expected[plan.table].table, staging_name(self.stage, f"{i}_act"),
                                           self.samples)
                    changed = self._changed_rows(conn, plan, expected[plan.table], d,
                                                 [passes[w] for w in writers])
                self._add(compare.key_result(self.stage, plan, d), t1)
                self._add(compare.hash_result(self.stage, plan, d, changed), t1)
            except Exception as exc:
                for check in ("keys", "row_hash"):
                    self._add(CheckResult(self.stage, f"{check}/{plan.table}", "error",
                                          f"{plan.table}: the comparison failed: {_err(exc)}", {}), t1)
        t0 = self._t("keys and row hashes", t0)

        # --- quarantine rates
        for tm in spec.tables:
            t1 = time.monotonic()
            try:
                self._add(self._quarantine_rate(tm, counts.get(tm.source.table)), t1)
            except Exception as exc:
                self._add(CheckResult(self.stage, f"quarantine_rate/{tm.source.table}", "error",
                                      f"{tm.source.table}: the quarantine rate could not be read: {_err(exc)}", {}), t1)

        # --- leaks (computed by the target side)
        self.results += leak_results
        if target_error and not leak_results:
            if checks.leaks.passwords:
                self.results.append(CheckResult(self.stage, "leaks/secrets", "error",
                                                f"not checked, the target side failed: {_err(target_error[0])}", {}))
            if checks.leaks.patient_identifiers:
                self.results.append(CheckResult(self.stage, "leaks/patient_identifiers", "error",
                                                f"not checked, the target side failed: {_err(target_error[0])}", {}))

        # --- Great Expectations
        if checks.expectations:
            t1 = time.monotonic()
            if gx_future is None:
                for s in checks.expectations:
                    self._add(CheckResult(self.stage, f"expectations/{s.name}", "error",
                                          f"{s.table}: Great Expectations is not available in this process", {}), t1)
            else:
                try:
                    answers = {a["suite"]: a for a in gx_future.result()}
                    for s in checks.expectations:
                        self._add(suite_result(self.stage, s, answers.get(s.name, {"error": "no answer"})), t1)
                except Exception as exc:
                    for s in checks.expectations:
                        self._add(CheckResult(self.stage, f"expectations/{s.name}", "error",
                                              f"{s.table}: the suite could not run: {_err(exc)}", {}), t1)
            self._t("great expectations (waiting)", t0)

    # ------------------------------------------------------------------ checks
    def _leaks(self, conn: Any, plans: list[TablePlan], digests: Any) -> list[CheckResult]:
        out = []
        checks = self.checks
        if checks.leaks.passwords:
            t1 = time.monotonic()
            try:
                if isinstance(digests, BaseException):
                    raise digests
                r = password_check(conn, self.ctx.target, self.stage, plans, digests or set(),
                                   staging_name(self.stage, "secrets"), self.samples)
            except Exception as exc:
                r = CheckResult(self.stage, "leaks/secrets", "error", f"the secrets check could not run: {_err(exc)}",
                                {})
            r.seconds = time.monotonic() - t1
            out.append(r)
        if checks.leaks.patient_identifiers:
            t1 = time.monotonic()
            try:
                r = patient_identifier_check(conn, self.stage, plans, checks.leaks.patient_identifiers, self.samples)
            except Exception as exc:
                r = CheckResult(self.stage, "leaks/patient_identifiers", "error",
                                f"the patient-identifier check could not run: {_err(exc)}", {})
            r.seconds = time.monotonic() - t1
            out.append(r)
        return out

    def _changed_rows(self, conn: Any, plan: TablePlan, exp: ExpectedTable, d: compare.TableDiff,
                      passes: list[TablePass | None]) -> list[dict[str, Any]]:
        samples = d.samples["changed"]
        if not samples:
            return []
        keys = [s["k"] for s in samples]
        act = compare.actual_columns(conn, plan, keys)
        if plan.merged:
            expc = exp.merged_columns(keys)
        else:
            tp = next((p for p in passes if p is not None), None)
            expc = tp.expected_columns(exp, [s["source_key"] for s in samples]) if tp is not None else {}
        out = []
        for s in samples:
            k = s["k"]
            row = {"key": compare.display_key(plan, k), "source_key": s["source_key"],
                   "columns": compare.column_diffs(plan, expc.get(k, {}), act.get(k, {})) if k in expc and k in act
                   else []}
            out.append(row)
        return out

    def _accounting(self, tm: TableMappingSpec, tc: TableCount | None, run_info: dict[str, Any],
                    tp: TablePass | None, source_error: BaseException | None, reader: SourceReader) -> CheckResult:
        table = tm.source.table
        name = f"accounting/{table}"
        if tc is None:
            return CheckResult(self.stage, name, "fail", f"{table}: run {self.load_run_id} recorded no accounting "
                               "for this table (ledger.table_count)", {"run_kind": run_info.get("kind")})
        ledger_terms = {"read": tc.rows_read, "loaded": tc.rows_loaded, "unchanged": tc.rows_unchanged,
                        "merged": tc.rows_merged, "quarantined": tc.rows_quarantined, "filtered": tc.rows_filtered}
        detail: dict[str, Any] = {"source_table": table, "run_kind": run_info.get("kind"), "ledger": ledger_terms}
        if not tc.balanced:
            return CheckResult(self.stage, name, "fail", f"{table}: read {tc.rows_read:,} ≠ loaded {tc.rows_loaded:,} + "
                               f"unchanged {tc.rows_unchanged:,} + merged {tc.rows_merged:,} + quarantined "
                               f"{tc.rows_quarantined:,} + filtered {tc.rows_filtered:,} (run {self.load_run_id})", detail)
        now = reader.count(table)
        detail["source_rows_now"] = now
        changed = now != tc.rows_read
        change_text = (f"{table} holds {now:,} rows now, run {self.load_run_id} read {tc.rows_read:,} "
                       f"({now - tc.rows_read:+,} since the load)")
        if source_error is not None or tp is None:
            return CheckResult(self.stage, name, "error", f"{table}: the ledger balances, but the source pass failed: "
                               f"{_err(source_error) if source_error else 'not run'}", detail)
        exp = {"read": tp.rows_read, "load": 0, "merged": 0, "filter": 0, "quarantine": 0}
        by_reason: dict[str, int] = {}
        for (d, r), n in tp.counts.items():
            exp[d] = exp.get(d, 0) + n
            if d != "load":
                by_reason[f"{d}:{r}"] = by_reason.get(f"{d}:{r}", 0) + n
        detail["expected"] = exp
        detail["expected_by_reason"] = by_reason
        mismatch = []
        for label, e, got in (("loaded (+unchanged)", exp["load"], tc.rows_loaded + tc.rows_unchanged),
                              ("merged", exp["merged"], tc.rows_merged), ("filtered", exp["filter"], tc.rows_filtered),
                              ("quarantined", exp["quarantine"], tc.rows_quarantined)):
            if e != got:
                mismatch.append(f"{label}: the source says {e:,}, the ledger {got:,}")
        records = self._disposition_diff(table)
        detail["record_mismatches"] = records["count"]
        detail["record_samples"] = records["samples"]
        full = run_info.get("kind") == "full"
        if (mismatch or records["count"]) and full:
            what = "; ".join(mismatch) if mismatch else f"{records['count']:,} row(s) recorded differently"
            if records["samples"]:
                s = records["samples"][0]
                what += (f" (e.g. source key {s['source_key']}: expected {s['expected'] or 'loaded'}, ledger "
                         f"{s['ledger'] or 'loaded'})")
            status = "warn" if changed else "fail"
            prefix = f"{change_text}; " if changed else ""
            return CheckResult(self.stage, name, status, f"{table}: {prefix}{what}", detail)
        if changed:
            return CheckResult(self.stage, name, "warn", f"{table}: the ledger balances, but {change_text}", detail)
        note = "" if full else f" (run {self.load_run_id} is a {run_info.get('kind')} run: per-row records not compared)"
        return CheckResult(self.stage, name, "pass", f"{table}: read {tc.rows_read:,} = loaded {tc.rows_loaded:,} + "
                           f"unchanged {tc.rows_unchanged:,} + merged {tc.rows_merged:,} + quarantined "
                           f"{tc.rows_quarantined:,} + filtered {tc.rows_filtered:,}; the source agrees{note}", detail)

    def _mapping_version(self, run_info: dict[str, Any]) -> CheckResult:
        from migration.mapping.loader import files_hash, mapping_files

        now = files_hash(mapping_files(Path(self.spec.file).parent)) if self.spec.file else None
        then = run_info.get("mapping_hash")
        detail = {"load_mapping_hash": then, "current_mapping_hash": now, "load_run_id": self.load_run_id}
        if then and now and then != now:
            return CheckResult(self.stage, "mapping_version/mappings", "warn",
                               f"the mapping files changed since run {self.load_run_id} loaded {self.stage}: the "
                               "expected values follow today's rules, so differences below may come from the change "
                               "(roll back and load again to apply them)", detail)
        return CheckResult(self.stage, "mapping_version/mappings", "pass",
                           f"the mapping files are those run {self.load_run_id} loaded {self.stage} with", detail)

    def _disposition_diff(self, table: str) -> dict[str, Any]:
        disp = staging_name(self.stage, "disp")
        with self.ctx.target.connect() as conn:
            conn.execute(text("DROP TABLE IF EXISTS _rec_disp_diff"))
            conn.execute(text(
                f"CREATE TEMP TABLE _rec_disp_diff AS "
                f"WITH e AS (SELECT s, d, r, b FROM {disp} WHERE t = :t), "
                f"     l AS {records.records_of_run_sql()} "
                f"SELECT coalesce(e.s, l.s) AS s, e.d AS ed, e.r AS er, l.d AS ld, l.r AS lr FROM e FULL JOIN l "
                f"ON l.s = e.s WHERE e.s IS NULL OR l.s IS NULL OR e.d <> l.d OR e.r IS DISTINCT FROM l.r "
                f"OR e.b IS DISTINCT FROM l.b"),
                dict(t=table, run=self.load_run_id, st=self.stage))
            n = int(conn.execute(text("SELECT count(*) FROM _rec_disp_diff")).scalar_one())
            rows = conn.execute(text("SELECT s, ed, er, ld, lr FROM _rec_disp_diff ORDER BY s COLLATE \"C\" LIMIT :n"),
                                dict(n=self.samples)).all()
            conn.execute(text("DROP TABLE IF EXISTS _rec_disp_diff"))
        return {"count": n, "samples": [{"source_key": r[0], "expected": f"{r[1]} {r[2]}" if r[1] else None,
                                         "ledger": f"{r[3]} {r[4]}" if r[3] else None} for r in rows]}

    def _quarantine_rate(self, tm: TableMappingSpec, tc: TableCount | None) -> CheckResult:
        table = tm.source.table
        name = f"quarantine_rate/{table}"
        spec = self.checks.quarantine_rate
        with self.ctx.target.connect() as conn:
            rows = records.reasons_of_run(conn, run_id=self.load_run_id, stage=self.stage, source_table=table)
        read = tc.rows_read if tc is not None else 0
        reasons: list[dict[str, Any]] = []
        worst = "pass"
        for reason, n in rows:
            limit = spec.reasons.get(reason, spec.default)
            rate = n / read if read else 1.0
            # a small count never warns (rates of a few rows are noise); the fail threshold always holds
            status = ("fail" if rate > limit.fail else
                      "warn" if rate > limit.warn and n >= limit.min_rows else "pass")
            reasons.append({"reason": reason, "rows": int(n), "rate": round(rate, 6), "warn": limit.warn,
                            "fail": limit.fail, "min_rows": limit.min_rows, "status": status})
            if status == "fail" or (status == "warn" and worst == "pass"):
                worst = status
        total = sum(r["rows"] for r in reasons)
        detail = {"source_table": table, "rows_read": read, "quarantined": total, "reasons": reasons}
        if not reasons:
            return CheckResult(self.stage, name, "pass", f"{table}: nothing quarantined ({read:,} rows read)", detail)
        top = next((r for r in reasons if r["status"] == worst), reasons[0])
        summary = (f"{table}: {total:,} of {read:,} rows quarantined ({total / read:.2%}); "
                   if read else f"{table}: {total:,} rows quarantined; ")
        summary += (f"{top['reason']} {top['rate']:.3%} (warn above {top['warn']:.2%}, fail above {top['fail']:.2%}"
                    + (f"; under {top['min_rows']} rows no warning)" if top["rows"] < top["min_rows"] else ")"))
        return CheckResult(self.stage, name, worst, summary, detail)
