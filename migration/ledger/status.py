"""What ``status`` reads from the ledger, and nothing else: lock holder, progress of loading
runs, the latest delta and watermarks of each stage.  Read-only; works while the legacy is down."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from migration.ledger.lock import LOCK_NAME


def lock_holder(conn: Connection) -> dict[str, Any] | None:
    """Who holds the migration lock (holder, host, pid, command, acquired_at), when someone does.

    The note in ``ledger.lock`` outlives a killed holder; the advisory lock does not, so the
    note counts only while some session holds the advisory lock."""
    row = conn.execute(text(
        "SELECT l.holder, l.host, l.pid, l.command, l.acquired_at FROM ledger.lock l WHERE l.lock_name = :n "
        "AND EXISTS (SELECT 1 FROM pg_locks p WHERE p.locktype = 'advisory' AND p.granted "
        "AND p.pid = l.backend_pid)"), dict(n=LOCK_NAME)).mappings().first()
    return dict(row) if row else None


def run_actor(conn: Connection, run_id: int) -> str | None:
    return conn.execute(text("SELECT actor FROM ledger.run WHERE run_id = :r"), dict(r=run_id)).scalar_one_or_none()


def last_checkpoint(conn: Connection, *, run_id: int, stage: str) -> tuple[datetime, int] | None:
    """(when, rows so far) of a run's last committed chunk of a stage."""
    row = conn.execute(text(
        "SELECT max(committed_at), coalesce(sum(rows), 0) FROM ledger.checkpoint WHERE run_id = :r AND stage = :s"),
        dict(r=run_id, s=stage)).first()
    if row is None or row[0] is None:
        return None
    return row[0], int(row[1])


def last_deltas(conn: Connection) -> dict[str, dict[str, Any]]:
    """stage → its latest loaded delta (run_id, at)."""
    return {r.stage: {"run_id": r.run_id, "at": r.at} for r in conn.execute(text(
        "SELECT DISTINCT ON (stage) stage, run_id, at FROM ledger.event WHERE kind = 'delta_loaded' "
        "AND stage IS NOT NULL ORDER BY stage, event_id DESC"))}


def latest_watermarks(conn: Connection, stage: str) -> list[dict[str, Any]]:
    """The watermarks of the newest run that recorded any for a stage: source_table, kind, value,
    recorded_at, run_id (a delta's high marks, or the full load's low ones)."""
    return [dict(r) for r in conn.execute(text(
        "SELECT source_table, kind, value, recorded_at, run_id FROM ledger.watermark WHERE stage = :s "
        "AND run_id = (SELECT max(run_id) FROM ledger.watermark WHERE stage = :s) ORDER BY source_table, kind"),
        dict(s=stage)).mappings()]


def now(conn: Connection) -> datetime:
    """The target's clock (ages are measured on the clock the ledger's times come from)."""
    return conn.execute(text("SELECT clock_timestamp()")).scalar_one()  # type: ignore[no-any-return]
