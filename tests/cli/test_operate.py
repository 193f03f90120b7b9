"""`status` and `quarantine decide` (issue 14, "operate") against real PostgreSQL and SQLite.

One target per module: stage boroughs really loaded and reconciled from a tiny generated
legacy; stage mps_crime left as an interrupted run with quarantine records of its own (keys
chosen per test, so the tests do not depend on each other's decisions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.cli import main
from migration.console import RecordingConsole
from migration.ledger import Ledger, history
from migration.ledger.books import actor
from migration.plan.execute import Orchestrator
from migration.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def _url(u: URL) -> str:
    return u.render_as_string(hide_password=False)


@pytest.fixture
def call(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str, target: URL, source: Path | str | None = None) -> tuple[int, str, str]:
        argv = ["--mappings", str(REPO / "mappings"), "--checks", str(REPO / "checks"), "--target", _url(target)]
        if source is not None:
            argv += ["--source", f"sqlite:///{source}"]
        code = main([*argv, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def target(module_pg: Any, legacy: Path) -> URL:
    from migration.schema import api

    url = module_pg.create("ss_ops")
    api.upgrade(url)
    settings = load_settings(cli={"source_url": f"sqlite:///{legacy}", "target_url": _url(url),
                                  "mappings_dir": str(REPO / "mappings")}, env={})
    runner = Orchestrator(settings, RecordingConsole())
    try:
        runner.run(["boroughs"])
    finally:
        runner.close()
    eng = create_engine(url, poolclass=NullPool)
    ledger = Ledger(eng)
    with eng.begin() as conn:
        run = ledger.new_run(conn, kind="full", mapping_hash=None, refdata_version=None, source_url=None,
                             options={"stage": "mps_crime"})
        ledger.event(conn, run_id=run, stage="mps_crime", kind="stage_started")
        ledger.checkpoint(conn, run_id=run, stage="mps_crime", source_table="tblMPSCrime", phase="load", chunk_no=1,
                          last_key="50", rows=50)
        ledger.event(conn, run_id=run, stage="mps_crime", kind="stage_interrupted", detail={"signal": "SIGINT"})
        # a watermark well in the legacy's past: every row changed since
        history.record_watermark(conn, run_id=run, stage="mps_crime", source_table="tblMPSCrime", kind="timestamp",
                                 value="2000-01-01 00:00:00")
    eng.dispose()
    return url


def _quarantine(url: URL, rows: list[tuple[str, str, str, str]]) -> None:
    """Records (stage, table, legacy key, reason) of the interrupted mps_crime run."""
    eng = create_engine(url, poolclass=NullPool)
    with eng.begin() as conn:
        run = conn.execute(text("SELECT max(run_id) FROM ledger.run WHERE options->>'stage' = 'mps_crime'")).scalar()
        for stage, table, key, reason in rows:
            conn.execute(text(
                "INSERT INTO ledger.quarantine (run_id, stage, source_table, source_key, business_key, reason_code, "
                "fields) VALUES (:r, :s, :t, :k, :b, :reason, ARRAY['Borough'])"),
                dict(r=run, s=stage, t=table, k=key, b=f"BK{key}", reason=reason))
    eng.dispose()


def _status(call, target: URL, *args: str, source: Path | str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    code, out, err = call("status", "--json", *args, target=target, source=source)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- status
def test_status_json_exits_0_with_open_quarantine_and_check_exits_with_the_verdict(call, target: URL,
                                                                                  legacy: Path) -> None:
    _quarantine(target, [("mps_crime", "tblMPSCrime", "s1", "UNRESOLVED_BOROUGH")])
    doc = _status(call, target, source=legacy)
    assert doc["schema_version"] == 1
    stages = {s["stage"]: s for s in doc["stages"]}
    # the plan's stage objects: every planned stage, with the plan's keys
    assert list(stages)[0] == "boroughs" and {"action", "depends_on", "estimate", "state"} <= set(stages["boroughs"])
    assert stages["boroughs"]["status"] == "reconciled" and stages["boroughs"]["last_check_at"]
    crime = stages["mps_crime"]
    assert crime["status"] == "loading"
    assert crime["loading"]["rows"] == 50 and crime["loading"]["stalled"] is True  # nobody holds the lock
    assert crime["lag"]["watermark"] == "2000-01-01 00:00:00" and crime["lag"]["rows_changed_since"] > 0
    assert doc["quarantine"]["undecided_open"] >= 1
    assert doc["verdict"]["status"] == "INCOMPLETE" and doc["lock"] is None

    code, out, err = call("status", "--check", target=target, source=legacy)
    assert code == 3 and "INCOMPLETE" in err
    shown = out + err
    assert "boroughs" in shown and "reconciled" in shown and "loading" in shown and "stalled" in shown


def test_status_says_lag_unknown_when_the_source_does_not_answer(call, target: URL, tmp_path: Path) -> None:
    doc = _status(call, target, source=tmp_path / "no-such-legacy.sqlite")
    crime = {s["stage"]: s for s in doc["stages"]}["mps_crime"]
    assert crime["lag"]["rows_changed_since"] is None
    assert crime["lag"]["note"] == "lag unknown (source unreachable)"
    assert "lag unknown (source unreachable)" in doc["notes"]


def test_status_shows_the_lock_holder(call, target: URL) -> None:
    from migration.ledger import MigrationLock

    eng = create_engine(target, poolclass=NullPool)
    with MigrationLock(eng, "run --all (test holder)"):
        doc = _status(call, target, "--no-lag")
        code, out, err = call("status", "--no-lag", target=target)
    eng.dispose()
    assert doc["lock"]["command"] == "run --all (test holder)" and doc["lock"]["holder"] == actor()
    assert code == 0 and "run --all (test holder)" in out + err
    # held by someone: the interrupted mps_crime run is not stalled by that alone (its age decides)
    assert _status(call, target, "--no-lag")["lock"] is None


def test_status_without_the_ledger_is_exit_3(call, module_pg: Any) -> None:
    empty = module_pg.create("ss_ops_empty")
    code, _out, err = call("status", target=empty)
    assert code == 3 and "schema upgrade" in err


# ---------------------------------------------------------------- quarantine decide
def test_decide_by_stage_and_reason_covers_the_rows_open_then(call, target: URL) -> None:
    _quarantine(target, [("mps_crime", "tblMPSCrime", f"r{i}", "IMPOSSIBLE_DATE") for i in range(3)])
    code, out, err = call("quarantine", "decide", "--stage", "mps_crime", "--reason", "IMPOSSIBLE_DATE",
                          "--as", "accept-loss", "--note", "dates before 1990 are not needed", "--by", "QA Lead",
                          target=target)
    assert code == 0, err
    assert "3 open record(s) of stage mps_crime reason IMPOSSIBLE_DATE marked accept-loss by QA Lead" in out + err
    # a row quarantined later with the same reason is undecided
    _quarantine(target, [("mps_crime", "tblMPSCrime", "r9", "IMPOSSIBLE_DATE")])
    rows = {(q["reason_code"], q["decision"]): q for q in _status(call, target, "--no-lag")["quarantine"]["by_reason"]}
    assert rows[("IMPOSSIBLE_DATE", "accept-loss")]["open"] == 3
    assert rows[("IMPOSSIBLE_DATE", "undecided")]["open"] == 1
    code, out, err = call("quarantine", "show", "r1", target=target)
    assert code == 0 and "accept-loss (QA Lead" in out + err
    code, out, err = call("quarantine", "show", "r9", target=target)
    assert code == 0 and "undecided" in out + err
    code, out, err = call("quarantine", "list", "--stage", "mps_crime", target=target)
    assert code == 0 and "Decisions" in out + err and "accept-loss" in out + err


def test_decide_undecided_revokes_and_who_defaults_to_user_at_host(call, target: URL) -> None:
    _quarantine(target, [("mps_crime", "tblMPSCrime", "u1", "UNPARSEABLE_X")])
    code, out, err = call("quarantine", "decide", "u1", "--as", "fix-and-redrive", "--note", "mapping fix", target=target)
    assert code == 0, err
    assert f"by {actor()}" in out + err
    undecided = _status(call, target, "--no-lag")["quarantine"]["undecided_open"]
    code, out, err = call("quarantine", "decide", "BKu1", "--as", "undecided", "--note", "wrong call", target=target)
    assert code == 0, err
    assert "1 open record(s) of key BKu1 marked undecided" in out + err
    assert _status(call, target, "--no-lag")["quarantine"]["undecided_open"] == undecided + 1


def test_decide_refuses_a_key_of_several_stages_listing_the_matches(call, target: URL) -> None:
    _quarantine(target, [("mps_crime", "tblMPSCrime", "k7", "UNRESOLVED_BOROUGH"),
                         ("istv", "tblISTV", "k7", "BAD_SITE")])
    code, _out, err = call("quarantine", "decide", "k7", "--as", "accept-loss", "--note", "n", target=target)
    assert code == 2
    assert "several stages" in err and "mps_crime tblMPSCrime UNRESOLVED_BOROUGH (1)" in err
    assert "istv tblISTV BAD_SITE (1)" in err
    code, out, err = call("quarantine", "decide", "k7", "--stage", "istv", "--as", "accept-loss", "--note", "n",
                          target=target)
    assert code == 0, err
    assert "1 open record(s) of key k7 in stage istv" in out + err


def test_decide_usage_errors(call, target: URL) -> None:
    code, _out, err = call("quarantine", "decide", "no-such-key", "--as", "accept-loss", "--note", "n", target=target)
    assert code == 2 and "no open quarantine record" in err
    code, _out, err = call("quarantine", "decide", "s1", "--as", "forget-it", "--note", "n", target=target)
    assert code == 2 and "fix-and-redrive" in err
    code, _out, err = call("quarantine", "decide", "--as", "accept-loss", "--note", "n", target=target)
    assert code == 2
    code, _out, err = call("quarantine", "decide", "--stage", "nope", "--as", "accept-loss", "--note", "n",
                           target=target)
    assert code == 2 and "unknown stage" in err


@pytest.mark.mariadb
@pytest.mark.slow
def test_status_gives_up_on_a_legacy_that_does_not_answer_within_5_seconds(target: URL, mariadb_url: URL,
                                                                             capsys: pytest.CaptureFixture[str]
                                                                             ) -> None:
    """A legacy that takes the query and never answers (its table locked by another session):
    the lag is unknown after the 5 s budget, and the status stands."""
    import time

    import pyodbc

    from tests.conftest import MARIADB_ODBC

    holder = pyodbc.connect(MARIADB_ODBC + f";DATABASE={mariadb_url.database}", autocommit=True)
    try:
        cur = holder.cursor()
        cur.execute("CREATE TABLE tblMPSCrime (RecID int PRIMARY KEY, LastModified datetime)")
        cur.execute("LOCK TABLES tblMPSCrime WRITE")  # every read of it waits for this session
        started = time.monotonic()
        code = main(["--mappings", str(REPO / "mappings"), "--checks", str(REPO / "checks"), "--target", _url(target),
                     "--source", _url(mariadb_url), "status", "--json"])
        took = time.monotonic() - started
        out, err = capsys.readouterr()
    finally:
        holder.close()  # the waiting read goes on and ends in its daemon thread
    assert code == 0, err
    doc = json.loads(out)
    assert doc["notes"] == ["lag unknown (source unreachable)"]
    assert 5 <= took < 30  # waited for the budget, not for the legacy
    assert {s["stage"]: s for s in doc["stages"]}["mps_crime"]["lag"]["rows_changed_since"] is None
