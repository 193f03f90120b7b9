"""The generator: shapes, volumes, determinism, types per engine, SQL Server DDL, CLI."""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Boolean, Float, create_engine, inspect, select, text
from sqlalchemy.dialects import mssql
from sqlalchemy.engine import URL, Engine
from sqlalchemy.schema import CreateTable, DropTable

from migration.cli import main
from migration.console import RecordingConsole
from migration.errors import GeneratorError
from migration.legacy import TABLE_NAMES, TABLES, generate, read_manifest
from migration.legacy.writer import insert_sql

from .recount import official_boroughs

REFERENCE_ROWS = {"tblBorough": 35, "tblLSOA": 4765 + 4835, "tblHospital": 35, "tblOrganisation": 120,
                  "tblUser": 600}
REPO = Path(__file__).resolve().parents[2]


def _generate(path: Path, scale: float, seed: int, **kw: Any) -> Any:
    return generate(f"sqlite:///{path}", scale, seed, console=RecordingConsole(), **kw)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("small") / "legacy.sqlite"
    result = _generate(path, 0.005, 11)
    engine = create_engine(f"sqlite:///{path}")
    yield engine, read_manifest(result.manifest_path)
    engine.dispose()


def _digest(engine: Engine) -> str:
    h = hashlib.sha256()
    with engine.connect() as conn:
        for name in TABLE_NAMES:
            for row in conn.execute(text(f'SELECT * FROM "{name}" ORDER BY rowid')):
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()


# ------------------------------------------------------------------ determinism, volumes, reference data
def test_same_seed_and_scale_give_identical_database_and_manifest(tmp_path: Path) -> None:
    a = _generate(tmp_path / "a.sqlite", 0.0008, 99)
    b = _generate(tmp_path / "b.sqlite", 0.0008, 99)
    c = _generate(tmp_path / "c.sqlite", 0.0008, 100)
    assert a.manifest_path.read_bytes() == b.manifest_path.read_bytes()
    assert a.manifest_path.read_bytes() != c.manifest_path.read_bytes()
    engines = [create_engine(f"sqlite:///{tmp_path / n}") for n in ("a.sqlite", "b.sqlite", "c.sqlite")]
    try:
        da, db, dc = (_digest(e) for e in engines)
    finally:
        for e in engines:
            e.dispose()
    assert da == db
    assert da != dc


def test_volumes_at_a_small_scale(small: tuple[Engine, dict[str, Any]]) -> None:
    engine, manifest = small
    rows = {t: v["rows"] for t, v in manifest["tables"].items()}
    # scale 0.005 of 8M / 1.2M / 450k / 350k / 120k; MPS and ISTV add their duplicate rows
    assert 40_000 <= rows["tblMPSCrime"] <= 40_000 * 1.015
    assert rows["tblLFBIncident"] == 6_000
    assert rows["tblLASAssault"] == 2_250
    assert rows["tblTransportCrime"] == 1_750
    assert 600 <= rows["tblISTVAssault"] <= 600 * 1.2
    assert 40 <= rows["tblImportLog"] <= 200
    dup_share = manifest["tables"]["tblMPSCrime"]["anomalies"]["mps.duplicate_crimeref"]["rows"] / rows["tblMPSCrime"]
    assert 0.005 <= dup_share <= 0.02, f"duplicate CrimeRefs are {dup_share:.2%} of rows, expected about 1%"
    orphans = manifest["tables"]["tblMPSCrime"]["anomalies"]["mps.orphan_crimetype"]["rows"] / rows["tblMPSCrime"]
    assert 0.002 <= orphans <= 0.004
    with engine.connect() as conn:
        for table, n in rows.items():
            assert conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one() == n


def test_reference_tables_are_complete_at_a_tiny_scale(tmp_path: Path) -> None:
    result = _generate(tmp_path / "tiny.sqlite", 0.0001, 5)
    assert result.rows["tblMPSCrime"] >= 200
    for table, n in REFERENCE_ROWS.items():
        assert result.rows[table] == n, table
    assert 1_290 <= result.rows["tblWard"] <= 1_330
    assert 120 <= result.rows["tblCrimeType"] <= 140
    assert 360 <= result.rows["tblLookupCode"] <= 440
    engine = create_engine(f"sqlite:///{tmp_path / 'tiny.sqlite'}")
    try:
        with engine.connect() as conn:
            census = dict(conn.execute(text("SELECT CensusYear, COUNT(*) FROM tblLSOA GROUP BY CensusYear")).all())
            assert census == {2001: 4765, 2011: 4835}
            names = [r[0] for r in conn.execute(text("SELECT LSOAName FROM tblLSOA"))]
            assert all(re.fullmatch(r".+ \d{3}[A-Z]", n) for n in names)
            vintages = dict(conn.execute(text("SELECT Vintage, COUNT(*) FROM tblWard GROUP BY Vintage")).all())
            assert set(vintages) == {"2002", "2014"} and min(vintages.values()) > 600
            codes = [r[0] for r in conn.execute(text("SELECT WardCode FROM tblWard WHERE Vintage = '2002'"))]
            assert all(re.fullmatch(r"00[A-Z]{2}[F-H][A-Z]", c) for c in codes)
            assert conn.execute(text("SELECT COUNT(*) FROM tblWard WHERE Vintage = '2014' "
                                     "AND WardCode NOT LIKE 'E05%'")).scalar_one() == 0
            boroughs = dict(conn.execute(text("SELECT BoroughID, GSSCode FROM tblBorough")).all())
            assert set(boroughs) == set(range(1, 34)) | {34, 99}
            assert all(g is None or g == f"E09{i:06d}" for i, g in boroughs.items())
            statuses = conn.execute(text("SELECT Dataset, Status, COUNT(*) FROM tblImportLog "
                                         "GROUP BY Dataset, Status")).all()
            by_dataset: dict[str, set[str]] = {}
            for ds, st, _ in statuses:
                by_dataset.setdefault(ds, set()).add(st)
            assert by_dataset == {ds: {"OK", "FAILED", "RELOADED"} for ds in ("MPS", "LFB", "LAS", "ISTV", "TRANSPORT")}
            spellings = {r[0] for r in conn.execute(text(
                "SELECT DISTINCT Borough FROM tblMPSCrime UNION SELECT DISTINCT BoroughName FROM tblLFBIncident "
                "UNION SELECT DISTINCT Borough FROM tblLASAssault UNION SELECT DISTINCT Borough FROM tblTransportCrime "
                "UNION SELECT DISTINCT BoroughName FROM tblWard UNION SELECT DISTINCT BoroughName FROM tblOrganisation"))}
    finally:
        engine.dispose()
    assert set(official_boroughs()) <= spellings


def test_borough_spellings_of_the_dictionary_all_appear(small: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = small
    with engine.connect() as conn:
        seen = {r[0] for r in conn.execute(text(
            "SELECT Borough FROM tblMPSCrime UNION SELECT BoroughName FROM tblLFBIncident UNION "
            "SELECT Borough FROM tblLASAssault UNION SELECT Borough FROM tblTransportCrime UNION "
            "SELECT BoroughName FROM tblWard UNION SELECT BoroughName FROM tblOrganisation UNION "
            "SELECT BoroughName FROM tblBorough"))}
    for spelling in ("Kensington & Chelsea", "Kensington And Chelsea", "KENSINGTON AND CHELSEA",
                     "Royal Borough of Kingston upon Thames", "Kingston", "Richmond", "City of Westminster",
                     "London Borough of Barnet", "Barking", "Hammersmith & Fulham", "Heathrow", "Unknown",
                     "City of London", None, ""):
        assert spelling in seen, f"{spelling!r} never generated"
    assert any(s and s != s.rstrip() for s in seen), "no trailing spaces"
    assert any(s and "  " in s.strip() for s in seen), "no extra internal spaces"


def test_generator_does_not_print(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    console = RecordingConsole()
    generate(f"sqlite:///{tmp_path / 'q.sqlite'}", 0.0002, 1, console=console)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert any("generated" in line for line in console.lines)


def test_keys_are_optional(tmp_path: Path) -> None:
    with_keys = read_manifest(_generate(tmp_path / "k.sqlite", 0.0002, 1).manifest_path)
    without = read_manifest(_generate(tmp_path / "n.sqlite", 0.0002, 1, keys=False).manifest_path)
    kind = with_keys["tables"]["tblMPSCrime"]["anomalies"]["mps.orphan_crimetype"]
    assert with_keys["keys_recorded"] and len(kind["keys"]) == kind["rows"] > 0
    assert not without["keys_recorded"]
    assert "keys" not in without["tables"]["tblMPSCrime"]["anomalies"]["mps.orphan_crimetype"]
    assert "members" not in without["duplicates"] and without["duplicates"]["groups"] > 0
    assert without["tables"]["tblMPSCrime"]["rows"] == with_keys["tables"]["tblMPSCrime"]["rows"]


def test_refuses_existing_tables_unless_replace(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    _generate(path, 0.0002, 1)
    with pytest.raises(GeneratorError, match="already holds legacy tables"):
        _generate(path, 0.0002, 1)
    again = _generate(path, 0.0002, 2, replace=True)
    assert again.rows["tblBorough"] == 35


@pytest.mark.parametrize("scale", [0, -1, 11])
def test_scale_out_of_range(tmp_path: Path, scale: float) -> None:
    with pytest.raises(GeneratorError, match="out of range"):
        _generate(tmp_path / "s.sqlite", scale, 1)


def test_server_url_needs_a_manifest_path() -> None:
    with pytest.raises(GeneratorError, match="--manifest"):
        generate("postgresql+psycopg2://postgres@127.0.0.1:5432/test", 0.001, 1, console=RecordingConsole())


# ------------------------------------------------------------------ types
def test_money_is_never_a_float_on_sqlite(small: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = small
    with engine.connect() as conn:
        declared = {r[1]: r[2] for r in conn.execute(text("PRAGMA table_info(tblLFBIncident)"))}
        assert declared["NotionalCost"] == "TEXT"
        kinds = {r[0] for r in conn.execute(text("SELECT DISTINCT typeof(NotionalCost) FROM tblLFBIncident"))}
        assert kinds == {"text"}
        values = [r[0] for r in conn.execute(text("SELECT NotionalCost FROM tblLFBIncident"))]
    assert all(re.fullmatch(r"\d+\.\d{4}", v) for v in values)
    assert any(not v.endswith("00") for v in values), "no sub-penny amount to prove exactness"
    for table in TABLES:
        for col in table.columns:
            assert not isinstance(col.type, Float), f"{table.name}.{col.name}"


def test_types_on_sqlite_are_the_dictionary_types(small: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = small
    cols = {c["name"]: c["type"] for c in inspect(engine).get_columns("tblMPSCrime")}
    assert str(cols["CommittedTime"]) == "CHAR(5)" and str(cols["CrimeRef"]) == "VARCHAR(20)"
    assert str(cols["ReportedDT"]) == "DATETIME"
    with engine.connect() as conn:
        row = conn.execute(select(TABLES[TABLE_NAMES.index("tblMPSCrime")]).limit(1)).one()
    assert row.ReportedDT.year >= 2007  # parsed back as a datetime by SQLAlchemy


_FORBIDDEN_2008R2 = {
    "CONCAT": r"\bCONCAT\s*\(", "IIF": r"\bIIF\s*\(", "TRY_CONVERT": r"\bTRY_CONVERT\b",
    "FORMAT": r"\bFORMAT\s*\(", "OFFSET … FETCH": r"\bOFFSET\b|\bFETCH\s+(NEXT|FIRST)\b", "SHA2_256": r"SHA2_256",
    "AT TIME ZONE": r"\bAT\s+TIME\s+ZONE\b", "STRING_AGG": r"\bSTRING_AGG\b", "DATETIME2": r"\bDATETIME2\b",
    "DATETIMEOFFSET": r"\bDATETIMEOFFSET\b", "NVARCHAR (legacy text is varchar)": r"\bNVARCHAR\b",
    "SEQUENCE": r"\bSEQUENCE\b", "THROW": r"\bTHROW\b",
}


def _assert_sql_server_2008r2(sql: str, where: str) -> None:
    for feature, pattern in _FORBIDDEN_2008R2.items():
        assert not re.search(pattern, sql, re.IGNORECASE), f"{where} uses {feature}, which SQL Server 2008 R2 lacks"


def test_ddl_and_generator_statements_compile_for_sql_server_2008r2() -> None:
    dialect = mssql.dialect()
    for table in TABLES:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        _assert_sql_server_2008r2(ddl, f"CREATE TABLE {table.name}")
        _assert_sql_server_2008r2(str(DropTable(table).compile(dialect=dialect)), f"DROP TABLE {table.name}")
        for statement in (table.insert(), insert_sql(dialect, table, 3)):
            sql = str(statement.compile(dialect=dialect)) if not isinstance(statement, str) else statement
            _assert_sql_server_2008r2(sql, f"INSERT {table.name}")
        _assert_sql_server_2008r2(str(select(table).compile(dialect=dialect)), f"SELECT {table.name}")
        for col in table.columns:
            rendered = col.type.compile(dialect=dialect)
            if isinstance(col.type.dialect_impl(dialect), Boolean) or rendered == "BIT":
                assert rendered == "BIT", f"{table.name}.{col.name}"
        if table.name == "tblMPSCrime":
            assert "IDENTITY" in ddl
        else:
            assert "IDENTITY" not in ddl, table.name
    lfb = str(CreateTable(TABLES[TABLE_NAMES.index("tblLFBIncident")]).compile(dialect=dialect))
    assert re.search(r"\[?NotionalCost\]? MONEY", lfb)
    istv = str(CreateTable(TABLES[TABLE_NAMES.index("tblISTVAssault")]).compile(dialect=dialect))
    assert re.search(r"GeoLevel\]? TINYINT", istv) and re.search(r"ArrivalDT\]? DATETIME\b", istv)
    assert re.search(r"\[?Method\]? CHAR\(2\)", istv) and re.search(r"LocDesc\]? VARCHAR\(255\)", istv)
    assert "BIT" in str(CreateTable(TABLES[TABLE_NAMES.index("tblUser")]).compile(dialect=dialect))


def test_the_checker_catches_what_sqlalchemy_renders_for_newer_servers() -> None:
    from sqlalchemy import String, column, func, literal_column, table

    t = table("tblX", column("a", String))
    stmt = select(func.concat(t.c.a, "x")).select_from(t).order_by(t.c.a).offset(5).limit(10)
    with pytest.raises(AssertionError, match="2008 R2"):
        _assert_sql_server_2008r2(str(stmt.compile(dialect=mssql.dialect())), "probe")
    with pytest.raises(AssertionError, match="AT TIME ZONE"):
        _assert_sql_server_2008r2(str(select(literal_column("x AT TIME ZONE 'UTC'"))), "probe")


# ------------------------------------------------------------------ independence
def test_generator_never_imports_the_migration_mapping() -> None:
    # migration.schema.legacy is the legacy schema as the data dictionary declares it (tables,
    # columns, types): a description the generator writes and the migration reads, not one of the
    # migration's transforms, alias tables or code lists the independence rule is about
    allowed = ("migration.legacy", "migration.console", "migration.errors", "migration.secrets",
               "migration.db.engines", "migration.schema.legacy")
    for path in (REPO / "migration" / "legacy").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("migration"):
                    assert name.startswith(allowed), f"{path.name} imports {name}"


# ------------------------------------------------------------------ CLI
def test_cli_generates_and_renders_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli" / "legacy.sqlite"
    code = main(["legacy", "generate", "--url", f"sqlite:///{db}", "--scale", "0.0002", "--seed", "4"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (tmp_path / "cli" / "legacy.manifest.json").is_file()
    assert "tblMPSCrime" in out.out and "total" in out.out
    manifest = read_manifest(tmp_path / "cli" / "legacy.manifest.json")
    assert manifest["seed"] == 4 and manifest["engine"] == "sqlite" and manifest["keys_recorded"]
    code = main(["legacy", "generate", "--url", f"sqlite:///{db}", "--scale", "0.0002", "--seed", "4"])
    assert code == 1 and "--replace" in capsys.readouterr().err


def test_cli_refuses_a_password_in_the_url_and_never_shows_it(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["legacy", "generate", "--url", "postgresql+psycopg2://postgres:Hunter2secret@127.0.0.1/x",
                 "--scale", "0.001", "--seed", "1", "--manifest", "/tmp/never.json"])
    out = capsys.readouterr()
    assert code == 2
    assert "Hunter2secret" not in out.out + out.err
    assert "SAFESTATS_SOURCE_PASSWORD" in out.err


def test_cli_server_url_without_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["legacy", "generate", "--url", "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
                 "--scale", "0.001", "--seed", "1"])
    assert code == 2  # usage: --manifest is needed for a server database
    assert "--manifest" in capsys.readouterr().err


# ------------------------------------------------------------------ other engines
@pytest.mark.mariadb
def test_mariadb_tables_are_latin1_and_cp1252_round_trips(mariadb_url: URL, tmp_path: Path) -> None:
    engine = create_engine(mariadb_url)
    with engine.connect() as conn:  # a UTF-8 database: the tables themselves must ask for latin1
        db = conn.execute(text("SELECT DATABASE()")).scalar_one()
        conn.execute(text(f"ALTER DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"))
    generate(mariadb_url, 0.0002, 3, tmp_path / "m.json", console=RecordingConsole())
    try:
        with engine.connect() as conn:
            charsets = conn.execute(text(
                "SELECT DISTINCT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = :db "
                "AND CHARACTER_SET_NAME IS NOT NULL"), {"db": db}).scalars().all()
            assert charsets == ["latin1"]
            money = conn.execute(text(
                "SELECT DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = :db AND COLUMN_NAME = 'NotionalCost'"), {"db": db}).one()
            assert tuple(money) == ("decimal", 19, 4)
            names = conn.execute(text("SELECT OrgName, HEX(OrgName) FROM tblOrganisation "
                                      "WHERE OrgName LIKE :p"), {"p": "%’%"}).all()
            assert names and all("’" in n for n, _ in names)
            assert all("92" in h for _, h in names)  # one Windows-1252 byte, not UTF-8 E2 80 99
            assert not any("E28099" in h for _, h in names)
            cost = conn.execute(text("SELECT NotionalCost FROM tblLFBIncident LIMIT 1")).scalar_one()
            assert type(cost).__name__ == "Decimal"
        cols = {c["name"]: c["type"] for c in inspect(engine).get_columns("tblISTVAssault")}
        assert "TINYINT" in str(cols["GeoLevel"]).upper()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_generation_smoke(pg_url: URL, tmp_path: Path) -> None:
    result = generate(pg_url, 0.0005, 8, tmp_path / "pg.json", console=RecordingConsole())
    assert result.engine == "postgresql"
    manifest = read_manifest(tmp_path / "pg.json")
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            for table, entry in manifest["tables"].items():
                assert conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one() == entry["rows"], table
            money = conn.execute(text("SELECT numeric_precision, numeric_scale FROM information_schema.columns "
                                      "WHERE table_name = 'tblLFBIncident' AND column_name = 'NotionalCost'")).one()
            assert tuple(money) == (19, 4)
            loc = conn.execute(text("""SELECT "LocDesc" FROM "tblISTVAssault" WHERE "LocDesc" LIKE '%’%' """)).first()
            assert loc is not None
            dups = conn.execute(text("""SELECT COUNT(*) FROM "tblMPSCrime" m JOIN "tblImportLog" l
                                        ON l."BatchID" = m."BatchID" WHERE l."Status" = 'FAILED'""")).scalar_one()
            assert dups == manifest["tables"]["tblMPSCrime"]["anomalies"]["mps.failed_batch_row"]["rows"] > 0
    finally:
        engine.dispose()
