"""In-memory reference lookups for running the mapping set without a database.

They have the shapes :mod:`migration.mapping.lookups` reads from the target, filled the way
the earlier stages would fill them: ``la_alias`` and the seeded offence categories come from
the CSV files the migration ships (``migration/refdata``); the rest is a small, realistic
stand-in (33 boroughs by legacy BoroughID, a few real ward codes, ED sites, import batches
with every status, organisations 1–120).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import polars as pl

import migration.refdata
from migration.mapping.lookups import lookup_frame

REFDATA = Path(migration.refdata.__file__).parent

#: legacy BoroughID 1–33 → GSS code (alphabetical, City of London first, as tblBorough numbers them)
GSS_BY_BOROUGH_ID = {i: f"E090000{i:02d}" for i in range(1, 34)}

#: a few real ward codes (2014-style) and old-style 2002 codes (ONS code + two letters)
WARDS = {
    "E05000026": "E09000002",  # Abbey, Barking and Dagenham
    "E05000176": "E09000009",  # Elthorne, Ealing
    "E05000345": "E09000017",  # Yiewsley, Hillingdon
    "E05013652": "E09000007",  # Belsize, Camden
    "E05013802": "E09000033",  # Pimlico North, Westminster
    "00AAFA": "E09000001",
    "00AWGB": "E09000020",
}

#: ISTV code lists as the research notes assume them, plus the legacy LFB/LAS systems
CODE_VALUES = (
    {("ISTV_METHOD", f"{i:02d}") for i in range(1, 7)} | {("ISTV_METHOD", "99")}
    | {("ISTV_LOCATION", f"{i:02d}") for i in range(1, 8)} | {("ISTV_LOCATION", "99")}
    | {("LFB_GROUP", c) for c in ("1", "2", "3")} | {("LAS_CATEGORY", c) for c in ("A", "B", "C")}
)

#: ED sites: legacy HospitalID → ODS site code
SITES = {i: f"R{chr(65 + i % 26)}{i:03d}" for i in range(1, 36)}

#: import batches: BatchID → status (every status present; 999 and up are orphans)
BATCHES = {i: ("FAILED" if i % 17 == 0 else "RELOADED" if i % 11 == 0 else "OK") for i in range(1, 301)}

ORG_IDS = list(range(1, 121))


def la_alias() -> dict[str, tuple[str, str | None]]:
    with (REFDATA / "la_alias.csv").open(newline="", encoding="utf-8") as fh:
        return {r["alias_norm"]: (r["gss_code"], r["flag"] or None) for r in csv.DictReader(fh)}


def offence_categories() -> tuple[dict[tuple[str, str], int], dict[int, Any]]:
    """(scheme, code) → id for the seeded rows and minor categories 1–130, and id → parent_id."""
    ids: dict[tuple[str, str], int] = {}
    parents: dict[int, Any] = {}
    with (REFDATA / "offence_category.csv").open(newline="", encoding="utf-8") as fh:
        for n, r in enumerate(csv.DictReader(fh), start=1):
            ids[(r["scheme"], r["code"])] = n
            parents[n] = None
    majors = [i for (scheme, _), i in ids.items() if scheme == "MPS_MAJOR_CATEGORY"]
    for ct in range(1, 131):
        oid = 1000 + ct
        ids[("MPS_CRIME_TYPE", str(ct))] = oid
        parents[oid] = None if ct % 23 == 0 else majors[ct % len(majors)]
    return ids, parents


def lookups() -> dict[str, Any]:
    offence, parents = offence_categories()
    return {
        "la_alias": la_alias(),
        "ward": dict(WARDS),
        "offence_category": offence,
        "code_value": set(CODE_VALUES),
        "ref_lookup": {
            ("ref.local_authority", "legacy_borough_id", "gss_code"): dict(GSS_BY_BOROUGH_ID),
            ("ref.ed_site", "legacy_hospital_id", "ods_site_code"): dict(SITES),
            ("ref.offence_category", "id", "parent_id"): parents,
        },
    }


#: the rows of each reference table a table mapping's ``lookups:`` may join (key columns first)
_TABLE_ROWS: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {
    "ref.import_batch": (["batch_id", "status"], [(b, s) for b, s in BATCHES.items()]),
    "sec.organisation": (["org_id", "org_id"], [(o, o) for o in ORG_IDS]),
}


def table_lookups(tm: Any) -> tuple[dict[str, dict], dict[str, pl.DataFrame]]:
    """The table mapping's own ``lookups`` as dicts (reference) and frames (engine), shaped as
    :func:`migration.mapping.lookups.load_table_lookups` shapes them."""
    tables: dict[str, dict] = {}
    frames: dict[str, pl.DataFrame] = {}
    for name, spec in tm.lookups.items():
        header, rows = _TABLE_ROWS[spec.table]
        keys = list(spec.match)
        assert header[: len(keys)] == keys, f"test lookups of {spec.table} are keyed on {header[:len(keys)]}"
        assert header[len(keys):] == spec.columns, f"test lookups of {spec.table} give {header[len(keys):]}"
        frames[name] = lookup_frame(rows, len(keys), spec.columns)
        tables[name] = {tuple(None if v is None else str(v) for v in r[: len(keys)]):
                        dict(zip(spec.columns, r[len(keys):], strict=True)) for r in rows}
    return tables, frames
