"""Small transforms the SafeStats mapping set needs beyond the core library.

Each is a pure Python reference (``py``); the few whose inputs vary row by row on the big
fact tables (points, timestamps) also have a Polars form (``pl``) that the differential
tests hold equal to ``py``.  The rest run over the distinct inputs of a chunk (borough
ids, flags, codes: a handful of values among millions of rows).

- ``coalesce``             first non-blank of two texts; optional reject when both are set and differ
- ``flag_default``         a legacy flag for a NOT NULL boolean: blank/U/unrecognised → the declared default
- ``offence_parent``       normalised category text → id of the seeded/loaded parent category
- ``differs``              flag when two values that should agree do not (stale copies, denormalised columns)
- ``after``                flag when one instant is later than another (ISTV assault after arrival)
- ``present``              a fixed text (and optional flag) depending on whether a value is present
- ``flag_map``             a flag raised by listed values (batch status FAILED → batch_failed)
- ``code_key``             the canonical code of a code list entry (zero-padded for the systems that pad)
- ``user_datasets``        the datasets a legacy user may see (CanSeeISTV adds ISTV)
- ``location_precision``   precision of the finest location a row holds (point, else borough, else none)
- ``borough_gss_text``     ``borough_gss`` for tables with no ward code column
- ``borough_id_gss``       a legacy BoroughID (already looked up) with the pseudo-areas 34/99 made explicit
- ``istv_geo``             ISTV GeoLevel → location precision, area and whether the point is kept
- ``point_if``             keep a point only where a boolean says so
- ``grid_point_fallback``  exact grid pair, else a fallback pair (LFB exact / 50 m rounded)
"""

from __future__ import annotations

import re
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from migration.mapping.transforms.base import NoParams, PlPlan, Transform, ascii_upper, register
from migration.mapping.transforms.geo import BoroughGss, BoroughParams, _grid, pl_grid
from migration.mapping.transforms.text import (
    FALSE_VALUES,
    SPACE_CLASS,
    TRUE_VALUES,
    clean,
    decimal_zero_flag,
    pad_code,
    parse_int,
    pl_clean,
)

_EMPTY_FLAGS = pl.lit([], dtype=pl.List(pl.String))


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _text(value: Any) -> str | None:
    """A value of any type as cleaned text (booleans as true/false, like conditions)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return clean(value)


def _truth(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    s = clean(value)
    if s is None:
        return None
    u = ascii_upper(s)
    if u in TRUE_VALUES:
        return True
    if u in FALSE_VALUES:
        return False
    return None


# ------------------------------------------------------------------------- coalesce
class CoalesceParams(_Params):
    conflict: str | None = Field(
        None, description="reason code when both inputs are set and differ (else the first wins silently)")
    ignore_case: bool = Field(True, description="compare ASCII case-insensitively")


@register
class Coalesce(Transform):
    name = "coalesce"
    summary = ("First non-blank of two texts (cleaned). With `conflict`, two set values that differ reject the "
               "row with that reason instead of one silently winning.")
    inputs = ("first", "second")
    outputs = {"value": "text", "reject": "text"}
    params_model = CoalesceParams

    def py(self, p: CoalesceParams, lookups: Any, first: Any, second: Any) -> tuple[Any, ...]:
        a, b = _text(first), _text(second)
        if a is not None and b is not None and p.conflict:
            same = ascii_upper(a) == ascii_upper(b) if p.ignore_case else a == b
            if not same:
                return (None, p.conflict)
        return (a if a is not None else b, None)


# --------------------------------------------------------------------- flag_default
class FlagDefaultParams(_Params):
    default: bool = Field(description="value when the legacy flag is blank, U or unrecognised")


@register
class FlagDefault(Transform):
    name = "flag_default"
    summary = ("Legacy flag → boolean for a NOT NULL column: Y/1/T true, N/0/F false; blank, U or anything else → "
               "the declared default, flagged flag_defaulted (and flag_unrecognised for text that is no flag).")
    outputs = {"value": "boolean", "flags": "text[]"}
    params_model = FlagDefaultParams

    def py(self, p: FlagDefaultParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        if isinstance(value, bool):
            return (value, ())
        s = clean(value)
        if s is None:
            return (p.default, ("flag_defaulted",))
        u = ascii_upper(s)
        if u in TRUE_VALUES:
            return (True, ())
        if u in FALSE_VALUES:
            return (False, ())
        if u == "U":
            return (p.default, ("flag_defaulted",))
        return (p.default, ("flag_unrecognised", "flag_defaulted"))


# ------------------------------------------------------------------- offence_parent
class OffenceParentParams(_Params):
    scheme: str = Field(description="scheme of the parent categories (e.g. MPS_MAJOR_CATEGORY)")
    aliases: dict[str, str] = Field(
        default_factory=dict,
        description="normalised variant spelling → the code it stands for (e.g. FRAUD AND FORGERY → FRAUD OR FORGERY)")


_CATEGORY_WS = re.compile(SPACE_CLASS + "+")


def category_code(value: Any) -> str | None:
    """The code of a category text: cleaned, ASCII upper case, '&' → AND, single spaces
    (the form the parent categories are seeded with)."""
    s = clean(value)
    if s is None:
        return None
    s = _CATEGORY_WS.sub(" ", ascii_upper(s).replace("&", " AND ")).strip(" ")
    return s or None


@register
class OffenceParent(Transform):
    name = "offence_parent"
    summary = ("Category text (e.g. MPS MajorCat) → ref.offence_category id of (scheme, normalised text: upper "
               "case, & → AND, single spaces; declared aliases applied); blank → NULL; unknown text → NULL, flag "
               "offence_major_unknown.")
    outputs = {"value": "bigint", "flags": "text[]"}
    params_model = OffenceParentParams
    lookups = ("offence_category",)

    def py(self, p: OffenceParentParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        code = category_code(value)
        if code is None:
            return (None, ())
        aliases = {category_code(k): category_code(v) for k, v in p.aliases.items()}
        code = aliases.get(code, code)
        found = lookups["offence_category"].get((p.scheme, code))
        if found is None:
            return (None, ("offence_major_unknown",))
        return (found, ())


# -------------------------------------------------------------------------- differs
class DiffersParams(_Params):
    flag: str = Field(description="flag raised when both values are set and differ")
    ignore_case: bool = True


@register
class Differs(Transform):
    name = "differs"
    summary = ("Compare two values as cleaned text: true and the given flag when both are set and differ, "
               "false when equal, NULL when either is blank (nothing to compare).")
    inputs = ("value", "reference")
    outputs = {"value": "boolean", "flags": "text[]"}
    params_model = DiffersParams

    def py(self, p: DiffersParams, lookups: Any, value: Any, reference: Any) -> tuple[Any, ...]:
        a, b = _text(value), _text(reference)
        if a is None or b is None:
            return (None, ())
        differ = ascii_upper(a) != ascii_upper(b) if p.ignore_case else a != b
        return (differ, (p.flag,) if differ else ())


# ---------------------------------------------------------------------------- after
class FlagParams(_Params):
    flag: str


@register
class After(Transform):
    name = "after"
    summary = "Two instants: true and the given flag when the first is later than the second; NULL if either is NULL."
    inputs = ("instant", "reference")
    outputs = {"value": "boolean", "flags": "text[]"}
    params_model = FlagParams

    def py(self, p: FlagParams, lookups: Any, instant: Any, reference: Any) -> tuple[Any, ...]:
        if instant is None or reference is None:
            return (None, ())
        later = instant > reference
        return (later, (p.flag,) if later else ())

    def pl(self, p: FlagParams, lookups: Any, plan: PlPlan, instant: pl.Expr, reference: pl.Expr) -> dict[str, pl.Expr]:
        later = plan.stage(later=instant > reference).later
        return {"value": later,
                "flags": pl.when(later.fill_null(False)).then(pl.lit([p.flag])).otherwise(_EMPTY_FLAGS)}


# -------------------------------------------------------------------------- present
class PresentParams(_Params):
    if_present: str | None = Field(None, description="value when the input is set")
    if_absent: str | None = Field(None, description="value when the input is NULL or blank")
    present_flag: str | None = None
    absent_flag: str | None = None


@register
class Present(Transform):
    name = "present"
    summary = ("Whether a value is set (NULL and blank/no-value text are not): a fixed text for each case, and "
               "an optional flag for each (e.g. precision 'second' or 'none' of a legacy datetime).")
    outputs = {"value": "text", "flags": "text[]"}
    params_model = PresentParams

    def py(self, p: PresentParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        is_set = _text(value) is not None
        flag = p.present_flag if is_set else p.absent_flag
        return (p.if_present if is_set else p.if_absent, (flag,) if flag else ())

    def pl(self, p: PresentParams, lookups: Any, plan: PlPlan, value: pl.Expr) -> dict[str, pl.Expr]:
        # text inputs count as set only when they are not a no-value spelling
        is_set = plan.stage(s=_pl_is_set(value)).s

        def pick(text: str | None) -> pl.Expr:
            return pl.lit(text, dtype=pl.String)

        def flag(name: str | None) -> pl.Expr:
            return pl.lit([name]) if name else _EMPTY_FLAGS

        return {"value": pl.when(is_set).then(pick(p.if_present)).otherwise(pick(p.if_absent)),
                "flags": pl.when(is_set).then(flag(p.present_flag)).otherwise(flag(p.absent_flag))}


def _pl_is_set(v: pl.Expr) -> pl.Expr:
    """Non-null, and for text not a no-value spelling (the same rule as ``clean``)."""
    as_text = v.cast(pl.String, strict=False)
    return (v.is_not_null() & pl_clean(as_text).is_not_null()).fill_null(False)


# ------------------------------------------------------------------------- flag_map
class FlagMapParams(_Params):
    values: dict[str, str] = Field(default_factory=dict,
                                   description="value → the flag it raises (ASCII case-insensitive)")


@register
class FlagMap(Transform):
    name = "flag_map"
    summary = ("Raise a data-quality flag for listed values (e.g. batch status FAILED → batch_failed): the flag "
               "is both the value and the only item of flags; other values raise nothing.")
    outputs = {"value": "text", "flags": "text[]"}
    params_model = FlagMapParams

    def py(self, p: FlagMapParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        s = _text(value)
        if s is None:
            return (None, ())
        flag = {ascii_upper(k): v for k, v in p.values.items()}.get(ascii_upper(s))
        return (flag, (flag,) if flag else ())


# ------------------------------------------------------------------------- code_key
class CodeKeyParams(_Params):
    widths: dict[str, int] = Field(description="code system → width its all-digit codes are zero-padded to")


@register
class CodeKey(Transform):
    name = "code_key"
    summary = ("The canonical code of a code-list row: cleaned; zero-padded to the width declared for its code "
               "system (ISTV '1' → '01'), unchanged for the systems not listed.")
    inputs = ("code_system", "code")
    outputs = {"value": "text"}
    params_model = CodeKeyParams

    def py(self, p: CodeKeyParams, lookups: Any, code_system: Any, code: Any) -> tuple[Any, ...]:
        c = clean(code)
        system = clean(code_system)
        width = p.widths.get(ascii_upper(system)) if system is not None else None
        return (pad_code(c, width) if width else c,)


# -------------------------------------------------------------------- user_datasets
class UserDatasetsParams(_Params):
    always: list[str] = Field(description="datasets every user with a grant may see")
    when_true: list[str] = Field(description="datasets added when the input flag is true")


@register
class UserDatasets(Transform):
    name = "user_datasets"
    summary = "A legacy permission flag → the list of datasets a user is granted (always + when_true if the flag is true)."
    outputs = {"value": "text[]"}
    params_model = UserDatasetsParams

    def py(self, p: UserDatasetsParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        extra = p.when_true if _truth(value) is True else []
        return (tuple(p.always) + tuple(extra),)


# --------------------------------------------------------------- location_precision
@register
class LocationPrecision(Transform):
    name = "location_precision"
    summary = ("core.incident.location_precision of the finest location a row holds: the point's own precision "
               "when there is a point, else 'borough' when there is a GSS code, else 'none'.")
    inputs = ("point_precision", "gss_code")
    outputs = {"value": "text"}

    def py(self, p: NoParams, lookups: Any, point_precision: Any, gss_code: Any) -> tuple[Any, ...]:
        pp = clean(point_precision)
        if pp is not None:
            return (pp,)
        return ("borough" if clean(gss_code) is not None else "none",)


# ----------------------------------------------------------------- borough_gss_text
@register
class BoroughGssText(Transform):
    name = "borough_gss_text"
    summary = ("borough_gss for a table without a ward code: normalise, look up ref.la_alias (alias flags such "
               "as borough_heathrow); blank/no-location text → NULL, flag borough_missing; other text → reject "
               "UNRESOLVED_BOROUGH.")
    outputs = {"value": "text", "flags": "text[]", "reject": "text"}
    params_model = BoroughParams
    lookups = ("la_alias",)
    _inner = BoroughGss()

    def py(self, p: BoroughParams, lookups: Any, text: Any) -> tuple[Any, ...]:
        # no ward code: the ward fallback of borough_gss is never consulted
        return self._inner.py(p, lookups, text, None)


# ------------------------------------------------------------------- borough_id_gss
class PseudoArea(_Params):
    gss: str | None = Field(None, description="GSS code the pseudo-area stands for, or null for no location")
    flag: str = Field(description="flag suffix (raised as borough_<flag>)")


class BoroughIdParams(_Params):
    pseudo: dict[str, PseudoArea] = Field(
        default_factory=dict, description="legacy BoroughID → what the pseudo-area means (34 Heathrow, 99 Unknown)")


def borough_from_id(pseudo: dict[str, PseudoArea], borough_id: Any, found_gss: Any) -> tuple[Any, ...]:
    """(gss, flags, reject) of a legacy BoroughID whose GSS code ref_lookup found (or not)."""
    found = clean(found_gss)
    raw = clean(borough_id)
    if found is not None:
        return (found, decimal_zero_flag(raw), None)
    if raw is None:
        return (None, ("borough_missing",), None)
    n = parse_int(raw)
    area = pseudo.get(str(n)) if n is not None else None
    if area is not None:
        return (area.gss, (f"borough_{area.flag}",) + decimal_zero_flag(raw), None)
    return (None, (), "UNRESOLVED_BOROUGH")


@register
class BoroughIdGss(Transform):
    name = "borough_id_gss"
    summary = ("A legacy BoroughID and its GSS code found by ref_lookup → the GSS code. Found → it; blank id → "
               "NULL, flag borough_missing; a declared pseudo-area id → its GSS (or NULL) and flag borough_<flag>; "
               "any other id → reject UNRESOLVED_BOROUGH.")
    inputs = ("borough_id", "found_gss")
    outputs = {"value": "text", "flags": "text[]", "reject": "text"}
    params_model = BoroughIdParams

    def py(self, p: BoroughIdParams, lookups: Any, borough_id: Any, found_gss: Any) -> tuple[Any, ...]:
        return borough_from_id(p.pseudo, borough_id, found_gss)


# ------------------------------------------------------------------------- istv_geo
class IstvGeoParams(BoroughIdParams):
    levels: dict[str, str] = Field(description="GeoLevel → location_precision of a point geocoded at that level")
    none_levels: list[str] = Field(description="GeoLevel values meaning the record has no location (9)")


@register
class IstvGeo(Transform):
    name = "istv_geo"
    summary = ("ISTV GeoLevel, point precision, BoroughID and its looked-up GSS code → location precision, GSS "
               "code and whether the point is kept.  No-location level (9) or NULL → precision none, no area, no "
               "point (flag geo_level_none / geo_level_missing, grid_discarded if a valid point was given), never "
               "rejected; an unlisted level → reject UNKNOWN_GEO_LEVEL; otherwise the borough as borough_id_gss "
               "(pseudo-areas, borough flags, reject UNRESOLVED_BOROUGH) and the level's precision when the point "
               "is valid, else borough (with a GSS code) or none.")
    inputs = ("geo_level", "point_precision", "borough_id", "found_gss")
    outputs = {"value": "text", "gss": "text", "keep_point": "boolean", "flags": "text[]", "reject": "text"}
    params_model = IstvGeoParams

    def py(self, p: IstvGeoParams, lookups: Any, geo_level: Any, point_precision: Any, borough_id: Any,
           found_gss: Any) -> tuple[Any, ...]:
        raw = clean(geo_level)
        level = parse_int(raw, 0, 255)
        has_point = clean(point_precision) is not None
        if raw is None or (level is not None and str(level) in p.none_levels):
            flags = ("geo_level_missing",) if raw is None else ("geo_level_none",)
            return ("none", None, False, flags + (("grid_discarded",) if has_point else ()), None)
        if level is None or str(level) not in p.levels:
            return (None, None, False, (), "UNKNOWN_GEO_LEVEL")
        gss, flags, reject = borough_from_id(p.pseudo, borough_id, found_gss)
        if reject is not None:
            return (None, None, False, flags, reject)
        if "number_decimal_zero" not in flags:
            flags += decimal_zero_flag(raw)
        if has_point:
            precision = p.levels[str(level)]
        else:
            precision = "borough" if gss is not None else "none"
        return (precision, gss, True, flags, None)


# ------------------------------------------------------------------------- point_if
@register
class PointIf(Transform):
    name = "point_if"
    summary = "A point, kept only where the boolean is true (NULL otherwise)."
    inputs = ("point", "keep")
    outputs = {"value": "point"}

    def py(self, p: NoParams, lookups: Any, point: Any, keep: Any) -> tuple[Any, ...]:
        return (point if keep is True else None,)

    def pl(self, p: NoParams, lookups: Any, plan: PlPlan, point: pl.Expr, keep: pl.Expr) -> dict[str, pl.Expr]:
        return {"value": pl.when(keep.fill_null(False)).then(point)}


# -------------------------------------------------------------- grid_point_fallback
class GridFallbackParams(_Params):
    precision: Literal["exact", "rounded"] = "exact"
    fallback_precision: Literal["exact", "rounded"] = "rounded"


def _drop_missing(flags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f for f in flags if f != "grid_missing")


@register
class GridPointFallback(Transform):
    name = "grid_point_fallback"
    summary = ("Two grid pairs: the first when it gives a valid point (its precision), else the second (its "
               "precision). The first pair's problems are kept as flags, except its absence (grid_missing), "
               "which is expected (LFB withholds exact points of dwellings). A fractional value in either pair "
               "('521277.5': the columns are whole metres) → reject NOT_INTEGER.")
    inputs = ("easting", "northing", "easting_fallback", "northing_fallback")
    outputs = {"value": "point", "precision": "text", "flags": "text[]", "reject": "text"}
    params_model = GridFallbackParams

    def py(self, p: GridFallbackParams, lookups: Any, e: Any, n: Any, e2: Any, n2: Any) -> tuple[Any, ...]:
        pv, pp, pf, pr = _grid(clean(e), clean(n), p.precision)
        sv, sp, sf, sr = _grid(clean(e2), clean(n2), p.fallback_precision)
        if pr is not None or sr is not None:
            return (None, None, (), pr or sr)
        if pv is not None:
            return (pv, pp, pf, None)
        return (sv, sp, _drop_missing(pf) + sf, None)

    def pl(self, p: GridFallbackParams, lookups: Any, plan: PlPlan, e: pl.Expr, n: pl.Expr, e2: pl.Expr,
           n2: pl.Expr) -> dict[str, pl.Expr]:
        first = PlPlan(prefix=f"{plan.prefix}a~")
        prim = pl_grid(first, pl_clean(e), pl_clean(n), p.precision)
        second = PlPlan(prefix=f"{plan.prefix}b~")
        sec = pl_grid(second, pl_clean(e2), pl_clean(n2), p.fallback_precision)
        plan.stages.extend(first.stages)
        plan.stages.extend(second.stages)
        c = plan.stage(pv=prim["value"], pp=prim["precision"], pf=prim["flags"],
                       sv=sec["value"], sp=sec["precision"], sf=sec["flags"],
                       reject=pl.coalesce(prim["reject"], sec["reject"]))
        use_first = c.pv.is_not_null()
        kept = c.pf.list.eval(pl.element().filter(pl.element() != "grid_missing"))
        ok = c.reject.is_null()
        return {"value": pl.when(ok).then(pl.when(use_first).then(c.pv).otherwise(c.sv)),
                "precision": pl.when(ok).then(pl.when(use_first).then(c.pp).otherwise(c.sp)),
                "flags": pl.when(~ok).then(_EMPTY_FLAGS).when(use_first).then(c.pf)
                .otherwise(pl.concat_list([kept, c.sf])),
                "reject": c.reject}
