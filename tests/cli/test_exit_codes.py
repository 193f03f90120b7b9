"""Every exit code of the table in runbooks/README.md, from the commands that can give it.

Real PostgreSQL and SQLite; the CLI is called in-process through its one error boundary
(:func:`migration.cli.main`), as the console script calls it.  130 (Ctrl-C/SIGTERM) is proved
with a real subprocess in tests/steps/test_interrupt.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.cli import app, main
from migration.console import RecordingConsole
from migration.ledger import Ledger, MigrationLock
from migration.plan.execute import Orchestrator
from migration.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere"


def _url(u: URL) -> str:
    return u.render_as_string(hide_password=False)


@pytest.fixture
def call(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``call(*args, target=, source=)`` → (exit code, stdout, stderr) through the CLI's boundary."""

    def run(*args: str, target: URL | str | None = None, source: Path | None = None) -> tuple[int, str, str]:
        argv = ["--mappings", str(REPO / "mappings"), "--checks", str(REPO / "checks")]
        if target is not None:
            argv += ["--target", target if isinstance(target, str) else _url(target)]
        if source is not None:
            argv += ["--source", f"sqlite:///{source}"]
        code = main([*argv, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def loaded(module_pg: Any, legacy: Path) -> URL:
    """A target with stage boroughs loaded and reconciled."""
    from migration.schema import api

    url = module_pg.create("ss_cli_loaded")
    api.upgrade(url)
    settings = load_settings(cli={"source_url": f"sqlite:///{legacy}", "target_url": _url(url),
                                  "mappings_dir": str(REPO / "mappings")}, env={})
    runner = Orchestrator(settings, RecordingConsole())
    try:
        runner.run(["boroughs"])
    finally:
        runner.close()
    return url


@pytest.fixture(scope="module")
def quarantined(upgraded: URL) -> dict[str, int]:
    """Ledger rows of two runs: five quarantine records of stage mps_crime (two reasons)."""
    eng = create_engine(upgraded, poolclass=NullPool)
    ledger = Ledger(eng)
    with eng.begin() as conn:
        first = ledger.new_run(conn, kind="full", mapping_hash=None, refdata_version=None, source_url=None,
                               options={"stage": "mps_crime"})
        ledger.event(conn, run_id=first, stage="mps_crime", kind="stage_started")
        ledger.event(conn, run_id=first, stage="mps_crime", kind="stage_interrupted", detail={"signal": "SIGINT"})
        second = ledger.new_run(conn, kind="full", mapping_hash=None, refdata_version=None, source_url=None,
                                options={"stage": "boroughs"})
        ledger.event(conn, run_id=second, stage="boroughs", kind="stage_started")
        ledger.event(conn, run_id=second, stage="boroughs", kind="stage_loaded")
        for i, reason in enumerate(["UNRESOLVED_BOROUGH"] * 4 + ["IMPOSSIBLE_DATE"]):
            conn.execute(text(
                "INSERT INTO ledger.quarantine (run_id, stage, source_table, source_key, business_key, reason_code, "
                "fields) VALUES (:r, 'mps_crime', 'tblMPSCrime', :k, :b, :reason, ARRAY['Borough'])"),
                dict(r=first, k=str(100 + i), b=f"MP10SD{i:07d}", reason=reason))
    eng.dispose()
    return {"first": first, "second": second}


# ---------------------------------------------------------------- 0
def test_0_version_and_help(call) -> None:  # type: ignore[no-untyped-def]
    code, out, _err = call("--version")
    assert code == 0 and out.startswith("safestats-migrate ")
    code, out, _err = call("--help")
    assert code == 0 and "--install-completion" in out and "runs" in out


def test_0_install_completion_is_offered() -> None:
    # the installed command in a process of its own. Typer guesses the shell from the parent
    # process (CI runs under sh, which it does not support), so the shell is named explicitly:
    # with shell detection off, --show-completion takes the shell's name as its value.
    exe = Path(sys.executable).parent / "safestats-migrate"
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = subprocess.run([str(exe), "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == 0 and "_SAFESTATS_MIGRATE_COMPLETE" in done.stdout, done.stderr


def test_help_at_80_columns_keeps_the_boxed_panel_and_shows_no_bool_placeholder(
        call, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "80")
    for args in (["--help"], ["run", "--help"], ["reconcile", "--help"], ["profile", "--help"]):
        code, out, _err = call(*args)
        assert code == 0
        assert "<bool>" not in out, args
        assert "╭─ Options" in out and max(len(line) for line in out.splitlines()) <= 80, args
    _code, out, _err = call("profile", "--help")
    assert "--json" in out and "<str>" in out  # a value-taking option keeps its placeholder


# ---------------------------------------------------------------- 1
def test_1_invalid_check_files(call, loaded: URL, legacy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    checks = tmp_path / "checks"
    shutil.copytree(REPO / "checks", checks)
    (checks / "10_boroughs.yaml").write_text("stage: boroughs\ncontrol_totals: 12\nbogus_key: [\n", encoding="utf-8")
    code, _out, err = call("--checks", str(checks), "reconcile", "boroughs", target=loaded, source=legacy)
    assert code == 1, err
    assert "problem(s) in the check files" in err.strip().splitlines()[-1]


def test_1_invalid_mapping_files(call) -> None:  # type: ignore[no-untyped-def]
    code, _out, _err = call("mappings", "validate", "--offline", str(REPO / "tests" / "mapping" / "broken"))
    assert code == 1


# ---------------------------------------------------------------- 2
@pytest.mark.parametrize("args", [
    ["run", "nosuch"],
    ["reconcile", "nosuch"],
    ["reconcile", "accept", "nosuch", "--reason", "a reason long enough"],
    ["profile", "nosuch"],
    ["rollback", "nosuch"],
    ["runs", "--stage", "nosuch"],
    ["quarantine", "list", "--stage", "nosuch"],
    ["quarantine", "show", "all", "--stage", "nosuch"],
])
def test_2_an_unknown_stage_lists_the_stages(call, args: list[str], upgraded: URL, legacy: Path,  # type: ignore[no-untyped-def]
                                             quarantined: dict[str, int]) -> None:
    code, _out, err = call(*args, target=upgraded, source=legacy)
    last = err.strip().splitlines()[-1]
    assert code == 2, err
    assert "nosuch" in last and "boroughs" in last and "mps_crime" in last, last


def test_2_unknown_reason_and_run_in_quarantine(call, upgraded: URL, quarantined: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = call("quarantine", "show", "all", "--stage", "mps_crime", "--reason", "UNRESOLVED",
                           target=upgraded)
    assert code == 2 and "IMPOSSIBLE_DATE, UNRESOLVED_BOROUGH" in err, err
    code, _out, err = call("quarantine", "list", "--run", "987654", target=upgraded)
    assert code == 2 and "unknown run 987654" in err and str(quarantined["first"]) in err, err
    code, _out, err = call("quarantine", "show", "all", "--run", "987654", target=upgraded)
    assert code == 2, err


@pytest.mark.parametrize("args", [
    ["report", "--format", "pdf"],
    ["quarantine", "export", "--out", "x.txt", "--format", "xml"],
    ["run", "--bogus"],
    ["run"],
    ["reconcile", "accept", "boroughs", "--reason", "short"],
    ["rollback", "boroughs", "--run", "987654"],
    ["report", "987654"],
])
def test_2_usage(call, args: list[str], upgraded: URL) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = call(*args, target=upgraded)
    assert code == 2, err


def test_2_a_password_on_the_command_line_is_refused_and_never_shown(call) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = call("legacy", "generate", "--url", "postgresql+psycopg2://u:s3cr3tpw@127.0.0.1/x",
                           "--scale", "0.001", "--seed", "1")
    assert code == 2 and "s3cr3tpw" not in err


# ---------------------------------------------------------------- 3
@pytest.mark.parametrize("args", [["run", "--all"], ["reconcile", "--all"], ["rollback", "boroughs"], ["report"],
                                  ["runs"], ["quarantine", "list"], ["quarantine", "show", "all"],
                                  ["schema", "current"]])
def test_3_target_unreachable(call, args: list[str], legacy: Path) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = call(*args, target=UNREACHABLE, source=legacy)
    assert code == 3, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: ") and "cannot connect to the target" in lines[-1]


@pytest.mark.parametrize("args", [["run", "--all"], ["reconcile", "--all"], ["rollback", "boroughs"], ["report"],
                                  ["runs"], ["quarantine", "list"], ["quarantine", "show", "all"]])
def test_3_target_without_the_schema(call, args: list[str], module_pg: Any, legacy: Path) -> None:  # type: ignore[no-untyped-def]
    empty = module_pg.create("ss_cli_empty")
    code, _out, err = call(*args, target=empty, source=legacy)
    assert code == 3, err
    assert "safestats-migrate schema upgrade` first" in err.strip().splitlines()[-1]


def test_3_verdict_incomplete(call, loaded: URL, legacy: Path) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = call("reconcile", "--all", target=loaded, source=legacy)
    assert code == 3 and "INCOMPLETE" in err, err


# ---------------------------------------------------------------- 4
@pytest.fixture
def held_lock(loaded: URL) -> Iterator[None]:
    eng = create_engine(loaded, poolclass=NullPool)
    with MigrationLock(eng, "run --all (test holder)"):
        yield
    eng.dispose()


@pytest.mark.parametrize("args", [["run", "boroughs"], ["run", "--all"], ["reconcile", "boroughs"],
                                  ["rollback", "boroughs"]])
def test_4_the_lock_held_by_someone_else(call, args: list[str], loaded: URL, legacy: Path,  # type: ignore[no-untyped-def]
                                         held_lock: None) -> None:
    code, _out, err = call(*args, target=loaded, source=legacy)
    assert code == 4, err
    assert "run --all (test holder)" in err.strip().splitlines()[-1]


# ---------------------------------------------------------------- 70, --debug, --log-json
@pytest.fixture
def buggy_command() -> Iterator[None]:
    @app.command("test-bug", hidden=True)
    def _bug() -> None:
        raise KeyError("london_datetime_txt")

    try:
        yield
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "test-bug"]


def test_70_a_bug_says_so(call, buggy_command: None) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = call("test-bug")
    assert code == 70
    assert err.strip().splitlines() == [
        "internal error: KeyError: 'london_datetime_txt' — this is a bug; rerun with --debug for the traceback "
        "and report it"]


class _DiskFull(Exception):
    """A driver error as psycopg2 raises it for a full disk (SQLSTATE 53100), with a password-bearing URL in
    its text (a driver may quote its connection)."""

    pgcode = "53100"


@pytest.fixture
def disk_full_command() -> Iterator[None]:
    from sqlalchemy.exc import OperationalError

    @app.command("test-disk-full", hidden=True)
    def _full() -> None:
        raise OperationalError("COMMIT", {}, _DiskFull(
            'could not extend file "base/1/2": No space left on device (postgresql://app:S3cretPw9@db/x)'))

    try:
        yield
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "test-disk-full"]


def test_3_a_full_target_anywhere_is_one_line_naming_the_runbook(call, disk_full_command: None) -> None:  # type: ignore[no-untyped-def]
    """A SQLSTATE-53 error no stage turned into its own stop still ends as the target out of room (exit 3),
    on one line, through the one error path (not "connection lost", not a bug), its password redacted."""
    code, _out, err = call("test-disk-full")
    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the target ran out of room: "), err
    assert "No space left on device" in lines[0] and "runbooks/incident-disk-full.md" in lines[0]
    assert "run the same command again" in lines[0] and "S3cretPw9" not in err
    code, _out, err = call("--log-json", "test-disk-full")
    rec = json.loads(err.strip())
    assert (code, rec["exit_code"], rec["error"]) == (3, 3, "TargetFull") and "S3cretPw9" not in err


def test_debug_adds_the_traceback_and_keeps_the_code(call, buggy_command: None) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = call("--debug", "test-bug")
    assert code == 70 and "Traceback (most recent call last)" in err
    code, _out, err = call("--debug", "run", "nosuch")
    assert code == 2 and "Traceback (most recent call last)" in err and "UnknownNameError" in err
    code, _out, err = call("--debug", "report", "--format", "pdf")
    assert code == 2


@pytest.mark.parametrize(("args", "expected"), [(["run", "nosuch"], 2), (["report", "--format", "pdf"], 2),
                                                (["run", "--bogus"], 2), (["test-bug"], 70)])
def test_log_json_errors_are_one_json_object(call, args: list[str], expected: int,  # type: ignore[no-untyped-def]
                                             buggy_command: None) -> None:
    code, _out, err = call("--log-json", *args)
    assert code == expected
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    rec = json.loads(lines[0])
    assert rec["level"] == "error" and rec["exit_code"] == expected and rec["message"]


def test_log_json_unreachable_target_is_one_json_object(call) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = call("--log-json", "runs", target=UNREACHABLE)
    rec = json.loads(err.strip().splitlines()[-1])
    assert code == 3 and rec["exit_code"] == 3 and rec["error"] == "TargetError" and "\n" not in rec["message"]


# ---------------------------------------------------------------- the other defects of step 2
def test_quarantine_limit_says_what_it_left_out(call, upgraded: URL, quarantined: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = call("quarantine", "show", "all", "--stage", "mps_crime", "--limit", "2", target=upgraded)
    assert code == 0, err
    assert "showing 2 of 5 records; --limit 5 to see more" in err
    code, out, err = call("quarantine", "show", "all", "--stage", "mps_crime", "--limit", "5", target=upgraded)
    assert code == 0 and "showing" not in err


def test_quarantine_list_at_80_columns_keeps_words_whole(call, upgraded: URL, quarantined: dict[str, int],  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = call("quarantine", "list", target=upgraded)
    assert code == 0, err
    assert "UNRESOLVED_BOROUGH" in out and "IMPOSSIBLE_DATE" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_runs_lists_the_runs(call, upgraded: URL, quarantined: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = call("runs", target=upgraded)
    assert code == 0, err
    rows = [line for line in out.splitlines() if "mps_crime" in line or "boroughs" in line]
    assert any("interrupted" in r and str(quarantined["first"]) in r for r in rows), out
    assert any("loaded" in r and str(quarantined["second"]) in r for r in rows), out
    code, out, err = call("runs", "--limit", "1", target=upgraded)
    assert code == 0 and "showing 1 of 2 runs; --limit 2 to see more" in err
    code, out, err = call("runs", "--stage", "boroughs", target=upgraded)
    assert code == 0 and "mps_crime" not in out


# ---------------------------------------------------------------- 130 outside a load
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_130_a_signal_outside_a_chunk_loop_says_so(tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C or SIGTERM during any other command: exit 130 and one line naming the signal."""
    db = tmp_path / "legacy.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "migration", "legacy", "generate", "--url", f"sqlite:///{db}",
                             "--scale", "0.2", "--seed", "1"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not db.exists():  # the command is running (not still importing)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1].startswith(f"interrupted ({sig.name}): stopped before the command finished")
