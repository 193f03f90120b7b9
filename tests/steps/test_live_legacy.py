"""Running beside the live legacy (issue 14): ``run --stop-at`` stops at a chunk boundary like
Ctrl-C (exit 130, recorded interrupted, resumable) or refuses a time already past before any
write (exit 2); ``--max-rows-per-second`` slows the whole run down to N rows/s at most; a
package version other than the one that loaded a stage warns, and ``--strict`` refuses; every
run's messages are kept, without the password, in ``run-<id>.log``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration import api
from migration.console import RecordingConsole
from migration.errors import Interrupted, StageError, UsageError
from migration.interrupt import LONDON
from migration.ledger import Ledger
from migration.plan.execute import Orchestrator
from migration.settings import load_settings
from migration.version import __version__
from tests.steps.conftest import REPO, cli, settings_for

pytestmark = pytest.mark.postgres

STAGE = "mps_crime"
CHUNK_ROWS = 200  # tblMPSCrime at the test scale: about 80 chunks


def _sleep_until(when: datetime) -> None:
    while datetime.now(LONDON) <= when:
        time.sleep(0.05)


def _chunks(eng: Any, stage: str) -> list[tuple[int, int]]:
    with eng.connect() as conn:
        return [(int(r[0]), int(r[1])) for r in conn.execute(text(
            "SELECT run_id, chunk_no FROM ledger.checkpoint WHERE stage = :s AND phase = 'load' "
            "ORDER BY run_id, chunk_no"), dict(s=stage))]


def _events(eng: Any, stage: str) -> list[tuple[int, str, dict[str, Any]]]:
    with eng.connect() as conn:
        return [(int(r[0]), r[1], r[2]) for r in conn.execute(text(
            "SELECT run_id, kind, detail FROM ledger.event WHERE stage = :s ORDER BY event_id"), dict(s=stage))]


#: the package version "now" in the tests that change it (the ledger is append-only: the version
#: recorded for a load cannot be altered, so the running one is)
NEXT = "99.0.0"


def _recorded(eng: Any, run_id: int) -> str:
    with eng.connect() as conn:
        return str(conn.execute(text("SELECT package_version FROM ledger.run WHERE run_id = :r"),
                                dict(r=run_id)).scalar_one())


@pytest.mark.slow
def test_stop_at_stops_at_a_chunk_boundary_like_ctrl_c_and_strict_refuses_another_version_on_resume(
        legacy_sqlite: Path, target_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(legacy_sqlite, target_url, chunk_rows=CHUNK_ROWS, logs_dir=str(tmp_path / "logs"))
    api.run(settings, RecordingConsole(), ["boroughs", "areas", "codes"])
    # the time comes while chunk 2 is being committed (the test holds the writer there until then):
    # no clock race decides where the load stops
    when = datetime.now(LONDON).replace(microsecond=0) + timedelta(seconds=8)

    def hold(where: str, chunk_no: int = 0, source_table: str | None = None) -> None:
        if where == "after_commit" and chunk_no == 2:
            _sleep_until(when)

    console = RecordingConsole()
    orch = Orchestrator(settings, console, fault=hold)
    try:
        with pytest.raises(Interrupted) as stopped:
            orch.run([STAGE], stop_at=when)
    finally:
        orch.close()
    err = stopped.value
    assert err.exit_code == 130  # a planned stop that left work undone is not green
    eng = create_engine(target_url, poolclass=NullPool)
    try:
        first = _chunks(eng, STAGE)
        run_id = first[0][0]
        assert err.what.startswith(f"stopped at {when:%H:%M} as asked (--stop-at): stage {STAGE} run {run_id} "
                                   f"stopped at a chunk boundary with {len(first)} chunk(s)"), err.what
        assert "committed" in err.what and f"`safestats-migrate run {STAGE}` resumes" in err.what
        # every committed chunk is whole and in order; it stopped soon after the time, mid-stage
        assert [c for _r, c in first] == list(range(1, len(first) + 1))
        assert 2 <= len(first) <= 5, first
        events = _events(eng, STAGE)
        assert events[-1][1] == "stage_interrupted" and events[-1][2]["signal"] == "stop-at"
        assert events[-1][2]["chunks"] == len(first)
        runs, _total = Ledger(eng).runs(stage=STAGE)
        assert runs[0].run_id == run_id and runs[0].state == "interrupted"

        # this is another version than the one that made the load: --strict refuses to resume it,
        # before any write
        old = _recorded(eng, run_id)
        assert old == __version__
        monkeypatch.setattr("migration.version.__version__", NEXT)
        strict = Orchestrator(settings, RecordingConsole(), strict=True)
        try:
            with pytest.raises(StageError) as refused:
                strict.run([STAGE])
        finally:
            strict.close()
        assert refused.value.exit_code == 1
        assert (f"stage {STAGE} was loaded by run {run_id} with safestats-migrate {old}; this is "
                f"{NEXT} (refused under --strict)") in refused.value.what
        assert _chunks(eng, STAGE) == first and _events(eng, STAGE) == events

        # without --strict: a warning, and the run resumes to the end
        console = RecordingConsole()
        results = api.run(settings, console, [STAGE])
        assert results[0].action == "resumed" and results[0].run_id == run_id
        assert any(line.startswith(f"WARNING: stage {STAGE} was loaded by run {run_id} with safestats-migrate "
                                   f"{old}; this is {NEXT}") for line in console.lines), console.lines
        assert Ledger(eng).stage_states()[STAGE].state in ("loaded", "reconciled")
        # the resumed run's log is named by its run, and says it
        log = (tmp_path / "logs" / f"run-{run_id}.log").read_text()
        assert f"resuming run {run_id}" in log and f"was loaded by run {run_id}" in log
    finally:
        eng.dispose()


def test_stop_at_between_stages_leaves_the_next_stage_unstarted(legacy_sqlite: Path, target_url: URL,
                                                                tmp_path: Path) -> None:
    settings = settings_for(legacy_sqlite, target_url, logs_dir=str(tmp_path / "logs"))
    when = datetime.now(LONDON) + timedelta(seconds=3)

    def hold(where: str, chunk_no: int = 0, source_table: str | None = None) -> None:
        if where == "after_commit" and source_table == "tblBorough":  # boroughs: one table, one chunk
            _sleep_until(when)

    orch = Orchestrator(settings, RecordingConsole(), fault=hold)
    try:
        with pytest.raises(Interrupted) as stopped:
            orch.run(["boroughs", "areas"], stop_at=when)
    finally:
        orch.close()
    assert stopped.value.what.startswith(f"stopped at {when:%H:%M} as asked (--stop-at): stage areas was not "
                                         "started (stages finished in this run: boroughs)"), stopped.value.what
    eng = create_engine(target_url, poolclass=NullPool)
    try:
        states = Ledger(eng).stage_states()
        assert states["boroughs"].state in ("loaded", "reconciled") and "areas" not in states
    finally:
        eng.dispose()


def test_stop_at_in_the_past_refuses_before_any_write(legacy_sqlite: Path, target_url: URL,
                                                      tmp_path: Path) -> None:
    settings = settings_for(legacy_sqlite, target_url, logs_dir=str(tmp_path / "logs"))
    for value in ("00:00", "2020-01-01T08:00", "25:99", "soon"):
        with pytest.raises(UsageError) as refused:
            api.run(settings, RecordingConsole(), ["boroughs"], stop_at=value)
        assert refused.value.exit_code == 2
    with pytest.raises(UsageError, match="already past"):
        api.delta(settings, RecordingConsole(), ["boroughs"], stop_at="00:00")
    done = cli(["run", "boroughs", "--stop-at", "00:00"], legacy_sqlite, target_url,
               env_extra={"SAFESTATS_LOGS_DIR": str(tmp_path / "logs")})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--stop-at 00:00 is already past" in done.stderr.strip().splitlines()[-1]
    eng = create_engine(target_url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ledger.run")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM ledger.event")).scalar_one() == 0
    finally:
        eng.dispose()
    assert not (tmp_path / "logs").exists()


def test_max_rows_per_second_slows_the_whole_run_to_at_most_n(legacy_sqlite: Path, target_url: URL,
                                                              tmp_path: Path) -> None:
    settings = settings_for(legacy_sqlite, target_url, logs_dir=str(tmp_path / "logs"))
    rate = 60.0
    started = time.monotonic()
    results = api.run(settings, RecordingConsole(), ["boroughs"], max_rows_per_second=rate)
    elapsed = time.monotonic() - started
    read = sum(c.rows_read for r in results for c in r.counts)
    assert read > 20
    # the rows it read (the key snapshot reads them once more) at N rows/s take at least read/N seconds
    assert elapsed >= read / rate, (elapsed, read)
    assert "max_rows_per_second 60.0" in (tmp_path / "logs" / f"run-{results[0].run_id}.log").read_text()
    with pytest.raises(UsageError):
        api.run(settings, RecordingConsole(), ["areas"], max_rows_per_second=0)
    from migration.errors import SettingsError

    with pytest.raises(SettingsError):
        load_settings(cli={"max_rows_per_second": "-5"}, env={})
    assert load_settings(cli={}, env={"SAFESTATS_MAX_ROWS_PER_SECOND": "250"}).max_rows_per_second == 250.0


def test_delta_warns_about_another_version_and_strict_refuses(legacy_sqlite: Path, target_url: URL,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(legacy_sqlite, target_url, logs_dir=str(tmp_path / "logs"))
    loaded = api.run(settings, RecordingConsole(), ["boroughs"])[0].run_id
    assert loaded is not None
    eng = create_engine(target_url, poolclass=NullPool)
    try:
        console = RecordingConsole()
        assert api.delta(settings, console, ["boroughs"])[0].action == "delta"
        assert not [line for line in console.lines if "was loaded by run" in line]
        old = _recorded(eng, loaded)
        monkeypatch.setattr("migration.version.__version__", NEXT)
        with eng.connect() as conn:
            before = conn.execute(text("SELECT count(*) FROM ledger.run")).scalar_one()
        with pytest.raises(StageError) as refused:
            api.delta(settings, RecordingConsole(), ["boroughs"], strict=True)
        assert refused.value.exit_code == 1
        assert f"stage boroughs was loaded by run {loaded} with safestats-migrate {old}; this is {NEXT}" \
            in refused.value.what
        assert "--strict" in refused.value.what and refused.value.hint
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ledger.run")).scalar_one() == before
        console = RecordingConsole()
        assert api.delta(settings, console, ["boroughs"])[0].action == "delta"
        assert [line for line in console.lines if line.startswith(
            f"WARNING: stage boroughs was loaded by run {loaded} with safestats-migrate {old}; this is "
            f"{NEXT}")], console.lines
    finally:
        eng.dispose()


def test_each_run_writes_a_redacted_log_named_by_its_run_id(legacy_sqlite: Path, target_url: URL,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Planted-pw-" + "7f3c91e2"
    logs = tmp_path / "logs"
    # PostgreSQL here trusts local logins, so any password connects: the one planted is really used
    settings = load_settings(cli={"source_url": f"sqlite:///{legacy_sqlite}",
                                  "target_url": target_url.render_as_string(hide_password=False),
                                  "mappings_dir": str(REPO / "mappings"), "logs_dir": str(logs)},
                             env={"SAFESTATS_TARGET_PASSWORD": secret})
    assert settings.target_url is not None and settings.target_url.password == secret
    console = RecordingConsole()
    results = api.run(settings, console, ["boroughs", "areas"])
    ids = [r.run_id for r in results]
    for run_id in ids:
        path = logs / f"run-{run_id}.log"
        assert path.is_file(), sorted(p.name for p in logs.iterdir())
    first = (logs / f"run-{ids[0]}.log").read_text()
    assert f"# safestats-migrate run {ids[0]}" in first
    assert f"boroughs: run {ids[0]} started (full load)" in first and f"areas: run {ids[1]} started" in first
    # every console message of the run is there (info, warnings, the summary tables)
    for line in console.lines:
        assert line.removeprefix("WARNING: ").splitlines()[0] in first, line
    # the target URL is named, its password is not
    assert f"postgres:***@127.0.0.1:5432/{target_url.database}" in first
    for path in logs.iterdir():
        assert secret not in path.read_text(), path

    monkeypatch.setattr("migration.version.__version__", NEXT)
    with pytest.raises(StageError):
        api.delta(settings, RecordingConsole(), ["boroughs"], strict=True)
    # refused before a run was started: no log file is made for it
    assert sorted(p.name for p in logs.iterdir()) == sorted(f"run-{i}.log" for i in ids)


def test_run_log_keeps_every_message_from_before_the_run_id_on_and_scrubs_secrets(tmp_path: Path) -> None:
    from migration.console import RunLog
    from migration.secrets import register_secret

    secret = "Log-secret-" + "91ab"
    register_secret(secret)
    inner = RecordingConsole()
    log = RunLog(inner, tmp_path / "logs")
    log.info("planning: nothing yet")
    assert not (tmp_path / "logs").exists()  # no run yet, no file
    log.info("boroughs: run 41 started (full load)", run_id=41)
    log.warn(f"connection to postgresql://u:{secret}@db/x dropped, retrying")
    log.table("Stage summary", ["stage", "run"], [("boroughs", 41)])
    log.info("areas: run 42 started (full load)", run_id=42)
    log.error(f"stopped: password {secret} was refused")
    log.close()
    first = (tmp_path / "logs" / "run-41.log").read_text()
    second = (tmp_path / "logs" / "run-42.log").read_text()
    assert first.splitlines()[0].startswith("# safestats-migrate run 41")
    for text_ in ("planning: nothing yet", "run 41 started", "warning connection", "Stage summary",
                  "boroughs | 41", "run 42 started", "error   stopped: password *** was refused"):
        assert text_ in first, text_
    assert "earlier lines of the same command are in run-41.log" in second and "run 42 started" in second
    assert "planning" not in second and "error   stopped" in second
    assert secret not in first + second
    # the person still saw everything, on the console it wraps (the error is the CLI's to print)
    assert len(inner.lines) == 6 and not [line for line in inner.lines if "stopped" in line]
