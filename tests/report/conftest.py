"""Fixtures for the report tests: a target loaded by a real run, and check results written
the way reconciliation writes them (``ledger.check_result`` under a ``reconcile`` run).

Loading takes seconds, so it happens once per session into a template database; each test
gets its own copy (``CREATE DATABASE … TEMPLATE``), which it may tamper with freely.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from migration.schema import api
from tests.conftest import PG_ADMIN_URL, PgDatabases
from tests.steps.conftest import legacy_sqlite, run_all, target_url  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def loaded_template(legacy_sqlite: Path) -> Iterator[str]:  # noqa: F811
    """A database every stage was run into (by the runner, without its reconciliation gate: these
    tests write the check results themselves), used only as a template."""
    dbs = PgDatabases()
    try:
        url = dbs.create("ss_report_tpl")
        api.upgrade(url)
        run_all(legacy_sqlite, url, reconcile=False)
        assert url.database is not None
        yield url.database
    finally:
        dbs.drop_all()


@pytest.fixture
def loaded_url(loaded_template: str, pg_databases: PgDatabases) -> URL:
    """A fresh copy of the loaded target (dropped after the test)."""
    name = f"ss_report_{uuid.uuid4().hex[:10]}"
    with pg_databases.admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{loaded_template}"'))
    pg_databases.created.append(name)
    return make_url(PG_ADMIN_URL).set(database=name)


@pytest.fixture
def engine_of() -> Iterator[Any]:
    engines: list[Engine] = []

    def make(url: URL) -> Engine:
        eng = create_engine(url, poolclass=NullPool)
        engines.append(eng)
        return eng

    yield make
    for e in engines:
        e.dispose()


def stages_of(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return [r[0] for r in c.execute(text(
            "SELECT stage FROM ledger.event WHERE kind = 'stage_started' GROUP BY stage ORDER BY min(event_id)"))]


def reconcile_run(engine: Engine) -> int:
    with engine.begin() as c:
        return int(c.execute(text(
            "INSERT INTO ledger.run (kind, actor, host, pid, package_version) "
            "VALUES ('reconcile', 'qa@test', 'test', 1, 'test') RETURNING run_id")).scalar_one())


def add_check(engine: Engine, run_id: int, stage: str, name: str, status: str, summary: str,
              detail: dict[str, Any] | None = None) -> None:
    with engine.begin() as c:
        c.execute(text(
            "INSERT INTO ledger.check_result (run_id, stage, check_name, status, summary, detail) "
            "VALUES (:r, :s, :n, :st, :su, CAST(:d AS jsonb))"),
            dict(r=run_id, s=stage, n=name, st=status, su=summary, d=json.dumps(detail or {})))


def pass_everything(engine: Engine, run_id: int | None = None) -> int:
    """A passing accounting and key-set check for every loaded stage; returns the reconcile run."""
    run_id = run_id or reconcile_run(engine)
    for stage in stages_of(engine):
        add_check(engine, run_id, stage, "accounting", "pass", "every table balances", {"tables": 1})
        add_check(engine, run_id, stage, "key_set", "pass", "no key missing or extra", {"missing": [], "extra": []})
    return run_id
