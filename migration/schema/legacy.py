"""The 14 tables of the legacy ``SafeStats.dbo`` database, declared once: the legacy data dictionary.

It lives beside the target model (:mod:`migration.schema.models`) because both sides read it:
the synthetic generator (:mod:`migration.legacy`) creates these tables, and the mapping layer
asks it which columns cannot hold text.  Under ``legacy/`` it made ``mapping`` depend on the
generator (a layer above it).

Names and columns are exactly those of ``LEGACY-DATA-DICTIONARY.md``.  Each legacy type
is one SQLAlchemy type with per-engine variants, so the same ``MetaData`` creates the
closest tables on SQLite, MariaDB, PostgreSQL and (compiled only) SQL Server 2008 R2:

- ``money`` is ``MONEY`` on SQL Server, exact ``NUMERIC(19,4)`` on MariaDB/PostgreSQL and
  ``TEXT`` on SQLite (whose NUMERIC affinity would store a float): never a float;
- ``bit`` is ``BIT`` on SQL Server, ``BOOL`` on MariaDB, ``BOOLEAN`` elsewhere;
- ``tinyint`` is ``TINYINT`` on SQL Server and MariaDB, ``SMALLINT`` on PostgreSQL;
- ``datetime`` is ``DATETIME`` (SQL Server 2008 R2's ``datetime``, not ``DATETIME2``),
  ``TIMESTAMP WITHOUT TIME ZONE`` on PostgreSQL: London wall-clock time with no zone;
- ``char(n)`` / ``varchar(n)`` are ``CHAR(n)`` / ``VARCHAR(n)`` (not ``NVARCHAR``: the
  legacy text is Windows-1252).

MariaDB tables are created ``latin1`` (MariaDB's latin1 *is* Windows-1252), so text
really is stored as single Windows-1252 bytes and decoded by the ODBC driver.  Only the
IDENTITY column of the dictionary (``tblMPSCrime.RecID``) auto-increments; the generator
inserts explicit keys everywhere.  Non-key columns are nullable: the legacy system
enforced almost nothing, and the migration must not assume it did.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CHAR,
    VARCHAR,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
)
from sqlalchemy.dialects import mssql, mysql
from sqlalchemy.types import TypeEngine

_MYSQL = ("mysql", "mariadb")


def money() -> TypeEngine[Any]:
    """SQL Server ``money``: exact, 4 decimal places, never a float."""
    return (
        Numeric(19, 4, asdecimal=True)
        .with_variant(mssql.MONEY(), "mssql")
        .with_variant(Text(), "sqlite")
    )


def bit() -> TypeEngine[Any]:
    return Boolean(create_constraint=False).with_variant(mssql.BIT(), "mssql")


def tinyint() -> TypeEngine[Any]:
    return (
        SmallInteger()
        .with_variant(mssql.TINYINT(), "mssql")
        .with_variant(mysql.TINYINT(unsigned=True), *_MYSQL)
    )


def datetime_() -> TypeEngine[Any]:
    return DateTime(timezone=False).with_variant(mssql.DATETIME(), "mssql")


def char(n: int) -> TypeEngine[Any]:
    return CHAR(n)


def varchar(n: int) -> TypeEngine[Any]:
    return VARCHAR(n)


def _pk(name: str, type_: TypeEngine[Any], *, identity: bool = False) -> Column[Any]:
    return Column(name, type_, primary_key=True, nullable=False, autoincrement=identity)


def _col(name: str, type_: TypeEngine[Any]) -> Column[Any]:
    return Column(name, type_, nullable=True)


metadata = MetaData()


def _table(name: str, *columns: Column[Any]) -> Table:
    return Table(name, metadata, *columns, mysql_charset="latin1", mysql_engine="InnoDB")


tblBorough = _table(
    "tblBorough",
    _pk("BoroughID", SmallInteger()),
    _col("BoroughName", varchar(50)),
    _col("OldONSCode", char(4)),
    _col("GSSCode", char(9)),
    _col("MPSCode", char(2)),
)

tblWard = _table(
    "tblWard",
    _col("WardCode", varchar(10)),
    _col("WardName", varchar(80)),
    _col("BoroughName", varchar(50)),
    _col("Vintage", char(4)),
)

tblLSOA = _table(
    "tblLSOA",
    _col("LSOACode", char(9)),
    _col("LSOAName", varchar(50)),
    _col("BoroughID", SmallInteger()),
    _col("CensusYear", SmallInteger()),
)

tblCrimeType = _table(
    "tblCrimeType",
    _pk("CrimeTypeID", Integer()),
    _col("MajorCat", varchar(50)),
    _col("MinorCat", varchar(60)),
    _col("HOCode", varchar(10)),
    _col("PoliceUKCat", varchar(40)),
    _col("ViolentFlag", bit()),
    _col("Retired", bit()),
)

tblHospital = _table(
    "tblHospital",
    _pk("HospitalID", Integer()),
    _col("SiteCode", varchar(12)),
    _col("HospitalName", varchar(100)),
    _col("BoroughID", SmallInteger()),
    _col("Easting", Integer()),
    _col("Northing", Integer()),
    _col("ISTVStart", varchar(10)),
    _col("Active", bit()),
)

tblLookupCode = _table(
    "tblLookupCode",
    _col("CodeType", varchar(20)),
    _col("Code", varchar(10)),
    _col("Descr", varchar(100)),
)

tblOrganisation = _table(
    "tblOrganisation",
    _pk("OrgID", Integer()),
    _col("OrgName", varchar(100)),
    _col("OrgType", varchar(20)),
    _col("BoroughName", varchar(50)),
)

tblUser = _table(
    "tblUser",
    _pk("UserID", Integer()),
    _col("Login", varchar(50)),
    _col("Email", varchar(100)),
    _col("OrgID", Integer()),
    _col("AllowedBoroughs", varchar(255)),
    _col("CanSeeISTV", bit()),
    _col("CanSeePoints", bit()),
    _col("Password", varchar(50)),
    _col("LastLogin", datetime_()),
    _col("Disabled", bit()),
)

tblImportLog = _table(
    "tblImportLog",
    _pk("BatchID", Integer()),
    _col("Dataset", varchar(20)),
    _col("FileName", varchar(255)),
    _col("LoadedOn", datetime_()),
    _col("RowCount", Integer()),
    _col("Status", varchar(10)),
)

tblMPSCrime = _table(
    "tblMPSCrime",
    _pk("RecID", Integer(), identity=True),
    _col("CrimeRef", varchar(20)),
    _col("Force", varchar(30)),
    _col("CommittedDate", varchar(10)),
    _col("CommittedTime", char(5)),
    _col("ReportedDT", datetime_()),
    _col("CrimeTypeID", Integer()),
    _col("MajorCat", varchar(50)),
    _col("Borough", varchar(50)),
    _col("WardCode", varchar(10)),
    _col("Easting", varchar(10)),
    _col("Northing", varchar(10)),
    _col("Location", varchar(255)),
    _col("DomesticFlag", char(1)),
    _col("KnifeFlag", bit()),
    _col("Outcome", varchar(100)),
    _col("BatchID", Integer()),
    _col("LastModified", datetime_()),
)

tblISTVAssault = _table(
    "tblISTVAssault",
    _pk("ISTVID", Integer()),
    _col("HospitalID", Integer()),
    _col("SiteCode", varchar(12)),
    _col("ArrivalDT", datetime_()),
    _col("AssaultDate", varchar(10)),
    _col("AssaultTime", varchar(5)),
    _col("Method", char(2)),
    _col("MethodOther", varchar(25)),
    _col("LocType", char(2)),
    _col("LocDesc", varchar(255)),
    _col("GeoLevel", tinyint()),
    _col("GeoConfidence", tinyint()),
    _col("Easting", Integer()),
    _col("Northing", Integer()),
    _col("BoroughID", SmallInteger()),
    _col("PeriodStart", varchar(10)),
    _col("PeriodEnd", varchar(10)),
    _col("BatchID", Integer()),
)

tblLFBIncident = _table(
    "tblLFBIncident",
    _pk("IncidentNumber", varchar(20)),
    _col("DateOfCall", varchar(10)),
    _col("TimeOfCall", char(8)),
    _col("IncidentGroup", varchar(30)),
    _col("StopCode", varchar(50)),
    _col("PropertyCategory", varchar(50)),
    _col("PropertyType", varchar(100)),
    _col("Postcode", varchar(10)),
    _col("BoroughName", varchar(50)),
    _col("WardCode", varchar(10)),
    _col("Easting_m", Integer()),
    _col("Northing_m", Integer()),
    _col("Easting_rounded", Integer()),
    _col("Northing_rounded", Integer()),
    _col("FirstPumpSecs", Integer()),
    _col("NotionalCost", money()),
    _col("BatchID", Integer()),
)

tblLASAssault = _table(
    "tblLASAssault",
    _pk("LASRef", varchar(15)),
    _col("CallDT", datetime_()),
    _col("WardCode", varchar(10)),
    _col("Borough", varchar(50)),
    _col("GridRef", varchar(14)),
    _col("Category", varchar(50)),
    _col("AlcoholFlag", char(1)),
    _col("UpdatedOn", datetime_()),
    _col("BatchID", Integer()),
)

tblTransportCrime = _table(
    "tblTransportCrime",
    _pk("RecID", Integer()),
    _col("SourceAgency", varchar(5)),
    _col("Mode", varchar(20)),
    _col("Route", varchar(30)),
    _col("Station", varchar(60)),
    _col("CrimeDate", varchar(10)),
    _col("CrimeTime", varchar(5)),
    _col("OffenceDesc", varchar(100)),
    _col("Borough", varchar(50)),
    _col("BatchID", Integer()),
)

#: Creation order (reference tables first); drop in reverse.
TABLES: tuple[Table, ...] = (
    tblBorough, tblWard, tblLSOA, tblCrimeType, tblHospital, tblLookupCode,
    tblOrganisation, tblUser, tblImportLog,
    tblMPSCrime, tblISTVAssault, tblLFBIncident, tblLASAssault, tblTransportCrime,
)
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)

#: How a row of each table is identified in the manifest (tables without a primary key
#: use their natural key; tblWard may hold exact duplicate rows, so its keys can repeat).
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "tblBorough": ("BoroughID",),
    "tblWard": ("WardCode", "Vintage"),
    "tblLSOA": ("LSOACode", "CensusYear"),
    "tblCrimeType": ("CrimeTypeID",),
    "tblHospital": ("HospitalID",),
    "tblLookupCode": ("CodeType", "Code"),
    "tblOrganisation": ("OrgID",),
    "tblUser": ("UserID",),
    "tblImportLog": ("BatchID",),
    "tblMPSCrime": ("RecID",),
    "tblISTVAssault": ("ISTVID",),
    "tblLFBIncident": ("IncidentNumber",),
    "tblLASAssault": ("LASRef",),
    "tblTransportCrime": ("RecID",),
}
