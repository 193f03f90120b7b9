"""Fixtures for the CLI tests: one legacy SQLite and targets shared by a module (real databases)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from migration.console import RecordingConsole
from migration.legacy import generate
from migration.schema import api
from tests.conftest import PgDatabases

SCALE = 0.002


@pytest.fixture(scope="module")
def module_pg() -> Iterator[PgDatabases]:
    dbs = PgDatabases()
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("legacy") / "legacy.sqlite"
    generate(make_url(f"sqlite:///{path}"), SCALE, 7, None, console=RecordingConsole())
    return path


@pytest.fixture(scope="module")
def upgraded(module_pg: PgDatabases) -> URL:
    """A target at head with nothing loaded (tests only add ledger rows of their own)."""
    url = module_pg.create("ss_cli")
    api.upgrade(url)
    return url
