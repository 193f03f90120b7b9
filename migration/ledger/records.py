"""Quarantine and disposition records: written with a chunk, changed only by appended events.

A record (``ledger.quarantine_record``, ``ledger.disposition_record``) is inserted in the
same transaction as the chunk that produced it — the caller's connection or cursor — and
never updated: a redrive that fixes it, the undoing of that redrive, and the rollback of
its run are rows appended to ``ledger.quarantine_event`` / ``ledger.disposition_event``.
``ledger.quarantine`` and ``ledger.disposition`` are views giving each record with its
current state (``redriven_by_run_id``, ``rolled_back_at``); ``ledger.quarantine_open``
those still to be dealt with (revision l0005).

Writers here take the caller's connection and never commit; the chunk's atomicity (its
rows, its records, its checkpoint) is the caller's transaction.
"""

from __future__ import annotations

from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: the two books of records (the mapping compiler names them so, without knowing the ledger)
QUARANTINE = "quarantine"
DISPOSITION = "disposition"
#: where the records are inserted
_TABLES = {QUARANTINE: "ledger.quarantine_record", DISPOSITION: "ledger.disposition_record"}


def public_name(book: str) -> str:
    """The name readers know a book by (a view): what a message about a record's column says."""
    if book not in _TABLES:
        raise ValueError(f"not a record book: {book}")
    return f"ledger.{book}"
#: the columns a chunk's SELECT must yield, in this order, for :func:`insert_from`
CHUNK_COLUMNS = {
    QUARANTINE: ("run_id", "stage", "source_table", "source_key", "business_key", "reason_code", "fields"),
    DISPOSITION: ("run_id", "stage", "source_table", "source_key", "disposition", "business_key", "reason_code",
                  "fields"),
}


# ---------------------------------------------------------------- writers (the caller's transaction)
def insert_from(book: str, select: str) -> str:
    """The INSERT of a chunk's records: ``select`` yields :data:`CHUNK_COLUMNS` of ``book``.

    Returned as text for the caller's DB-API cursor (the loader runs it next to the chunk's
    upserts, with its own parameter style)."""
    return f"INSERT INTO {_TABLES[book]} ({', '.join(CHUNK_COLUMNS[book])}) {select}"


def copy_from(cursor: Any, book: str, columns: list[str], stream: IO[bytes], *, size: int = 65536) -> None:
    """COPY a chunk's records (CSV, ``\\N`` for NULL) through the caller's DB-API cursor."""
    if book not in _TABLES:
        raise ValueError(f"not a record book: {book}")
    cursor.copy_expert(f"COPY {_TABLES[book]} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                       stream, size=size)


def mark_redriven(conn: Connection, *, run_id: int, stage: str, source_table: str, keys: list[str]) -> None:
    """Open records of these legacy keys (of other runs) are fixed by redrive/delta run ``run_id``."""
    conn.execute(text(
        "INSERT INTO ledger.quarantine_event (quarantine_id, kind, run_id) "
        "SELECT quarantine_id, 'redriven', :r FROM ledger.quarantine_open WHERE stage = :s AND source_table = :t "
        "AND source_key = ANY(:k) AND run_id <> :r ORDER BY quarantine_id"),
        dict(r=run_id, s=stage, t=source_table, k=keys))


def undo_redrive(conn: Connection, run_id: int) -> None:
    """Run ``run_id`` is undone: the records it had redriven are open again."""
    conn.execute(text(
        "INSERT INTO ledger.quarantine_event (quarantine_id, kind, run_id) "
        "SELECT quarantine_id, 'redrive_undone', :r FROM ledger.quarantine WHERE redriven_by_run_id = :r "
        "ORDER BY quarantine_id"), dict(r=run_id))


def mark_rolled_back(conn: Connection, run_id: int) -> None:
    """Run ``run_id`` is undone: its quarantine and disposition records are marked rolled back
    (the event's foreign key share-locks each record, as the in-place update locked it)."""
    conn.execute(text(
        "INSERT INTO ledger.quarantine_event (quarantine_id, kind, run_id) "
        "SELECT quarantine_id, 'rolled_back', :r FROM ledger.quarantine WHERE run_id = :r AND rolled_back_at IS NULL "
        "ORDER BY quarantine_id"), dict(r=run_id))
    conn.execute(text(
        "INSERT INTO ledger.disposition_event (disposition_id, kind, run_id) "
        "SELECT disposition_id, 'rolled_back', :r FROM ledger.disposition WHERE run_id = :r "
        "AND rolled_back_at IS NULL ORDER BY disposition_id"), dict(r=run_id))


# ---------------------------------------------------------------- readers
def open_keys(conn: Connection, stage: str, source_table: str) -> list[str]:
    """Legacy keys of a table's open quarantine records (what a redrive re-evaluates)."""
    return [r[0] for r in conn.execute(text(
        "SELECT DISTINCT source_key FROM ledger.quarantine_open WHERE stage = :s AND source_table = :t"),
        dict(s=stage, t=source_table))]


def run_tallies(conn: Connection, *, run_id: int, stage: str, source_table: str) -> tuple[int, dict[str, int]]:
    """(quarantined, disposition → rows) a run recorded for a legacy table (rolled back or not)."""
    params = dict(r=run_id, s=stage, t=source_table)
    quarantined = conn.execute(text(
        "SELECT count(*) FROM ledger.quarantine_record WHERE run_id = :r AND stage = :s AND source_table = :t"),
        params).scalar_one()
    disp: dict[Any, Any] = dict(conn.execute(text(
        "SELECT disposition, count(*) FROM ledger.disposition_record WHERE run_id = :r AND stage = :s "
        "AND source_table = :t GROUP BY 1"), params).all())
    return int(quarantined), {str(k): int(v) for k, v in disp.items()}


def reasons_of_run(conn: Connection, *, run_id: int, stage: str, source_table: str) -> list[tuple[str, int]]:
    """(reason, records) of a run's quarantine of a table not rolled back, most frequent first."""
    return [(r[0], int(r[1])) for r in conn.execute(text(
        "SELECT reason_code, count(*) FROM ledger.quarantine WHERE run_id = :r AND stage = :s "
        "AND source_table = :t AND rolled_back_at IS NULL GROUP BY 1 ORDER BY 2 DESC, 1"),
        dict(r=run_id, s=stage, t=source_table)).all()]


def records_of_run_sql() -> str:
    """A relation (to compose into the caller's query) of a run's records of a table not rolled
    back: columns ``s`` (legacy key), ``d`` (quarantine, filter or merged), ``r`` (reason), ``b``
    (business key); parameters ``:run``, ``:st`` (stage) and ``:t`` (legacy table)."""
    return ("(SELECT source_key AS s, 'quarantine' AS d, reason_code AS r, business_key AS b "
            "FROM ledger.quarantine "
            "WHERE run_id = :run AND stage = :st AND source_table = :t AND rolled_back_at IS NULL "
            "UNION ALL SELECT source_key, disposition, reason_code, business_key FROM ledger.disposition "
            "WHERE run_id = :run AND stage = :st AND source_table = :t AND rolled_back_at IS NULL "
            "AND disposition IN ('filter', 'merged'))")


def quarantine_by_reason(conn: Connection, *, stage: str, runs: list[int]) -> list[Any]:
    """Quarantine records of some runs of a stage per table and reason: ``source_table``,
    ``reason_code``, ``n``, ``open_n`` (neither redriven nor rolled back), ``runs``, ``fields``."""
    return list(conn.execute(text(
        "SELECT q.source_table, q.reason_code, count(*) AS n, "
        "count(*) FILTER (WHERE q.redriven_by_run_id IS NULL AND q.rolled_back_at IS NULL) AS open_n, "
        "array_agg(DISTINCT q.run_id ORDER BY q.run_id) AS runs, "
        "(SELECT array_agg(DISTINCT f ORDER BY f) FROM ledger.quarantine_record q2, unnest(q2.fields) f "
        " WHERE q2.stage = q.stage AND q2.source_table = q.source_table AND q2.reason_code = q.reason_code "
        " AND q2.run_id = ANY(:runs)) AS fields "
        "FROM ledger.quarantine q WHERE q.stage = :s AND q.run_id = ANY(:runs) "
        "GROUP BY q.stage, q.source_table, q.reason_code ORDER BY q.source_table, n DESC, q.reason_code"),
        dict(s=stage, runs=runs)))
