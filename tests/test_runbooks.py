"""Every command of the CLI has a runbook page that names it (operators read runbooks, not code)."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from migration.cli import app

RUNBOOKS = Path(__file__).resolve().parents[1] / "runbooks"


def _commands(group: object, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        path = f"{prefix} {name}".strip()
        if getattr(cmd, "commands", None):
            out += _commands(cmd, path)
        else:
            out.append(path)
    return out


def test_every_command_has_a_runbook_page() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in RUNBOOKS.glob("*.md"))
    commands = _commands(get_command(app))
    assert "run" in commands and "schema upgrade" in commands
    missing = [c for c in commands if f"safestats-migrate {c}" not in text]
    assert not missing, f"commands without a runbook page naming them: {missing}"


def test_runbook_index_lists_every_page() -> None:
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in RUNBOOKS.glob("*.md") if p.name != "README.md")
    assert [p for p in pages if f"({p})" not in index] == []



# --- the executable runbooks -------------------------------------------------------------

import importlib.util  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

EXECUTABLE_PAGES = ("rehearsal.md", "parallel-run.md", "cutover.md", "backout.md")
# Tiny on purpose: CI runs the three pages in well under the 5 minutes the issue allows.
SCALE, SEED = "0.0005", "42"


def _executor():  # type: ignore[no-untyped-def]
    path = RUNBOOKS.parent / "scripts" / "runbook_exec.py"
    spec = importlib.util.spec_from_file_location("runbook_exec", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["runbook_exec"] = module
    spec.loader.exec_module(module)
    return module


def _cli_on_path(tmp_path: Path) -> str:
    """A `safestats-migrate` on PATH running this checkout, as the installed entry point would."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "safestats-migrate"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{RUNBOOKS.parent}" exec "{sys.executable}" -m migration "$@"\n')
    shim.chmod(0o755)
    return f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"


def test_executable_pages_declare_their_environment_and_success_lines() -> None:
    rx = _executor()
    for name in EXECUTABLE_PAGES:
        page = rx.parse(RUNBOOKS / name)
        assert page.steps, f"{name} has no executable step"
        assert all(v.startswith("SAFESTATS_") for v in page.env), page.env


def test_executor_fails_on_missing_success_line_on_exit_code_and_on_unlisted_env(tmp_path: Path) -> None:
    rx = _executor()
    page = tmp_path / "p.md"
    page.write_text("<!-- env: GREETING -->\n\n```sh exec\necho \"$GREETING\"; echo \"x${SECRET_OUTSIDE:-}\"\n```\n"
                    "<!-- expect: hello -->\n<!-- expect: x -->\n\n```sh exec\nexit 3\n```\n<!-- expect: -->\n"
                    "<!-- exit: 3 -->\n", encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "GREETING": "hello", "SECRET_OUTSIDE": "leak"}
    results = rx.execute([page], tmp_path, source_env=env)
    # a variable the page does not list never reaches its commands
    assert results[0].output.splitlines() == ["hello", "x"]
    assert results[1].exit_code == 3
    with pytest.raises(rx.RunbookError, match="lacks its success line"):
        rx.execute([page], tmp_path, source_env={**env, "GREETING": "bye"})
    with pytest.raises(rx.RunbookError, match="set GREETING"):
        rx.execute([page], tmp_path, source_env={"PATH": os.environ["PATH"]})
    page.write_text(page.read_text().replace("<!-- exit: 3 -->", ""), encoding="utf-8")
    with pytest.raises(rx.RunbookError, match="exited 3, the page expects 0"):
        rx.execute([page], tmp_path, source_env=env)
    listed = tmp_path / "listed.md"  # a block indented in a list item runs dedented
    listed.write_text("<!-- env: -->\n1. Step\n\n   ```sh exec\n   printf 'a\\n'\n     printf 'b\\n'\n   ```\n"
                      "   <!-- expect: a -->\n", encoding="utf-8")
    assert rx.parse(listed).steps[0].script == "printf 'a\\n'\n  printf 'b\\n'\n"
    assert rx.execute([listed], tmp_path, source_env=env)[0].output == "a\nb\n"
    bare = tmp_path / "bare.md"
    bare.write_text("<!-- env: -->\n```sh exec\ntrue\n```\n", encoding="utf-8")
    with pytest.raises(rx.RunbookError, match="without <!-- expect"):
        rx.parse(bare)


def test_rehearsal_parallel_run_and_cutover_pages_run_as_written(tmp_path: Path, pg_url) -> None:  # type: ignore[no-untyped-def]
    rx = _executor()
    legacy = tmp_path / "legacy.sqlite"
    source_url = f"sqlite:///{legacy}"
    env = {"PATH": _cli_on_path(tmp_path), "HOME": os.environ.get("HOME", str(tmp_path)),
           "SAFESTATS_SOURCE_URL": source_url,
           "SAFESTATS_TARGET_URL": pg_url.render_as_string(hide_password=False)}
    subprocess.run(["safestats-migrate", "legacy", "generate", "--url", source_url, "--scale", SCALE,
                    "--seed", SEED], env=env, check=True, capture_output=True)
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    log: list[str] = []
    try:
        results = rx.execute([RUNBOOKS / p for p in EXECUTABLE_PAGES], work, source_env=env, timeout=300,
                             log=log.append)
    except rx.RunbookError as exc:
        pytest.fail(f"{exc}\nsteps run:\n" + "\n".join(log))
    assert len(results) == sum(len(rx.parse(RUNBOOKS / p).steps) for p in EXECUTABLE_PAGES)
    assert time.monotonic() - started < 300, "\n".join(log)
