"""Ctrl-C and SIGTERM: stop at a chunk boundary, never half-way through one.

The CLI installs :func:`handlers` around a command.  While a chunk loop runs inside
:func:`deferred`, the first SIGINT or SIGTERM only *asks* it to stop: the loop finishes or
rolls back the chunk in flight, then raises :class:`migration.errors.Interrupted` (exit 130)
naming what was committed.  Outside a chunk loop (or at a second signal) the signal raises
``KeyboardInterrupt`` at once: every write is one transaction, so that rolls back cleanly.
The library never installs handlers itself (a program embedding it keeps its own).

A planned stop (``run --stop-at HH:MM``) takes the same road: while :func:`stop_at` is in
force, :func:`requested` answers :data:`STOP_AT` once the time has come, so the chunk loops
stop at their next boundary exactly as after Ctrl-C (the run recorded as interrupted and
resumable; exit 130 — a planned stop that left work undone is not green).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from migration.errors import UsageError

#: what :func:`requested` answers when the time of ``--stop-at`` has come
STOP_AT = "stop-at"
#: the wall clock ``--stop-at`` is read in
LONDON = ZoneInfo("Europe/London")

_state: dict[str, Any] = {"depth": 0, "requested": None, "deadline": None, "label": None}


def signal_name(exc: BaseException) -> str:
    """Which stop an exception stands for: the signal a ``KeyboardInterrupt`` carries, the word an
    :class:`~migration.errors.Interrupted` starts with (``SIGTERM: …``, ``stop-at: …``), else SIGINT."""
    if isinstance(exc, KeyboardInterrupt) and exc.args:
        return str(exc.args[0])
    what = getattr(exc, "what", None)
    return str(what).split(":")[0] if isinstance(what, str) and what else "SIGINT"


def requested() -> str | None:
    """The name of the signal that asked to stop (``SIGINT``/``SIGTERM``), :data:`STOP_AT` when
    the planned stop time has passed, or None."""
    if _state["requested"] is None and _state["deadline"] is not None and time.time() >= _state["deadline"]:
        return STOP_AT
    return _state["requested"]  # type: ignore[no-any-return]


def stop_label() -> str:
    """The planned stop as the person wrote it (``17:00``), for the messages."""
    return str(_state["label"] or "")


def parse_stop_at(value: str, *, now: datetime | None = None) -> datetime:
    """``HH:MM`` today in London time, or ``YYYY-MM-DDTHH:MM`` (e.g. overnight); a time already
    past is a usage error (exit 2), said before anything is written."""
    now = (now or datetime.now(LONDON)).astimezone(LONDON)
    text = value.strip()
    try:
        if len(text) <= 5:
            hh, _, mm = text.partition(":")
            when = now.replace(hour=int(hh), minute=int(mm), second=0, microsecond=0)
        else:
            when = datetime.fromisoformat(text)
            when = when.replace(tzinfo=LONDON) if when.tzinfo is None else when.astimezone(LONDON)
    except ValueError:
        raise UsageError(f"--stop-at {value!r} is not a time",
                         hint="write HH:MM (London time, today) or YYYY-MM-DDTHH:MM") from None
    if when <= now:
        raise UsageError(f"--stop-at {value} is already past (it is {now:%H:%M} London time now)",
                         hint="give a time still to come; for tomorrow write YYYY-MM-DDTHH:MM")
    return when


@contextmanager
def stop_at(when: datetime | None, label: str | None = None) -> Iterator[None]:
    """For the duration, :func:`requested` answers :data:`STOP_AT` from ``when`` on (None: no planned stop)."""
    if when is None:
        yield
        return
    old = (_state["deadline"], _state["label"])
    _state["deadline"] = when.timestamp()
    _state["label"] = label or when.astimezone(LONDON).strftime("%H:%M")
    try:
        yield
    finally:
        _state["deadline"], _state["label"] = old


def stopped_message(what: str) -> str:
    """The first words of the line a planned stop ends with."""
    return f"stopped at {stop_label()} as asked (--stop-at): {what}"


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
