"""How the library talks to a person without printing.

Library functions take a :class:`Console`; the CLI passes a :class:`RichConsole` (or a
JSON-lines one with ``--log-json``), tests pass :class:`RecordingConsole`.  Every text
goes through :func:`migration.secrets.scrub` first.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from migration.secrets import scrub

#: a word longer than this may still be folded in a table cell (a URL, a path)
MAX_UNBROKEN = 30


class Progress(Protocol):
    def advance(self, rows: int) -> None: ...


class Console(Protocol):
    def info(self, message: str, **fields: Any) -> None: ...
    def warn(self, message: str, **fields: Any) -> None: ...
    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...
    def progress(self, label: str, total: int | None) -> Any: ...


class _NullProgress:
    def advance(self, rows: int) -> None:  # noqa: D401 - protocol
        pass


@dataclass
class RecordingConsole:
    """Keeps everything it is told, for tests; prints nothing."""

    lines: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def info(self, message: str, **fields: Any) -> None:
        self.lines.append(scrub(message))
        self.events.append({"level": "info", "message": scrub(message), **fields})

    def warn(self, message: str, **fields: Any) -> None:
        self.lines.append("WARNING: " + scrub(message))
        self.events.append({"level": "warning", "message": scrub(message), **fields})

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.lines.append(scrub(title))
        for row in rows:
            self.lines.append(scrub(" | ".join(str(c) for c in row)))

    @contextmanager
    def progress(self, label: str, total: int | None) -> Iterator[_NullProgress]:
        yield _NullProgress()


class _PlainProgress:
    """Plain progress lines (not a terminal): one line every few seconds."""

    def __init__(self, console: RichConsole, label: str, total: int | None) -> None:
        self.console, self.label, self.total = console, label, total
        self.done = 0
        self.start = self.last = time.monotonic()

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if now - self.last >= 5 or (self.total is not None and self.done >= self.total):
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = ""
            if self.total:
                left = max(self.total - self.done, 0)
                eta = f", ETA {left / rate:,.0f} s" if rate > 0 else ""
            total = f"/{self.total:,}" if self.total else ""
            self.console.info(f"{self.label}: {self.done:,}{total} rows, {rate:,.0f} rows/s{eta}")


class RichConsole:
    """Console for people: rich output on a terminal, plain lines otherwise; JSON lines with log_json."""

    def __init__(self, *, log_json: bool = False, stream: Any = None, out: Any = None) -> None:
        import os

        from rich.console import Console as _RC

        self.log_json = log_json
        self._stream = stream or sys.stderr
        self._rc = _RC(file=self._stream, highlight=False, soft_wrap=True)
        out = out or sys.stdout
        # tables printed to a file or pipe are read in logs and tickets: 160 wide unless COLUMNS says otherwise
        width = None if out.isatty() or os.environ.get("COLUMNS", "").isdigit() else 160
        self._out = _RC(file=out, highlight=False, soft_wrap=True, width=width)

    def _json(self, level: str, message: str, fields: dict[str, Any]) -> None:
        rec = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "level": level, "message": scrub(message)}
        rec.update({k: (scrub(v) if isinstance(v, str) else v) for k, v in fields.items()})
        self._stream.write(json.dumps(rec, default=str) + "\n")
        self._stream.flush()

    def info(self, message: str, **fields: Any) -> None:
        if self.log_json:
            self._json("info", message, fields)
        else:
            self._rc.print(scrub(message), markup=False)

    def warn(self, message: str, **fields: Any) -> None:
        if self.log_json:
            self._json("warning", message, fields)
        else:
            self._rc.print("[yellow]warning:[/yellow] " + _escape(scrub(message)))

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if self.log_json:
            self._json("info", title, {"columns": list(columns), "rows": [[str(c) for c in r] for r in rows]})
            return
        from rich import box
        from rich.table import Table

        cols = [_escape(str(c)) for c in columns]
        cells = [[_escape(scrub(c if c is not None else "")) for c in r] for r in rows]
        texts = [[cols[i], *(r[i] for r in cells if i < len(r))] for i in range(len(cols))]
        # per column: its natural width, and the narrowest it can be without breaking a word
        natural = [max(len(line) for t in col for line in (t.splitlines() or [""])) for col in texts]
        words = [min(max((len(w) for t in col for w in t.split()), default=1), MAX_UNBROKEN) for col in texts]
        width = self._out.width
        boxed = _fit(natural, words, width - 3 * len(cols) - 1)  # "│ " … " │" around and between
        plain = None if boxed else _fit(natural, words, width - 3 * (len(cols) - 1))  # no outer box
        if boxed is None and plain is None:  # too many columns for the width: one block per row
            self._out.print(_escape(scrub(title)), style="italic")
            label = max(len(c) for c in columns) if columns else 0
            for r in cells:
                for c, v in zip(columns, r, strict=False):
                    self._out.print(f"  {_escape(str(c)):>{label}}: {v}", soft_wrap=False)
                self._out.print("")
            return
        if boxed is not None:
            t = Table(title=_escape(scrub(title)), show_lines=False)
        else:
            t = Table(title=_escape(scrub(title)), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for c, w in zip(cols, boxed or plain or [], strict=True):
            t.add_column(c, overflow="fold", width=w)
        for r in cells:
            t.add_row(*r)
        self._out.print(t, soft_wrap=False)  # fit the width: wrap at spaces, never inside a word

    @contextmanager
    def progress(self, label: str, total: int | None) -> Iterator[Any]:
        if self.log_json or not self._rc.is_terminal:
            yield _PlainProgress(self, label, total)
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        class _RateColumn(TextColumn):
            def __init__(self) -> None:
                super().__init__("")

            def render(self, task: Any) -> Any:  # type: ignore[override]
                from rich.text import Text

                speed = task.finished_speed or task.speed
                return Text(f"{speed:,.0f} rows/s" if speed else "")

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self._rc,
            transient=False,
        ) as prog:
            task = prog.add_task(label, total=total)

            class _P:
                def advance(self, rows: int) -> None:
                    prog.advance(task, rows)

            yield _P()


def _fit(natural: list[int], minimum: list[int], available: int) -> list[int] | None:
    """Column widths within ``available``: the natural ones, narrowed (widest slack first) down to at
    least each column's longest word; None when even that does not fit."""
    if sum(minimum) > available:
        return None
    widths = [max(n, m) for n, m in zip(natural, minimum, strict=True)]
    while sum(widths) > available:
        i = max(range(len(widths)), key=lambda j: widths[j] - minimum[j])
        widths[i] -= 1
    return widths


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class RunLog:
    """A console that passes everything on to ``inner`` and keeps it, redacted, in the run's log file.

    The file is ``<folder>/run-<id>.log``, opened when the first message naming a run arrives
    (``console.info(…, run_id=N)``: the load and the delta say so when they start a run); what
    was said before is written first.  A command that starts several runs (``run --all``) opens
    each run's file when it starts and writes from then on into every one (the first file has
    the whole command); a resumed run's log goes on in the file of its first attempt.  :meth:`error` writes the error a command ends with (which the CLI
    prints).  Nothing is written for a command that started no run."""

    def __init__(self, inner: Console, folder: Any) -> None:
        import threading
        from pathlib import Path

        self.inner = inner
        self.folder = Path(folder)
        self.run_ids: list[int] = []
        #: the log files written, the first one first
        self.paths: list[Any] = []
        self._files: list[Any] = []
        self._buffer: list[str] = []
        self._lock = threading.Lock()

    def _line(self, level: str, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        lines = [f"{stamp} {level:<7} {line}" for line in scrub(message).splitlines() or [""]]
        with self._lock:
            if not self._files:
                self._buffer.extend(lines)
                return
            for f in self._files:
                f.write("\n".join(lines) + "\n")
                f.flush()

    def _named(self, run_id: Any) -> None:
        if not isinstance(run_id, int) or isinstance(run_id, bool) or run_id in self.run_ids:
            return
        import os

        path = self.folder / f"run-{run_id}.log"
        with self._lock:
            self.run_ids.append(run_id)
            self.folder.mkdir(parents=True, exist_ok=True)
            f = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run, closed in close()
            if f.tell():  # a resumed run: its log goes on
                f.write("\n")
            first = self.paths[0].name if self.paths else None
            f.write(f"# safestats-migrate run {run_id} (pid {os.getpid()})"
                    + (f"; earlier lines of the same command are in {first}" if first else "") + "\n")
            if not self._files:
                f.write("\n".join(self._buffer) + ("\n" if self._buffer else ""))
                self._buffer = []
            f.flush()
            self._files.append(f)
            self.paths.append(path)

    def info(self, message: str, **fields: Any) -> None:
        self.inner.info(message, **fields)
        self._named(fields.get("run_id"))
        self._line("info", message)

    def warn(self, message: str, **fields: Any) -> None:
        self.inner.warn(message, **fields)
        self._named(fields.get("run_id"))
        self._line("warning", message)

    def note(self, message: str) -> None:
        """A line only for the log (what the run ran with)."""
        self._line("info", message)

    def error(self, message: str) -> None:
        """The error the command ends with: only into the log (the CLI prints it)."""
        self._line("error", message)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.inner.table(title, columns, rows)
        self._line("table", title + "\n" + " | ".join(str(c) for c in columns) + "".join(
            "\n" + " | ".join("" if c is None else str(c) for c in r) for r in rows))

    def progress(self, label: str, total: int | None) -> Any:
        return self.inner.progress(label, total)

    def close(self) -> None:
        with self._lock:
            for f in self._files:
                f.close()
            self._files = []
