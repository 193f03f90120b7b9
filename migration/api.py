"""The library facade: every operation of the migration as one call (re-exported by ``migration``).

The CLI, ``scripts/bench.py`` and the tests call these; each command of
``safestats-migrate`` is: parse the options, make one call here, render what it returns.
Policy lives here or below, never in the CLI: which engines a command opens (and that they
are disposed), the order things happen in, which outcome is which error (and so which exit
code of the table in runbooks/README.md).  Nothing here prints: messages go through the
``console`` object, results are returned as data, failures are raised as
:class:`~migration.errors.SafeStatsError`.

::

    import migration

    settings = migration.load_settings()
    plan = migration.plan(settings, console)
    results = migration.run(settings, console, all_=True)

Names that would shadow a sub-package of ``migration`` are verbs here (``make_plan``,
``reconcile_stages``, ``roll_back``, ``write_report``): ``migration.plan`` stays the package,
and ``import migration.plan as p`` keeps meaning it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import URL, Engine

from migration import reconcile as _reconcile
from migration.audit import profile_legacy
from migration.audit.preflight import PreflightReport
from migration.audit.preflight import preflight as _preflight
from migration.audit.profile import ProfileResult
from migration.console import Console, RunLog
from migration.db.catalog import SourceCatalog
from migration.db.engines import check_connect, target_engine
from migration.errors import (
    CheckFailed,
    ChecksCouldNotRun,
    MigrationIncomplete,
    SafeStatsError,
    UnknownNameError,
    UsageError,
)
from migration.interrupt import parse_stop_at
from migration.ledger import Ledger, RunSummary
from migration.ledger import quarantine as _quarantine
from migration.ledger.quarantine import QuarantineGroup, QuarantineRecord
from migration.ledger.signatures import Signature
from migration.ledger.verdict import EXIT_CODES as VERDICT_EXIT_CODES
from migration.ledger.verdict import FAIL, INCOMPLETE, MigrationVerdict
from migration.legacy import AdvanceResult, GenerateResult
from migration.legacy import advance as _advance
from migration.legacy import generate as _generate
from migration.mapping.order import parsed_specs
from migration.mapping.validate import ValidationReport, language_schema
from migration.mapping.validate import validate as _validate
from migration.ops import cutover as _ops_cutover
from migration.ops import diagnose as _diagnose
from migration.ops import sign as _sign
from migration.ops import status as _ops_status
from migration.ops import verify as _verify
from migration.ops.cutover import Checklist, FreezeResult, GoResult
from migration.ops.decide import DecideResult, decision_counts, record_decisions
from migration.ops.decide import decide as _decide
from migration.ops.items import Item
from migration.ops.sign import ReportFile
from migration.ops.status import MigrationStatus
from migration.ops.verify import VerifyOutcome
from migration.plan import Plan, TableLineage, lineage_of, prepare_plan
from migration.plan.execute import Executor, Orchestrator, Result
from migration.plan.undo import RollbackRunner
from migration.reconcile import ReconcileOutcome
from migration.report import Report, build_report, parse_formats, write_reports
from migration.rollback import RunUndo
from migration.schema import api as _schema
from migration.schema.api import RevisionInfo, SchemaChange, SchemaCheck, SchemaStatus
from migration.secrets import redact_url
from migration.settings import Settings, command_line_url, load_settings
from migration.version import __version__

ACCEPT_HINT = "fix and reconcile again, roll the stage back, or accept it " \
              "(`safestats-migrate reconcile accept STAGE --reason \"…\"`)"


def _stage_names(settings: Settings) -> list[str]:
    """The stages of the configured mapping set, in run order."""
    return [s.stage for s in parsed_specs(settings.mappings_dir)]


def _known_stage(settings: Settings, stage: str | None) -> None:
    """An unknown stage is a usage error (exit 2) that lists the valid ones."""
    if stage is None:
        return
    names = _stage_names(settings)
    if stage not in names:
        raise UnknownNameError(f"unknown stage {stage!r}", hint=f"stages are: {', '.join(names)}")


@contextmanager
def _target(settings: Settings) -> Iterator[Engine]:
    """The target engine, reachable (else exit 3), disposed when the call ends."""
    engine = target_engine(settings.require_target())
    try:
        check_connect(engine, role="target")
        yield engine
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- plan and run
def make_plan(settings: Settings, console: Console, stages: Iterable[str] | None = None, *, mode: str = "load",
         gate: bool = True, count_rows: bool = True) -> Plan:
    """The plan ``run`` would execute, from the mapping files, the source's row counts and the
    target's ledger (an unreachable target is exit 3; without a target every stage is fresh,
    and the console says so).  Writes nothing."""
    only = list(stages or []) or None
    built = prepare_plan(settings.mappings_dir, source_url=settings.source_url if count_rows else None,
                         target_url=settings.target_url, only=only, mode=mode, gate=gate)
    if settings.target_url is None:
        console.info("no target database is configured: the plan is the one of a fresh target "
                     "(set SAFESTATS_TARGET_URL or pass --target to see what `run` would do there)")
    return built


def orchestrator(settings: Settings, console: Console, *, chunk_rows: int | None = None, reconcile: bool = True,
                 fault: Callable[..., None] | None = None, max_rows_per_second: float | None = None,
                 strict: bool = False) -> Orchestrator:
    """The run's orchestrator, for callers that need its engines or timings (the benchmark);
    close it when done.  :func:`run` and :func:`delta` make and close one themselves."""
    if chunk_rows is not None:
        settings = replace(settings, chunk_rows=chunk_rows)
    if max_rows_per_second is not None:
        if not max_rows_per_second > 0:
            raise UsageError(f"--max-rows-per-second must be positive, not {max_rows_per_second}",
                             hint="leave it out to read as fast as the legacy allows")
        settings = replace(settings, max_rows_per_second=max_rows_per_second)
    return Orchestrator(settings, console, fault=fault, reconcile=reconcile, strict=strict)


def stop_time(stop_at: str | datetime | None) -> datetime | None:
    """``--stop-at``: ``HH:MM`` (London time, today) or an ISO date-time; one already past is a
    usage error (exit 2) before anything is opened or written."""
    if stop_at is None or isinstance(stop_at, datetime):
        return stop_at
    return parse_stop_at(stop_at)


@contextmanager
def _run_log(settings: Settings, console: Console, rate: float | None = None) -> Iterator[RunLog]:
    """The run's console: ``console``, and every message kept, redacted, in ``run-<id>.log`` under
    ``settings.run_logs_dir``; the error the run ends with is written there too."""
    log = RunLog(console, settings.run_logs_dir)
    log.note(f"safestats-migrate {__version__}; source {redact_url(settings.source_url)}; target "
             f"{redact_url(settings.target_url)}; chunk_rows {settings.chunk_rows}; max_rows_per_second "
             f"{rate or settings.max_rows_per_second or 'unlimited'}")
    try:
        yield log
    except SafeStatsError as exc:
        log.error(exc.one_line() + (f" — {exc.hint}" if exc.hint else ""))
        raise
    except BaseException as exc:
        log.error(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        log.close()


def run(settings: Settings, console: Console, stages: Iterable[str] = (), *, all_: bool = False,
        chunk_rows: int | None = None, reconcile: bool = True,
        executor: Callable[[Plan], Executor] | None = None, stop_at: str | datetime | None = None,
        max_rows_per_second: float | None = None, strict: bool = False) -> list[Result]:
    """Load stages: take the lock, build the plan under it, execute it (each stage reconciled
    before the next starts, unless ``reconcile`` is False).  ``stop_at``: stop at the first chunk
    boundary after that time, like Ctrl-C (exit 130, resumable); ``max_rows_per_second``: read
    the legacy no faster; ``strict``: refuse to resume a stage loaded by another package version.
    Every message goes to ``run-<id>.log`` as well (:class:`migration.console.RunLog`)."""
    names = list(stages)
    when = stop_time(stop_at)
    with _run_log(settings, console, max_rows_per_second) as log:
        orch = orchestrator(settings, log, chunk_rows=chunk_rows, reconcile=reconcile,
                            max_rows_per_second=max_rows_per_second, strict=strict)
        try:
            return orch.run(names, all_=all_, command="run " + " ".join(["--all"] if all_ else names),
                            executor=executor, stop_at=when)
        finally:
            orch.close()


def delta(settings: Settings, console: Console, stages: Iterable[str] = (), *, all_: bool = False,
          dry_run: bool = False, accept_mapping_change: bool = False, redrive: bool = False,
          chunk_rows: int | None = None, reconcile: bool = True, stop_at: str | datetime | None = None,
          max_rows_per_second: float | None = None, strict: bool = False) -> list[Result]:
    """Bring loaded stages up to date with the legacy (``redrive``: re-process exactly the
    quarantined rows); ``dry_run`` says what it would do.  ``stop_at``, ``max_rows_per_second``,
    ``strict`` and the log file: as :func:`run` (``strict`` refuses a stage whose full load was
    made by another package version)."""
    when = stop_time(stop_at)
    with _run_log(settings, console, max_rows_per_second) as log:
        orch = orchestrator(settings, log, chunk_rows=chunk_rows, reconcile=reconcile,
                            max_rows_per_second=max_rows_per_second, strict=strict)
        try:
            return orch.delta(list(stages), all_=all_, dry_run=dry_run,
                              accept_mapping_change=accept_mapping_change, redrive=redrive,
                              command="run --redrive-quarantine" if redrive else "run --delta", stop_at=when)
        finally:
            orch.close()


# ---------------------------------------------------------------------------- reconcile
def reconcile_stages(settings: Settings, console: Console, stages: Iterable[str] = (), *,
                     all_: bool = False) -> ReconcileOutcome:
    """Run the checks of the named stages (or of every loaded stage) and record them."""
    return _reconcile.reconcile(settings, console, list(stages), all_=all_)


def accept(settings: Settings, console: Console, stage: str, reason: str) -> dict[str, Any]:
    """Record that a person accepts the failed checks of ``stage``, with a reason."""
    return _reconcile.accept(settings, console, stage, reason)


def verdict(settings: Settings) -> MigrationVerdict:
    """The migration's verdict over every planned stage, from the ledger."""
    return _reconcile.verdict(settings)


def reconcile_failure(outcome: ReconcileOutcome, *, all_: bool, strict: bool) -> SafeStatsError | None:
    """The error a reconciliation ends with, or None when it passed (the exit-code policy).

    With ``all_`` the migration's verdict decides: FAIL → CheckFailed (1), INCOMPLETE →
    MigrationIncomplete (3).  With stages their checks decide: a failed check → 1, a check
    that could not run → ChecksCouldNotRun (3).  Warnings under ``strict``: 1."""
    results = [(s.stage, r) for s in outcome.stages for r in s.results]
    failed = [(st, r) for st, r in results if r.status == "fail"]
    errors = [(st, r) for st, r in results if r.status == "error"]
    warned = [(st, r) for st, r in results if r.status == "warn"]
    v = outcome.verdict
    if all_ and v is not None:
        if v.status == FAIL:
            return CheckFailed(v.summary, hint=ACCEPT_HINT)
        if v.status == INCOMPLETE:
            return MigrationIncomplete(v.summary, hint=next_step(v))
    elif not all_:
        if failed:
            stage, r = failed[0]
            return CheckFailed(f"{len(failed)} check(s) failed (run {outcome.run_id}); first: {stage} {r.check}: "
                               f"{r.summary}", hint=ACCEPT_HINT)
        if errors:
            stage, r = errors[0]
            return ChecksCouldNotRun(f"{len(errors)} check(s) could not run (run {outcome.run_id}); first: {stage} "
                                     f"{r.check}: {r.summary}", hint="fix the cause and reconcile again")
    if warned and strict:
        stage, r = warned[0]
        return CheckFailed(f"{len(warned)} warning(s) under --strict (run {outcome.run_id}); first: "
                           f"{stage} {r.check}: {r.summary}", hint="fix the cause, or reconcile without --strict")
    return None


def next_step(verdict: MigrationVerdict) -> str:
    """What to do about an INCOMPLETE verdict, for the first stage that is not reconciled."""
    todo = verdict.not_reconciled
    if not todo:
        return "see the table above"
    first = todo[0]
    if first.state in ("stale", "not_reconciled", "checks_error"):
        return f"reconcile it (`safestats-migrate reconcile {first.stage}`)"
    return f"load the stages not started or failed (`safestats-migrate run --all` resumes), first {first.stage}"


# ---------------------------------------------------------------------------- rollback
def roll_back(settings: Settings, console: Console, stage: str | None = None, *, run_id: int | None = None,
              all_: bool = False, cascade: bool = False, dry_run: bool = False,
              after_cutover: bool = False) -> list[RunUndo]:
    """Undo one stage's runs (``run_id``: that run and the later ones, last-in-first-out;
    ``cascade``: the dependent stages first) or, with ``all_``, every run of every stage in
    reverse load order.  ``after_cutover``: back out after ``cutover go`` (refused while the
    target holds rows no migration run wrote).  An empty list: nothing to undo (the console
    said why)."""
    if not stage and not all_:
        raise UsageError("name a stage, or pass --all", hint="`safestats-migrate rollback STAGE` or `--all`")
    specs = parsed_specs(settings.mappings_dir)
    with _target(settings) as engine:
        rb = RollbackRunner(engine, specs, console, after_cutover=after_cutover)
        if all_:
            return rb.all(dry_run=dry_run)
        return rb.run(str(stage), run_id, cascade=cascade, dry_run=dry_run,
                      command=f"rollback {stage}" + (f" --run {run_id}" if run_id else ""))


# ---------------------------------------------------------------------------- report
@dataclass
class ReportOutcome:
    report: Report
    paths: list[Path]
    #: with ``check``: the error a failing verdict ends the command with (None: it passed)
    failure: SafeStatsError | None = None


def write_report(settings: Settings, run_id: int | None = None, *, out: Path | None = None,
                 formats: str | Iterable[str] = "html,json,md", check: bool = False,
                 now: datetime | None = None) -> ReportOutcome:
    """Build the reconciliation report and write it (default folder: a timestamped one under
    ``settings.reports_dir``).  ``check``: a FAIL or INCOMPLETE verdict becomes ``failure``."""
    wanted = parse_formats(formats)
    folder = out or settings.reports_dir / (now or datetime.now(ZoneInfo("Europe/London"))).strftime(
        "%Y%m%d-%H%M%S")
    specs = parsed_specs(settings.mappings_dir)
    with _target(settings) as engine:
        result = build_report(engine, run_id, planned=[s.stage for s in specs], specs=specs)
    paths = write_reports(result, folder, wanted)
    outcome = ReportOutcome(result, paths)
    v = result.verdict
    if check and VERDICT_EXIT_CODES.get(v.status, 0):  # the one table: `reconcile --all` uses it too
        first = next(iter(v.reasons), "")
        what = (v.summary or v.label) + (f" — first: {first}" if first else "")
        hint = f"the report is in {paths[0].parent}; see runbooks/report.md"
        outcome.failure = CheckFailed(what, hint=hint) if v.status == "FAIL" else MigrationIncomplete(what, hint=hint)
    return outcome


def sign_report(settings: Settings, folder: Path | None, *, name: str, role: str,
                incomplete: bool = False) -> tuple[ReportFile, Signature]:
    """Append a sign-off record for the report in ``folder`` (default: the newest under the
    reports folder): refused unless the verdict is PASS(_WITH_ACCEPTED) and no quarantine is
    undecided, or ``incomplete``, which the record shows."""
    if folder is None:
        newest = _ops_cutover.latest_report(settings.reports_dir)
        if newest is None:
            raise UsageError(f"no report under {settings.reports_dir}",
                             hint="write one with `safestats-migrate report`, or name its folder")
        folder = Path(newest["path"])
    rep = _sign.read_report(folder)
    with _target(settings) as engine:
        return rep, _sign.sign(engine, rep, name=name, role=role, incomplete=incomplete)


def verify_ledger(settings: Settings, folder: Path | None = None) -> VerifyOutcome:
    """Recompute the ledger's digest chain and check that the report in ``folder`` (default: the
    newest under the reports folder, if any) records a head that is a link of it.  A difference
    is ``outcome.failure`` (exit 1), naming the first changed or deleted row."""
    if folder is None:
        newest = _ops_cutover.latest_report(settings.reports_dir)
        folder = Path(newest["path"]) if newest is not None else None
    with _target(settings) as engine:
        outcome = _verify.verify(engine, folder)
    if folder is None:
        outcome.notes.append(f"no report under {settings.reports_dir}: the chain is checked, no report's head")
    return outcome


def diagnose(settings: Settings, out: Path) -> dict[str, Any]:
    """Write the bundle to send when calling for help (versions, redacted settings, the plan, the
    lock holder, latest runs and events — no password, no row data); returns what was written."""
    return _diagnose.write_bundle(settings, out)


# ---------------------------------------------------------------------------- runs and quarantine
def runs(settings: Settings, *, stage: str | None = None, limit: int = 20) -> tuple[list[RunSummary], int]:
    """The runs in the ledger, newest first (at most ``limit``), and how many there are."""
    _known_stage(settings, stage)
    with _target(settings) as engine:
        ledger = Ledger(engine)
        ledger.require_installed()
        return ledger.runs(limit=limit, stage=stage)


@contextmanager
def _quarantine_target(settings: Settings, *, stage: str | None = None, reason: str | None = None,
                       run_id: int | None = None) -> Iterator[Engine]:
    """The target, checked: reachable (3), with the ledger schema (3), every name known (2)."""
    with _target(settings) as engine:
        stages = _stage_names(settings) if stage is not None else []
        _quarantine.check_names(engine, stages=stages, stage=stage, reason=reason, run_id=run_id)
        yield engine


@dataclass
class QuarantineSummary:
    groups: list[QuarantineGroup]
    #: open and settled records per stage, reason and decision
    decided: list[dict[str, Any]]


def quarantine_summary(settings: Settings, *, stage: str | None = None, run_id: int | None = None,
                       include_closed: bool = False) -> QuarantineSummary:
    """Quarantined rows per stage, table and reason, and the decisions taken about them."""
    with _quarantine_target(settings, stage=stage, run_id=run_id) as engine:
        return QuarantineSummary(
            _quarantine.summary(engine, stage=stage, include_closed=include_closed, run_id=run_id),
            decision_counts(engine, stage=stage))


@dataclass
class QuarantineRecords:
    records: list[QuarantineRecord]
    #: every record that matches (more than ``records`` when the limit cut them)
    total: int
    #: quarantine id → (decision, who, when) of the records that have one
    decisions: dict[int, tuple[str, str, datetime]]


def quarantine_records(settings: Settings, what: str, *, stage: str | None = None, reason: str | None = None,
                       run_id: int | None = None, limit: int = 50) -> QuarantineRecords:
    """Records by quarantine id, legacy or business key, or ``all`` of a stage/reason.  A
    number that is no quarantine id is tried as a legacy key."""
    qid = int(what) if what.isdigit() and len(what) < 12 else None
    key = None if qid is not None or what == "all" else what
    with _quarantine_target(settings, stage=stage, reason=reason, run_id=run_id) as engine:
        recs = _quarantine.records(engine, stage=stage, reason=reason, key=key, quarantine_id=qid, run_id=run_id,
                                   limit=limit)
        if not recs and qid is not None:
            key, qid = what, None
            recs = _quarantine.records(engine, stage=stage, reason=reason, key=key, run_id=run_id, limit=limit)
        total = len(recs) if len(recs) < limit else _quarantine.count_records(
            engine, stage=stage, reason=reason, key=key, quarantine_id=qid, run_id=run_id)
        decided = record_decisions(engine, [r.quarantine_id for r in recs])
    return QuarantineRecords(recs, total, decided)


def quarantine_decide(settings: Settings, *, decision: str, note: str, keys: list[str] | None = None,
                      stage: str | None = None, reason: str | None = None, by: str | None = None) -> DecideResult:
    """Record a decision about open quarantined rows: by key, or by stage and reason."""
    return _decide(settings, decision=decision, note=note, keys=keys, stage=stage, reason=reason, by=by)


def quarantine_export(settings: Settings, out: Path, *, fmt: str = "csv", stage: str | None = None,
                      include_closed: bool = False) -> int:
    """Write the quarantine records to CSV or JSON; returns how many were written."""
    if fmt not in ("csv", "json"):
        raise UsageError(f"unknown export format {fmt}", hint="use --format csv or --format json")
    with _quarantine_target(settings, stage=stage) as engine:
        return _quarantine.export(engine, out, stage=stage, fmt=fmt, include_closed=include_closed)


# ---------------------------------------------------------------------------- audit
def profile(settings: Settings, console: Console, stages: Iterable[str] = (), *,
            sample: int | None = None) -> ProfileResult:
    """Profile the legacy database against the mappings; predict what ``run`` will do (read-only)."""
    return profile_legacy(settings, stages=list(stages), sample=sample, console=console)


def preflight(settings: Settings, *, record: bool = False) -> PreflightReport:
    """Check source, target, roles, lock, mapping files and legacy schema drift."""
    return _preflight(settings, record=record)


# ---------------------------------------------------------------------------- mapping files
def validate_mappings(settings: Settings, path: Path | None = None, *, offline: bool = False) -> ValidationReport:
    """Every problem of the mapping files (a folder, or one file checked among its neighbours),
    compared with the live legacy database unless ``offline`` or no source is set."""
    location = path or settings.mappings_dir
    source = None if offline or settings.source_url is None else SourceCatalog(settings.source_url)
    if location.is_file():  # one file, checked among its neighbours (its dependencies live there)
        return _validate(location.parent, source=source, focus=location)
    return _validate(location, source=source)


def mapping_schema() -> dict[str, Any]:
    """The JSON Schema of the mapping language."""
    return language_schema()


def lineage(settings: Settings, table: str) -> TableLineage:
    """Source → target lineage of one legacy table."""
    return lineage_of(settings.mappings_dir, table)


# ---------------------------------------------------------------------------- the synthetic legacy
def legacy_url(text: str) -> URL:
    """A legacy URL typed on a command line (``--url``): a password in it is refused (one rule,
    :func:`migration.settings.command_line_url`); SAFESTATS_SOURCE_PASSWORD supplies one."""
    return command_line_url(text, role="source", origin="--url")


def generate_legacy(url: str | URL, scale: float, seed: int, manifest: Path | None = None, *, console: Console,
                    keys: bool | None = None, replace: bool = False) -> GenerateResult:
    """Generate a synthetic legacy SafeStats database and its ground-truth manifest."""
    return _generate(legacy_url(url) if isinstance(url, str) else url, scale, seed, manifest, console=console,
                     keys=keys, replace=replace)


def advance_legacy(url: str | URL, days: int, seed: int, manifest: Path | None = None, *,
                   console: Console) -> AdvanceResult:
    """Simulate days of legacy activity and record them in the manifest."""
    return _advance(legacy_url(url) if isinstance(url, str) else url, days, seed, manifest, console=console)


# ---------------------------------------------------------------------------- the target schema
def upgrade_schema(url: URL | str | None, revision: str | None = "heads", *, sql: bool = False) -> SchemaChange:
    """Upgrade the target schema (both branches by default); ``sql``: the DDL only, no database."""
    return _schema.upgrade(url, revision, sql=sql)


def downgrade_schema(url: URL | str | None, revision: str, *, sql: bool = False, force: bool = False) -> SchemaChange:
    """Downgrade the target schema; refuses to drop loaded data or a used ledger without ``force``."""
    return _schema.downgrade(url, revision, sql=sql, force=force)


def schema_status(url: URL | str) -> SchemaStatus:
    """The revisions the target database is at."""
    return _schema.current(url)


def schema_history() -> list[RevisionInfo]:
    """Every revision of both branches, base first (no database needed)."""
    return _schema.history()


def check_schema(url: URL | str) -> SchemaCheck:
    """Compare the target database with the model (like ``alembic check``)."""
    return _schema.check(url)

# ---------------------------------------------------------------- operating the transition
def migration_status(settings: Settings, *, lag: bool = True, stalled_after: timedelta = timedelta(minutes=15)) -> MigrationStatus:
    """Each planned stage's state, checks, last delta and lag; quarantine by decision; the lock; the verdict."""
    return _ops_status.migration_status(settings, lag=lag, stalled_after=stalled_after)


def cutover_checklist(settings: Settings) -> Checklist:
    """The go/no-go checklist, each item with its evidence; records nothing."""
    return _ops_cutover.checklist(settings)


def cutover_freeze(settings: Settings) -> FreezeResult:
    """Record the freeze: the legacy's rows, highest keys, watermarks and key-set digests, now."""
    return _ops_cutover.freeze(settings)


def cutover_go(settings: Settings) -> GoResult:
    """Check again under the lock, record the go decision, run the post-cutover checks."""
    return _ops_cutover.go(settings)


def cutover_post_checks(settings: Settings) -> tuple[dict[str, Any], list[Item]]:
    """The post-cutover checks again (sequences, rows per dataset, row-level security)."""
    return _ops_cutover.post_checks(settings)


__all__ = [
    "diagnose",
    "sign_report", "verify_ledger", "VerifyOutcome",
    "cutover_checklist", "cutover_freeze", "cutover_go", "cutover_post_checks", "migration_status",
    "Orchestrator", "Plan", "QuarantineRecords", "QuarantineSummary", "ReportOutcome", "Result", "Settings",
    "accept", "advance_legacy", "check_schema", "delta", "downgrade_schema", "generate_legacy", "legacy_url",
    "lineage", "load_settings", "make_plan", "mapping_schema", "next_step", "orchestrator", "preflight", "profile",
    "quarantine_decide", "quarantine_export", "quarantine_records", "quarantine_summary", "reconcile_failure", "reconcile_stages",
    "roll_back", "run", "runs", "schema_history", "schema_status", "upgrade_schema", "validate_mappings",
    "verdict", "write_report",
]
