"""Legacy values → text, the one way both the loader and reconciliation read the source.

The legacy database is Windows-1252 (SQL Server ``Latin1_General_CI_AS``; MariaDB
``latin1``, which *is* Windows-1252).  Drivers normally decode it; when one hands over
bytes, or text decoded as ISO-8859-1 (0x80–0x9F become the C1 controls U+0080–U+009F),
the characters Windows-1252 meant (’ – € “ ”) are restored here.  Every other type is
rendered to a canonical text the transforms parse:

- datetime → ``YYYY-MM-DD HH:MM:SS`` plus ``.ffffff`` when there is a fraction;
- date → ``YYYY-MM-DD``; Decimal → plain notation (``1234.5000``, never exponent);
- bool → ``1``/``0``; int → decimal digits; float → ``repr``; None stays None.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

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


def repair_cp1252(s: str) -> str:
    """Undo ISO-8859-1 mis-decoding of Windows-1252 bytes 0x80–0x9F (cheap for ASCII)."""
    if s.isascii():
        return s
    return s.translate(_C1_TABLE)


def to_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v if v.isascii() else v.translate(_C1_TABLE)
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
        return bytes(v).decode("cp1252", errors="replace")
    if isinstance(v, float):
        return repr(v)
    return str(v)


def column_to_text(values: list[Any]) -> list[str | None]:
    """Decode one column of values (fast path for all-str / all-int columns)."""
    out: list[str | None] = []
    append = out.append
    for v in values:
        if v is None:
            append(None)
        elif type(v) is str:
            append(v if v.isascii() else v.translate(_C1_TABLE))
        elif type(v) is int:
            append(str(v))
        else:
            append(to_text(v))
    return out
