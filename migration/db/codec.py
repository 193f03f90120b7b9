"""Legacy values → text, the one way both the loader and reconciliation read the source.

The legacy database is Windows-1252 (SQL Server ``Latin1_General_CI_AS``; MariaDB
``latin1``, which *is* Windows-1252).  Drivers normally decode it; when one hands over
bytes, or text decoded as ISO-8859-1 (0x80–0x9F become the C1 controls U+0080–U+009F),
the characters Windows-1252 meant (’ – € “ ”) are restored here.  Every other type is
rendered to a canonical text the transforms parse:

- datetime → ``YYYY-MM-DD HH:MM:SS`` plus ``.ffffff`` when there is a fraction;
- date → ``YYYY-MM-DD``; Decimal → plain notation (``1234.5000``, never exponent);
- bool → ``1``/``0``; int → decimal digits; float → ``repr``; None stays None.

No value makes decoding fail (a stage stops for a fault of the system, never for a row):

- bytes that are not valid UTF-8 (SQLite stores whatever bytes it was given; Python's
  ``sqlite3`` and the ADBC driver would raise or hand over invalid UTF-8) are read as
  Windows-1252 bytes, the legacy's code page (:func:`decode_bytes`);
- the five bytes Windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) become the C1
  control of the same number (U+0081 …), as Windows decodes them; text cleaning then
  removes them like every other control character;
- a lone UTF-16 surrogate (``nvarchar`` can hold one; Polars and PostgreSQL cannot) becomes
  U+FFFD, which text cleaning removes and business-key checks refuse.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import polars as pl

_C1 = []
_CP = []
for _b in range(0x80, 0xA0):
    try:
        _ch = bytes([_b]).decode("cp1252")
    except UnicodeDecodeError:
        continue
    _C1.append(chr(_b))
    _CP.append(_ch)
_C1_TABLE = str.maketrans("".join(_C1), "".join(_CP))


_SURROGATES = re.compile("[\ud800-\udfff]")
#: what a lone UTF-16 surrogate becomes (PostgreSQL and Polars hold UTF-8 only)
REPLACEMENT = "\ufffd"


def repair_cp1252(s: str) -> str:
    """Undo ISO-8859-1 mis-decoding of Windows-1252 bytes 0x80–0x9F (cheap for ASCII);
    lone surrogates become U+FFFD."""
    if s.isascii():
        return s
    return _SURROGATES.sub(REPLACEMENT, s.translate(_C1_TABLE))


def decode_bytes(b: bytes) -> str:
    """Text bytes from the legacy: UTF-8 when they are valid UTF-8, else Windows-1252 (the
    undefined bytes as the C1 controls of the same number).  Never raises; used as the
    ``sqlite3`` text factory and for invalid values the ADBC driver hands over."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1").translate(_C1_TABLE)


def to_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return repair_cp1252(v)
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f") if v.microsecond else v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, time):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("latin-1").translate(_C1_TABLE)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def datetime_from_text(text: str) -> datetime | None:
    """The inverse of :func:`to_text` for a datetime (``YYYY-MM-DD HH:MM:SS[.ffffff]``, as a
    watermark is recorded); None for any other text."""
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def column_to_text(values: list[Any]) -> list[str | None]:
    """Decode one column of values (fast path for all-str / all-int columns)."""
    out: list[str | None] = []
    append = out.append
    for v in values:
        if v is None:
            append(None)
        elif type(v) is str:
            append(v if v.isascii() else repair_cp1252(v))
        elif type(v) is int:
            append(str(v))
        else:
            append(to_text(v))
    return out


_C1_CHARS = "".join(_C1)
_CP_CHARS = "".join(_CP)


def repair_column(s: pl.Series) -> pl.Series:
    """A text column with Windows-1252 mis-decoding (C1 controls) repaired, vectorised."""
    if s.dtype == pl.String and s.str.contains("[\u0080-\u009f]").any():
        return s.str.replace_many(list(_C1_CHARS), list(_CP_CHARS))
    return s


def decode_column(name: str, values: list[Any] | tuple[Any, ...]) -> pl.Series:
    """One column of legacy values as a Polars String series, equal to ``[to_text(v) …]``.

    Vectorised for the common cases (all text, all integers, all datetimes); anything
    else falls back to :func:`to_text` per value.  A test proves both agree.
    """
    try:
        s = pl.Series(name, values, strict=True)
    except Exception:
        return pl.Series(name, [to_text(v) for v in values], dtype=pl.String)
    dt = s.dtype
    if dt == pl.String:
        return repair_column(s)
    if dt == pl.Null:
        return s.cast(pl.String)
    if dt.is_integer():
        return s.cast(pl.String)
    if isinstance(dt, pl.Datetime) and dt.time_zone is None:
        frac = s.dt.microsecond() != 0
        return (pl.select(pl.when(frac).then(s.dt.strftime("%Y-%m-%d %H:%M:%S%.6f"))
                          .otherwise(s.dt.strftime("%Y-%m-%d %H:%M:%S"))).to_series().alias(name))
    if dt == pl.Boolean:
        return s.cast(pl.Int8).cast(pl.String)
    return pl.Series(name, [to_text(v) for v in values], dtype=pl.String)
