#!/usr/bin/env python3
"""Run the executable steps of runbook pages as written, in order, and stop at the first that fails.

A runbook page marks a step executable with a fenced block whose info string is ``sh exec``;
the lines that must appear in its output follow the block as HTML comments (invisible on the
rendered page, so the page reads like any other)::

    <!-- env: SAFESTATS_SOURCE_URL SAFESTATS_TARGET_URL -->      (once, at the top)

    ```sh exec
    safestats-migrate reconcile --all
    ```
    <!-- expect: PASS: 10 of 10 stages reconciled -->
    <!-- exit: 1 -->                                            (optional; default 0)

Each block runs in its own ``bash -eo pipefail`` from the working directory, with an
environment built from nothing but ``PATH``, ``HOME``, the locale and the variables the page
lists in its ``env`` comment: a step that needs anything else is a page that does not work
for an operator either.  A step fails when its exit code is not the expected one or when an
``expect`` line is missing from its output (stdout and stderr together).

This script imports nothing from the migration package on purpose: it checks the pages the
way an operator reads them, with the installed ``safestats-migrate`` on the PATH.

    python scripts/runbook_exec.py runbooks/rehearsal.md runbooks/parallel-run.md --workdir DIR
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# Variables every shell needs to find programs and files, and no migration setting among them.
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME")

# a block may sit indented in a list item; its lines are taken relative to the fence's indent
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[^\n`]*)$")
_COMMENT = re.compile(r"^\s*<!--\s*(?P<key>env|expect|exit)\s*:\s*(?P<value>.*?)\s*-->\s*$")


class RunbookError(Exception):
    """A page is malformed, or one of its steps failed (the message says which and why)."""


@dataclass
class Step:
    page: str
    line: int  # line of the opening fence, 1-based, for the failure message
    script: str
    expect: list[str] = field(default_factory=list)
    exit_code: int = 0


@dataclass
class Page:
    path: Path
    env: list[str]
    steps: list[Step]


@dataclass
class Result:
    step: Step
    exit_code: int
    output: str
    seconds: float


def parse(path: Path) -> Page:
    """The page's declared variables and its executable steps, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    env: list[str] | None = None
    steps: list[Step] = []
    i = 0
    in_other_fence = False
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence and not in_other_fence:
            info = fence.group("info").split()
            if info[:2] == ["sh", "exec"]:
                start = i
                indent = len(fence.group("indent"))
                body: list[str] = []
                i += 1
                while i < len(lines) and not lines[i].lstrip().startswith("```"):
                    body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i].lstrip())
                    i += 1
                if i == len(lines):
                    raise RunbookError(f"{path.name}:{start + 1}: executable block never closed")
                step = Step(page=path.name, line=start + 1, script="\n".join(body) + "\n")
                i += 1
                # the comments right after the block belong to it (blank lines allowed between)
                while i < len(lines):
                    m = _COMMENT.match(lines[i])
                    if m and m.group("key") == "expect":
                        step.expect.append(m.group("value"))
                    elif m and m.group("key") == "exit":
                        step.exit_code = int(m.group("value"))
                    elif lines[i].strip():
                        break
                    i += 1
                if not step.expect:
                    # a step with no success line would pass on any output: refuse the page
                    raise RunbookError(f"{path.name}:{start + 1}: executable block without <!-- expect: … -->")
                steps.append(step)
                continue
            in_other_fence = True
        elif line.lstrip().startswith("```") and in_other_fence:
            in_other_fence = False
        elif not in_other_fence:
            m = _COMMENT.match(line)
            if m and m.group("key") == "env":
                if env is not None:
                    raise RunbookError(f"{path.name}:{i + 1}: a second <!-- env: … --> line")
                env = m.group("value").split()
            elif m:
                raise RunbookError(f"{path.name}:{i + 1}: <!-- {m.group('key')}: … --> not right after an "
                                   "executable block")
        i += 1
    if env is None:
        raise RunbookError(f"{path.name}: no <!-- env: … --> line listing the variables the page needs")
    return Page(path=path, env=env, steps=steps)


def page_env(page: Page, source: dict[str, str]) -> dict[str, str]:
    """Only the base variables and those the page lists; a listed one that is unset is an error."""
    missing = [name for name in page.env if name not in source]
    if missing:
        raise RunbookError(f"{page.path.name}: set {', '.join(missing)} (listed at the top of the page)")
    return {k: source[k] for k in (*BASE_ENV, *page.env) if k in source}


def run_step(step: Step, env: dict[str, str], workdir: Path, timeout: float) -> Result:
    started = time.monotonic()
    try:
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", step.script], cwd=workdir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        raise RunbookError(f"{step.page}:{step.line}: timed out after {timeout:.0f} s\n{_tail(out)}") from exc
    return Result(step=step, exit_code=proc.returncode, output=proc.stdout,
                  seconds=time.monotonic() - started)


def check(result: Result) -> None:
    step = result.step
    where = f"{step.page}:{step.line}: `{step.script.strip().splitlines()[0]}`"
    if result.exit_code != step.exit_code:
        raise RunbookError(f"{where} exited {result.exit_code}, the page expects {step.exit_code}\n"
                           f"{_tail(result.output)}")
    missing = [e for e in step.expect if e not in result.output]
    if missing:
        raise RunbookError(f"{where}: output lacks its success line(s) {missing}\n{_tail(result.output)}")


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join("    | " + line for line in text.rstrip().splitlines()[-lines:])


def execute(paths: list[Path], workdir: Path, source_env: dict[str, str] | None = None,
            timeout: float = 600.0, log=None) -> list[Result]:  # type: ignore[no-untyped-def]
    """Run every page's steps in order; raise RunbookError at the first failing step."""
    pages = [parse(p) for p in paths]  # every page parsed before anything runs
    source = dict(os.environ if source_env is None else source_env)
    results: list[Result] = []
    for page in pages:
        env = page_env(page, source)
        for step in page.steps:
            result = run_step(step, env, workdir, timeout)
            if log is not None:
                log(f"{step.page}:{step.line} exit {result.exit_code} in {result.seconds:.1f} s: "
                    f"{step.script.strip().splitlines()[0]}")
            check(result)
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a single step may take")
    args = parser.parse_args(argv)
    try:
        results = execute(args.pages, args.workdir, timeout=args.timeout,
                          log=lambda m: print(m, file=sys.stderr))
    except RunbookError as exc:
        print(f"runbook failed: {exc}", file=sys.stderr)
        return 1
    print(f"{len(results)} step(s) of {len(args.pages)} page(s) ran as written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
