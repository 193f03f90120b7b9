"""Ctrl-C and SIGTERM: stop at a chunk boundary, never half-way through one.

The CLI installs :func:`handlers` around a command.  While a chunk loop runs inside
:func:`deferred`, the first SIGINT or SIGTERM only *asks* it to stop: the loop finishes or
rolls back the chunk in flight, then raises :class:`migration.errors.Interrupted` (exit 130)
naming what was committed.  Outside a chunk loop (or at a second signal) the signal raises
``KeyboardInterrupt`` at once: every write is one transaction, so that rolls back cleanly.
The library never installs handlers itself (a program embedding it keeps its own).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_state: dict[str, Any] = {"depth": 0, "requested": None}


def requested() -> str | None:
    """The name of the signal that asked to stop (``SIGINT``/``SIGTERM``), or None."""
    return _state["requested"]  # type: ignore[no-any-return]


def _handle(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _state["depth"] > 0 and _state["requested"] is None:
        _state["requested"] = name  # the chunk loop stops at its next boundary
        return
    _state["requested"] = _state["requested"] or name
    raise KeyboardInterrupt(name)


@contextmanager
def handlers() -> Iterator[None]:
    """SIGINT and SIGTERM handled as above for the duration (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _handle) for s in (signal.SIGINT, signal.SIGTERM)}
    _state["requested"] = None
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def deferred() -> Iterator[None]:
    """A chunk loop: a first signal sets :func:`requested` instead of raising."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
