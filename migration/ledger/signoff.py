"""Ledger reads for the sign-off sections of the report: provenance, exclusions, decisions.

Read-only; the report (``migration.report.signoff``) turns these rows into its provenance,
coverage and exclusions sections.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: the event the audit records the legacy schema fingerprint under (migration.audit.fingerprint)
FINGERPRINT_EVENT = "legacy_fingerprint"


def runs(conn: Connection, run_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Who ran each run, where, with what: the columns provenance needs (oldest first)."""
    ids = sorted(set(run_ids))
    if not ids:
        return []
    return [dict(r) for r in conn.execute(text(
        "SELECT run_id, kind, started_at, actor, host, package_version, mapping_hash, refdata_version, source_url "
        "FROM ledger.run WHERE run_id = ANY(:ids) ORDER BY run_id"), dict(ids=ids)).mappings()]


def fingerprint(conn: Connection) -> dict[str, Any] | None:
    """The newest legacy schema fingerprint: its hash, the server's dialect, who recorded it and when."""
    row = conn.execute(text(
        "SELECT at, actor, detail FROM ledger.event WHERE kind = :k ORDER BY event_id DESC LIMIT 1"),
        dict(k=FINGERPRINT_EVENT)).mappings().first()
    if row is None:
        return None
    detail = dict(row["detail"] or {})
    got = detail.get("fingerprint")
    fp: dict[str, Any] = got if isinstance(got, dict) else {}
    return {"hash": detail.get("hash") or fp.get("hash"), "dialect": fp.get("dialect"),
            "server_version": fp.get("server_version") or detail.get("server_version"),
            "recorded_by": detail.get("recorded_by"), "actor": row["actor"], "source": detail.get("source"),
            "at": row["at"]}


def dispositions(conn: Connection, run_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Rows deliberately not loaded by the given runs, counted per stage, table, kind and rule
    (filtered by a rule, merged as a duplicate); rolled back ones are left out, and rows found
    unchanged by a delta are not exclusions (they are in the target)."""
    ids = sorted(set(run_ids))
    if not ids:
        return []
    return [dict(r) for r in conn.execute(text(
        "SELECT stage, source_table, disposition, reason_code, count(*) AS rows FROM ledger.disposition "
        "WHERE run_id = ANY(:ids) AND rolled_back_at IS NULL AND disposition IN ('filter', 'merged') "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"), dict(ids=ids)).mappings()]


def has_decisions(conn: Connection) -> bool:
    """Whether ``ledger.quarantine_decision`` exists (ledger revision l0006 or later)."""
    return conn.execute(text("SELECT to_regclass('ledger.quarantine_decision') IS NOT NULL")).scalar_one() is True


def decisions(conn: Connection) -> list[dict[str, Any]]:
    """Every quarantine decision, oldest first: what, by whom, when, why and over how many rows."""
    if not has_decisions(conn):
        return []
    return [dict(r) for r in conn.execute(text(
        "SELECT decision_id, stage, reason_code, key, decision, record_count, actor, at, note "
        "FROM ledger.quarantine_decision ORDER BY decision_id"), {}).mappings()]


__all__ = ["FINGERPRINT_EVENT", "decisions", "dispositions", "fingerprint", "has_decisions", "runs"]
