"""`safestats-migrate schema …` end to end through the real entry point (``main(argv)``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.cli import main
from migration.schema import api

# Nothing listens on port 1: any attempt to connect would fail the test.
NOWHERE = "postgresql+psycopg2://nobody@127.0.0.1:1/nowhere"


_HISTORY = api.history()
DATA_HEAD = next(r.revision for r in _HISTORY if r.branch == "data" and r.is_head)
LEDGER_HEAD = next(r.revision for r in _HISTORY if r.branch == "ledger" and r.is_head)
ALL_REVISIONS = [r.revision for r in _HISTORY]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SAFESTATS_TARGET_URL", "SAFESTATS_TARGET_PASSWORD", "SAFESTATS_CONFIG", "SAFESTATS_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray safestats-migrate.toml


def _url_text(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def test_upgrade_sql_prints_the_ddl_without_touching_a_database(monkeypatch, capsys) -> None:
    monkeypatch.setenv("SAFESTATS_TARGET_URL", NOWHERE)
    assert main(["schema", "upgrade", "--sql"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "CREATE TABLE core.incident (",
        "CREATE TABLE ledger.run (",
        "CREATE EXTENSION IF NOT EXISTS postgis",
        "SET ROLE safestats_migrator",
        "CREATE POLICY incident_granted ON core.incident",
        "CREATE VIEW core.incident_masked WITH (security_invoker = true)",
        # d0005: the application loses the exact point of the base table
        "REVOKE SELECT ON core.incident FROM safestats_app",
        "GRANT SELECT (incident_id, agency_code, dataset,",
        "CREATE VIEW core.incident_masked WITH (security_barrier = true)",
        "CREATE VIEW ledger.stage_state",
        "INSERT INTO alembic_version",
        "COMMIT;",
    ):
        assert expected in out, expected
    assert "%%" not in out  # the offline renderer must not have mangled a percent sign
    # without any target configured it works just the same
    monkeypatch.delenv("SAFESTATS_TARGET_URL")
    assert main(["schema", "upgrade", "--sql", "ledger@head"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE ledger.run (" in out and "core.incident" not in out


def test_downgrade_sql_needs_a_range_and_carries_the_guard(capsys) -> None:
    assert main(["schema", "downgrade", "--sql", f"{DATA_HEAD}:base"]) == 0
    out = capsys.readouterr().out
    assert "DROP TABLE core.incident" in out
    assert "refusing to drop the data schemas while data is loaded" in out
    assert "ledger" not in out.replace("ledger.run that wrote", "")  # the data branch only

    assert main(["schema", "downgrade", "--sql", "--force", f"{DATA_HEAD}:base"]) == 0
    assert "refusing to drop" not in capsys.readouterr().out

    assert main(["schema", "downgrade", "--sql", "data@base"]) == 2  # usage: FROM:TO needed
    err = capsys.readouterr().err
    assert "needs the starting revision" in err and "FROM:TO" in err


def test_history_needs_no_database(capsys) -> None:
    assert main(["schema", "history"]) == 0
    out = capsys.readouterr().out
    for rev in ALL_REVISIONS:
        assert rev in out


@pytest.mark.postgres
def test_errors_are_one_line_with_the_next_step(monkeypatch, capsys, pg_url: URL) -> None:
    assert main(["schema", "current"]) == 2  # no target configured: a settings error
    assert "SAFESTATS_TARGET_URL" in capsys.readouterr().err

    missing = pg_url.set(database=f"{pg_url.database}_missing")
    monkeypatch.setenv("SAFESTATS_TARGET_URL", _url_text(missing))
    assert main(["schema", "upgrade"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to the target database")
    assert f'database "{missing.database}" does not exist' in err and "createdb" in err
    assert len(err.strip().splitlines()) == 1

    monkeypatch.setenv("SAFESTATS_TARGET_URL", "sqlite:///legacy.sqlite")
    assert main(["schema", "upgrade"]) == 2  # settings: the target is not PostgreSQL
    err = capsys.readouterr().err
    assert "the target must be PostgreSQL, not sqlite" in err and "postgresql+psycopg2://" in err

    monkeypatch.setenv("SAFESTATS_TARGET_URL", _url_text(pg_url))
    assert main(["schema", "upgrade", "d9999"]) == 2  # an unknown revision: usage
    assert "Can't locate revision identified by 'd9999'" in capsys.readouterr().err


@pytest.mark.postgres
def test_cli_round_trip_with_the_refusal_and_force(monkeypatch, capsys, pg_url: URL) -> None:
    monkeypatch.setenv("SAFESTATS_TARGET_URL", _url_text(pg_url))
    monkeypatch.setenv("SAFESTATS_TARGET_PASSWORD", "s3cret-pw")  # trust auth ignores it; it must never show

    assert main(["schema", "check"]) == 3  # nothing installed yet: differs from the model
    captured = capsys.readouterr()
    assert "differs from the model" in captured.err and "schema upgrade" in captured.err

    assert main(["schema", "upgrade"]) == 0
    err = capsys.readouterr().err
    assert "upgraded" in err and f"{DATA_HEAD}, {LEDGER_HEAD}" in err and "***" in err

    assert main(["schema", "current"]) == 0
    out = capsys.readouterr().out
    assert DATA_HEAD in out and LEDGER_HEAD in out

    assert main(["schema", "check"]) == 0
    assert "matches the model" in capsys.readouterr().err

    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO ref.local_authority VALUES ('E09000007', 'Camden', NULL, NULL, 'Camden', 1)"))
    engine.dispose()

    assert main(["schema", "downgrade", "data@base"]) == 3
    err = capsys.readouterr().err
    assert "refusing to drop the data schemas while data is loaded" in err
    assert "safestats-migrate rollback --all" in err and "--force" in err

    assert main(["schema", "downgrade", "data@base", "--force"]) == 0
    captured = capsys.readouterr()
    assert f"{DATA_HEAD}, {LEDGER_HEAD} → {LEDGER_HEAD}" in captured.err

    assert main(["schema", "current"]) == 0
    captured = capsys.readouterr()
    assert LEDGER_HEAD in captured.out and DATA_HEAD not in captured.out
    assert "schema upgrade" in captured.err  # not at every head
    assert "s3cret-pw" not in captured.out + captured.err


@pytest.mark.postgres
def test_upgrade_head_brings_every_branch_to_its_head(monkeypatch, capsys, pg_url: URL) -> None:
    """`schema upgrade head` is what every Alembic user types: with two branches Alembic itself
    refuses it ("Multiple head revisions"); here it means every branch, like `heads` or nothing."""
    monkeypatch.setenv("SAFESTATS_TARGET_URL", _url_text(pg_url))
    assert main(["schema", "upgrade", "--sql", "head"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE core.incident (" in out and "CREATE TABLE ledger.run (" in out

    assert main(["schema", "upgrade", "ledger@head"]) == 0  # one branch stays possible
    assert f"→ {LEDGER_HEAD}" in capsys.readouterr().err
    assert main(["schema", "upgrade", "head"]) == 0
    err = capsys.readouterr().err
    assert f"{LEDGER_HEAD} → {DATA_HEAD}, {LEDGER_HEAD}" in err and "Multiple head" not in err
    for again in (["head"], ["heads"], []):
        assert main(["schema", "upgrade", *again]) == 0
        assert f"already at {DATA_HEAD}, {LEDGER_HEAD}" in capsys.readouterr().err
    assert main(["schema", "current"]) == 0
    out = capsys.readouterr().out
    assert DATA_HEAD in out and LEDGER_HEAD in out and "not at every head" not in out
    # a downgrade stays explicit: `head` means nothing there
    assert main(["schema", "downgrade", "head"]) == 2  # usage
