"""Reading and appending the ledger (schema ``ledger``, Alembic branch ``ledger``)."""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from migration.errors import TargetError
from migration.version import __version__

#: the kinds of event a stage goes through (the last one decides its state)
EVENT_KINDS = {
    "stage_started": "running",
    "stage_resumed": "running",
    "stage_failed": "failed",
    # Ctrl-C/SIGTERM at a chunk boundary: unfinished like a run still going, resumed by `run STAGE`
    "stage_interrupted": "running",
    "stage_loaded": "loaded",
    "stage_reconciled": "reconciled",
    "stage_check_failed": "check_failed",
    "stage_accepted": "accepted",
    "stage_rolled_back": "rolled_back",
}


def actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class StageState:
    stage: str
    state: str              # not_started | running | failed | loaded | reconciled | check_failed | accepted | rolled_back
    run_id: int | None
    at: datetime | None
    detail: dict[str, Any]

    @property
    def done(self) -> bool:
        """Loaded, and not blocked by a failed check (unless accepted)."""
        return self.state in ("loaded", "reconciled", "accepted")


@dataclass(frozen=True)
class TableCount:
    run_id: int
    stage: str
    source_table: str
    rows_read: int
    rows_loaded: int
    rows_merged: int
    rows_quarantined: int
    rows_filtered: int
    rows_unchanged: int = 0

    @property
    def balanced(self) -> bool:
        return self.rows_read == (self.rows_loaded + self.rows_unchanged + self.rows_merged + self.rows_quarantined
                                  + self.rows_filtered)


@dataclass(frozen=True)
class RunSummary:
    """One run as `safestats-migrate runs` lists it."""

    run_id: int
    kind: str               # full | delta | redrive | rollback | reconcile | cutover
    stages: list[str]
    state: str              # from the run's latest event: running, loaded, failed, interrupted, rolled_back…
    actor: str
    started_at: datetime
    last_at: datetime | None
    rows_read: int          # legacy rows read (accounted), or committed so far while unfinished
    command: str | None


#: the word for a run's state, from the end of its latest event's kind
_RUN_STATE_WORDS = {"started": "running", "resumed": "running"}


class Ledger:
    """Thin, explicit SQL over the ledger tables; every write is an INSERT."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---------------------------------------------------------------- checks
    def require_installed(self) -> None:
        with self.engine.connect() as conn:
            ok = conn.execute(text("SELECT to_regclass('ledger.event') IS NOT NULL "
                                   "AND to_regclass('ledger.disposition') IS NOT NULL "
                                   "AND to_regclass('core.incident') IS NOT NULL")).scalar_one()
        if not ok:
            raise TargetError("the target schema is not at head (ledger or data tables missing)",
                              hint="run `safestats-migrate schema upgrade` first")

    # ---------------------------------------------------------------- runs and events
    def new_run(self, conn: Connection, *, kind: str, mapping_hash: str | None, refdata_version: str | None,
                source_url: str | None, options: dict[str, Any]) -> int:
        return int(conn.execute(text(
            "INSERT INTO ledger.run (kind, actor, host, pid, package_version, mapping_hash, refdata_version, "
            "source_url, options) VALUES (:kind, :actor, :host, :pid, :version, :mh, :rv, :src, "
            "CAST(:opts AS jsonb)) RETURNING run_id"),
            dict(kind=kind, actor=actor(), host=socket.gethostname(), pid=os.getpid(), version=__version__,
                 mh=mapping_hash, rv=refdata_version, src=source_url, opts=json.dumps(options, default=str)),
        ).scalar_one())

    def reserve_run_id(self, conn: Connection) -> int:
        """A run id no run will ever have, recording nothing (a dry run names its scratch tables
        with it): the run sequence's next value."""
        return int(conn.execute(text("SELECT nextval(pg_get_serial_sequence('ledger.run', 'run_id'))")).scalar_one())

    def event(self, conn: Connection, *, run_id: int | None, stage: str | None, kind: str,
              detail: dict[str, Any] | None = None) -> None:
        conn.execute(text("INSERT INTO ledger.event (run_id, stage, kind, actor, detail) "
                          "VALUES (:run_id, :stage, :kind, :actor, CAST(:detail AS jsonb))"),
                     dict(run_id=run_id, stage=stage, kind=kind, actor=actor(),
                          detail=json.dumps(detail or {}, default=str)))

    def latest_event(self, conn: Connection, kind: str) -> dict[str, Any] | None:
        """The newest event of a kind (e.g. the legacy schema fingerprint), or None."""
        row = conn.execute(text("SELECT event_id, at, run_id, stage, kind, actor, detail FROM ledger.event "
                                "WHERE kind = :k ORDER BY event_id DESC LIMIT 1"), dict(k=kind)).mappings().first()
        return dict(row) if row else None

    def run_info(self, conn: Connection, run_id: int) -> dict[str, Any] | None:
        row = conn.execute(text("SELECT * FROM ledger.run WHERE run_id = :r"), dict(r=run_id)).mappings().first()
        return dict(row) if row else None

    def stage_states(self, conn: Connection | None = None) -> dict[str, StageState]:
        """The state of every stage that has events, from its latest stage event."""
        sql = text(
            "SELECT DISTINCT ON (stage) stage, kind, run_id, at, detail FROM ledger.event "
            "WHERE stage IS NOT NULL AND kind = ANY(:kinds) ORDER BY stage, event_id DESC")
        params = dict(kinds=list(EVENT_KINDS))

        def read(c: Connection) -> dict[str, StageState]:
            return {r.stage: StageState(r.stage, EVENT_KINDS[r.kind], r.run_id, r.at, dict(r.detail or {}))
                    for r in c.execute(sql, params)}

        if conn is not None:
            return read(conn)
        with self.engine.connect() as c:
            return read(c)

    def stage_state(self, stage: str, conn: Connection | None = None) -> StageState:
        return self.stage_states(conn).get(stage, StageState(stage, "not_started", None, None, {}))

    def runs_of_stage(self, conn: Connection, stage: str) -> list[int]:
        """Runs that loaded a stage, oldest first (a run id per stage execution)."""
        rows = conn.execute(text(
            "SELECT DISTINCT run_id FROM ledger.event WHERE stage = :s AND kind = 'stage_started' "
            "ORDER BY run_id"), dict(s=stage))
        return [int(r[0]) for r in rows]

    # ---------------------------------------------------------------- checkpoints
    # The last key of a chunk is the legacy's own value, and a text key may hold a NUL, which
    # PostgreSQL text cannot: it is stored with backslash and NUL escaped (``\\`` and ``\0``),
    # and read back exactly, so a resume continues after the very key (found by the property tests).
    def checkpoint(self, conn: Connection, *, run_id: int, stage: str, source_table: str, phase: str,
                   chunk_no: int, last_key: str | None, rows: int) -> None:
        conn.execute(text(
            "INSERT INTO ledger.checkpoint (run_id, stage, source_table, phase, chunk_no, last_key, rows) "
            "VALUES (:run_id, :stage, :t, :phase, :n, :k, :rows)"),
            dict(run_id=run_id, stage=stage, t=source_table, phase=phase, n=chunk_no, k=_key_out(last_key),
                 rows=rows))

    def last_checkpoint(self, conn: Connection, *, run_id: int, stage: str, source_table: str,
                        phase: str) -> tuple[int, str | None, int] | None:
        """(chunk_no, last_key, total rows so far) of the last committed chunk, or None."""
        row = conn.execute(text(
            "SELECT max(chunk_no), (array_agg(last_key ORDER BY chunk_no DESC))[1], sum(rows) "
            "FROM ledger.checkpoint WHERE run_id = :r AND stage = :s AND source_table = :t AND phase = :p"),
            dict(r=run_id, s=stage, t=source_table, p=phase)).first()
        if row is None or row[0] is None:
            return None
        return int(row[0]), _key_in(row[1]), int(row[2])

    def committed(self, conn: Connection, *, run_id: int, stage: str) -> dict[str, Any]:
        """What a run has committed of a stage so far: chunks and rows per legacy table (load phase)."""
        rows = conn.execute(text(
            "SELECT source_table, count(*), coalesce(sum(rows), 0) FROM ledger.checkpoint "
            "WHERE run_id = :r AND stage = :s AND phase = 'load' GROUP BY 1 ORDER BY 1"),
            dict(r=run_id, s=stage)).all()
        return {"chunks": sum(int(r[1]) for r in rows), "rows": sum(int(r[2]) for r in rows),
                "tables": {r[0]: {"chunks": int(r[1]), "rows": int(r[2])} for r in rows}}

    def runs(self, *, limit: int | None = None, stage: str | None = None) -> tuple[list[RunSummary], int]:
        """The latest runs, newest first (at most ``limit``), and how many there are in all."""
        where = ("WHERE CAST(:s AS text) IS NULL OR EXISTS (SELECT 1 FROM ledger.event x WHERE x.run_id = r.run_id "
                 "AND x.stage = :s) OR r.options->>'stage' = :s")
        lim = f"LIMIT {int(limit)}" if limit else ""
        with self.engine.connect() as conn:
            total = int(conn.execute(text(f"SELECT count(*) FROM ledger.run r {where}"), dict(s=stage)).scalar_one())
            rows = conn.execute(text(
                "SELECT r.run_id, r.kind, r.started_at, r.actor, r.options, "
                " ARRAY(SELECT DISTINCT e.stage FROM ledger.event e WHERE e.run_id = r.run_id "
                "       AND e.stage IS NOT NULL ORDER BY 1) AS stages, "
                " (SELECT e.kind FROM ledger.event e WHERE e.run_id = r.run_id ORDER BY e.event_id DESC LIMIT 1) "
                "   AS last_kind, "
                " (SELECT max(e.at) FROM ledger.event e WHERE e.run_id = r.run_id) AS last_at, "
                " (SELECT sum(t.rows_read) FROM ledger.table_count t WHERE t.run_id = r.run_id) AS rows_read, "
                " (SELECT sum(c.rows) FROM ledger.checkpoint c WHERE c.run_id = r.run_id AND c.phase = 'load') "
                "   AS rows_committed "
                f"FROM ledger.run r {where} ORDER BY r.run_id DESC {lim}"), dict(s=stage)).mappings().all()
        out = []
        for r in rows:
            opts = dict(r["options"] or {})
            stages = list(r["stages"]) or ([str(opts["stage"])] if opts.get("stage") else [])
            last = r["last_kind"] or ""
            word = last.split("_", 1)[1] if "_" in last else (last or "recorded")
            out.append(RunSummary(
                run_id=int(r["run_id"]), kind=r["kind"], stages=stages, state=_RUN_STATE_WORDS.get(word, word),
                actor=r["actor"], started_at=r["started_at"], last_at=r["last_at"],
                rows_read=int(r["rows_read"] if r["rows_read"] is not None else (r["rows_committed"] or 0)),
                command=opts.get("command")))
        return out, total

    # ---------------------------------------------------------------- accounting
    def record_counts(self, conn: Connection, c: TableCount, detail: dict[str, Any] | None = None) -> None:
        conn.execute(text(
            "INSERT INTO ledger.table_count (run_id, stage, source_table, rows_read, rows_loaded, rows_merged, "
            "rows_quarantined, rows_filtered, rows_unchanged, detail) VALUES (:run_id, :stage, :source_table, "
            ":rows_read, :rows_loaded, :rows_merged, :rows_quarantined, :rows_filtered, :rows_unchanged, "
            "CAST(:detail AS jsonb)) "
            "ON CONFLICT (run_id, stage, source_table) DO NOTHING"),
            dict(c.__dict__, detail=json.dumps(detail or {}, default=str)))

    def table_counts(self, conn: Connection, run_id: int | None = None,
                     stage: str | None = None) -> list[TableCount]:
        rows = conn.execute(text(
            "SELECT run_id, stage, source_table, rows_read, rows_loaded, rows_merged, rows_quarantined, "
            "rows_filtered, rows_unchanged FROM ledger.table_count WHERE (CAST(:r AS bigint) IS NULL OR run_id = :r) "
            "AND (CAST(:s AS text) IS NULL OR stage = :s) ORDER BY run_id, stage, source_table"),
            dict(r=run_id, s=stage))
        return [TableCount(*r) for r in rows]


def iter_chunks(seq: Iterable[Any], n: int) -> Iterable[list[Any]]:
    buf: list[Any] = []
    for x in seq:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


_KEY_ESCAPES = re.compile(r"\\(\\|0)")


def _key_out(key: str | None) -> str | None:
    return None if key is None else key.replace("\\", "\\\\").replace("\x00", "\\0")


def _key_in(stored: str | None) -> str | None:
    return None if stored is None else _KEY_ESCAPES.sub(lambda m: "\\" if m.group(1) == "\\" else "\x00", stored)
