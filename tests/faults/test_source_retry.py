"""A keyset read whose connection drops mid-stream is opened again after its last key (issue 13).
PostgreSQL serves as the source here: psycopg2 streams through a server-side cursor, so
terminating its backend breaks ``fetchmany`` itself (MariaDB's ODBC driver buffers a result)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.db.source import STREAM_RETRIES, SourceReader
from migration.errors import SourceError
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def source(pg_url: URL) -> URL:
    eng = create_engine(pg_url, poolclass=NullPool)
    with eng.begin() as c:
        c.execute(text("CREATE TABLE t (id integer PRIMARY KEY, v text)"))
        c.execute(text("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g"))
    eng.dispose()
    return pg_url


def _terminate_others(url: URL) -> int:
    eng = create_engine(url, poolclass=NullPool)
    with eng.connect() as c:
        n = c.execute(text("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    eng.dispose()
    return int(n)


def test_a_read_dropped_mid_stream_continues_after_its_last_key_with_no_row_lost_or_doubled(source: URL) -> None:
    eng = create_engine(source)
    reader = SourceReader(eng)
    told: list[str] = []
    reader.on_retry = told.append
    ids: list[int] = []
    try:
        for i, chunk in enumerate(reader.stream("t", ["id", "v"], key="id", chunk_rows=100)):
            ids += [int(x) for x in chunk.frame.get_column("id").to_list()]
            if i == 2:
                assert _terminate_others(source) >= 1
    finally:
        eng.dispose()
    assert ids == list(range(1, 1001))
    assert len(told) == 1 and "legacy table t: connection lost after key 300" in told[0], told


def test_a_source_that_stays_unreachable_stops_naming_table_and_key_with_exit_3(source: URL) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    eng = create_engine(source)
    reader = SourceReader(eng)
    told: list[str] = []
    reader.on_retry = told.append
    try:
        with pytest.raises(SourceError, match=r"reading legacy table t stopped after key 100") as err:
            for i, _chunk in enumerate(reader.stream("t", ["id", "v"], key="id", chunk_rows=100)):
                if i == 0:  # the read's session dies and the server refuses every reconnect from now on
                    _terminate_others(source)
                    with admin.connect() as c:
                        c.execute(text(f'ALTER DATABASE "{source.database}" ALLOW_CONNECTIONS false'))
    finally:
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{source.database}" ALLOW_CONNECTIONS true'))
        admin.dispose()
        eng.dispose()
    assert err.value.exit_code == 3
    assert len(told) == STREAM_RETRIES
