"""Text, flags, numbers, money, codes and value maps."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from migration.mapping.transforms.base import (
    ASCII_LOWER,
    ASCII_UPPER,
    TRIM_CHARS,
    NoParams,
    PlPlan,
    Transform,
    ascii_upper,
    register,
)

NO_VALUE = ("", "NULL", "N/A", "-")
_NO_VALUE_SET = frozenset(NO_VALUE)
SPACE_CLASS = "[ \t\n\r\f\v\u00a0]"
_SPACES = re.compile(SPACE_CLASS + "+")


# ---------------------------------------------------------------- control characters
#: what text cleaning removes from every text column that is not a business key: C0
#: controls (NUL …), DEL, C1 controls (U+0080–U+009F: what is left of them after the
#: Windows-1252 repair is the five bytes that code page leaves undefined) and U+FFFD (what
#: undecodable input and lone surrogates became).  Free text keeps tab, line feed and
#: carriage return.  Written with escapes both Python's ``re`` and Rust's ``regex``
#: (Polars) read the same way; Python's form also removes lone surrogates, which a Polars
#: string cannot hold (:mod:`migration.db.codec` turns them into U+FFFD).
CONTROL_CLASS = {
    "text": r"[\x00-\x1F\x7F-\x9F\uFFFD]",
    "free": r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\uFFFD]",
}
_PY_CONTROL = {kind: re.compile(cls[:-1] + r"\uD800-\uDFFF]") for kind, cls in CONTROL_CLASS.items()}
#: the data-quality flag of a row whose text lost control characters
CONTROL_FLAG = "control_chars_removed"


def remove_controls(value: str | None, kind: str = "text") -> tuple[str | None, bool]:
    """The value without control characters (``kind`` "text" or "free"), and whether that
    altered it: flagged only when the cleaned value differs from what trimming alone gives
    (a trailing tab that trimming removes anyway is no alteration)."""
    if value is None:
        return None, False
    pattern = _PY_CONTROL[kind]
    if pattern.search(value) is None:
        return value, False
    out = pattern.sub("", value)
    return out, clean(out) != clean(value)


def pl_remove_controls(e: pl.Expr, kind: str = "text") -> tuple[pl.Expr, pl.Expr]:
    """Polars form of :func:`remove_controls`: (value, flag) expressions."""
    cls = CONTROL_CLASS[kind]
    out = e.str.replace_all(cls, "")
    return out, e.str.contains(cls) & pl_clean(out).ne_missing(pl_clean(e))


def clean(value: Any) -> str | None:
    """Trim (spaces, tabs, NBSP) and turn every "no value" spelling into None.

    NULL, '', whitespace, 'NULL', 'N/A', 'n/a' and '-' (any letter case) mean no value.
    Windows-1252 has already been decoded by :mod:`migration.db.codec`."""
    if value is None:
        return None
    s = str(value).strip(TRIM_CHARS)
    if len(s) <= 4 and s.upper() in _NO_VALUE_SET:
        return None
    return s


def pl_clean(e: pl.Expr) -> pl.Expr:
    s = e.str.strip_chars(TRIM_CHARS)
    return pl.when((s.str.len_chars() <= 4) & s.str.to_uppercase().is_in(NO_VALUE)).then(None).otherwise(s)


def clean_text_value(value: Any, case: str = "keep", collapse: bool = False) -> str | None:
    s = clean(value)
    if s is None:
        return None
    if collapse:
        s = _SPACES.sub(" ", s)
    if case == "upper":
        s = ascii_upper(s)
    return s


def pl_ascii_upper(e: pl.Expr) -> pl.Expr:
    """Polars form of :func:`ascii_upper`: a-z → A-Z, every other character unchanged.

    Not ``str.to_uppercase()``: Rust's Unicode tables are newer than Python's (U+A7CD has an
    upper case in one and not in the other), and 'ß' → 'SS' would change lengths of codes."""
    return e.str.replace_many(list(ASCII_LOWER), list(ASCII_UPPER))


class CleanTextParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    case: Literal["keep", "upper"] = Field("keep", description="upper: ASCII letters a-z only")
    collapse_spaces: bool = False


@register
class CleanText(Transform):
    name = "clean_text"
    summary = ("Trim (spaces, tabs, NBSP) and map NULL/''/'NULL'/'N/A'/'n/a'/'-' to NULL; optionally "
               "upper-case the ASCII letters (codes, keys; other letters unchanged) and collapse inner "
               "whitespace to one space.")
    params_model = CleanTextParams

    def py(self, p: CleanTextParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        return (clean_text_value(value, p.case, p.collapse_spaces),)

    def pl(self, p: CleanTextParams, lookups: Any, plan: PlPlan, value: pl.Expr) -> dict[str, pl.Expr]:
        e = pl_clean(value)
        if p.collapse_spaces:
            e = e.str.replace_all(SPACE_CLASS + "+", " ")
        if p.case == "upper":
            e = pl_ascii_upper(e)
        return {"value": e}


class MapParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    values: dict[str, str | None]
    default: str | None = None
    keep_unmapped: bool = Field(False, description="unmapped non-null values pass through (cleaned)")
    ignore_case: bool = True


@register
class MapValues(Transform):
    name = "map"
    summary = "Map cleaned values through a fixed table (ASCII case-insensitive by default); unmapped → default."
    params_model = MapParams

    def py(self, p: MapParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        s = clean(value)
        if s is None:
            return (p.default,)
        k = ascii_upper(s) if p.ignore_case else s
        table = {(ascii_upper(key) if p.ignore_case else key): v for key, v in p.values.items()}
        if k in table:
            return (table[k],)
        return (s if p.keep_unmapped else p.default,)


#: The integer grammar (after trimming): an optional ``-``, 1–10 ASCII digits, optionally a
#: ``.`` and more digits.  A fractional part of zeros only (``521277.0``, ``521277.00``: how a
#: float or a spreadsheet writes a whole number) is read as the whole number and flagged
#: ``number_decimal_zero``; any other fractional part (``521277.5``) is not an integer — where
#: an integer is declared the row is quarantined ``NOT_INTEGER`` (transform ``int`` with
#: ``reject: NOT_INTEGER``, ``grid_point``).  No ``+``, exponents, thousands separators or
#: non-ASCII digits.
INT_PATTERN = r"^(-?[0-9]{1,10})(\.[0-9]+)?$"
_INT = re.compile(INT_PATTERN)
#: a fractional part that is not all zeros
NONZERO_FRACTION = "[1-9]"


def parse_int_text(s: str | None, lo: int = -2147483648, hi: int = 2147483647) -> tuple[int | None, str]:
    """(value, status) of a cleaned text by the integer grammar: status ``ok``, ``decimal_zero``
    (read, flag ``number_decimal_zero``), ``fraction`` (not an integer: ``NOT_INTEGER``),
    ``missing`` (None), or ``not_integer`` (not a number of the grammar, or outside [lo, hi])."""
    if s is None:
        return None, "missing"
    m = _INT.match(s)
    if m is None:
        return None, "not_integer"
    frac = m[2]
    if frac is not None and _NONZERO.search(frac):
        return None, "fraction"
    n = int(m[1])
    if not lo <= n <= hi:
        return None, "not_integer"
    return n, ("ok" if frac is None else "decimal_zero")


_NONZERO = re.compile(NONZERO_FRACTION)


def parse_int(s: str | None, lo: int = -2147483648, hi: int = 2147483647) -> int | None:
    """A cleaned text as a whole number within [lo, hi] by the integer grammar, or None."""
    return parse_int_text(s, lo, hi)[0]


def decimal_zero_flag(s: str | None) -> tuple[str, ...]:
    """``("number_decimal_zero",)`` when a cleaned text is a whole number written with a zero
    fraction (``12.0``), else ``()`` — for transforms that read legacy ids by this grammar."""
    return ("number_decimal_zero",) if parse_int_text(s, -(10**10), 10**10)[1] == "decimal_zero" else ()


def pl_int_text(plan: PlPlan, s: pl.Expr, lo: int, hi: int) -> Any:
    """Polars form of :func:`parse_int_text` over cleaned text: staged columns ``n`` (Int64 or
    null) and ``status``.  Give it a plan of its own (stage names are fixed).

    No capture groups (twice the cost): the grammar's shape by one regex; a zero fraction is
    a text that ends in ``.`` once its trailing zeros are stripped; up to 10 digits, the whole
    number is exact through Float64."""
    c = plan.stage(shape=s.str.contains(INT_PATTERN), dot=s.str.contains(".", literal=True),
                   zero_frac=s.str.strip_chars_end("0").str.ends_with("."), v=s.cast(pl.Float64, strict=False),
                   missing=s.is_null())
    c = plan.stage(fraction=(c.shape & c.dot & ~c.zero_frac).fill_null(False), shape=c.shape, v=c.v, dot=c.dot,
                   missing=c.missing)
    c = plan.stage(n=pl.when(c.shape & ~c.fraction & c.v.is_between(lo, hi)).then(c.v.cast(pl.Int64)),
                   fraction=c.fraction, dot=c.dot, missing=c.missing)
    return plan.stage(
        n=c.n,
        status=(pl.when(c.missing).then(pl.lit("missing"))
                .when(c.fraction).then(pl.lit("fraction"))
                .when(c.n.is_null()).then(pl.lit("not_integer"))
                .when(c.dot).then(pl.lit("decimal_zero"))
                .otherwise(pl.lit("ok"))))


class IntParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: int = -2147483648
    max: int = 2147483647
    reject: Literal["NOT_INTEGER"] | None = Field(
        None, description="NOT_INTEGER: a number with a fractional part (521277.5) rejects the row, to be "
                          "quarantined (set it where the legacy column is declared an integer); unset: NULL, "
                          "flag not_integer")


@register
class IntValue(Transform):
    name = "int"
    summary = ("Whole number from text within [min, max] (default 32-bit). '521277.0' (a zero fractional part) → "
               "521277, flag number_decimal_zero; a fractional value ('521277.5') → reject NOT_INTEGER when "
               "`reject: NOT_INTEGER` is set, else NULL, flag not_integer; anything else (text, out of range) → "
               "NULL, flag not_integer.")
    outputs = {"value": "bigint", "flags": "text[]", "reject": "text"}
    params_model = IntParams

    def py(self, p: IntParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        n, status = parse_int_text(clean(value), p.min, p.max)
        if status == "fraction" and p.reject is not None:
            return (None, (), p.reject)
        return (n, _INT_FLAGS.get(status, ()), None)

    def pl(self, p: IntParams, lookups: Any, plan: PlPlan, value: pl.Expr) -> dict[str, pl.Expr]:
        sub = PlPlan(prefix=f"{plan.prefix}i~")
        c = pl_int_text(sub, pl_clean(value), p.min, p.max)
        plan.stages.extend(sub.stages)
        rejected = (c.status == "fraction") if p.reject is not None else pl.lit(False)
        return {"value": c.n,
                "flags": pl.when(rejected).then(pl.lit([], dtype=pl.List(pl.String)))
                .when(c.status.is_in(["not_integer", "fraction"])).then(pl.lit(["not_integer"]))
                .when(c.status == "decimal_zero").then(pl.lit(["number_decimal_zero"]))
                .otherwise(pl.lit([], dtype=pl.List(pl.String))),
                "reject": pl.when(rejected).then(pl.lit(p.reject, dtype=pl.String))}


_INT_FLAGS = {"not_integer": ("not_integer",), "fraction": ("not_integer",), "decimal_zero": ("number_decimal_zero",)}


TRUE_VALUES = ("Y", "1", "T", "TRUE", "YES")
FALSE_VALUES = ("N", "0", "F", "FALSE", "NO")
UNKNOWN_VALUES = ("U",)


@lru_cache(maxsize=256)
def _flag(s: str | None) -> tuple[Any, ...]:
    if s is None:
        return (None, ())
    u = ascii_upper(s)
    if u in TRUE_VALUES:
        return (True, ())
    if u in FALSE_VALUES:
        return (False, ())
    if u in UNKNOWN_VALUES:
        return (None, ())
    return (None, ("flag_unrecognised",))


@register
class FlagBool(Transform):
    name = "flag"
    summary = ("Legacy flag → boolean: Y/1/T true, N/0/F false, U/''/NULL → NULL; "
               "anything else → NULL with the flag flag_unrecognised.")
    outputs = {"value": "boolean", "flags": "text[]"}

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        return _flag(clean(value))


MONEY_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$"
_MONEY = re.compile(MONEY_PATTERN)


@register
class Money(Transform):
    name = "money"
    summary = ("Exact money (SQL Server money: 4 decimal places) → numeric(19,4), never through a float; "
               "malformed → reject MALFORMED_MONEY.")
    outputs = {"value": "numeric(19,4)", "reject": "text"}

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        s = clean(value)
        if s is None:
            return (None, None)
        if not _MONEY.match(s):
            return (None, "MALFORMED_MONEY")
        try:
            return (Decimal(s).quantize(Decimal("0.0001")), None)
        except InvalidOperation:  # pragma: no cover - excluded by the pattern
            return (None, "MALFORMED_MONEY")

    def pl(self, p: NoParams, lookups: Any, plan: PlPlan, value: pl.Expr) -> dict[str, pl.Expr]:
        c = plan.stage(s=pl_clean(value))
        s = c.s
        ok = plan.stage(ok=s.str.contains(MONEY_PATTERN)).ok
        return {"value": pl.when(ok).then(s.cast(pl.Decimal(19, 4), strict=False)),
                "reject": pl.when(s.is_not_null() & ~ok).then(pl.lit("MALFORMED_MONEY"))}


def pad_code(s: str | None, width: int) -> str | None:
    if s is None:
        return None
    if len(s) < width and s.isascii() and s.isdigit():
        return s.rjust(width, "0")
    return s


class PadParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    width: int = Field(2, ge=1, le=10)


@register
class ZeroPad(Transform):
    name = "zero_pad"
    summary = "Left-pad an all-digit code with zeros to a width (ISTV '1' → '01'); other text unchanged."
    params_model = PadParams

    def py(self, p: PadParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        return (pad_code(clean(value), p.width),)


class CodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code_system: str
    width: int = Field(2, ge=1, le=10)


@register
class CodeLookup(Transform):
    name = "code_value"
    summary = ("Zero-pad a code and look it up in ref.code_value for one code system: found → the code; "
               "blank → NULL; not in the list → reject UNKNOWN_CODE.")
    outputs = {"value": "text", "reject": "text"}
    params_model = CodeParams
    lookups = ("code_value",)

    def py(self, p: CodeParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        c = pad_code(clean(value), p.width)
        if c is None:
            return (None, None)
        if (p.code_system, c) in lookups["code_value"]:
            return (c, None)
        return (None, "UNKNOWN_CODE")


class SplitParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    separator: str = Field(",", min_length=1)


@register
class SplitList(Transform):
    name = "split_list"
    summary = "Split a delimited list into cleaned items (blank items dropped), keeping their order."
    outputs = {"value": "text[]"}
    params_model = SplitParams

    def py(self, p: SplitParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        s = clean(value)
        if s is None:
            return ((),)
        items = (clean(part) for part in s.split(p.separator))
        return (tuple(i for i in items if i is not None),)
