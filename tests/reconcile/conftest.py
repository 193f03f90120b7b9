"""Fixtures for the reconciliation tests: one clean, reconciled target per test session (worker),
cloned (``CREATE DATABASE … TEMPLATE``) for every test that tampers with it."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.schema import api
from tests.conftest import PG_ADMIN_URL, PgDatabases
from tests.steps.conftest import REPO, legacy_sqlite, run_all, target_url  # noqa: F401  (fixtures)

CHECKS = REPO / "checks"


def _admin() -> Any:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture(scope="session")
def clean_target(legacy_sqlite: Path) -> Iterator[URL]:  # noqa: F811
    """Every stage loaded by the runner, each reconciled by its gate (the session's template)."""
    name = f"ss_rec_tpl_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name)
    try:
        api.upgrade(url)
        run_all(legacy_sqlite, url, checks_dir=str(CHECKS))
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def clone_of(template: URL, dbs: PgDatabases) -> URL:
    name = f"ss_rec_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    with admin.connect() as c:
        # a template must have no other sessions (the Great Expectations worker may hold one)
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d "
                       "AND pid <> pg_backend_pid()"), dict(d=template.database))
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    admin.dispose()
    dbs.created.append(name)
    return template.set(database=name)


@pytest.fixture
def target(clean_target: URL, pg_databases: PgDatabases) -> URL:
    """A private copy of the clean, reconciled target (dropped after the test)."""
    return clone_of(clean_target, pg_databases)


def sql_on(url: URL) -> Iterator[Callable[..., Any]]:
    """Run SQL on ``url`` (autocommit); returns the rows of a SELECT (a fixture's body)."""
    eng = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def run(statement: str, **params: Any) -> Any:
        with eng.connect() as c:
            res = c.execute(text(statement), params)
            return res.all() if res.returns_rows else None
    yield run
    eng.dispose()


@pytest.fixture
def sql(target: URL) -> Iterator[Callable[..., Any]]:
    """Run SQL on the test's target (a clone of the clean, reconciled one)."""
    yield from sql_on(target)


@pytest.fixture
def pg_sql(target_url: URL) -> Iterator[Callable[..., Any]]:  # noqa: F811
    """Run SQL on an empty target at schema head (``target_url``)."""
    yield from sql_on(target_url)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, legacy_sqlite: Path) -> Callable[[URL, Path | None], None]:  # noqa: F811
    """Point the in-process CLI (``migration.cli.main``) at the legacy database and a target."""

    def point(url: URL, checks: Path | None = None) -> None:
        monkeypatch.setenv("SAFESTATS_SOURCE_URL", f"sqlite:///{legacy_sqlite}")
        monkeypatch.setenv("SAFESTATS_TARGET_URL", url.render_as_string(hide_password=False))
        monkeypatch.setenv("SAFESTATS_MAPPINGS_DIR", str(REPO / "mappings"))
        monkeypatch.setenv("SAFESTATS_CHECKS_DIR", str(checks or CHECKS))
        monkeypatch.delenv("SAFESTATS_CONFIG", raising=False)
    return point


def results_of(url: URL, run_id: int | None = None) -> list[dict[str, Any]]:
    """The check results of a reconcile run (default: the latest)."""
    eng = create_engine(url, poolclass=NullPool)
    with eng.connect() as c:
        if run_id is None:
            run_id = c.execute(text("SELECT max(run_id) FROM ledger.check_result")).scalar_one()
        rows = c.execute(text("SELECT stage, check_name, status, summary, detail FROM ledger.check_result "
                              "WHERE run_id = :r ORDER BY result_id"), dict(r=run_id)).mappings().all()
    eng.dispose()
    return [dict(r) for r in rows]


def copy_checks(tmp_path: Path) -> Path:
    out = tmp_path / "checks"
    shutil.copytree(CHECKS, out)
    return out


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")
