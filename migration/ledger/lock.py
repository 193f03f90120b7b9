"""One migration at a time per target: a PostgreSQL session advisory lock plus a note of who.

The lock itself is ``pg_try_advisory_lock`` on a connection held for the whole command,
so it disappears with the holder's session — a killed process cannot leave it behind
once PostgreSQL notices the connection is gone.  ``ledger.lock`` records holder, host,
pid, command and since when, so a refused command can say who holds it.  When the
recorded holder runs on this host and its process no longer exists while its backend is
still busy finishing a statement, the backend is terminated to free the lock at once.

The lock is also where the ledger is sealed (:mod:`migration.ledger.seal`), so every
command holding it seals in this one place: right after the lock is taken, rows an earlier
command left unsealed (killed before its seal) are sealed in a *catch-up* seal; before it
is let go, the rows this command wrote are sealed.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from migration.errors import LockError
from migration.ledger import seal as ledger_seal
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
        #: the seals this command wrote (the catch-up seal first, if any)
        self.seals: list[ledger_seal.SealInfo] = []
        #: why the seal at release could not be written (its session died): the next command seals
        self.seal_error: DBAPIError | None = None

    @property
    def freed_note(self) -> str | None:
        """The warning to give when taking the lock freed a dead holder's (None: nothing was freed)."""
        h = self.freed_stale
        if not h:
            return None
        return (f"the previous lock holder {h['holder']} (pid {h['pid']}, `{h['command']}` since "
                f"{h['acquired_at']}) is gone; its lock was freed")

    def __enter__(self) -> MigrationLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.release(raise_seal_error=exc_type is None)

    def _seal(self, *, catch_up: bool) -> None:
        """Seal the ledger rows no seal covers yet (nothing when there are none or before l0008)."""
        info = ledger_seal.seal_pending(self.engine, command=self.command, catch_up=catch_up)
        if info is not None:
            self.seals.append(info)

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
        if not self.retaken:  # retaken mid-command: what is unsealed is this command's own
            try:
                self._seal(catch_up=True)
            except BaseException:
                self.release(seal=False)
                raise

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

    def release(self, *, raise_seal_error: bool = True, seal: bool = True) -> None:
        """Seal what this command wrote, then let the lock go.  A seal that cannot be written
        because the target went away is kept in :attr:`seal_error` (the next command taking the
        lock seals those rows, as a catch-up); any other failure to seal is raised once the lock
        is free — unless the command is already failing (``raise_seal_error=False``)."""
        if self.conn is None:
            return
        failure: BaseException | None = None
        try:
            if seal:
                self._seal(catch_up=False)  # still holding the lock: nobody writes between
        except DBAPIError as exc:
            self.seal_error = exc
            if not (exc.connection_invalidated or isinstance(exc, OperationalError)):
                failure = exc
        except Exception as exc:
            failure = exc
        finally:  # a Ctrl-C while sealing still lets the lock go
            self._unlock()
        if failure is not None and raise_seal_error:
            raise failure

    def _unlock(self) -> None:
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
