"""The SafeStats mapping set (mappings/*.yaml): it loads, it accounts for every legacy and
target column, the load's engine agrees with the Python reference on hostile legacy rows,
and hand-picked rows come out as the data dictionary and TARGET-MODEL say they must.

No database: reference lookups are built in memory (tests/mapping/fixtures_lookups.py) from
the reference data the migration ships, and legacy rows are generated from the data
dictionary's quirks (tests/mapping/fixtures_legacy_rows.py).  The coverage checks here are a
small, independent sanity net; migration.mapping.validate is the full validator.
"""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import fixtures_legacy_rows as legacy_rows
import fixtures_lookups as fx
import polars as pl
import pytest

from migration.mapping import transforms
from migration.mapping.evaluate import RowEvaluator, RowOutcome
from migration.mapping.loader import load_file, mapping_files
from migration.mapping.lookups import ref_lookup_keys
from migration.mapping.spec import ColumnSpec, StageSpec, TableMappingSpec
from migration.mapping.transforms.geo import normalise_borough
from migration.mapping.validate import validate
from migration.schema import models
from migration.steps.compile import build_apply, extracted_columns
from migration.steps.engine import ChunkEvaluator

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"

#: the 14 legacy tables and their columns, as LEGACY-DATA-DICTIONARY.md lists them
DICTIONARY: dict[str, list[str]] = {
    "tblBorough": ["BoroughID", "BoroughName", "OldONSCode", "GSSCode", "MPSCode"],
    "tblWard": ["WardCode", "WardName", "BoroughName", "Vintage"],
    "tblLSOA": ["LSOACode", "LSOAName", "BoroughID", "CensusYear"],
    "tblCrimeType": ["CrimeTypeID", "MajorCat", "MinorCat", "HOCode", "PoliceUKCat", "ViolentFlag", "Retired"],
    "tblHospital": ["HospitalID", "SiteCode", "HospitalName", "BoroughID", "Easting", "Northing", "ISTVStart",
                    "Active"],
    "tblLookupCode": ["CodeType", "Code", "Descr"],
    "tblOrganisation": ["OrgID", "OrgName", "OrgType", "BoroughName"],
    "tblUser": ["UserID", "Login", "Email", "OrgID", "AllowedBoroughs", "CanSeeISTV", "CanSeePoints", "Password",
                "LastLogin", "Disabled"],
    "tblImportLog": ["BatchID", "Dataset", "FileName", "LoadedOn", "RowCount", "Status"],
    "tblMPSCrime": ["RecID", "CrimeRef", "Force", "CommittedDate", "CommittedTime", "ReportedDT", "CrimeTypeID",
                    "MajorCat", "Borough", "WardCode", "Easting", "Northing", "Location", "DomesticFlag", "KnifeFlag",
                    "Outcome", "BatchID", "LastModified"],
    "tblISTVAssault": ["ISTVID", "HospitalID", "SiteCode", "ArrivalDT", "AssaultDate", "AssaultTime", "Method",
                       "MethodOther", "LocType", "LocDesc", "GeoLevel", "GeoConfidence", "Easting", "Northing",
                       "BoroughID", "PeriodStart", "PeriodEnd", "BatchID"],
    "tblLFBIncident": ["IncidentNumber", "DateOfCall", "TimeOfCall", "IncidentGroup", "StopCode", "PropertyCategory",
                       "PropertyType", "Postcode", "BoroughName", "WardCode", "Easting_m", "Northing_m",
                       "Easting_rounded", "Northing_rounded", "FirstPumpSecs", "NotionalCost", "BatchID"],
    "tblLASAssault": ["LASRef", "CallDT", "WardCode", "Borough", "GridRef", "Category", "AlcoholFlag", "UpdatedOn",
                      "BatchID"],
    "tblTransportCrime": ["RecID", "SourceAgency", "Mode", "Route", "Station", "CrimeDate", "CrimeTime",
                          "OffenceDesc", "Borough", "BatchID"],
}


def _load_all() -> list[StageSpec]:
    specs = []
    for path in mapping_files(MAPPINGS):
        lf = load_file(path)
        assert not lf.problems, "\n".join(str(p) for p in lf.problems)
        assert lf.spec is not None
        specs.append(lf.spec)
    return specs


SPECS = _load_all()
BY_TABLE: dict[str, tuple[StageSpec, TableMappingSpec]] = {
    tm.source.table: (stage, tm) for stage in SPECS for tm in stage.tables}
LOOKUPS = fx.lookups()


# =========================================================================== the set
def test_every_mapping_file_loads_without_problems() -> None:
    files = mapping_files(MAPPINGS)
    assert [p.name for p in files] == sorted(p.name for p in files)
    assert len(files) == len(SPECS) >= 10
    for path in files:
        lf = load_file(path)
        assert lf.problems == [], [str(p) for p in lf.problems]


def test_the_full_validator_finds_no_problem() -> None:
    report = validate(MAPPINGS)
    assert report.problems == [], "\n".join(str(p) for p in report.problems)


def test_file_order_is_dependency_order() -> None:
    """Sorting the files by name gives an order in which every stage follows its dependencies."""
    seen: set[str] = set()
    for stage in SPECS:
        assert set(stage.depends_on) <= seen, f"{stage.stage} depends on a later stage: {stage.depends_on}"
        seen.add(stage.stage)
    assert len(seen) == len(SPECS)


def test_every_legacy_table_is_mapped_once_with_the_dictionary_columns() -> None:
    mapped = [tm.source.table for stage in SPECS for tm in stage.tables]
    assert sorted(mapped) == sorted(DICTIONARY), "each of the 14 legacy tables is mapped exactly once"
    for table, (_, tm) in BY_TABLE.items():
        assert tm.source.columns == DICTIONARY[table], table


def _plain(ref: str) -> str | None:
    """The legacy column a reference names, if it is one (not derive.output/lookup.col/key/row.x)."""
    return None if "." in ref or ref == "key" else ref


def _used_columns(tm: TableMappingSpec) -> set[str]:
    refs: list[str] = list(tm.business_key.columns)
    for d in tm.derive.values():
        refs += d.args
    for lk in tm.lookups.values():
        refs += list(lk.match.values())
    if tm.duplicates:
        refs += list(tm.duplicates.partition or []) + [w.expr for w in tm.duplicates.winner]
    for rule in tm.filters + tm.quarantine:
        if rule.when is not None and rule.when.column:
            refs.append(rule.when.column)
    for t in tm.targets.values():
        refs += [w.column for w in t.where if w.column]
        for c in t.columns.values():
            refs += c.from_ or []
    return {p for r in refs if (p := _plain(r)) is not None}


@pytest.mark.parametrize("table", sorted(DICTIONARY))
def test_every_legacy_column_is_used_dropped_scrubbed_or_not_migrated(table: str) -> None:
    _, tm = BY_TABLE[table]
    used = _used_columns(tm)
    dropped = set(tm.personal_data.drop)
    scrubbed = set(tm.personal_data.scrub)
    not_migrated = set(tm.not_migrated)
    for col in tm.source.columns:
        assert col in used | dropped | scrubbed | not_migrated, f"{table}.{col} is not accounted for"
    assert not (used & dropped), f"{table}: a dropped column is used: {used & dropped}"
    assert not (used & not_migrated), f"{table}: columns both used and declared not migrated: {used & not_migrated}"
    assert (used | dropped | scrubbed | not_migrated) <= set(tm.source.columns)
    assert all(reason.strip() for reason in tm.not_migrated.values())


def test_passwords_are_never_extracted() -> None:
    _, tm = BY_TABLE["tblUser"]
    assert tm.personal_data.drop == ["Password"]
    assert "Password" not in extracted_columns(tm)
    _, istv = BY_TABLE["tblISTVAssault"]
    assert istv.personal_data.scrub == {"LocDesc": "scrub_location_text", "MethodOther": "scrub_identifiers"}


def _exempt(table: Any, link: str | None) -> set[str]:
    out = {"load_run_id"}
    out |= {c.name for c in table.primary_key.columns if c.identity is not None}
    if link:
        out |= {c.name for c in table.primary_key.columns}
    return out


def test_every_target_column_is_mapped_or_defaulted() -> None:
    written: dict[str, int] = {}
    for stage in SPECS:
        for tm in stage.tables:
            for tname, tspec in tm.targets.items():
                table = models.table(tname)
                assert table in models.DATA_TABLES, tname
                expected = {c.name for c in table.columns} - _exempt(table, tspec.link)
                assert set(tspec.columns) <= {c.name for c in table.columns}, tname
                missing = expected - set(tspec.columns)
                assert not missing, f"{stage.stage}/{tm.source.table} → {tname}: not mapped or defaulted: {missing}"
                written[tname] = written.get(tname, 0) + 1
        for seed in stage.seeds:
            written[seed.target] = written.get(seed.target, 0) + 1
    for table in models.DATA_TABLES:
        assert table.fullname in written, f"no stage writes {table.fullname}"


def test_every_column_spec_has_one_form_and_every_default_says_why() -> None:
    for stage in SPECS:
        for tm in stage.tables:
            for tname, tspec in tm.targets.items():
                for col, cspec in tspec.columns.items():
                    assert isinstance(cspec, ColumnSpec)
                    if cspec.kind == "default" and cspec.default is None and col != "parent_id":
                        assert cspec.comment, f"{stage.stage} {tname}.{col}: `default: null` needs a reason"


def test_apply_sql_builds_for_every_table_mapping() -> None:
    for stage in SPECS:
        for tm in stage.tables:
            plan = build_apply(stage, tm)
            for tname in tm.targets:
                assert any(f"INSERT INTO {tname} " in sql for sql in plan.statements), (stage.stage, tname)


def test_the_in_memory_lookups_hold_every_key_the_set_asks_for() -> None:
    assert ref_lookup_keys(SPECS) <= set(LOOKUPS["ref_lookup"])
    for _stage, tm in BY_TABLE.values():
        fx.table_lookups(tm)  # raises if a declared lookup has no test rows


# =========================================================================== reference data
def _csv(name: str) -> list[dict[str, str]]:
    with (fx.REFDATA / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_seed_files_exist_and_fit_their_targets() -> None:
    for stage in SPECS:
        for seed in stage.seeds:
            rows = _csv(seed.file)
            assert rows, seed.file
            table = models.table(seed.target)
            assert set(seed.columns) <= {c.name for c in table.columns}
            assert set(seed.columns.values()) <= set(rows[0]), seed.file
    assert (fx.REFDATA / "README.md").read_text().count("Open Government Licence") >= 1


def test_local_authorities_are_the_33_and_agree_with_the_borough_mapping() -> None:
    rows = _csv("local_authority.csv")
    assert [r["gss_code"] for r in rows] == [f"E090000{i:02d}" for i in range(1, 34)]
    by_gss = {r["gss_code"]: r for r in rows}
    assert by_gss["E09000001"]["name"] == "City of London"
    assert by_gss["E09000020"]["legacy_ons_code"] == "00AW"
    assert by_gss["E09000032"]["legacy_ons_code"] == "00BJ" and by_gss["E09000033"]["legacy_ons_code"] == "00BK"
    _, tm = BY_TABLE["tblBorough"]
    ons = tm.derive["gss_from_ons"].params["values"]
    names = tm.derive["authority"].params["values"]
    csp = tm.derive["csp"].params["values"]
    old = tm.derive["ons"].params["values"]
    assert ons == {r["legacy_ons_code"]: r["gss_code"] for r in rows}
    assert names == {g: r["name"] for g, r in by_gss.items()}
    assert csp == {g: r["csp_name"] for g, r in by_gss.items()}
    assert old == {g: r["legacy_ons_code"] for g, r in by_gss.items()}
    # the upsert of tblBorough rewrites the seeded centroids with the same values (never NULL)
    assert tm.derive["centroid_e"].params["values"] == {g: r["centroid_easting"] for g, r in by_gss.items()}
    assert tm.derive["centroid_n"].params["values"] == {g: r["centroid_northing"] for g, r in by_gss.items()}
    assert all(r["centroid_easting"] and r["centroid_northing"] for r in rows)


def test_la_alias_seed_is_normalised_unique_and_complete() -> None:
    rows = _csv("la_alias.csv")
    gss = {r["gss_code"] for r in _csv("local_authority.csv")}
    aliases = [r["alias_norm"] for r in rows]
    assert len(aliases) == len(set(aliases))
    for r in rows:
        assert normalise_borough(r["alias_norm"]) == r["alias_norm"], r
        assert r["gss_code"] in gss, r
        assert r["flag"] in ("", "heathrow", "misspelt"), r
        assert (r["flag"] == "heathrow") == ("HEATHROW" in r["alias_norm"]), r
    assert "UNKNOWN" not in aliases and "CITY" not in aliases
    table = LOOKUPS["la_alias"]
    for official in (r["name"] for r in _csv("local_authority.csv")):
        assert normalise_borough(official) in table, official
    examples = {  # the data dictionary's own examples
        "Kensington & Chelsea": "E09000020", "Kensington And Chelsea": "E09000020",
        "KENSINGTON AND CHELSEA": "E09000020", "Royal Borough of Kingston upon Thames": "E09000021",
        "Kingston": "E09000021", "Richmond": "E09000027", "City of Westminster": "E09000033",
        "London Borough of Barnet": "E09000003", "City of London": "E09000001", "Heathrow": "E09000017",
        "Barking": "E09000002", "Hammersmith & Fulham": "E09000013",
    }
    for text, code in examples.items():
        assert table[normalise_borough(text)][0] == code, text
    assert table["HEATHROW"] == ("E09000017", "heathrow")


# =========================================================================== engine vs reference
def _norm(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return tuple(_norm(x) for x in v)
    if isinstance(v, dict) and set(v) == {"x", "y"}:
        return (v["x"], v["y"])
    return v


def _engine_rows(rec: dict[str, Any], tm: TableMappingSpec) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for ti, (tname, tspec) in enumerate(tm.targets.items()):
        row_cols = {col: c.from_[0].split(".", 1)[1] for col, c in tspec.columns.items()
                    if c.from_ and len(c.from_) == 1 and c.from_[0].startswith("row.")}
        base = {col: _norm(rec[f"_t{ti}_{col}"]) for col in tspec.columns if col not in row_cols}
        if not all(rec[f"_w{ti}_{wi}"] for wi in range(len(tspec.where))):
            out[tname] = []
            continue
        names = [ex.name for ex in tspec.explode]
        lists = [rec[f"_x{ti}_{n}"] or [] for n in names]
        rows = []
        for combo in itertools.product(*lists):
            r = dict(base)
            for col, name in row_cols.items():
                r[col] = combo[names.index(name)]
            rows.append(r)
        out[tname] = rows
    return out


def run_both(table: str, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[RowOutcome]]:
    """Engine and reference over the same rows; asserts they agree on every row and column."""
    _, tm = BY_TABLE[table]
    tables, frames = fx.table_lookups(tm)
    cols = extracted_columns(tm)
    df = pl.DataFrame({c: [r.get(c) for r in rows] for c in cols}, schema={c: pl.String for c in cols})
    df = df.with_columns(_row_no=pl.int_range(1, len(rows) + 1, dtype=pl.Int64),
                         _src_key=pl.Series([str(r.get(tm.source.key)) if tm.source.key else str(i)
                                             for i, r in enumerate(rows)], dtype=pl.String))
    out = ChunkEvaluator(tm, LOOKUPS, frames).evaluate(df)
    assert out.height == len(rows), "the engine must give exactly one output row per legacy row"
    ev = RowEvaluator(tm, LOOKUPS, tables)
    refs = [ev.evaluate(r) for r in rows]
    recs = out.to_dicts()
    problems = []
    for raw, rec, ref in zip(rows, recs, refs, strict=True):
        got = (rec["_key"], rec["_bkey"], rec["_disp"], rec["_reason"], _norm(rec["_fields"]))
        want = (ref.key, ref.business_key, ref.disp, ref.reason, _norm(ref.fields))
        if got != want:
            problems.append((raw, "disposition", got, want))
        engine_targets = _engine_rows(rec, tm)
        for tname in tm.targets:
            e_rows = engine_targets[tname]
            r_rows = [{k: _norm(v) for k, v in r.items()} for r in ref.rows[tname]]
            if len(e_rows) != len(r_rows):
                problems.append((raw, tname, len(e_rows), len(r_rows)))
                continue
            for er, rr in zip(e_rows, r_rows, strict=True):
                for col in rr:
                    if er[col] != rr[col] or type(er[col]) is not type(rr[col]) and rr[col] is not None:
                        if not (isinstance(rr[col], Decimal | int | float | datetime | date) and er[col] == rr[col]):
                            problems.append((raw, f"{tname}.{col}", er[col], rr[col]))
    assert not problems, f"{len(problems)} disagreements, first: " + "\n".join(map(repr, problems[:5]))
    return recs, refs


def test_the_istv_scrubber_is_registered() -> None:
    t = transforms.REGISTRY.get("scrub_location_text")
    assert t is not None and t.python_only and list(t.outputs) == ["value", "flags"]


@pytest.mark.parametrize("table", sorted(DICTIONARY))
def test_engine_agrees_with_reference_on_hostile_rows(table: str) -> None:
    rows = legacy_rows.generate(table, seed=1)
    recs, refs = run_both(table, rows)
    disps = {r.disp for r in refs}
    assert "load" in disps, f"{table}: no row loads - the hostile rows are too hostile to test anything"
    assert disps & {"quarantine", "filter"}, f"{table}: nothing quarantined or filtered - the rows are too tame"


# =========================================================================== hand-picked rows
MAJOR_OF_TYPE_5 = next(r["label"] for n, r in enumerate(_csv("offence_category.csv"), start=1)
                       if n == fx.offence_categories()[1][1005])

BASE: dict[str, dict[str, str | None]] = {
    "tblBorough": {"BoroughID": "20", "BoroughName": "Kensington & Chelsea", "OldONSCode": "00AW",
                   "GSSCode": "E09000020", "MPSCode": "KC"},
    "tblWard": {"WardCode": "E05013652", "WardName": "Belsize", "BoroughName": "Camden", "Vintage": "2014"},
    "tblLSOA": {"LSOACode": "E01000907", "LSOAName": "Camden 027B", "BoroughID": "7", "CensusYear": "2011"},
    "tblCrimeType": {"CrimeTypeID": "5", "MajorCat": "Violence Against the Person", "MinorCat": "Common Assault",
                     "HOCode": "105/1", "PoliceUKCat": "Violence and sexual offences", "ViolentFlag": "1",
                     "Retired": "0"},
    "tblHospital": {"HospitalID": "3", "SiteCode": "RJ122", "HospitalName": "St Thomas' Hospital", "BoroughID": "22",
                    "Easting": "530700", "Northing": "179500", "ISTVStart": "01/04/2010", "Active": "1"},
    "tblLookupCode": {"CodeType": "ISTV_METHOD", "Code": "01", "Descr": "Body part"},
    "tblImportLog": {"BatchID": "12", "Dataset": "MPS", "FileName": "crime_201403.csv",
                     "LoadedOn": "2014-04-02 09:15:00", "RowCount": "81234", "Status": "OK"},
    "tblOrganisation": {"OrgID": "7", "OrgName": "Camden CSP", "OrgType": "CSP", "BoroughName": "Camden"},
    "tblUser": {"UserID": "42", "Login": "jsmith", "Email": "j.smith@camden.gov.uk", "OrgID": "7",
                "AllowedBoroughs": "Camden", "CanSeeISTV": "0", "CanSeePoints": "1", "Password": "hunter2",
                "LastLogin": "2016-05-04 10:00:00", "Disabled": "0"},
    "tblMPSCrime": {"RecID": "1", "CrimeRef": "01AB123456", "Force": "Metropolitan Police Service",
                    "CommittedDate": "15/06/2012", "CommittedTime": "14:30", "ReportedDT": "2012-06-15 15:00:00",
                    "CrimeTypeID": "5", "MajorCat": MAJOR_OF_TYPE_5, "Borough": "Camden", "WardCode": "E05013652",
                    "Easting": "529000", "Northing": "184000", "Location": "On or near Oxford Street",
                    "DomesticFlag": "N", "KnifeFlag": "0", "Outcome": "Under investigation", "BatchID": "1",
                    "LastModified": None},
    "tblISTVAssault": {"ISTVID": "9", "HospitalID": "3", "SiteCode": fx.SITES[3], "ArrivalDT": "2014-03-08 23:40:00",
                       "AssaultDate": "08/03/2014", "AssaultTime": "23:00", "Method": "01", "MethodOther": None,
                       "LocType": "02", "LocDesc": "Black Lion pub on Commercial Road", "GeoLevel": "1",
                       "GeoConfidence": "80", "Easting": "534500", "Northing": "181300", "BoroughID": "30",
                       "PeriodStart": "01/03/2014", "PeriodEnd": "31/03/2014", "BatchID": "1"},
    "tblLFBIncident": {"IncidentNumber": "000123-01032014", "DateOfCall": "01/03/2014", "TimeOfCall": "10:11:12",
                       "IncidentGroup": "Fire", "StopCode": "Primary Fire", "PropertyCategory": "Dwelling",
                       "PropertyType": "House - single occupancy ", "Postcode": "SW1A", "BoroughName": "WESTMINSTER",
                       "WardCode": "E05013802", "Easting_m": None, "Northing_m": None, "Easting_rounded": "529050",
                       "Northing_rounded": "179650", "FirstPumpSecs": "245", "NotionalCost": "326.0000",
                       "BatchID": "2"},
    "tblLASAssault": {"LASRef": "LAS0000001", "CallDT": "2013-07-06 22:10:00", "WardCode": "E05000026",
                      "Borough": "Barking & Dagenham", "GridRef": "545000,184000", "Category": "Assault",
                      "AlcoholFlag": "Y", "UpdatedOn": None, "BatchID": "3"},
    "tblTransportCrime": {"RecID": "77", "SourceAgency": "BTP", "Mode": "Underground", "Route": None,
                          "Station": "Bank", "CrimeDate": "05/05/2015", "CrimeTime": "08:15",
                          "OffenceDesc": "Theft of mobile phone", "Borough": "City of London", "BatchID": "4"},
}


def one(table: str, **changes: str | None) -> tuple[RowOutcome, dict[str, list[dict[str, Any]]]]:
    """A realistic row of the table with some columns changed; engine and reference must agree."""
    row = {**BASE[table], **changes}
    recs, refs = run_both(table, [row])
    ref = refs[0]
    return ref, {t: [{k: _norm(v) for k, v in r.items()} for r in rows] for t, rows in ref.rows.items()}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_base_row_loads() -> None:
    for table in BASE:
        ref, _ = one(table)
        assert (ref.disp, ref.reason) == ("load", None), (table, ref.reason)


def test_mps_realistic_row() -> None:
    ref, rows = one("tblMPSCrime")
    inc, = rows["core.incident"]
    assert inc["agency_code"] == "MPS" and inc["dataset"] == "MPS" and inc["source_ref"] == "01AB123456"
    assert inc["occurred_at"] == utc(2012, 6, 15, 13, 30) and inc["occurred_precision"] == "minute"
    assert inc["gss_code"] == "E09000007" and inc["geom"] == (529000.0, 184000.0)
    assert inc["location_precision"] == "exact" and inc["dq_flags"] == ()
    crime, = rows["core.police_crime"]
    assert crime["offence_category_id"] == 1005 and crime["domestic"] is False and crime["knife"] is False


@pytest.mark.parametrize("crime_ref", [None, "", "   ", "N/A", "n/a", "NULL", "null", "-", " - ", "\u00a0", "\t"])
def test_mps_blank_crime_ref_loads_under_the_legacy_key_flagged(crime_ref: str | None) -> None:
    ref, rows = one("tblMPSCrime", CrimeRef=crime_ref)
    recid = BASE["tblMPSCrime"]["RecID"]
    assert (ref.disp, ref.reason, ref.key, ref.business_key) == ("load", None, f"RecID:{recid}", None)
    inc, = rows["core.incident"]
    assert inc["source_ref"] == f"RecID:{recid}" and inc["legacy_pk"] == recid
    assert "key_blank" in inc["dq_flags"]


@pytest.mark.parametrize(("crime_ref", "reason", "recorded"), [
    ("MP10\x00SD1", "INVALID_KEY", "MP10\\x00SD1"),
    ("MP10SD1\x00", "INVALID_KEY", "MP10SD1\\x00"),
    ("MP10\u0085SD1", "INVALID_KEY", "MP10\\x85SD1"),
    ("MP10\ufffdSD1", "INVALID_KEY", "MP10\\ufffdSD1"),
    ("MP10\tSD1", "INVALID_KEY", "MP10\\x09SD1"),
    ("\x7f", "INVALID_KEY", "\\x7f"),
    ("RecID:5", "KEY_RESERVED_PREFIX", "RecID:5"),
    (" RecID:77 ", "KEY_RESERVED_PREFIX", "RecID:77"),
])
def test_mps_crime_ref_that_cannot_be_a_key_is_quarantined(crime_ref: str, reason: str, recorded: str) -> None:
    ref, rows = one("tblMPSCrime", CrimeRef=crime_ref)
    assert (ref.disp, ref.reason, ref.fields, ref.key) == ("quarantine", reason, ("CrimeRef",), None)
    assert ref.business_key == recorded and rows["core.incident"]  # the rows are not loaded (disposition)


@pytest.mark.parametrize("crime_ref", ["  MP10SD1 ", "recid:5", "RecID5", "mp10sd1", "MP10 SD1"])
def test_mps_crime_ref_is_only_trimmed(crime_ref: str) -> None:
    ref, rows = one("tblMPSCrime", CrimeRef=crime_ref)
    assert (ref.disp, ref.key, ref.business_key) == ("load", crime_ref.strip(), crime_ref.strip())
    assert rows["core.incident"][0]["source_ref"] == crime_ref.strip()
    assert "key_blank" not in rows["core.incident"][0]["dq_flags"]


@pytest.mark.parametrize("number", [None, "", "  ", "N/A", "NULL", "-"])
def test_lfb_blank_incident_number_is_still_quarantined(number: str | None) -> None:
    """The business key IS the legacy primary key: there is nothing else to load it under."""
    ref, _ = one("tblLFBIncident", IncidentNumber=number)
    assert (ref.disp, ref.reason, ref.fields, ref.key) == ("quarantine", "BLANK_KEY", ("IncidentNumber",), None)


@pytest.mark.parametrize(("borough", "gss", "flags"), [
    ("Kensington & Chelsea", "E09000020", ()),
    ("KENSINGTON AND CHELSEA", "E09000020", ()),
    ("Royal Borough of Kingston upon Thames", "E09000021", ()),
    ("Richmond", "E09000027", ()),
    ("City of Westminster", "E09000033", ()),
    ("City of London", "E09000001", ()),
    ("London Borough of Barnet", "E09000003", ()),
    ("Heathrow", "E09000017", ("borough_heathrow",)),
    ("Westminister", "E09000033", ("borough_misspelt",)),
    ("Haringay", "E09000014", ("borough_misspelt",)),
    ("Unknown", None, ("borough_missing",)),
    ("N/A", None, ("borough_missing",)),
])
def test_mps_borough_text(borough: str, gss: str | None, flags: tuple[str, ...]) -> None:
    ref, rows = one("tblMPSCrime", Borough=borough, WardCode=None)
    inc, = rows["core.incident"]
    assert ref.disp == "load"
    assert inc["gss_code"] == gss and inc["dq_flags"] == flags


@pytest.mark.parametrize("borough", ["", "Unknown", None])
def test_mps_blank_or_unknown_borough_falls_back_to_the_ward(borough: str | None) -> None:
    _, rows = one("tblMPSCrime", Borough=borough, WardCode="E05013652")
    inc = rows["core.incident"][0]
    assert inc["gss_code"] == "E09000007" and inc["dq_flags"] == ("borough_from_ward",)


def test_mps_blank_borough_without_ward_loads_without_a_location() -> None:
    ref, rows = one("tblMPSCrime", Borough=None, WardCode=None, Easting=None, Northing=None)
    inc, = rows["core.incident"]
    assert ref.disp == "load" and inc["gss_code"] is None and inc["location_precision"] == "none"
    assert "borough_missing" in inc["dq_flags"]


def test_mps_unresolvable_borough_is_quarantined_unless_the_ward_resolves_it() -> None:
    ref, _ = one("tblMPSCrime", Borough="Narnia", WardCode="zzz")
    assert (ref.disp, ref.reason, ref.fields) == ("quarantine", "UNRESOLVED_BOROUGH", ("Borough", "WardCode"))
    ref, rows = one("tblMPSCrime", Borough="Narnia", WardCode="e05000026")
    assert ref.disp == "load" and rows["core.incident"][0]["gss_code"] == "E09000002"


@pytest.mark.parametrize("day", ["31/04/2014", "29/02/2015", "32/01/2014"])
def test_mps_impossible_date_is_quarantined(day: str) -> None:
    ref, _ = one("tblMPSCrime", CommittedDate=day)
    assert (ref.disp, ref.reason, ref.fields) == ("quarantine", "IMPOSSIBLE_DATE", ("CommittedDate", "CommittedTime"))


def test_mps_dates_and_times() -> None:
    _, rows = one("tblMPSCrime", CommittedDate="01/01/1900")
    inc = rows["core.incident"][0]
    assert inc["occurred_at"] is None and inc["occurred_precision"] == "none" and "date_placeholder" in inc["dq_flags"]
    _, rows = one("tblMPSCrime", CommittedTime="99:99")
    inc = rows["core.incident"][0]
    assert inc["occurred_at"] == utc(2012, 6, 14, 23, 0) and inc["occurred_precision"] == "day"
    _, rows = one("tblMPSCrime", CommittedDate="30/03/2014", CommittedTime="01:30")  # missing spring hour
    inc = rows["core.incident"][0]
    assert inc["occurred_at"] == utc(2014, 3, 30, 1, 30) and "dst_gap_shifted" in inc["dq_flags"]
    _, rows = one("tblMPSCrime", ReportedDT="2014-10-26 01:30:00")  # repeated autumn hour: the BST instant
    inc = rows["core.incident"][0]
    assert inc["reported_at"] == utc(2014, 10, 26, 0, 30) and "dst_overlap_earlier" in inc["dq_flags"]
    ref, _ = one("tblMPSCrime", ReportedDT="garbage")
    assert (ref.disp, ref.reason) == ("quarantine", "MALFORMED_DATETIME")


def test_mps_orphan_crime_type_loads_as_unknown() -> None:
    unknown = LOOKUPS["offence_category"][("MPS_CRIME_TYPE", "UNKNOWN")]
    ref, rows = one("tblMPSCrime", CrimeTypeID="9999")
    assert ref.disp == "load"
    assert rows["core.police_crime"][0]["offence_category_id"] == unknown
    assert "offence_unknown" in rows["core.incident"][0]["dq_flags"]


def test_mps_major_category_disagreement_is_reported() -> None:
    other = "Burglary" if MAJOR_OF_TYPE_5 != "Burglary" else "Robbery"
    _, rows = one("tblMPSCrime", MajorCat=other)
    assert "major_cat_mismatch" in rows["core.incident"][0]["dq_flags"]
    _, rows = one("tblMPSCrime", MajorCat=MAJOR_OF_TYPE_5.upper())  # case alone is no disagreement
    assert rows["core.incident"][0]["dq_flags"] == ()
    _, rows = one("tblMPSCrime", MajorCat="Something Else")
    assert "offence_major_unknown" in rows["core.incident"][0]["dq_flags"]


def test_mps_agency_grid_and_batch() -> None:
    _, rows = one("tblMPSCrime", Force="City of London Police ")
    assert rows["core.incident"][0]["agency_code"] == "COLP"
    _, rows = one("tblMPSCrime", Easting="184000", Northing="529000")
    inc = rows["core.incident"][0]
    assert inc["geom"] == (529000.0, 184000.0) and "grid_swapped" in inc["dq_flags"]
    for e, n, flag in [("0", "0", "grid_zero"), ("99999", "99999", "grid_99999"), ("abc", "1", "grid_non_numeric"),
                       ("900000", "900000", "grid_outside_london")]:
        _, rows = one("tblMPSCrime", Easting=e, Northing=n)
        inc = rows["core.incident"][0]
        assert inc["geom"] is None and flag in inc["dq_flags"] and inc["location_precision"] == "borough"
    _, rows = one("tblMPSCrime", BatchID="17")  # a FAILED batch
    assert "batch_failed" in rows["core.incident"][0]["dq_flags"]
    _, rows = one("tblMPSCrime", BatchID="22")  # a RELOADED batch: its rows without a newer copy are current
    assert rows["core.incident"][0]["dq_flags"] == ()


def test_borough_table() -> None:
    ref, rows = one("tblBorough")
    la, = rows["ref.local_authority"]
    assert la == {"gss_code": "E09000020", "name": "Kensington and Chelsea", "legacy_ons_code": "00AW",
                  "mps_code": "KC", "csp_name": "Kensington and Chelsea Community Safety Partnership",
                  "legacy_borough_id": 20, "centroid_easting": 524962, "centroid_northing": 179871}
    ref, rows = one("tblBorough", GSSCode=None)  # GSS code NULL for a real borough: from the old ONS code
    assert ref.disp == "load" and rows["ref.local_authority"][0]["gss_code"] == "E09000020"
    for bid, name in (("34", "Heathrow"), ("99", "Unknown")):
        ref, _ = one("tblBorough", BoroughID=bid, BoroughName=name, GSSCode=None, OldONSCode=None)
        assert (ref.disp, ref.reason) == ("filter", "PSEUDO_AREA")
    ref, _ = one("tblBorough", OldONSCode="00AA")
    assert (ref.disp, ref.reason) == ("quarantine", "GSS_CONFLICT")
    ref, _ = one("tblBorough", GSSCode=None, OldONSCode=None)
    assert (ref.disp, ref.reason) == ("quarantine", "NOT_A_LONDON_AUTHORITY")


def test_areas() -> None:
    ref, _ = one("tblWard", Vintage="2003")
    assert (ref.disp, ref.reason) == ("quarantine", "BAD_VINTAGE")
    _, rows = one("tblWard", BoroughName="Royal Borough of Kensington & Chelsea")
    assert rows["ref.ward"][0]["gss_code"] == "E09000020" and rows["ref.ward"][0]["vintage"] == 2014
    _, rows = one("tblLSOA", BoroughID="34")
    assert rows["ref.lsoa"][0]["gss_code"] == "E09000017"
    _, rows = one("tblLSOA", BoroughID="99")
    assert rows["ref.lsoa"][0]["gss_code"] is None
    ref, _ = one("tblLSOA", BoroughID="150")
    assert (ref.disp, ref.reason) == ("quarantine", "UNRESOLVED_BOROUGH")


def test_codes() -> None:
    _, rows = one("tblCrimeType", MajorCat="violence against  the person", Retired=None)
    cat = rows["ref.offence_category"][0]
    majors = LOOKUPS["offence_category"]
    assert cat["parent_id"] == majors[("MPS_MAJOR_CATEGORY", "VIOLENCE AGAINST THE PERSON")]
    assert cat["code"] == 5 and cat["retired"] is False and cat["violent"] is True
    _, rows = one("tblCrimeType", MajorCat="Fraud & Forgery")
    assert rows["ref.offence_category"][0]["parent_id"] == majors[("MPS_MAJOR_CATEGORY", "FRAUD OR FORGERY")]
    _, rows = one("tblLookupCode", Code="1")
    assert rows["ref.code_value"][0]["code"] == "01"
    _, rows = one("tblLookupCode", CodeType="LFB_GROUP", Code="1")
    assert rows["ref.code_value"][0]["code"] == "1"
    _, rows = one("tblLookupCode", Descr="N/A")
    assert rows["ref.code_value"][0]["label"] == "N/A"
    ref, _ = one("tblHospital", ISTVStart="31/04/2014")
    assert (ref.disp, ref.reason) == ("quarantine", "IMPOSSIBLE_DATE")
    _, rows = one("tblHospital", ISTVStart="01/01/1900", Active=None)
    site = rows["ref.ed_site"][0]
    assert site["istv_from"] is None and site["active"] is False and site["gss_code"] == "E09000022"
    _, rows = one("tblImportLog", Status=" failed ")
    assert rows["ref.import_batch"][0]["status"] == "FAILED"
    ref, _ = one("tblImportLog", Status="bogus")
    assert (ref.disp, ref.reason) == ("quarantine", "BAD_STATUS")


def test_no_heathrow_spelling_ever_widens_a_grant() -> None:
    _, tm = BY_TABLE["tblUser"]
    never = set(tm.derive["areas"].params["never_widen"])
    heathrow = {r["alias_norm"] for r in _csv("la_alias.csv") if r["flag"] == "heathrow"}
    assert heathrow <= never
    for spelling in ("Heathrow", "heathrow airport", "London Heathrow", "London  Heathrow Airport"):
        _, rows = one("tblUser", AllowedBoroughs=f"Camden,{spelling}")
        assert {g["gss_code"] for g in rows["sec.access_grant"]} == {"E09000007"}, spelling
        assert "borough_not_widened" in rows["sec.app_user"][0]["dq_flags"]


def test_users_and_grants() -> None:
    _, rows = one("tblUser")
    user, = rows["sec.app_user"]
    assert user["org_id"] == 7 and user["can_see_points"] is True and "password" not in str(user).lower()
    grants = rows["sec.access_grant"]
    assert {(g["dataset"], g["gss_code"]) for g in grants} == {(d, "E09000007") for d in ("MPS", "LFB", "LAS", "TRANSPORT")}
    assert all(g["show_points"] is True and g["user_id"] == 42 for g in grants)
    _, rows = one("tblUser", CanSeeISTV="1", AllowedBoroughs="ALL")
    assert {(g["dataset"], g["gss_code"]) for g in rows["sec.access_grant"]} == {
        (d, None) for d in ("MPS", "LFB", "LAS", "TRANSPORT", "ISTV")}
    _, rows = one("tblUser", AllowedBoroughs="Camden, Kensington & Chelsea,Heathrow, Narnia")
    assert {g["gss_code"] for g in rows["sec.access_grant"]} == {"E09000007", "E09000020"}
    assert {"borough_not_widened", "borough_unmatched"} <= set(rows["sec.app_user"][0]["dq_flags"])
    _, rows = one("tblUser", OrgID="500")  # orphan
    assert rows["sec.app_user"][0]["org_id"] is None and "org_orphan" in rows["sec.app_user"][0]["dq_flags"]
    assert rows["sec.access_grant"] == []
    ref, _ = one("tblUser", Login="  ")
    assert (ref.disp, ref.reason) == ("quarantine", "MISSING_LOGIN")


def test_organisation() -> None:
    _, rows = one("tblOrganisation", BoroughName=None, OrgType="police ")
    org, = rows["sec.organisation"]
    assert org["gss_code"] is None and org["org_type"] == "Police"
    ref, _ = one("tblOrganisation", BoroughName="Narnia")
    assert (ref.disp, ref.reason) == ("quarantine", "UNRESOLVED_BOROUGH")


def test_istv() -> None:
    ref, rows = one("tblISTVAssault")
    inc, = rows["core.incident"]
    ed, = rows["istv.ed_assault"]
    assert inc["agency_code"] == "ED" and inc["dataset"] == "ISTV" and inc["gss_code"] == "E09000030"
    assert inc["location_precision"] == "exact" and inc["geom"] == (534500.0, 181300.0)
    assert ed["ods_site_code"] == fx.SITES[3] and ed["reporting_month"] == date(2014, 3, 1)
    assert ed["assault_method"] == "01" and ed["location_type"] == "02" and ed["geocode_confidence"] == 80
    ref, _ = one("tblISTVAssault", Method="42")
    assert (ref.disp, ref.reason, ref.fields) == ("quarantine", "UNKNOWN_CODE", ("Method",))
    _, rows = one("tblISTVAssault", Method="1", LocType="99")
    assert rows["istv.ed_assault"][0]["assault_method"] == "01" and rows["istv.ed_assault"][0]["location_type"] == "99"
    ref, rows = one("tblISTVAssault", GeoLevel="9", BoroughID=None)
    inc = rows["core.incident"][0]
    assert ref.disp == "load" and inc["gss_code"] is None and inc["geom"] is None
    assert inc["location_precision"] == "none" and "geo_level_none" in inc["dq_flags"]
    _, rows = one("tblISTVAssault", GeoLevel="4")
    assert rows["core.incident"][0]["location_precision"] == "lsoa"
    _, rows = one("tblISTVAssault", BoroughID="34", Easting=None, Northing=None)
    inc = rows["core.incident"][0]
    assert inc["gss_code"] == "E09000017" and "borough_heathrow" in inc["dq_flags"]
    assert inc["location_precision"] == "borough"
    ref, _ = one("tblISTVAssault", GeoLevel="7")
    assert (ref.disp, ref.reason) == ("quarantine", "UNKNOWN_GEO_LEVEL")
    ref, _ = one("tblISTVAssault", BatchID="11")  # a RELOADED (superseded) batch
    assert (ref.disp, ref.reason) == ("filter", "SUPERSEDED_SUBMISSION")
    ref, _ = one("tblISTVAssault", HospitalID="77")
    assert (ref.disp, ref.reason) == ("quarantine", "UNKNOWN_HOSPITAL")
    _, rows = one("tblISTVAssault", SiteCode="RXX01", AssaultDate="09/03/2014")
    assert {"site_code_stale", "assault_after_arrival"} <= set(rows["core.incident"][0]["dq_flags"])
    _, rows = one("tblISTVAssault", LocDesc="NHS 943 476 5919 outside Oxford Circus tube")
    assert rows["istv.ed_assault"][0]["location_text_clean"] == "outside Oxford Circus tube"
    assert "pid_removed" in rows["core.incident"][0]["dq_flags"]
    ref, _ = one("tblISTVAssault", PeriodStart="31/04/2014")
    assert (ref.disp, ref.reason) == ("quarantine", "BAD_PERIOD")


def test_istv_never_lets_an_identifier_through() -> None:
    rows = [{**BASE["tblISTVAssault"], "ISTVID": str(i), "LocDesc": text}
            for i, text in enumerate(legacy_rows.LOC_DESCS)]
    recs, refs = run_both("tblISTVAssault", rows)
    for ref in refs:
        clean = ref.rows["istv.ed_assault"][0]["location_text_clean"] or ""
        for secret in ("943 476 5919", "Acacia", "Patel", "6AN", "John", "Smith", "1980", "07700"):
            assert secret not in clean


def test_lfb_las_transport() -> None:
    _, rows = one("tblLFBIncident")
    inc, = rows["core.incident"]
    fire, = rows["core.fire_incident"]
    assert inc["geom"] == (529050.0, 179650.0) and inc["location_precision"] == "rounded"
    assert inc["dq_flags"] == () and inc["gss_code"] == "E09000033" and inc["occurred_precision"] == "second"
    assert fire["notional_cost"] == Decimal("326.0000") and fire["first_pump_secs"] == 245
    _, rows = one("tblLFBIncident", Easting_m="529012", Northing_m="179634")
    assert rows["core.incident"][0]["location_precision"] == "exact"
    _, rows = one("tblLFBIncident", NotionalCost="1234.5678")
    assert rows["core.fire_incident"][0]["notional_cost"] == Decimal("1234.5678")
    ref, _ = one("tblLFBIncident", NotionalCost="\u00a3300")
    assert (ref.disp, ref.reason) == ("quarantine", "MALFORMED_MONEY")
    _, rows = one("tblLASAssault", GridRef="545000 184000", AlcoholFlag="U")
    assert rows["core.incident"][0]["geom"] == (545000.0, 184000.0)
    assert rows["core.ambulance_assault"][0]["alcohol"] is None
    _, rows = one("tblLASAssault", GridRef="N/A", CallDT=None)
    inc = rows["core.incident"][0]
    assert inc["geom"] is None and inc["occurred_precision"] == "none" and inc["location_precision"] == "borough"
    assert rows["core.incident"][0]["gss_code"] == "E09000002"
    _, rows = one("tblTransportCrime", SourceAgency="btp ")
    assert rows["core.incident"][0]["agency_code"] == "BTP" and rows["core.transport_crime"][0]["route"] is None
    assert rows["core.incident"][0]["location_precision"] == "borough"
    ref, _ = one("tblTransportCrime", SourceAgency="TFL")
    assert (ref.disp, ref.reason) == ("quarantine", "UNKNOWN_AGENCY")
