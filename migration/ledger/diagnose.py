"""What ``diagnose`` reads from the ledger: the latest events and runs.  Read-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection


def recent_events(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The newest ``limit`` events, oldest first (event_id, at, run_id, stage, kind, actor, detail)."""
    rows = conn.execute(text(
        "SELECT event_id, at, run_id, stage, kind, actor, detail FROM ledger.event "
        "ORDER BY event_id DESC LIMIT :n"), dict(n=limit)).mappings().all()
    return [dict(r) for r in reversed(rows)]


def recent_runs(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` runs, oldest first (who, what, with which tool and mapping version)."""
    rows = conn.execute(text(
        "SELECT run_id, kind, started_at, actor, host, package_version, mapping_hash, refdata_version "
        "FROM ledger.run ORDER BY run_id DESC LIMIT :n"), dict(n=limit)).mappings().all()
    return [dict(r) for r in reversed(rows)]
