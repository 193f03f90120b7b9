"""Check results and how they are kept in the ledger.

Ledger contract (what the report reads):

- ``ledger.check_result``: one row per check per stage per reconciliation.  ``run_id`` is
  the run that *performed* the checks: the load run itself when the runner's gate
  reconciles a stage right after loading it, or the ``ledger.run`` of kind ``reconcile``
  an on-demand ``safestats-migrate reconcile`` creates (one run for the whole command).
  ``check_name`` is ``<check>/<subject>``: ``accounting/tblMPSCrime``,
  ``control_totals/incidents_by_borough_month``, ``keys/core.incident``,
  ``row_hash/core.police_crime``, ``expectations/mps_incidents``,
  ``quarantine_rate/tblMPSCrime``, ``leaks/secrets`` (legacy passwords), ``leaks/patient_identifiers``.
  ``detail`` (JSON) always holds ``load_run_id`` (the run whose rows were checked) and the
  check's figures; differing keys come with before (expected, from the source) and after
  (target) values per differing column, sensitive values replaced by ``"‹masked›"``.
  No password, patient identifier or other secret is ever written.
- ``ledger.event`` on the stage, ``run_id`` = the *load* run (so the stage's state still
  points at the run that loaded it): ``stage_reconciled`` when every check passed or
  warned, ``stage_check_failed`` when one failed or could not run, ``stage_accepted`` when
  a person accepted a failed stage (``detail``: reason, the failed checks; the event's
  ``actor`` and ``at`` say who and when).  Their ``detail`` carries ``reconcile_run_id``
  (the run holding the check results), the counts per status and the failed check names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from migration.ledger import Ledger, history

STATUSES = ("pass", "warn", "fail", "error")
MASKED = "‹masked›"


@dataclass
class CheckResult:
    stage: str
    check: str               # <check>/<subject>
    status: str              # pass | warn | fail | error
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r}")


@dataclass
class StageReconciliation:
    stage: str
    load_run_id: int | None
    reconcile_run_id: int | None
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        statuses = {r.status for r in self.results}
        for s in ("fail", "error", "warn"):
            if s in statuses:
                return s
        return "pass"

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status in ("fail", "error")]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for r in self.results:
            out[r.status] += 1
        return out


def record(conn: Connection, ledger: Ledger, rec: StageReconciliation) -> None:
    """Write every result and the stage's event (one transaction, the caller's)."""
    assert rec.reconcile_run_id is not None
    for r in rec.results:
        detail = dict(r.detail)
        detail.setdefault("load_run_id", rec.load_run_id)
        detail.setdefault("seconds", round(r.seconds, 3))
        history.record_check_result(conn, run_id=rec.reconcile_run_id, stage=rec.stage, check=r.check,
                                    status=r.status, summary=r.summary[:2000], detail=detail)
    failed = rec.failed
    kind = "stage_check_failed" if failed else "stage_reconciled"
    ledger.event(conn, run_id=rec.load_run_id, stage=rec.stage, kind=kind, detail={
        "reconcile_run_id": rec.reconcile_run_id, "counts": rec.counts(),
        "failed": [r.check for r in failed], "warned": [r.check for r in rec.results if r.status == "warn"],
        "seconds": round(rec.seconds, 3)})


def latest_failures(conn: Connection, stage: str) -> list[str]:
    """The checks that failed in the stage's latest reconciliation (for `accept`)."""
    detail = history.latest_check_event(conn, stage)
    if detail is None:
        return []
    return list(detail.get("failed", []))
