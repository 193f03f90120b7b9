"""The transforms of migration/mapping/transforms/extra.py: their Python references case by
case, the Polars forms held equal to the references on hostile inputs, and no reference
ever raising."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migration.mapping import transforms
from migration.mapping.transforms import extra
from migration.mapping.transforms.base import PlPlan
from migration.steps.engine import PL_TYPES, to_python_value

EXTRA = ["coalesce", "flag_default", "offence_parent", "differs", "after", "present", "flag_map", "code_key",
         "user_datasets",
         "location_precision", "borough_gss_text", "borough_id_gss", "istv_geo", "point_if", "grid_point_fallback"]

LOOKUPS: dict[str, Any] = {
    "la_alias": {"CAMDEN": ("E09000007", None), "HEATHROW": ("E09000017", "heathrow"),
                 "KENSINGTON AND CHELSEA": ("E09000020", None)},
    "ward": {"E05013652": "E09000007"},
    "offence_category": {("MPS_MAJOR_CATEGORY", "THEFT AND HANDLING"): 3, ("MPS_MAJOR_CATEGORY", "FRAUD OR FORGERY"): 4},
    "code_value": set(),
    "ref_lookup": {},
}


def py(name: str, params: dict[str, Any] | None, *args: Any) -> tuple[Any, ...]:
    t = transforms.get(name)
    return t.py(t.parse_params(params or {}), LOOKUPS, *args)


def pl_eval(name: str, params: dict[str, Any] | None, frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """Apply a transform's Polars form to the frame's columns (in order), as the engine does."""
    t = transforms.get(name)
    plan = PlPlan(prefix="t~")
    native = t.pl(t.parse_params(params or {}), LOOKUPS, plan, *[pl.col(c) for c in frame.columns])
    assert native is not None
    df = frame
    for stage in plan.stages:
        df = df.with_columns([e.alias(n) for n, e in stage.items()])
    df = df.select([native[o].cast(PL_TYPES[typ]).alias(o) for o, typ in t.outputs.items()])
    return [tuple(to_python_value(r[o], typ) for o, typ in t.outputs.items()) for r in df.to_dicts()]


def test_all_registered_with_typed_outputs() -> None:
    for name in EXTRA:
        t = transforms.get(name)
        assert list(t.outputs)[0] == "value", name
        assert not t.python_only


# ------------------------------------------------------------------ references, case by case
def test_coalesce() -> None:
    assert py("coalesce", {}, " a ", "b") == ("a", None)
    assert py("coalesce", {}, "N/A", " b") == ("b", None)
    assert py("coalesce", {}, None, None) == (None, None)
    assert py("coalesce", {"conflict": "X"}, "a", "A") == ("a", None)
    assert py("coalesce", {"conflict": "X", "ignore_case": False}, "a", "A") == (None, "X")
    assert py("coalesce", {"conflict": "X"}, "a", "b") == (None, "X")
    assert py("coalesce", {"conflict": "X"}, None, "b") == ("b", None)


@pytest.mark.parametrize(("value", "expected"), [
    ("Y", (True, ())), ("1", (True, ())), ("t", (True, ())), (True, (True, ())),
    ("N", (False, ())), ("0", (False, ())), (False, (False, ())),
    ("U", (True, ("flag_defaulted",))), ("", (True, ("flag_defaulted",))), (None, (True, ("flag_defaulted",))),
    ("x", (True, ("flag_unrecognised", "flag_defaulted"))),
])
def test_flag_default(value: Any, expected: tuple[Any, ...]) -> None:
    assert py("flag_default", {"default": True}, value) == expected


def test_offence_parent() -> None:
    p = {"scheme": "MPS_MAJOR_CATEGORY", "aliases": {"Fraud and Forgery": "Fraud or Forgery"}}
    assert py("offence_parent", p, "Theft & Handling") == (3, ())
    assert py("offence_parent", p, " theft  and\u00a0handling ") == (3, ())
    assert py("offence_parent", p, "Fraud & Forgery") == (4, ())
    assert py("offence_parent", p, "N/A") == (None, ())
    assert py("offence_parent", p, "Burglary") == (None, ("offence_major_unknown",))
    assert extra.category_code("Violence  against the\tperson") == "VIOLENCE AGAINST THE PERSON"


def test_differs() -> None:
    p = {"flag": "stale"}
    assert py("differs", p, "RJ122", "rj122 ") == (False, ())
    assert py("differs", p, "RJ122", "RJ1") == (True, ("stale",))
    assert py("differs", {"flag": "stale", "ignore_case": False}, "a", "A") == (True, ("stale",))
    assert py("differs", p, None, "x") == (None, ())
    assert py("differs", p, 12, "12") == (False, ())


def test_after() -> None:
    a, b = datetime(2014, 3, 9, tzinfo=UTC), datetime(2014, 3, 8, 23, 40, tzinfo=UTC)
    assert py("after", {"flag": "late"}, a, b) == (True, ("late",))
    assert py("after", {"flag": "late"}, b, a) == (False, ())
    assert py("after", {"flag": "late"}, None, a) == (None, ())


def test_present() -> None:
    p = {"if_present": "second", "if_absent": "none", "absent_flag": "date_missing"}
    assert py("present", p, datetime(2014, 1, 1, tzinfo=UTC)) == ("second", ())
    assert py("present", p, None) == ("none", ("date_missing",))
    assert py("present", p, " N/A ") == ("none", ("date_missing",))
    assert py("present", {"present_flag": "batch_failed"}, "FAILED") == (None, ("batch_failed",))
    assert py("present", {"present_flag": "batch_failed"}, False) == (None, ("batch_failed",))


def test_flag_map() -> None:
    p = {"values": {"FAILED": "batch_failed", "RELOADED": "batch_reloaded"}}
    assert py("flag_map", p, " failed ") == ("batch_failed", ("batch_failed",))
    assert py("flag_map", p, "RELOADED") == ("batch_reloaded", ("batch_reloaded",))
    assert py("flag_map", p, "OK") == (None, ())
    assert py("flag_map", p, None) == (None, ())


def test_code_key() -> None:
    p = {"widths": {"ISTV_METHOD": 2, "ISTV_LOCATION": 2}}
    assert py("code_key", p, "ISTV_METHOD", " 1 ") == ("01",)
    assert py("code_key", p, "istv_location", "7") == ("07",)
    assert py("code_key", p, "LFB_GROUP", "1") == ("1",)
    assert py("code_key", p, "ISTV_METHOD", "AB") == ("AB",)
    assert py("code_key", p, None, "1") == ("1",)
    assert py("code_key", p, "ISTV_METHOD", "N/A") == (None,)


def test_user_datasets() -> None:
    p = {"always": ["MPS", "LFB"], "when_true": ["ISTV"]}
    assert py("user_datasets", p, True) == (("MPS", "LFB", "ISTV"),)
    assert py("user_datasets", p, "Y") == (("MPS", "LFB", "ISTV"),)
    for v in (False, None, "0", "x"):
        assert py("user_datasets", p, v) == (("MPS", "LFB"),)


def test_location_precision() -> None:
    assert py("location_precision", {}, "rounded", "E09000007") == ("rounded",)
    assert py("location_precision", {}, None, "E09000007") == ("borough",)
    assert py("location_precision", {}, None, None) == ("none",)


def test_borough_gss_text() -> None:
    assert py("borough_gss_text", {}, "Kensington & Chelsea") == ("E09000020", (), None)
    assert py("borough_gss_text", {}, "Heathrow") == ("E09000017", ("borough_heathrow",), None)
    assert py("borough_gss_text", {}, "Unknown") == (None, ("borough_missing",), None)
    assert py("borough_gss_text", {}, None) == (None, ("borough_missing",), None)
    assert py("borough_gss_text", {}, "E05013652") == (None, (), "UNRESOLVED_BOROUGH")  # never the ward lookup


PSEUDO = {"34": {"gss": "E09000017", "flag": "heathrow"}, "99": {"gss": None, "flag": "missing"}}


def test_borough_id_gss() -> None:
    p = {"pseudo": PSEUDO}
    assert py("borough_id_gss", p, "7", "E09000007") == ("E09000007", (), None)
    assert py("borough_id_gss", p, None, None) == (None, ("borough_missing",), None)
    assert py("borough_id_gss", p, " 34 ", None) == ("E09000017", ("borough_heathrow",), None)
    assert py("borough_id_gss", p, "99", None) == (None, ("borough_missing",), None)
    assert py("borough_id_gss", p, "150", None) == (None, (), "UNRESOLVED_BOROUGH")
    assert py("borough_id_gss", p, "abc", None) == (None, (), "UNRESOLVED_BOROUGH")


def test_istv_geo() -> None:
    p = {"levels": {"1": "exact", "4": "lsoa", "6": "borough"}, "none_levels": ["9"], "pseudo": PSEUDO}
    assert py("istv_geo", p, "1", "exact", "7", "E09000007") == ("exact", "E09000007", True, (), None)
    assert py("istv_geo", p, "4", "exact", "7", "E09000007") == ("lsoa", "E09000007", True, (), None)
    assert py("istv_geo", p, "1", None, "7", "E09000007") == ("borough", "E09000007", True, (), None)
    assert py("istv_geo", p, "1", None, None, None) == ("none", None, True, ("borough_missing",), None)
    assert py("istv_geo", p, "9", "exact", "150", None) == ("none", None, False,
                                                             ("geo_level_none", "grid_discarded"), None)
    assert py("istv_geo", p, None, None, "7", "E09000007") == ("none", None, False, ("geo_level_missing",), None)
    assert py("istv_geo", p, "7", "exact", "7", "E09000007") == (None, None, False, (), "UNKNOWN_GEO_LEVEL")
    assert py("istv_geo", p, "x", None, None, None) == (None, None, False, (), "UNKNOWN_GEO_LEVEL")
    assert py("istv_geo", p, "6", None, "150", None) == (None, None, False, (), "UNRESOLVED_BOROUGH")
    assert py("istv_geo", p, "6", None, "34", None) == ("borough", "E09000017", True, ("borough_heathrow",), None)


def test_point_if() -> None:
    assert py("point_if", {}, (1.0, 2.0), True) == ((1.0, 2.0),)
    assert py("point_if", {}, (1.0, 2.0), False) == (None,)
    assert py("point_if", {}, (1.0, 2.0), None) == (None,)


def test_grid_point_fallback() -> None:
    p = {"precision": "exact", "fallback_precision": "rounded"}
    assert py("grid_point_fallback", p, "530001", "180001", "530000", "180000") == ((530001.0, 180001.0), "exact", (),
                                                                                                 None)
    assert py("grid_point_fallback", p, None, None, "530000", "180000") == ((530000.0, 180000.0), "rounded", (),
                                                                            None)
    assert py("grid_point_fallback", p, "0", "0", "530000", "180000") == ((530000.0, 180000.0), "rounded",
                                                                          ("grid_zero",), None)
    assert py("grid_point_fallback", p, "180001", "530001", "1", "1") == ((530001.0, 180001.0), "exact",
                                                                          ("grid_swapped",), None)
    assert py("grid_point_fallback", p, None, None, None, None) == (None, None, ("grid_missing",), None)
    # whole metres: a fraction in either pair quarantines the row
    assert py("grid_point_fallback", p, "530001.5", "180001", "530000", "180000") == (None, None, (), "NOT_INTEGER")
    assert py("grid_point_fallback", p, "530001", "180001", "530000", "180000.5") == (None, None, (), "NOT_INTEGER")


# ------------------------------------------------------------------ Polars forms = references
GRID_TEXT = st.one_of(
    st.none(), st.sampled_from(["0", "99999", "abc", "", " N/A ", "530000.5", "-1", "1e5"]),
    st.integers(100_000, 600_000).map(str), st.integers(150_000, 210_000).map(str),
    st.integers(495_000, 570_000).map(lambda v: f" {v} "),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(GRID_TEXT, GRID_TEXT, GRID_TEXT, GRID_TEXT), min_size=1, max_size=40))
def test_grid_point_fallback_polars_equals_reference(rows: list[tuple[Any, ...]]) -> None:
    p = {"precision": "exact", "fallback_precision": "rounded"}
    frame = pl.DataFrame(rows, schema={c: pl.String for c in ("e", "n", "e2", "n2")}, orient="row")
    assert pl_eval("grid_point_fallback", p, frame) == [py("grid_point_fallback", p, *r) for r in rows]


INSTANTS = st.one_of(st.none(), st.integers(0, 10**6).map(
    lambda s: datetime(2014, 3, 1, tzinfo=UTC) + timedelta(seconds=s * 37)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(INSTANTS, INSTANTS), min_size=1, max_size=40))
def test_after_polars_equals_reference(rows: list[tuple[Any, Any]]) -> None:
    frame = pl.DataFrame(rows, schema={"a": pl.Datetime("us", "UTC"), "b": pl.Datetime("us", "UTC")}, orient="row")
    assert pl_eval("after", {"flag": "late"}, frame) == [py("after", {"flag": "late"}, *r) for r in rows]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["", " ", "N/A", "n/a", "NULL", "-", "\u00a0", "x", " FAILED "]),
                          st.text(max_size=6)), min_size=1, max_size=40))
def test_present_polars_equals_reference_on_text(values: list[Any]) -> None:
    p = {"if_present": "second", "if_absent": "none", "present_flag": "p", "absent_flag": "a"}
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    assert pl_eval("present", p, frame) == [py("present", p, v) for v in values]


def test_present_polars_equals_reference_on_other_types() -> None:
    p = {"if_present": "second", "if_absent": "none", "absent_flag": "a"}
    for values, dtype in (([datetime(2014, 1, 1, tzinfo=UTC), None], pl.Datetime("us", "UTC")),
                          ([True, False, None], pl.Boolean), ([1, 0, None], pl.Int64)):
        frame = pl.DataFrame({"v": values}, schema={"v": dtype})
        assert pl_eval("present", p, frame) == [py("present", p, v) for v in values]


def test_point_if_polars_equals_reference() -> None:
    points = [{"x": 1.0, "y": 2.0}, None, {"x": 3.0, "y": 4.0}, {"x": 5.0, "y": 6.0}]
    keep = [True, True, False, None]
    frame = pl.DataFrame({"p": points, "k": keep}, schema={"p": PL_TYPES["point"], "k": pl.Boolean})
    expected = [py("point_if", {}, None if pt is None else (pt["x"], pt["y"]), k) for pt, k in zip(points, keep,
                                                                                                   strict=True)]
    assert pl_eval("point_if", {}, frame) == expected


# ------------------------------------------------------------------ references never raise
PARAMS: dict[str, dict[str, Any]] = {
    "coalesce": {"conflict": "X"}, "flag_default": {"default": False},
    "offence_parent": {"scheme": "MPS_MAJOR_CATEGORY"}, "differs": {"flag": "f"}, "after": {"flag": "f"},
    "present": {"if_present": "a"}, "flag_map": {"values": {"X": "x"}}, "code_key": {"widths": {"ISTV_METHOD": 2}},
    "user_datasets": {"always": ["MPS"], "when_true": ["ISTV"]}, "location_precision": {},
    "borough_gss_text": {}, "borough_id_gss": {"pseudo": PSEUDO},
    "istv_geo": {"levels": {"1": "exact"}, "none_levels": ["9"], "pseudo": PSEUDO}, "point_if": {},
    "grid_point_fallback": {},
}
ANY_TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["34", "99", "9", "1", "N/A", "E09000007"]))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(set(EXTRA) - {"after", "point_if"})), st.lists(ANY_TEXT, min_size=4, max_size=4))
def test_references_never_raise_on_text(name: str, values: list[Any]) -> None:
    t = transforms.get(name)
    out = py(name, PARAMS[name], *values[: len(t.inputs)])
    assert len(out) == len(t.outputs)
