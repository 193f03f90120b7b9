"""Decisions about quarantined rows (``ledger.quarantine_decision``, revision l0006).

A decision covers the quarantine records open at the moment it is made (their ids are
recorded with it, so rows quarantined later stay undecided); a record's decision is the
newest decision covering it, and ``undecided`` revokes an earlier one.  A decision is
*settled* once its record is closed: ``fix-and-redrive`` when a redrive loaded or
re-quarantined the row, ``corrected-at-source`` when a delta loaded it (both close the record
through a ``redriven`` event), ``accept-loss`` at once.  Undecided open records block
``cutover go``; they never change the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

DECISIONS = ("fix-and-redrive", "accept-loss", "corrected-at-source", "undecided")
UNDECIDED = "undecided"


@dataclass(frozen=True)
class KeyMatch:
    """Open records of one key in one stage (a key may name rows of several stages)."""

    stage: str
    source_table: str
    reason_code: str
    records: int


@dataclass(frozen=True)
class Decision:
    decision_id: int
    decision: str
    note: str
    actor: str
    at: datetime
    record_count: int
    stage: str | None
    reason_code: str | None
    key: str | None


def open_ids(conn: Connection, *, stage: str | None = None, reason: str | None = None,
             keys: list[str] | None = None) -> list[int]:
    """Ids of the open records of a stage (and reason), or of keys (legacy or business key)."""
    return [int(r[0]) for r in conn.execute(text(
        "SELECT quarantine_id FROM ledger.quarantine_open WHERE (CAST(:s AS text) IS NULL OR stage = :s) "
        "AND (CAST(:r AS text) IS NULL OR reason_code = :r) "
        "AND (CAST(:k AS text[]) IS NULL OR source_key = ANY(:k) OR business_key = ANY(:k)) "
        "ORDER BY quarantine_id"), dict(s=stage, r=reason, k=keys))]


def key_matches(conn: Connection, key: str, *, stage: str | None = None) -> list[KeyMatch]:
    """Where a key (legacy or business) names open records: per stage, table and reason."""
    return [KeyMatch(r[0], r[1], r[2], int(r[3])) for r in conn.execute(text(
        "SELECT stage, source_table, reason_code, count(*) FROM ledger.quarantine_open "
        "WHERE (source_key = :k OR business_key = :k) AND (CAST(:s AS text) IS NULL OR stage = :s) "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"), dict(k=key, s=stage))]


def record_decision(conn: Connection, *, decision: str, note: str, actor: str, ids: list[int],
                    stage: str | None, reason: str | None, key: str | None) -> Decision:
    """Append a decision covering the records ``ids`` (the caller's transaction)."""
    if decision not in DECISIONS:
        raise ValueError(f"not a decision: {decision}")
    row = conn.execute(text(
        "INSERT INTO ledger.quarantine_decision (decision, note, actor, stage, reason_code, key, record_count, "
        "quarantine_ids) VALUES (:d, :n, :a, :s, :r, :k, :c, CAST(:ids AS bigint[])) "
        "RETURNING decision_id, at"),
        dict(d=decision, n=note, a=actor, s=stage, r=reason, k=key, c=len(ids), ids=ids)).one()
    return Decision(int(row[0]), decision, note, actor, row[1], len(ids), stage, reason, key)


#: each record with its current decision (NULL: never decided); composed into the readers below
_CURRENT = (
    "SELECT q.quarantine_id, q.stage, q.source_table, q.reason_code, "
    "(q.redriven_by_run_id IS NULL AND q.rolled_back_at IS NULL) AS is_open, q.rolled_back_at IS NOT NULL AS gone, "
    "d.decision, d.actor, d.at, d.note, d.decision_id "
    "FROM ledger.quarantine q LEFT JOIN LATERAL (SELECT decision, actor, at, note, decision_id "
    "FROM ledger.quarantine_decision x WHERE q.quarantine_id = ANY(x.quarantine_ids) "
    "ORDER BY x.decision_id DESC LIMIT 1) d ON TRUE")


def counts(conn: Connection, *, stage: str | None = None) -> list[dict[str, Any]]:
    """Per stage, reason and decision: open records and settled ones (closed with a decision
    other than undecided); rolled back records are left out."""
    rows = conn.execute(text(
        f"SELECT stage, reason_code, COALESCE(decision, 'undecided') AS decision, "
        f"count(*) FILTER (WHERE is_open) AS open, "
        f"count(*) FILTER (WHERE NOT is_open AND decision IS NOT NULL AND decision <> 'undecided') AS settled "
        f"FROM ({_CURRENT}) c WHERE NOT gone AND (CAST(:s AS text) IS NULL OR stage = :s) "
        f"GROUP BY 1, 2, 3 HAVING count(*) FILTER (WHERE is_open) > 0 "
        f"OR count(*) FILTER (WHERE NOT is_open AND decision IS NOT NULL AND decision <> 'undecided') > 0 "
        f"ORDER BY 1, 2, 3"), dict(s=stage)).mappings().all()
    return [dict(r) for r in rows]


def undecided_open(conn: Connection) -> int:
    """Open records nobody decided about (or whose decision was revoked)."""
    return int(conn.execute(text(
        f"SELECT count(*) FROM ({_CURRENT}) c WHERE is_open AND COALESCE(decision, 'undecided') = 'undecided'"))
        .scalar_one())


def decisions_of(conn: Connection, ids: list[int]) -> dict[int, tuple[str, str, datetime]]:
    """quarantine id → (decision, who, when) of the records given that have one."""
    return {int(r[0]): (r[6], r[7], r[8]) for r in conn.execute(text(
        f"SELECT * FROM ({_CURRENT}) c WHERE quarantine_id = ANY(:ids) AND decision IS NOT NULL"),
        dict(ids=ids))}


def latest_decision_at(conn: Connection) -> datetime | None:
    return conn.execute(text("SELECT max(at) FROM ledger.quarantine_decision")).scalar_one()  # type: ignore[no-any-return]


def history(conn: Connection, limit: int = 20) -> list[Decision]:
    """The newest decisions first."""
    return [Decision(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]), r[6], r[7], r[8]) for r in conn.execute(text(
        "SELECT decision_id, decision, note, actor, at, record_count, stage, reason_code, key "
        "FROM ledger.quarantine_decision ORDER BY decision_id DESC LIMIT :n"), dict(n=limit))]
