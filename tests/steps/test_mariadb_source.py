"""A legacy database in MariaDB, read through pyodbc with a login that may only SELECT.

The runner issue: "The source is read-only, enforced by the database, not only by code
… a MariaDB user with SELECT only in the tests; a test shows a raw write attempt through
the source connection fails."  The login's password reaches the migration only through
``SAFESTATS_SOURCE_PASSWORD`` (never a command line) and must appear in no output and
no ledger row.  The generator is deterministic per seed whatever the engine, so the
migrated target must equal the one migrated from the SQLite copy of the same seed.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyodbc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.ledger import Ledger
from migration.legacy import TABLE_NAMES, generate
from migration.plan.execute import Orchestrator
from migration.settings import load_settings
from tests.conftest import MARIADB_ODBC
from tests.steps.conftest import REPO, SCALE, snapshot

pytestmark = [pytest.mark.mariadb, pytest.mark.postgres]

SEED = 7  # the seed of the shared SQLite legacy (tests/steps/conftest.py), for the comparison


@pytest.fixture
def mariadb_legacy(mariadb_url: URL, tmp_path: Path) -> URL:
    """The small legacy database of the runner tests, generated into MariaDB (latin1) by root."""
    generate(mariadb_url, SCALE, SEED, tmp_path / "mariadb.manifest.json", console=RecordingConsole())
    return mariadb_url


@pytest.fixture
def select_only_login(mariadb_legacy: URL) -> Iterator[tuple[URL, str]]:
    """A MariaDB login with SELECT on the legacy database and nothing else, and its random
    password.  The URL carries no password: it is handed over the way an operator would,
    in SAFESTATS_SOURCE_PASSWORD."""
    user = f"ss_ro_{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(18)
    db = mariadb_legacy.database
    root = pyodbc.connect(MARIADB_ODBC, autocommit=True)
    hosts = ("localhost", "127.0.0.1", "%")
    try:
        for host in hosts:
            root.cursor().execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
            root.cursor().execute(f"GRANT SELECT ON `{db}`.* TO '{user}'@'{host}'")
        yield mariadb_legacy.set(username=user, password=None), password
    finally:
        for host in hosts:
            root.cursor().execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        root.close()


def _settings(source: URL, password: str, target: URL | None = None) -> Any:
    env = {"SAFESTATS_SOURCE_URL": source.render_as_string(hide_password=False),
           "SAFESTATS_SOURCE_PASSWORD": password, "SAFESTATS_MAPPINGS_DIR": str(REPO / "mappings")}
    if target is not None:
        env["SAFESTATS_TARGET_URL"] = target.render_as_string(hide_password=False)
    return load_settings(env=env)


def _root_count(url: URL, table: str) -> int:
    root = pyodbc.connect(MARIADB_ODBC, autocommit=True)
    try:
        return int(root.cursor().execute(f"SELECT COUNT(*) FROM `{url.database}`.`{table}`").fetchone()[0])
    finally:
        root.close()


def test_a_raw_write_through_the_migrations_source_connection_is_refused_by_mariadb(
        select_only_login: tuple[URL, str], target_url: URL) -> None:
    source, password = select_only_login
    runner = Orchestrator(_settings(source, password, target_url), RecordingConsole())
    before = _root_count(source, "tblBorough")
    try:
        with runner.source.connect() as conn:  # the very engine the runner extracts with
            assert conn.execute(text("SELECT COUNT(*) FROM tblBorough")).scalar_one() == before == 35
            attempts = ["DELETE FROM tblBorough",
                        "UPDATE tblMPSCrime SET CrimeRef = 'X' WHERE RecID = 1",
                        "INSERT INTO tblBorough (BoroughID, BoroughName) VALUES (1000, 'Nowhere')",
                        "CREATE TABLE sneaky (x int)",
                        "DROP TABLE tblWard"]
            for sql in attempts:
                with pytest.raises(DBAPIError) as err:
                    conn.execute(text(sql))
                    conn.commit()
                assert "denied" in str(err.value).lower(), (sql, err.value)
                conn.rollback()
                # the password never leaks through an error message
                assert password not in str(err.value)
    finally:
        runner.close()
    assert _root_count(source, "tblBorough") == before
    assert _root_count(source, "tblWard") > 0


@pytest.mark.slow
def test_every_stage_runs_from_mariadb_through_the_select_only_login_balances_and_matches_sqlite(
        select_only_login: tuple[URL, str], target_url: URL,
        reference_snapshot: dict[str, list[tuple[Any, ...]]]) -> None:
    source, password = select_only_login
    env = dict(os.environ)
    env.update({"SAFESTATS_SOURCE_URL": source.render_as_string(hide_password=False),
                "SAFESTATS_SOURCE_PASSWORD": password,
                "SAFESTATS_TARGET_URL": target_url.render_as_string(hide_password=False),
                "SAFESTATS_MAPPINGS_DIR": str(REPO / "mappings")})
    assert password not in env["SAFESTATS_SOURCE_URL"]
    args = [sys.executable, "-m", "migration", "run", "--all"]
    proc = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert password not in " ".join(args)
    assert password not in proc.stdout and password not in proc.stderr

    eng = create_engine(target_url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            counts = Ledger(eng).table_counts(conn)
            assert {c.source_table for c in counts} == set(TABLE_NAMES)
            for c in counts:
                assert c.balanced, c
                assert c.rows_read == _root_count(source, c.source_table), c
            # the ledger names the source, redacted: the login yes, its password never
            urls = {r[0] for r in conn.execute(text(
                "SELECT DISTINCT source_url FROM ledger.run WHERE source_url IS NOT NULL"))}
            assert urls and all(source.username in u and "mysql+pyodbc" in u for u in urls), urls
            tables = [r[0] for r in conn.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'ledger' "
                "AND table_type IN ('BASE TABLE', 'VIEW')"))]
            assert {"run", "event", "quarantine", "table_count"} <= set(tables)
            for table in tables:
                dumped = conn.execute(text(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM ledger.{table} t"))
                assert password not in dumped.scalar_one(), f"the password is in ledger.{table}"
    finally:
        eng.dispose()

    got = snapshot(target_url)
    differing = [t for t in got if got[t] != reference_snapshot[t]]
    assert not differing, {t: _first_difference(got[t], reference_snapshot[t]) for t in differing}


def _first_difference(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> Any:
    only_a, only_b = sorted(set(a) - set(b), key=repr), sorted(set(b) - set(a), key=repr)
    return {"rows": (len(a), len(b)), "only_from_mariadb": only_a[:3], "only_from_sqlite": only_b[:3]}
