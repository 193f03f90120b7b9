"""Engines for the legacy source (read-only) and the PostgreSQL target.

The source is opened read-only *by the database*, not only by our code: SQLite through a
``mode=ro`` URI, other engines through a login that has SELECT only (the tests create
one on MariaDB).  Every error message shows the URL redacted.
"""

from __future__ import annotations

import sqlite3
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from migration.db.codec import decode_bytes
from migration.errors import SettingsError, SourceError, TargetError
from migration.secrets import redact_url, scrub

#: the source URL's query key choosing how legacy rows are read over ODBC (issue 15): ``pyodbc``
#: (row by row, the default and the fallback) or ``arrow-odbc`` (result sets straight into Arrow
#: batches).  A key of the source's URL, so every command that opens the source (run, delta,
#: reconcile, profile, preflight) reads it the same way without another setting to pass around.
READER_KEY = "safestats_reader"
READERS = ("pyodbc", "arrow-odbc")
_readers: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def source_reader_kind(engine: Engine) -> str:
    """How :class:`migration.db.source.SourceReader` reads this engine's rows."""
    return _readers.get(engine, "pyodbc")


def _reader_choice(url: URL) -> tuple[URL, str | None]:
    """The URL without :data:`READER_KEY` (the ODBC driver must not see it) and the reader named."""
    value = url.query.get(READER_KEY)
    if value is None:
        return url, None
    if not isinstance(value, str) or value not in READERS:
        raise SettingsError(f"unknown legacy reader {READER_KEY}={value!r} in the source URL",
                            hint=f"use one of: {', '.join(READERS)}")
    if value == "arrow-odbc":
        if not url.drivername.endswith("+pyodbc"):
            raise SettingsError(f"{READER_KEY}=arrow-odbc needs an ODBC source (…+pyodbc://), not {url.drivername}",
                                hint=f"remove {READER_KEY} from the source URL")
        try:
            import arrow_odbc  # noqa: F401
        except ImportError as exc:
            raise SettingsError(f"{READER_KEY}=arrow-odbc is set but the arrow-odbc package is not installed",
                                hint="pip install 'safestats-migration[arrow-odbc]', or remove "
                                     f"{READER_KEY} to read through pyodbc") from exc
    return url.difference_update_query([READER_KEY]), value


def sqlite_path(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    db = url.database
    if db.startswith("file:"):
        db = db[5:].split("?", 1)[0]
    return Path(db)


def _sqlite_engine(url: URL, *, read_only: bool, **kw: Any) -> Engine:
    path = sqlite_path(url)
    if path is None:
        return create_engine(url, **kw)
    if read_only and not path.exists():
        raise SourceError(f"legacy SQLite file {path} does not exist",
                          hint="generate one with `safestats-migrate legacy generate --url sqlite:///PATH`")
    mode = "ro" if read_only else "rwc"
    uri = f"file:{path.resolve()}?mode={mode}"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        # SQLite keeps whatever bytes it was given: text that is not valid UTF-8 is read as
        # Windows-1252 (the legacy's code page) instead of raising "Could not decode to UTF-8"
        conn.text_factory = decode_bytes
        return conn

    # the URL keeps the file's path (shown in messages, used by the ADBC fast path); the
    # creator decides how it is opened (read-only URI)
    return create_engine(f"sqlite:///{path.resolve()}", creator=connect, **kw)


def source_engine(url: URL, **kw: Any) -> Engine:
    """An engine on the legacy database that cannot write (SQLite mode=ro; SELECT-only logins elsewhere)."""
    url, reader = _reader_choice(url)
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url, read_only=True, **kw)
        eng = create_engine(url, pool_pre_ping=True, **kw)
        if reader is not None:
            _readers[eng] = reader
        if url.get_backend_name() == "postgresql":
            @event.listens_for(eng, "connect")
            def _ro(dbapi_conn: Any, _rec: Any) -> None:  # belt and braces: PG session read-only
                cur = dbapi_conn.cursor()
                cur.execute("SET default_transaction_read_only = on")
                cur.close()
        elif url.get_backend_name() in ("mysql", "mariadb", "mssql"):
            backend = url.get_backend_name()

            @event.listens_for(eng, "connect")
            def _isolation(dbapi_conn: Any, _rec: Any) -> None:
                set_read_isolation(dbapi_conn, backend)
        return eng
    except SourceError:
        raise
    except Exception as exc:  # bad driver names, missing ODBC driver…
        raise SourceError(f"cannot open the legacy database {redact_url(url)}: {scrub(exc)}") from exc


def set_read_isolation(dbapi_conn: Any, backend: str) -> str:
    """Make a new legacy connection read beside the live application without blocking it, and say
    how: SQL Server SNAPSHOT when the database allows it (row versions: no shared lock at all),
    else READ COMMITTED (on SQL Server and MariaDB/MySQL); never a NOLOCK hint (dirty reads —
    rows that are rolled back later, or read twice or not at all while pages split).  SQLite and
    PostgreSQL keep their default (a read sees committed rows and blocks no writer)."""
    cur = dbapi_conn.cursor()
    try:
        if backend == "mssql":
            cur.execute("SELECT snapshot_isolation_state FROM sys.databases WHERE name = DB_NAME()")
            row = cur.fetchone()
            dbapi_conn.rollback()  # the level is set outside any transaction
            level = "SNAPSHOT" if row is not None and int(row[0]) == 1 else "READ COMMITTED"
            cur.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
        else:
            level = "READ COMMITTED"
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        dbapi_conn.commit()
    finally:
        cur.close()
    return level


def writable_engine(url: URL, **kw: Any) -> Engine:
    """An engine that may write (the generator's, or the target's)."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, read_only=False, **kw)
    return create_engine(url, pool_pre_ping=True, **kw)


def target_engine(url: URL, **kw: Any) -> Engine:
    if url.get_backend_name() != "postgresql":
        raise TargetError(
            f"the target must be PostgreSQL, not {url.get_backend_name()} ({redact_url(url)})",
            hint="set SAFESTATS_TARGET_URL to postgresql+psycopg2://user@host:5432/database",
        )
    return create_engine(url, pool_pre_ping=True, **kw)


def check_connect(engine: Engine, *, role: str) -> None:
    """Open one connection now, so a wrong URL fails early with a clear message."""
    try:
        with engine.connect():
            pass
    except (OperationalError, DBAPIError) as exc:
        err = SourceError if role == "source" else TargetError
        raise err(
            f"cannot connect to the {role} database {redact_url(engine.url)}: {scrub(getattr(exc, 'orig', exc))}".strip(),
            hint="check the server is running, the URL, and the password variable",
        ) from exc
