"""Independent SQL recount of every anomaly kind of the legacy manifest.

Written from the definitions in ``migration.legacy.kinds`` and the data dictionary, not
from the generator: nothing here imports the generator's word lists or logic.  The
official borough names come from the ONS file (``Boroughs.csv``), the DST dates from
``zoneinfo``, and the short forms from the data dictionary.  Each query returns the keys
of the rows carrying one kind; SQLite and MariaDB (through pyodbc) share the SQL except
for a few dialect spellings in :class:`Sql`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

LONDON = ZoneInfo("Europe/London")
E_RANGE = (503_568, 561_957)
N_RANGE = (155_851, 200_934)
CP1252_CHARS = ("’", "‘", "–", "£", "é", "è", "ô", "“", "”")
SHORT_FORMS = {"KINGSTON": "KINGSTON UPON THAMES", "RICHMOND": "RICHMOND UPON THAMES",
               "BARKING": "BARKING AND DAGENHAM", "CITY OF WESTMINSTER": "WESTMINSTER"}


@lru_cache(maxsize=1)
def official_boroughs() -> tuple[str, ...]:
    raw = resources.files("migration.legacy").joinpath("data", "Boroughs.csv").read_text(encoding="utf-8")
    names = tuple(sorted(r["NAME"] for r in csv.DictReader(raw.splitlines())))
    assert len(names) == 33
    return names


@lru_cache(maxsize=4)
def dst_days(first_year: int = 2005, last_year: int = 2018) -> tuple[list[date], list[date]]:
    """(days with a missing local hour, days with a repeated local hour) from zoneinfo."""
    gap, repeat = [], []
    d = date(first_year, 1, 1)
    while d.year <= last_year:
        local = datetime(d.year, d.month, d.day, 1, 30)
        round_trip = local.replace(tzinfo=LONDON).astimezone(UTC).astimezone(LONDON).replace(tzinfo=None)
        if round_trip != local:
            gap.append(d)
        elif local.replace(tzinfo=LONDON, fold=0).utcoffset() != local.replace(tzinfo=LONDON, fold=1).utcoffset():
            repeat.append(d)
        d += timedelta(days=1)
    return gap, repeat


def sqlite_regexp(engine: Engine) -> None:
    """Give SQLite a REGEXP operator (Python's re), so both engines share the SQL."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.create_function(
            "regexp", 2, lambda pattern, value: value is not None and re.search(pattern, value) is not None,
            deterministic=True)


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class Sql:
    """The few places where SQLite and MariaDB spell SQL differently."""

    def __init__(self, dialect: str) -> None:
        assert dialect in ("sqlite", "mysql")
        self.maria = dialect == "mysql"
        self.officials = official_boroughs()
        self.gap, self.repeat = dst_days()
        self.params: dict[str, Any] = {}

    # ------------------------------------------------------------- dialect bits
    def q(self, name: str) -> str:
        return f"`{name}`" if self.maria else f'"{name}"'

    def b(self, expr: str) -> str:
        """Byte comparison (case- and trailing-space-sensitive) for ASCII values."""
        return f"BINARY {expr}" if self.maria else expr

    def cs(self, expr: str) -> str:
        """Case-sensitive, byte-exact LIKE / REGEXP operand."""
        return f"{expr} COLLATE latin1_bin" if self.maria else expr

    def concat(self, *parts: str) -> str:
        return f"CONCAT({', '.join(parts)})" if self.maria else "(" + " || ".join(parts) + ")"

    def empty_text(self, width: int) -> str:
        """An empty string typed wide enough to seed a recursive CTE column."""
        return f"CAST('' AS CHAR({width}) CHARACTER SET latin1)" if self.maria else "''"

    def length(self, expr: str) -> str:
        return f"CHAR_LENGTH({expr})" if self.maria else f"LENGTH({expr})"

    def int_(self, expr: str) -> str:
        return f"CAST({expr} AS {'SIGNED' if self.maria else 'INTEGER'})"

    def regexp(self, expr: str, pattern: str) -> str:
        name = f"re{len(self.params)}"
        self.params[name] = pattern
        return f"({self.cs(expr)} REGEXP :{name})"

    def like_any(self, expr: str, chars: tuple[str, ...]) -> str:
        parts = []
        for ch in chars:
            name = f"lk{len(self.params)}"
            self.params[name] = f"%{ch}%"
            parts.append(f"{self.cs(expr)} LIKE :{name}")
        return "(" + " OR ".join(parts) + ")"

    # ------------------------------------------------------------- shared terms
    def nv(self, x: str) -> str:
        return f"({x} IS NOT NULL AND (TRIM({x}) = '' OR UPPER(TRIM({x})) IN ('NULL', 'N/A', '-')))"

    def blank(self, x: str) -> str:
        return f"({x} IS NULL OR {self.nv(x)})"

    def official(self, x: str) -> str:
        return f"({self.b(x)} IN ({', '.join(_lit(n) for n in self.officials)}))"

    def norm(self, x: str) -> str:
        u = f"UPPER(TRIM({x}))"
        u = f"REPLACE({u}, '&', 'AND')"
        for _ in range(3):
            u = f"REPLACE({u}, '  ', ' ')"
        u = (f"(CASE WHEN {u} LIKE 'ROYAL BOROUGH OF %' THEN SUBSTR({u}, 18) "
             f"WHEN {u} LIKE 'LONDON BOROUGH OF %' THEN SUBSTR({u}, 19) ELSE {u} END)")
        whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in SHORT_FORMS.items())
        return f"(CASE {u} {whens} ELSE {u} END)"

    def resolvable(self, x: str) -> str:
        return f"({self.norm(x)} IN ({', '.join(_lit(n.upper()) for n in self.officials)}))"

    def pseudo(self, x: str) -> str:
        return f"({x} IS NOT NULL AND {self.norm(x)} IN ('HEATHROW', 'UNKNOWN'))"

    def variant(self, x: str) -> str:
        return f"(NOT {self.blank(x)} AND NOT {self.official(x)} AND {self.resolvable(x)})"

    def unmatched(self, x: str) -> str:
        return (f"(NOT {self.blank(x)} AND NOT {self.official(x)} AND NOT {self.resolvable(x)} "
                f"AND NOT {self.pseudo(x)})")

    def slips(self) -> str:
        """CTEs ``pos(i)``, ``off(o)`` and ``slip(p)``: a LIKE pattern for every text one slip
        from the upper case of an official name (one character substituted, inserted or
        deleted, or two adjacent characters swapped), written out from the names."""
        off = " UNION ALL ".join(f"SELECT {_lit(n.upper())} AS o" for n in self.officials)
        c, n = self.concat, self.length("o")
        return (
            "pos(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM pos WHERE i < 40), "
            f"off(o) AS ({off}), "
            "slip(p) AS ("
            f"SELECT {c('SUBSTR(o, 1, i - 1)', 'SUBSTR(o, i + 1)')} FROM off, pos WHERE i <= {n}"
            f" UNION SELECT {c('SUBSTR(o, 1, i - 1)', chr(39) + '_' + chr(39), 'SUBSTR(o, i + 1)')} "
            f"FROM off, pos WHERE i <= {n}"
            f" UNION SELECT {c('SUBSTR(o, 1, i - 1)', chr(39) + '_' + chr(39), 'SUBSTR(o, i)')} "
            f"FROM off, pos WHERE i <= {n} + 1"
            f" UNION SELECT {c('SUBSTR(o, 1, i - 1)', 'SUBSTR(o, i + 1, 1)', 'SUBSTR(o, i, 1)', 'SUBSTR(o, i + 2)')} "
            f"FROM off, pos WHERE i < {n})")

    def unmatched_split(self, source: str, key: str, x: str, extra: str = "", *, misspelt: bool,
                        ctes: str = "") -> str:
        """Keys of ``source`` rows whose text ``x`` is *misspelt* (or *not London*).  The
        unmatched texts are collected first (DISTINCT keeps them materialised and few),
        then compared with the slip patterns."""
        u = (f"u AS (SELECT DISTINCT {key} AS k, {self.norm(x)} AS x FROM {source} "
             f"WHERE {self.unmatched(x)}{extra})")
        head = f"WITH RECURSIVE {ctes}{self.slips()}, {u} "
        if misspelt:
            return head + "SELECT DISTINCT u.k FROM u JOIN slip ON u.x LIKE slip.p"
        return head + "SELECT DISTINCT u.k FROM u WHERE NOT EXISTS (SELECT 1 FROM slip WHERE u.x LIKE slip.p)"

    def ward_ok(self, w: str) -> str:
        return f"({w} IS NOT NULL AND TRIM({w}) IN (SELECT TRIM(WardCode) FROM tblWard WHERE WardCode IS NOT NULL))"

    def ward_unknown(self, w: str) -> str:
        return f"({w} IS NOT NULL AND NOT {self.nv(w)} AND NOT {self.ward_ok(w)})"

    def digits(self, x: str) -> str:
        return self.regexp(f"TRIM({x})", "^[0-9]+$")

    def grid(self, kind: str, e: str, n: str) -> str:
        ed, nd = self.digits(e), self.digits(n)
        zero = f"(TRIM({e}) = '0' OR TRIM({n}) = '0')"
        nines = f"(TRIM({e}) = '99999' OR TRIM({n}) = '99999')"
        swapped = (f"({ed} AND {nd} AND ({e} + 0) BETWEEN {N_RANGE[0]} AND {N_RANGE[1]} "
                   f"AND ({n} + 0) BETWEEN {E_RANGE[0]} AND {E_RANGE[1]})")
        inside = (f"(({e} + 0) BETWEEN {E_RANGE[0]} AND {E_RANGE[1]} AND ({n} + 0) BETWEEN {N_RANGE[0]} "
                  f"AND {N_RANGE[1]})")
        return {
            "missing": f"({self.blank(e)} AND {self.blank(n)})",
            "zero": zero,
            "99999": nines,
            "non_numeric": f"((NOT {self.blank(e)} AND NOT {ed}) OR (NOT {self.blank(n)} AND NOT {nd}))",
            "swapped": swapped,
            "outside": f"({ed} AND {nd} AND NOT {zero} AND NOT {nines} AND NOT {swapped} AND NOT {inside})",
        }[kind]

    def in_hour(self, col: str, days: list[date]) -> str:
        return "(" + " OR ".join(f"({col} >= '{d.isoformat()} 01:00:00' AND {col} < '{d.isoformat()} 02:00:00')"
                                 for d in days) + ")"

    def text_in_hour(self, d: str, t: str, days: list[date]) -> str:
        dmy = ", ".join(_lit(x.strftime("%d/%m/%Y")) for x in days)
        return f"(TRIM({d}) IN ({dmy}) AND TRIM({t}) >= '01:00' AND TRIM({t}) < '02:00')"

    def placeholder(self, d: str) -> str:
        return f"(TRIM({d}) IN ('01/01/1900', '00/00/0000'))"

    def impossible(self, d: str) -> str:
        t = f"TRIM({d})"
        dd, mm, yy = f"(SUBSTR({t}, 1, 2) + 0)", f"(SUBSTR({t}, 4, 2) + 0)", f"(SUBSTR({t}, 7, 4) + 0)"
        leap = f"(({yy} % 4 = 0 AND {yy} % 100 <> 0) OR {yy} % 400 = 0)"
        days = (f"(CASE WHEN {mm} IN (4, 6, 9, 11) THEN 30 WHEN {mm} = 2 THEN (CASE WHEN {leap} THEN 29 ELSE 28 END) "
                f"ELSE 31 END)")
        return (f"({self.regexp(d, '^ *[0-9]{2}/[0-9]{2}/[0-9]{4} *$')} AND {mm} BETWEEN 1 AND 12 "
                f"AND {dd} > {days})")

    def cp1252(self, x: str) -> str:
        return f"({x} IS NOT NULL AND {self.like_any(x, CP1252_CHARS)})"


def _queries(s: Sql) -> dict[str, str]:
    """kind → SELECT of the keys of the rows carrying it."""
    Q: dict[str, str] = {}

    def where(kind: str, table: str, key: str, cond: str, alias: str = "") -> None:
        Q[kind] = f"SELECT {key} FROM {table} {alias} WHERE {cond}"

    # tblBorough
    where("borough.gss_null", "tblBorough", "BoroughID", "BoroughID BETWEEN 1 AND 33 AND GSSCode IS NULL")
    where("borough.pseudo", "tblBorough", "BoroughID", "BoroughID IN (34, 99)")
    where("borough.name_variant", "tblBorough", "BoroughID",
          f"BoroughID BETWEEN 1 AND 33 AND NOT {s.official('BoroughName')}")
    # tblWard
    where("ward.old_style_code", "tblWard", "WardCode, Vintage", "WardCode NOT LIKE 'E05%'")
    where("ward.borough_variant", "tblWard", "WardCode, Vintage", s.variant("BoroughName"))
    Q["ward.duplicate_row"] = (
        "SELECT w.WardCode, w.Vintage FROM tblWard w JOIN (SELECT WardCode, Vintage FROM tblWard "
        "GROUP BY WardCode, Vintage HAVING COUNT(*) > 1) d ON d.WardCode = w.WardCode AND d.Vintage = w.Vintage")
    # tblCrimeType
    where("crimetype.minorcat_case_duplicate", "tblCrimeType", "c.CrimeTypeID",
          f"EXISTS (SELECT 1 FROM tblCrimeType c2 WHERE UPPER(c2.MinorCat) = UPPER(c.MinorCat) "
          f"AND {s.b('c2.MinorCat')} <> {s.b('c.MinorCat')})", "c")
    where("crimetype.retired", "tblCrimeType", "CrimeTypeID", "Retired = 1")
    where("crimetype.hocode_blank", "tblCrimeType", "CrimeTypeID", "HOCode IS NULL OR TRIM(HOCode) = ''")
    # tblHospital (closures are external knowledge: checked separately against the ISTV rows)
    where("hospital.istvstart_null", "tblHospital", "HospitalID", "ISTVStart IS NULL")
    # tblLookupCode
    where("lookup.na_row", "tblLookupCode", "CodeType, Code", "TRIM(Descr) = 'N/A'")
    where("lookup.unpadded_code", "tblLookupCode", "CodeType, Code",
          f"CodeType IN ('ISTV_METHOD', 'ISTV_LOCATION') AND {s.length('TRIM(Code)')} = 1")
    # tblOrganisation
    where("org.name_cp1252", "tblOrganisation", "OrgID", s.cp1252("OrgName"))
    where("org.borough_variant", "tblOrganisation", "OrgID", s.variant("BoroughName"))
    for kind, misspelt in (("misspelt", True), ("not_london", False)):
        Q[f"org.borough_{kind}"] = s.unmatched_split("tblOrganisation", "OrgID", "BoroughName", misspelt=misspelt)
    # tblUser
    pw = s.q("Password")
    md5 = s.regexp(pw, "^[0-9a-f]{32}$")
    where("user.password_md5", "tblUser", "UserID", md5)
    where("user.password_plaintext", "tblUser", "UserID", f"{pw} IS NOT NULL AND NOT {md5}")
    where("user.orphan_org", "tblUser", "u.UserID",
          "NOT EXISTS (SELECT 1 FROM tblOrganisation o WHERE o.OrgID = u.OrgID)", "u")
    where("user.allowed_all", "tblUser", "UserID", "UPPER(TRIM(AllowedBoroughs)) = 'ALL'")
    split_cte = (
        "split(UserID, tok, rest) AS ("
        f" SELECT UserID, {s.empty_text(255)}, {s.concat('AllowedBoroughs', chr(39) + ',' + chr(39))}"
        " FROM tblUser WHERE AllowedBoroughs IS NOT NULL AND UPPER(TRIM(AllowedBoroughs)) <> 'ALL'"
        " UNION ALL"
        " SELECT UserID, SUBSTR(rest, 1, INSTR(rest, ',') - 1), SUBSTR(rest, INSTR(rest, ',') + 1)"
        " FROM split WHERE INSTR(rest, ',') > 0)")
    split = f"WITH RECURSIVE {split_cte} SELECT DISTINCT UserID FROM split WHERE TRIM(tok) <> '' AND "
    Q["user.allowed_heathrow"] = split + f"{s.norm('tok')} = 'HEATHROW'"
    Q["user.allowed_variant"] = split + s.variant("TRIM(tok)")
    for kind, misspelt in (("misspelt", True), ("unmatched", False)):
        Q[f"user.allowed_{kind}"] = s.unmatched_split("split", "UserID", "TRIM(tok)", " AND TRIM(tok) <> ''",
                                                      misspelt=misspelt, ctes=split_cte + ", ")
    # tblImportLog
    where("importlog.failed", "tblImportLog", "BatchID", "Status = 'FAILED'")
    where("importlog.reloaded", "tblImportLog", "BatchID", "Status = 'RELOADED'")
    counts = " ".join(f"WHEN '{ds}' THEN (SELECT COUNT(*) FROM {tb} x WHERE x.BatchID = l.BatchID)" for ds, tb in (
        ("MPS", "tblMPSCrime"), ("LFB", "tblLFBIncident"), ("LAS", "tblLASAssault"), ("ISTV", "tblISTVAssault"),
        ("TRANSPORT", "tblTransportCrime")))
    where("importlog.rowcount_mismatch", "tblImportLog", "l.BatchID",
          f"l.{s.q('RowCount')} <> (CASE l.Dataset {counts} END)", "l")
    where("importlog.loadedon_dst_repeated", "tblImportLog", "BatchID", s.in_hour("LoadedOn", s.repeat))
    where("importlog.loadedon_dst_gap", "tblImportLog", "BatchID", s.in_hour("LoadedOn", s.gap))
    # tblMPSCrime
    groups = ("(SELECT RTRIM(CrimeRef) AS ref, COUNT(*) AS n, COUNT(DISTINCT " + s.b("CrimeRef") + ") AS raw "
              "FROM tblMPSCrime WHERE TRIM(CrimeRef) <> '' GROUP BY RTRIM(CrimeRef) HAVING COUNT(*) > 1)")
    Q["mps.duplicate_crimeref"] = f"SELECT m.RecID FROM tblMPSCrime m JOIN {groups} g ON g.ref = RTRIM(m.CrimeRef)"
    Q["mps.duplicate_only_after_trim"] = Q["mps.duplicate_crimeref"] + " WHERE g.raw > 1"
    Q["mps.duplicate_superseded"] = (
        "SELECT RecID FROM (SELECT m.RecID, ROW_NUMBER() OVER (PARTITION BY RTRIM(m.CrimeRef) ORDER BY "
        "CASE WHEN l.Status = 'FAILED' THEN 0 ELSE 1 END DESC, m.BatchID DESC, m.RecID DESC) AS rn, "
        "COUNT(*) OVER (PARTITION BY RTRIM(m.CrimeRef)) AS cnt FROM tblMPSCrime m "
        "JOIN tblImportLog l ON l.BatchID = m.BatchID WHERE TRIM(m.CrimeRef) <> '') x WHERE cnt > 1 AND rn > 1")
    where("mps.failed_batch_row", "tblMPSCrime", "RecID",
          "BatchID IN (SELECT BatchID FROM tblImportLog WHERE Status = 'FAILED')")
    where("mps.crimeref_trailing_space", "tblMPSCrime", "RecID", "TRIM(CrimeRef) <> '' AND CrimeRef LIKE '% '")
    where("mps.blank_crimeref", "tblMPSCrime", "RecID", "CrimeRef IS NULL OR TRIM(CrimeRef) = ''")
    where("mps.orphan_crimetype", "tblMPSCrime", "m.RecID",
          "NOT EXISTS (SELECT 1 FROM tblCrimeType c WHERE c.CrimeTypeID = m.CrimeTypeID)", "m")
    Q["mps.majorcat_mismatch"] = (
        "SELECT m.RecID FROM tblMPSCrime m JOIN tblCrimeType c ON c.CrimeTypeID = m.CrimeTypeID "
        f"WHERE m.MajorCat IS NULL OR {s.b('RTRIM(m.MajorCat)')} <> {s.b('RTRIM(c.MajorCat)')}")
    Q["mps.retired_crimetype"] = ("SELECT m.RecID FROM tblMPSCrime m JOIN tblCrimeType c "
                                  "ON c.CrimeTypeID = m.CrimeTypeID WHERE c.Retired = 1")
    where("mps.committed_date_placeholder", "tblMPSCrime", "RecID", s.placeholder("CommittedDate"))
    where("mps.committed_date_impossible", "tblMPSCrime", "RecID", s.impossible("CommittedDate"))
    where("mps.committed_time_unknown", "tblMPSCrime", "RecID", "TRIM(CommittedTime) = '99:99'")
    where("mps.dst_gap_committed", "tblMPSCrime", "RecID", s.text_in_hour("CommittedDate", "CommittedTime", s.gap))
    where("mps.reported_dst_repeated", "tblMPSCrime", "RecID", s.in_hour("ReportedDT", s.repeat))
    where("mps.reported_dst_gap", "tblMPSCrime", "RecID", s.in_hour("ReportedDT", s.gap))
    where("mps.lastmodified_dst_repeated", "tblMPSCrime", "RecID", s.in_hour("LastModified", s.repeat))
    where("mps.revised", "tblMPSCrime", "RecID", "LastModified IS NOT NULL")
    for g in ("missing", "zero", "99999", "non_numeric", "swapped"):
        where(f"mps.grid_{g}", "tblMPSCrime", "RecID", s.grid(g, "Easting", "Northing"))
    where("mps.grid_outside_london", "tblMPSCrime", "RecID", s.grid("outside", "Easting", "Northing"))
    _borough_queries(Q, s, "mps", "tblMPSCrime", "RecID", "Borough", ward=True)
    where("mps.location_no_value_text", "tblMPSCrime", "RecID", s.nv("Location"))
    where("mps.location_cp1252", "tblMPSCrime", "RecID", s.cp1252("Location"))
    where("mps.domestic_flag_alt", "tblMPSCrime", "RecID", "TRIM(DomesticFlag) IN ('1', '0', 'T', 'F')")
    where("mps.domestic_flag_unknown", "tblMPSCrime", "RecID", "DomesticFlag IS NULL OR TRIM(DomesticFlag) IN ('U', '')")
    where("mps.knife_flag_null", "tblMPSCrime", "RecID", "KnifeFlag IS NULL")
    where("mps.outcome_no_value_text", "tblMPSCrime", "RecID", s.nv("Outcome"))
    # tblISTVAssault
    pid = {
        "name": r"\b(Mr|Mrs|Ms|Miss) [A-Z]|(patient|pt name) [A-Z][a-z]+ [A-Z]",
        "nhs_number": "[0-9]{3} [0-9]{3} [0-9]{4}",
        "dob": "[0-9]{2}/[0-9]{2}/[0-9]{4}",
        "phone": "020 [0-9]{4} [0-9]{4}|07[0-9]{3} [0-9]{6}",
        "postcode": "[A-Za-z0-9] [0-9][A-Z]{2}([^A-Za-z]|$)",
        "address": "[0-9]+[a-z]? [A-Z][a-z]+ (Road|Street|Avenue|Close|Grove|Gardens|Lane|Way|Crescent|Place|Terrace)",
    }
    for k, pattern in pid.items():
        where(f"istv.pid_{k}", "tblISTVAssault", "ISTVID", s.regexp("LocDesc", pattern))
    for col, kind, ctype in (("Method", "method", "ISTV_METHOD"), ("LocType", "loctype", "ISTV_LOCATION")):
        codes = f"(SELECT TRIM(Code) FROM tblLookupCode WHERE CodeType = '{ctype}')"
        where(f"istv.{kind}_unpadded", "tblISTVAssault", "ISTVID", f"{s.length(f'TRIM({col})')} = 1")
        where(f"istv.{kind}_unknown", "tblISTVAssault", "ISTVID", f"TRIM({col}) = '99'")
        where(f"istv.{kind}_invalid", "tblISTVAssault", "ISTVID",
              f"{col} IS NOT NULL AND TRIM({col}) <> '' AND TRIM({col}) NOT IN {codes} "
              f"AND {s.concat(chr(39) + '0' + chr(39), f'TRIM({col})')} NOT IN {codes}")
    where("istv.methodother_no_value_text", "tblISTVAssault", "ISTVID", s.nv("MethodOther"))
    iso = s.concat("SUBSTR(AssaultDate, 7, 4)", "'-'", "SUBSTR(AssaultDate, 4, 2)", "'-'", "SUBSTR(AssaultDate, 1, 2)",
                   "' '", "TRIM(AssaultTime)")
    where("istv.assault_after_arrival", "tblISTVAssault", "ISTVID",
          f"{s.regexp('AssaultDate', '^[0-9]{2}/[0-9]{2}/[0-9]{4}$')} AND NOT {s.impossible('AssaultDate')} "
          f"AND NOT {s.placeholder('AssaultDate')} AND {s.regexp('AssaultTime', '^ *([01][0-9]|2[0-3]):[0-5][0-9] *$')} "
          f"AND {iso} > ArrivalDT")
    where("istv.assault_time_unknown", "tblISTVAssault", "ISTVID", "TRIM(AssaultTime) = '99:99'")
    Q["istv.stale_sitecode"] = ("SELECT i.ISTVID FROM tblISTVAssault i JOIN tblHospital h ON h.HospitalID = i.HospitalID "
                                f"WHERE {s.b('TRIM(i.SiteCode)')} <> {s.b('TRIM(h.SiteCode)')}")
    where("istv.geolevel_none", "tblISTVAssault", "ISTVID", "GeoLevel = 9")
    same = "r2.HospitalID = r.HospitalID AND r2.PeriodStart = r.PeriodStart AND r2.PeriodEnd = r.PeriodEnd"
    where("istv.superseded_submission", "tblISTVAssault", "r.ISTVID",
          f"EXISTS (SELECT 1 FROM tblISTVAssault r2 WHERE {same} AND r2.BatchID > r.BatchID)", "r")
    where("istv.resubmission", "tblISTVAssault", "r.ISTVID",
          f"EXISTS (SELECT 1 FROM tblISTVAssault r2 WHERE {same} AND r2.BatchID < r.BatchID)", "r")
    where("istv.locdesc_cp1252", "tblISTVAssault", "ISTVID", s.cp1252("LocDesc"))
    where("istv.arrival_dst_repeated", "tblISTVAssault", "ISTVID", s.in_hour("ArrivalDT", s.repeat))
    where("istv.arrival_dst_gap", "tblISTVAssault", "ISTVID", s.in_hour("ArrivalDT", s.gap))
    # tblLFBIncident
    _borough_queries(Q, s, "lfb", "tblLFBIncident", "IncidentNumber", "BoroughName", ward=True)
    where("lfb.borough_upper_case", "tblLFBIncident", "IncidentNumber",
          f"NOT {s.blank('BoroughName')} AND {s.b('BoroughName')} = {s.b('UPPER(BoroughName)')} "
          f"AND {s.resolvable('BoroughName')}")
    where("lfb.exact_coords_null", "tblLFBIncident", "IncidentNumber", "Easting_m IS NULL OR Northing_m IS NULL")
    where("lfb.postcode_district_only", "tblLFBIncident", "IncidentNumber",
          s.regexp("TRIM(Postcode)", "^[A-Z]{1,2}[0-9][0-9A-Z]?$"))
    where("lfb.postcode_null", "tblLFBIncident", "IncidentNumber", "Postcode IS NULL")
    where("lfb.propertytype_cp1252", "tblLFBIncident", "IncidentNumber", s.cp1252("PropertyType"))
    where("lfb.time_no_seconds", "tblLFBIncident", "IncidentNumber", f"{s.length('RTRIM(TimeOfCall)')} = 5")
    where("lfb.first_pump_null", "tblLFBIncident", "IncidentNumber", "FirstPumpSecs IS NULL")
    where("lfb.cost_sub_penny", "tblLFBIncident", "IncidentNumber",
          f"{s.int_('ROUND(NotionalCost * 10000)')} % 100 <> 0")
    where("lfb.call_dst_gap", "tblLFBIncident", "IncidentNumber", s.text_in_hour("DateOfCall", "TimeOfCall", s.gap))
    where("lfb.call_dst_repeated", "tblLFBIncident", "IncidentNumber",
          s.text_in_hour("DateOfCall", "TimeOfCall", s.repeat))
    # tblLASAssault
    _borough_queries(Q, s, "las", "tblLASAssault", "LASRef", "Borough", ward=True)
    pair = s.regexp("GridRef", "^ *[0-9]+[, ][0-9]+ *$")
    g = "REPLACE(TRIM(GridRef), ' ', ',')"
    ge, gn = f"SUBSTR({g}, 1, INSTR({g}, ',') - 1)", f"SUBSTR({g}, INSTR({g}, ',') + 1)"
    where("las.gridref_space", "tblLASAssault", "LASRef", s.regexp("TRIM(GridRef)", "^[0-9]+ [0-9]+$"))
    where("las.gridref_no_value", "tblLASAssault", "LASRef", s.blank("GridRef"))
    where("las.gridref_zero", "tblLASAssault", "LASRef", f"{pair} AND {s.grid('zero', ge, gn)}")
    where("las.gridref_swapped", "tblLASAssault", "LASRef", f"{pair} AND {s.grid('swapped', ge, gn)}")
    where("las.gridref_outside_london", "tblLASAssault", "LASRef", f"{pair} AND {s.grid('outside', ge, gn)}")
    where("las.alcohol_flag_unknown", "tblLASAssault", "LASRef", "AlcoholFlag IS NULL OR TRIM(AlcoholFlag) IN ('U', '')")
    where("las.calldt_dst_repeated", "tblLASAssault", "LASRef", s.in_hour("CallDT", s.repeat))
    where("las.calldt_dst_gap", "tblLASAssault", "LASRef", s.in_hour("CallDT", s.gap))
    where("las.updated", "tblLASAssault", "LASRef", "UpdatedOn IS NOT NULL")
    # tblTransportCrime
    _borough_queries(Q, s, "transport", "tblTransportCrime", "RecID", "Borough", ward=False)
    where("transport.route_no_value_text", "tblTransportCrime", "RecID", s.nv("Route"))
    where("transport.station_no_value_text", "tblTransportCrime", "RecID", s.nv("Station"))
    where("transport.crime_date_placeholder", "tblTransportCrime", "RecID", s.placeholder("CrimeDate"))
    where("transport.crime_date_impossible", "tblTransportCrime", "RecID", s.impossible("CrimeDate"))
    where("transport.crime_time_unknown", "tblTransportCrime", "RecID", "TRIM(CrimeTime) = '99:99'")
    where("transport.crime_dst_gap", "tblTransportCrime", "RecID", s.text_in_hour("CrimeDate", "CrimeTime", s.gap))
    where("transport.offence_cp1252", "tblTransportCrime", "RecID", s.cp1252("OffenceDesc"))
    return Q


def _borough_queries(Q: dict[str, str], s: Sql, p: str, table: str, key: str, col: str, *, ward: bool) -> None:
    Q[f"{p}.borough_variant"] = f"SELECT {key} FROM {table} WHERE {s.variant(col)}"
    Q[f"{p}.borough_pseudo"] = f"SELECT {key} FROM {table} WHERE {s.pseudo(col)}"
    Q[f"{p}.borough_blank"] = f"SELECT {key} FROM {table} WHERE {s.blank(col)}"
    Q[f"{p}.borough_misspelt"] = s.unmatched_split(table, key, col, misspelt=True)
    Q[f"{p}.borough_not_london"] = s.unmatched_split(table, key, col, misspelt=False)
    if ward:
        Q[f"{p}.borough_not_london_no_ward"] = s.unmatched_split(
            table, key, col, f" AND NOT {s.ward_ok('WardCode')}", misspelt=False)
        Q[f"{p}.ward_unknown"] = f"SELECT {key} FROM {table} WHERE {s.ward_unknown('WardCode')}"
        Q[f"{p}.ward_no_value_text"] = f"SELECT {key} FROM {table} WHERE {s.nv('WardCode')}"


def row_key(row: Any) -> Any:
    if len(row) == 1:
        v = row[0]
        return v.rstrip() if isinstance(v, str) else v
    return [v.rstrip() if isinstance(v, str) else v for v in row]


def recount(conn: Connection, *, skip: Callable[[str], bool] = lambda k: False) -> dict[str, list[Any]]:
    """kind → sorted keys of the rows that carry it, recounted with SQL."""
    s = Sql(conn.dialect.name)
    queries = _queries(s)
    out: dict[str, list[Any]] = {}
    for kind, sql in queries.items():
        if skip(kind):
            continue
        params = _params(s, sql)
        rows = conn.execute(text(sql), params).fetchall()
        out[kind] = sorted((row_key(r) for r in rows), key=sort_key)
    return out


@lru_cache(maxsize=4)
def _all_queries(dialect: str) -> tuple[Sql, dict[str, str]]:
    s = Sql(dialect)
    return s, _queries(s)


def query_for(dialect: str, kind: str) -> tuple[str, dict[str, Any]]:
    s, queries = _all_queries(dialect)
    sql = queries[kind]
    return sql, _params(s, sql)


def _params(s: Sql, sql: str) -> dict[str, Any]:
    return {name: s.params[name] for name in set(re.findall(r":((?:re|lk)[0-9]+)\b", sql))}


def sort_key(k: Any) -> Any:
    if isinstance(k, list):
        return [str(x) for x in k]
    return (0, k) if isinstance(k, int) else (1, str(k))


def manifest_keys(manifest: dict[str, Any], kind: str) -> list[Any]:
    table = next(t for t, v in manifest["tables"].items() if kind in v["anomalies"])
    keys = manifest["tables"][table]["anomalies"][kind]["keys"]
    return sorted(([k.rstrip() if isinstance(k, str) else k for k in x] if isinstance(x, list)
                   else (x.rstrip() if isinstance(x, str) else x) for x in keys), key=sort_key)
