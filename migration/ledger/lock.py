"""One migration at a time per target: a PostgreSQL session advisory lock plus a note of who.

The lock itself is ``pg_try_advisory_lock`` on a connection held for the whole command,
so it disappears with the holder's session — a killed process cannot leave it behind
once PostgreSQL notices the connection is gone.  ``ledger.lock`` records holder, host,
pid, command and since when, so a refused command can say who holds it.  When the
recorded holder runs on this host and its process no longer exists while its backend is
still busy finishing a statement, the backend is terminated to free the lock at once.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from migration.errors import LockError
from migration.ledger.books import actor

LOCK_NAME = "safestats-migrate"
#: a fixed 64-bit key for pg_advisory_lock, derived once from the name
LOCK_KEY = 0x5AFE57A75_0001


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MigrationLock:
    def __init__(self, engine: Engine, command: str) -> None:
        self.engine = engine
        self.command = command
        self.conn: Connection | None = None
        self.freed_stale: dict[str, Any] | None = None
        #: True once :meth:`ensure` had to take the lock again after its session died
        self.retaken = False

    def __enter__(self) -> MigrationLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _holder(self, conn: Connection) -> dict[str, Any] | None:
        row = conn.execute(text("SELECT holder, host, pid, command, acquired_at, backend_pid FROM ledger.lock "
                                "WHERE lock_name = :n"), dict(n=LOCK_NAME)).mappings().first()
        return dict(row) if row else None

    def acquire(self) -> None:
        conn = self.engine.connect()
        conn.execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), dict(k=LOCK_KEY)).scalar_one()
        if not got:
            holder = self._holder(conn)
            if holder and holder["host"] == socket.gethostname() and not _alive(int(holder["pid"])):
                # the process is gone but its backend still runs a statement: end it
                conn.execute(text("SELECT pg_terminate_backend(:b)"), dict(b=holder["backend_pid"]))
                for _ in range(50):
                    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), dict(k=LOCK_KEY)).scalar_one()
                    if got:
                        break
                    conn.execute(text("SELECT pg_sleep(0.1)"))
            if not got:
                conn.close()
                if holder:
                    raise LockError(
                        f"another migration holds the target: {holder['holder']} (pid {holder['pid']} on "
                        f"{holder['host']}) running `{holder['command']}` since {holder['acquired_at']:%Y-%m-%d %H:%M:%S%z}",
                        hint="wait for it to finish; if that process is gone, its lock is freed as soon as "
                             "PostgreSQL notices (see runbooks/lock.md)")
                raise LockError("another migration holds the target's lock",
                                hint="wait for it to finish (see runbooks/lock.md)")
        previous = self._holder(conn)
        if previous is not None:
            self.freed_stale = previous  # its session ended without releasing: it was killed
        conn.execute(text(
            "INSERT INTO ledger.lock (lock_name, holder, host, pid, command, backend_pid) "
            "VALUES (:n, :holder, :host, :pid, :cmd, pg_backend_pid()) ON CONFLICT (lock_name) DO UPDATE SET "
            "holder = EXCLUDED.holder, host = EXCLUDED.host, pid = EXCLUDED.pid, command = EXCLUDED.command, "
            "acquired_at = clock_timestamp(), backend_pid = EXCLUDED.backend_pid"),
            dict(n=LOCK_NAME, holder=actor(), host=socket.gethostname(), pid=os.getpid(), cmd=self.command))
        self.conn = conn

    def ensure(self) -> None:
        """Before a write after a reconnect: make sure this command still holds the lock, taking it
        again if its session died (a terminated backend or a restarted server drops the advisory
        lock with it, and another command may have taken it since — then :class:`LockError`, exit 4).
        One round trip on the lock's own connection; called before every chunk is written."""
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT 1"))
                return
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            # the dead session: nothing to release (PostgreSQL dropped the lock with it); the
            # invalidated connection refuses every further statement, so it is only closed
            try:
                self.conn.close()
            finally:
                self.conn = None
        self.retaken = True
        self.acquire()

    def release(self) -> None:
        if self.conn is None:
            return
        try:
            self.conn.execute(text("DELETE FROM ledger.lock WHERE lock_name = :n AND backend_pid = pg_backend_pid()"),
                              dict(n=LOCK_NAME))
            self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), dict(k=LOCK_KEY))
        except DBAPIError as exc:
            # the lock's session is gone (server restarted, backend terminated): PostgreSQL dropped
            # the advisory lock with it, and the note naming a dead backend is replaced by the next
            # holder — nothing is left to release, which is not an error of the command
            if not exc.connection_invalidated:
                raise
        finally:
            try:
                self.conn.close()
            finally:
                self.conn = None
