"""One canonical text per value, computed the same way in Python and in PostgreSQL.

Reconciliation compares what the source *should* have become (Python, from the mapping's
reference) with what the target holds (SQL, inside PostgreSQL) by hashing both sides'
canonical text.  The canonical form is defined by the **target column's type**, so the
two sides meet on the type the value is stored as:

=================  =========================================  ==============================================
type               canonical text                             in PostgreSQL
=================  =========================================  ==============================================
NULL (any type)    ``~`` (never length-prefixed, so it        ``coalesce(…, '~')``
                   cannot collide with the text ``~``)
text, char(n)      ``<length>:<text>``, the text as stored    ``length(x::text) || ':' || x::text``
                   (already trimmed by the mapping), UTF-8,
                   char(n) without pad spaces; the length in
                   characters (code points) makes a row's
                   fields unambiguous whatever they contain
integer types      decimal digits, ``-`` for negatives        ``x::text``
boolean            ``t`` / ``f``                              ``CASE WHEN x THEN 't' ELSE 'f' END``
numeric(p,s)       fixed scale ``s``, plain notation, ``-0``  ``x::text`` (a numeric(p,s) column always
                   written ``0``; Python rounds half away     prints its s decimals)
                   from zero as PostgreSQL does; never a
                   float anywhere
timestamptz        UTC, microseconds, ISO 8601:               ``to_char(x AT TIME ZONE 'UTC',
                   ``2014-03-30T01:30:00.000000+00:00``;        'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')``
                   a naive Python value is taken as UTC
                   (the load writes naive values as UTC)
date               ``YYYY-MM-DD``                             ``to_char(x, 'YYYY-MM-DD')``
text[]             ``<length>:`` + PostgreSQL's own array     ``length(x::text) || ':' || x::text``
                   text (``{a,"b c",NULL}``: elements quoted
                   when empty, ``NULL``, or holding ``{},"\\``
                   or white space; ``"`` and ``\\`` escaped)
geometry Point     ``<x> <y>``: each coordinate rendered      ``round(ST_X(x)::numeric, 3)::text || ' ' ||
                   with 15 significant digits, then rounded     round(ST_Y(x)::numeric, 3)::text``
                   half away from zero to 3 decimals (mm);     (float8 → numeric keeps 15 significant
                   SRID fixed by the column (27700)             digits in PostgreSQL 12+)
=================  =========================================  ==============================================

A row's canonical text is ``<key>#<field>|<field>|…`` in the model's column order; its hash
is ``md5`` of the UTF-8 bytes (change detection, not security: nothing secret is hashed
here).  A key's canonical text is its fields joined with ``|`` the same way.  Surrogate
ids never enter a hash: a reference to an identity key is replaced by the referenced
row's natural key (``offence_category_id`` → ``scheme``, ``code``), and a detail row's
``incident_id`` by its incident's ``(dataset, source_ref)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    Numeric,
    SmallInteger,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY

NULL = "~"
FIELD_SEP = "|"
KEY_SEP = "#"

_UTC = UTC
_MM = Decimal("0.001")
_TRUE_TEXT = frozenset({"t", "true", "y", "yes", "on", "1"})
_FALSE_TEXT = frozenset({"f", "false", "n", "no", "off", "0"})
_ARRAY_SPECIAL = frozenset('{},"\\ \t\n\r\v\f')


def kind_of(column: Column) -> str:
    """The normalisation kind of a model column: text, int, bool, numeric, timestamptz, date,
    text[], point."""
    t = column.type
    if isinstance(t, Geometry):
        return "point"
    if isinstance(t, ARRAY):
        return "text[]"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, (SmallInteger, Integer, BigInteger)):
        return "int"
    if isinstance(t, Numeric):
        return f"numeric:{t.scale or 0}"
    if isinstance(t, DateTime):
        return "timestamptz" if t.timezone else "timestamp"
    if isinstance(t, Date):
        return "date"
    if isinstance(t, (Text, CHAR)) or str(t).upper().startswith(("TEXT", "VARCHAR", "CHAR")):
        return "text"
    raise TypeError(f"no canonical form for {column.table.fullname}.{column.name} ({t})")


# ---------------------------------------------------------------------------- Python side
def _text(v: Any) -> str:
    if type(v) is str:
        s = v
    elif isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, Decimal):
        s = format(v, "f")
    elif isinstance(v, (datetime, date)):
        s = v.isoformat()
    else:
        s = str(v)
    return f"{len(s)}:{s}"


def _int(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(int(v))


def _bool(v: Any) -> str:
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE_TEXT:
            return "t"
        if s in _FALSE_TEXT:
            return "f"
        raise ValueError(f"not a boolean: {v!r}")
    return "t" if v else "f"


def _numeric(scale: int) -> Callable[[Any], str]:
    quantum = Decimal(1).scaleb(-scale)

    def norm(v: Any) -> str:
        if isinstance(v, float):  # never expected (money is Decimal); rendered as PostgreSQL would store it
            v = Decimal(format(v, ".15g"))
        d = Decimal(v).quantize(quantum, rounding=ROUND_HALF_UP)
        if d.is_zero():
            d = abs(d)
        return format(d, "f")
    return norm


def _timestamptz(v: Any) -> str:
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    if v.tzinfo is None:
        v = v.replace(tzinfo=_UTC)
    elif v.tzinfo is not _UTC:
        v = v.astimezone(_UTC)
    return v.isoformat(timespec="microseconds")


def _timestamp(v: Any) -> str:
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v.replace(tzinfo=None).isoformat(timespec="microseconds")


def _date(v: Any) -> str:
    if isinstance(v, datetime):
        v = v.date()
    elif isinstance(v, str):
        v = date.fromisoformat(v)
    return v.isoformat()


def _array_element(e: Any) -> str:
    if e is None:
        return "NULL"
    s = e if type(e) is str else str(e)
    if s == "" or s.upper() == "NULL" or any(ch in _ARRAY_SPECIAL for ch in s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def _array(v: Any) -> str:
    s = "{" + ",".join(_array_element(e) for e in v) + "}"
    return f"{len(s)}:{s}"


def _coordinate(x: float) -> str:
    if round(x, 3) == x and abs(x) < 1e12:
        # at most 3 decimals: formatting is exact (no rounding happens), the common case
        s = f"{x:.3f}"
        return s[1:] if s == "-0.000" else s
    d = Decimal(format(x, ".15g")).quantize(_MM, rounding=ROUND_HALF_UP)
    if d.is_zero():
        d = abs(d)
    return format(d, "f")


def _point(v: Any) -> str:
    if isinstance(v, dict):
        x, y = v["x"], v["y"]
    else:
        x, y = v
    return f"{_coordinate(float(x))} {_coordinate(float(y))}"


def py_normaliser(kind: str) -> Callable[[Any], str]:
    """A function value → canonical text (``~`` for None) for one normalisation kind."""
    if kind.startswith("numeric:"):
        inner = _numeric(int(kind.split(":", 1)[1]))
    else:
        inner = {"text": _text, "int": _int, "bool": _bool, "timestamptz": _timestamptz, "timestamp": _timestamp,
                 "date": _date, "text[]": _array, "point": _point}[kind]

    def norm(v: Any) -> str:
        return NULL if v is None else inner(v)
    norm.__name__ = f"normalise_{kind}"
    return norm


def py_column(kind: str, values: list[Any]) -> list[str]:
    """Canonical text of a whole column, equal to ``[py_normaliser(kind)(v) for v in values]``
    (fast paths for the common Python types; low-cardinality values normalised once)."""
    norm = py_normaliser(kind)
    if kind == "text":
        return [NULL if v is None else (f"{len(v)}:{v}" if type(v) is str else norm(v)) for v in values]
    if kind == "int":
        return [NULL if v is None else (str(v) if type(v) is int else norm(v)) for v in values]
    if kind == "timestamptz":
        utc = _UTC
        return [NULL if v is None else (v.isoformat(timespec="microseconds")
                                        if type(v) is datetime and v.tzinfo is utc else norm(v)) for v in values]
    if kind in ("timestamp", "point"):
        return [norm(v) for v in values]
    cache: dict[Any, str] = {}
    out = []
    for v in values:
        if v is None:
            out.append(NULL)
            continue
        key = (type(v), v)
        s = cache.get(key)
        if s is None:
            s = norm(v)
            if len(cache) < 100_000:
                cache[key] = s
        out.append(s)
    return out


def join_fields(fields: list[str] | tuple[str, ...]) -> str:
    return FIELD_SEP.join(fields)


def decode_fields(text: str, kinds: list[str]) -> list[str | None]:
    """Split a canonical ``a|b|…`` back into its fields (None for NULL), for showing keys."""
    out: list[str | None] = []
    i = 0
    for n, kind in enumerate(kinds):
        if text.startswith(NULL, i) and (i + 1 == len(text) or text[i + 1] == FIELD_SEP):
            out.append(None)
            i += 2
            continue
        if kind in ("text", "text[]"):
            colon = text.index(":", i)
            length = int(text[i:colon])
            out.append(text[colon + 1:colon + 1 + length])
            i = colon + 1 + length + 1
        else:
            end = text.find(FIELD_SEP, i)
            end = len(text) if end < 0 or n == len(kinds) - 1 else end
            out.append(text[i:end])
            i = end + 1
    return out


# ---------------------------------------------------------------------------- SQL side
def sql_value(expr: str, kind: str) -> str:
    """SQL giving the canonical text of ``expr`` (NULL when expr is NULL; wrap with :func:`sql_field`)."""
    if kind == "text":
        return f"(length(({expr})::text) || ':' || ({expr})::text)"
    if kind == "int":
        return f"({expr})::text"
    if kind == "bool":
        return f"(CASE WHEN {expr} THEN 't' WHEN NOT {expr} THEN 'f' END)"
    if kind.startswith("numeric:"):
        scale = int(kind.split(":", 1)[1])
        return f"(round({expr}, {scale}))::text"
    if kind == "timestamptz":
        return f"to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    if kind == "timestamp":
        return f"to_char({expr}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    if kind == "date":
        return f"to_char({expr}, 'YYYY-MM-DD')"
    if kind == "text[]":
        return f"(length(({expr})::text) || ':' || ({expr})::text)"
    if kind == "point":
        return (f"(round(ST_X({expr})::numeric, 3)::text || ' ' || round(ST_Y({expr})::numeric, 3)::text)")
    raise TypeError(f"no SQL canonical form for kind {kind}")


def sql_field(expr: str, kind: str) -> str:
    return f"coalesce({sql_value(expr, kind)}, '{NULL}')"


def sql_join(fields: list[str]) -> str:
    """SQL concatenating canonical fields with the separator (``concat_ws`` skips nothing: no field is NULL)."""
    if not fields:
        return "''"
    return f"concat_ws('{FIELD_SEP}', {', '.join(fields)})"


# ---------------------------------------------------------------------------- COPY text format
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str | None) -> str:
    """A value for COPY … (FORMAT text): backslash, tab and line breaks escaped; None → \\N."""
    if value is None:
        return "\\N"
    return value.translate(_COPY_ESCAPE)
