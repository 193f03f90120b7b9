"""The legacy server's version goes with the schema fingerprint into the report's provenance (issue
14), outside the fingerprint's hash (a patched server is not a changed schema)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.audit import fingerprint
from migration.db.engines import source_engine


def test_sqlite_names_its_version_and_the_hash_ignores_it(tmp_path: Path) -> None:
    path = tmp_path / "legacy.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE tblBorough (BoroughID integer PRIMARY KEY, BoroughName varchar(50))")
    db.close()
    eng = source_engine(make_url(f"sqlite:///{path}"))
    fp = fingerprint.capture(eng)
    eng.dispose()
    assert fp["server_version"] == f"SQLite {sqlite3.sqlite_version}"
    patched = {**fp, "server_version": "SQLite 9.9.9"}
    assert fingerprint.diff(fp, patched) == []
    body = {k: v for k, v in fp.items() if k not in ("hash", "server_version")}
    import hashlib
    import json
    assert fp["hash"] == hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


@pytest.mark.mariadb
def test_mariadb_names_its_version(mariadb_url: URL) -> None:
    eng = create_engine(mariadb_url, poolclass=NullPool)
    try:
        v = fingerprint.server_version(eng)
        with eng.connect() as conn:
            raw = conn.exec_driver_sql("SELECT VERSION()").scalar_one()
    finally:
        eng.dispose()
    assert v is not None and v.startswith("MariaDB ") and v.split()[1] in raw, (v, raw)
