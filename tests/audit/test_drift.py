"""Legacy schema drift on SQLite and MariaDB (issue 12): rename, drop, retype or narrow a
column a mapping uses → a FAIL naming it; the same on a column no mapping uses → a WARN
with a readable diff (against the recorded fingerprint)."""

from __future__ import annotations

import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyodbc
import pytest
from sqlalchemy.engine import URL, make_url

from migration.audit.fingerprint import capture, diff, mapped_columns, mapped_drift
from migration.console import RecordingConsole
from migration.db.engines import source_engine
from migration.legacy import generate
from migration.mapping.order import parsed_specs
from tests.audit.conftest import MAPPINGS
from tests.conftest import MARIADB_ODBC, MARIADB_URL_TEMPLATE
from tests.steps.conftest import SCALE

MAPPED = ("tblMPSCrime", "Outcome")          # a column the police mapping reads
UNMAPPED = ("tblMPSCrime", "Notes")          # a column no mapping declares (added before the baseline)
MUTATIONS = ("rename", "drop", "retype", "narrow")


def _specs():  # type: ignore[no-untyped-def]
    return parsed_specs(MAPPINGS)


# --------------------------------------------------------------------------- SQLite
def _sqlite_recreate(con: sqlite3.Connection, table: str, column: str, new_type: str) -> None:
    """SQLite cannot ALTER a column's type: the table is rebuilt with the new declaration."""
    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    new_sql = re.sub(rf'"{column}" [A-Z]+(\(\d+\))?', f'"{column}" {new_type}', sql, count=1)
    assert new_sql != sql
    tmp = f"{table}_new"
    con.execute(new_sql.replace(f'"{table}"', f'"{tmp}"', 1))
    con.execute(f'INSERT INTO "{tmp}" SELECT * FROM "{table}"')
    con.execute(f'DROP TABLE "{table}"')
    con.execute(f'ALTER TABLE "{tmp}" RENAME TO "{table}"')


def _sqlite_mutate(path: Path, what: str, table: str, column: str) -> None:
    con = sqlite3.connect(path)
    with con:
        if what == "rename":
            con.execute(f'ALTER TABLE "{table}" RENAME COLUMN "{column}" TO "{column}Text"')
        elif what == "drop":
            con.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        elif what == "retype":
            _sqlite_recreate(con, table, column, "INTEGER")
        else:
            _sqlite_recreate(con, table, column, "VARCHAR(40)")
    con.close()


@pytest.fixture(scope="module")
def sqlite_base(legacy_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("drift") / "base.sqlite"
    shutil.copy(legacy_sqlite, path)
    con = sqlite3.connect(path)
    with con:
        con.execute('ALTER TABLE "tblMPSCrime" ADD COLUMN "Notes" VARCHAR(100)')
    con.close()
    return path


@pytest.fixture
def sqlite_case(sqlite_base: Path, tmp_path: Path) -> Iterator[tuple[URL, Callable[[str, str, str], None]]]:
    path = tmp_path / "legacy.sqlite"
    shutil.copy(sqlite_base, path)
    yield make_url(f"sqlite:///{path}"), lambda what, t, c: _sqlite_mutate(path, what, t, c)


# --------------------------------------------------------------------------- MariaDB
@pytest.fixture(scope="module")
def mariadb_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    name = f"ss_drift_{uuid.uuid4().hex[:10]}"
    conn = pyodbc.connect(MARIADB_ODBC, autocommit=True)
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    conn.close()
    url = make_url(MARIADB_URL_TEMPLATE.format(db=name))
    try:
        generate(url, SCALE, 7, tmp_path_factory.mktemp("m") / "manifest.json", console=RecordingConsole())
        _maria(name, "ALTER TABLE tblMPSCrime ADD COLUMN Notes VARCHAR(100) NULL")
        yield url
    finally:
        conn = pyodbc.connect(MARIADB_ODBC, autocommit=True)
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def _maria(db: str, *statements: str) -> None:
    conn = pyodbc.connect(MARIADB_ODBC + f";DATABASE={db}", autocommit=True)
    try:
        for s in statements:
            conn.cursor().execute(s)
    finally:
        conn.close()


@pytest.fixture
def mariadb_case(mariadb_base: URL) -> Iterator[tuple[URL, Callable[[str, str, str], None]]]:
    """The module's MariaDB legacy; each mutation is undone after the test."""
    db = mariadb_base.database
    assert db is not None
    undo: list[str] = []

    def mutate(what: str, table: str, column: str) -> None:
        if what == "rename":
            _maria(db, f"ALTER TABLE {table} RENAME COLUMN {column} TO {column}Text")
            undo.append(f"ALTER TABLE {table} RENAME COLUMN {column}Text TO {column}")
        elif what == "drop":
            _maria(db, f"ALTER TABLE {table} DROP COLUMN {column}")
            undo.append(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(100) NULL")
        elif what == "retype":
            _maria(db, f"UPDATE {table} SET {column} = NULL", f"ALTER TABLE {table} MODIFY {column} INTEGER NULL")
            undo.append(f"ALTER TABLE {table} MODIFY {column} VARCHAR(100) NULL")
        else:
            _maria(db, f"UPDATE {table} SET {column} = LEFT({column}, 40)",
                   f"ALTER TABLE {table} MODIFY {column} VARCHAR(40) NULL")
            undo.append(f"ALTER TABLE {table} MODIFY {column} VARCHAR(100) NULL")

    yield mariadb_base, mutate
    _maria(db, *undo)


# --------------------------------------------------------------------------- the checks
def _check(url: URL, mutate: Callable[[str, str, str], None], what: str, table: str, column: str):  # type: ignore[no-untyped-def]
    specs = _specs()
    eng = source_engine(url)
    try:
        baseline = capture(eng)
        assert not [d for d in mapped_drift(specs, baseline, baseline)], "the unchanged legacy shows drift"
        assert diff(baseline, baseline) == []
        mutate(what, table, column)
        eng.dispose()
        live = capture(eng)
    finally:
        eng.dispose()
    mapped = {(t, c) for t, cols in mapped_columns(specs).items() for c in cols}
    return mapped_drift(specs, live, baseline), diff(baseline, live, skip=mapped)


@pytest.mark.parametrize("what", MUTATIONS)
def test_sqlite_mapped_column_drift_fails_naming_it(sqlite_case, what: str) -> None:  # type: ignore[no-untyped-def]
    url, mutate = sqlite_case
    drifts, _elsewhere = _check(url, mutate, what, *MAPPED)
    fatal = [d for d in drifts if d.fatal]
    assert fatal and all(d.table == MAPPED[0] and d.column == MAPPED[1] for d in fatal), drifts
    assert "tblMPSCrime.Outcome" in fatal[0].message
    if what == "rename":
        assert fatal[0].kind == "renamed" and "OutcomeText" in fatal[0].message
    if what in ("retype", "narrow"):
        assert fatal[0].kind == ("retyped" if what == "retype" else "narrowed")


@pytest.mark.parametrize("what", MUTATIONS)
def test_sqlite_unmapped_column_drift_warns(sqlite_case, what: str) -> None:  # type: ignore[no-untyped-def]
    url, mutate = sqlite_case
    drifts, elsewhere = _check(url, mutate, what, *UNMAPPED)
    assert not [d for d in drifts if d.fatal], drifts
    assert elsewhere and all("tblMPSCrime.Notes" in line for line in elsewhere), elsewhere


@pytest.mark.mariadb
@pytest.mark.parametrize("what", MUTATIONS)
def test_mariadb_mapped_column_drift_fails_naming_it(mariadb_case, what: str) -> None:  # type: ignore[no-untyped-def]
    url, mutate = mariadb_case
    drifts, _elsewhere = _check(url, mutate, what, *MAPPED)
    fatal = [d for d in drifts if d.fatal]
    assert fatal and all(d.table == MAPPED[0] and d.column == MAPPED[1] for d in fatal), drifts
    if what == "rename":
        assert fatal[0].kind == "renamed" and "OutcomeText" in fatal[0].message
    if what in ("retype", "narrow"):
        assert fatal[0].kind == ("retyped" if what == "retype" else "narrowed")


@pytest.mark.mariadb
@pytest.mark.parametrize("what", MUTATIONS)
def test_mariadb_unmapped_column_drift_warns(mariadb_case, what: str) -> None:  # type: ignore[no-untyped-def]
    url, mutate = mariadb_case
    drifts, elsewhere = _check(url, mutate, what, *UNMAPPED)
    assert not [d for d in drifts if d.fatal], drifts
    assert elsewhere and all("tblMPSCrime.Notes" in line for line in elsewhere), elsewhere


@pytest.mark.mariadb
def test_profile_reads_mariadb_as_the_loader_does(mariadb_case, legacy_sqlite: Path) -> None:  # type: ignore[no-untyped-def]
    """The generator writes the same rows whatever the engine (same seed and scale as the SQLite
    legacy of the runner tests): read over pyodbc, every prediction and flag count is the same."""
    from migration.audit.profile import profile
    from tests.audit.conftest import CHECKS

    url, _mutate = mariadb_case
    specs = _specs()
    maria = profile(url, specs, checks_dir=CHECKS)
    lite = profile(make_url(f"sqlite:///{legacy_sqlite}"), specs, checks_dir=CHECKS)
    assert maria.prediction_counts() == lite.prediction_counts()
    assert [s.flags() for s in maria.stages] == [s.flags() for s in lite.stages]
