"""Reading beside the live legacy (issue 14): the legacy connections read at READ COMMITTED
(SNAPSHOT on SQL Server when the database allows it), never with a NOLOCK hint, and
``max_rows_per_second`` keeps the average extraction rate at or below N, each chunk read by
its own short keyset query that returns exactly the rows of the unthrottled read."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyodbc
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from migration.db.engines import source_engine, writable_engine
from migration.db.source import SourceReader, fetch_by_keys
from tests.conftest import MARIADB_ODBC

REPO = Path(__file__).resolve().parents[2]
ROWS = 60


@pytest.fixture
def small_legacy(mariadb_url: URL) -> URL:
    """A MariaDB database with one small keyed table (``ROWS`` rows, a text column)."""
    conn = pyodbc.connect(MARIADB_ODBC, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE `{mariadb_url.database}`.tblThing (ThingID INT PRIMARY KEY, Name VARCHAR(20))")
        for i in range(1, ROWS + 1):
            cur.execute(f"INSERT INTO `{mariadb_url.database}`.tblThing VALUES (?, ?)", i * 3, f"thing {i}")
    finally:
        conn.close()
    return mariadb_url


def _isolation(conn: object) -> str:
    for variable in ("@@transaction_isolation", "@@tx_isolation"):
        try:
            return str(conn.execute(text(f"SELECT {variable}")).scalar_one())  # type: ignore[attr-defined]
        except Exception:  # noqa: S112 - the other name, on an older or newer server
            continue
    raise AssertionError("the server knows neither @@transaction_isolation nor @@tx_isolation")


@pytest.mark.mariadb
def test_legacy_connections_read_committed_on_mariadb(small_legacy: URL) -> None:
    plain = writable_engine(small_legacy)
    legacy = source_engine(small_legacy)
    try:
        with plain.connect() as conn:
            # the server's default (InnoDB: REPEATABLE READ) — what the source would read at otherwise
            assert _isolation(conn) != "READ-COMMITTED"
        with legacy.connect() as conn:
            assert _isolation(conn) == "READ-COMMITTED"
        # every pooled connection, and the ones a read opens, too
        reader = SourceReader(legacy, max_rows_per_second=10_000)
        assert sum(c.size for c in reader.stream("tblThing", ["ThingID", "Name"], key="ThingID",
                                                  chunk_rows=7)) == ROWS
        with legacy.connect() as conn:
            assert _isolation(conn) == "READ-COMMITTED"
    finally:
        plain.dispose()
        legacy.dispose()


@pytest.mark.mariadb
def test_throttled_reads_are_short_chunks_equal_to_the_plain_read_and_no_faster_than_asked(
        small_legacy: URL) -> None:
    legacy = source_engine(small_legacy)
    try:
        plain = list(SourceReader(legacy).stream("tblThing", ["ThingID", "Name"], key="ThingID", chunk_rows=7))
        rate = 40.0
        reader = SourceReader(legacy, max_rows_per_second=rate)
        started = time.monotonic()
        throttled = list(reader.stream("tblThing", ["ThingID", "Name"], key="ThingID", chunk_rows=7))
        elapsed = time.monotonic() - started
        # the same rows in the same chunks and order, each chunk its own query
        assert [c.frame.to_dicts() for c in throttled] == [c.frame.to_dicts() for c in plain]
        assert [c.last_key for c in throttled] == [c.last_key for c in plain]
        assert len(throttled) == -(-ROWS // 7)
        # never faster than asked: ROWS rows at `rate` rows/s take at least ROWS/rate seconds
        assert elapsed >= ROWS / rate, elapsed
        assert reader.throttle is not None and reader.throttle.slept > 0
        # a resume after a key reads only what follows it, in the same way
        rest = list(SourceReader(legacy, max_rows_per_second=10_000).stream(
            "tblThing", ["ThingID", "Name"], key="ThingID", after=plain[2].last_key, chunk_rows=7))
        assert [c.frame.to_dicts() for c in rest] == [c.frame.to_dicts() for c in plain[3:]]
        # the delta's reads by key are throttled too
        keys = [str(i * 3) for i in range(1, ROWS + 1)]
        reader = SourceReader(legacy, max_rows_per_second=rate)
        started = time.monotonic()
        got = sum(c.size for c in fetch_by_keys(reader, "tblThing", ["ThingID", "Name"], key="ThingID",
                                                key_type="int", keys=keys, batch=10))
        assert got == ROWS and time.monotonic() - started >= ROWS / rate
    finally:
        legacy.dispose()


def test_throttled_sqlite_read_takes_at_least_rows_over_n(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "small.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tblThing (ThingID INTEGER PRIMARY KEY, Name TEXT)")
        db.executemany("INSERT INTO tblThing VALUES (?, ?)", [(i, f"thing {i}") for i in range(1, ROWS + 1)])
    legacy = source_engine(URL.create("sqlite", database=str(path)))
    try:
        rate = 50.0
        started = time.monotonic()
        chunks = list(SourceReader(legacy, max_rows_per_second=rate).stream(
            "tblThing", ["ThingID", "Name"], key="ThingID", chunk_rows=8))
        elapsed = time.monotonic() - started
        assert sum(c.size for c in chunks) == ROWS and elapsed >= ROWS / rate, elapsed
        assert [c.last_key for c in chunks] == [min(i * 8, ROWS) for i in range(1, len(chunks) + 1)]
    finally:
        legacy.dispose()


def test_no_nolock_hint_and_no_dirty_reads_anywhere() -> None:
    """NOLOCK (or READ UNCOMMITTED) reads rows that are rolled back later, and reads rows twice or
    not at all while pages split: no query of the migration may use it."""
    hint = re.compile(r"\(\s*NOLOCK\s*\)|WITH\s*\(\s*NOLOCK|READ\s+UNCOMMITTED|READUNCOMMITTED", re.I)
    found = []
    for folder in ("migration", "mappings", "checks", "scripts"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".sql", ".yaml", ".yml", ".toml"):
                for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                    if hint.search(line):
                        found.append(f"{path.relative_to(REPO)}:{no}: {line.strip()}")
    assert not found, found
    # the pattern finds what it is meant to find (the test can fail)
    assert hint.search("SELECT * FROM tblMPSCrime WITH (NOLOCK)")


@pytest.mark.mssql
def test_legacy_connections_on_sql_server_read_at_snapshot_when_enabled_else_read_committed(mssql_url: URL) -> None:
    """SQL Server: SNAPSHOT when the database has it on, else READ COMMITTED (only where
    SAFESTATS_TEST_MSSQL_URL names a server; none can run on this project's machines)."""
    legacy = source_engine(mssql_url)
    try:
        with legacy.connect() as conn:
            enabled = conn.execute(text(
                "SELECT snapshot_isolation_state FROM sys.databases WHERE name = DB_NAME()")).scalar_one()
            level = conn.execute(text(
                "SELECT transaction_isolation_level FROM sys.dm_exec_sessions WHERE session_id = @@SPID")).scalar_one()
        assert level == (5 if enabled == 1 else 2)  # 5 SNAPSHOT, 2 READ COMMITTED (1 would be READ UNCOMMITTED)
    finally:
        legacy.dispose()


@pytest.mark.mariadb
def test_the_arrow_odbc_reader_reads_read_committed_too(small_legacy: URL) -> None:
    import arrow_odbc

    from migration.db.engines import READER_KEY

    legacy = source_engine(small_legacy.update_query_dict({READER_KEY: "arrow-odbc"}))
    try:
        reader = SourceReader(legacy)

        def isolation(connection_string: str) -> str:
            batches = arrow_odbc.read_arrow_batches_from_odbc("SELECT @@tx_isolation AS i", connection_string,
                                                              batch_size=1)
            return str(next(iter(batches)).to_pylist()[0]["i"])

        plain, _ = legacy.dialect.create_connect_args(legacy.url)
        assert isolation(str(plain[0])) == "REPEATABLE-READ"  # what arrow-odbc's own connection had
        assert isolation(reader.arrow_connection_string()) == "READ-COMMITTED"
        assert sum(c.size for c in reader.stream("tblThing", ["ThingID", "Name"], key="ThingID",
                                                  chunk_rows=7)) == ROWS
    finally:
        legacy.dispose()
