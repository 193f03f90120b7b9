"""Great Expectations suites on the target, run in a child process (:mod:`.gx_worker`).

One worker per process, started on first use in the background (its import overlaps
the source pass) and reused by every stage and every target of the process; it ends
with the process (its stdin closes).  Suites come from the check files; an expectation
touching a sensitive column (declared, or filled from a mapping's ``personal_data``) is
run with ``BOOLEAN_ONLY`` so no value of it ever reaches a result.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from typing import Any

from sqlalchemy.engine import URL

from migration import faults
from migration.reconcile.results import CheckResult
from migration.reconcile.spec import SuiteSpec
from migration.secrets import scrub

START_TIMEOUT = 300.0
#: the worker's sessions are tagged so the parent can wait until they are gone
APPLICATION_NAME = "safestats-reconcile-gx"
PARTIAL = 5


class GxError(Exception):
    pass


class GxWorker:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.start_error: str | None = None

    def start(self) -> None:
        if self.proc is not None:
            return
        env = dict(os.environ)
        env["GX_ANALYTICS_ENABLED"] = "false"
        env.pop("SAFESTATS_TARGET_PASSWORD", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "migration.reconcile.gx_worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True, encoding="utf-8", env=env)
        threading.Thread(target=self._await_ready, name="gx-start", daemon=True).start()

    def _await_ready(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.start_error = "the Great Expectations worker exited while starting: " + self._stderr_tail()
        self.ready.set()

    def _stderr_tail(self) -> str:
        try:
            self.stderr.seek(0)
            tail = self.stderr.read()[-600:]
        except Exception:
            tail = ""
        return scrub(tail.strip().replace("\n", " | ")) or "(no output)"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def request(self, url: URL, suites: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.lock:
            self.start()
            if not self.ready.wait(START_TIMEOUT):
                raise GxError("the Great Expectations worker did not start in time")
            if self.start_error:
                raise GxError(self.start_error)
            assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
            tagged = url.update_query_dict({"application_name": APPLICATION_NAME})
            payload = {"url": tagged.render_as_string(hide_password=False), "suites": suites}
            try:
                self.proc.stdin.write(json.dumps(payload, default=str) + "\n")
                self.proc.stdin.flush()
                faults.at("gx")  # kill matrix: the worker holds a batch
                line = self.proc.stdout.readline()
            except (BrokenPipeError, OSError) as exc:
                raise GxError(f"the Great Expectations worker stopped: {exc}; {self._stderr_tail()}") from exc
            if not line:
                raise GxError("the Great Expectations worker stopped: " + self._stderr_tail())
            answer = json.loads(line)
            if "error" in answer:
                raise GxError(scrub(answer["error"]))
            return list(answer["suites"])

    def submit(self, url: URL, suites: list[dict[str, Any]]) -> Future[list[dict[str, Any]]]:
        fut: Future[list[dict[str, Any]]] = Future()

        def work() -> None:
            try:
                fut.set_result(self.request(url, suites))
            except BaseException as exc:
                fut.set_exception(exc)

        threading.Thread(target=work, name="gx-request", daemon=True).start()
        return fut

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
        self.proc = None


_worker: GxWorker | None = None
_worker_lock = threading.Lock()


def shared_worker() -> GxWorker:
    global _worker
    with _worker_lock:
        if _worker is None or (_worker.proc is not None and not _worker.alive):
            _worker = GxWorker()
            atexit.register(_worker.close)
        _worker.start()
        return _worker


def suite_request(suite: SuiteSpec, sensitive: set[str], view: str | None = None) -> dict[str, Any]:
    """The JSON a worker runs for one suite (columns as declared; sensitive ones BOOLEAN_ONLY)."""
    where = f" WHERE {suite.where}" if suite.where else ""
    expect = []
    for e in suite.expect:
        d = e.model_dump(exclude_none=True, by_alias=True)
        d["form"] = e.form
        # row expectations only ever report a count (the worker drops the rows themselves)
        d["sensitive"] = suite.sensitive or bool(set(e.columns) & sensitive)
        expect.append(d)
    return {"name": suite.name, "query": f"SELECT * FROM {suite.table}{where}", "table": suite.table,
            "where": suite.where, "view": view, "expect": expect, "partial": PARTIAL}


def _label(r: dict[str, Any]) -> str:
    t = str(r.get("type", "")).removeprefix("expect_")
    if r.get("name"):
        return str(r["name"])
    if r.get("columns"):
        return f"{t}({', '.join(r['columns'])})"
    if r.get("column"):
        return f"{t}({r['column']})"
    return t


def suite_result(stage: str, suite: SuiteSpec, answer: dict[str, Any]) -> CheckResult:
    name = f"expectations/{suite.name}"
    where = f" ({suite.where})" if suite.where else ""
    if "error" in answer:
        return CheckResult(stage, name, "error", f"{suite.table}{where}: the suite could not run: {scrub(answer['error'])}",
                           {"table": suite.table})
    results = answer["results"]
    failed = [r for r in results if not r["success"]]
    errored = [r for r in results if r.get("error")]
    detail = {"table": suite.table, "where": suite.where, "expectations": results}
    if errored:
        return CheckResult(stage, name, "error", f"{suite.table}{where}: {len(errored)} expectation(s) raised: "
                           + "; ".join(f"{_label(r)}: {scrub(r['error'])}" for r in errored[:3]), detail)
    if failed:
        parts = []
        for r in failed[:4]:
            s = _label(r)
            if r.get("unexpected_count") is not None:
                s += f" {r['unexpected_count']:,} unexpected"
            if r.get("partial_unexpected"):
                s += f" (e.g. {', '.join(dict.fromkeys(r['partial_unexpected']))})"
            elif r.get("sensitive"):
                s += " (values not shown: sensitive)"
            parts.append(s)
        return CheckResult(stage, name, "fail", f"{suite.table}{where}: {len(failed)} of {len(results)} "
                           f"expectations failed: " + "; ".join(parts), detail)
    return CheckResult(stage, name, "pass", f"{suite.table}{where}: all {len(results)} expectations met", detail)
