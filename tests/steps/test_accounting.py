"""Accounting against the ground truth: every generated row's fate, derived from the manifest.

The runner issue: "A test derives the expected outcome of every generated row from the
manifest's anomalies and the dictionary's rules (with a declared precedence when a row
has several) and requires the ledger to match exactly."

The expectation is built from the generator's manifest only — the anomaly kinds it
injected, by key, and the ``tblMPSCrime`` duplicate groups with their winners — plus the
set of keys the legacy table holds (read straight from the legacy file).  It never reads
the mapping's code lists, alias tables or transforms: if it did, a spelling the mapping
misses could never be found.

Declared precedence (the first rule that applies to a row decides its fate):

1. **blank business key** (``mps.blank_crimeref``): the row is in no duplicate group and loads
   under its legacy key (``RecID:<n>``, flagged ``key_blank``) unless a rule below decides it;
2. **merged** as a duplicate → ``ledger.disposition`` merged: every member of a
   ``tblMPSCrime`` duplicate group except the manifest's winner (highest BatchID whose
   batch is not FAILED, then highest RecID) — ``DUPLICATE_MERGED``, whatever else the
   loser carries; de-duplication runs before the rules below, so a winner that a rule
   quarantines takes its CrimeRef to the quarantine and its losers still count as merged.
   ``tblWard`` repeats of one (WardCode, Vintage): all copies but one — ``DUPLICATE_WARD``;
3. **filters**, in the mapping file's order: ``tblBorough`` pseudo-areas 34/99
   (``borough.pseudo``) → ``PSEUDO_AREA``; ISTV rows of a superseded submission
   (``istv.superseded_submission``) → ``SUPERSEDED_SUBMISSION``;
4. **quarantine rules**, in the mapping file's order:
   - ``tblMPSCrime``: impossible CommittedDate → ``IMPOSSIBLE_DATE``, before a borough text
     that is not London with no resolvable ward (``mps.borough_not_london_no_ward``) →
     ``UNRESOLVED_BOROUGH``;
   - ``tblLFBIncident``, ``tblLASAssault``: ``*.borough_not_london_no_ward`` →
     ``UNRESOLVED_BOROUGH`` (a misspelt borough resolves, flagged; a not-London text with a
     resolvable ward is placed by the ward);
   - ``tblTransportCrime`` (no ward column): impossible CrimeDate → ``IMPOSSIBLE_DATE``,
     before ``transport.borough_not_london`` → ``UNRESOLVED_BOROUGH``;
   - ``tblISTVAssault``: invalid Method → ``UNKNOWN_CODE``, before invalid LocType →
     ``UNKNOWN_CODE`` (the same reason; the first decides the fields);
   - ``tblOrganisation``: ``org.borough_not_london`` → ``UNRESOLVED_BOROUGH``;
5. otherwise **loaded** — every other kind is a data-quality flag on a loaded row.  Each
   table's kinds are listed below as either decisive (above) or flag-only; a kind the
   generator adds later fails the test until it is classified.

``tblLookupCode`` is left out: whether an unpadded ISTV code ('1') merges with a padded
one ('01') of the same list, and which codes the migration seeds itself, are not in the
manifest (``lookup.unpadded_code`` says only that the code is one character).
"""

from __future__ import annotations

import pprint
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.legacy import default_manifest_path, generate, read_manifest
from tests.steps.conftest import SCALE, run_all

pytestmark = pytest.mark.postgres

#: (kind, outcome, reason) in the declared precedence, after BLANK_KEY and the duplicate rule
DECISIVE: dict[str, list[tuple[str, str, str]]] = {
    "tblBorough": [("borough.pseudo", "filter", "PSEUDO_AREA")],
    "tblWard": [],
    "tblLSOA": [],
    "tblCrimeType": [],
    "tblHospital": [],
    "tblImportLog": [],
    "tblOrganisation": [("org.borough_not_london", "quarantine", "UNRESOLVED_BOROUGH")],
    "tblUser": [],
    "tblMPSCrime": [("mps.committed_date_impossible", "quarantine", "IMPOSSIBLE_DATE"),
                    ("mps.borough_not_london_no_ward", "quarantine", "UNRESOLVED_BOROUGH")],
    "tblLFBIncident": [("lfb.borough_not_london_no_ward", "quarantine", "UNRESOLVED_BOROUGH")],
    "tblLASAssault": [("las.borough_not_london_no_ward", "quarantine", "UNRESOLVED_BOROUGH")],
    "tblTransportCrime": [("transport.crime_date_impossible", "quarantine", "IMPOSSIBLE_DATE"),
                          ("transport.borough_not_london", "quarantine", "UNRESOLVED_BOROUGH")],
    "tblISTVAssault": [("istv.superseded_submission", "filter", "SUPERSEDED_SUBMISSION"),
                       ("istv.method_invalid", "quarantine", "UNKNOWN_CODE"),
                       ("istv.loctype_invalid", "quarantine", "UNKNOWN_CODE")],
}
#: kinds handled before the table's DECISIVE list (blank key, duplicate rule)
STRUCTURAL = {"mps.blank_crimeref", "mps.duplicate_superseded", "ward.duplicate_row"}
#: kinds that only flag a loaded row (or, for duplicate members, describe the group)
FLAG_ONLY: dict[str, set[str]] = {
    "tblBorough": {"borough.gss_null", "borough.name_variant"},
    "tblWard": {"ward.old_style_code", "ward.borough_variant"},
    "tblLSOA": set(),
    "tblCrimeType": {"crimetype.minorcat_case_duplicate", "crimetype.retired", "crimetype.hocode_blank"},
    "tblHospital": {"hospital.closed_still_active", "hospital.istvstart_null"},
    "tblImportLog": {"importlog.failed", "importlog.reloaded", "importlog.rowcount_mismatch",
                     "importlog.loadedon_dst_repeated", "importlog.loadedon_dst_gap"},
    "tblOrganisation": {"org.name_cp1252", "org.borough_variant", "org.borough_misspelt"},
    "tblUser": {"user.password_md5", "user.password_plaintext", "user.orphan_org", "user.allowed_all",
                "user.allowed_heathrow", "user.allowed_variant", "user.allowed_misspelt",
                "user.allowed_unmatched"},
    "tblMPSCrime": {
        "mps.duplicate_crimeref", "mps.duplicate_only_after_trim", "mps.failed_batch_row",
        "mps.crimeref_trailing_space", "mps.orphan_crimetype", "mps.majorcat_mismatch", "mps.retired_crimetype",
        "mps.committed_date_placeholder", "mps.committed_time_unknown", "mps.dst_gap_committed",
        "mps.reported_dst_repeated", "mps.reported_dst_gap", "mps.lastmodified_dst_repeated", "mps.revised",
        "mps.grid_missing", "mps.grid_zero", "mps.grid_99999", "mps.grid_non_numeric", "mps.grid_swapped",
        "mps.grid_outside_london", "mps.borough_variant", "mps.borough_pseudo", "mps.borough_blank",
        "mps.borough_misspelt", "mps.borough_not_london", "mps.ward_unknown", "mps.ward_no_value_text",
        "mps.location_no_value_text", "mps.location_cp1252", "mps.domestic_flag_alt", "mps.domestic_flag_unknown",
        "mps.knife_flag_null", "mps.outcome_no_value_text"},
    "tblLFBIncident": {
        "lfb.borough_variant", "lfb.borough_pseudo", "lfb.borough_blank", "lfb.borough_misspelt",
        "lfb.borough_not_london", "lfb.borough_upper_case", "lfb.ward_unknown", "lfb.ward_no_value_text",
        "lfb.exact_coords_null", "lfb.postcode_district_only", "lfb.postcode_null", "lfb.propertytype_cp1252",
        "lfb.time_no_seconds", "lfb.first_pump_null", "lfb.cost_sub_penny", "lfb.call_dst_gap",
        "lfb.call_dst_repeated"},
    "tblLASAssault": {
        "las.borough_variant", "las.borough_pseudo", "las.borough_blank", "las.borough_misspelt",
        "las.borough_not_london", "las.ward_unknown", "las.ward_no_value_text", "las.gridref_space",
        "las.gridref_no_value", "las.gridref_zero", "las.gridref_swapped", "las.gridref_outside_london",
        "las.alcohol_flag_unknown", "las.calldt_dst_repeated", "las.calldt_dst_gap", "las.updated"},
    "tblTransportCrime": {
        "transport.borough_variant", "transport.borough_pseudo", "transport.borough_blank",
        "transport.borough_misspelt", "transport.route_no_value_text", "transport.station_no_value_text",
        "transport.crime_date_placeholder", "transport.crime_time_unknown", "transport.crime_dst_gap",
        "transport.offence_cp1252"},
    "tblISTVAssault": {
        "istv.pid_name", "istv.pid_nhs_number", "istv.pid_dob", "istv.pid_phone", "istv.pid_postcode",
        "istv.pid_address", "istv.method_unpadded", "istv.method_unknown", "istv.methodother_no_value_text",
        "istv.loctype_unpadded", "istv.loctype_unknown", "istv.assault_after_arrival", "istv.assault_time_unknown",
        "istv.stale_sitecode", "istv.geolevel_none", "istv.resubmission", "istv.locdesc_cp1252",
        "istv.arrival_dst_repeated", "istv.arrival_dst_gap"},
}
STAGE = {"tblBorough": "boroughs", "tblWard": "areas", "tblLSOA": "areas", "tblCrimeType": "codes",
         "tblHospital": "codes", "tblImportLog": "codes", "tblOrganisation": "organisations", "tblUser": "users",
         "tblMPSCrime": "mps_crime", "tblLFBIncident": "lfb_incident", "tblLASAssault": "las_assault",
         "tblTransportCrime": "transport_crime", "tblISTVAssault": "istv_assault"}
DATASET = {"tblMPSCrime": "MPS", "tblLFBIncident": "LFB", "tblLASAssault": "LAS", "tblTransportCrime": "TRANSPORT",
           "tblISTVAssault": "ISTV"}
#: the target rows a legacy table's loaded rows become, keyed as the legacy key (as text)
TARGET_KEYS = {
    "tblBorough": "SELECT legacy_borough_id::text FROM ref.local_authority WHERE load_run_id = :run",
    "tblWard": "SELECT ward_code, vintage::text FROM ref.ward WHERE load_run_id = :run",
    "tblLSOA": "SELECT lsoa_code, census_year::text FROM ref.lsoa WHERE load_run_id = :run",
    "tblCrimeType": "SELECT code FROM ref.offence_category WHERE scheme = 'MPS_CRIME_TYPE' AND load_run_id = :run",
    "tblHospital": "SELECT legacy_hospital_id::text FROM ref.ed_site WHERE load_run_id = :run",
    "tblImportLog": "SELECT batch_id::text FROM ref.import_batch WHERE load_run_id = :run",
    "tblOrganisation": "SELECT org_id::text FROM sec.organisation WHERE load_run_id = :run",
    "tblUser": "SELECT user_id::text FROM sec.app_user WHERE load_run_id = :run",
    **{t: f"SELECT legacy_pk FROM core.incident WHERE dataset = '{d}' AND load_run_id = :run"
       for t, d in DATASET.items()},
}

Key = tuple[str, ...]


@dataclass
class Expected:
    """Per legacy key: ("quarantine" | "merged" | "filter" | "load", reason)."""

    fate: dict[Key, tuple[str, str | None]] = field(default_factory=dict)

    def keys(self, outcome: str) -> Counter[Key]:
        return Counter(k for k, (o, _) in self.fate.items() if o == outcome)

    def records(self, outcome: str) -> set[tuple[Key, str | None]]:
        return {(k, r) for k, (o, r) in self.fate.items() if o == outcome}


def _key(k: Any) -> Key:
    return tuple(str(x) for x in k) if isinstance(k, list) else (str(k),)


def legacy_keys(path: Path, table: str, columns: list[str]) -> list[Key]:
    """Every row's key, straight from the legacy file (the manifest lists anomalous rows only)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        return [tuple(str(v) for v in r) for r in conn.execute(f'SELECT {cols} FROM "{table}"')]
    finally:
        conn.close()


def expected_fates(manifest: dict[str, Any], table: str, keys: list[Key]) -> tuple[Expected, Counter[Key]]:
    """The fate of every key of ``table`` by the declared precedence, and (for keyless tables)
    how many copies of each key are merged."""
    info = manifest["tables"][table]
    anomalies = info["anomalies"]
    kinds = set(anomalies)
    declared = {k for k, _, _ in DECISIVE[table]} | FLAG_ONLY[table] | (STRUCTURAL & kinds)
    assert kinds == declared, (f"{table}: kinds not classified {sorted(kinds - declared)}, "
                               f"classified but not in the manifest {sorted(declared - kinds)}")
    assert len(keys) == info["rows"], f"{table}: {len(keys)} rows in the legacy file, manifest says {info['rows']}"

    def with_kind(kind: str) -> set[Key]:
        return {_key(k) for k in anomalies[kind]["keys"]}

    exp = Expected()
    merged_copies: Counter[Key] = Counter()
    # 1. blank business key: in no duplicate group (loads under its legacy key unless a rule decides)
    blank = with_kind("mps.blank_crimeref") if table == "tblMPSCrime" else set()
    # 2. duplicate rule
    if table == "tblMPSCrime":
        groups = manifest["duplicates"]["members"]
        assert len(groups) == manifest["duplicates"]["groups"]
        assert not {(str(g["winner"]),) for g in groups} & blank, "a group's winner has a blank CrimeRef"
        losers = {(str(r),) for g in groups for r in g["recids"] if r != g["winner"]}
        # the manifest's two records of the rule agree (members/winner vs the per-row kind)
        assert losers == with_kind("mps.duplicate_superseded")
        for k in losers - blank:
            exp.fate.setdefault(k, ("merged", "DUPLICATE_MERGED"))
    if table == "tblWard":
        copies = Counter(_key(k) for k in anomalies["ward.duplicate_row"]["keys"])
        merged_copies = Counter({k: n - 1 for k, n in copies.items()})
    # 3 and 4. filters, then quarantine rules, in the mapping's order
    for kind, outcome, reason in DECISIVE[table]:
        for k in with_kind(kind):
            exp.fate.setdefault(k, (outcome, reason))
    # 5. the rest loads
    for k in keys:
        exp.fate.setdefault(k, ("load", None))
    assert set(exp.fate) == set(keys), f"{table}: the manifest names keys the legacy table does not hold"
    return exp, merged_copies


def _ledger_key(source_key: str, width: int) -> Key:
    """A ledger source key as a legacy key: keyless tables are recorded as ``v1|v2#row``."""
    if width == 1:
        return (source_key,)
    return tuple(source_key.rsplit("#", 1)[0].split("|"))


@pytest.fixture(params=[7, 1234])
def seeded_legacy(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The shared legacy file of the runner tests (seed 7) and one of another seed."""
    if request.param == 7:
        return Path(request.getfixturevalue("legacy_sqlite"))
    path = tmp_path / "legacy.sqlite"
    generate(make_url(f"sqlite:///{path}"), SCALE, request.param, None, console=RecordingConsole())
    return path


def test_the_ledger_matches_the_fate_of_every_generated_row_derived_from_the_manifest(
        seeded_legacy: Path, target_url: URL) -> None:
    manifest_path = default_manifest_path(URL.create("sqlite", database=str(seeded_legacy)))
    assert manifest_path is not None
    manifest = read_manifest(manifest_path)
    assert manifest["keys_recorded"], "the accounting test needs a manifest with keys (scale <= 0.02)"
    run_all(seeded_legacy, target_url)

    eng = create_engine(target_url, poolclass=NullPool)
    problems: dict[str, Any] = {}
    try:
        with eng.connect() as conn:
            for table, stage in STAGE.items():
                columns = manifest["tables"][table]["key"]
                width = len(columns)
                keys = legacy_keys(seeded_legacy, table, columns)
                exp, merged_copies = expected_fates(manifest, table, keys)
                counts = conn.execute(text(
                    "SELECT run_id, rows_read, rows_loaded, rows_merged, rows_quarantined, rows_filtered, "
                    "rows_unchanged FROM ledger.table_count WHERE stage = :s AND source_table = :t"),
                    dict(s=stage, t=table)).mappings().all()
                assert len(counts) == 1, (table, counts)
                c = counts[0]
                run = c["run_id"]
                p = dict(run=run, s=stage, t=table)
                # Counters, not sets: a row recorded twice must show up as a difference
                quarantined = Counter((_ledger_key(k, width), r) for k, r in conn.execute(text(
                    "SELECT source_key, reason_code FROM ledger.quarantine WHERE run_id = :run AND stage = :s "
                    "AND source_table = :t"), p))
                disposed = conn.execute(text(
                    "SELECT source_key, disposition, reason_code FROM ledger.disposition WHERE run_id = :run "
                    "AND stage = :s AND source_table = :t"), p).all()
                loaded = Counter(tuple(str(v) for v in r) for r in conn.execute(text(TARGET_KEYS[table]), p))
                merged = Counter((_ledger_key(k, width), r) for k, d, r in disposed if d == "merged")
                filtered = Counter((_ledger_key(k, width), r) for k, d, r in disposed if d == "filter")
                unchanged = Counter(_ledger_key(k, width) for k, d, _ in disposed if d == "unchanged")

                want_merged = Counter(exp.records("merged")) + Counter(
                    {(k, "DUPLICATE_WARD"): n for k, n in merged_copies.items()})
                want_loaded = Counter(exp.keys("load"))
                want_counts = dict(rows_read=len(keys), rows_loaded=want_loaded.total(),
                                   rows_merged=want_merged.total(), rows_quarantined=len(exp.keys("quarantine")),
                                   rows_filtered=len(exp.keys("filter")), rows_unchanged=0)
                checks = {
                    "quarantine (key, reason)": (quarantined, Counter(exp.records("quarantine"))),
                    "merged (key, reason)": (merged, want_merged),
                    "filtered (key, reason)": (filtered, Counter(exp.records("filter"))),
                    "unchanged": (unchanged, Counter()),
                    "loaded keys in the target": (loaded, want_loaded),
                    "ledger.table_count": ({k: c[k] for k in want_counts}, want_counts),
                }
                for what, (got, want) in checks.items():
                    if got != want:
                        problems.setdefault(table, {})[what] = _diff(got, want)
    finally:
        eng.dispose()
    if problems:
        pytest.fail("the ledger disagrees with the manifest:\n" + pprint.pformat(problems, width=120))


def _diff(got: dict[Any, Any], want: dict[Any, Any]) -> dict[str, Any]:
    """(got, expected) for every entry that differs, at most 12 of them, and the totals."""
    keys = sorted((k for k in set(got) | set(want) if got.get(k) != want.get(k)), key=repr)
    out: dict[str, Any] = {str(k): (got.get(k), want.get(k)) for k in keys[:12]}
    if isinstance(got, Counter) and isinstance(want, Counter):
        out["(total got, total expected)"] = (got.total(), want.total())
    return out
