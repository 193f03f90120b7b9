"""The MariaDB source connection killed (``KILL <id>``) while the load reads a table (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pyodbc
import pytest
from sqlalchemy.engine import URL

from migration.console import RecordingConsole
from migration.legacy import generate
from tests.conftest import MARIADB_ODBC
from tests.faults.conftest import (
    CHUNK_ROWS,
    Reference,
    assert_identical,
    cli_env,
    start,
    wait_paused,
)
from tests.rollback.conftest import SCALE, SEED

pytestmark = [pytest.mark.mariadb, pytest.mark.postgres]


def _kill_sessions(database: str) -> int:
    root = pyodbc.connect(MARIADB_ODBC, autocommit=True)
    try:
        cur = root.cursor()
        ids = [r[0] for r in cur.execute("SELECT id FROM information_schema.processlist WHERE db = ? "
                                         "AND id <> connection_id()", database).fetchall()]
        for i in ids:
            cur.execute(f"KILL {int(i)}")
        return len(ids)
    finally:
        root.close()


def test_the_source_connection_killed_mid_read_costs_nothing_and_the_load_is_identical(
        mariadb_url: URL, target: URL, reference: Reference, tmp_path: Path) -> None:
    generate(mariadb_url, SCALE, SEED, tmp_path / "m.manifest.json", console=RecordingConsole())
    args = ["run", "--all", "--chunk-rows", CHUNK_ROWS]
    pause = tmp_path / "pause"
    pause.mkdir()
    proc = start(args, cli_env(mariadb_url, target, {"SAFESTATS_FAULT_PAUSE": "extract:3:tblMPSCrime",
                                                     "SAFESTATS_FAULT_DIR": str(pause)}))
    wait_paused(proc, pause)
    assert _kill_sessions(str(mariadb_url.database)) >= 1
    (pause / "resume").write_text("")
    out, err = proc.communicate(timeout=300)
    assert "internal error" not in err and "Traceback" not in err, err[-3000:]
    # MariaDB Connector/ODBC receives a result set whole, so the KILL finds the read done and breaks
    # its connection's end; a driver that streams breaks fetchmany, and the read is opened again
    # after its last key (keyset order) — either way no row is skipped or read twice
    assert proc.returncode == 0, err[-3000:]
    assert_identical(target, reference, "the source connection was killed mid-read")
