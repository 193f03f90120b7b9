"""Fault injection for the kill and dropped-connection tests (issue 13).  Unset in production;
documented in runbooks/testing.md.

``SAFESTATS_FAULT_KILL=point:n[:table]`` SIGKILLs the process (group) at a named point;
``SAFESTATS_FAULT_PAUSE`` (same form) with ``SAFESTATS_FAULT_DIR`` pauses there once until the
test says resume.  :func:`hook` is the one hook of the process (its counters are shared by every
caller); code at a named point calls ``hook()`` and, when it is not None, calls it with the
point's name, the chunk number (0: count calls) and the legacy table or stage.

The points: key_snapshot, key_snapshot_copy (chunk n of a table's key snapshot copied, its
transaction open), extract, transform, mid_copy, after_copy, before_commit,
after_commit, index_rebuild, analyze, reconcile (the loader and the gate); delta_plan,
delta_apply, delta_delete (a delta or redrive); undo, undo_committed (rollback);
report_write (between a report file's temporary copy and its rename); gx (a batch handed to
the expectations worker).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path


def _parse(spec: str) -> tuple[str, int, str]:
    point, _, rest = spec.partition(":")
    n, _, table = rest.partition(":")
    return point, int(n or "1"), table


def _kill_all() -> None:
    """SIGKILL the whole process group when this process leads one (the kill harness starts the
    CLI with ``start_new_session=True``, so reconcile and GX workers die with it); otherwise only
    this process — a group not its own may hold the test runner."""
    if os.getpgid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _pause(directory: str) -> None:
    """Tell the test this point is reached (``paused`` names the pid) and wait for ``resume``:
    the test does its fault (terminates backends, kills the source connection) meanwhile."""
    d = Path(directory)
    (d / "paused").write_text(str(os.getpid()))
    for _ in range(1200):
        if (d / "resume").exists():
            return
        time.sleep(0.1)


def fault_from_environment() -> Callable[..., None] | None:
    """Fault injection for the kill and dropped-connection tests.  Unset in production;
    documented in runbooks/testing.md.

    ``SAFESTATS_FAULT_KILL=point:n[:table]`` SIGKILLs the process (group) at that point (mid_copy,
    after_copy, before_commit, after_commit …) of chunk ``n`` (of that legacy table, if given);
    points called without a chunk number fire at their ``n``-th call, so every kill is chosen
    by event counts, never by time.  ``SAFESTATS_FAULT_PAUSE`` (same form) with
    ``SAFESTATS_FAULT_DIR`` instead pauses there once until the test says resume."""
    kill = os.environ.get("SAFESTATS_FAULT_KILL")
    pause = os.environ.get("SAFESTATS_FAULT_PAUSE")
    directory = os.environ.get("SAFESTATS_FAULT_DIR", "")
    if not kill and not (pause and directory):
        return None
    wanted = [(_parse(kill), "kill")] if kill else []
    if pause and directory:
        wanted.append((_parse(pause), "pause"))
    calls: dict[tuple[str, str], int] = {}
    done: set[str] = set()
    lock = threading.Lock()

    def fault(where: str, chunk_no: int = 0, source_table: str | None = None) -> None:
        for (point, n, table), action in wanted:
            if where != point or (table and table != source_table) or action in done:
                continue
            with lock:
                calls[(action, where)] = calls.get((action, where), 0) + 1
                count = chunk_no if chunk_no > 0 else calls[(action, where)]
                if count != n:
                    continue
                done.add(action)
            if action == "kill":
                _kill_all()
            else:
                _pause(directory)

    return fault


_HOOK: dict[str, Callable[..., None] | None] = {}


def hook() -> Callable[..., None] | None:
    """The process's fault hook from the environment (read once), or None (always, in production)."""
    if "hook" not in _HOOK:
        _HOOK["hook"] = fault_from_environment()
    return _HOOK["hook"]


def at(point: str, n: int = 0, table: str | None = None) -> None:
    """Call the process's fault hook at ``point`` when there is one."""
    h = hook()
    if h is not None:
        h(point, n, table)


__all__ = ["at", "fault_from_environment", "hook"]
