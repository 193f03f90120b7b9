"""Every anomaly kind the generator injects, with its exact definition.

The manifest counts, for every table, the rows carrying each kind (one row can carry
several).  A definition is written so that it can be recounted with SQL on the generated
database, independently of the generator; ``tests/legacy`` does exactly that.  Shared
terms used below:

- ``T(x)``: ``x`` with leading and trailing spaces removed; ``RT(x)``: trailing only.
- *no-value text*: a non-NULL ``x`` with ``T(x)`` in ``''``, ``'NULL'``, ``'N/A'``,
  ``'n/a'``, ``'-'`` (so ``''`` and whitespace too).  SQL ``NULL`` itself is not an
  anomaly in a nullable column, except where a kind says so.
- *official name*: one of the 33 ONS borough names of ``Boroughs.csv``, compared
  byte for byte (case- and space-sensitive).
- *borough normal form* ``N(x)``: ``UPPER(T(x))`` with ``&`` → ``AND``, runs of spaces
  collapsed, and a leading ``ROYAL BOROUGH OF `` or ``LONDON BOROUGH OF `` removed;
  ``CITY OF WESTMINSTER`` → ``WESTMINSTER``; the short forms ``KINGSTON``, ``RICHMOND``
  and ``BARKING`` → their boroughs.  A text is *resolvable* when ``N(x)`` is the upper
  case of an official name (after those rules).
- *one slip from* a name ``o``: a text obtained from ``o`` by substituting, inserting or
  deleting one character, or by swapping two adjacent characters (edit distance 1, with
  transpositions).
- *borough text classes* (for each free-text borough column): **variant** = not an
  official name but resolvable; **pseudo** = ``N(x)`` in ``HEATHROW``, ``UNKNOWN``;
  **blank** = NULL or no-value text; **unmatched** = none of official / variant /
  pseudo / blank, split into **misspelt** = unmatched and ``N(x)`` is one slip from the
  upper case of an official name (a misspelling of a real borough: the migration's alias
  table should resolve it to that borough and load it flagged ``borough_misspelt``) and
  **not London** = unmatched and not misspelt (places outside London, garbage: nothing
  should resolve it).
- *ward resolvable*: ``T(WardCode)`` equals some ``T(tblWard.WardCode)``.
- *London box*: easting 503,568–561,957 and northing 155,851–200,934.
- *grid classes* for a pair (E, N) of texts: **missing** = both NULL or no-value text;
  **zero** = ``T(E)`` or ``T(N)`` is ``0``; **99999** = ``T(E)`` or ``T(N)`` is ``99999``;
  **non-numeric** = a side that is not no-value text contains a character other than a
  digit; **swapped** = both all digits, E within the northing range and N within the
  easting range; **outside** = both all digits, none of the above, point not in the box.
- *spring gap*: local times 01:00–01:59 on the last Sunday of March (do not exist);
  *autumn repeat*: 01:00–01:59 on the last Sunday of October (happen twice).
- *cp1252 text*: contains any of ’ ‘ – £ é è ô “ ”.
- dates ``dd/mm/yyyy``: *placeholder* = ``01/01/1900`` or ``00/00/0000``;
  *impossible* = well-formed, month 1–12, but the day does not exist in that month
  (``31/04/2014``, ``29/02/2015`` …).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    table: str
    definition: str


def _borough_kinds(prefix: str, table: str, column: str, *, ward: bool) -> dict[str, Kind]:
    kinds = {
        f"{prefix}.borough_variant": Kind(table, f"{column} is a borough *variant* (not official, resolvable)."),
        f"{prefix}.borough_pseudo": Kind(table, f"{column} is *pseudo* (N = HEATHROW or UNKNOWN)."),
        f"{prefix}.borough_blank": Kind(table, f"{column} is NULL or no-value text."),
        f"{prefix}.borough_misspelt": Kind(
            table, f"{column} is *misspelt* (one slip from an official name): it should resolve to that "
            "borough, flagged borough_misspelt."),
        f"{prefix}.borough_not_london": Kind(
            table, f"{column} is *not London* (outside London or garbage): it should resolve to no borough."),
    }
    if ward:
        kinds[f"{prefix}.borough_not_london_no_ward"] = Kind(
            table, f"{column} is *not London* and WardCode is not ward resolvable (nothing places the row "
            "in a borough).")
    return kinds


def _ward_kinds(prefix: str, table: str) -> dict[str, Kind]:
    return {
        f"{prefix}.ward_unknown": Kind(table, "WardCode is not NULL, not no-value text, and not ward resolvable."),
        f"{prefix}.ward_no_value_text": Kind(table, "WardCode is no-value text."),
    }


KINDS: dict[str, Kind] = {
    # ---------------------------------------------------------------- tblBorough
    "borough.gss_null": Kind("tblBorough", "BoroughID 1–33 (a real authority) with GSSCode NULL."),
    "borough.pseudo": Kind("tblBorough", "BoroughID 34 (Heathrow) or 99 (Unknown)."),
    "borough.name_variant": Kind("tblBorough", "BoroughID 1–33 whose BoroughName is not the official name."),
    # ---------------------------------------------------------------- tblWard
    "ward.old_style_code": Kind("tblWard", "WardCode does not start with 'E05' (the 2002 vintage, e.g. 00AAFA)."),
    "ward.borough_variant": Kind("tblWard", "BoroughName is a borough variant (not official, resolvable)."),
    "ward.duplicate_row": Kind("tblWard", "Every row whose (WardCode, Vintage) occurs in more than one row (table has no key)."),
    # ---------------------------------------------------------------- tblCrimeType
    "crimetype.minorcat_case_duplicate": Kind(
        "tblCrimeType", "Another row has the same UPPER(MinorCat) but a byte-different MinorCat."),
    "crimetype.retired": Kind("tblCrimeType", "Retired = 1."),
    "crimetype.hocode_blank": Kind("tblCrimeType", "HOCode is NULL or T(HOCode) = ''."),
    # ---------------------------------------------------------------- tblHospital
    "hospital.closed_still_active": Kind(
        "tblHospital", "The ED closed (date in the manifest's hospital_closures; external knowledge, not in "
        "the row) but Active = 1; no ISTV row arrives on or after the closure date."),
    "hospital.istvstart_null": Kind("tblHospital", "ISTVStart IS NULL (never shared ISTV data)."),
    # ---------------------------------------------------------------- tblLookupCode
    "lookup.na_row": Kind("tblLookupCode", "T(Descr) = 'N/A'."),
    "lookup.unpadded_code": Kind(
        "tblLookupCode", "CodeType in ISTV_METHOD, ISTV_LOCATION and T(Code) is a single character."),
    # ---------------------------------------------------------------- tblOrganisation
    "org.name_cp1252": Kind("tblOrganisation", "OrgName is cp1252 text."),
    "org.borough_variant": Kind("tblOrganisation", "BoroughName is a borough variant."),
    "org.borough_misspelt": Kind(
        "tblOrganisation", "BoroughName is *misspelt*: it should resolve to that borough, flagged borough_misspelt."),
    "org.borough_not_london": Kind("tblOrganisation", "BoroughName is *not London*: it should resolve to no borough."),
    # ---------------------------------------------------------------- tblUser
    "user.password_md5": Kind("tblUser", "Password is exactly 32 lower-case hex digits (unsalted MD5)."),
    "user.password_plaintext": Kind("tblUser", "Password is not NULL and not 32 lower-case hex digits."),
    "user.orphan_org": Kind("tblUser", "OrgID matches no tblOrganisation.OrgID."),
    "user.allowed_all": Kind("tblUser", "UPPER(T(AllowedBoroughs)) = 'ALL'."),
    "user.allowed_heathrow": Kind(
        "tblUser", "A comma-separated token of AllowedBoroughs has N(token) = 'HEATHROW'."),
    "user.allowed_variant": Kind(
        "tblUser", "A token T(token) of AllowedBoroughs is a borough variant (not official, resolvable)."),
    "user.allowed_misspelt": Kind(
        "tblUser", "A non-empty token T(token) of AllowedBoroughs (not the whole value ALL) is *misspelt*: "
        "it should grant that borough (flagged borough_misspelt)."),
    "user.allowed_unmatched": Kind(
        "tblUser", "A non-empty token T(token) of AllowedBoroughs (not the whole value ALL) is *not London* "
        "(neither official, variant, pseudo nor misspelt): it grants nothing."),
    # ---------------------------------------------------------------- tblImportLog
    "importlog.failed": Kind("tblImportLog", "Status = 'FAILED'."),
    "importlog.reloaded": Kind("tblImportLog", "Status = 'RELOADED'."),
    "importlog.rowcount_mismatch": Kind(
        "tblImportLog", "RowCount differs from the number of rows with this BatchID in the dataset's table "
        "(MPS tblMPSCrime, LFB tblLFBIncident, LAS tblLASAssault, ISTV tblISTVAssault, "
        "TRANSPORT tblTransportCrime)."),
    "importlog.loadedon_dst_repeated": Kind("tblImportLog", "LoadedOn is in an autumn repeat hour."),
    "importlog.loadedon_dst_gap": Kind("tblImportLog", "LoadedOn is in a spring gap hour."),
    # ---------------------------------------------------------------- tblMPSCrime
    "mps.duplicate_crimeref": Kind(
        "tblMPSCrime", "RT(CrimeRef) is not blank and occurs in more than one row."),
    "mps.duplicate_only_after_trim": Kind(
        "tblMPSCrime", "Member of a duplicate group (by RT(CrimeRef)) whose raw CrimeRef values are not all "
        "byte-identical (they collide only after trimming trailing spaces)."),
    "mps.duplicate_superseded": Kind(
        "tblMPSCrime", "Member of a duplicate group that is not its winner; the winner is the row with the "
        "highest BatchID among rows whose batch Status is not FAILED, ties broken by highest RecID."),
    "mps.failed_batch_row": Kind("tblMPSCrime", "BatchID is a tblImportLog batch with Status = 'FAILED'."),
    "mps.crimeref_trailing_space": Kind("tblMPSCrime", "CrimeRef is not blank and ends with a space."),
    "mps.blank_crimeref": Kind("tblMPSCrime", "CrimeRef is NULL or T(CrimeRef) = '' (blank business key)."),
    "mps.orphan_crimetype": Kind("tblMPSCrime", "CrimeTypeID matches no tblCrimeType row."),
    "mps.majorcat_mismatch": Kind(
        "tblMPSCrime", "CrimeTypeID matches a tblCrimeType row and RT(MajorCat) is NULL or byte-different "
        "from that row's RT(MajorCat)."),
    "mps.retired_crimetype": Kind("tblMPSCrime", "CrimeTypeID matches a tblCrimeType row with Retired = 1."),
    "mps.committed_date_placeholder": Kind("tblMPSCrime", "T(CommittedDate) is a placeholder date."),
    "mps.committed_date_impossible": Kind("tblMPSCrime", "CommittedDate is an impossible date."),
    "mps.committed_time_unknown": Kind("tblMPSCrime", "T(CommittedTime) = '99:99'."),
    "mps.dst_gap_committed": Kind(
        "tblMPSCrime", "CommittedDate is a last Sunday of March and CommittedTime is 01:00–01:59."),
    "mps.reported_dst_repeated": Kind("tblMPSCrime", "ReportedDT is in an autumn repeat hour."),
    "mps.reported_dst_gap": Kind("tblMPSCrime", "ReportedDT is in a spring gap hour."),
    "mps.lastmodified_dst_repeated": Kind("tblMPSCrime", "LastModified is in an autumn repeat hour."),
    "mps.revised": Kind("tblMPSCrime", "LastModified IS NOT NULL (revised in place since 2012)."),
    "mps.grid_missing": Kind("tblMPSCrime", "(Easting, Northing) is grid class *missing*."),
    "mps.grid_zero": Kind("tblMPSCrime", "(Easting, Northing) is grid class *zero*."),
    "mps.grid_99999": Kind("tblMPSCrime", "(Easting, Northing) is grid class *99999*."),
    "mps.grid_non_numeric": Kind("tblMPSCrime", "(Easting, Northing) is grid class *non-numeric*."),
    "mps.grid_swapped": Kind("tblMPSCrime", "(Easting, Northing) is grid class *swapped*."),
    "mps.grid_outside_london": Kind("tblMPSCrime", "(Easting, Northing) is grid class *outside*."),
    **_borough_kinds("mps", "tblMPSCrime", "Borough", ward=True),
    **_ward_kinds("mps", "tblMPSCrime"),
    "mps.location_no_value_text": Kind("tblMPSCrime", "Location is no-value text."),
    "mps.location_cp1252": Kind("tblMPSCrime", "Location is cp1252 text."),
    "mps.domestic_flag_alt": Kind("tblMPSCrime", "T(DomesticFlag) is one of 1, 0, T, F."),
    "mps.domestic_flag_unknown": Kind("tblMPSCrime", "DomesticFlag is NULL, or T(DomesticFlag) is 'U' or ''."),
    "mps.knife_flag_null": Kind("tblMPSCrime", "KnifeFlag IS NULL."),
    "mps.outcome_no_value_text": Kind("tblMPSCrime", "Outcome is no-value text."),
    # ---------------------------------------------------------------- tblISTVAssault
    "istv.pid_name": Kind(
        "tblISTVAssault", "LocDesc (case-sensitive) contains 'Mr ', 'Mrs ', 'Ms ' or 'Miss ' followed by a "
        "capital letter, or 'patient ' / 'pt name ' followed by two capitalised words."),
    "istv.pid_nhs_number": Kind("tblISTVAssault", "LocDesc contains digits in the pattern nnn nnn nnnn."),
    "istv.pid_dob": Kind("tblISTVAssault", "LocDesc contains a date nn/nn/nnnn."),
    "istv.pid_phone": Kind(
        "tblISTVAssault", "LocDesc contains a UK phone number '020 nnnn nnnn' or '07nnn nnnnnn'."),
    "istv.pid_postcode": Kind(
        "tblISTVAssault", "LocDesc contains a full postcode: a letter or digit, a space, a digit and two "
        "capital letters, then a non-letter or the end (case-sensitive)."),
    "istv.pid_address": Kind(
        "tblISTVAssault", "LocDesc contains a house number, one capitalised word and a street suffix "
        "(Road, Street, Avenue, Close, Grove, Gardens, Lane, Way, Crescent, Place, Terrace)."),
    "istv.method_unpadded": Kind("tblISTVAssault", "T(Method) is a single character."),
    "istv.method_unknown": Kind("tblISTVAssault", "T(Method) = '99'."),
    "istv.method_invalid": Kind(
        "tblISTVAssault", "T(Method) is not blank and neither T(Method) nor '0' + T(Method) is a "
        "T(Code) of tblLookupCode with CodeType 'ISTV_METHOD'."),
    "istv.methodother_no_value_text": Kind("tblISTVAssault", "MethodOther is no-value text."),
    "istv.loctype_unpadded": Kind("tblISTVAssault", "T(LocType) is a single character."),
    "istv.loctype_unknown": Kind("tblISTVAssault", "T(LocType) = '99'."),
    "istv.loctype_invalid": Kind(
        "tblISTVAssault", "As method_invalid, for LocType and CodeType 'ISTV_LOCATION'."),
    "istv.assault_after_arrival": Kind(
        "tblISTVAssault", "AssaultDate is a valid date, AssaultTime a valid HH:MM, and that date+time is "
        "later than ArrivalDT."),
    "istv.assault_time_unknown": Kind("tblISTVAssault", "T(AssaultTime) = '99:99'."),
    "istv.stale_sitecode": Kind(
        "tblISTVAssault", "T(SiteCode) is byte-different from the hospital's T(tblHospital.SiteCode)."),
    "istv.geolevel_none": Kind("tblISTVAssault", "GeoLevel = 9 (no location: Easting, Northing, BoroughID NULL)."),
    "istv.superseded_submission": Kind(
        "tblISTVAssault", "Rows with the same HospitalID, PeriodStart and PeriodEnd exist in a later "
        "(higher) BatchID: the hospital re-submitted the whole period."),
    "istv.resubmission": Kind(
        "tblISTVAssault", "Rows with the same HospitalID, PeriodStart and PeriodEnd exist in an earlier "
        "(lower) BatchID."),
    "istv.locdesc_cp1252": Kind("tblISTVAssault", "LocDesc is cp1252 text."),
    "istv.arrival_dst_repeated": Kind("tblISTVAssault", "ArrivalDT is in an autumn repeat hour."),
    "istv.arrival_dst_gap": Kind("tblISTVAssault", "ArrivalDT is in a spring gap hour."),
    # ---------------------------------------------------------------- tblLFBIncident
    **_borough_kinds("lfb", "tblLFBIncident", "BoroughName", ward=True),
    "lfb.borough_upper_case": Kind(
        "tblLFBIncident", "BoroughName is byte-equal to UPPER(BoroughName) and N(BoroughName) is the upper "
        "case of an official name (the upper-case style of older rows)."),
    **_ward_kinds("lfb", "tblLFBIncident"),
    "lfb.exact_coords_null": Kind("tblLFBIncident", "Easting_m IS NULL or Northing_m IS NULL."),
    "lfb.postcode_district_only": Kind(
        "tblLFBIncident", "T(Postcode) is a postcode district only: letters then a digit, optionally one more "
        "digit or letter, no space (e.g. SE15, W1D)."),
    "lfb.postcode_null": Kind("tblLFBIncident", "Postcode IS NULL."),
    "lfb.propertytype_cp1252": Kind("tblLFBIncident", "PropertyType is cp1252 text."),
    "lfb.time_no_seconds": Kind("tblLFBIncident", "RT(TimeOfCall) is HH:MM (5 characters, no seconds)."),
    "lfb.first_pump_null": Kind("tblLFBIncident", "FirstPumpSecs IS NULL."),
    "lfb.cost_sub_penny": Kind(
        "tblLFBIncident", "NotionalCost has a non-zero third or fourth decimal place (exact 4-dp money)."),
    "lfb.call_dst_gap": Kind("tblLFBIncident", "DateOfCall is a last Sunday of March and TimeOfCall 01:00–01:59."),
    "lfb.call_dst_repeated": Kind(
        "tblLFBIncident", "DateOfCall is a last Sunday of October and TimeOfCall 01:00–01:59."),
    # ---------------------------------------------------------------- tblLASAssault
    **_borough_kinds("las", "tblLASAssault", "Borough", ward=True),
    **_ward_kinds("las", "tblLASAssault"),
    "las.gridref_space": Kind("tblLASAssault", "T(GridRef) is 'E N': digits, one space, digits."),
    "las.gridref_no_value": Kind("tblLASAssault", "GridRef is NULL or no-value text (mostly 'N/A')."),
    "las.gridref_zero": Kind("tblLASAssault", "GridRef parses (comma or space) to a pair of grid class *zero*."),
    "las.gridref_swapped": Kind("tblLASAssault", "GridRef parses to a pair of grid class *swapped*."),
    "las.gridref_outside_london": Kind("tblLASAssault", "GridRef parses to a pair of grid class *outside*."),
    "las.alcohol_flag_unknown": Kind("tblLASAssault", "AlcoholFlag is NULL, or T(AlcoholFlag) is 'U' or ''."),
    "las.calldt_dst_repeated": Kind("tblLASAssault", "CallDT is in an autumn repeat hour."),
    "las.calldt_dst_gap": Kind("tblLASAssault", "CallDT is in a spring gap hour."),
    "las.updated": Kind("tblLASAssault", "UpdatedOn IS NOT NULL (changed in place after load)."),
    # ---------------------------------------------------------------- tblTransportCrime
    **_borough_kinds("transport", "tblTransportCrime", "Borough", ward=False),
    "transport.route_no_value_text": Kind("tblTransportCrime", "Route is no-value text."),
    "transport.station_no_value_text": Kind("tblTransportCrime", "Station is no-value text."),
    "transport.crime_date_placeholder": Kind("tblTransportCrime", "T(CrimeDate) is a placeholder date."),
    "transport.crime_date_impossible": Kind("tblTransportCrime", "CrimeDate is an impossible date."),
    "transport.crime_time_unknown": Kind("tblTransportCrime", "T(CrimeTime) = '99:99'."),
    "transport.crime_dst_gap": Kind(
        "tblTransportCrime", "CrimeDate is a last Sunday of March and CrimeTime 01:00–01:59."),
    "transport.offence_cp1252": Kind("tblTransportCrime", "OffenceDesc is cp1252 text."),
}

#: Kinds that must be present (count > 0) in every generated database, even at the
#: smallest scales the tests use; the rest may legitimately be absent at tiny scales.
OPTIONAL_AT_SMALL_SCALE: frozenset[str] = frozenset()


def kinds_of(table: str) -> list[str]:
    return [name for name, k in KINDS.items() if k.table == table]
