"""What the ledger says happened: runs of a stage, seeds, snapshots, watermarks, check results.

Readers take a connection (so they see the caller's transaction); the few writers here
append rows (watermarks, check results) in the caller's transaction.  Where a report
joins the target's rows with the runs that wrote them, :func:`stage_runs_sql` gives that
relation to compose into the caller's query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: events that start a run writing a stage's tables (full, delta, redrive)
STAGE_RUN_STARTS = ("stage_started", "delta_started", "redrive_started")


# ---------------------------------------------------------------- runs of a stage
def run_groups(conn: Connection, stage: str) -> dict[int, list[int]]:
    """Stage runs not undone yet → their member runs in the order they wrote (oldest group first).

    A stage run (``run``, a delta or a redrive) writes its tables under its own id; the
    reference seeds it loads are runs of their own, listed before it (seeds loaded before
    the tables) or after it.  The group is undone as one."""
    started = conn.execute(text(
        "SELECT run_id, coalesce(detail->'seed_runs', '[]'::jsonb) FROM ledger.event WHERE stage = :s "
        "AND kind IN ('stage_started', 'delta_started', 'redrive_started') ORDER BY event_id"),
        dict(s=stage)).all()
    after = conn.execute(text(
        "SELECT CAST(detail->>'stage_run' AS bigint), CAST(detail->>'seed_run' AS bigint) FROM ledger.event "
        "WHERE stage = :s AND kind = 'seed_loaded' AND detail->>'stage_run' IS NOT NULL ORDER BY event_id"),
        dict(s=stage)).all()
    undone = {int(r[0]) for r in conn.execute(text(
        "SELECT CAST(detail->>'run_id' AS bigint) FROM ledger.event WHERE stage = :s "
        "AND kind = 'run_rolled_back'"), dict(s=stage))}
    groups: dict[int, list[int]] = {}
    for run_id, seeds in started:
        if run_id in undone:
            continue
        groups[int(run_id)] = [int(x) for x in seeds] + [int(run_id)]
    for stage_run, seed_run in after:
        if stage_run in groups:
            groups[stage_run].append(int(seed_run))
    return dict(sorted(groups.items()))


def completed_runs(conn: Connection, stage: str) -> list[int]:
    """Stage runs (group ids) not undone whose run finished (its ``stage_loaded``, ``delta_loaded``
    or ``redrive_loaded`` event is written), oldest first.  A delta builds on the newest of
    these: one that stopped half-way (crash, dropped connection, Ctrl-C) took a key snapshot
    and watermarks it did not finish applying, so a delta built on it would miss changes."""
    done = {int(r[0]) for r in conn.execute(text(
        "SELECT DISTINCT run_id FROM ledger.event WHERE stage = :s "
        "AND kind IN ('stage_loaded', 'delta_loaded', 'redrive_loaded')"), dict(s=stage))}
    return [r for r in run_groups(conn, stage) if r in done]


def active_runs(conn: Connection, stage: str) -> list[int]:
    """Stage runs (group ids) not undone yet, oldest first."""
    return list(run_groups(conn, stage))


def table_runs(conn: Connection, stage: str) -> list[int]:
    """This stage's table runs (full, delta, redrive — not seed runs) that are not undone."""
    rows = conn.execute(text(
        "SELECT run_id FROM ledger.event WHERE stage = :s AND kind IN ('stage_started', 'delta_started', "
        "'redrive_started') AND run_id NOT IN (SELECT CAST(detail->>'run_id' AS bigint) FROM ledger.event "
        "WHERE stage = :s AND kind = 'run_rolled_back')"), dict(s=stage)).all()
    return [int(r[0]) for r in rows]


def run_exists(conn: Connection, run_id: int) -> bool:
    return conn.execute(text("SELECT 1 FROM ledger.run WHERE run_id = :r"), dict(r=run_id)).first() is not None


def rollback_of(conn: Connection, stage: str, run_id: int) -> Any | None:
    """The latest rollback of a stage run (``at``, ``actor``), or None."""
    return conn.execute(text(
        "SELECT at, actor FROM ledger.event WHERE kind = 'run_rolled_back' AND stage = :s "
        "AND detail->>'run_id' = :r ORDER BY event_id DESC LIMIT 1"), dict(s=stage, r=str(run_id))).first()


def seed_loaded(conn: Connection, *, stage: str, file: str, stage_run: int) -> bool:
    """A reference seed was loaded for this stage run already (a resumed stage)."""
    return conn.execute(text(
        "SELECT 1 FROM ledger.event WHERE stage = :s AND kind = 'seed_loaded' "
        "AND detail->>'file' = :f AND detail->>'stage_run' = :r"),
        dict(s=stage, f=file, r=str(stage_run))).first() is not None


def keys_snapshot_taken(conn: Connection, *, run_id: int, stage: str, source_table: str) -> bool:
    return conn.execute(text(
        "SELECT 1 FROM ledger.event WHERE run_id = :r AND stage = :s AND kind = 'keys_snapshot' "
        "AND detail->>'source_table' = :t"), dict(r=run_id, s=stage, t=source_table)).first() is not None


def checkpointed_rows(conn: Connection, *, run_id: int, stage: str, source_table: str, phase: str = "load") -> int:
    """Rows of a legacy table a run committed, summed over its checkpoints."""
    return int(conn.execute(text(
        "SELECT coalesce(sum(rows), 0) FROM ledger.checkpoint WHERE run_id = :r AND stage = :s "
        "AND source_table = :t AND phase = :p"), dict(r=run_id, s=stage, t=source_table, p=phase)).scalar_one())


def latest_loads(conn: Connection) -> list[tuple[str, dict[str, Any]]]:
    """(stage, detail) of every stage's latest ``stage_loaded`` event."""
    return [(r[0], dict(r[1] or {})) for r in conn.execute(text(
        "SELECT DISTINCT ON (stage) stage, detail FROM ledger.event WHERE kind = 'stage_loaded' "
        "ORDER BY stage, event_id DESC")).all()]


def event_seconds(conn: Connection, kind: str = "stage_loaded") -> dict[str, float]:
    """stage → the seconds its latest event of ``kind`` recorded (the benchmark's second record)."""
    rows = conn.execute(text("SELECT stage, (detail->>'seconds')::float FROM ledger.event "
                             "WHERE kind = :k ORDER BY event_id"), dict(k=kind)).all()
    return {r[0]: r[1] for r in rows}


def installed(conn: Connection) -> bool:
    """The target holds the ledger (its event table)."""
    return bool(conn.execute(text("SELECT to_regclass('ledger.event') IS NOT NULL")).scalar_one())


# ---------------------------------------------------------------- watermarks
def record_watermark(conn: Connection, *, run_id: int, stage: str, source_table: str, kind: str,
                     value: str | None, if_absent: bool = False) -> None:
    """Append a watermark; ``if_absent`` keeps the one already recorded (a resumed extract)."""
    conn.execute(text(
        "INSERT INTO ledger.watermark (run_id, stage, source_table, kind, value) VALUES (:r, :s, :t, :k, :v)"
        + (" ON CONFLICT (run_id, stage, source_table, kind) DO NOTHING" if if_absent else "")),
        dict(r=run_id, s=stage, t=source_table, k=kind, v=value))


def watermark(conn: Connection, *, run_id: int, stage: str, source_table: str, kind: str) -> tuple[str | None] | None:
    """``(value,)`` of one recorded watermark, or None when none is recorded."""
    row = conn.execute(text(
        "SELECT value FROM ledger.watermark WHERE run_id = :r AND stage = :s AND source_table = :t "
        "AND kind = :k"), dict(r=run_id, s=stage, t=source_table, k=kind)).first()
    return None if row is None else (row[0],)


def watermarks(conn: Connection, run_id: int, stage: str, table: str) -> dict[str, str | None]:
    """kind → value of a run's watermarks of a legacy table."""
    return {r[0]: r[1] for r in conn.execute(text(
        "SELECT kind, value FROM ledger.watermark WHERE run_id = :r AND stage = :s AND source_table = :t"),
        dict(r=run_id, s=stage, t=table))}


def expected_key_bounds(conn: Connection, stage: str, load_run_id: int) -> dict[str, Any]:
    """The legacy key each table's expected rows are read up to: the bound recorded by the newest
    completed run of the stage not undone — the load run itself, or a delta after it.

    The load's own bound is not enough once a delta ran: every row the delta rightly added
    would be called extra, and a late row the delta should have added (stamped with the last
    watermark, above the load's bound) would be expected by no one.  A redrive re-reads no
    legacy rows beyond its base run's snapshot, so its bound does not count."""
    rows = conn.execute(text(
        "SELECT DISTINCT ON (w.source_table) w.source_table, w.value FROM ledger.watermark w "
        "WHERE w.stage = :s AND w.kind = 'key' AND w.run_id >= :r "
        "AND EXISTS (SELECT 1 FROM ledger.event e WHERE e.run_id = w.run_id AND e.stage = w.stage "
        "            AND (e.kind = 'delta_loaded' OR (e.kind = 'stage_loaded' AND e.run_id = :r))) "
        "AND NOT EXISTS (SELECT 1 FROM ledger.event u WHERE u.stage = w.stage AND u.kind = 'run_rolled_back' "
        "                AND u.detail->>'run_id' = w.run_id::text) "
        "ORDER BY w.source_table, w.run_id DESC"), dict(s=stage, r=load_run_id)).all()
    bounds = {r[0]: r[1] for r in rows}
    # a load whose stage_loaded event is not written yet (never the case for the gate, which runs
    # after it) still reads to its own bound
    for r in conn.execute(text("SELECT source_table, value FROM ledger.watermark WHERE run_id = :r AND stage = :s "
                               "AND kind = 'key'"), dict(r=load_run_id, s=stage)):
        bounds.setdefault(r[0], r[1])
    return bounds


# ---------------------------------------------------------------- check results
def record_check_result(conn: Connection, *, run_id: int, stage: str, check: str, status: str, summary: str,
                        detail: dict[str, Any]) -> None:
    conn.execute(text(
        "INSERT INTO ledger.check_result (run_id, stage, check_name, status, summary, detail) "
        "VALUES (:run, :stage, :name, :status, :summary, CAST(:detail AS jsonb))"),
        dict(run=run_id, stage=stage, name=check, status=status, summary=summary,
             detail=json.dumps(detail, default=str)))


def latest_check_event(conn: Connection, stage: str) -> dict[str, Any] | None:
    """The detail of a stage's latest reconciliation event (checked or failed), or None."""
    row = conn.execute(text(
        "SELECT detail FROM ledger.event WHERE stage = :s AND kind IN ('stage_check_failed', 'stage_reconciled') "
        "ORDER BY event_id DESC LIMIT 1"), dict(s=stage)).first()
    return None if row is None else dict(row[0] or {})


def checked_stages(conn: Connection, run_id: int | None = None) -> list[str]:
    """Stages with check results (of one run), in the order first checked."""
    return [r[0] for r in conn.execute(text(
        "SELECT stage FROM ledger.check_result WHERE (CAST(:r AS bigint) IS NULL OR run_id = :r) "
        "GROUP BY stage ORDER BY min(result_id)"), dict(r=run_id))]


def latest_checks(conn: Connection, *, stage: str, lo: int, hi: int | None) -> list[Any]:
    """The latest result of each check of a stage recorded by runs ``lo`` ≤ run < ``hi``."""
    return list(conn.execute(text(
        "SELECT DISTINCT ON (check_name) result_id, run_id, stage, check_name, status, summary, detail, at "
        "FROM ledger.check_result WHERE stage = :s AND run_id >= :lo "
        "AND (CAST(:hi AS bigint) IS NULL OR run_id < :hi) "
        "ORDER BY check_name, result_id DESC"), dict(s=stage, lo=lo, hi=hi)))


# ---------------------------------------------------------------- for reports
def stage_run_history(conn: Connection, kinds: Sequence[str]) -> list[Any]:
    """Every start of a stage run (events of ``kinds``), oldest first: ``stage``, ``run_id``,
    ``kind``, ``at``, ``loaded_at``, ``failed_at`` and ``undone`` (rolled back)."""
    return list(conn.execute(text(
        "SELECT e.stage, e.run_id, e.kind, e.at, "
        "(SELECT max(x.at) FROM ledger.event x WHERE x.run_id = e.run_id AND x.stage = e.stage "
        " AND x.kind = replace(e.kind, '_started', '_loaded')) AS loaded_at, "
        "(SELECT max(x.at) FROM ledger.event x WHERE x.run_id = e.run_id AND x.stage = e.stage "
        " AND x.kind IN (replace(e.kind, '_started', '_failed'), replace(e.kind, '_started', '_interrupted'))) "
        "  AS failed_at, "
        "EXISTS (SELECT 1 FROM ledger.event u WHERE u.kind = 'run_rolled_back' AND u.stage = e.stage "
        " AND u.detail->>'run_id' = e.run_id::text) AS undone "
        "FROM ledger.event e WHERE e.kind = ANY(:kinds) AND e.stage IS NOT NULL ORDER BY e.event_id"),
        dict(kinds=list(kinds))))


def stages_of_run(conn: Connection, run_id: int) -> list[str]:
    """Stages a run has events of, in the order of their first event."""
    return [r[0] for r in conn.execute(text(
        "SELECT stage FROM ledger.event WHERE run_id = :r AND stage IS NOT NULL GROUP BY stage "
        "ORDER BY min(event_id)"), dict(r=run_id))]


def acceptances(conn: Connection) -> list[Any]:
    """Each stage's latest ``stage_accepted`` event: ``stage``, ``actor``, ``at``, ``detail``."""
    return list(conn.execute(text(
        "SELECT DISTINCT ON (stage) stage, actor, at, detail FROM ledger.event "
        "WHERE kind = 'stage_accepted' AND stage IS NOT NULL ORDER BY stage, event_id DESC")))


def started_tables(conn: Connection) -> dict[tuple[int, str], list[str]]:
    """(run, stage) → the legacy tables its ``stage_started`` event names."""
    return {(r.run_id, r.stage): list(r.tables or []) for r in conn.execute(text(
        "SELECT run_id, stage, detail->'tables' AS tables FROM ledger.event WHERE kind = 'stage_started'"))}


def stage_runs_sql(*, kinds: str = ":kinds", stages: str | None = None) -> str:
    """A relation (``run_id``, ``stage``) of the runs that wrote each stage, to join with a target
    table's ``load_run_id``; ``kinds`` (and ``stages``) name the caller's array parameters."""
    where = f"kind = ANY({kinds})" + (f" AND stage = ANY({stages})" if stages else "")
    return f"(SELECT DISTINCT run_id, stage FROM ledger.event WHERE {where})"
