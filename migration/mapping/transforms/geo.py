"""Places: grid references → points, borough text → GSS code, reference lookups.

Grid rule (TARGET-MODEL): easting/northing are British National Grid whole metres, read by
the integer grammar of :mod:`migration.mapping.transforms.text` (``521277.0`` is 521277,
flagged ``number_decimal_zero``; a fractional value such as ``521277.5`` rejects the row
``NOT_INTEGER``: the columns are declared ``int``, or hold whole metres as text).  Blank,
``0``, ``99999`` and non-numeric text → no point (flagged); a pair whose easting lies in
London's northing range and northing in its easting range is swapped back (flagged); a
point outside London's box grown by 5 km → no point (flagged).  A point is the pair
``(easting, northing)`` as floats in Python and a struct ``{x, y}`` in Polars.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from migration.mapping.transforms.base import PlPlan, Transform, ascii_upper, pl_flag_list, register
from migration.mapping.transforms.text import (
    SPACE_CLASS,
    clean,
    decimal_zero_flag,
    parse_int,
    parse_int_text,
    pl_clean,
    pl_int_text,
)
from migration.refdata import refdata_path

E_MIN, E_MAX = 503_568, 561_957
N_MIN, N_MAX = 155_851, 200_934
BUFFER = 5_000
#: whole metres by the integer grammar of :mod:`~migration.mapping.transforms.text` (up to 10 digits)
GRID_LO, GRID_HI = -9_999_999_999, 9_999_999_999
POINT_DTYPE = pl.Struct({"x": pl.Float64, "y": pl.Float64})


def _num(s: str | None) -> tuple[float | None, str, bool]:
    """(metres, status, written with a zero fraction) of one cleaned easting/northing text."""
    n, status = parse_int_text(s, GRID_LO, GRID_HI)
    if status in ("missing", "fraction"):
        return None, status, False
    if n is None:
        return None, "non_numeric", False
    if n == 0:
        return None, "zero", status == "decimal_zero"
    if n == 99999:
        return None, "sentinel", status == "decimal_zero"
    return float(n), "ok", status == "decimal_zero"


def _in_e(v: float) -> bool:
    return E_MIN - BUFFER <= v <= E_MAX + BUFFER


def _in_n(v: float) -> bool:
    return N_MIN - BUFFER <= v <= N_MAX + BUFFER


class GridParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    precision: Literal["exact", "rounded"] = Field(
        "exact", description="location_precision given to a valid point (LFB rounded grid → rounded)")


_PROBLEMS = (("missing", "grid_missing"), ("non_numeric", "grid_non_numeric"), ("zero", "grid_zero"),
             ("sentinel", "grid_99999"))
NOT_INTEGER = "NOT_INTEGER"


@lru_cache(maxsize=65536)
def _grid(es: str | None, ns: str | None, precision: str) -> tuple[Any, ...]:
    """(point, precision, flags, reject) of a cleaned easting/northing pair."""
    e, es_status, e_zero_frac = _num(es)
    n, ns_status, n_zero_frac = _num(ns)
    if "fraction" in (es_status, ns_status):
        return (None, None, (), NOT_INTEGER)
    decimal_zero: tuple[str, ...] = ("number_decimal_zero",) if (e_zero_frac or n_zero_frac) else ()
    for status, flag in _PROBLEMS:
        if status in (es_status, ns_status):
            return (None, None, (flag,) + decimal_zero, None)
    assert e is not None and n is not None
    flags: tuple[str, ...] = ()
    if not (_in_e(e) and _in_n(n)) and _in_e(n) and _in_n(e):
        e, n = n, e
        flags = ("grid_swapped",)
    if not (_in_e(e) and _in_n(n)):
        return (None, None, flags + ("grid_outside_london",) + decimal_zero, None)
    return ((e, n), precision, flags + decimal_zero, None)


def grid_point(e_text: Any, n_text: Any, precision: str = "exact") -> tuple[Any, ...]:
    """(point (easting, northing) or None, precision or None, flags, reject)."""
    return _grid(clean(e_text), clean(n_text), precision)


def pl_grid(plan: PlPlan, es: pl.Expr, ns: pl.Expr, precision: str) -> dict[str, pl.Expr]:
    """Polars form of :func:`_grid` over cleaned easting/northing text."""
    c = plan.stage(es=es, ns=ns)
    eplan, nplan = PlPlan(prefix=f"{plan.prefix}e~"), PlPlan(prefix=f"{plan.prefix}n~")
    ec, nc = pl_int_text(eplan, c.es, GRID_LO, GRID_HI), pl_int_text(nplan, c.ns, GRID_LO, GRID_HI)
    plan.stages.extend(eplan.stages + nplan.stages)

    def status(v: pl.Expr, st: pl.Expr) -> pl.Expr:
        return (pl.when(st.is_in(["missing", "fraction"])).then(st).when(v.is_null()).then(pl.lit("non_numeric"))
                .when(v == 0).then(pl.lit("zero")).when(v == 99999).then(pl.lit("sentinel"))
                .otherwise(pl.lit("ok")))

    c = plan.stage(e=ec.n.cast(pl.Float64), n=nc.n.cast(pl.Float64), se=status(ec.n, ec.status),
                   sn=status(nc.n, nc.status),
                   zero_frac=(ec.status == "decimal_zero") | (nc.status == "decimal_zero"))
    problem = pl.lit(None, dtype=pl.String)
    for status_name, flag in reversed(_PROBLEMS):
        problem = pl.when((c.se == status_name) | (c.sn == status_name)).then(pl.lit(flag)).otherwise(problem)

    def in_e(x: pl.Expr) -> pl.Expr:
        return x.is_between(E_MIN - BUFFER, E_MAX + BUFFER)

    def in_n(x: pl.Expr) -> pl.Expr:
        return x.is_between(N_MIN - BUFFER, N_MAX + BUFFER)

    rejected = (c.se == "fraction") | (c.sn == "fraction")
    c = plan.stage(e=c.e, n=c.n, problem=pl.when(~rejected).then(problem), rejected=rejected,
                   zero_frac=c.zero_frac & ~rejected)
    c = plan.stage(e=c.e, n=c.n, problem=c.problem, rejected=c.rejected, zero_frac=c.zero_frac,
                   swapped=(~c.rejected & c.problem.is_null() & ~(in_e(c.e) & in_n(c.n)) & in_e(c.n) & in_n(c.e))
                   .fill_null(False))
    c = plan.stage(problem=c.problem, swapped=c.swapped, rejected=c.rejected, zero_frac=c.zero_frac,
                   ee=pl.when(c.swapped).then(c.n).otherwise(c.e), nn=pl.when(c.swapped).then(c.e).otherwise(c.n))
    c = plan.stage(problem=c.problem, swapped=c.swapped, rejected=c.rejected, zero_frac=c.zero_frac, ee=c.ee,
                   nn=c.nn,
                   inside=(~c.rejected & c.problem.is_null() & in_e(c.ee) & in_n(c.nn)).fill_null(False))
    return {
        "value": pl.when(c.inside).then(pl.struct(x=c.ee, y=c.nn)),
        "precision": pl.when(c.inside).then(pl.lit(precision)),
        "flags": pl_flag_list([
            *[(c.problem == flag, flag) for _status, flag in _PROBLEMS],
            (c.swapped, "grid_swapped"),
            (~c.rejected & c.problem.is_null() & ~c.inside, "grid_outside_london"),
            (c.zero_frac, "number_decimal_zero"),
        ]),
        "reject": pl.when(c.rejected).then(pl.lit(NOT_INTEGER)),
    }


_GRID_SUMMARY = ("Easting and northing are whole metres (the integer grammar): '521277.0' is read, flag "
                 "number_decimal_zero; a fractional value ('521277.5') → reject NOT_INTEGER. ")


@register
class GridPoint(Transform):
    name = "grid_point"
    summary = ("Easting + northing (text or int) → Point(27700): blank/0/99999/non-numeric → NULL; "
               "swapped pair swapped back; outside London +5 km → NULL; each case flagged. " + _GRID_SUMMARY)
    inputs = ("easting", "northing")
    outputs = {"value": "point", "precision": "text", "flags": "text[]", "reject": "text"}
    params_model = GridParams

    def py(self, p: GridParams, lookups: Any, e: Any, n: Any) -> tuple[Any, ...]:
        return grid_point(e, n, p.precision)

    def pl(self, p: GridParams, lookups: Any, plan: PlPlan, e: pl.Expr, n: pl.Expr) -> dict[str, pl.Expr]:
        return pl_grid(plan, pl_clean(e), pl_clean(n), p.precision)


_TOKEN = re.compile("[^ \t\n\r\f\v\u00a0,]+")


def split_gridref(s: str | None) -> tuple[str | None, str | None, bool]:
    """'E,N' or 'E N' (any mix of commas and whitespace) → (e, n, ok)."""
    if s is None:
        return None, None, True
    parts = _TOKEN.findall(s)
    if len(parts) != 2:
        return None, None, False
    return parts[0], parts[1], True


@register
class GridRefPoint(Transform):
    name = "gridref_point"
    summary = ("LAS GridRef text 'E,N' / 'E N' / N/A → split on commas or whitespace, then as grid_point; "
               "a text that does not split in two → NULL, flag grid_non_numeric.")
    outputs = {"value": "point", "precision": "text", "flags": "text[]", "reject": "text"}
    params_model = GridParams

    def py(self, p: GridParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        e, n, ok = split_gridref(clean(value))
        if not ok:
            return (None, None, ("grid_non_numeric",), None)
        return _grid(e, n, p.precision)

    def pl(self, p: GridParams, lookups: Any, plan: PlPlan, value: pl.Expr) -> dict[str, pl.Expr]:
        s = plan.stage(s=pl_clean(value)).s
        c = plan.stage(parts=s.str.extract_all(_TOKEN.pattern))
        c = plan.stage(parts=c.parts, ok=(s.is_null() | (c.parts.list.len() == 2)).fill_null(False))
        ok, parts = c.ok, c.parts
        g = pl_grid(plan, pl.when(s.is_not_null() & ok).then(parts.list.get(0, null_on_oob=True)),
                    pl.when(s.is_not_null() & ok).then(parts.list.get(1, null_on_oob=True)), p.precision)
        return {
            "value": pl.when(ok).then(g["value"]),
            "precision": pl.when(ok).then(g["precision"]),
            "flags": pl.when(ok).then(g["flags"]).otherwise(pl.lit(["grid_non_numeric"])),
            "reject": pl.when(ok).then(g["reject"]),
        }


# --------------------------------------------------------------------------- boroughs
_PREFIXES = ("ROYAL BOROUGH OF ", "LONDON BOROUGH OF ")
_WS = re.compile(SPACE_CLASS + "+")


@lru_cache(maxsize=4096)
def normalise_borough(text: str | None) -> str | None:
    """The la_alias key of a borough text: ASCII upper case, '&' → AND, single spaces,
    'ROYAL BOROUGH OF ' / 'LONDON BOROUGH OF ' dropped, 'CITY OF WESTMINSTER' → WESTMINSTER
    (City of London is a real authority and keeps its name)."""
    s = clean(text)
    if s is None:
        return None
    s = ascii_upper(s).replace("&", " AND ")
    s = _WS.sub(" ", s).strip(" ")
    for prefix in _PREFIXES:
        if s.startswith(prefix):
            s = s[len(prefix):]
            break
    if s == "CITY OF WESTMINSTER":
        s = "WESTMINSTER"
    return s or None


def _near_misses() -> frozenset[str]:
    """Real places one slip from a borough name that are NOT that borough (refdata, with reasons)."""
    with refdata_path("borough_near_misses.csv").open(encoding="utf-8") as fh:
        return frozenset(normalise_borough(r["name"]) or "" for r in csv.DictReader(fh))


NEAR_MISSES = _near_misses()
MIN_FUZZY_LENGTH = 5


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one substitution, insertion, deletion or
    swap of two neighbouring letters (optimal string alignment distance ≤ 1)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


def resolve_alias(norm: str | None, la_alias: Any) -> tuple[str, str | None] | None:
    """(gss, flag) of a normalised borough text: an exact la_alias entry, else — the declared
    rule for misspellings — the one borough whose unflagged spellings are all within one slip
    of it (at least 5 letters, not a known near-miss place), flagged ``misspelt``."""
    if norm is None:
        return None
    exact = la_alias.get(norm)
    if exact is not None:
        return exact  # type: ignore[no-any-return]
    if len(norm) < MIN_FUZZY_LENGTH or norm in NEAR_MISSES:
        return None
    return _FuzzyIndex.of(la_alias).resolve(norm)


class _FuzzyIndex:
    """The unflagged spellings (≥ 5 letters) of one ``la_alias`` lookup by length, and the answers given
    so far: a text is compared only with spellings one letter shorter, as long or one longer (no other
    can be within one slip), once per lookup.  A lookup is loaded once per run and never changed."""

    #: id(lookup) → its index; the index holds the lookup itself, so the id cannot be reused meanwhile
    _of: dict[int, _FuzzyIndex] = {}

    def __init__(self, la_alias: Any) -> None:
        self.lookup = la_alias
        self.by_length: dict[int, list[tuple[str, str]]] = {}
        for alias, (gss, flag) in la_alias.items():
            if flag is None and len(alias) >= MIN_FUZZY_LENGTH:
                self.by_length.setdefault(len(alias), []).append((alias, gss))
        self.answers: dict[str, tuple[str, str] | None] = {}

    @classmethod
    def of(cls, la_alias: Any) -> _FuzzyIndex:
        index = cls._of.get(id(la_alias))
        if index is None or index.lookup is not la_alias:
            if len(cls._of) >= 8:
                cls._of.clear()
            index = cls._of[id(la_alias)] = cls(la_alias)
        return index

    def resolve(self, norm: str) -> tuple[str, str] | None:
        if norm in self.answers:
            return self.answers[norm]
        n = len(norm)
        found = {gss for length in (n - 1, n, n + 1) for alias, gss in self.by_length.get(length, ())
                 if within_one_edit(norm, alias)}
        answer = (found.pop(), "misspelt") if len(found) == 1 else None
        if len(self.answers) < 100_000:
            self.answers[norm] = answer
        return answer


class BoroughParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    no_location_values: list[str] = Field(
        default_factory=lambda: ["UNKNOWN"],
        description="normalised texts meaning the source has no location (loaded with a flag, not quarantined)")


@register
class BoroughGss(Transform):
    name = "borough_gss"
    summary = ("Free-text borough (+ ward code) → GSS code: normalise, look up ref.la_alias (an alias may "
               "carry a flag, e.g. Heathrow → Hillingdon flagged borough_heathrow; a text one slip from exactly "
               "one borough's spellings resolves flagged borough_misspelt); else the ward code through "
               "ref.ward (flag borough_from_ward); blank/Unknown → NULL, flag borough_missing; non-empty text "
               "resolving neither way → reject UNRESOLVED_BOROUGH.")
    inputs = ("text", "ward_code")
    outputs = {"value": "text", "flags": "text[]", "reject": "text"}
    params_model = BoroughParams
    lookups = ("la_alias", "ward")

    def py(self, p: BoroughParams, lookups: Any, text: Any, ward_code: Any) -> tuple[Any, ...]:
        norm = normalise_borough(None if text is None else str(text))
        alias = resolve_alias(norm, lookups["la_alias"])
        if alias is not None:
            gss, flag = alias
            return (gss, (f"borough_{flag}",) if flag else (), None)
        ward = clean(ward_code)
        ward_gss = lookups["ward"].get(ascii_upper(ward)) if ward is not None else None
        if ward_gss is not None:
            return (ward_gss, ("borough_from_ward",), None)
        if norm is None or norm in _normalised(tuple(p.no_location_values)):
            return (None, ("borough_missing",), None)
        return (None, (), "UNRESOLVED_BOROUGH")


@lru_cache(maxsize=256)
def _normalised(values: tuple[str, ...]) -> frozenset[str | None]:
    """Parameter values compared with normalised text are normalised the same way (a mapping
    may write ``Heathrow`` or ``Not known``)."""
    return frozenset(normalise_borough(v) for v in values)


class BoroughListParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    all_value: str = Field("ALL", description="the list value meaning all of London")
    separator: str = ","
    never_widen: list[str] = Field(default_factory=lambda: ["HEATHROW"],
                                   description="aliases reported but never granted (Heathrow is not all Hillingdon)")


@register
class BoroughList(Transform):
    name = "borough_list"
    summary = ("A comma-separated list of borough names → the distinct GSS codes (sorted), or [NULL] for 'ALL' "
               "(all London). Names in never_widen are left out and flagged borough_not_widened; names that "
               "resolve to nothing are left out and flagged borough_unmatched; a name resolved through a "
               "flagged alias (a misspelling) is granted and flagged (borough_misspelt).")
    outputs = {"value": "text[]", "flags": "text[]"}
    params_model = BoroughListParams
    lookups = ("la_alias",)

    def py(self, p: BoroughListParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        s = clean(value)
        if s is None:
            return ((), ("borough_list_empty",))
        items = [clean(x) for x in s.split(p.separator)]
        codes: set[str] = set()
        flags: list[str] = []
        all_london = False
        all_value = normalise_borough(p.all_value)
        never_widen = _normalised(tuple(p.never_widen))
        for item in items:
            if item is None:
                continue
            norm = normalise_borough(item)
            if norm == all_value:
                all_london = True
                continue
            if norm in never_widen:
                if "borough_not_widened" not in flags:
                    flags.append("borough_not_widened")
                continue
            alias = resolve_alias(norm, lookups["la_alias"])
            if alias is None:
                if "borough_unmatched" not in flags:
                    flags.append("borough_unmatched")
                continue
            if alias[1] is not None and f"borough_{alias[1]}" not in flags:
                # a grant read from a misspelling says so, like a row's borough does
                flags.append(f"borough_{alias[1]}")
            codes.add(alias[0])
        if all_london:
            return ((None,), tuple(flags))
        return (tuple(sorted(codes)), tuple(flags))


class OffenceParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scheme: str = "MPS_CRIME_TYPE"
    unknown_code: str = "UNKNOWN"


@register
class OffenceLookup(Transform):
    name = "offence_category"
    summary = ("Legacy CrimeTypeID → ref.offence_category id of the scheme ('12.0' is 12, flag "
               "number_decimal_zero); an orphan, fractional or blank id → the explicit UNKNOWN category, flag "
               "offence_unknown (never a lost row).")
    outputs = {"value": "bigint", "flags": "text[]"}
    params_model = OffenceParams
    lookups = ("offence_category",)

    def py(self, p: OffenceParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        s = clean(value)
        n = parse_int(s)
        table = lookups["offence_category"]
        found = table.get((p.scheme, str(n))) if n is not None else None
        if found is not None:
            return (found, decimal_zero_flag(s))
        return (table.get((p.scheme, p.unknown_code)), ("offence_unknown",))


class RefLookupParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    table: str = Field(description="schema.table loaded by an earlier stage (or an earlier table of this stage)")
    key: str = Field(description="its column holding the legacy id")
    column: str = Field(description="its column to return")
    reject: str | None = Field(None, description="reason code when a non-blank id is not found (else NULL + flag)")


@register
class RefLookup(Transform):
    name = "ref_lookup"
    summary = ("Look a legacy id up in a reference table loaded earlier (hospital → ODS site code, BoroughID → "
               "GSS code, OrgID → organisation); '2.0' is 2 (flag number_decimal_zero); not found (or not a whole "
               "number) → reject with the given reason, or NULL + flag ref_not_found; with a reason, a fractional "
               "id ('2.5') → reject NOT_INTEGER.")
    outputs = {"value": "text", "flags": "text[]", "reject": "text"}
    params_model = RefLookupParams
    lookups = ("ref_lookup",)

    def py(self, p: RefLookupParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        s = clean(value)
        n, status = parse_int_text(s)
        if status == "missing":
            return (None, (), None)
        if status == "fraction" and p.reject:
            return (None, (), NOT_INTEGER)
        found = None if n is None else lookups["ref_lookup"].get((p.table, p.key, p.column), {}).get(n)
        if found is not None:
            return (found, decimal_zero_flag(s), None)
        return (None, () if p.reject else ("ref_not_found",), p.reject)
