"""The ledger's digest chain (revision l0008) and ``report verify``, on a target loaded by a real run.

Every ledger table the chain covers is discovered from the model (not listed by hand) and
must hold rows in the sealed fixture, so a change to any of them is proved to be found: one
column of one row changed (as the superuser, triggers off) or one row deleted makes verify
exit 1 naming that table and that row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migration.cli import main
from migration.ledger import MigrationLock
from migration.ledger import seal as ledger_seal
from migration.ops.verify import verify
from migration.schema import api as schema_api
from migration.schema import models
from migration.schema.roles import MIGRATOR_ROLE
from tests.conftest import PG_ADMIN_URL, REPO, PgDatabases
from tests.report.conftest import loaded_template, pass_everything  # noqa: F401  (fixtures)
from tests.steps.conftest import legacy_sqlite  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres

#: every ledger table the chain covers, from the model at head
SEALED_TABLES = sorted(t.name for t in models.LEDGER_TABLES
                       if t.schema == "ledger" and t.name not in ledger_seal.NOT_SEALED)


def _superuser_change(conn: Connection) -> None:
    """What someone with the database's rights can do: switch the append-only triggers off."""
    conn.execute(text("SET session_replication_role = replica"))


def _fill_the_empty_books(conn: Connection) -> None:
    """A row in every ledger table a plain load leaves empty (as the commands that write them would)."""
    run = conn.execute(text("SELECT max(run_id) FROM ledger.run")).scalar_one()
    pass_run = int(conn.execute(text(
        "INSERT INTO ledger.run (kind, actor, host, pid, package_version) "
        "VALUES ('reconcile', 'qa@test', 'test', 1, 'test') RETURNING run_id")).scalar_one())
    conn.execute(text("INSERT INTO ledger.check_result (run_id, stage, check_name, status, summary, detail) "
                      "VALUES (:r, 'codes', 'key_set', 'pass', 'no key missing', "
                      "'{\"missing\": [], \"note\": \"ünïcode ✓\", \"n\": 1.5}')"), dict(r=pass_run))
    conn.execute(text("INSERT INTO ledger.quarantine_decision (decision, note, actor, record_count, quarantine_ids) "
                      "SELECT 'accept-loss', 'reviewed', 'dpo@box', count(*), array_agg(quarantine_id) "
                      "FROM ledger.quarantine_open"))
    conn.execute(text("INSERT INTO ledger.signature (name, role, actor, report_sha256, report_path, verdict) "
                      "VALUES ('Ann Smith', 'QA', 'qa@box', repeat('a', 64), '/r/report.json', 'PASS')"))
    conn.execute(text("INSERT INTO ledger.before_image (run_id, stage, table_name, op, row_data) "
                      "VALUES (:r, 'codes', 'ref.code_value', 'U', '{\"code\": \"X\", \"label\": null}')"),
                 dict(r=run))
    conn.execute(text("INSERT INTO ledger.quarantine_event (quarantine_id, kind, run_id) "
                      "SELECT min(quarantine_id), 'redriven', :r FROM ledger.quarantine_record"), dict(r=run))
    conn.execute(text("INSERT INTO ledger.disposition_event (disposition_id, kind, run_id) "
                      "SELECT min(disposition_id), 'rolled_back', :r FROM ledger.disposition_record"), dict(r=run))


@pytest.fixture(scope="session")
def sealed_template(loaded_template: str) -> Iterator[str]:  # noqa: F811
    """The loaded target with a row in every ledger book, all sealed (a template)."""
    dbs = PgDatabases()
    try:
        name = f"ss_seal_tpl_{uuid.uuid4().hex[:10]}"
        with dbs.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{loaded_template}"'))
        dbs.created.append(name)
        eng = create_engine(make_url(PG_ADMIN_URL).set(database=name), poolclass=NullPool)
        try:
            with eng.begin() as conn:
                _fill_the_empty_books(conn)
            with MigrationLock(eng, "test: seal the books") as lock:
                pass
            assert [s.catch_up for s in lock.seals] == [True]  # the rows above were written without the lock
        finally:
            eng.dispose()
        yield name
    finally:
        dbs.drop_all()


@pytest.fixture
def sealed(sealed_template: str, pg_databases: PgDatabases) -> Iterator[Engine]:
    name = f"ss_seal_{uuid.uuid4().hex[:10]}"
    with pg_databases.admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{sealed_template}"'))
    pg_databases.created.append(name)
    eng = create_engine(make_url(PG_ADMIN_URL).set(database=name), poolclass=NullPool)
    yield eng
    eng.dispose()


def _pk_sql(conn: Connection, table: str) -> tuple[str, str]:
    """(the row's primary key as verify names it, the key columns to order by)."""
    t = next(t for t in ledger_seal.ledger_tables(conn) if t.name == table)
    return (f"jsonb_build_array({', '.join(t.pk)})::text", ", ".join(t.pk))


def _middle_row(conn: Connection, table: str) -> str:
    pk, order = _pk_sql(conn, table)
    n = conn.execute(text(f"SELECT count(*) FROM ledger.{table}")).scalar_one()
    assert n > 0, f"ledger.{table} holds no row in the fixture: give it one in _fill_the_empty_books"
    return str(conn.execute(text(f"SELECT {pk} FROM ledger.{table} ORDER BY {order} OFFSET :o LIMIT 1"),
                            dict(o=n // 2)).scalar_one())


def _change_one_column(conn: Connection, table: str, pk: str) -> str:
    """Change one non-key column of the row (the first the table's CHECK constraints let change)."""
    pk_expr, _ = _pk_sql(conn, table)
    t = next(t for t in ledger_seal.ledger_tables(conn) if t.name == table)
    types = dict(conn.execute(text(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'ledger' "
        "AND table_name = :t"), dict(t=table)).all())
    change = {"text": "coalesce({c}, '') || '~'", "integer": "coalesce({c}, 0) + 1", "bigint": "coalesce({c}, 0) + 1",
              "boolean": "NOT coalesce({c}, false)", "character": "CASE WHEN {c} = 'U' THEN 'D' ELSE 'U' END",
              "timestamp with time zone": "coalesce({c}, now()) + interval '1 microsecond'",
              "jsonb": "coalesce({c}, '{{}}') || '{{\"tampered\": true}}'", "ARRAY": "array_append({c}, NULL)"}
    for column in t.columns:
        if column in t.pk:
            continue
        nested = conn.begin_nested()
        try:
            done = conn.execute(text(f"UPDATE ledger.{table} SET {column} = {change[types[column]].format(c=column)} "
                                     f"WHERE {pk_expr} = :pk"), dict(pk=pk)).rowcount
        except DBAPIError:  # a CHECK constraint keeps this column's values: the next one
            nested.rollback()
            continue
        nested.commit()
        assert done == 1
        return column
    raise AssertionError(f"no column of ledger.{table} could be changed")


def test_every_book_is_covered_and_the_fixture_holds_rows_in_each(sealed: Engine) -> None:
    with sealed.connect() as conn:
        discovered = sorted(t.name for t in ledger_seal.ledger_tables(conn))
        assert discovered == SEALED_TABLES  # the database and the model agree on what is sealed
        covered = {r[0]: r[1] for r in conn.execute(text(
            "SELECT table_name, count(*) FROM ledger.seal_row GROUP BY table_name"))}
        for table in SEALED_TABLES:
            assert covered.get(table, 0) == conn.execute(text(f"SELECT count(*) FROM ledger.{table}")).scalar_one() > 0


def test_verify_passes_on_an_untouched_ledger_and_after_more_rows(sealed: Engine) -> None:
    first = verify(sealed)
    assert first.failure is None and first.result.problems == [], [p.line() for p in first.result.problems]
    assert first.result.seals >= 2 and first.result.rows > 100 and first.result.appended == {}
    # rows written after the last seal are allowed and counted
    with sealed.begin() as conn:
        conn.execute(text("INSERT INTO ledger.event (kind, actor) VALUES ('note', 'qa@test')"))
    later = verify(sealed)
    assert later.failure is None and later.result.appended == {"event": 1}
    # a command holding the lock seals them at its end: nothing appended, one seal more
    with MigrationLock(sealed, "reconcile --all"), sealed.begin() as conn:
        conn.execute(text("INSERT INTO ledger.event (kind, actor) VALUES ('note 2', 'qa@test')"))
    again = verify(sealed)
    assert again.failure is None and again.result.appended == {}
    assert again.result.seals == first.result.seals + 2  # the catch-up of 'note', then 'note 2' at release


def test_a_row_committed_late_under_a_lower_key_is_sealed_too(sealed: Engine) -> None:
    """Sealing reads past the highest key it sealed, unless a row appeared below it (a transaction
    that took its identity value before the last seal and committed after): then it looks every
    row up, so the late row is not left out."""
    with sealed.begin() as conn:
        top = conn.execute(text("SELECT max(event_id) FROM ledger.event")).scalar_one()
        conn.execute(text("INSERT INTO ledger.event (event_id, kind, actor) VALUES (:i, 'early', 'qa@test')"),
                     dict(i=top + 10))
    first = ledger_seal.seal_pending(sealed, command="test")
    assert first is not None and first.rows == 1
    with sealed.begin() as conn:
        conn.execute(text("INSERT INTO ledger.event (event_id, kind, actor) VALUES (:i, 'late', 'qa@test')"),
                     dict(i=top + 5))
    late = ledger_seal.seal_pending(sealed, command="test")
    assert late is not None and late.rows == 1
    assert ledger_seal.seal_pending(sealed, command="test") is None
    outcome = verify(sealed)
    assert outcome.failure is None and outcome.result.appended == {}


@pytest.mark.parametrize("table", SEALED_TABLES)
def test_a_changed_row_is_named(sealed: Engine, table: str) -> None:
    with sealed.begin() as conn:
        _superuser_change(conn)
        pk = _middle_row(conn, table)
        _change_one_column(conn, table, pk)
    outcome = verify(sealed)
    assert outcome.failure is not None and outcome.failure.exit_code == 1
    line = outcome.failure.one_line()
    assert f"ledger.{table} row {pk} changed after seal " in line, line
    assert len(outcome.result.problems) == 1, [p.line() for p in outcome.result.problems]


@pytest.mark.parametrize("table", SEALED_TABLES)
def test_a_deleted_row_is_named(sealed: Engine, table: str) -> None:
    with sealed.begin() as conn:
        _superuser_change(conn)
        pk = _middle_row(conn, table)
        pk_expr, _ = _pk_sql(conn, table)
        assert conn.execute(text(f"DELETE FROM ledger.{table} WHERE {pk_expr} = :pk"), dict(pk=pk)).rowcount == 1
    outcome = verify(sealed)
    assert outcome.failure is not None
    assert f"ledger.{table} row {pk} deleted after seal " in outcome.failure.one_line()


def test_the_first_difference_is_named_and_the_others_counted(sealed: Engine) -> None:
    with sealed.begin() as conn:
        _superuser_change(conn)
        conn.execute(text("UPDATE ledger.event SET actor = 'someone@else' WHERE event_id IN (2, 3)"))
        conn.execute(text("UPDATE ledger.run SET actor = 'someone@else' WHERE run_id = 1"))
    line = verify(sealed).failure.one_line()  # type: ignore[union-attr]
    # seal 1 covered run 1's rows in table order: event before run
    assert line.startswith("ledger.event row [2] changed after seal 1 (run ") and "2 more difference" in line, line


def test_a_rewritten_seal_or_seal_row_breaks_the_chain(sealed: Engine) -> None:
    with sealed.begin() as conn:
        _superuser_change(conn)
        # a row changed and its sealed hash rewritten to match: the seal's digest no longer does
        conn.execute(text("UPDATE ledger.run SET actor = 'someone@else' WHERE run_id = 1"))
        t = next(t for t in ledger_seal.ledger_tables(conn) if t.name == "run")
        values = conn.execute(text(f"SELECT {', '.join(t.columns)} FROM ledger.run WHERE run_id = 1")).one()
        conn.execute(text("UPDATE ledger.seal_row SET row_sha256 = :h WHERE table_name = 'run' AND pk = '[1]'"),
                     dict(h=ledger_seal.row_sha256("run", "[1]", t.columns, tuple(values))))
    problems = verify(sealed).result.problems
    assert [p.kind for p in problems] == ["seal"] and "ledger.seal 1 " in problems[0].line()
    with sealed.begin() as conn:
        _superuser_change(conn)
        conn.execute(text("UPDATE ledger.seal SET digest = repeat('0', 64) WHERE seal_id = 1"))
    kinds = [p.kind for p in verify(sealed).result.problems]
    assert kinds[:2] == ["seal", "link"], kinds  # seal 1 is not its rows' any more; seal 2 does not follow it


def test_the_migrator_role_may_not_delete_from_the_books(sealed: Engine) -> None:
    """The tool's role owns the ledger, yet may not DELETE or TRUNCATE a book (refused by privilege,
    before any trigger); UPDATE stays for the foreign-key checks' row locks (the triggers refuse
    it); it still rewrites the lock note and appends."""
    with sealed.connect() as conn:
        books = [t.name for t in ledger_seal.ledger_tables(conn)] + ["seal", "seal_row"]
        for table in books:
            for privilege in ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE"):
                held = conn.execute(text("SELECT has_table_privilege(:r, :t, :p)"),
                                    dict(r=MIGRATOR_ROLE, t=f"ledger.{table}", p=privilege)).scalar_one()
                assert held is (privilege in ("INSERT", "SELECT", "UPDATE")), (table, privilege)
        assert conn.execute(text("SELECT has_table_privilege(:r, 'ledger.lock', 'UPDATE, DELETE')"),
                            dict(r=MIGRATOR_ROLE)).scalar_one()
    with pytest.raises(DBAPIError, match="permission denied"), sealed.begin() as conn:
        conn.execute(text(f"SET LOCAL ROLE {MIGRATOR_ROLE}"))
        conn.execute(text("DELETE FROM ledger.event WHERE event_id = 1"))
    with pytest.raises(DBAPIError, match="append-only"), sealed.begin() as conn:
        conn.execute(text(f"SET LOCAL ROLE {MIGRATOR_ROLE}"))
        conn.execute(text("UPDATE ledger.event SET actor = 'x' WHERE event_id = 1"))
    with sealed.begin() as conn:  # and the lock, taken and released as that role, still seals
        conn.execute(text(f"SET LOCAL ROLE {MIGRATOR_ROLE}"))
        conn.execute(text("INSERT INTO ledger.event (kind, actor) VALUES ('note', 'qa@test')"))
        assert ledger_seal.seal(conn, command="as the migrator") is not None


def test_verify_on_a_ledger_without_seals_is_an_environment_error(pg_url: URL, tmp_path: Path, monkeypatch: Any,
                                                                  capsys: Any) -> None:
    schema_api.upgrade(pg_url)
    schema_api.downgrade(pg_url, "l0007")
    _env(monkeypatch, pg_url, tmp_path)
    assert main(["report", "verify"]) == 3
    assert "schema upgrade" in capsys.readouterr().err
    with MigrationLock(create_engine(pg_url, poolclass=NullPool), "run --all") as lock:  # and nothing seals
        pass
    assert lock.seals == []


def _kill_before_the_seal(url: URL) -> None:
    """A command that takes the lock, writes a run and an event, and is killed (SIGKILL) before its seal."""
    code = (
        "import os, signal\n"
        "from sqlalchemy import create_engine, text\n"
        "from migration.ledger import MigrationLock\n"
        f"eng = create_engine({url.render_as_string(hide_password=False)!r})\n"
        "lock = MigrationLock(eng, 'run --all')\n"
        "lock.acquire()\n"
        "with eng.begin() as c:\n"
        "    r = c.execute(text(\"INSERT INTO ledger.run (kind, actor, host, pid, package_version) "
        "VALUES ('full', 'ops@box', 'box', 1, 't') RETURNING run_id\")).scalar_one()\n"
        "    c.execute(text(\"INSERT INTO ledger.event (run_id, stage, kind, actor) "
        "VALUES (:r, 'codes', 'stage_started', 'ops@box')\"), dict(r=r))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_a_command_killed_before_its_seal_is_caught_up_not_tampering(sealed: Engine) -> None:
    _kill_before_the_seal(sealed.url)
    with sealed.connect() as conn:
        killed_run = conn.execute(text("SELECT max(run_id) FROM ledger.run")).scalar_one()
    between = verify(sealed)  # before anyone takes the lock: its rows are appended, not tampering
    assert between.failure is None and between.result.appended == {"run": 1, "event": 1}
    for _ in range(50):  # PostgreSQL frees the killed session's advisory lock once it notices
        try:
            lock = MigrationLock(sealed, "reconcile --all")
            lock.acquire()
            break
        except Exception:
            time.sleep(0.1)
    else:
        raise AssertionError("the killed command's lock was never freed")
    lock.release()
    assert [(s.catch_up, s.rows, s.runs) for s in lock.seals] == [(True, 2, (killed_run,))]
    after = verify(sealed)
    assert after.failure is None and after.result.appended == {}
    assert after.result.catch_ups[-1].runs == (killed_run,) and after.result.catch_ups[-1].rows == 2


def _env(monkeypatch: Any, url: URL, tmp_path: Path) -> None:
    monkeypatch.setenv("SAFESTATS_TARGET_URL", url.render_as_string(hide_password=False))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)  # reports/ is relative to the working folder


def test_report_verify_exit_codes(sealed: Engine, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    _env(monkeypatch, sealed.url, tmp_path)
    # no report yet: the chain alone is checked
    assert main(["report", "verify"]) == 0
    out = capsys.readouterr()
    assert "PASS: ledger chain intact" in out.err and "no report under" in out.err
    # a report records the head; verify (default: the newest report) checks it is a link
    pass_everything(sealed)  # rows after the last seal: listed, not a failure
    assert main(["report", "--out", str(tmp_path / "reports" / "one"), "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["report", "verify"]) == 0
    out = capsys.readouterr()
    assert "PASS: ledger chain intact" in out.err and "appended after the last seal" in out.out + out.err
    assert "is a link of the chain" in out.out
    # no such folder: usage (2)
    assert main(["report", "verify", str(tmp_path / "nosuch")]) == 2
    capsys.readouterr()
    # a changed row: 1, one error line naming it, and a hint
    with sealed.begin() as conn:
        _superuser_change(conn)
        pk = conn.execute(text("SELECT jsonb_build_array(run_id, stage, source_table)::text FROM ledger.table_count "
                               "ORDER BY run_id, stage, source_table LIMIT 1")).scalar_one()
        conn.execute(text("UPDATE ledger.table_count SET rows_loaded = rows_loaded - 3 "
                          "WHERE jsonb_build_array(run_id, stage, source_table)::text = :pk"), dict(pk=pk))
    assert main(["report", "verify", str(tmp_path / "reports" / "one")]) == 1
    err = capsys.readouterr().err
    run = json.loads(pk)[0]
    assert f"error: ledger.table_count row {pk} changed after seal 1 (run {run}) — " in err, err
    assert "runbooks/report.md" in err


def test_a_removed_last_seal_is_found_through_the_report(sealed: Engine, tmp_path: Path, monkeypatch: Any,
                                                         capsys: Any) -> None:
    _env(monkeypatch, sealed.url, tmp_path)
    assert main(["report", "--out", str(tmp_path / "r"), "--format", "json"]) == 0
    with sealed.begin() as conn:
        _superuser_change(conn)
        last = conn.execute(text("SELECT max(seal_id) FROM ledger.seal")).scalar_one()
        conn.execute(text("DELETE FROM ledger.seal_row WHERE seal_id = :s"), dict(s=last))
        conn.execute(text("DELETE FROM ledger.seal WHERE seal_id = :s"), dict(s=last))
    capsys.readouterr()
    # the chain alone still holds (its last link is gone, its rows read as appended) …
    assert main(["report", "verify"]) == 0
    # … the report's head does not
    assert main(["report", "verify", str(tmp_path / "r")]) == 1
    assert f"the report's chain head, seal {last}, is not in the ledger" in capsys.readouterr().err


def test_sealing_cost_on_a_loaded_target(sealed: Engine) -> None:
    """Not a benchmark: the seal at the end of a command must stay cheap next to a load (printed with -s)."""
    with sealed.connect() as conn:
        covered = conn.execute(text("SELECT count(*) FROM ledger.seal_row")).scalar_one()
    timings = {}
    t0 = time.perf_counter()
    assert ledger_seal.seal_pending(sealed, command="nothing to seal") is None
    timings["empty"] = time.perf_counter() - t0
    with sealed.begin() as conn:
        conn.execute(text("INSERT INTO ledger.event (kind, actor, detail) SELECT 'note', 'qa@test', "
                          "jsonb_build_object('i', i) FROM generate_series(1, 1000) i"))
    t0 = time.perf_counter()
    info = ledger_seal.seal_pending(sealed, command="1000 events")
    timings["1000 rows"] = time.perf_counter() - t0
    assert info is not None and info.rows == 1000
    t0 = time.perf_counter()
    assert verify(sealed).failure is None
    timings["verify"] = time.perf_counter() - t0
    print(f"\nsealing on a target with {covered:,} sealed rows: "
          + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))
    assert timings["empty"] < 5 and timings["1000 rows"] < 10
