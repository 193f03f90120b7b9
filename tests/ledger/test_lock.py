"""The migration lock when its own session dies (issue 13: dropped connections)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.errors import LockError
from migration.ledger import MigrationLock
from migration.schema import api

pytestmark = pytest.mark.postgres


def test_releasing_a_lock_whose_session_was_terminated_is_not_an_error(pg_url: URL) -> None:
    api.upgrade(pg_url)
    eng = create_engine(pg_url, poolclass=NullPool)
    other = create_engine(pg_url, poolclass=NullPool)
    try:
        lock = MigrationLock(eng, "run --all")
        lock.acquire()
        with pytest.raises(LockError):  # held: a second command is refused
            MigrationLock(other, "reconcile --all").acquire()
        assert lock.conn is not None
        backend = lock.conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with other.connect() as c:
            assert c.execute(text("SELECT pg_terminate_backend(:b)"), dict(b=backend)).scalar_one()
        lock.release()  # was: OperationalError … server closed the connection unexpectedly (exit 70)
        assert lock.conn is None
        with MigrationLock(other, "reconcile --all") as second:  # the advisory lock died with the session
            assert second.freed_stale is not None and second.freed_stale["command"] == "run --all"
    finally:
        eng.dispose()
        other.dispose()
