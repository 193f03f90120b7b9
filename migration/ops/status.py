"""``status``: where the migration stands, from the ledger alone (the legacy may be down).

Each planned stage (the plan's own :class:`~migration.plan.StagePlan` objects, so ``status``
and ``plan`` never disagree about the stages) with its state, its latest checks, its
latest delta and how far the target lags the legacy; the quarantine by reason and decision;
the lock holder; the overall verdict from the one verdict function
(:func:`migration.ledger.verdict.migration_verdict`).

The lag is the only thing that asks the legacy, and only when a source is configured: the
question runs in a daemon thread given :data:`SOURCE_TIMEOUT` seconds; past that, or on any
error, the lag is "unknown (source unreachable)" and the rest of the status stands.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import URL

from migration.ledger import decisions
from migration.ledger import status as reads
from migration.ledger.verdict import MigrationVerdict, migration_verdict
from migration.plan import Plan, StagePlan, prepare_plan
from migration.settings import Settings

#: ``status --json`` changes this when its keys change
SCHEMA_VERSION = 1
#: seconds the legacy gets to answer the lag question
SOURCE_TIMEOUT = 5.0
#: a loading stage whose last chunk is older than this is "stalled" (``--stalled-after``)
STALLED_AFTER = timedelta(minutes=15)

#: the ledger's stage state → the word status shows
_WORDS = {"not_started": "not started", "running": "loading", "failed": "failed", "loaded": "loaded",
          "reconciled": "reconciled", "check_failed": "check failed", "accepted": "accepted",
          "rolled_back": "rolled back"}


@dataclass(frozen=True)
class Lag:
    """How far the target lags the legacy for one stage."""

    watermark: str | None            # the newest timestamp watermark recorded (legacy local time)
    recorded_at: datetime | None     # when the run recorded it
    run_id: int | None
    rows_changed: int | None = None  # legacy rows changed after it, when the source answered (rows stamped
    #                                  with the watermark itself were read by the run that recorded it)
    note: str = ""                   # why rows_changed is missing

    def to_dict(self) -> dict[str, Any]:
        return {"watermark": self.watermark, "recorded_at": _iso(self.recorded_at), "run_id": self.run_id,
                "rows_changed_since": self.rows_changed, "note": self.note}


@dataclass(frozen=True)
class StageLine:
    plan: StagePlan
    state: str                          # the word: not started, loading, loaded, reconciled, …
    verdict_state: str                  # the verdict's state of the stage (reconciled, stale, …)
    why: str
    checked_at: datetime | None
    loading: dict[str, Any] | None = None    # holder, last_checkpoint_at, age_seconds, rows, stalled
    last_delta: dict[str, Any] | None = None
    lag: Lag | None = None

    def to_dict(self) -> dict[str, Any]:
        from migration.plan import plan_to_dict

        one = plan_to_dict(Plan(stages=(self.plan,)))["stages"][0]  # the plan's own stage object
        return {**one, "status": self.state, "verdict_state": self.verdict_state, "why": self.why,
                "last_check_at": _iso(self.checked_at),
                "loading": None if self.loading is None else {
                    k: _iso(v) if isinstance(v, datetime) else v for k, v in self.loading.items()},
                "last_delta": None if self.last_delta is None else {
                    "run_id": self.last_delta["run_id"], "at": _iso(self.last_delta["at"])},
                "lag": self.lag.to_dict() if self.lag else None}


@dataclass(frozen=True)
class MigrationStatus:
    stages: tuple[StageLine, ...]
    verdict: MigrationVerdict
    quarantine: list[dict[str, Any]]   # stage, reason_code, decision, open, settled
    undecided: int
    lock: dict[str, Any] | None
    at: datetime
    source_checked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "at": _iso(self.at), "verdict": self.verdict.to_dict(),
                "stages": [s.to_dict() for s in self.stages],
                "quarantine": {"undecided_open": self.undecided, "by_reason": self.quarantine},
                "lock": None if self.lock is None else {
                    k: _iso(v) if isinstance(v, datetime) else v for k, v in self.lock.items()},
                "notes": list(self.notes)}


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


def migration_status(settings: Settings, *, lag: bool = True,
                     stalled_after: timedelta = STALLED_AFTER) -> MigrationStatus:
    """Read the ledger (and, for the lag only, the legacy within :data:`SOURCE_TIMEOUT` s).

    Raises :class:`~migration.errors.TargetError` (exit 3) when the target or its ledger
    cannot be read; nothing else about the migration's state is an error here."""
    from migration.db.engines import check_connect, target_engine
    from migration.ledger import Ledger
    from migration.mapping.order import validated_specs

    specs, _files = validated_specs(settings.mappings_dir)
    target = target_engine(settings.require_target())
    try:
        check_connect(target, role="target")
        Ledger(target).require_installed()
        plan = prepare_plan(settings.mappings_dir, target_url=settings.target_url)
        with target.connect() as conn:
            verdict = migration_verdict(conn, [s.stage for s in plan.stages])
            states = Ledger(target).stage_states(conn)
            holder = reads.lock_holder(conn)
            deltas = reads.last_deltas(conn)
            at = reads.now(conn)
            quarantine = decisions.counts(conn)
            undecided = decisions.undecided_open(conn)
            marks = {s.stage: reads.latest_watermarks(conn, s.stage) for s in plan.stages}
            loading: dict[str, dict[str, Any]] = {}
            for name, st in states.items():
                if st.state != "running" or st.run_id is None:
                    continue
                cp = reads.last_checkpoint(conn, run_id=st.run_id, stage=name)
                since = cp[0] if cp else st.at
                age = (at - since).total_seconds() if since else None
                loading[name] = {"run_id": st.run_id, "holder": reads.run_actor(conn, st.run_id),
                                 "last_checkpoint_at": cp[0] if cp else None, "rows": cp[1] if cp else 0,
                                 "age_seconds": round(age) if age is not None else None,
                                 # no lock held: the run was killed or interrupted, it is not loading now
                                 "stalled": holder is None or (age is not None
                                                               and age > stalled_after.total_seconds())}
    finally:
        target.dispose()
    lags, notes, checked = _lags(settings, specs, marks) if lag else ({}, [], False)
    by_stage = {v.stage: v for v in verdict.stages}
    lines = []
    for sp in plan.stages:
        v = by_stage[sp.stage]
        found = states.get(sp.stage)
        lines.append(StageLine(plan=sp, state=_WORDS.get(found.state if found else "not_started", "not started"),
                               verdict_state=v.state, why=v.reason, checked_at=v.checked_at,
                               loading=loading.get(sp.stage), last_delta=deltas.get(sp.stage),
                               lag=lags.get(sp.stage)))
    return MigrationStatus(tuple(lines), verdict, quarantine, undecided, holder, at, checked, notes)


def _lags(settings: Settings, specs: Any, marks: dict[str, list[dict[str, Any]]]
          ) -> tuple[dict[str, Lag], list[str], bool]:
    """Per stage with a timestamp watermark: the watermark, and the legacy rows changed since it
    (asked of the source in a daemon thread that gets :data:`SOURCE_TIMEOUT` seconds)."""
    wanted: list[tuple[str, str, str, str, dict[str, Any]]] = []  # stage, table, key, column, mark
    for spec in specs:
        for tm in spec.tables:
            d = tm.source.delta
            if d is None or not d.watermark_column or tm.source.key is None:
                continue
            mark = next((m for m in marks.get(spec.stage, []) if m["source_table"] == tm.source.table
                         and m["kind"] == "timestamp"), None)
            if mark is not None:
                wanted.append((spec.stage, tm.source.table, tm.source.key, d.watermark_column, mark))
    if not wanted:
        return {}, [], False
    counts: dict[tuple[str, str], int] | None = None
    note = ""
    if settings.source_url is None:
        note = "lag unknown (no source configured)"
    else:
        counts, note = _ask_source(settings.source_url, wanted)
    out: dict[str, Lag] = {}
    for stage, table, _key, _col, mark in wanted:
        n = counts.get((stage, table)) if counts is not None else None
        prev = out.get(stage)
        total = n if prev is None else (None if n is None or prev.rows_changed is None else prev.rows_changed + n)
        out[stage] = Lag(mark["value"], mark["recorded_at"], mark["run_id"], total, "" if counts is not None else note)
    return out, ([note] if note else []), counts is not None


def _ask_source(url: URL, wanted: list[tuple[str, str, str, str, dict[str, Any]]]
                ) -> tuple[dict[tuple[str, str], int] | None, str]:
    result: dict[str, Any] = {}

    def ask() -> None:
        from migration.db.engines import source_engine
        from migration.db.source import SourceReader

        try:
            eng = source_engine(url)
            try:
                reader = SourceReader(eng)
                result["counts"] = {(s, t): len(reader.keys_where(t, k, c, m["value"], after=True)) for s, t, k, c, m in wanted}
            finally:
                eng.dispose()
        except Exception as exc:  # any failure of the legacy means only that the lag is unknown
            result["error"] = type(exc).__name__

    worker = threading.Thread(target=ask, name="status-lag", daemon=True)
    worker.start()
    worker.join(SOURCE_TIMEOUT)
    if "counts" in result:
        return result["counts"], ""
    return None, "lag unknown (source unreachable)"
