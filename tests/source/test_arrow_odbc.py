"""The columnar ODBC reader (issue 15): ``safestats_reader=arrow-odbc`` in a source URL reads
the legacy rows through arrow-odbc instead of pyodbc, and must give the very same chunks.

Differential, on real MariaDB (latin1, the legacy code page, through the MariaDB ODBC driver):
one table of hostile values — Windows-1252 specials and the five bytes it leaves undefined, NUL
inside a value and as the whole value, C0 controls and DEL, values at the declared maximum
length in one- and three-byte UTF-8 characters, ``CHAR`` padding, an utf8mb4 column, SQL Server
``datetime`` tick values and limits, ``money`` limits, BIGINT limits, booleans, doubles, NULLs —
and the generated legacy tables, each read both ways in small chunks, whole and between bounds,
with integer and text keys.  Every chunk (its text frame, its size, its last key) must be equal.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyodbc
import pytest
from sqlalchemy.engine import URL, make_url

from migration.console import RecordingConsole
from migration.db.engines import READER_KEY, source_engine, source_reader_kind
from migration.db.source import ARROW_MAX_TEXT_BYTES, SourceReader
from migration.errors import SettingsError, SourceError
from migration.legacy import generate
from migration.schema import api
from tests.conftest import MARIADB_ODBC
from tests.steps.conftest import SCALE
from tests.steps.test_hostile_text import PLANTS, assert_stages_survive_hostile_text, plant_mariadb

pytestmark = pytest.mark.mariadb

RAW_TEXT = [
    b"Caf\xe9 \x96 \x92s \xa3 \x80 \x93q\x94", b"x\x81\x8d\x8f\x90\x9dy", b"On or near\x00 Baker Street", b"\x00\x00",
    b"\xe9" * 255, b"\x80" * 255, b"line 1\r\nline 2\tend", b"\\N", b"  lead \xa0", b"", b"\x1b[31mRed\x07\x7f",
    b"\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8e\x91\x95\x97\x98\x99\x9a\x9b\x9c\x9e\x9f", None,
]
# SQL Server datetime keeps 1/300 s (…0, …3, …7 ms) from 1753 to 9999
DATETIMES = ["2012-03-09 23:59:59.997", "1753-01-01 00:00:00.000", "9999-12-31 23:59:59.997",
             "2012-03-09 00:00:00.003", "2012-03-09 00:00:00.007", "2012-03-25 01:30:00.000",
             "2000-02-29 12:00:00.500", None, "1900-01-01 00:00:00.000", "2026-10-25 01:30:00.123"]
# money is DECIMAL(19,4) from -922,337,203,685,477.5808 to 922,337,203,685,477.5807
MONEY = ["922337203685477.5807", "-922337203685477.5808", "0.0001", "-0.0001", "0.0000", "1234.5000", None,
         "100000000000000.0000", "-1.1000"]
UNICODE = ["é€’\u0085x", "\u2603 snow", "日本", None]
BIGINTS = [9223372036854775807, -9223372036854775808, 0, None]
DOUBLES = [0.1, 1e308, -2.2250738585072014e-308, None, 1 / 3]
ROWS = 40


def arrow_url(url: URL) -> URL:
    return url.update_query_dict({READER_KEY: "arrow-odbc"})


def odbc(url: URL) -> pyodbc.Connection:
    return pyodbc.connect(MARIADB_ODBC + f";DATABASE={url.database}", autocommit=True)


@pytest.fixture
def hostile(mariadb_url: URL) -> URL:
    conn = odbc(mariadb_url)
    cur = conn.cursor()
    cur.execute("""CREATE TABLE hostile (id INT PRIMARY KEY, v VARCHAR(255), c CHAR(5), u VARCHAR(20) CHARACTER SET
                   utf8mb4, dt DATETIME(3), dt0 DATETIME, d DATE, m DECIMAL(19,4), big BIGINT, b TINYINT(1),
                   f DOUBLE)""")
    # a text key in the legacy code page: rows come in its binary (_bin) order on both roads
    cur.execute("CREATE TABLE hostile_text_key (k VARCHAR(20) PRIMARY KEY, v VARCHAR(255))")
    for i in range(ROWS):
        raw = RAW_TEXT[i % len(RAW_TEXT)]
        v = "NULL" if raw is None else f"x'{raw.hex()}'"
        c = "NULL" if raw is None else f"x'{raw[:5].hex()}'"
        dt = DATETIMES[i % len(DATETIMES)]
        cur.execute(f"INSERT INTO hostile VALUES ({i}, {v}, {c}, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [UNICODE[i % len(UNICODE)], dt, dt and dt[:19], dt and dt[:10], MONEY[i % len(MONEY)],
                     BIGINTS[i % len(BIGINTS)], [1, 0, None][i % 3], DOUBLES[i % len(DOUBLES)]])
        key = (b"K\x80\xe9" + bytes([0x41 + i % 26]) + str(i).encode()) if i % 2 else str(i).encode()
        cur.execute(f"INSERT INTO hostile_text_key VALUES (x'{key.hex()}', {v if raw != b'' else 'NULL'})")
    conn.close()
    return mariadb_url


def chunks(url: URL, table: str, columns: list[str], **kw: Any) -> list[tuple[Any, list[tuple[Any, ...]], int]]:
    engine = source_engine(url)
    try:
        return [(c.last_key, c.frame.rows(), c.size) for c in SourceReader(engine).stream(table, columns, **kw)]
    finally:
        engine.dispose()


def assert_same_both_ways(url: URL, table: str, columns: list[str], **kw: Any) -> None:
    assert source_reader_kind(source_engine(arrow_url(url))) == "arrow-odbc"
    want = chunks(url, table, columns, **kw)
    got = chunks(arrow_url(url), table, columns, **kw)
    assert sum(n for *_, n in want) > 0
    assert [n for *_, n in got] == [n for *_, n in want], "chunk sizes differ"
    for (wk, wrows, _), (gk, grows, _) in zip(want, got, strict=True):
        assert gk == wk and type(gk) is type(wk)
        for w, g in zip(wrows, grows, strict=True):
            assert g == w, f"{table}: arrow-odbc {g!r} != pyodbc {w!r}"


HOSTILE_COLUMNS = ["id", "v", "c", "u", "dt", "dt0", "d", "m", "big", "b", "f"]


def test_hostile_values_read_the_same_through_arrow_odbc(hostile: URL) -> None:
    assert_same_both_ways(hostile, "hostile", HOSTILE_COLUMNS, key="id", chunk_rows=7)
    assert_same_both_ways(hostile, "hostile", HOSTILE_COLUMNS, key="id", after=4, upto=31, chunk_rows=5)
    assert_same_both_ways(hostile, "hostile_text_key", ["k", "v"], key="k", key_type="text", chunk_rows=6)
    middle = chunks(hostile, "hostile_text_key", ["k", "v"], key="k", key_type="text", chunk_rows=10)[1][0]
    assert_same_both_ways(hostile, "hostile_text_key", ["k", "v"], key="k", key_type="text", after=middle,
                          chunk_rows=4)


def test_the_hostile_values_are_really_there(hostile: URL) -> None:
    """The differential above compares something: the planted values arrive as the codec reads them."""
    rows = [r for _, frame, _ in chunks(arrow_url(hostile), "hostile", HOSTILE_COLUMNS, key="id", chunk_rows=100)
            for r in frame]
    by_id = {int(r[0]): r for r in rows}
    assert by_id[0][1] == "Café – ’s £ € “q”"
    assert by_id[1][1] == "x\x81\x8d\x8f\x90\x9dy"  # the undefined bytes: C1 controls of the same number
    assert by_id[2][1] == "On or near\x00 Baker Street"
    assert by_id[5][1] == "€" * 255
    assert by_id[0][4] == "2012-03-09 23:59:59.997000" and by_id[2][4] == "9999-12-31 23:59:59.997000"
    assert by_id[0][7] == "922337203685477.5807" and by_id[1][7] == "-922337203685477.5808"
    assert Decimal(by_id[2][7]) == Decimal("0.0001")
    assert by_id[1][8] == "-9223372036854775808" and by_id[0][9] == "1"


def test_generated_legacy_tables_read_the_same(mariadb_url: URL, tmp_path: Path) -> None:
    generate(mariadb_url, 0.001, 11, tmp_path / "m.manifest.json", console=RecordingConsole(), keys=False)
    engine = source_engine(mariadb_url)
    reader = SourceReader(engine)
    for table, key, key_type in (("tblMPSCrime", "RecID", "int"), ("tblLFBIncident", "IncidentNumber", "text"),
                                 ("tblISTVAssault", "ISTVID", "int"), ("tblWard", "WardCode", "text")):
        columns = list(reader.columns(table))
        assert_same_both_ways(mariadb_url, table, columns, key=key, key_type=key_type, chunk_rows=333)
    engine.dispose()


def test_unbounded_text_columns_read_the_same_or_fail_loudly(mariadb_url: URL) -> None:
    """TEXT columns (declared 64 KB) and LONGTEXT (4 GB): values up to the reader's cap read the
    same both ways; a longer one fails the read with exit 3 naming the columns, never cut."""
    conn = odbc(mariadb_url)
    cur = conn.cursor()
    cur.execute("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT, lt LONGTEXT)")
    cur.execute("INSERT INTO notes VALUES (1, REPEAT('a', 60000), 'short'), (2, NULL, ''), "
                "(3, CONCAT(REPEAT(x'e9', 30000), x'80'), NULL)")
    assert_same_both_ways(mariadb_url, "notes", ["id", "body", "lt"], key="id", chunk_rows=2)
    # one byte over the cap came back cut to the cap with no indicator: refused by our own check
    cur.execute(f"INSERT INTO notes VALUES (4, 'x', REPEAT('b', {ARROW_MAX_TEXT_BYTES + 1}))")
    assert len(chunks(mariadb_url, "notes", ["id", "lt"], key="id")[0][1][3][1]) == ARROW_MAX_TEXT_BYTES + 1
    with pytest.raises(SourceError, match="column lt: a value of 65,536 bytes fills") as err:
        chunks(arrow_url(mariadb_url), "notes", ["id", "body", "lt"], key="id")
    assert err.value.exit_code == 3
    # far over the cap: arrow-odbc's own truncation indicator or our check, whichever sees it first
    # (both were seen: the indicator is not raised for every over-long value)
    cur.execute(f"UPDATE notes SET lt = REPEAT('b', {2 * ARROW_MAX_TEXT_BYTES}) WHERE id = 4")
    conn.close()
    with pytest.raises(SourceError, match="column lt: a value of 65,536 bytes fills|does not fit arrow-odbc's buffer"
                                          ".*one of: body, lt") as err:
        chunks(arrow_url(mariadb_url), "notes", ["id", "body", "lt"], key="id")
    assert err.value.exit_code == 3


def test_the_reader_setting_is_checked(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown legacy reader") as bad:
        source_engine(make_url(f"mysql+pyodbc://root@127.0.0.1/x?driver=MariaDB+Unicode&{READER_KEY}=turbo"))
    assert bad.value.exit_code == 2
    with pytest.raises(SettingsError, match="needs an ODBC source"):
        source_engine(make_url(f"sqlite:///{tmp_path / 'x.sqlite'}?{READER_KEY}=arrow-odbc"))


def test_an_odbc_error_is_a_source_error(hostile: URL) -> None:
    """An ODBC failure inside arrow-odbc is the migration's SourceError (exit 3) naming the table."""
    engine = source_engine(arrow_url(hostile))
    with pytest.raises(SourceError, match="no_such_table") as err:
        list(SourceReader(engine).stream("no_such_table", ["a"], key=None))
    assert err.value.exit_code == 3
    engine.dispose()


@pytest.mark.postgres
def test_hostile_text_loads_and_reconciles_through_arrow_odbc(mariadb_url: URL, pg_url: URL, tmp_path: Path) -> None:
    """End to end: the hostile-text stages (issue 10's planted values) run, balance, flag and
    reconcile when the MariaDB source is read through arrow-odbc, exactly as through pyodbc."""
    api.upgrade(pg_url)
    generate(mariadb_url, SCALE, 7, tmp_path / "m.manifest.json", console=RecordingConsole())
    planted = plant_mariadb(mariadb_url)
    assert len(planted) == len(PLANTS)
    assert_stages_survive_hostile_text(arrow_url(mariadb_url), pg_url, planted)


def smalldatetime(dt: str | None) -> str | None:
    """The minute of ``dt`` as ISO 8601 text, where smalldatetime holds it (1900-01-01 to 2079-06-06)."""
    if dt is None or not "1900-01-01" <= dt[:10] <= "2079-06-06":
        return None
    return dt[:16].replace(" ", "T") + ":00"


@pytest.mark.mssql
def test_hostile_values_from_sql_server_read_the_same(mssql_url: URL) -> None:
    """The same differential on a real SQL Server (SAFESTATS_TEST_MSSQL_URL, a login that may
    create a table), with its own types: varchar in Latin1_General_CI_AS, nvarchar, datetime at
    its tick values and limits, datetime2(7), smalldatetime, money and smallmoney at their limits,
    bit.  Datetime text goes in as ISO 8601 with ``T`` through ``CONVERT(…, 126)``: a British
    login would read '2012-03-09 …' day-first.  Not run on the project machines (no SQL Server):
    run it before ``safestats_reader=arrow-odbc`` is set on the real source."""
    import uuid

    from sqlalchemy import create_engine, text

    table = f"ss_hostile_{uuid.uuid4().hex[:8]}"
    engine = create_engine(mssql_url, isolation_level="AUTOCOMMIT")
    smallmoney = ["214748.3647", "-214748.3648", "0.0001", None]
    datetime2 = ["2012-03-09T23:59:59.9999999", "0001-01-01T00:00:00.0000000", "9999-12-31T23:59:59.9999999", None]
    try:
        with engine.connect() as c:
            c.execute(text(f"CREATE TABLE {table} (id INT PRIMARY KEY, v VARCHAR(255) COLLATE Latin1_General_CI_AS, "
                           "c CHAR(5) COLLATE Latin1_General_CI_AS, n NVARCHAR(20), dt DATETIME, d2 DATETIME2(7), "
                           "sd SMALLDATETIME, m MONEY, sm SMALLMONEY, big BIGINT, b BIT, f FLOAT)"))
            for i in range(ROWS):
                raw = RAW_TEXT[i % len(RAW_TEXT)]
                v = "NULL" if raw is None else f"CAST(0x{raw.hex()} AS VARCHAR(255))"
                ch = "NULL" if raw is None else f"CAST(0x{raw[:5].hex()} AS CHAR(5))"
                dt = DATETIMES[i % len(DATETIMES)]
                c.execute(text(f"INSERT INTO {table} VALUES ({i}, {v}, {ch}, :n, CONVERT(datetime, :dt, 126), "
                               "CONVERT(datetime2(7), :d2, 126), CONVERT(smalldatetime, :sd, 126), "
                               "CAST(:m AS MONEY), CAST(:sm AS SMALLMONEY), :big, :b, :f)"),
                          dict(n=UNICODE[i % len(UNICODE)], dt=dt and dt.replace(" ", "T"),
                               d2=datetime2[i % len(datetime2)],
                               sd=smalldatetime(dt),
                               m=MONEY[i % len(MONEY)], sm=smallmoney[i % len(smallmoney)], big=BIGINTS[i % len(BIGINTS)],
                               b=[1, 0, None][i % 3], f=DOUBLES[i % len(DOUBLES)]))
        assert_same_both_ways(mssql_url, table, ["id", "v", "c", "n", "dt", "d2", "sd", "m", "sm", "big", "b", "f"],
                              key="id", chunk_rows=7)
    finally:
        with engine.connect() as c:
            c.execute(text(f"IF OBJECT_ID('{table}') IS NOT NULL DROP TABLE {table}"))
        engine.dispose()
