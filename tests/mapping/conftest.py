"""Shared helpers of the transform tests: small reference lookups in the shapes
:mod:`migration.mapping.lookups` reads from the target, and the engine's own execution path
for one transform (:meth:`migration.steps.engine.ChunkEvaluator._apply`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from migration.mapping.transforms.base import Transform
from migration.steps.engine import ChunkEvaluator, to_python_value

CAMDEN, HACKNEY, HILLINGDON = "E09000007", "E09000012", "E09000017"
CITY, KENSINGTON, KINGSTON, WESTMINSTER = "E09000001", "E09000020", "E09000021", "E09000033"

#: normalised borough text → (gss_code, flag or None), as ref.la_alias holds it
LA_ALIAS: dict[str, tuple[str, str | None]] = {
    "CAMDEN": (CAMDEN, None),
    "HACKNEY": (HACKNEY, None),
    "HILLINGDON": (HILLINGDON, None),
    "HEATHROW": (HILLINGDON, "heathrow"),
    "CITY OF LONDON": (CITY, None),
    "KENSINGTON AND CHELSEA": (KENSINGTON, None),
    "KINGSTON UPON THAMES": (KINGSTON, None),
    "KINGSTON": (KINGSTON, None),
    "WESTMINSTER": (WESTMINSTER, None),
}

LOOKUPS: dict[str, Any] = {
    "la_alias": LA_ALIAS,
    "ward": {"E05000128": CAMDEN, "E05000235": HACKNEY, "00AGGA": CAMDEN},
    "offence_category": {("MPS_CRIME_TYPE", "12"): 112, ("MPS_CRIME_TYPE", "7"): 107,
                         ("MPS_CRIME_TYPE", "UNKNOWN"): 999, ("MPS_MAJOR_CATEGORY", "VIOLENCE AGAINST THE PERSON"): 5},
    "code_value": {("ISTV_METHOD", f"{i:02d}") for i in range(1, 7)} | {("ISTV_METHOD", "99")},
    "ref_lookup": {("ref.ed_site", "legacy_hospital_id", "ods_site_code"): {1: "RQX01", 2: "R1H12"}},
}

#: parameters for the transforms whose parameters have no defaults (every other one runs with {})
PARAMS: dict[str, dict[str, Any]] = {
    "map": {"values": {"Y": "yes", "N": "no"}, "default": "other"},
    "code_value": {"code_system": "ISTV_METHOD"},
    "ref_lookup": {"table": "ref.ed_site", "key": "legacy_hospital_id", "column": "ods_site_code",
                   "reject": "UNKNOWN_HOSPITAL"},
    "flag_default": {"default": False},
    "offence_parent": {"scheme": "MPS_MAJOR_CATEGORY"},
    "differs": {"flag": "site_code_stale"},
    "after": {"flag": "assault_after_arrival"},
    "code_key": {"widths": {"ISTV_METHOD": 2}},
    "user_datasets": {"always": ["MPS"], "when_true": ["ISTV"]},
    "istv_geo": {"levels": {"1": "exact", "2": "street", "3": "sector"}, "none_levels": ["9"],
                 "pseudo": {"34": {"gss": HILLINGDON, "flag": "heathrow"}, "99": {"gss": None, "flag": "unknown"}}},
    "borough_id_gss": {"pseudo": {"34": {"gss": HILLINGDON, "flag": "heathrow"}}},
}


def params_for(t: Transform, **override: Any) -> Any:
    return t.parse_params({**PARAMS.get(t.name, {}), **override})


def run_engine(t: Transform, params: Any, columns: Mapping[str, Sequence[Any]],
               dtypes: Mapping[str, pl.DataType] | None = None,
               lookups: Mapping[str, Any] = LOOKUPS) -> list[tuple[Any, ...]]:
    """Apply ``t`` to the rows the way the load does (``ChunkEvaluator._apply``: the Polars plan
    when ``pl`` gives one, else ``py`` over the distinct inputs joined back) and return every
    row's outputs as Python values (``engine.to_python_value``).  The rows go through in three chunks
    of one evaluator, as a table's chunks do."""
    ev = object.__new__(ChunkEvaluator)  # _apply reads only the lookups
    ev.lookups = lookups
    ev.lookup_frames = {}
    names = list(columns)
    schema = {c: (dtypes or {}).get(c, pl.String) for c in names}
    n = len(next(iter(columns.values())))
    df = pl.DataFrame({c: list(columns[c]) for c in names}, schema=schema).with_columns(
        pl.int_range(n).alias("_row_no"))
    step = max(1, -(-n // 3))
    out = pl.concat([ev._apply(df.slice(i, step), t, params, names, "t") for i in range(0, n, step)],
                    how="vertical_relaxed")
    assert out.height == n and out["_row_no"].to_list() == list(range(n)), "rows lost, added or reordered"
    cols = [out[f"t.{o}"].to_list() for o in t.outputs]
    types = list(t.outputs.values())
    return [tuple(to_python_value(col[i], typ) for col, typ in zip(cols, types, strict=True)) for i in range(n)]


class _Tx(SimpleNamespace):
    def __repr__(self) -> str:  # keep hypothesis' failure reports short
        return "tx"


@pytest.fixture(scope="session")
def tx() -> SimpleNamespace:
    return _Tx(lookups=LOOKUPS, params_for=params_for, run_engine=run_engine, CAMDEN=CAMDEN,
                           HACKNEY=HACKNEY, HILLINGDON=HILLINGDON, CITY=CITY, KENSINGTON=KENSINGTON,
                           KINGSTON=KINGSTON, WESTMINSTER=WESTMINSTER)
