"""Re-creating keys after a bulk load must not change the shared model (SQLAlchemy's
AddConstraint would otherwise mark constraints as 'created separately', and a later
``metadata.create_all`` in the same process would silently leave them out)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL
from sqlalchemy.schema import CreateTable

from migration.schema import models
from tests.steps.conftest import run_all

pytestmark = pytest.mark.postgres


def test_a_load_and_rollback_leave_the_model_as_it_was(legacy_sqlite: Path, target_url: URL) -> None:
    def ddl() -> dict[str, str]:
        return {t.fullname: str(CreateTable(t).compile(dialect=postgresql.dialect())) for t in models.DATA_TABLES}

    before = ddl()
    run_all(legacy_sqlite, target_url)
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from migration.console import RecordingConsole
    from migration.mapping.order import parsed_specs
    from migration.plan.undo import RollbackRunner

    eng = create_engine(target_url, poolclass=NullPool)
    specs = parsed_specs(Path(__file__).resolve().parents[2] / "mappings")
    RollbackRunner(eng, specs, RecordingConsole()).all()
    eng.dispose()
    assert ddl() == before
