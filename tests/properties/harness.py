"""End to end for one drawn table: source engine → reader → transforms → COPY → reconcile.

A :class:`World` (one per test session) holds

- a small generated legacy database (SQLite; its MariaDB twin is generated on first use),
  with every fact table emptied: the reference tables give the stages something to resolve
  against, and the table under test is replaced per example;
- one PostgreSQL *template* per set of prerequisite stages (schema at head, the reference
  stages loaded from the small legacy), cloned per example with ``CREATE DATABASE …
  TEMPLATE`` (a fraction of a second) instead of being loaded again.

:meth:`World.check` runs one example: the table under test is dropped and re-created from
``dictionary.yaml`` with its declared types (never the generator's DDL), the drawn rows are
written as raw bytes (SQLite ``CAST(x'…' AS TEXT)``, MariaDB ``latin1`` hex literals), the
stage is run by the library the CLI calls (:class:`migration.plan.execute.Orchestrator`, the gate
off so a quarantine-rate threshold cannot stop it), reconciled (:func:`migration.reconcile.reconcile`)
and the invariants of issue 10 are asserted.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyodbc
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.ledger import Ledger
from migration.legacy import generate
from migration.mapping.order import load_stage_specs
from migration.plan.execute import Orchestrator
from migration.schema import api
from migration.settings import load_settings
from tests.conftest import MARIADB_ODBC, MARIADB_URL_TEMPLATE, PG_ADMIN_URL
from tests.properties.dictionary import Column, load
from tests.properties.strategies import planted

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"
CHECKS = REPO / "checks"
SCALE = 0.001
SEED = 11
#: the reconciliation checks that prove integrity (issue 10's invariant); quarantine-rate thresholds and
#: data-quality expectations (e.g. "notional_cost between 0 and …") are reported by reconcile, not asserted
#: here — but any check that could not run (status ``error``) is a problem
INVARIANT = ("accounting/", "keys/", "row_hash/", "control_totals/", "leaks/")


# --------------------------------------------------------------------------- DDL and literals from the dictionary
def _sql_type(col: Column, engine: str) -> str:
    n = col.length
    if engine == "sqlite":
        return {"varchar": f"VARCHAR({n})", "char": f"CHAR({n})", "nvarchar": f"NVARCHAR({n})",
                "int": "INTEGER", "smallint": "SMALLINT", "tinyint": "TINYINT", "bit": "BOOLEAN",
                "datetime": "DATETIME", "money": "TEXT"}[col.type]  # TEXT: NUMERIC affinity would make money a float
    return {"varchar": f"VARCHAR({n}) CHARACTER SET latin1", "char": f"CHAR({n}) CHARACTER SET latin1",
            "nvarchar": f"VARCHAR({n}) CHARACTER SET utf8mb4", "int": "INT", "smallint": "SMALLINT",
            "tinyint": "TINYINT UNSIGNED", "bit": "BOOL", "datetime": "DATETIME(3)",
            "money": "DECIMAL(19,4)"}[col.type]


def create_table_sql(table: str, engine: str) -> str:
    t = load()[table]
    q = (lambda s: f'"{s}"') if engine == "sqlite" else (lambda s: f"`{s}`")
    cols = []
    for c in t.columns:
        decl = f"{q(c.name)} {_sql_type(c, engine)}"
        if c.pk:
            decl += " NOT NULL PRIMARY KEY"
        cols.append(decl)
    tail = "" if engine == "sqlite" else " ENGINE=InnoDB DEFAULT CHARSET=latin1"
    return f"CREATE TABLE {q(table)} ({', '.join(cols)}){tail}"


def literal(v: Any, col: Column, engine: str) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bytes):
        return f"CAST(X'{v.hex()}' AS TEXT)" if engine == "sqlite" else f"X'{v.hex()}'"
    if isinstance(v, str):  # nvarchar: UTF-16 units, lone surrogates kept as SQLite can (CESU-like bytes)
        if engine == "sqlite":
            return f"CAST(X'{v.encode('utf-8', 'surrogatepass').hex()}' AS TEXT)"
        return f"_utf8mb4 X'{v.encode('utf-8', 'replace').hex()}'"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime):
        s = v.strftime("%Y-%m-%d %H:%M:%S")
        if v.microsecond:
            s += f".{v.microsecond // 1000:03d}"
        return f"'{s}'"
    if isinstance(v, Decimal):
        return f"'{format(v, 'f')}'" if engine == "sqlite" else format(v, "f")
    raise TypeError(f"{col.table}.{col.name}: no literal for {type(v).__name__}")


def insert_sql(table: str, rows: list[dict[str, Any]], engine: str) -> list[str]:
    t = load()[table]
    q = (lambda s: f'"{s}"') if engine == "sqlite" else (lambda s: f"`{s}`")
    head = ("INSERT" if engine == "sqlite" else "INSERT IGNORE") + \
        f" INTO {q(table)} ({', '.join(q(c.name) for c in t.columns)}) VALUES "
    return [head + "(" + ", ".join(literal(r[c.name], c, engine) for c in t.columns) + ")" for r in rows]


# --------------------------------------------------------------------------- outcome of one example
@dataclass
class Outcome:
    table: str
    engine: str
    rows_written: int
    problems: list[str] = field(default_factory=list)

    def require(self) -> None:
        assert not self.problems, f"{self.engine} {self.table}: " + " | ".join(self.problems)


def _first_line(exc: BaseException) -> str:
    what = getattr(exc, "what", None) or str(exc)
    return f"{type(exc).__name__}: {str(what).strip().splitlines()[0] if str(what).strip() else ''}"[:400]


def run_stage(source: str, target: str, stages: list[str], reconcile_after: bool) -> list[str]:
    """Load ``stages`` (and reconcile the last one); the problems found.  Runs in the worker process."""
    from migration.reconcile import reconcile

    problems = []
    settings = load_settings(cli={"source_url": source, "target_url": target, "mappings_dir": str(MAPPINGS),
                                  "checks_dir": str(CHECKS)}, env={})
    runner = Orchestrator(settings, RecordingConsole(), reconcile=False)
    try:
        runner.run(stages)
    except BaseException as exc:  # a Rust panic inside Polars is a BaseException
        return [f"the run stopped: {_first_line(exc)}"]
    finally:
        runner.close()
    if not reconcile_after:
        return []
    problems += predicted_vs_recorded(source, target, stages[-1])
    try:
        outcome = reconcile(settings, RecordingConsole(), stages[-1:])
        for r in outcome.results:
            if r.status == "error" or (r.check.startswith(INVARIANT) and r.status not in ("pass", "warn")):
                problems.append(f"check {r.check} {r.status}: {(r.summary.splitlines() or [''])[0][:300]}")
    except BaseException as exc:
        problems.append(f"reconcile raised: {_first_line(exc)}")
    return problems


def predicted_vs_recorded(source: str, target: str, stage: str) -> list[str]:
    """``profile``'s prediction for ``stage`` (issue 12: read-only, from reconciliation's
    reference) against what the run recorded: quarantined rows per reason, merged and
    filtered rows per reason.  Runs in the worker process."""
    from collections import Counter

    from migration.audit.profile import profile

    try:
        specs = load_stage_specs(MAPPINGS)
        result = profile(make_url(source), specs, stages=[stage], checks_dir=CHECKS)
        predicted = Counter({k: v for s in result.stages if s.stage == stage
                             for k, v in s.outcomes().items() if k[0] in ("quarantine", "merged", "filtered")})
    except BaseException as exc:  # a crash of the profile on a drawn table is a finding too
        return [f"profile raised: {_first_line(exc)}"]
    recorded: Counter[tuple[str, str | None]] = Counter()
    eng = create_engine(target, poolclass=NullPool)
    try:
        with eng.connect() as c:
            for reason, n in c.execute(text("SELECT reason_code, count(*) FROM ledger.quarantine WHERE stage = :s "
                                            "GROUP BY 1"), dict(s=stage)):
                recorded[("quarantine", reason)] += n
            for disp, reason, n in c.execute(text(
                    "SELECT disposition, reason_code, count(*) FROM ledger.disposition WHERE stage = :s "
                    "AND disposition IN ('merged', 'filtered') GROUP BY 1, 2"), dict(s=stage)):
                recorded[(disp, reason)] += n
    finally:
        eng.dispose()
    predicted = +predicted
    if predicted != recorded:
        return [f"profile predicted {dict(sorted(predicted.items(), key=repr))} but the run recorded "
                f"{dict(sorted(recorded.items(), key=repr))}"]
    return []


class Worker:
    """One child process that runs stages, so that a crash of the process (a segfault in a
    native library) is a finding about one example, not the end of the test session."""

    def __init__(self) -> None:
        self._pool: Any = None

    def __call__(self, *args: Any) -> list[str]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return list(self._pool.submit(run_stage, *args).result())
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            return ["the process running the stage died (a crash in native code, e.g. a segmentation fault)"]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class World:
    """The session's legacy databases and target templates (see the module docstring)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.specs = load_stage_specs(MAPPINGS)
        self.by_stage = {s.stage: s for s in self.specs}
        self.stage_of = {tm.source.table: s.stage for s in self.specs for tm in s.tables}
        self.pg_created: list[str] = []
        self.maria_created: list[str] = []
        self.templates: dict[frozenset[str], URL] = {}
        self._maria: URL | None = None
        self.worker = Worker()
        self.full = workdir / "legacy.sqlite"
        generate(make_url(f"sqlite:///{self.full}"), SCALE, SEED, None, console=RecordingConsole())
        self.base = workdir / "base.sqlite"
        shutil.copy(self.full, self.base)
        db = sqlite3.connect(self.base)
        for t, spec in load().items():
            if spec.kind == "fact":
                db.execute(f'DELETE FROM "{t}"')
        db.commit()
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("VACUUM")
        db.close()

    # ---------------------------------------------------------------- PostgreSQL
    def _new_pg(self, prefix: str, template: URL | None = None) -> URL:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as c:
            if template is None:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        self.pg_created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name)

    def drop_pg(self, url: URL) -> None:
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        self.pg_created.remove(str(url.database))

    def prerequisites(self, stage: str) -> frozenset[str]:
        out: set[str] = set()
        todo = list(self.by_stage[stage].depends_on)
        while todo:
            s = todo.pop()
            if s not in out:
                out.add(s)
                todo += self.by_stage[s].depends_on
        return frozenset(out)

    def template(self, stage: str) -> URL:
        """Schema at head and ``stage``'s prerequisite stages loaded from the small legacy."""
        deps = self.prerequisites(stage)
        if deps not in self.templates:
            url = self._new_pg("ss_props_tpl")
            api.upgrade(url)
            if deps:
                problems = self.worker(f"sqlite:///{self.base}", url.render_as_string(hide_password=False),
                                       [s.stage for s in self.specs if s.stage in deps], False)
                assert not problems, f"the template for {stage} could not be loaded: {problems}"
            self.templates[deps] = url
        return self.templates[deps]

    # ---------------------------------------------------------------- MariaDB
    def _maria_conn(self) -> Any:
        return pyodbc.connect(MARIADB_ODBC, autocommit=True)

    def mariadb(self) -> URL:
        """The small legacy generated into MariaDB (latin1), fact tables emptied (once)."""
        if self._maria is None:
            name = f"ss_props_{uuid.uuid4().hex[:10]}"
            conn = self._maria_conn()
            conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_swedish_ci")
            self.maria_created.append(name)
            url = make_url(MARIADB_URL_TEMPLATE.format(db=name))
            generate(url, SCALE, SEED, self.workdir / "mariadb.manifest.json", console=RecordingConsole())
            for t, spec in load().items():
                if spec.kind == "fact":
                    conn.cursor().execute(f"DELETE FROM `{name}`.`{t}`")
            conn.close()
            self._maria = url
        return self._maria

    # ---------------------------------------------------------------- legacy with the drawn table
    def legacy_with(self, engine: str, table: str, rows: list[dict[str, Any]]) -> tuple[URL, int]:
        """A legacy database whose ``table`` holds exactly ``rows``; and its row count, counted by the engine."""
        if engine == "sqlite":
            path = self.workdir / f"ex_{uuid.uuid4().hex[:8]}.sqlite"
            shutil.copy(self.base, path)
            db = sqlite3.connect(path)
            db.execute(f'DROP TABLE "{table}"')
            db.execute(create_table_sql(table, "sqlite"))
            for sql in insert_sql(table, rows, "sqlite"):
                db.execute(sql)
            db.commit()
            n = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            db.close()
            return make_url(f"sqlite:///{path}"), int(n)
        url = self.mariadb()
        conn = self._maria_conn()
        cur = conn.cursor()
        cur.execute(f"USE `{url.database}`")
        cur.execute(f"DROP TABLE IF EXISTS `{table}`")
        cur.execute(create_table_sql(table, "mariadb"))
        for sql in insert_sql(table, rows, "mariadb"):
            cur.execute(sql)
        n = cur.execute(f"SELECT COUNT(*) FROM `{table}`").fetchone()[0]
        conn.close()
        return url, int(n)

    # ---------------------------------------------------------------- one example
    def check(self, engine: str, table: str, rows: list[dict[str, Any]]) -> Outcome:
        stage = self.stage_of[table]
        template = self.template(stage)
        source, n = self.legacy_with(engine, table, rows)
        out = Outcome(table, engine, n)
        target = self._new_pg("ss_props", template)
        try:
            out.problems += self.worker(source.render_as_string(hide_password=False),
                                        target.render_as_string(hide_password=False), [stage], True)
            if out.problems and out.problems[0].startswith(("the run stopped", "the process")):
                return out
            self._accounting(out, target, stage, table)
            self._leaks(out, target, planted(table, rows))
            return out
        finally:
            self.drop_pg(target)
            if engine == "sqlite":
                Path(str(source.database)).unlink(missing_ok=True)

    def _accounting(self, out: Outcome, target: URL, stage: str, table: str) -> None:
        spec = self.by_stage[stage]
        tm = next(t for t in spec.tables if t.source.table == table)
        primary = next(iter(tm.targets))
        eng = create_engine(target, poolclass=NullPool)
        try:
            with eng.connect() as conn:
                counts = [c for c in Ledger(eng).table_counts(conn) if c.stage == stage and c.source_table == table]
                if len(counts) != 1:
                    out.problems.append(f"ledger holds {len(counts)} accounting rows for {stage}/{table}")
                    return
                c = counts[0]
                run = c.run_id
                if not c.balanced:
                    out.problems.append(f"accounting does not balance: {c}")
                if c.rows_read != out.rows_written:
                    out.problems.append(f"read {c.rows_read} rows, the legacy table holds {out.rows_written}")
                dataset = f" AND dataset = '{spec.dataset}'" if spec.dataset and primary == "core.incident" else ""
                loaded = conn.execute(text(f"SELECT count(*) FROM {primary} WHERE load_run_id = :r{dataset}"),
                                      dict(r=run)).scalar_one()
                quarantined = conn.execute(text(
                    "SELECT count(*) FROM ledger.quarantine WHERE run_id = :r AND source_table = :t"),
                    dict(r=run, t=table)).scalar_one()
                disp = dict(conn.execute(text(
                    "SELECT disposition, count(*) FROM ledger.disposition WHERE run_id = :r AND source_table = :t "
                    "GROUP BY disposition"), dict(r=run, t=table)).all())
                independent = {"loaded": loaded, "quarantined": quarantined, "merged": disp.get("merged", 0),
                               "filtered": disp.get("filter", 0), "unchanged": disp.get("unchanged", 0)}
                ledger_says = {"loaded": c.rows_loaded, "quarantined": c.rows_quarantined, "merged": c.rows_merged,
                               "filtered": c.rows_filtered, "unchanged": c.rows_unchanged}
                if independent != ledger_says:
                    out.problems.append(f"ledger counts {ledger_says} but the target holds {independent}")
                if sum(independent.values()) != out.rows_written:
                    out.problems.append(f"{out.rows_written} legacy rows, {sum(independent.values())} accounted for "
                                        f"in the target and ledger ({independent})")
                blank = conn.execute(text(
                    "SELECT count(*) FROM ledger.quarantine WHERE run_id = :r AND btrim(coalesce(reason_code, '')) = ''"),
                    dict(r=run)).scalar_one()
                if blank:
                    out.problems.append(f"{blank} quarantine row(s) without a reason")
        finally:
            eng.dispose()

    def _leaks(self, out: Outcome, target: URL, secrets: list[str]) -> None:
        """Every table of the target (ledger included) as text: no planted secret anywhere."""
        if not secrets:
            return
        eng = create_engine(target, poolclass=NullPool)
        try:
            with eng.connect() as conn:
                tables = conn.execute(text(
                    "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables "
                    "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
                    "('pg_catalog', 'information_schema', 'tiger', 'tiger_data', 'topology') "
                    "AND table_name <> 'spatial_ref_sys'")).scalars().all()
                for t in tables:
                    found = conn.execute(text(
                        f"SELECT s FROM unnest(CAST(:a AS text[])) s WHERE EXISTS "
                        f"(SELECT 1 FROM {t} x WHERE strpos(CAST(x AS text), s) > 0)"), dict(a=secrets)).scalars().all()
                    for s in found:
                        out.problems.append(f"a planted secret or patient identifier ({len(s)} chars) reached {t}")
        finally:
            eng.dispose()

    # ---------------------------------------------------------------- end of session
    def close(self) -> None:
        self.worker.close()
        with self.admin.connect() as c:
            for name in list(self.pg_created):
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()
        if self.maria_created:
            conn = self._maria_conn()
            for name in self.maria_created:
                conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()
