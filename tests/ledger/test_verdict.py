"""The verdict about the whole migration (:func:`migration.ledger.verdict.migration_verdict`),
over a real ledger written the way the runner, deltas, rollback, reconcile and accept write it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from migration.ledger import Ledger
from migration.ledger.verdict import (
    FAIL,
    INCOMPLETE,
    PASS,
    PASS_WITH_ACCEPTED,
    migration_verdict,
)
from migration.schema import api

pytestmark = pytest.mark.postgres


class Books:
    """Writes ledger rows as the real writers do (events through :class:`Ledger`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ledger = Ledger(engine)

    def run(self, kind: str = "full") -> int:
        with self.engine.begin() as c:
            return self.ledger.new_run(c, kind=kind, mapping_hash=None, refdata_version=None, source_url=None,
                                       options={})

    def event(self, stage: str, kind: str, run: int | None, **detail: Any) -> None:
        with self.engine.begin() as c:
            self.ledger.event(c, run_id=run, stage=stage, kind=kind, detail=detail)

    def load(self, stage: str) -> int:
        r = self.run()
        self.event(stage, "stage_started", r)
        self.event(stage, "stage_loaded", r)
        return r

    def checks(self, stage: str, load_run: int, *statuses: str) -> int:
        """One reconciliation of ``stage``: a result per status, then the stage's event."""
        r = self.run("reconcile")
        with self.engine.begin() as c:
            for i, s in enumerate(statuses or ("pass",)):
                c.execute(text("INSERT INTO ledger.check_result (run_id, stage, check_name, status, summary, detail) "
                               "VALUES (:r, :st, :n, :s, :su, '{}')"),
                          dict(r=r, st=stage, n=f"check{i}/{s}", s=s, su=f"the {s} summary"))
        bad = [s for s in statuses if s in ("fail", "error")]
        self.event(stage, "stage_check_failed" if bad else "stage_reconciled", load_run, reconcile_run_id=r)
        return r

    def delta(self, stage: str, kind: str = "delta", outcome: str = "loaded") -> int:
        r = self.run(kind)
        self.event(stage, f"{kind}_started", r)
        self.event(stage, f"{kind}_{outcome}", r)
        return r


@pytest.fixture
def books(pg_url: URL) -> Iterator[Books]:
    api.upgrade(pg_url)
    eng = create_engine(pg_url, poolclass=NullPool)
    yield Books(eng)
    eng.dispose()


def test_every_planned_stage_is_judged_and_fail_wins_over_incomplete(books: Books) -> None:
    b = books
    b.checks("good", b.load("good"))
    b.checks("warned", b.load("warned"), "pass", "warn")
    changed = b.load("changed")
    b.checks("changed", changed)
    b.delta("changed")                                   # a delta after the checks
    redriven = b.load("redriven")
    b.checks("redriven", redriven)
    b.delta("redriven", "redrive", "failed")             # even a failed redrive wrote rows
    undone = b.load("undone_delta")
    b.checks("undone_delta", undone)
    d = b.delta("undone_delta")
    b.checks("undone_delta", undone)                     # reconciled after the delta…
    b.event("undone_delta", "run_rolled_back", None, run_id=d)  # …then the delta is rolled back
    crashed = b.run()
    b.event("crashed", "stage_started", crashed)
    b.event("crashed", "stage_failed", crashed, error="cannot COPY chunk 1 of tblMPSCrime")
    killed = b.run()
    b.event("killed", "stage_started", killed)
    b.checks("bad", b.load("bad"), "pass", "fail")
    b.checks("broken", b.load("broken"), "error")
    unchecked = b.load("unchecked")
    b.event("unchecked", "reconcile_skipped", unchecked, why="run --no-reconcile")
    gone = b.load("gone")
    b.checks("gone", gone)
    b.event("gone", "run_rolled_back", None, run_id=gone)
    b.event("gone", "stage_rolled_back", gone, run_id=gone)
    b.load("not_planned")                                 # the ledger knows it, the plan does not

    planned = ["good", "warned", "changed", "redriven", "undone_delta", "crashed", "killed", "bad", "broken",
               "unchecked", "gone", "never"]
    v = migration_verdict(b.engine, planned)
    states = {s.stage: s.state for s in v.stages}
    assert states == {"good": "reconciled", "warned": "reconciled", "changed": "stale", "redriven": "stale",
                      "undone_delta": "stale", "crashed": "load_failed", "killed": "running",
                      "bad": "check_failed", "broken": "checks_error", "unchecked": "not_reconciled",
                      "gone": "rolled_back", "never": "not_started"}
    assert [s.stage for s in v.stages] == planned       # plan order, every planned stage, nothing else
    assert v.status == FAIL and v.exit_code == 1        # FAIL wins over INCOMPLETE
    assert (v.planned, v.reconciled) == (12, 2)
    assert v.summary.startswith("FAIL: 2 of 12 stages reconciled; bad failed its checks, ")
    assert "3 changed after their checks" in v.summary and "crashed failed" in v.summary
    assert "never not started" in v.summary
    why = {s.stage: s.reason for s in v.stages}
    assert why["crashed"].startswith(f"run {crashed} failed to load it")
    assert "tblMPSCrime" not in why["crashed"]  # the error may quote a row: it is not repeated
    assert "check1/fail: the fail summary" in why["bad"]
    assert "the delta run" in why["changed"] and "after its latest checks" in why["changed"]
    assert "rollback of run" in why["undone_delta"]
    assert "--no-reconcile" in why["unchecked"]
    assert next(s for s in v.stages if s.stage == "warned").warnings == ("check1/warn",)

    # the failure is fixed and reconciled again: nothing fails, the rest is still INCOMPLETE (exit 3)
    b.checks("bad", b.ledger.stage_state("bad").run_id or 0, "pass")
    v = migration_verdict(b.engine, planned)
    assert v.status == INCOMPLETE and v.exit_code == 3
    assert v.summary.startswith("INCOMPLETE: 3 of 12 stages reconciled; broken could not be checked")


def test_accepted_failures_pass_with_who_and_why_until_the_stage_changes(books: Books) -> None:
    b = books
    b.checks("boroughs", b.load("boroughs"))
    codes = b.load("codes")
    b.checks("codes", codes, "fail", "pass")
    v = migration_verdict(b.engine, ["boroughs", "codes"])
    assert v.status == FAIL and v.summary == "FAIL: 1 of 2 stages reconciled; codes failed its checks"

    b.event("codes", "stage_accepted", codes, reason="12 retired labels differ; agreed with QA (SS-481)",
            accepted_failures=["check0/fail"], accepted_by="qalead@host")
    v = migration_verdict(b.engine, ["boroughs", "codes"])
    assert v.status == PASS_WITH_ACCEPTED and v.exit_code == 0
    assert v.summary == "PASS_WITH_ACCEPTED: 2 of 2 stages reconciled; codes accepted with failed checks"
    (acc,) = v.accepted
    assert (acc.stage, acc.checks, acc.by) == ("codes", ("check0/fail",), "qalead@host")
    assert acc.reason == "12 retired labels differ; agreed with QA (SS-481)" and acc.at is not None

    # a delta after the acceptance: the acceptance no longer speaks for what is in the target
    b.delta("codes")
    v = migration_verdict(b.engine, ["boroughs", "codes"])
    assert v.status == INCOMPLETE and v.accepted == ()
    # reconciled again and passing: a plain PASS
    b.checks("codes", codes, "pass")
    v = migration_verdict(b.engine, ["boroughs", "codes"])
    assert v.status == PASS and v.summary == "PASS: 2 of 2 stages reconciled"
    assert v.to_dict()["stages"][1]["reconciled"] is True


def test_an_empty_plan_or_an_empty_target_is_incomplete(books: Books) -> None:
    assert migration_verdict(books.engine, []).status == INCOMPLETE
    v = migration_verdict(books.engine, ["boroughs", "areas", "codes"])
    assert v.status == INCOMPLETE and v.summary == "INCOMPLETE: 0 of 3 stages reconciled; 3 not started"


def test_accounting_that_does_not_balance_fails_whatever_the_checks_say(books: Books) -> None:
    b = books
    run = b.load("lfb_incident")
    b.checks("lfb_incident", run)
    with b.engine.begin() as c:
        c.execute(text("INSERT INTO ledger.table_count (run_id, stage, source_table, rows_read, rows_loaded, "
                       "rows_merged, rows_quarantined, rows_filtered) VALUES (:r, 'lfb_incident', "
                       "'tblLFBIncident', 100, 95, 1, 1, 0)"), dict(r=run))
    v = migration_verdict(b.engine, ["lfb_incident"])
    assert v.status == FAIL
    assert "tblLFBIncident (run" in v.stages[0].reason and "off by +3" in v.stages[0].reason
    # once the run is rolled back its numbers no longer count (the stage is then simply not loaded)
    b.event("lfb_incident", "run_rolled_back", None, run_id=run)
    b.event("lfb_incident", "stage_rolled_back", run, run_id=run)
    assert migration_verdict(b.engine, ["lfb_incident"]).stages[0].state == "rolled_back"
