"""Build a :class:`~migration.report.model.Report` from the ledger (and, for charts, the target).

What a report covers:

* without a run id, every planned stage (and any other the ledger knows), each at its
  **latest load run**, with the latest result of each check recorded since that load; the
  verdict and each stage's is the migration's (:mod:`migration.ledger.verdict`: a stage
  written to after its checks, or never loaded, reads INCOMPLETE), the report's own reading
  of the checks and accounting kept as the reasons;
* with the id of a **load run**, the stage(s) it loaded, with the checks recorded after it
  and before the stage's next load;
* with the id of a **reconcile run** (or any run that recorded check results), exactly the
  checks of that run, with the accounting of the load each checked stage had at the time.

All reads happen in one REPEATABLE READ transaction, so the numbers agree with each other
even while a stage is loading.  Nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from migration.errors import SafeStatsError, UnknownNameError
from migration.ledger import Ledger, history, records
from migration.ledger import seal as ledger_seal
from migration.ledger import verdict as lv
from migration.report import details as dt
from migration.report import signoff
from migration.report.blank_keys import blank_key_rows
from migration.report.model import (
    FAIL,
    INCOMPLETE,
    PASS,
    PASS_WITH_ACCEPTED,
    Acceptance,
    AccountingRow,
    Chart,
    CheckDetail,
    CheckRow,
    Difference,
    QuarantineRow,
    Report,
    Scope,
    Series,
    StageSummary,
    Verdict,
)
from migration.secrets import redact_url, scrub
from migration.version import __version__

#: months are the calendar months of London, like every date a person reads in SafeStats
REPORT_TZ = "Europe/London"
NO_BOROUGH = "(no borough)"
NO_MONTH = "(no date)"


class ReportError(SafeStatsError):
    """The report cannot be built as asked (unknown run, ledger missing…)."""


#: the kinds of run that write a stage's data, by the event that starts them
RUN_KINDS = {"stage_started": "full", "delta_started": "delta", "redrive_started": "redrive"}


@dataclass(frozen=True)
class _StageRun:
    """One run that wrote a stage's data: a full load, a delta or a quarantine redrive."""

    run_id: int
    kind: str                   # full | delta | redrive
    started_at: datetime
    outcome: str                # loaded | failed | running
    finished_at: datetime | None
    undone: bool                # rolled back (``run_rolled_back``)


@dataclass(frozen=True)
class _StageScope:
    stage: str
    runs: tuple[_StageRun, ...]  # the runs whose accounting is reported, oldest first
    lo: int                      # check results of runs from this id…
    hi: int | None               # …up to (excluding) this one
    check_run: int | None        # only this run's check results (reconcile-run reports)

    @property
    def last(self) -> _StageRun | None:
        return self.runs[-1] if self.runs else None


@dataclass(frozen=True)
class _RawCheck:
    row: CheckRow
    detail: Any                 # cleaned JSON


def build_report(engine: Engine, run_id: int | None = None, *, planned: Sequence[str] | None = None,
                 specs: Sequence[Any] = (),
                 now: datetime | None = None) -> Report:
    """Read the ledger and the target and return the report (nothing is written).

    Args:
        engine: the target PostgreSQL engine (the ledger lives there).
        run_id: report on this run only; ``None`` for the latest load run of every stage.
        planned: every stage of the plan (the mapping set), in plan order: a report of the
            whole target lists each of them (those not started included) and its verdict is
            the migration's (:func:`migration.ledger.verdict.migration_verdict`) over them.
            ``None``: the stages the ledger knows.
        now: the report's timestamp (tests pin it).

    Raises:
        TargetError: the ledger is not installed (``schema upgrade`` first).
        ReportError: ``run_id`` is not in the ledger.
    """
    Ledger(engine).require_installed()
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            builder = _Builder(conn, engine)
            report = builder.build(run_id, now or datetime.now(UTC), planned)
            report = dataclasses.replace(report, ledger_head=ledger_seal.head(conn))
            if report.empty:
                return report
            # the sign-off sections read the same snapshot (REPEATABLE READ) as the rest
            pack = signoff.build_pack(conn, report, specs, builder.raw_details)
            return dataclasses.replace(report, signoff=pack)


class _Builder:
    def __init__(self, conn: Connection, engine: Engine) -> None:
        self.conn = conn
        self.engine = engine
        self.ledger = Ledger(engine)
        self.notes: list[str] = []
        self.raw_details: dict[tuple[str, int], Any] = {}  # (stage, result id) → detail, for coverage

    # ------------------------------------------------------------------ scope
    def _stage_runs(self) -> dict[str, list[_StageRun]]:
        """Stage → every run that wrote its data, oldest first; stages in the order first loaded."""
        rows = history.stage_run_history(self.conn, list(RUN_KINDS))
        out: dict[str, list[_StageRun]] = {}
        for r in rows:
            if any(x.run_id == r.run_id for x in out.get(r.stage, [])):
                continue
            outcome = "loaded" if r.loaded_at else "failed" if r.failed_at else "running"
            out.setdefault(r.stage, []).append(_StageRun(int(r.run_id), RUN_KINDS[r.kind], r.at, outcome,
                                                         r.loaded_at, bool(r.undone)))
        return out

    def _check_stages(self, run_id: int | None = None) -> list[str]:
        return history.checked_stages(self.conn, run_id)

    @staticmethod
    def _current(runs: list[_StageRun]) -> tuple[_StageRun, ...]:
        """What is in the target of a stage: the last full load not undone and every later run not undone."""
        live = [r for r in runs if not r.undone]
        fulls = [i for i, r in enumerate(live) if r.kind == "full"]
        return tuple(live[fulls[-1]:] if fulls else live)

    def _scope(self, run_id: int | None, stage_runs: dict[str, list[_StageRun]]
               ) -> tuple[Scope, list[_StageScope]]:
        if run_id is None:
            stages = list(stage_runs) + [s for s in self._check_stages() if s not in stage_runs]
            scopes = []
            for s in stages:
                runs = stage_runs.get(s, [])
                cur = self._current(runs)
                # a stage rolled back entirely: only checks recorded after its last run could speak for it
                lo = cur[-1].run_id if cur else (runs[-1].run_id + 1 if runs else 0)
                scopes.append(_StageScope(s, cur, lo, None, None))
            return Scope(None, None, "what is in the target now: each stage's last full load and the deltas "
                                     "since, with the latest result of each check recorded after them"), scopes

        info = self.ledger.run_info(self.conn, run_id)
        if info is None:
            raise UnknownNameError(f"run {run_id} is not in the ledger",
                                   hint="leave RUN_ID out for the latest run of every stage; "
                                        "`safestats-migrate runs` lists the runs")
        kind = str(info["kind"])
        wrote = {s: next(r for r in runs if r.run_id == run_id) for s, runs in stage_runs.items()
                 if any(r.run_id == run_id for r in runs)}
        if wrote:
            scopes = []
            for s, run in wrote.items():
                later = [r.run_id for r in stage_runs[s] if r.run_id > run_id and not r.undone]
                scopes.append(_StageScope(s, (run,), run_id, min(later) if later else None, None))
                if run.undone:
                    self.notes.append(f"Run {run_id} of {s} has been rolled back: its rows are no longer in the "
                                      "target; the numbers below are what it did before that.")
            return (Scope(run_id, kind, f"{kind} run {run_id} ({', '.join(wrote)}), with the checks recorded "
                                        "after it and before the stage's next run"), scopes)
        checked = self._check_stages(run_id)
        if checked:
            scopes = []
            for s in checked:
                cur = self._current([r for r in stage_runs.get(s, []) if r.run_id < run_id])
                scopes.append(_StageScope(s, cur, run_id, run_id + 1, run_id))
            return Scope(run_id, kind, f"the checks of run {run_id} ({kind}), with the accounting of what each "
                                       "stage had loaded then"), scopes
        stages = history.stages_of_run(self.conn, run_id)
        self.notes.append(f"Run {run_id} is a {kind} run that neither wrote a stage's data nor recorded check "
                          "results (a reference seed, or a rollback): there is nothing to reconcile in it.")
        return (Scope(run_id, kind, f"run {run_id} ({kind})"),
                [_StageScope(s, (), run_id, run_id + 1, run_id) for s in stages])

    # ------------------------------------------------------------------ reads
    def _acceptances(self) -> dict[str, Acceptance]:
        rows = history.acceptances(self.conn)
        out = {}
        for r in rows:
            d = r.detail if isinstance(r.detail, Mapping) else {}
            by = d.get("by") or d.get("who") or d.get("accepted_by") or r.actor
            reason = d.get("reason") or d.get("comment") or d.get("note") or ""
            out[r.stage] = Acceptance(dt.clean_text(by, limit=120), r.at, dt.clean_text(reason, limit=500))
        return out

    def _checks(self, sc: _StageScope, acceptance: Acceptance | None, load_started: datetime | None
                ) -> list[_RawCheck]:
        rows = history.latest_checks(self.conn, stage=sc.stage, lo=sc.lo, hi=sc.hi)
        out = []
        current = {r.run_id for r in sc.runs}
        for r in rows:
            checked = r.detail.get("load_run_id") if isinstance(r.detail, Mapping) else None
            if (sc.check_run is None and isinstance(checked, int) and sc.last is not None
                    and checked not in current and checked < sc.last.run_id):
                continue  # it checked rows of an earlier run: it proves nothing about the current ones
            accepted = None
            if (acceptance is not None and r.status in ("fail", "error") and acceptance.at >= r.at
                    and (load_started is None or acceptance.at >= load_started)):
                accepted = acceptance
            detail = r.detail
            if isinstance(detail, str):  # a driver that hands JSON back as text
                try:
                    detail = json.loads(detail)
                except ValueError:
                    detail = {"detail": detail}
            out.append(_RawCheck(CheckRow(int(r.result_id), int(r.run_id), r.stage, dt.clean_text(r.check_name, limit=120),
                                          str(r.status), dt.clean_text(r.summary, limit=2000), r.at, accepted),
                                 dt.clean(detail)))
        out.sort(key=lambda c: c.row.result_id)
        return out

    def _accounting(self, sc: _StageScope) -> list[AccountingRow]:
        out = []
        for run in sc.runs:
            out += [AccountingRow(c.run_id, c.stage, dt.clean_text(c.source_table), c.rows_read, c.rows_loaded,
                                  c.rows_unchanged, c.rows_merged, c.rows_quarantined, c.rows_filtered)
                    for c in self.ledger.table_counts(self.conn, run_id=run.run_id, stage=sc.stage)]
        return out

    def _quarantine(self, sc: _StageScope) -> list[QuarantineRow]:
        """Quarantine records of the reported runs, per table and reason (field names, never values)."""
        if not sc.runs:
            return []
        rows = records.quarantine_by_reason(self.conn, stage=sc.stage, runs=[r.run_id for r in sc.runs])
        return [QuarantineRow(sc.stage, dt.clean_text(r.source_table), dt.clean_text(r.reason_code), int(r.n),
                              int(r.open_n), tuple(dt.clean_text(f, limit=80) for f in (r.fields or [])),
                              tuple(int(x) for x in r.runs or []))
                for r in rows]

    def _borough_names(self) -> dict[str, str]:
        return {str(r[0]).strip(): str(r[1]) for r in self.conn.execute(
            text("SELECT gss_code, name FROM ref.local_authority"))}

    def _incident_stages(self) -> dict[str, dict[str, int]]:
        """Stage → dataset → rows of core.incident last written by one of the stage's runs."""
        rows = self.conn.execute(text(
            "SELECT e.stage, i.dataset, count(*) AS n FROM core.incident i "
            f"JOIN {history.stage_runs_sql()} e "
            "ON e.run_id = i.load_run_id GROUP BY 1, 2"), dict(kinds=list(RUN_KINDS)))
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for r in rows:
            out[r.stage][r.dataset] = int(r.n)
        return out

    def _target_counts(self, datasets: list[str]) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        """(dataset → month → rows, dataset → gss code → rows) of core.incident, months in London time."""
        months: dict[str, dict[str, int]] = defaultdict(dict)
        boroughs: dict[str, dict[str, int]] = defaultdict(dict)
        for r in self.conn.execute(text(
                "SELECT dataset, to_char(occurred_at AT TIME ZONE :tz, 'YYYY-MM') AS m, count(*) AS n "
                "FROM core.incident WHERE dataset = ANY(:d) GROUP BY 1, 2"), dict(tz=REPORT_TZ, d=datasets)):
            months[r.dataset][r.m or NO_MONTH] = int(r.n)
        for r in self.conn.execute(text(
                "SELECT dataset, gss_code, count(*) AS n FROM core.incident WHERE dataset = ANY(:d) GROUP BY 1, 2"),
                dict(d=datasets)):
            boroughs[r.dataset][(r.gss_code or "").strip() or NO_BOROUGH] = int(r.n)
        return months, boroughs

    # ------------------------------------------------------------------ build
    def build(self, run_id: int | None, now: datetime, planned: Sequence[str] | None = None) -> Report:
        stage_runs = self._stage_runs()
        scope, scopes = self._scope(run_id, stage_runs)
        states = self.ledger.stage_states(self.conn)
        acceptances = self._acceptances()
        tables_of = history.started_tables(self.conn)

        summaries: list[StageSummary] = []
        checks: list[CheckRow] = []
        accounting: list[AccountingRow] = []
        quarantine: list[QuarantineRow] = []
        differences: list[Difference] = []
        diff_counts: dict[str, dict[str, int]] = {}
        check_details: list[CheckDetail] = []
        bucket_charts: list[Chart] = []
        totals_checks: dict[str, list[tuple[CheckRow, Mapping[str, Any]]]] = {}
        borough_names = self._borough_names()

        for sc in scopes:
            state = states[sc.stage].state if sc.stage in states else "not_started"
            raw = self._checks(sc, acceptances.get(sc.stage), sc.last.started_at if sc.last else None)
            if sc.check_run is not None:
                raw = [c for c in raw if c.row.run_id == sc.check_run]
            acct = self._accounting(sc)
            for c in raw:
                self.raw_details[(sc.stage, c.row.result_id)] = c.detail if isinstance(c.detail, dict) else {}
                found = dt.find_differences(sc.stage, c.row.check, c.detail)
                buckets, bucket_keys = dt.find_buckets(c.detail)
                if found.differences:
                    differences.extend(found.differences)
                    diff_counts[f"{sc.stage}/{c.row.check}"] = {"found": found.found, "listed": found.listed}
                bucket_charts.extend(_bucket_charts(sc.stage, c.row, buckets, borough_names))
                if _is_count_totals(c.detail):
                    totals_checks.setdefault(sc.stage, []).append((c.row, c.detail))
                items, sub_tables, left = dt.flatten(c.detail, skip=found.consumed | bucket_keys)
                if items or sub_tables:
                    check_details.append(CheckDetail(sc.stage, c.row.check, c.row.result_id, tuple(items), left,
                                                     tuple(sub_tables)))
            rows = [c.row for c in raw]
            checks.extend(rows)
            accounting.extend(acct)
            quarantine.extend(self._quarantine(sc))
            ever_ran = bool(stage_runs.get(sc.stage))
            verdict, reasons = _stage_verdict(sc, state, ever_ran, rows, acct)
            tables = next((tables_of[(r.run_id, sc.stage)] for r in sc.runs if (r.run_id, sc.stage) in tables_of),
                          None) or list(dict.fromkeys(a.source_table for a in acct))
            summaries.append(StageSummary(
                stage=sc.stage, state=state, load_run_id=sc.last.run_id if sc.last else None,
                loaded_at=sc.last.finished_at if sc.last else None,
                tables=tuple(dt.clean_text(t) for t in tables),
                rows_read=sum(a.read for a in acct), rows_loaded=sum(a.loaded for a in acct),
                rows_quarantined=sum(a.quarantined for a in acct),
                checks={s: sum(1 for c in rows if c.status == s) for s in ("pass", "warn", "fail", "error")},
                verdict=verdict, reasons=tuple(reasons),
                accepted=acceptances.get(sc.stage) if state == "accepted" else None,
                runs=tuple(r.run_id for r in sc.runs)))

        blank_keys = tuple(blank_key_rows(self.conn, [s.stage for s in summaries]))
        charts = self._charts(summaries, accounting, bucket_charts, totals_checks, borough_names)
        if run_id is None:  # the whole target: the migration's verdict over every planned stage
            plan = list(planned) if planned is not None else [s.stage for s in summaries]
            summaries, overall = _with_migration_verdict(summaries, lv.migration_verdict(self.conn, plan))
        else:
            overall = _overall(summaries)
        return Report(
            generated_at=now, target=redact_url(self.engine.url), package_version=__version__, scope=scope,
            verdict=overall, stages=tuple(summaries), checks=tuple(checks),
            accounting=tuple(accounting), quarantine=tuple(quarantine), differences=tuple(differences),
            difference_counts=diff_counts, charts=tuple(charts), details=tuple(check_details),
            notes=tuple(scrub(n) for n in self.notes), blank_keys=blank_keys)

    def _charts(self, summaries: list[StageSummary], accounting: list[AccountingRow], from_buckets: list[Chart],
                totals: dict[str, list[tuple[CheckRow, Mapping[str, Any]]]], borough_names: dict[str, str]
                ) -> list[Chart]:
        """Rows per dataset, then per stage rows per month and per borough, source beside target.

        Control totals keep only the buckets that differ, so the chart counts the target itself
        and takes the source from the check: equal to the target in every bucket the check
        found equal, its expected count in each bucket it lists as different.  A check that
        kept full source/target counts per bucket is drawn as it is.  Without either, the
        target is drawn alone and the chart says so."""
        in_scope = {s.stage for s in summaries if s.runs}
        incident = {s: d for s, d in self._incident_stages().items() if s in in_scope}
        charts: list[Chart] = []
        if incident:
            expected: dict[str, int] = defaultdict(int)
            for a in accounting:
                if a.stage in incident:
                    expected[a.stage] += a.loaded + a.unchanged
            stages = [s.stage for s in summaries if s.stage in incident]
            cats = [f"{', '.join(sorted(incident[s]))} ({s})" for s in stages]
            charts.append(Chart(
                "rows-per-dataset", None, "dataset", "Rows per dataset: source (ledger) beside target",
                "source: the ledger's accounting of the stage's runs (rows loaded + unchanged); "
                "target: rows of core.incident written by the stage's runs",
                tuple(cats), (Series("source", tuple(expected[s] for s in stages)),
                              Series("target", tuple(sum(incident[s].values()) for s in stages)))))
        drawn = {c.stage for c in from_buckets}
        charts.extend(from_buckets)
        todo = [s for s in (x.stage for x in summaries) if s in incident and s not in drawn]
        if not todo:
            return charts
        months, boroughs = self._target_counts(sorted({d for s in todo for d in incident[s]}))
        for s in todo:
            ds = sorted(incident[s])
            for dim, by_dataset, label in (("month", months, f"rows per month ({', '.join(ds)}, {REPORT_TZ})"),
                                           ("borough", boroughs, f"rows per borough ({', '.join(ds)})")):
                target: dict[str, int] = defaultdict(int)
                for d in ds:
                    for k, v in by_dataset.get(d, {}).items():
                        target[borough_names.get(k, k) if dim == "borough" else k] += v
                check = next(((row, det) for row, det in totals.get(s, [])
                              if dim in {dt.dimension_of(b) for b in det.get("by") or []}), None)
                if check is None:
                    cats = _month_axis(target) if dim == "month" else _borough_axis(target)
                    charts.append(Chart(
                        f"{s}-{dim}-target", s, dim, f"{s}: {label}",
                        "target: core.incident by " + ("occurred_at" if dim == "month" else "gss_code"),
                        tuple(cats), (Series("target", tuple(target.get(c, 0) for c in cats)),),
                        "No control total of this stage counts rows per " + dim + ", so only the target is "
                        "drawn (declare one in checks/" + s + ".yaml and run `safestats-migrate reconcile`)."))
                    continue
                row, det = check
                delta, listed, complete = _count_deltas(det, dim, borough_names)
                source = dict(target)
                for k, v in delta.items():
                    source[k] = source.get(k, 0) + v
                cats = _month_axis(source | target) if dim == "month" else _borough_axis(source | target)
                note = "" if complete else (
                    f"The check found {det.get('differing')} differing buckets and kept {listed}; the source bars "
                    "include only the differences it kept.")
                charts.append(Chart(
                    f"{s}-{dim}", s, dim, f"{s}: {label}, source beside target",
                    f"target: core.incident counted now; source: the same count in every bucket check {row.check} "
                    f"(run {row.run_id}) found equal, its expected count where it did not",
                    tuple(cats), (Series("source", tuple(source.get(c, 0) for c in cats)),
                                  Series("target", tuple(target.get(c, 0) for c in cats))), note))
        return charts


def _is_count_totals(detail: Any) -> bool:
    """A control total over core.incident that counts rows per bucket (and lists the differing ones)."""
    return (isinstance(detail, Mapping) and detail.get("table") == "core.incident"
            and isinstance(detail.get("by"), list) and isinstance(detail.get("measures"), list)
            and "count" in detail["measures"])


def _count_deltas(detail: Mapping[str, Any], dim: str, borough_names: Mapping[str, str]
                  ) -> tuple[dict[str, int], int, bool]:
    """(category → expected − target count, differences listed, whether the list is complete)."""
    by = [str(b) for b in detail.get("by") or []]
    col = next(b for b in by if dt.dimension_of(b) == dim)
    out: dict[str, int] = defaultdict(int)
    for key in ("differences", "within_tolerance"):
        for d in detail.get(key) or []:
            if not isinstance(d, Mapping) or d.get("measure") != "count" or not isinstance(d.get("bucket"), Mapping):
                continue
            e, t = _as_int(d.get("expected")), _as_int(d.get("target"))
            if e is None or t is None:
                continue
            v = d["bucket"].get(col)
            if v is None:
                cat = NO_MONTH if dim == "month" else NO_BOROUGH
            else:
                cat = _as_month(str(v)) if dim == "month" else borough_names.get(str(v).strip(), str(v))
            out[cat] += e - t
    listed = len(detail.get("differences") or [])
    total = detail.get("differing")
    return dict(out), listed, not isinstance(total, int) or total <= listed


def _as_int(v: Any) -> int | None:
    """``12``, ``"1,234"`` → int; anything else None (counts are written with thousands separators)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v.replace(",", "").strip())
        except ValueError:
            return None
    return None


# --------------------------------------------------------------------------- charts from buckets
def _month_axis(counts: Mapping[str, int | None]) -> list[str]:
    """Every month from the first to the last (gaps are months with no rows), then the undated."""
    months = sorted(k for k in counts if _is_month(k))
    out: list[str] = []
    if months:
        y, m = int(months[0][:4]), int(months[0][5:7])
        end = (int(months[-1][:4]), int(months[-1][5:7]))
        while (y, m) <= end and len(out) < 1200:
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    out.extend(sorted(k for k in counts if not _is_month(k)))
    return out


def _is_month(k: str) -> bool:
    return len(k) == 7 and k[4] == "-" and k[:4].isdigit() and k[5:].isdigit()


def _borough_axis(counts: Mapping[str, int | None]) -> list[str]:
    return sorted(counts, key=lambda k: (k.startswith("("), k))


def _as_month(v: str) -> str:
    """``2009-01-01``, ``2009-01-01T00:00:00+00:00``, ``2009-01``, ``200901`` → ``2009-01``."""
    s = v.strip()
    if len(s) >= 7 and s[4] == "-" and s[:4].isdigit() and s[5:7].isdigit():
        return s[:7]
    if len(s) == 6 and s.isdigit():
        return f"{s[:4]}-{s[4:]}"
    try:
        d = date.fromisoformat(s[:10])
        return f"{d.year:04d}-{d.month:02d}"
    except ValueError:
        return s


def _bucket_charts(stage: str, check: CheckRow, buckets: list[dt.BucketCount],
                   borough_names: Mapping[str, str]) -> list[Chart]:
    if not buckets:
        return []
    dims = {d for b in buckets for d in b.dims}
    wanted: list[str] = [d for d in ("month", "borough") if d in dims]
    if not wanted:  # buckets of another kind: one chart over the first dimension, if it is small
        other = sorted(dims - {"dataset"}) or sorted(dims)
        wanted = other[:1]
    charts = []
    for dim in wanted:
        src: dict[str, int | None] = {}
        tgt: dict[str, int | None] = {}
        for b in buckets:
            label = b.dims.get(dim, "(none)")
            if dim == "month":
                label = _as_month(label)
            elif dim == "borough":
                label = borough_names.get(label.strip(), label)
            src[label] = _add(src.get(label), b.source)
            tgt[label] = _add(tgt.get(label), b.target)
        cats = _month_axis(src | tgt) if dim == "month" else _borough_axis(src | tgt)
        if len(cats) > 400:
            continue
        datasets = sorted({b.dims["dataset"] for b in buckets if "dataset" in b.dims})
        what = f" ({', '.join(datasets)})" if datasets else ""
        title = {"month": f"{stage}: rows per month{what}, source beside target",
                 "borough": f"{stage}: rows per borough{what}, source beside target"}.get(
            dim, f"{stage}: rows per {dim}{what}, source beside target")
        charts.append(Chart(
            re.sub(r"[^A-Za-z0-9_-]+", "-", f"{stage}-{dim}-{check.check}"), stage, dim, title,
            f"check {check.check} (run {check.run_id})", tuple(cats),
            (Series("source", tuple(src.get(c, 0) for c in cats)),
             Series("target", tuple(tgt.get(c, 0) for c in cats)))))
    return charts


def _add(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


# --------------------------------------------------------------------------- verdicts
def _stage_verdict(sc: _StageScope, state: str, ever_ran: bool, checks: list[CheckRow],
                   acct: list[AccountingRow]) -> tuple[str, list[str]]:
    """A stage's verdict from what the report shows of it (the verdict of a report of one run;
    a report of the whole target takes the migration's, and keeps these reasons as detail)."""
    s = sc.stage
    if not sc.runs and ever_ran and sc.check_run is None:
        return INCOMPLETE, [f"{s}: rolled back; nothing of it is in the target"]
    fails: list[str] = []
    for run in sc.runs:
        if run.outcome == "failed":
            fails.append(f"{s}: the {run.kind} run {run.run_id} failed and has not been resumed to the end")
    for c in checks:
        if c.failed and c.accepted is None:
            fails.append(f"{s}: check {c.check} {c.status.upper()} — {c.summary}")
    for a in acct:
        if not a.balanced:
            fails.append(f"{s}/{a.source_table} (run {a.run_id}): accounting does not balance (read {a.read:,}, "
                         f"accounted {a.accounted:,}, off by {a.difference:+,})")
    if state == "check_failed" and sc.check_run is None and not any(c.failed for c in checks):
        fails.append(f"{s}: the ledger marks the stage check_failed")
    if fails:
        return FAIL, fails
    if not sc.runs and not checks:
        return INCOMPLETE, [f"{s}: not loaded"]
    running = [r for r in sc.runs if r.outcome == "running"]
    if running:
        return INCOMPLETE, [f"{s}: the {r.kind} run {r.run_id} has not finished" for r in running]
    if not checks:
        last = sc.last
        since = f" since its {last.kind} run {last.run_id}" if last else ""
        return INCOMPLETE, [f"{s}: no reconciliation results{since}"]
    notes = [f"{s}: check {c.check} WARN — {c.summary}" for c in checks if c.status == "warn"]
    accepted = [f"{s}: check {c.check} {c.status.upper()}, accepted by {c.accepted.by}: {c.accepted.reason}"
                for c in checks if c.accepted is not None]
    return (PASS_WITH_ACCEPTED if accepted else PASS), notes + accepted


def _overall(stages: Iterable[StageSummary]) -> Verdict:
    """The verdict of a report of one run: the worst of its stages (FAIL wins)."""
    stages = list(stages)
    if not stages:
        return Verdict(INCOMPLETE, ("nothing has been loaded into this target yet",))
    order = (FAIL, INCOMPLETE, PASS_WITH_ACCEPTED, PASS)
    reasons = tuple(r for level in order for s in stages if s.verdict == level for r in s.reasons)
    status = next(level for level in order if any(s.verdict == level for s in stages))
    return Verdict(status, reasons, planned=len(stages),
                   reconciled=sum(1 for s in stages if s.verdict in (PASS, PASS_WITH_ACCEPTED)))


#: a stage's state for the migration's verdict → the stage's verdict in the report
_STAGE_VERDICT = {lv.RECONCILED: PASS, lv.ACCEPTED: PASS_WITH_ACCEPTED, lv.CHECK_FAILED: FAIL}


def _with_migration_verdict(summaries: list[StageSummary], mv: lv.MigrationVerdict
                            ) -> tuple[list[StageSummary], Verdict]:
    """Every planned stage in plan order (those not started included), each with the
    migration's state and reason first; stages only the ledger knows follow, not counted."""
    from dataclasses import replace

    by = {s.stage: s for s in summaries}
    out: list[StageSummary] = []
    for sv in mv.stages:
        verdict = _STAGE_VERDICT.get(sv.state, INCOMPLETE)
        mine = by.pop(sv.stage, None)
        if mine is None:
            mine = StageSummary(stage=sv.stage, state="not_started", load_run_id=None, loaded_at=None, tables=(),
                                rows_read=0, rows_loaded=0, rows_quarantined=0, checks={}, verdict=verdict,
                                reasons=())
        own = [r for r in mine.reasons if r != f"{sv.stage}: not loaded"]
        stage_reasons = [f"{sv.stage}: {scrub(sv.reason)}"] + own if not sv.reconciled else own
        out.append(replace(mine, verdict=verdict, verdict_state=sv.state, reasons=tuple(stage_reasons)))
    for rest in by.values():
        out.append(replace(rest, planned=False, reasons=rest.reasons + (
            f"{rest.stage}: not a stage of the mapping set; not counted in the verdict",)))
    order = {FAIL: 0, INCOMPLETE: 1, PASS_WITH_ACCEPTED: 2, PASS: 3}
    ranked = sorted(((order[s.verdict], i, r) for i, s in enumerate(out) if s.planned for r in s.reasons))
    reasons = list(dict.fromkeys(r for _o, _i, r in ranked))
    if not mv.stages:
        reasons = ["nothing has been loaded into this target yet"]
    return out, Verdict(mv.status, tuple(reasons), summary=mv.summary, planned=mv.planned,
                        reconciled=mv.reconciled)
