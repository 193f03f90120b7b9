"""The business-key rule (TARGET-MODEL, row "business keys"), in Python and in Polars.

A business key is the trimmed value of its column(s) — never altered otherwise — compared
byte-wise (``COLLATE "C"``).  Each row's key is in one of four states:

``ok``        the trimmed key ('|'-joined when composite) identifies the row;
``blank``     NULL, empty, whitespace or a "no value" spelling (``NULL``, ``N/A``, ``-``, any
              letter case — :data:`migration.mapping.transforms.text.NO_VALUE`) in any part;
``invalid``   a part holds a character no key may hold (:data:`INVALID_KEY_CHARS`: C0 and C1
              controls, DEL, surrogates, U+FFFD — what undecodable bytes become).  Such a key
              is never cleaned into another row's key: the row quarantines ``INVALID_KEY``;
``reserved``  the key begins with the legacy key prefix (``RecID:``) that blank keys load under,
              so it could collide with one: the row quarantines ``KEY_RESERVED_PREFIX``.

What a blank key means depends on the table (:func:`legacy_key_prefix`): where the business
key is *not* the legacy primary key (``CrimeRef`` of tblMPSCrime, keyed by ``RecID``) the
row loads under its legacy primary key, ``source_ref`` = ``RecID:<n>``, flagged
``key_blank``, and is in no duplicate group (its group is itself).  Where the business key
*is* the legacy primary key (``IncidentNumber``, ``LASRef``), or the table has none, a
blank key quarantines ``BLANK_KEY``.

The *effective* key (``_key`` of the engine, ``key`` of the references) is what the target
row is keyed on and what the duplicate rule groups by: the business key when ``ok``, the
legacy key when ``blank`` under a prefix, else NULL (the row is quarantined and in no
group).  The *recorded* key is what quarantine and disposition records carry beside the
legacy primary key: the trimmed business key, NULL when blank, invalid characters written
as ``\\xNN`` / ``\\uNNNN`` escapes (:func:`printable`) so a record never holds them.

The Python form (:func:`key_state`, :func:`effective_key`) is the reference
reconciliation uses; :func:`with_key_columns` is the load's vectorised form; tests run both
over one hand-written table (tests/mapping/test_keys.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import polars as pl

from migration.mapping.spec import TableMappingSpec
from migration.mapping.transforms.base import TRIM_CHARS
from migration.mapping.transforms.text import NO_VALUE

_NO_VALUE_SET = frozenset(NO_VALUE)
_NO_VALUE_MAX = max(len(v) for v in NO_VALUE)

#: characters no business key may hold (SPLIT.md "invalid key" characters)
INVALID_KEY_CHARS = "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffd]"
_INVALID = re.compile(INVALID_KEY_CHARS)
#: the same class for Polars (Rust regex: strings there never hold surrogates)
PL_INVALID_KEY_CHARS = r"[\x00-\x1F\x7F-\x9F\x{FFFD}]"

OK, BLANK, INVALID, RESERVED = "ok", "blank", "invalid", "reserved"
#: quarantine reason of a row whose key it cannot be loaded under
REASONS = {BLANK: "BLANK_KEY", INVALID: "INVALID_KEY", RESERVED: "KEY_RESERVED_PREFIX"}
#: the data-quality flag of a row loaded under its legacy key
KEY_BLANK_FLAG = "key_blank"


def legacy_key_prefix(tm: TableMappingSpec) -> str | None:
    """``'RecID:'`` when a blank business key loads under the legacy primary key: the table has
    a primary key and it is not (part of) the business key.  None: a blank key quarantines."""
    key = tm.source.key
    if key is None or key in tm.business_key.columns:
        return None
    return f"{key}:"


def trimmed(value: Any) -> str | None:
    """A key part, trimmed; None when it is blank (NULL, whitespace, a "no value" spelling)."""
    if value is None:
        return None
    s = str(value).strip(TRIM_CHARS)
    if len(s) <= _NO_VALUE_MAX and s.upper() in _NO_VALUE_SET:
        return None
    return s


def key_state(parts: Sequence[Any], prefix: str | None) -> tuple[str, str | None]:
    """(state, trimmed business key) of one row from its key parts (raw column values or
    derive outputs).  The key is None only when blank."""
    if len(parts) == 1:  # the common case, without the lists
        v = trimmed(parts[0])
        if v is None:
            return BLANK, None
        if _INVALID.search(v):
            return INVALID, v
        if prefix is not None and v.startswith(prefix):
            return RESERVED, v
        return OK, v
    values = [trimmed(p) for p in parts]
    present = [v for v in values if v is not None]
    if any(_INVALID.search(v) for v in present):
        return INVALID, "|".join(present)
    if len(present) < len(values):
        return BLANK, None
    key = "|".join(present)
    if prefix is not None and key.startswith(prefix):
        return RESERVED, key
    return OK, key


def effective_key(state: str, key: str | None, source_key: Any, prefix: str | None) -> str | None:
    """The key the target row is keyed on and the duplicate rule groups by (None: quarantined)."""
    if state == OK:
        return key
    if state == BLANK and prefix is not None and source_key is not None:
        return f"{prefix}{source_key}"
    return None


def printable(key: str | None) -> str | None:
    """The recorded form of a key: invalid characters as ``\\xNN`` / ``\\uNNNN`` escapes."""
    if key is None or not _INVALID.search(key):
        return key
    return _INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", key)


def key_flags(state: str, prefix: str | None) -> tuple[str, ...]:
    return (KEY_BLANK_FLAG,) if state == BLANK and prefix is not None else ()


# ---------------------------------------------------------------------------- Polars
def pl_trimmed(e: pl.Expr) -> pl.Expr:
    s = e.cast(pl.String).str.strip_chars(TRIM_CHARS)
    return pl.when((s.str.len_chars() <= _NO_VALUE_MAX) & s.str.to_uppercase().is_in(NO_VALUE)).then(None).otherwise(s)


def with_key_columns(df: pl.DataFrame, parts: Sequence[str], source_key: str, prefix: str | None) -> pl.DataFrame:
    """``df`` with ``_kstate``, ``_bkey`` (trimmed key, null when blank; invalid characters not
    yet escaped — see :func:`escape_invalid`), ``_key`` (effective key) and ``_key_flags``,
    from the key part columns ``parts`` and the legacy key column ``source_key``.

    Computed in steps, each step's columns materialised once (an expression tree that
    repeats the trimmed parts costs ten times as much)."""
    temps = [f"_kp{i}" for i in range(len(parts))]
    work = df.with_columns([pl_trimmed(pl.col(p)).alias(t) for p, t in zip(parts, temps, strict=True)])
    values = [pl.col(t) for t in temps]
    if len(values) == 1:
        joined = present = values[0]
    else:
        joined = pl.concat_str(values, separator="|")
        present = pl.concat_str(values, separator="|", ignore_nulls=True)
    work = work.with_columns(
        _kinv=pl.any_horizontal([v.str.contains(PL_INVALID_KEY_CHARS).fill_null(False) for v in values]),
        _kblank=pl.any_horizontal([v.is_null() for v in values]),
        _kjoined=joined, _kpresent=present)
    inv, blank, key = pl.col("_kinv"), pl.col("_kblank"), pl.col("_kjoined")
    state = pl.when(inv).then(pl.lit(INVALID)).when(blank).then(pl.lit(BLANK))
    if prefix is not None:
        state = state.when(key.str.starts_with(prefix)).then(pl.lit(RESERVED))
    work = work.with_columns(
        _kstate=state.otherwise(pl.lit(OK)),
        _bkey=pl.when(inv).then(pl.col("_kpresent")).when(blank).then(None).otherwise(key).cast(pl.String))
    st = pl.col("_kstate")
    empty = pl.lit([], dtype=pl.List(pl.String))
    if prefix is not None:
        effective = (pl.when(st == OK).then(pl.col("_bkey"))
                     .when(st == BLANK).then(pl.lit(prefix) + pl.col(source_key).cast(pl.String)).otherwise(None))
        flags = pl.when(st == BLANK).then(pl.lit([KEY_BLANK_FLAG], dtype=pl.List(pl.String))).otherwise(empty)
    else:
        effective = pl.when(st == OK).then(pl.col("_bkey")).otherwise(None)
        flags = empty
    work = work.with_columns(_key=effective.cast(pl.String), _key_flags=flags)
    return work.drop(temps + ["_kinv", "_kblank", "_kjoined", "_kpresent"])


def escape_invalid(frame: pl.DataFrame) -> pl.DataFrame:
    """``_bkey`` of the (rare) rows with an invalid key written in its recorded form."""
    if "_kstate" not in frame.columns:
        return frame
    mask = frame.get_column("_kstate") == INVALID
    if not mask.any():
        return frame
    idx = mask.arg_true()
    bkey = frame.get_column("_bkey")
    fixed = [printable(v) for v in bkey.gather(idx).to_list()]
    return frame.with_columns(bkey.scatter(idx, pl.Series(fixed, dtype=pl.String)))


def printable_column(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``column`` of ``frame`` in its recorded form (:func:`printable`) — for the legacy key a
    ledger record and a key snapshot name a row by: a text primary key (or a keyless table's
    key values) holding a NUL would otherwise stop the COPY of the row's own quarantine record."""
    s = frame.get_column(column)
    if s.dtype != pl.String:
        return frame
    mask = s.str.contains(PL_INVALID_KEY_CHARS).fill_null(False)
    if not mask.any():
        return frame
    idx = mask.arg_true()
    fixed = [printable(v) for v in s.gather(idx).to_list()]
    return frame.with_columns(s.scatter(idx, pl.Series(fixed, dtype=pl.String)))


__all__ = ["BLANK", "INVALID", "INVALID_KEY_CHARS", "KEY_BLANK_FLAG", "OK", "REASONS", "RESERVED",
           "effective_key", "escape_invalid", "key_flags", "key_state", "legacy_key_prefix", "printable", "printable_column", "trimmed",
           "with_key_columns"]
