"""The verdict about the whole migration: PASS, PASS_WITH_ACCEPTED, FAIL or INCOMPLETE.

One function, :func:`migration_verdict`, decides it for ``reconcile --all``, ``report``
(``--check``), and later ``status --check`` and ``cutover``, from what the ledger records —
it never runs a check itself (``reconcile`` does, against the target as it is now).

It judges **every planned stage** (the caller passes the stages of the mapping set), not
only those the ledger knows.  A stage is *reconciled* when it is loaded and its latest
check results passed (warnings allowed), and no run wrote to it after those results: a
full load, a resumed load, a delta, a quarantine redrive, a reference seed or a rollback
that is newer than the checks makes them prove nothing about what is in the target now.

* **FAIL** — a stage's latest checks failed and nobody accepted it (wins over INCOMPLETE);
* **INCOMPLETE** — a planned stage is not started, not finished, failed to load, rolled
  back, never checked, its checks could not run, or it changed after its checks;
* **PASS_WITH_ACCEPTED** — every stage reconciled, some only because a person accepted
  its failed checks (who, when, why and which checks are listed);
* **PASS** — every stage reconciled.

"Newer" compares the ledger's ``clock_timestamp()`` times: the latest write event of the
stage against the first result of its latest reconciliation (both are written under the
migration lock, so they never interleave).  The exit codes follow the table of the
design notes: PASS and PASS_WITH_ACCEPTED 0, FAIL 1, INCOMPLETE 3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from migration.ledger.books import Ledger, StageState
from migration.secrets import scrub

PASS = "PASS"
PASS_WITH_ACCEPTED = "PASS_WITH_ACCEPTED"
FAIL = "FAIL"
INCOMPLETE = "INCOMPLETE"
#: the verdicts, best first, with the exit code of each (the design notes' table)
EXIT_CODES = {PASS: 0, PASS_WITH_ACCEPTED: 0, FAIL: 1, INCOMPLETE: 3}

#: a stage's state for the verdict (``reconciled`` and ``accepted`` count as reconciled)
RECONCILED = "reconciled"
ACCEPTED = "accepted"
CHECK_FAILED = "check_failed"
CHECKS_ERROR = "checks_error"
STALE = "stale"
NOT_RECONCILED = "not_reconciled"
LOAD_FAILED = "load_failed"
RUNNING = "running"
ROLLED_BACK = "rolled_back"
NOT_STARTED = "not_started"
STAGE_STATES = (RECONCILED, ACCEPTED, CHECK_FAILED, CHECKS_ERROR, STALE, NOT_RECONCILED, LOAD_FAILED, RUNNING,
                ROLLED_BACK, NOT_STARTED)

#: events that mean a run wrote (or removed) a stage's rows
WRITE_EVENTS = ("stage_started", "stage_resumed", "stage_loaded", "stage_failed", "stage_interrupted", "seed_loaded",
                "delta_started", "delta_loaded", "delta_failed", "delta_interrupted",
                "redrive_started", "redrive_loaded", "redrive_failed", "redrive_interrupted",
                "run_rolled_back", "stage_rolled_back")
#: events that start a run loading a stage (their run ids order the runs)
_RUN_STARTS = ("stage_started", "stage_resumed", "delta_started", "redrive_started")
_WRITE_WORDS = {"stage": "full", "seed": "reference seed", "delta": "delta", "redrive": "redrive"}

#: how the one-line summary words each state that is not reconciled (singular, plural)
_PHRASES = {
    CHECK_FAILED: ("failed its checks", "failed their checks"),
    CHECKS_ERROR: ("could not be checked", "could not be checked"),
    STALE: ("changed after its checks", "changed after their checks"),
    NOT_RECONCILED: ("never checked", "never checked"),
    LOAD_FAILED: ("failed", "failed"),
    RUNNING: ("unfinished", "unfinished"),
    ROLLED_BACK: ("rolled back", "rolled back"),
    NOT_STARTED: ("not started", "not started"),
}


@dataclass(frozen=True)
class AcceptedFailure:
    """A stage whose failed checks a person accepted (``reconcile accept``)."""

    stage: str
    checks: tuple[str, ...]
    by: str
    at: datetime
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "checks": list(self.checks), "by": self.by, "at": self.at.isoformat(),
                "reason": self.reason}


@dataclass(frozen=True)
class StageVerdict:
    """One planned stage: its state for the verdict and why, in words."""

    stage: str
    state: str                       # one of STAGE_STATES
    reason: str
    load_run_id: int | None = None   # the run the ledger's stage state points at
    checks_run_id: int | None = None  # the run holding its latest check results
    checked_at: datetime | None = None
    warnings: tuple[str, ...] = ()   # checks that warned in its latest results
    accepted: AcceptedFailure | None = None

    @property
    def reconciled(self) -> bool:
        return self.state in (RECONCILED, ACCEPTED)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "state": self.state, "reconciled": self.reconciled, "reason": self.reason,
                "load_run_id": self.load_run_id, "checks_run_id": self.checks_run_id,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None,
                "warnings": list(self.warnings),
                "accepted": self.accepted.to_dict() if self.accepted else None}


@dataclass(frozen=True)
class MigrationVerdict:
    status: str                      # PASS | PASS_WITH_ACCEPTED | FAIL | INCOMPLETE
    stages: tuple[StageVerdict, ...]  # every planned stage, in plan order

    @property
    def planned(self) -> int:
        return len(self.stages)

    @property
    def reconciled(self) -> int:
        return sum(1 for s in self.stages if s.reconciled)

    @property
    def accepted(self) -> tuple[AcceptedFailure, ...]:
        return tuple(s.accepted for s in self.stages if s.accepted is not None)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def not_reconciled(self) -> tuple[StageVerdict, ...]:
        return tuple(s for s in self.stages if not s.reconciled)

    @property
    def summary(self) -> str:
        """``INCOMPLETE: 5 of 10 stages reconciled; mps_crime failed, 4 not started``."""
        if not self.stages:
            return f"{self.status}: no stage is planned (no mapping files?)"
        head = f"{self.status}: {self.reconciled} of {self.planned} stages reconciled"
        parts = []
        for state in _PHRASES:
            names = [s.stage for s in self.stages if s.state == state]
            if not names:
                continue
            one, many = _PHRASES[state]
            if len(names) <= 2:
                parts.append(f"{' and '.join(names)} {one if len(names) == 1 else many}")
            else:
                parts.append(f"{len(names)} {many}")
        if self.accepted:
            names = [a.stage for a in self.accepted]
            parts.append(f"{', '.join(names)} accepted with failed checks")
        return head + ("; " + ", ".join(parts) if parts else "")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "summary": self.summary, "planned": self.planned,
                "reconciled": self.reconciled, "stages": [s.to_dict() for s in self.stages],
                "accepted": [a.to_dict() for a in self.accepted]}


@dataclass(frozen=True)
class _Checks:
    run_id: int
    at: datetime
    failed: tuple[str, ...]
    errors: tuple[str, ...]
    warned: tuple[str, ...]
    first_problem: str | None


@dataclass(frozen=True)
class _Write:
    kind: str
    run_id: int | None
    at: datetime
    newest_run: int | None = None  # the highest id of a run that loaded the stage (full, delta, redrive)

    def newer_than(self, ch: _Checks) -> bool:
        """Written after the checks: later in time, or by a run newer than the one holding them (a
        check result under an older run id cannot have seen that run's rows)."""
        return self.at > ch.at or (self.newest_run is not None and self.newest_run > ch.run_id)

    def words(self) -> str:
        if self.kind.endswith("rolled_back"):
            return f"a rollback of run {self.run_id}" if self.run_id is not None else "a rollback"
        what = _WRITE_WORDS.get(self.kind.split("_")[0], self.kind)
        return f"the {what} run {self.run_id}" if self.run_id is not None else f"a {what} run"


def migration_verdict(source: Engine | Connection, planned: Sequence[str]) -> MigrationVerdict:
    """The verdict over ``planned`` (every stage of the mapping set, in plan order).

    Reads the ledger only (``source`` is the target engine or an open connection on it);
    raises :class:`~migration.errors.TargetError` when the ledger is not installed."""
    if isinstance(source, Engine):
        Ledger(source).require_installed()
        with source.connect() as conn:
            return _verdict(conn, planned)
    return _verdict(source, planned)


def _verdict(conn: Connection, planned: Sequence[str]) -> MigrationVerdict:
    stages = list(dict.fromkeys(planned))
    states = _stage_states(conn)
    checks = _latest_checks(conn, stages)
    writes = _latest_writes(conn, stages)
    accepts = _acceptances(conn, stages)
    skipped = _skipped(conn, stages)
    unbalanced = _unbalanced(conn, stages, states)
    out = tuple(_judge(s, states.get(s), checks.get(s), writes.get(s), accepts.get(s), s in skipped,
                       unbalanced.get(s)) for s in stages)
    return MigrationVerdict(_overall(out), out)


def _overall(stages: Iterable[StageVerdict]) -> str:
    stages = list(stages)
    if any(s.state == CHECK_FAILED for s in stages):
        return FAIL
    if not stages or any(not s.reconciled for s in stages):
        return INCOMPLETE
    if any(s.state == ACCEPTED for s in stages):
        return PASS_WITH_ACCEPTED
    return PASS


def _judge(stage: str, st: StageState | None, ch: _Checks | None, wr: _Write | None, acc: AcceptedFailure | None,
           skipped: bool, unbalanced: str | None = None) -> StageVerdict:
    state = st.state if st is not None else "not_started"
    run = st.run_id if st is not None else None
    if state == "not_started":
        return StageVerdict(stage, NOT_STARTED, "not started: nothing of it is in the target")
    if state == "rolled_back":
        return StageVerdict(stage, ROLLED_BACK, "rolled back: nothing of it is in the target", run)
    if state == "running":
        return StageVerdict(stage, RUNNING, f"run {run} has not finished (interrupted? `run {stage}` resumes it)",
                            run)
    if state == "failed":
        # the error text is not repeated: it may quote a row (the run printed it; the ledger keeps it)
        return StageVerdict(stage, LOAD_FAILED, f"run {run} failed to load it (fix the cause, then `run {stage}` "
                                                f"resumes it)", run)
    # loaded, reconciled, check_failed or accepted: what do its latest checks prove?
    if unbalanced is not None:  # the ledger's own accounting: no check can make up for it
        return StageVerdict(stage, CHECK_FAILED, unbalanced, run, ch.run_id if ch else None,
                            ch.at if ch else None)
    if ch is None:
        why = " (loaded with --no-reconcile)" if skipped else ""
        return StageVerdict(stage, NOT_RECONCILED, f"loaded by run {run}, never checked{why}", run)
    if wr is not None and wr.newer_than(ch):
        return StageVerdict(stage, STALE, f"{wr.words()} wrote to it at {wr.at:%Y-%m-%d %H:%M:%S}, after its "
                                          f"latest checks (run {ch.run_id})", run, ch.run_id, ch.at, ch.warned)
    if ch.failed or ch.errors:
        if acc is not None and acc.at > ch.at:
            return StageVerdict(stage, ACCEPTED, f"failed checks of run {ch.run_id} accepted by {acc.by}: "
                                                 f"{acc.reason}", run, ch.run_id, ch.at, ch.warned, acc)
        if ch.failed:
            more = f" (+{len(ch.failed) - 1} more)" if len(ch.failed) > 1 else ""
            return StageVerdict(stage, CHECK_FAILED, f"{len(ch.failed)} check(s) failed in run {ch.run_id}: "
                                                     f"{ch.first_problem}{more}", run, ch.run_id, ch.at, ch.warned)
        return StageVerdict(stage, CHECKS_ERROR, f"its checks could not run in run {ch.run_id}: {ch.first_problem}",
                            run, ch.run_id, ch.at, ch.warned)
    warned = f", {len(ch.warned)} warning(s)" if ch.warned else ""
    return StageVerdict(stage, RECONCILED, f"checks of run {ch.run_id} passed{warned}", run, ch.run_id, ch.at,
                        ch.warned)


# --------------------------------------------------------------------------- ledger reads
def _stage_states(conn: Connection) -> dict[str, StageState]:
    return Ledger(conn.engine).stage_states(conn)


def _latest_checks(conn: Connection, stages: list[str]) -> dict[str, _Checks]:
    """Per stage, the results of the latest run that recorded checks of it."""
    rows = conn.execute(text(
        "WITH latest AS (SELECT DISTINCT ON (stage) stage, run_id FROM ledger.check_result "
        "                WHERE stage = ANY(:s) ORDER BY stage, result_id DESC) "
        "SELECT c.stage, c.run_id, min(c.at) AS at, "
        "array_agg(c.check_name ORDER BY c.result_id) FILTER (WHERE c.status = 'fail') AS failed, "
        "array_agg(c.check_name ORDER BY c.result_id) FILTER (WHERE c.status = 'error') AS errors, "
        "array_agg(c.check_name ORDER BY c.result_id) FILTER (WHERE c.status = 'warn') AS warned, "
        "(array_agg(c.check_name || ': ' || c.summary ORDER BY c.status = 'fail' DESC, c.result_id) "
        " FILTER (WHERE c.status IN ('fail', 'error')))[1] AS first_problem "
        "FROM ledger.check_result c JOIN latest l ON l.stage = c.stage AND l.run_id = c.run_id "
        "GROUP BY c.stage, c.run_id"), dict(s=stages))
    return {r.stage: _Checks(int(r.run_id), r.at, tuple(r.failed or ()), tuple(r.errors or ()),
                             tuple(r.warned or ()), _short(r.first_problem)) for r in rows}


def _latest_writes(conn: Connection, stages: list[str]) -> dict[str, _Write]:
    """Per stage, its latest write event (by time), and the newest run that loaded it (by id)."""
    rows = conn.execute(text(
        "SELECT DISTINCT ON (stage) stage, kind, "
        "COALESCE(run_id, CASE WHEN detail->>'run_id' ~ '^[0-9]+$' THEN CAST(detail->>'run_id' AS bigint) END) "
        "AS run_id, at, max(run_id) FILTER (WHERE kind = ANY(:runs)) OVER (PARTITION BY stage) AS newest_run "
        "FROM ledger.event WHERE stage = ANY(:s) AND kind = ANY(:k) ORDER BY stage, at DESC, event_id DESC"),
        dict(s=stages, k=list(WRITE_EVENTS), runs=list(_RUN_STARTS)))
    return {r.stage: _Write(r.kind, int(r.run_id) if r.run_id is not None else None, r.at,
                            int(r.newest_run) if r.newest_run is not None else None) for r in rows}


def _acceptances(conn: Connection, stages: list[str]) -> dict[str, AcceptedFailure]:
    rows = conn.execute(text(
        "SELECT DISTINCT ON (stage) stage, actor, at, detail FROM ledger.event "
        "WHERE kind = 'stage_accepted' AND stage = ANY(:s) ORDER BY stage, event_id DESC"), dict(s=stages))
    out = {}
    for r in rows:
        d: Mapping[str, Any] = r.detail if isinstance(r.detail, Mapping) else {}
        checks = d.get("accepted_failures") or d.get("failed") or []
        out[r.stage] = AcceptedFailure(r.stage, tuple(str(c) for c in checks),
                                       str(d.get("accepted_by") or r.actor), r.at, _short(d.get("reason")) or "")
    return out


def _unbalanced(conn: Connection, stages: list[str], states: Mapping[str, StageState]) -> dict[str, str]:
    """Per stage, the first table whose accounting does not balance (read ≠ loaded + unchanged +
    merged + quarantined + filtered) among the runs since its current full load, rolled back
    runs left out."""
    loads = {s: st.run_id for s, st in states.items() if s in stages and st.run_id is not None}
    if not loads:
        return {}
    rows = conn.execute(text(
        "SELECT t.stage, t.run_id, t.source_table, t.rows_read, t.rows_loaded + t.rows_unchanged + t.rows_merged "
        "+ t.rows_quarantined + t.rows_filtered AS accounted FROM ledger.table_count t "
        "WHERE t.stage = ANY(:s) AND t.rows_read <> t.rows_loaded + t.rows_unchanged + t.rows_merged "
        "+ t.rows_quarantined + t.rows_filtered AND NOT EXISTS (SELECT 1 FROM ledger.event u "
        "WHERE u.kind = 'run_rolled_back' AND u.stage = t.stage AND u.detail->>'run_id' = t.run_id::text) "
        "ORDER BY t.run_id, t.source_table"), dict(s=list(loads)))
    out: dict[str, str] = {}
    for r in rows:
        if r.run_id >= loads[r.stage] and r.stage not in out:
            out[r.stage] = (f"the accounting of {r.source_table} (run {r.run_id}) does not balance: read "
                            f"{r.rows_read:,}, accounted {r.accounted:,} (off by {r.rows_read - r.accounted:+,})")
    return out


def _skipped(conn: Connection, stages: list[str]) -> set[str]:
    """Stages whose latest load skipped its checks (``run --no-reconcile``)."""
    return {r[0] for r in conn.execute(text(
        "SELECT DISTINCT stage FROM ledger.event WHERE kind = 'reconcile_skipped' AND stage = ANY(:s)"),
        dict(s=stages))}


def _short(value: Any, limit: int = 300) -> str | None:
    """One line of at most ``limit`` characters (summaries may be long)."""
    if value is None:
        return None
    line = " ".join(scrub(value).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


__all__ = ["ACCEPTED", "CHECKS_ERROR", "CHECK_FAILED", "EXIT_CODES", "FAIL", "INCOMPLETE", "LOAD_FAILED",
           "NOT_RECONCILED", "NOT_STARTED", "PASS", "PASS_WITH_ACCEPTED", "RECONCILED", "ROLLED_BACK", "RUNNING",
           "STAGE_STATES", "STALE", "AcceptedFailure", "MigrationVerdict", "StageVerdict", "migration_verdict"]
