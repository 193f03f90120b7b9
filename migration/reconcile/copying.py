"""What reconciliation's source pass writes and how: staging names, COPY text (escaping, CSV),
the canonical text of a legacy value, and the background COPY writer (:mod:`.extract`)."""

from __future__ import annotations

import io
import queue
import re
import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

from migration.mapping.transforms.text import clean
from migration.schema.sql import qident

_INT18 = re.compile(r"^-?[0-9]{1,18}$")
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_LONDON: Any = None
#: tables with at least this many rows are evaluated by worker processes


def london() -> Any:
    global _LONDON
    if _LONDON is None:
        from zoneinfo import ZoneInfo

        _LONDON = ZoneInfo("Europe/London")
    return _LONDON


def staging_name(stage: str, suffix: str) -> str:
    return f"staging.{qident(f'rec__{stage}__{suffix}')}"


def csv_bytes(columns: dict[str, list[Any]]) -> bytes:
    """Columns of text/ints/booleans as COPY … (FORMAT csv, NULL '\\N') data (written by Polars, in Rust)."""
    import polars as pl

    frame = pl.DataFrame(columns, strict=False)
    if frame.height == 0:
        return b""
    buf = io.BytesIO()
    frame.write_csv(buf, include_header=False, null_value="\\N", quote_style="non_numeric")
    return buf.getvalue()


def clean_column(values: list[Any]) -> list[str | None]:
    """``[clean(v) for v in values]``, once per distinct value when values repeat."""
    distinct = set(values)
    if len(distinct) * 2 > len(values):
        return [clean(v) for v in values]
    cleaned = {v: clean(v) for v in distinct}
    return [cleaned[v] for v in values]


def _int_or_none(value: Any) -> int | None:
    """A winner-ordering integer: the cleaned text when it is 1–18 digits, else None."""
    v = clean(value)
    return int(v) if v is not None and _INT18.match(v) else None


def esc(value: str | None) -> str:
    """A value for COPY … (FORMAT text): backslash, tab and line breaks escaped; None → \\N."""
    return "\\N" if value is None else value.translate(_COPY_ESCAPE)


# ---------------------------------------------------------------------------- COPY in the background
class CopyWriter:
    """COPY buffers into staging tables on one connection of its own, in a thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.q: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=6)
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, name="reconcile-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        raw = self.engine.raw_connection()
        try:
            with raw.cursor() as cur:  # type: ignore[attr-defined]
                while True:
                    item = self.q.get()
                    try:
                        if item is None:
                            return
                        if self.error is not None:
                            continue
                        t0 = time.perf_counter()
                        try:
                            sql, data = item
                            cur.copy_expert(sql, io.BytesIO(data), size=65536)  # type: ignore[attr-defined]
                            raw.commit()
                        except BaseException as exc:
                            self.error = exc
                            try:
                                raw.rollback()
                            except Exception:  # noqa: S110 - the connection itself is gone (a terminated
                                # backend): nothing to roll back, and this thread must keep taking items
                                # or put() and flush() wait for ever
                                pass
                        self.seconds += time.perf_counter() - t0
                    finally:
                        self.q.task_done()
        finally:
            raw.close()

    def put(self, table: str, columns: list[str], data: bytes) -> None:
        if self.error is not None:
            raise self.error
        if data:
            self.q.put((f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", data))

    def flush(self) -> None:
        """Wait until everything queued so far is in PostgreSQL."""
        self.q.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error
