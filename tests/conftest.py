"""Shared fixtures: real databases, created and dropped per test (no mocks).

PostgreSQL (127.0.0.1:5432, postgres, trust) and MariaDB (127.0.0.1:3306, root, empty
password) run on every machine of this project and in CI.  A test that needs one of them
never skips: if the server cannot be reached the test *fails*.  Only tests marked
``mssql`` may skip (when SAFESTATS_TEST_MSSQL_URL is not set); any other skip is turned
into a failure by :func:`pytest_runtest_makereport` below.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

PG_ADMIN_URL = os.environ.get("SAFESTATS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MARIADB_ODBC = os.environ.get("SAFESTATS_TEST_MARIADB_ODBC", "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;UID=root;PWD=")
MARIADB_URL_TEMPLATE = "mysql+pyodbc://root@127.0.0.1:3306/{db}?driver=MariaDB+Unicode&charset=utf8mb4"
REPO = Path(__file__).resolve().parents[1]


def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """Turn every skip into a failure, except for tests marked mssql."""
    import pytest as _pytest

    outcome = None
    if call.excinfo is not None and call.excinfo.errisinstance(_pytest.skip.Exception):
        if item.get_closest_marker("mssql") is None:
            outcome = "failed"
    rep = _pytest.TestReport.from_item_and_call(item, call)
    if outcome:
        rep.outcome = "failed"
        rep.longrepr = f"skipped outside the mssql marker, which this project forbids: {call.excinfo.value}"
    return rep


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class PgDatabases:
    """Creates throwaway PostgreSQL databases and drops them at the end."""

    def __init__(self) -> None:
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create(self, prefix: str = "ss_test") -> URL:
        name = _unique(prefix)
        try:
            with self.admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # never skip: the server is part of this project's machines
            pytest.fail(f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string(hide_password=True)} "
                        f"is not usable: {exc}")
        self.created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name)

    def drop_all(self) -> None:
        with self.admin.connect() as c:
            for name in self.created:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases()
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture
def pg_url(pg_databases: PgDatabases) -> URL:
    """A fresh, empty PostgreSQL database (dropped after the test)."""
    return pg_databases.create()


class MariaDatabases:
    def __init__(self) -> None:
        self.created: list[str] = []

    def _conn(self):  # type: ignore[no-untyped-def]
        import pyodbc

        try:
            return pyodbc.connect(MARIADB_ODBC, autocommit=True)
        except Exception as exc:
            pytest.fail(f"MariaDB through ODBC ({MARIADB_ODBC.split(';PWD')[0]}) is not usable: {exc}")

    def create(self, prefix: str = "ss_test") -> URL:
        name = _unique(prefix)
        conn = self._conn()
        conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_swedish_ci")
        conn.close()
        self.created.append(name)
        return make_url(MARIADB_URL_TEMPLATE.format(db=name))

    def drop_all(self) -> None:
        if not self.created:
            return
        conn = self._conn()
        for name in self.created:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def mariadb_databases() -> Iterator[MariaDatabases]:
    dbs = MariaDatabases()
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture
def mariadb_url(mariadb_databases: MariaDatabases) -> URL:
    """A fresh, empty MariaDB database reached through pyodbc (dropped after the test)."""
    return mariadb_databases.create()


@pytest.fixture
def mssql_url() -> URL:
    value = os.environ.get("SAFESTATS_TEST_MSSQL_URL")
    if not value:
        pytest.skip("SAFESTATS_TEST_MSSQL_URL is not set (no SQL Server can run here)")
    return make_url(value)
