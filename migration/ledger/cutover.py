"""The cutover's records: the freeze and the go decision, as events of a ``cutover`` run.

``cutover_freeze`` holds the legacy's state when the freeze was declared (per legacy table:
rows, highest key, highest watermark, a digest of the key set); ``cutover_go`` who decided,
when, on which report (its digest).  Both are ordinary append-only ``ledger.event`` rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from migration.ledger.books import Ledger

FREEZE = "cutover_freeze"
GO = "cutover_go"


def record(conn: Connection, ledger: Ledger, *, kind: str, detail: dict[str, Any],
           options: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A cutover run with its one event; returns (run id, the event as read back)."""
    run_id = ledger.new_run(conn, kind="cutover", mapping_hash=None, refdata_version=None, source_url=None,
                            options=options)
    ledger.event(conn, run_id=run_id, stage=None, kind=kind, detail=detail)
    ev = ledger.latest_event(conn, kind)
    assert ev is not None
    return run_id, ev


def latest(conn: Connection, kind: str) -> dict[str, Any] | None:
    return Ledger(conn.engine).latest_event(conn, kind)


def deltas_after(conn: Connection, event_id: int) -> dict[str, dict[str, Any]]:
    """stage → its newest loaded delta after an event (run_id, at)."""
    return {r.stage: {"run_id": r.run_id, "at": r.at} for r in conn.execute(text(
        "SELECT DISTINCT ON (stage) stage, run_id, at FROM ledger.event WHERE kind = 'delta_loaded' "
        "AND event_id > :e AND stage IS NOT NULL ORDER BY stage, event_id DESC"), dict(e=event_id))}


def last_activity(conn: Connection) -> datetime | None:
    """When the ledger last recorded a run's work, a check or a decision (cutover records aside)."""
    return conn.execute(text(  # type: ignore[no-any-return]
        "SELECT GREATEST((SELECT max(at) FROM ledger.event WHERE kind NOT LIKE 'cutover%'), "
        "(SELECT max(at) FROM ledger.check_result), (SELECT max(at) FROM ledger.quarantine_decision))")).scalar_one()


def foreign_rows(conn: Connection) -> list[tuple[str, int]]:
    """(table, rows) of the data tables holding rows no migration run wrote: a ``load_run_id``
    that is not a full, delta or redrive run of the ledger (what the application inserted
    after the switch).  An application's UPDATE that kept a row's ``load_run_id`` is not seen."""
    from migration.schema.models import DATA_TABLES

    runs = [int(r[0]) for r in conn.execute(text(
        "SELECT run_id FROM ledger.run WHERE kind IN ('full', 'delta', 'redrive')"))]
    out = []
    for t in DATA_TABLES:
        if "load_run_id" not in t.c:
            continue
        n = int(conn.execute(text(f'SELECT count(*) FROM "{t.schema}"."{t.name}" '
                                  "WHERE NOT (load_run_id = ANY(:runs))"), dict(runs=runs)).scalar_one())
        if n:
            out.append((f"{t.schema}.{t.name}", n))
    return out


def refuse_after_go(conn: Connection, command: str, *, after_cutover: bool = False) -> None:
    """A command that writes to the target (``run``, ``run --delta``, ``rollback``) is refused
    once the cutover went ahead: the target belongs to the application now.  ``rollback
    --after-cutover`` (``after_cutover``) is allowed only while every row of the data tables
    was written by a migration run."""
    from migration.errors import CutoverDone

    go = latest(conn, GO)
    if go is not None and after_cutover:
        found = foreign_rows(conn)
        if not found:
            return
        listed = ", ".join(f"{t} {n:,}" for t, n in found)
        raise CutoverDone(f"`{command}` refused: the target holds rows no migration run wrote ({listed}) since "
                          f"the cutover (run {go['run_id']})", hint="undoing the migration would keep or break "
                          "them: a back-out now is a decision for the application owner (runbooks/cutover.md)")
    if go is not None:
        raise CutoverDone(f"`{command}` refused: the cutover went ahead (run {go['run_id']} by {go['actor']} at "
                          f"{go['at']:%Y-%m-%d %H:%M:%S%z}); the target is the live database",
                          hint="see runbooks/cutover.md (after the go: back-out)")
