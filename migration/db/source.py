"""Reading the legacy database: streamed, keyset-ordered, read-only.

Rows come out in the order of the table's primary key: integer keys numerically, text
keys in *binary* order (``COLLATE Latin1_General_BIN2`` on SQL Server, the column
charset's ``_bin`` collation on MariaDB, ``"C"`` on PostgreSQL, SQLite's BINARY), so the
order never depends on an engine's linguistic collation and a resume continues exactly
after the last committed key.  One query per table streams every row after the
checkpoint (``WHERE key > :last ORDER BY key``): no OFFSET, no per-chunk re-sorting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from migration.db.codec import (
    datetime_from_text,
    decode_bytes,
    decode_column,
    repair_column,
    to_text,
)
from migration.db.engines import source_reader_kind, sqlite_path
from migration.errors import SourceError
from migration.secrets import scrub

#: the arrow-odbc reader's batches: at most this many rows and transfer-buffer bytes each
ARROW_BATCH_ROWS = 5_000
ARROW_BATCH_BYTES = 64 * 2**20
#: the transfer buffer of one value of an unbounded column (text, varchar(max)), in UTF-8 bytes:
#: without a cap arrow-odbc sizes it by the declared 2–4 GB and refuses; a longer value fails its
#: chunk loudly (a truncation indicator, exit 3), never cut
ARROW_MAX_TEXT_BYTES = 65_536

#: how often a keyset read whose connection dropped is opened again after its last key
STREAM_RETRIES = 4

#: errors worth retrying for the current chunk (connection dropped, server restarting)
TRANSIENT_SQLSTATES = ("08", "40", "57P01", "57P02", "57P03", "HYT00", "HYT01")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, DBAPIError) and getattr(exc, "connection_invalidated", False):
        return True
    code = getattr(getattr(exc, "orig", None), "pgcode", None) or ""
    if any(code.startswith(p) for p in TRANSIENT_SQLSTATES):
        return True
    args = getattr(getattr(exc, "orig", None), "args", ())
    return bool(args and isinstance(args[0], str) and args[0][:2] in ("08", "HY") and args[0] in
                ("08S01", "08001", "08003", "08004", "08007", "HYT00", "HYT01"))


@dataclass(frozen=True)
class Chunk:
    """Decoded rows of one chunk: every column as text (Polars String), in key order."""

    frame: pl.DataFrame
    key: str | None
    last_key: Any

    @property
    def size(self) -> int:
        return self.frame.height

    @property
    def keys(self) -> pl.Series:
        """The primary key as text (``_src_key``); ordinals for keyless tables are added by the caller."""
        assert self.key is not None
        return self.frame.get_column(self.key)


class Throttle:
    """Keeps reading at ``rate`` rows per second on average: after each chunk, sleeps until the
    rows read so far are due (at most one second of unused allowance carries over, so a pause —
    a long transform, a commit — is not followed by a burst)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._due: float | None = None
        #: seconds slept so far (reported with the run's timings)
        self.slept = 0.0

    def take(self, rows: int) -> None:
        now = time.monotonic()
        if self._due is None or self._due < now - 1.0:
            self._due = now
        self._due += rows / self.rate
        wait = self._due - now
        if wait > 0:
            time.sleep(wait)
            self.slept += wait


class SourceReader:
    """Reads the legacy.  ``max_rows_per_second``: the average extraction rate is kept at or below
    it (:class:`Throttle`), and each chunk is then read by its own short keyset query (``WHERE
    key > :last ORDER BY key`` limited to the chunk), so no transaction stays open on the live
    legacy while the reader waits; on SQL Server chunks are always read that way."""

    def __init__(self, engine: Engine, *, max_rows_per_second: float | None = None) -> None:
        self.engine = engine
        self.throttle = Throttle(max_rows_per_second) if max_rows_per_second else None
        #: told (one line) each time a dropped read is opened again — the run's console warns
        self.on_retry: Callable[[str], None] | None = None
        self.dialect = engine.dialect.name
        self._q = engine.dialect.identifier_preparer.quote

    # ------------------------------------------------------------ metadata
    def columns(self, table: str) -> dict[str, str]:
        insp = inspect(self.engine)
        try:
            return {c["name"]: str(c["type"]) for c in insp.get_columns(table)}
        except Exception as exc:
            raise SourceError(f"cannot read the columns of legacy table {table}: {scrub(exc)}",
                              hint="check the table exists and the login may read it") from exc

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {self._q(table)}")).scalar_one())

    def max_key(self, table: str, key: str) -> Any:
        return self.max_value(table, key)

    def max_value(self, table: str, column: str) -> Any:
        """The largest value of a column (a watermark), decoded as text like every value."""
        with self.engine.connect() as conn:
            v = conn.execute(text(f"SELECT MAX({self._q(column)}) FROM {self._q(table)}")).scalar_one()
        return v if isinstance(v, int) else to_text(v)

    def keys_where(self, table: str, key: str, column: str, since: str | None, *, after: bool = False) -> list[str]:
        """Keys of rows whose datetime ``column`` is at or after ``since`` (strictly after with
        ``after``; every non-NULL one when since is None).  Compared as datetimes by the legacy
        engine (SQLite through julianday, since it keeps datetimes as text)."""
        q = self._q
        op = ">" if after else ">="
        params: dict[str, Any]
        if since is None:
            cond, params = f"{q(column)} IS NOT NULL", {}
        elif self.dialect == "sqlite":
            cond, params = f"julianday({q(column)}) {op} julianday(:since)", {"since": since}
        else:
            cond, params = f"{q(column)} {op} :since", {"since": datetime_from_text(since)}
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(text(f"SELECT {q(key)} FROM {q(table)} WHERE {cond}"), params)]

    def keys_in(self, table: str, key: str, column: str, values: list[str]) -> list[str]:
        """Keys of rows whose ``column`` is one of ``values`` (e.g. the BatchIDs whose status changed)."""
        from sqlalchemy import bindparam

        q = self._q
        sql = text(f"SELECT {q(key)} FROM {q(table)} WHERE {q(column)} IN :v").bindparams(
            bindparam("v", expanding=True))
        out: list[str] = []
        with self.engine.connect() as conn:
            for i in range(0, len(values), 500):
                part = [int(v) if str(v).lstrip("-").isdigit() else v for v in values[i:i + 500]]
                out += [str(r[0]) for r in conn.execute(sql, dict(v=part))]
        return out

    def _binary(self, conn: Connection, table: str, key: str) -> str:
        q = self._q(key)
        if self.dialect == "mssql":
            return f"{q} COLLATE Latin1_General_BIN2"
        if self.dialect in ("mysql", "mariadb"):
            charset = conn.execute(text(
                "SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                "AND TABLE_NAME = :t AND COLUMN_NAME = :c"), dict(t=table, c=key)).scalar() or "utf8mb4"
            return f"{q} COLLATE {charset}_bin"
        if self.dialect == "postgresql":
            return f'{q} COLLATE "C"'
        return f"{q} COLLATE BINARY"

    # ------------------------------------------------------------ SQLite fast path
    def _adbc_ok(self, table: str, columns: list[str], key: str | None, key_type: str) -> bool:
        """SQLite through ADBC (Arrow, no Python object per value) when the result is sure to be
        the same text: integer or no key (rows come in rowid order, which is checked), and no
        REAL or BLOB column (their text would differ from :func:`migration.db.codec.to_text`)."""
        if self.dialect != "sqlite" or (key is not None and key_type != "int") or not _adbc_available():
            return False
        if sqlite_path(self.engine.url) is None:
            return False
        with self.engine.connect() as conn:
            info = conn.exec_driver_sql(f"PRAGMA table_info({self._q(table)})").all()
        decl = {r[1]: (r[2] or "").upper() for r in info}
        if key is not None:
            pk = [r[1] for r in info if r[5]]
            if pk != [key] or decl.get(key, "") != "INTEGER":
                # not the rowid alias (only a column declared exactly INTEGER PRIMARY KEY is one; a
                # SMALLINT or INT primary key is an ordinary index): scan order would not be key
                # order — found by the property tests on a tblBorough created as SMALLINT
                return False
        return not any(("REAL" in decl.get(c, "") or "FLOA" in decl.get(c, "") or "DOUB" in decl.get(c, "")
                        or "BLOB" in decl.get(c, "")) for c in columns)

    def _stream_sqlite_adbc(self, table: str, columns: list[str], key: str | None, after: Any, upto: Any,
                            chunk_rows: int) -> Iterator[Chunk]:
        import adbc_driver_sqlite.dbapi as adbc
        path = sqlite_path(self.engine.url)
        # a first row of empty strings makes ADBC type every column as text (it infers types
        # from the first batch, and an all-NULL column would otherwise become an integer)
        dummy = ", ".join(f"'' AS {self._q(c)}" for c in columns)
        cast = ", ".join(f"CAST({self._q(c)} AS TEXT)" for c in columns)
        where, params = [], []
        if key is not None and after is not None:
            where.append(f"{self._q(key)} > ?")
            params.append(int(after))
        if key is not None and upto is not None:
            where.append(f"{self._q(key)} <= ?")
            params.append(int(upto))
        w = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT 0 AS _o, {dummy} UNION ALL SELECT 1, {cast} FROM {self._q(table)}{w}"
        conn = adbc.connect(f"file:{path}?mode=ro")
        try:
            cur = conn.cursor()
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(chunk_rows)})
            cur.execute(sql, params)
            reader = cur.fetch_record_batch()
            last: int | None = int(after) if after is not None else None
            pending: pl.DataFrame | None = None
            for batch in reader:
                df = pl.from_arrow(_valid_utf8(batch))
                assert isinstance(df, pl.DataFrame)
                df = df.filter(pl.col("_o") == 1).drop("_o")
                if df.height == 0:
                    continue
                df = pl.DataFrame([repair_column(df.get_column(c)) for c in columns])
                if key is not None:
                    ids = df.get_column(key).cast(pl.Int64)
                    if (last is not None and ids[0] <= last) or not bool((ids.diff().drop_nulls() > 0).all()):
                        raise SourceError(f"rows of {table} did not arrive in {key} order",
                                          hint="the SQLite table is not keyed on its rowid; report this")
                    last = int(ids[-1])
                pending = df if pending is None else pl.concat([pending, df])
                while pending is not None and pending.height >= chunk_rows:
                    head, pending = pending.head(chunk_rows), pending.slice(chunk_rows)
                    yield Chunk(frame=head, key=key, last_key=head.get_column(key)[-1] if key else None)
            if pending is not None and pending.height:
                yield Chunk(frame=pending, key=key, last_key=pending.get_column(key)[-1] if key else None)
        finally:
            conn.close()

    def select_sql(self, conn: Connection, table: str, columns: list[str], key: str | None, key_type: str,
                   after: Any, upto: Any = None, limit: int | None = None) -> tuple[str, dict[str, Any]]:
        cols = ", ".join(self._q(c) for c in columns)
        if key is None:
            return f"SELECT {cols} FROM {self._q(table)}", {}
        order = self._q(key) if key_type == "int" else self._binary(conn, table, key)
        where, params = [], {}
        if after is not None:
            where.append(f"{order} > :after")
            params["after"] = int(after) if key_type == "int" else str(after)
        if upto is not None:
            where.append(f"{order} <= :upto")
            params["upto"] = int(upto) if key_type == "int" else str(upto)
        w = f" WHERE {' AND '.join(where)}" if where else ""
        if limit is not None and self.dialect == "mssql":
            return f"SELECT TOP ({int(limit)}) {cols} FROM {self._q(table)}{w} ORDER BY {order}", params
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        return f"SELECT {cols} FROM {self._q(table)}{w} ORDER BY {order}{tail}", params

    # ------------------------------------------------------------ ODBC, columnar
    def arrow_connection_string(self) -> str:
        """The ODBC connection string arrow-odbc opens its own connection with: exactly as
        SQLAlchemy's pyodbc dialect builds it for this URL (driver, server, charset, the password
        from the environment), plus, on MariaDB/MySQL, the READ COMMITTED the engine's own
        connections get (:func:`migration.db.engines.set_read_isolation`) as the driver's
        initial statement.  (SQL Server's default is READ COMMITTED already; SNAPSHOT is the
        pyodbc road's, which a throttled read takes.)"""
        args, _ = self.engine.dialect.create_connect_args(self.engine.url)
        text_ = str(args[0])
        if self.dialect in ("mysql", "mariadb"):
            text_ += ";InitStmt={SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED}"
        return text_

    def _stream_arrow_odbc(self, table: str, columns: list[str], key: str | None, key_type: str, after: Any,
                           upto: Any, chunk_rows: int) -> Iterator[Chunk]:
        """The same rows and text as the pyodbc road, read by arrow-odbc into Arrow batches (no
        Python object per text or integer value).  Chosen per source with
        ``safestats_reader=arrow-odbc`` in its URL; tests/source/test_arrow_odbc.py proves the
        chunks equal to pyodbc's on hostile values."""
        import arrow_odbc
        import pyarrow as pa

        connection_string = self.arrow_connection_string()
        with self.engine.connect() as conn:
            sql, named = self.select_sql(conn, table, columns, key, key_type, after, upto)
        # arrow-odbc binds positional text parameters; the legacy engine converts them to the
        # key's type (an integer key compares numerically with '123', a text key in its _bin order)
        positional = [str(named[name]) for name in ("after", "upto") if name in named]
        sql = sql.replace(":after", "?").replace(":upto", "?")
        try:
            # arrow-odbc allocates its transfer buffers for a whole batch up front (twice: it fetches
            # the next batch while this one is converted): a keyless table's "one chunk" (10**9
            # rows) would take 2 × 512 MB.  Batches stay small; the chunks are regrouped below.
            reader = arrow_odbc.read_arrow_batches_from_odbc(sql, connection_string, batch_size=min(chunk_rows, ARROW_BATCH_ROWS),
                                                             max_bytes_per_batch=ARROW_BATCH_BYTES,
                                                             max_text_size=ARROW_MAX_TEXT_BYTES,
                                                             parameters=positional)
            # batches are cut by bytes as well as rows: regrouped to exactly chunk_rows, the chunks
            # (and so the committed checkpoints) are the ones pyodbc's road makes
            pending: pl.DataFrame | None = None
            # the last key as pyodbc hands it over: an int for an integer column, else text
            int_key = key is not None and pa.types.is_integer(reader.schema.field(columns.index(key)).type)
            for batch in reader:
                if not batch.num_rows:
                    continue
                frame = _arrow_to_text(batch, columns, table)
                pending = frame if pending is None else pl.concat([pending, frame])
                while pending.height >= chunk_rows:
                    head, pending = pending.head(chunk_rows), pending.slice(chunk_rows)
                    yield Chunk(frame=head, key=key, last_key=_last_key(head, key, int_key))
            if pending is not None and pending.height:
                yield Chunk(frame=pending, key=key, last_key=_last_key(pending, key, int_key))
        except arrow_odbc.Error as exc:
            message = scrub(exc)
            if "truncat" in message:
                # arrow-odbc sizes its buffers from the columns' declared sizes (capped for unbounded
                # ones) and refuses to cut a longer value; it does not say which column, so every
                # column but the key is named
                texts = [c for c in columns if c != key]
                raise SourceError(f"a value of legacy table {table} does not fit arrow-odbc's buffer (its column's "
                                  f"declared size, or {ARROW_MAX_TEXT_BYTES:,} bytes for an unbounded column; one of: "
                                  f"{', '.join(texts)}): {message}",
                                  hint="read this source through pyodbc (remove safestats_reader=arrow-odbc from "
                                       "its URL) and report the value") from exc
            raise SourceError(f"cannot read legacy table {table} through arrow-odbc: {message}",
                              hint="check the source is reachable; pyodbc is the fallback (remove "
                                   "safestats_reader=arrow-odbc from its URL)") from exc

    # ------------------------------------------------------------ streaming
    def stream(self, table: str, columns: list[str], *, key: str | None, key_type: str = "int",
               after: Any = None, upto: Any = None, chunk_rows: int = 50_000) -> Iterator[Chunk]:
        """Yield decoded chunks of rows in key order, after ``after`` (exclusive) up to ``upto``
        (at most ``max_rows_per_second`` on average)."""
        for chunk in self._stream(table, columns, key=key, key_type=key_type, after=after, upto=upto,
                                  chunk_rows=chunk_rows):
            if self.throttle is not None:
                self.throttle.take(chunk.size)
            yield chunk

    def _stream(self, table: str, columns: list[str], *, key: str | None, key_type: str,
                after: Any, upto: Any, chunk_rows: int) -> Iterator[Chunk]:
        if key is not None and key not in columns:
            columns = [key] + columns
        # one short query (and transaction) per chunk: nothing stays open on the live legacy
        # while the throttle waits, nor on SQL Server while the rest of the run works
        per_chunk = key is not None and (self.throttle is not None or self.dialect == "mssql")
        if not per_chunk and self._adbc_ok(table, columns, key, key_type):
            yield from self._stream_sqlite_adbc(table, columns, key, after, upto, chunk_rows)
            return
        if self.throttle is None and source_reader_kind(self.engine) == "arrow-odbc":
            # (throttled, chunks come by short pyodbc queries instead: arrow-odbc reads one statement)
            yield from self._stream_arrow_odbc(table, columns, key, key_type, after, upto, chunk_rows)
            return
        kidx = columns.index(key) if key is not None else None
        conn: Connection | None = None
        result: Any = None
        last, attempt = after, 0
        try:
            while True:
                try:
                    if result is None:
                        conn = self.engine.connect()
                        sql, params = self.select_sql(conn, table, columns, key, key_type, last, upto,
                                                      limit=chunk_rows if per_chunk else None)
                        result = conn.execution_options(stream_results=True, max_row_buffer=chunk_rows).execute(
                            text(sql), params)
                    rows = result.fetchmany(chunk_rows)
                    if per_chunk:  # the chunk's transaction ends here; the next opens after its last key
                        _close_quietly(conn)
                        conn = result = None
                except DBAPIError as exc:
                    _close_quietly(conn, dead=True)
                    conn = result = None
                    # keyset order lets a dropped read continue after the last key handed out; a
                    # keyless table cannot, and a non-transient error is no dropped connection
                    if key is None or not is_transient(exc) or attempt >= STREAM_RETRIES:
                        raise SourceError(
                            f"reading legacy table {table} stopped after key {last!r}: "
                            f"{scrub(getattr(exc, 'orig', exc))}".strip(),
                            hint="check the legacy database is reachable, then run the same command again: it "
                                 "resumes from the last committed chunk") from exc
                    attempt += 1
                    if self.on_retry is not None:
                        self.on_retry(f"legacy table {table}: connection lost after key {last!r}, reading again "
                                      f"({attempt}/{STREAM_RETRIES}): {scrub(getattr(exc, 'orig', exc))}")
                    time.sleep(min(2 ** attempt * 0.25, 8))
                    continue
                if not rows:
                    break
                chunk = _chunk(rows, columns, key, kidx)
                last, attempt = chunk.last_key, 0
                yield chunk
        finally:
            _close_quietly(conn)


def _close_quietly(conn: Connection | None, *, dead: bool = False) -> None:
    """Close a source connection; one that failed (``dead``) is discarded, not handed back to the
    pool, whose reset would roll back on a connection the server has dropped."""
    if conn is None or conn.closed:
        return
    if not dead:
        try:
            conn.rollback()  # ends the read here, so a dropped connection shows now, not in the pool
        except DBAPIError:
            dead = True
    try:
        if dead:
            conn.invalidate()
        conn.close()
    except DBAPIError:  # noqa: S110 - dropped by the server already: nothing left to close
        pass


def _arrow_to_text(batch: Any, columns: list[str], table: str) -> pl.DataFrame:
    """One Arrow batch as the text frame :func:`_chunk` makes of the same rows read by pyodbc:
    text repaired vectorised (Windows-1252 C1 mis-decoding), integers as digits, and every other
    type (datetimes, decimals, booleans, floats) through :func:`decode_column`, the very function
    the pyodbc road applies to the same Python values."""
    import pyarrow as pa

    batch = _valid_utf8(batch)
    out = []
    for name, col in zip(columns, batch.columns, strict=True):
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            s = pl.Series(name, col).cast(pl.String)
            longest = s.str.len_bytes().max()
            if isinstance(longest, int) and longest >= ARROW_MAX_TEXT_BYTES:
                # found by the tests: a value one byte longer than the cap comes back cut to the cap
                # with no truncation indicator (MariaDB ODBC 3.1 + arrow-odbc 10.6); a value that
                # fills the buffer may have been cut, so it fails its chunk instead
                raise SourceError(f"legacy table {table}, column {name}: a value of {longest:,} bytes fills arrow-odbc's "
                                  f"{ARROW_MAX_TEXT_BYTES:,}-byte buffer and may have been cut",
                                  hint="read this source through pyodbc (remove safestats_reader=arrow-odbc from "
                                       "its URL)")
            out.append(repair_column(s))
        elif pa.types.is_integer(t) or pa.types.is_null(t):
            out.append(pl.Series(name, col).cast(pl.String))
        else:
            out.append(decode_column(name, col.to_pylist()))
    return pl.DataFrame(out)


def _last_key(frame: pl.DataFrame, key: str | None, int_key: bool) -> Any:
    """The chunk's last key as the pyodbc road gives it (an int for integer columns, else text)."""
    if key is None:
        return None
    last = frame.get_column(key)[-1]
    return int(last) if int_key else last


def _valid_utf8(batch: Any) -> Any:
    """An Arrow batch from the ADBC SQLite driver with every text column valid UTF-8.

    SQLite stores whatever bytes it was given and the driver hands them over unchecked;
    Polars would hold invalid UTF-8 and panic later.  A column that fails Arrow's (fast,
    vectorised) validation is decoded value by value with :func:`decode_bytes` (invalid
    values as Windows-1252): rare, and only that column of that batch."""
    import pyarrow as pa
    columns = list(batch.columns)
    changed = False
    for i, col in enumerate(columns):
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        try:
            col.validate(full=True)
        except pa.ArrowInvalid:
            raw = col.view(pa.large_binary() if pa.types.is_large_string(col.type) else pa.binary())
            columns[i] = pa.array([None if b is None else decode_bytes(b) for b in raw.to_pylist()],
                                  type=col.type)
            changed = True
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema) if changed else batch


def _adbc_available() -> bool:
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


def fetch_by_keys(reader: SourceReader, table: str, columns: list[str], *, key: str, key_type: str,
                  keys: list[str], batch: int = 500) -> Iterator[Chunk]:
    """The rows with the given primary keys (for redrive and delta), in batches of IN-lists."""
    from sqlalchemy import bindparam

    if key not in columns:
        columns = [key] + columns
    kidx = columns.index(key)
    q = reader.engine.dialect.identifier_preparer.quote
    sql = text(f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)} WHERE {q(key)} IN :keys "
               f"ORDER BY {q(key)}").bindparams(bindparam("keys", expanding=True))
    for i in range(0, len(keys), batch):
        part = keys[i:i + batch]
        values = [int(k) for k in part] if key_type == "int" else part
        with reader.engine.connect() as conn:  # a short transaction per batch
            rows = conn.execute(sql, dict(keys=values)).all()
        if rows:
            chunk = _chunk(rows, columns, key, kidx)
            if reader.throttle is not None:
                reader.throttle.take(chunk.size)
            yield chunk


def _chunk(rows: Any, columns: list[str], key: str | None, kidx: int | None) -> Chunk:
    cols = list(zip(*rows, strict=True))
    frame = pl.DataFrame([decode_column(c, cols[i]) for i, c in enumerate(columns)])
    return Chunk(frame=frame, key=key, last_key=cols[kidx][-1] if kidx is not None else None)
