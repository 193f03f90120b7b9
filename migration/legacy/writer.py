"""Bulk insertion of generated rows, one strategy per engine.

Rows arrive as tuples in table-column order, with text for ``datetime`` values
(``YYYY-MM-DD HH:MM:SS``, accepted by every engine) and for ``money`` (``1234.5600``,
exact on every engine).  The fast paths bypass SQLAlchemy's per-row type processing:

- SQLite: ``executemany`` in large transactions, journal and fsync off while generating
  (the file is new; a crash leaves a file to delete, which the next run refuses to reuse).
  The finished file is left in WAL mode, so that ``legacy advance`` can write to it while a
  full load reads it (WAL readers keep their snapshot and never block the writer);
- MariaDB through pyodbc: multi-row ``INSERT … VALUES (…), (…)`` statements (pyodbc's
  ``fast_executemany`` fails with the MariaDB ODBC driver, and plain ``executemany``
  sends one row per round trip);
- PostgreSQL: ``psycopg2.extras.execute_values``.

``open(bulk=False)`` is for ``legacy advance`` on a database others may be reading: no
journal tricks, a busy timeout, short transactions (the caller commits often), and
:meth:`Sink.execute` for in-place updates and deletes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Boolean, Table, inspect
from sqlalchemy.engine import Dialect, Engine

from migration.errors import GeneratorError
from migration.schema.legacy import TABLES
from migration.secrets import redact_url, scrub

Row = tuple[Any, ...]


def insert_sql(dialect: Dialect, table: Table, rows: int = 1, marker: str = "?") -> str:
    """``INSERT INTO t (…) VALUES (…), (…)`` for ``rows`` rows, quoted for ``dialect``.

    Plain ANSI SQL: multi-row VALUES exist since SQL Server 2008 (up to 1000 rows)."""
    quote = dialect.identifier_preparer.quote
    cols = ", ".join(quote(c.name) for c in table.columns)
    one = "(" + ", ".join(marker for _ in table.columns) + ")"
    return f"INSERT INTO {quote(table.name)} ({cols}) VALUES " + ", ".join(one for _ in range(rows))


class Sink:
    """Writes rows of the legacy tables into one database."""

    chunk_rows = 5000

    def __init__(self, engine: Engine, shown: str | None = None) -> None:
        self.engine = engine
        self.shown = shown or redact_url(engine.url)
        self.dialect = engine.dialect
        self._raw: Any = None
        self.bulk = True
        self._sql: dict[str, str] = {}
        self._pending = 0

    # schema -------------------------------------------------------------------
    def existing_tables(self) -> list[str]:
        names = set(inspect(self.engine).get_table_names())
        lowered = {n.lower() for n in names}
        return [t.name for t in TABLES if t.name in names or t.name.lower() in lowered]

    def create(self, *, replace: bool) -> None:
        existing = self.existing_tables()
        if existing and not replace:
            raise GeneratorError(
                f"the database {self.shown} already holds legacy tables "
                f"({', '.join(existing[:4])}{'…' if len(existing) > 4 else ''})",
                hint="generate into a new database or file, or pass --replace to drop and recreate them",
            )
        md = TABLES[0].metadata
        if existing:
            md.drop_all(self.engine, tables=list(reversed(TABLES)), checkfirst=True)
        md.create_all(self.engine, tables=list(TABLES), checkfirst=False)

    # rows ---------------------------------------------------------------------
    def open(self, *, bulk: bool = True) -> None:
        self._raw = self.engine.raw_connection()
        self.bulk = bulk

    def quote(self, name: str) -> str:
        return str(self.dialect.identifier_preparer.quote_identifier(name))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement written with ``?`` markers; returns the rows it affected."""
        cur = self._raw.cursor()
        try:
            cur.execute(self._markers(sql), tuple(params))
            return int(cur.rowcount)
        finally:
            cur.close()

    def _markers(self, sql: str) -> str:
        return sql

    def close(self) -> None:
        if self._raw is not None:
            self._raw.commit()
            self._raw.close()
            self._raw = None

    def abort(self) -> None:
        if self._raw is not None:
            try:
                self._raw.rollback()
            finally:
                self._raw.close()
                self._raw = None

    def insert(self, table: Table, rows: Sequence[Row]) -> None:
        if rows:
            self._insert(table, rows)
            self._pending += len(rows)
            if self._pending >= 50_000:
                self.commit()

    def commit(self) -> None:
        self._raw.commit()
        self._pending = 0

    def _insert(self, table: Table, rows: Sequence[Row]) -> None:
        raise NotImplementedError


class SqliteSink(Sink):
    chunk_rows = 20_000
    busy_timeout_ms = 60_000
    journal_mode = ""

    def open(self, *, bulk: bool = True) -> None:
        super().open(bulk=bulk)
        cur = self._raw.cursor()
        if bulk:
            cur.execute("PRAGMA journal_mode=OFF")
            cur.execute("PRAGMA synchronous=OFF")
        else:
            # a writer among readers: wait for a lock instead of failing, and use WAL so that
            # readers (a full load) keep their snapshot without blocking our commits
            cur.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            mode = str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode != "wal":
                try:
                    mode = str(cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
                except Exception:  # noqa: BLE001 - a reader in rollback mode holds the file: stay as is
                    pass
            self.journal_mode = mode
            if mode == "wal":  # commits stay atomic and consistent; no fsync per short transaction
                cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        self._begin()

    def _begin(self) -> None:
        if self._raw.dbapi_connection.in_transaction:
            return
        self._raw.cursor().execute("BEGIN")

    def commit(self) -> None:
        self._raw.cursor().execute("COMMIT") if self._raw.dbapi_connection.in_transaction else None
        self._pending = 0
        self._begin()

    def close(self) -> None:
        if self._raw is not None:
            if self._raw.dbapi_connection.in_transaction:
                self._raw.cursor().execute("COMMIT")
            if self.bulk:
                cur = self._raw.cursor()
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.close()
            self._raw.close()
            self._raw = None

    def _insert(self, table: Table, rows: Sequence[Row]) -> None:
        sql = self._sql.get(table.name)
        if sql is None:
            sql = self._sql[table.name] = insert_sql(self.dialect, table)
        self._raw.cursor().executemany(sql, rows)


class MariaDbSink(Sink):
    chunk_rows = 5000
    _max_params = 30_000

    def _insert(self, table: Table, rows: Sequence[Row]) -> None:
        per = max(1, min(1000, self._max_params // len(table.columns)))
        cur = self._raw.cursor()
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            key = f"{table.name}:{len(chunk)}"
            sql = self._sql.get(key)
            if sql is None:
                sql = self._sql[key] = insert_sql(self.dialect, table, len(chunk))
            cur.execute(sql, [v for row in chunk for v in row])
        cur.close()


class PostgresSink(Sink):
    chunk_rows = 10_000

    def _markers(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _insert(self, table: Table, rows: Sequence[Row]) -> None:
        from psycopg2.extras import execute_values

        bools = [i for i, c in enumerate(table.columns) if isinstance(c.type, Boolean)]
        if bools:
            rows = [_to_bool(row, bools) for row in rows]
        sql = insert_sql(self.dialect, table).split(" VALUES ")[0] + " VALUES %s"
        cur = self._raw.cursor()
        execute_values(cur, sql, rows, page_size=2000)
        cur.close()


def _to_bool(row: Row, idx: list[int]) -> Row:
    out = list(row)
    for i in idx:
        if out[i] is not None:
            out[i] = bool(out[i])
    return tuple(out)


def sink_for(engine: Engine, shown: str | None = None) -> Sink:
    name = engine.dialect.name
    if name == "sqlite":
        return SqliteSink(engine, shown)
    if name in ("mysql", "mariadb"):
        return MariaDbSink(engine, shown)
    if name == "postgresql":
        return PostgresSink(engine, shown)
    raise GeneratorError(
        f"the generator cannot write to {name} databases ({shown or redact_url(engine.url)})",
        hint="use sqlite:///FILE, mysql+pyodbc://…?driver=MariaDB+Unicode or postgresql+psycopg2://…; "
             "for SQL Server, generate into one of these and copy",
    )


class TableWriter:
    """Buffers one table's rows and hands them to the sink in chunks."""

    def __init__(self, sink: Sink, table: Table, on_flush: Callable[[int], None] | None = None) -> None:
        self.sink = sink
        self.table = table
        self.rows = 0
        self._buf: list[Row] = []
        self._chunk = sink.chunk_rows
        self._on_flush = on_flush
        self._ncol = len(table.columns)

    def add(self, row: Row) -> None:
        self._buf.append(row)
        self.rows += 1
        if len(self._buf) >= self._chunk:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        if len(self._buf[0]) != self._ncol:
            raise AssertionError(f"{self.table.name}: row has {len(self._buf[0])} values, table {self._ncol}")
        try:
            self.sink.insert(self.table, self._buf)
        except GeneratorError:
            raise
        except Exception as exc:
            raise GeneratorError(
                f"inserting into {self.table.name} failed: {scrub(getattr(exc, 'orig', exc))}",
                where=self.sink.shown,
                hint="check the database is writable and has space; rerun with --debug for the traceback",
            ) from exc
        if self._on_flush:
            self._on_flush(len(self._buf))
        self._buf = []
