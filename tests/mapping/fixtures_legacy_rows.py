"""Hostile synthetic legacy rows, one generator per legacy table.

Written from the data dictionary's quirks (not from the legacy generator, which the
migration must never share lists with): every "no value" spelling, placeholder and
impossible dates, DST gap/overlap times, bad grid references, borough spelling variants,
orphan ids, unknown codes, blank keys, Windows-1252 characters, trailing spaces.  Values
are text or None, as the extractor hands them over (:mod:`migration.db.codec`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

Row = dict[str, str | None]

NO_VALUE = [None, "", "   ", "NULL", "N/A", "n/a", "-", " - ", "\t", "\u00a0"]

BOROUGHS = [
    "Kensington & Chelsea", "Kensington And Chelsea", "KENSINGTON AND CHELSEA", "Royal Borough of Kingston upon Thames",
    "Kingston", "Richmond", "City of Westminster", "London Borough of Barnet", "Heathrow", "HEATHROW ", "Unknown",
    "UNKNOWN", "City of London", "Camden ", " camden", "Hammersmith & Fulham", "Barking", "Westminister", "Haringay",
    "Kensington  &  Chelsea", "kensington\u00a0and chelsea", "Tower Hamlets", "Waltham Forest", "Richmond upon Thames",
    "Barking and Dagenham", "Narnia", "Surrey", "Out of force", "Camden,", "Westminster", "Sutton", "Croydon",
] + NO_VALUE

WARD_CODES = ["E05000026", "e05000026", "E05013652", "00AAFA", "00AWGB", " E05000345 ", "E05999999", "zzz"] + NO_VALUE[:4]

GOOD_DATES = ["15/06/2012", "01/03/2014", "31/12/2015", "29/02/2016", "30/03/2014", "26/10/2014", "27/03/2011"]
BAD_DATES = ["31/04/2014", "29/02/2015", "32/01/2014", "15/13/2014", "00/00/0000", "01/01/1900", "2014-01-01",
             "1/2/2014", "15/06/1899", "15/06/2100", "abc"] + NO_VALUE
TIMES = ["00:00", "12:34", "23:59", "99:99", "01:30", "01:30:15", "24:00", "1:30", "ab:cd", "12:60", "01:00",
         "02:00", "23:59:59"] + NO_VALUE[:4]
DATETIMES = ["2014-03-30 01:30:00", "2014-10-26 01:30:00", "2014-10-26 01:30:00.123000", "2014-03-30 02:00:00",
             "2012-06-15 14:05:09", "2015-12-31 23:59:59", "1899-12-31 23:00:00", "2014-02-30 00:00:00",
             "garbage", "2014-03-30T01:30", "2011-03-27 01:59:59"] + NO_VALUE[:4]
FLAGS = ["Y", "N", "U", "", "1", "0", "T", "F", "y", " Y ", "x", "Yes", None]
BITS = ["1", "0", None, "2", "True", "false"]
MAJOR_CATS = ["Violence Against the Person", "VIOLENCE AGAINST THE PERSON", "Theft & Handling", "Theft and Handling",
              "Burglary", "Criminal  Damage", "Fraud and Forgery", "Drugs", "Robbery", "Other Notifiable Offences",
              "Sexual Offences", "Something Else"] + NO_VALUE[:3]
LOC_DESCS = [
    "Black Lion pub on Commercial Road", "outside his home at 14 Acacia Road",
    "NHS 943 476 5919 outside Oxford Circus tube", "Mrs Patel's shop, Mile End Road E1 6AN",
    "outside Tesco\u2019s on Commercial Rd, pt John Smith DOB 01/02/1980 tel 07700 900123",
    "caf\u00e9 \u2013 \u00a35 deal, Brixton", "bus stop", "at home", "John Smith", "N/A", "", None, "   ",
]


def _grid(rnd: random.Random) -> tuple[str | None, str | None]:
    e = str(rnd.randint(498_000, 567_000))
    n = str(rnd.randint(150_000, 206_000))
    return rnd.choice([
        (e, n), (e, n), (e, n), (n, e), ("0", "0"), ("99999", "99999"), ("0", n), (e, "99999"),
        ("abc", n), (None, None), (e, None), ("530000.5", "180000.25"), ("900000", "900000"),
        (" 530000 ", "180000 "), ("-530000", "180000"), ("530000", "N/A"),
    ])


def _date(rnd: random.Random) -> str | None:
    if rnd.random() < 0.5:
        return f"{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/{rnd.randint(2007, 2016)}"
    return rnd.choice(GOOD_DATES + BAD_DATES)


def _datetime(rnd: random.Random) -> str | None:
    if rnd.random() < 0.5:
        return (f"{rnd.randint(2007, 2016)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} "
                f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}")
    return rnd.choice(DATETIMES)


def _time(rnd: random.Random) -> str | None:
    if rnd.random() < 0.4:
        return f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}"
    return rnd.choice(TIMES)


def _key(rnd: random.Random, good: str) -> str | None:
    return rnd.choice([good, good, good, good, good + "  ", f" {good}", None, "", "   ", "N/A"])


def _batch(rnd: random.Random) -> str | None:
    return rnd.choice([str(rnd.randint(1, 300)), str(rnd.randint(1, 300)), "999", None, "abc"])


def _borough_id(rnd: random.Random) -> str | None:
    return rnd.choice([str(rnd.randint(1, 33)), str(rnd.randint(1, 33)), "34", "99", "150", "0", "abc", None, " 7 "])


# --------------------------------------------------------------------------- reference tables
def tbl_borough(rnd: random.Random, n: int) -> list[Row]:
    rows: list[Row] = []
    letters = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "IOV"]
    ons = ["00A" + c for c in letters] + ["00B" + c for c in letters]
    for i in range(n):
        bid = i % 35 + 1
        if bid == 34:
            rows.append({"BoroughID": "34", "BoroughName": "Heathrow", "OldONSCode": None, "GSSCode": None,
                         "MPSCode": "HT"})
            continue
        if bid == 35:
            rows.append({"BoroughID": "99", "BoroughName": "Unknown", "OldONSCode": None, "GSSCode": None,
                         "MPSCode": rnd.choice([None, "XX"])})
            continue
        gss = f"E090000{bid:02d}"
        rows.append({
            "BoroughID": rnd.choice([str(bid), str(bid), str(rnd.randint(1, 120)), "abc"]),
            "BoroughName": rnd.choice(BOROUGHS),
            "OldONSCode": rnd.choice([ons[bid - 1], ons[bid - 1], ons[bid - 1].lower(), ons[(bid + 3) % 33], "ZZZZ",
                                      None, "", "NULL"]),
            "GSSCode": rnd.choice([gss, gss, gss + " ", gss.lower(), None, "", "N/A", "E09000034", "E08000001",
                                   f"E090000{(bid + 1) % 33 + 1:02d}"]),
            "MPSCode": rnd.choice(["AA", "kc ", None, "", "-"]),
        })
    return rows


def tbl_ward(rnd: random.Random, n: int) -> list[Row]:
    return [{
        "WardCode": rnd.choice(WARD_CODES + [f"E0500{rnd.randint(1000, 9999)}", f"00A{rnd.choice('ABCDEFG')}F{rnd.choice('ABC')}"]),
        "WardName": rnd.choice(["Abbey", "Belsize ", "St. Mary's", "Caf\u00e9 Quarter"] + NO_VALUE[:3]),
        "BoroughName": rnd.choice(BOROUGHS),
        "Vintage": rnd.choice(["2002", "2014", "2014 ", " 2002", "2003", "2018", "14"] + NO_VALUE[:3]),
    } for _ in range(n)]


def tbl_lsoa(rnd: random.Random, n: int) -> list[Row]:
    return [{
        "LSOACode": rnd.choice([f"E0100{rnd.randint(1000, 9999)}", f"E0100{rnd.randint(1000, 9999)} "] + NO_VALUE[:3]),
        "LSOAName": rnd.choice(["Camden 027B", "Hillingdon 031A", "City of London 001A"] + NO_VALUE[:2]),
        "BoroughID": _borough_id(rnd),
        "CensusYear": rnd.choice(["2001", "2011", "2011 ", "2021", "11"] + NO_VALUE[:3]),
    } for _ in range(n)]


def tbl_crime_type(rnd: random.Random, n: int) -> list[Row]:
    return [{
        "CrimeTypeID": rnd.choice([str(i + 1), str(i + 1), " 12", "abc", None, "007"]),
        "MajorCat": rnd.choice(MAJOR_CATS),
        "MinorCat": rnd.choice(["Common Assault", "COMMON ASSAULT", "Harassment", "Theft From Shops"] + NO_VALUE[:3]),
        "HOCode": rnd.choice(["104/1", "008/01", "", None, "N/A"]),
        "PoliceUKCat": rnd.choice(["Violence and sexual offences", "Other theft", "Violent crime", None, "-"]),
        "ViolentFlag": rnd.choice(BITS),
        "Retired": rnd.choice(BITS),
    } for i in range(n)]


def tbl_hospital(rnd: random.Random, n: int) -> list[Row]:
    rows: list[Row] = []
    for i in range(n):
        e, no = _grid(rnd)
        rows.append({
            "HospitalID": rnd.choice([str(i % 40 + 1), str(i % 40 + 1), "abc"]),
            "SiteCode": rnd.choice([f"R{chr(65 + i % 26)}{i % 40:03d}", "rj122 ", "RJ122"] + NO_VALUE[:3]),
            "HospitalName": rnd.choice(["St Thomas' Hospital", "King\u2019s College Hospital"] + NO_VALUE[:3]),
            "BoroughID": _borough_id(rnd),
            "Easting": e, "Northing": no,
            "ISTVStart": rnd.choice(GOOD_DATES + BAD_DATES),
            "Active": rnd.choice(BITS),
        })
    return rows


def tbl_lookup_code(rnd: random.Random, n: int) -> list[Row]:
    return [{
        "CodeType": rnd.choice(["ISTV_METHOD", "ISTV_LOCATION", "LFB_GROUP", "LAS_CATEGORY", "istv_method ",
                                None, "", "OTHER"]),
        "Code": rnd.choice(["1", "01", "99", "7", " 3 ", "AB", "N/A", None, "", "001", "1 ", str(i)]),
        "Descr": rnd.choice(["Body part", "Blunt object", "Not known", "N/A", "n/a", None, "", "Caf\u00e9 / bar"]),
    } for i in range(n)]


def tbl_import_log(rnd: random.Random, n: int) -> list[Row]:
    return [{
        "BatchID": rnd.choice([str(i + 1), str(i + 1), "abc"]),
        "Dataset": rnd.choice(["MPS", "LFB", "LAS", "ISTV", "TRANSPORT", "mps ", None]),
        "FileName": rnd.choice(["crime_201403.csv", "C:\\imports\\LFB 2014-03.xls", None, ""]),
        "LoadedOn": _datetime(rnd),
        "RowCount": rnd.choice(["81234", "0", "-5", "abc", None, "99999999999"]),
        "Status": rnd.choice(["OK", "FAILED", "RELOADED", "ok", "Failed ", " reloaded", "bogus", None, "", "N/A"]),
    } for i in range(n)]


def tbl_organisation(rnd: random.Random, n: int) -> list[Row]:
    return [{
        "OrgID": rnd.choice([str(i + 1), str(i + 1), "abc"]),
        "OrgName": rnd.choice(["Camden CSP", "Metropolitan Police Service", "GLA Intelligence Unit"] + NO_VALUE[:3]),
        "OrgType": rnd.choice(["Police", "CSP", "Fire", "Ambulance", "Health", "Transport", "GLA", "police ",
                               "csp", "Other"] + NO_VALUE[:3]),
        "BoroughName": rnd.choice(BOROUGHS + [None, None, None]),
    } for i in range(n)]


ALLOWED = ["ALL", "all", "ALL,Camden", "Camden", "Camden, Kensington & Chelsea", "Heathrow", "Heathrow,Hillingdon",
           "Kingston,Richmond,Narnia", "Westminister, Haringay", "Camden;Barnet", " , ,", "City of London,City of Westminster",
           "Royal Borough of Kingston upon Thames, London Borough of Barnet", "Unknown", "Barking,Barking and Dagenham"]


def tbl_user(rnd: random.Random, n: int) -> list[Row]:
    return [{
        "UserID": rnd.choice([str(i + 1), str(i + 1), "abc"]),
        "Login": rnd.choice([f"user{i}", f"User{i} ", f"o\u2019brien{i}"] + NO_VALUE[:3]),
        "Email": rnd.choice([f"user{i}@met.police.uk", None, ""]),
        "OrgID": rnd.choice([str(rnd.randint(1, 120)), str(rnd.randint(1, 120)), "121", "500", None, "abc", " 5 "]),
        "AllowedBoroughs": rnd.choice(ALLOWED + NO_VALUE[:3]),
        "CanSeeISTV": rnd.choice(BITS),
        "CanSeePoints": rnd.choice(BITS),
        "Password": rnd.choice(["hunter2", "5f4dcc3b5aa765d61d8327deb882cf99", None]),
        "LastLogin": _datetime(rnd),
        "Disabled": rnd.choice(BITS),
    } for i in range(n)]


# --------------------------------------------------------------------------- fact tables
def tbl_mps_crime(rnd: random.Random, n: int) -> list[Row]:
    rows: list[Row] = []
    for i in range(n):
        e, no = _grid(rnd)
        rows.append({
            "RecID": str(i + 1),
            "CrimeRef": _key(rnd, f"CR{rnd.randint(1, n // 2)}"),
            "Force": rnd.choice(["Metropolitan Police Service", "City of London Police", "CITY OF LONDON POLICE ",
                                 "British Transport Police", None, ""]),
            "CommittedDate": _date(rnd),
            "CommittedTime": _time(rnd),
            "ReportedDT": _datetime(rnd),
            "CrimeTypeID": rnd.choice([str(rnd.randint(1, 130)), str(rnd.randint(1, 130)), "131", "9999", None, "abc"]),
            "MajorCat": rnd.choice(MAJOR_CATS),
            "Borough": rnd.choice(BOROUGHS),
            "WardCode": rnd.choice(WARD_CODES),
            "Easting": e, "Northing": no,
            "Location": rnd.choice(["On or near Oxford Street", "On or near Caf\u00e9 Rouge", None, " - "]),
            "DomesticFlag": rnd.choice(FLAGS),
            "KnifeFlag": rnd.choice(BITS),
            "Outcome": rnd.choice([None, "N/A", "Under investigation", "Investigation complete; no suspect identified"]),
            "BatchID": _batch(rnd),
            "LastModified": rnd.choice([None, _datetime(rnd)]),
        })
    return rows


def tbl_istv_assault(rnd: random.Random, n: int) -> list[Row]:
    rows: list[Row] = []
    for i in range(n):
        e, no = _grid(rnd)
        hosp = rnd.randint(1, 38)
        rows.append({
            "ISTVID": str(i + 1),
            "HospitalID": rnd.choice([str(hosp), str(hosp), str(hosp), None, "abc"]),
            "SiteCode": rnd.choice([f"R{chr(65 + hosp % 26)}{hosp:03d}", f"r{chr(97 + hosp % 26)}{hosp:03d} ",
                                    "RXX01", None]),
            "ArrivalDT": _datetime(rnd),
            "AssaultDate": _date(rnd),
            "AssaultTime": _time(rnd),
            "Method": rnd.choice(["01", "1", "04", "99", "06", "42", " 3", "AB", "7"] + NO_VALUE[:4]),
            "MethodOther": rnd.choice(["baseball bat", "Hammer ", None, "N/A", "caf\u00e9 chair"]),
            "LocType": rnd.choice(["01", "2", "03", "99", "08", "x"] + NO_VALUE[:3]),
            "LocDesc": rnd.choice(LOC_DESCS),
            "GeoLevel": rnd.choice(["1", "2", "3", "4", "5", "6", "9", "9", "7", "0", " 1", None, "x"]),
            "GeoConfidence": rnd.choice(["0", "55", "100", "101", "-1", "abc", None]),
            "Easting": e, "Northing": no,
            "BoroughID": _borough_id(rnd),
            "PeriodStart": rnd.choice(["01/03/2014", "01/10/2014", "01/02/2015", "31/04/2014", "2014-03-01",
                                       "01/01/1900", None]),
            "PeriodEnd": rnd.choice(["31/03/2014", "31/10/2014", "28/02/2015", "30/04/2014", "31/02/2015", None]),
            "BatchID": _batch(rnd),
        })
    return rows


def tbl_lfb_incident(rnd: random.Random, n: int) -> list[Row]:
    rows: list[Row] = []
    for _ in range(n):
        e, no = _grid(rnd)
        er, nr = _grid(rnd)
        dwelling = rnd.random() < 0.4
        rows.append({
            "IncidentNumber": _key(rnd, f"{rnd.randint(1, 999999):06d}-{rnd.randint(1, 31):02d}{rnd.randint(1, 12):02d}2014"),
            "DateOfCall": _date(rnd),
            "TimeOfCall": rnd.choice([f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}",
                                      "01:30:00", "99:99", None, "25:00:00"]),
            "IncidentGroup": rnd.choice(["Fire", "Special Service", "False Alarm", "FIRE ", None]),
            "StopCode": rnd.choice(["Primary Fire", "Secondary Fire", "AFA", "False alarm - Good intent", None]),
            "PropertyCategory": rnd.choice(["Dwelling", "Outdoor", "Non Residential", None]),
            "PropertyType": rnd.choice(["House - single occupancy ", "Caf\u00e9", None]),
            "Postcode": rnd.choice(["SW1A 1AA", "sw1a  1aa", "E1", None, "N/A"]),
            "BoroughName": rnd.choice(BOROUGHS),
            "WardCode": rnd.choice(WARD_CODES),
            "Easting_m": None if dwelling else e, "Northing_m": None if dwelling else no,
            "Easting_rounded": er, "Northing_rounded": nr,
            "FirstPumpSecs": rnd.choice(["300", "0", "-1", "86401", "abc", None, " 245 "]),
            "NotionalCost": rnd.choice(["326.0000", "0.0000", "1234.5678", "12.34567", "abc", "\u00a3300", None,
                                        "-5.5", "999999999999999.9999", "1e5"]),
            "BatchID": _batch(rnd),
        })
    return rows


def tbl_las_assault(rnd: random.Random, n: int) -> list[Row]:
    rows: list[Row] = []
    for i in range(n):
        e, no = _grid(rnd)
        rows.append({
            "LASRef": _key(rnd, f"LAS{i:07d}"),
            "CallDT": _datetime(rnd),
            "WardCode": rnd.choice(WARD_CODES),
            "Borough": rnd.choice(BOROUGHS),
            "GridRef": rnd.choice([f"{e},{no}", f"{e} {no}", f"{e}, {no}", "N/A", "0,0", "99999 99999", "abc",
                                   "530000,,180000", "530000 180000 1", None, "", f"{no},{e}"]),
            "Category": rnd.choice(["Assault", "ASSAULT / SEXUAL ASSAULT ", None, "N/A"]),
            "AlcoholFlag": rnd.choice(["Y", "N", "U", "", None, "y", "1", "Q"]),
            "UpdatedOn": rnd.choice([None, _datetime(rnd)]),
            "BatchID": _batch(rnd),
        })
    return rows


def tbl_transport_crime(rnd: random.Random, n: int) -> list[Row]:
    return [{
        "RecID": rnd.choice([str(i + 1), str(i + 1), str(i + 1), None, ""]),
        "SourceAgency": rnd.choice(["BTP", "MPS", "btp", "MPS ", "TFL", None, ""]),
        "Mode": rnd.choice(["Bus", "Underground", "DLR", "Overground", "Tram", "Rail", "bus", "Boat", None]),
        "Route": rnd.choice([None, "", "38", "Victoria Line", "N/A"]),
        "Station": rnd.choice(["King's Cross St. Pancras", "Bank ", None]),
        "CrimeDate": _date(rnd),
        "CrimeTime": _time(rnd),
        "OffenceDesc": rnd.choice(["Theft of mobile phone", "Assault \u2013 ABH", None]),
        "Borough": rnd.choice(BOROUGHS),
        "BatchID": _batch(rnd),
    } for i in range(n)]


#: legacy table → (generator, rows per test run)
GENERATORS: dict[str, tuple[Callable[[random.Random, int], list[Row]], int]] = {
    "tblBorough": (tbl_borough, 350),
    "tblWard": (tbl_ward, 400),
    "tblLSOA": (tbl_lsoa, 400),
    "tblCrimeType": (tbl_crime_type, 300),
    "tblLookupCode": (tbl_lookup_code, 400),
    "tblHospital": (tbl_hospital, 300),
    "tblImportLog": (tbl_import_log, 400),
    "tblOrganisation": (tbl_organisation, 300),
    "tblUser": (tbl_user, 500),
    "tblMPSCrime": (tbl_mps_crime, 1500),
    "tblISTVAssault": (tbl_istv_assault, 800),
    "tblLFBIncident": (tbl_lfb_incident, 800),
    "tblLASAssault": (tbl_las_assault, 800),
    "tblTransportCrime": (tbl_transport_crime, 600),
}


def generate(table: str, seed: int) -> list[Row]:
    gen, n = GENERATORS[table]
    return gen(random.Random(f"{table}:{seed}"), n)


__all__ = ["GENERATORS", "NO_VALUE", "Row", "generate"]
