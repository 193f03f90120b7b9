"""``safestats-migrate preflight``: is the ground ready for a run?  One line per check.

Every check gives PASS, WARN or FAIL with what to do.  The exit code follows the table
in DESIGN.md: 0 ready (WARN lines included), 1 not ready (a FAIL), 3 a database could not
be reached (the checks that need it are not run).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from migration.audit import fingerprint
from migration.audit.estimate import BENCH_BYTES_PER_ROW
from migration.audit.fingerprint import diff, mapped_columns, mapped_drift
from migration.db.engines import check_connect, source_engine, target_engine
from migration.db.source import SourceReader
from migration.errors import LockError, SafeStatsError
from migration.ledger import history
from migration.ledger.lock import MigrationLock
from migration.mapping.order import parsed_specs
from migration.mapping.spec import StageSpec
from migration.mapping.validate import validate
from migration.reconcile.spec import load_checks
from migration.schema import api
from migration.schema.roles import APP_ROLE, MIGRATOR_ROLE
from migration.secrets import redact_url, scrub
from migration.settings import Settings

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
#: lines of the schema diff shown in a WARN
DIFF_LINES = 20


@dataclass(frozen=True)
class CheckLine:
    status: str          # PASS | WARN | FAIL
    check: str
    message: str
    action: str = ""     # what to do (empty on PASS)

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "check": self.check, "message": self.message, "action": self.action}


@dataclass
class PreflightReport:
    lines: list[CheckLine] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    recorded: str | None = None      # the fingerprint hash recorded by --record

    def add(self, status: str, check: str, message: str, action: str = "") -> None:
        self.lines.append(CheckLine(status, check, scrub(message), scrub(action)))

    @property
    def exit_code(self) -> int:
        if self.unreachable:
            return 3
        return 1 if any(x.status == FAIL for x in self.lines) else 0

    @property
    def verdict(self) -> str:
        return {0: "READY", 1: "NOT READY", 3: "UNREACHABLE"}[self.exit_code]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "exit_code": self.exit_code, "lines": [x.to_dict() for x in self.lines],
                "recorded": self.recorded}


def _guard(report: PreflightReport, check: str, fn: Callable[[], None], action: str) -> None:
    """Run one check; an unexpected error is that check's FAIL, never the end of the preflight."""
    try:
        fn()
    except SafeStatsError as exc:
        report.add(FAIL, check, exc.what, exc.hint or action)
    except Exception as exc:
        report.add(FAIL, check, f"{type(exc).__name__}: {getattr(exc, 'orig', exc)}".splitlines()[0], action)


# --------------------------------------------------------------------------- source
def _source_checks(report: PreflightReport, engine: Engine, specs: list[StageSpec], settings: Settings) -> None:
    from sqlalchemy import inspect

    ver = engine.dialect.server_version_info
    report.add(PASS, "source reachable", f"legacy database {redact_url(engine.url)} ({engine.dialect.name}"
               + (f" {'.'.join(str(x) for x in ver)}" if ver else "") + ")")
    tables = sorted({tm.source.table for s in specs for tm in s.tables})
    live = {t.lower(): t for t in inspect(engine).get_table_names()}
    q = engine.dialect.identifier_preparer.quote
    denied = []
    with engine.connect() as conn:
        for t in tables:
            name = live.get(t.lower())
            if name is None:
                continue  # the drift check names it
            try:
                conn.execute(text(f"SELECT * FROM {q(name)} WHERE 1 = 0")).all()
            except Exception as exc:
                denied.append(f"{t} ({str(getattr(exc, 'orig', exc)).splitlines()[0][:120]})")
                conn.rollback()
    if denied:
        report.add(FAIL, "source SELECT", f"cannot read {len(denied)} legacy table(s): {'; '.join(denied)}",
                   "grant SELECT on them to the migration's login (runbooks/setup.md)")
    else:
        report.add(PASS, "source SELECT", f"SELECT works on all {len(tables)} legacy tables the mappings read")

    def mappings() -> None:
        # the files on their own; their columns against the live source: the schema drift lines below
        v = validate(settings.mappings_dir)
        if v.problems:
            report.add(FAIL, "mapping files", f"{len(v.problems)} problem(s): "
                       + "; ".join(str(p) for p in v.problems[:3]) + (" …" if len(v.problems) > 3 else ""),
                       "run `safestats-migrate mappings validate` for the list and fix the mapping files")
        else:
            report.add(PASS, "mapping files", f"{len(v.files)} mapping files valid (their columns: schema drift below)"
                       + (f" ({len(v.warnings)} warning(s): `mappings validate` lists them)" if v.warnings else ""))
    _guard(report, "mapping files", mappings, "run `safestats-migrate mappings validate`")

    def checks() -> None:
        if not Path(settings.checks_dir).is_dir():
            report.add(WARN, "check files", f"no check folder {settings.checks_dir}",
                       "set checks_dir (config show) — without check files no stage can be reconciled")
            return
        found = load_checks(settings.checks_dir, {s.stage: s for s in specs})
        missing = [s.stage for s in specs if s.stage not in found]
        if missing:
            report.add(WARN, "check files", f"no check file for {', '.join(missing)}",
                       "add checks/<stage>.yaml (runbooks/reconcile.md): those stages cannot pass the gate")
        else:
            report.add(PASS, "check files", f"{len(found)} check files valid")
    _guard(report, "check files", checks, "run `safestats-migrate reconcile` on one stage to see the problems")


def _drift(report: PreflightReport, specs: list[StageSpec], live: dict[str, Any],
           baseline: dict[str, Any] | None) -> None:
    problems = mapped_drift(specs, live, baseline)
    fatal = [p for p in problems if p.fatal]
    soft = [p for p in problems if not p.fatal]
    n_cols = sum(len(c) for c in mapped_columns(specs).values())
    if fatal:
        report.add(FAIL, "schema drift (mapped columns)", "; ".join(p.message for p in fatal),
                   "the mappings read these columns: fix the legacy database or the mapping files, then "
                   "`safestats-migrate mappings validate` (runbooks/preflight.md)")
    else:
        report.add(PASS, "schema drift (mapped columns)", f"all {n_cols} columns the mappings use are present"
                   + ("" if baseline else " (no baseline yet: types and lengths not compared)")
                   + ("" if not baseline or any(p.kind in ("retyped", "narrowed") for p in problems)
                      else ", types and lengths as recorded"))
    for p in soft:
        report.add(WARN, "schema drift (mapped columns)", p.message,
                   "check the mapping still reads it correctly, then `safestats-migrate preflight --record`")
    if baseline is None:
        report.add(WARN, "schema fingerprint", "no fingerprint of the legacy schema is recorded on this target",
                   "the first full `run` records one; or record it now: `safestats-migrate preflight --record`")
        return
    mapped = {(t, c) for t, cols in mapped_columns(specs).items() for c in cols}
    changes = diff(baseline, live, skip=mapped)
    when = baseline.get("recorded_at")
    since = f" since the fingerprint recorded {when:%Y-%m-%d %H:%M} by {baseline.get('recorded_by')}" if when else ""
    if changes:
        shown = changes[:DIFF_LINES] + ([f"… {len(changes) - DIFF_LINES} more"] if len(changes) > DIFF_LINES else [])
        report.add(WARN, "schema drift (elsewhere)", f"{len(changes)} change(s) outside the mapped columns{since}:\n  "
                   + "\n  ".join(shown),
                   "review them (a new column may need mapping or not_migrated), then re-baseline: "
                   "`safestats-migrate preflight --record`")
    else:
        report.add(PASS, "schema drift (elsewhere)", f"the legacy schema matches its fingerprint {live['hash']}{since}")


# --------------------------------------------------------------------------- target
def _target_checks(report: PreflightReport, engine: Engine, settings: Settings, legacy_rows: int | None) -> None:
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
        report.add(PASS, "target reachable", f"PostgreSQL {version} at {redact_url(engine.url)}")
        postgis = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")).scalar()
        available = conn.execute(text("SELECT default_version FROM pg_available_extensions "
                                      "WHERE name = 'postgis'")).scalar()
    if postgis:
        report.add(PASS, "PostGIS", f"PostGIS {postgis} installed")
    elif available:
        report.add(WARN, "PostGIS", f"PostGIS {available} is available but not installed in this database",
                   "`safestats-migrate schema upgrade` installs it")
    else:
        report.add(FAIL, "PostGIS", "PostGIS is not available on this server",
                   "install the server's postgresql-<major>-postgis-3 package (runbooks/setup.md)")

    status = api.current(settings.require_target())
    if status.up_to_date:
        report.add(PASS, "target schema", f"at head ({', '.join(status.heads)})")
    else:
        have = ", ".join(r.revision for r in status.applied) or "nothing installed"
        report.add(FAIL, "target schema", f"not at head: at {have}, head is {', '.join(status.heads)}",
                   "run `safestats-migrate schema upgrade` (runbooks/schema.md)")

    with engine.connect() as conn:
        roles = {r[0]: (r[1], r[2]) for r in conn.execute(text(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname IN (:m, :a)"),
            dict(m=MIGRATOR_ROLE, a=APP_ROLE))}
        me = conn.execute(text("SELECT current_user, pg_has_role(current_user, :m, 'MEMBER'), "
                               "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"),
                          dict(m=MIGRATOR_ROLE)).one() if MIGRATOR_ROLE in roles else None
        owners: dict[str, str] = dict(conn.execute(text(
            "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN "
            "('ref', 'core', 'istv', 'sec', 'ledger', 'staging')")).all())
    if MIGRATOR_ROLE not in roles or APP_ROLE not in roles:
        report.add(FAIL, "roles", f"role {MIGRATOR_ROLE if MIGRATOR_ROLE not in roles else APP_ROLE} does not exist",
                   "run `safestats-migrate schema upgrade` (it creates both roles)")
    else:
        wrong = sorted(n for n, o in owners.items() if o != MIGRATOR_ROLE)
        app_super, app_bypass = roles[APP_ROLE]
        if wrong:
            report.add(FAIL, "roles", f"schemas not owned by {MIGRATOR_ROLE}: {', '.join(wrong)}",
                       f"have a DBA run ALTER SCHEMA … OWNER TO {MIGRATOR_ROLE} (runbooks/schema.md)")
        elif app_super or app_bypass:
            report.add(FAIL, "roles", f"{APP_ROLE} has {'SUPERUSER' if app_super else 'BYPASSRLS'}: row-level "
                       "security would not apply to the application",
                       f"have a DBA run: ALTER ROLE {APP_ROLE} NOSUPERUSER NOBYPASSRLS")
        elif me is not None and not (me[1] or me[2]):
            report.add(FAIL, "roles", f"the login {me[0]} is not a member of {MIGRATOR_ROLE}",
                       f"have a DBA run: GRANT {MIGRATOR_ROLE} TO {me[0]}")
        else:
            report.add(PASS, "roles", f"{MIGRATOR_ROLE} owns the schemas; {APP_ROLE} has no BYPASSRLS; the login "
                       f"{me[0] if me else '?'} may act as the migrator")

    def lock() -> None:
        try:
            with MigrationLock(engine, "preflight"):
                pass
        except LockError as exc:
            report.add(FAIL, "migration lock", exc.what, "wait for it to finish (runbooks/lock.md)")
            return
        report.add(PASS, "migration lock", "free")
    if status.up_to_date:
        _guard(report, "migration lock", lock, "see runbooks/lock.md")

    if legacy_rows is not None:
        need = legacy_rows * BENCH_BYTES_PER_ROW
        free = _free_disk(engine)
        size = f"about {need / 1e9:,.2f} GB for {legacy_rows:,} legacy rows ({BENCH_BYTES_PER_ROW} bytes a row)"
        if free is None:
            report.add(WARN, "target size", f"the target needs {size}; free disk on the database host cannot be "
                       "measured from here",
                       "check on the database host that the filesystem of PostgreSQL's data directory has "
                       "at least twice that free (`df -h` on SHOW data_directory)")
        elif free < need * 2:
            report.add(FAIL, "target size", f"the target needs {size}; {free / 1e9:,.2f} GB free on its data disk",
                       "free space or grow the disk to at least twice the need before the run")
        else:
            report.add(PASS, "target size", f"the target needs {size}; {free / 1e9:,.1f} GB free on its data disk")


def _free_disk(engine: Engine) -> int | None:
    """Free bytes of the target's data directory, when it is on this machine and readable."""
    host = engine.url.host or "localhost"
    if host not in ("localhost", "127.0.0.1", "::1"):
        return None
    try:
        with engine.connect() as conn:
            data_dir = conn.execute(text("SHOW data_directory")).scalar_one()
        return shutil.disk_usage(data_dir).free
    except Exception:  # not a superuser, or the directory is not visible from here
        return None


def _legacy_rows(engine: Engine, specs: list[StageSpec]) -> int | None:
    reader = SourceReader(engine)
    try:
        return sum(reader.count(tm.source.table) for s in specs for tm in s.tables)
    except Exception:
        return None


def _open(report: PreflightReport, role: str, make: Callable[[], Engine], check: Callable[..., None]) -> Engine | None:
    """An engine on the source or target, or None (and an unreachable FAIL line)."""
    engine = None
    try:
        engine = make()
        check(engine, role=role)
        return engine
    except SafeStatsError as exc:
        report.add(FAIL, f"{role} reachable", exc.what, exc.hint or "")
        report.unreachable.append(role)
        if engine is not None:
            engine.dispose()
        return None


# --------------------------------------------------------------------------- all of it
def preflight(settings: Settings, *, record: bool = False) -> PreflightReport:
    """Every check, in order; ``record``: re-baseline the legacy schema fingerprint first."""
    report = PreflightReport()
    specs: list[StageSpec] = []
    try:
        specs = parsed_specs(settings.mappings_dir)
    except SafeStatsError as exc:
        report.add(FAIL, "mapping files", exc.one_line(), "run `safestats-migrate mappings validate`")
    source = target = None
    try:
        if settings.source_url is None:
            report.add(FAIL, "source reachable", "no legacy source database is configured",
                       "set SAFESTATS_SOURCE_URL, [source] url in safestats-migrate.toml, or pass --source")
        else:
            source = _open(report, "source", lambda: source_engine(settings.require_source()), check_connect)
        if settings.target_url is None:
            report.add(FAIL, "target reachable", "no target PostgreSQL database is configured",
                       "set SAFESTATS_TARGET_URL, [target] url in safestats-migrate.toml, or pass --target")
        else:
            target = _open(report, "target", lambda: target_engine(settings.require_target()), check_connect)
        live = None
        if source is not None:
            _guard(report, "source", lambda: _source_checks(report, source, specs, settings),  # type: ignore[arg-type]
                   "check the legacy login's rights (runbooks/setup.md)")
            try:
                live = fingerprint.capture(source)
            except SafeStatsError as exc:
                report.add(FAIL, "schema fingerprint", exc.what, exc.hint or "")
        ledger_ok = False
        if target is not None:
            with target.connect() as conn:
                ledger_ok = history.installed(conn)
            if record and live is not None:
                if ledger_ok:
                    with target.begin() as conn:
                        fingerprint.record(conn, live, recorded_by="preflight --record",
                                           source=redact_url(settings.source_url))
                    report.recorded = live["hash"]
                else:
                    report.add(FAIL, "schema fingerprint", "cannot record the fingerprint: the target has no ledger",
                               "run `safestats-migrate schema upgrade` first")
            rows = _legacy_rows(source, specs) if source is not None else None
            _guard(report, "target", lambda: _target_checks(report, target, settings, rows),  # type: ignore[arg-type]
                   "check the target (runbooks/setup.md)")
        if live is not None and specs:
            baseline = None
            if target is not None and ledger_ok:
                with target.connect() as conn:
                    baseline = fingerprint.latest(conn)
            _drift(report, specs, live, baseline)
    finally:
        for e in (source, target):
            if e is not None:
                e.dispose()
    return report


__all__ = ["CheckLine", "FAIL", "PASS", "PreflightReport", "WARN", "preflight"]
