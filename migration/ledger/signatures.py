"""``ledger.signature``: who signed which report (``report sign``).  Append-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Signature:
    signature_id: int
    name: str
    role: str
    actor: str              # user@host that ran `report sign`
    at: datetime
    report_sha256: str
    report_path: str
    verdict: str
    incomplete: bool


_COLS = "signature_id, name, role, actor, at, report_sha256, report_path, verdict, incomplete"


def installed(conn: Connection) -> bool:
    """Whether ``ledger.signature`` exists (ledger revision l0007 or later)."""
    return conn.execute(text("SELECT to_regclass('ledger.signature') IS NOT NULL")).scalar_one() is True


def record(conn: Connection, *, name: str, role: str, actor: str, report_sha256: str, report_path: str,
           verdict: str, incomplete: bool) -> Signature:
    row = conn.execute(text(
        f"INSERT INTO ledger.signature (name, role, actor, report_sha256, report_path, verdict, incomplete) "
        f"VALUES (:n, :r, :a, :d, :p, :v, :i) RETURNING {_COLS}"),
        dict(n=name, r=role, a=actor, d=report_sha256, p=report_path, v=verdict, i=incomplete)).one()
    return Signature(*row)


def all_signatures(conn: Connection) -> list[Signature]:
    """Every signature, oldest first (none when the table is not there yet)."""
    if not installed(conn):
        return []
    return [Signature(*r) for r in conn.execute(text(f"SELECT {_COLS} FROM ledger.signature ORDER BY signature_id"))]


__all__ = ["Signature", "all_signatures", "installed", "record"]
