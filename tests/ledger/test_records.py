"""Quarantine and disposition records (:mod:`migration.ledger.records`): inserted with their
chunk, never updated — a redrive, its undoing and a rollback are appended events, and the
views ``ledger.quarantine`` / ``ledger.quarantine_open`` / ``ledger.disposition`` give the
current state under the names other tools read (revision l0005)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migration.ledger import Ledger, history, images, quarantine, records
from migration.schema import api

pytestmark = pytest.mark.postgres


@pytest.fixture
def eng(pg_url: URL) -> Iterator[Engine]:
    api.upgrade(pg_url)
    e = create_engine(pg_url, poolclass=NullPool)
    yield e
    e.dispose()


def _run(eng: Engine, kind: str = "full") -> int:
    with eng.begin() as c:
        return Ledger(eng).new_run(c, kind=kind, mapping_hash=None, refdata_version=None, source_url=None, options={})


def _quarantine(eng: Engine, run: int, *keys: str, table: str = "tblMPSCrime") -> None:
    """Records written the way the loader writes them: COPY through the chunk's cursor."""
    data = "".join(f"{run},mps,{table},{k},BK{k},IMPOSSIBLE_DATE,{{CommittedDate}}\n" for k in keys).encode()
    with eng.begin() as c:
        with c.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
            records.copy_from(cur, records.QUARANTINE, list(records.CHUNK_COLUMNS[records.QUARANTINE]),
                              io.BytesIO(data))


def _state(eng: Engine) -> dict[str, tuple[int, int | None, bool]]:
    with eng.connect() as c:
        return {r.source_key: (r.run_id, r.redriven_by_run_id, r.rolled_back_at is not None) for r in c.execute(text(
            "SELECT source_key, run_id, redriven_by_run_id, rolled_back_at FROM ledger.quarantine"))}


def test_redrive_its_undoing_and_a_rollback_are_events_and_the_view_shows_the_current_state(eng: Engine) -> None:
    full = _run(eng)
    _quarantine(eng, full, "1", "2", "3")
    redrive = _run(eng, "redrive")
    with eng.begin() as c:
        records.mark_redriven(c, run_id=redrive, stage="mps", source_table="tblMPSCrime", keys=["1", "2", "9"])
    assert _state(eng) == {"1": (full, redrive, False), "2": (full, redrive, False), "3": (full, None, False)}
    with eng.connect() as c:
        assert records.open_keys(c, "mps", "tblMPSCrime") == ["3"]
    assert [r.source_key for r in quarantine.records(eng, stage="mps")] == ["3"]

    with eng.begin() as c:  # the redrive is rolled back: its records are open again
        records.undo_redrive(c, redrive)
    assert _state(eng) == {k: (full, None, False) for k in "123"}

    with eng.begin() as c:  # the full load is rolled back
        records.mark_rolled_back(c, full)
        records.mark_rolled_back(c, full)  # twice changes nothing: the first time stands
    assert _state(eng) == {k: (full, None, True) for k in "123"}
    assert quarantine.summary(eng, stage="mps") == []
    with eng.connect() as c:
        assert records.open_keys(c, "mps", "tblMPSCrime") == []
        events = c.execute(text("SELECT kind, count(*) FROM ledger.quarantine_event GROUP BY 1 ORDER BY 1")).all()
        assert events == [("redrive_undone", 2), ("redriven", 2), ("rolled_back", 3)]


def test_a_redrive_leaves_its_own_records_and_closed_ones_alone(eng: Engine) -> None:
    full = _run(eng)
    _quarantine(eng, full, "1", "2")
    redrive = _run(eng, "redrive")
    _quarantine(eng, redrive, "1")  # still failing under the redrive: a record of its own
    with eng.begin() as c:
        records.mark_rolled_back(c, full)
    _quarantine(eng, full, "3")  # not rolled back: written after the rollback event
    with eng.begin() as c:
        records.mark_redriven(c, run_id=redrive, stage="mps", source_table="tblMPSCrime", keys=["1", "2", "3"])
    with eng.connect() as c:
        rows = c.execute(text("SELECT run_id, source_key, redriven_by_run_id, rolled_back_at IS NOT NULL "
                              "FROM ledger.quarantine ORDER BY quarantine_id")).all()
    assert rows == [(full, "1", None, True), (full, "2", None, True), (redrive, "1", None, False),
                    (full, "3", redrive, False)]


def test_record_events_refuse_update_and_delete(eng: Engine) -> None:
    run = _run(eng)
    _quarantine(eng, run, "1")
    with eng.begin() as c:
        records.mark_rolled_back(c, run)
    for statement in ("UPDATE ledger.quarantine_event SET kind = 'redriven'", "DELETE FROM ledger.quarantine_event",
                      "TRUNCATE ledger.disposition_event"):
        with pytest.raises(DBAPIError, match="append-only"), eng.begin() as c:
            c.execute(text(statement))
    # the derived columns are read-only: the state cannot be set in place
    with pytest.raises(DBAPIError, match="rolled_back_at"), eng.begin() as c:
        c.execute(text("UPDATE ledger.quarantine SET rolled_back_at = NULL"))


def test_chunk_records_and_images_commit_or_vanish_with_the_callers_transaction(eng: Engine) -> None:
    run = _run(eng)
    select = "SELECT %(run_id)s, 'mps', 'tblMPSCrime', k, 'BK' || k, 'R', ARRAY['f'] FROM unnest(%(keys)s) k"
    disp = ("SELECT %(run_id)s, 'mps', 'tblMPSCrime', k, 'filter', NULL, 'F', ARRAY['f'] "
            "FROM unnest(%(keys)s) k")
    image = "SELECT %(run_id)s, 'mps', 'core.incident', 'U', jsonb_build_object('k', k) FROM unnest(%(keys)s) k"

    def chunk(keys: list[str], fail: bool) -> None:
        with eng.begin() as c:
            with c.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
                for stmt in (images.insert_from(image), records.insert_from(records.QUARANTINE, select),
                             records.insert_from(records.DISPOSITION, disp)):
                    cur.execute(stmt, dict(run_id=run, keys=keys))
            Ledger(eng).checkpoint(c, run_id=run, stage="mps", source_table="tblMPSCrime", phase="load",
                                   chunk_no=1 if not fail else 2, last_key=keys[-1], rows=len(keys))
            if fail:
                raise RuntimeError("the chunk's connection dropped before commit")

    chunk(["1", "2"], fail=False)
    with pytest.raises(RuntimeError):
        chunk(["3"], fail=True)
    with eng.connect() as c:
        assert records.run_tallies(c, run_id=run, stage="mps", source_table="tblMPSCrime") == (2, {"filter": 2})
        assert history.checkpointed_rows(c, run_id=run, stage="mps", source_table="tblMPSCrime") == 2
        assert c.execute(text("SELECT count(*) FROM ledger.before_image WHERE run_id = :r"), dict(r=run)).scalar() == 2
        assert records.reasons_of_run(c, run_id=run, stage="mps", source_table="tblMPSCrime") == [("R", 2)]


def test_l0005_carries_the_old_columns_over_as_events_and_back(pg_url: URL) -> None:
    api.upgrade(pg_url, "l0004")
    api.upgrade(pg_url, "data@head")
    e = create_engine(pg_url, poolclass=NullPool)
    try:
        with e.begin() as c:
            run = c.execute(text("INSERT INTO ledger.run (kind, actor, host, pid, package_version) "
                                 "VALUES ('full', 't', 'h', 1, 'x') RETURNING run_id")).scalar_one()
            later = c.execute(text("INSERT INTO ledger.run (kind, actor, host, pid, package_version) "
                                   "VALUES ('redrive', 't', 'h', 1, 'x') RETURNING run_id")).scalar_one()
            for key, redriven, undone in (("1", later, None), ("2", None, "2026-01-02 03:04:05+00"),
                                          ("3", None, None)):
                c.execute(text("INSERT INTO ledger.quarantine (run_id, stage, source_table, source_key, reason_code, "
                               "fields, redriven_by_run_id, rolled_back_at) VALUES (:r, 'mps', 't', :k, 'R', '{}', "
                               ":d, CAST(:u AS timestamptz))"), dict(r=run, k=key, d=redriven, u=undone))
            c.execute(text("INSERT INTO ledger.disposition (run_id, stage, source_table, source_key, disposition, "
                           "reason_code, fields, rolled_back_at) VALUES (:r, 'mps', 't', '4', 'filter', 'F', '{}', "
                           "'2026-01-02 03:04:05+00')"), dict(r=run))

        def state() -> list[tuple[object, ...]]:
            with e.connect() as c:
                return c.execute(text(
                    "SELECT source_key, redriven_by_run_id, CAST(rolled_back_at AS text) FROM ledger.quarantine "
                    "UNION ALL SELECT source_key, NULL, CAST(rolled_back_at AS text) FROM ledger.disposition "
                    "ORDER BY 1")).all()

        before = state()
        assert before == [("1", later, None), ("2", None, "2026-01-02 03:04:05+00"), ("3", None, None),
                          ("4", None, "2026-01-02 03:04:05+00")]
        api.upgrade(pg_url)
        assert state() == before
        with e.connect() as c:
            assert c.execute(text("SELECT source_key FROM ledger.quarantine_open")).scalars().all() == ["3"]
        assert api.check(pg_url).ok
        api.downgrade(pg_url, "l0004")
        assert state() == before
        with e.connect() as c:
            assert c.execute(text("SELECT relkind FROM pg_class WHERE oid = 'ledger.quarantine'::regclass"
                                  )).scalar() == "r"
            assert c.execute(text("SELECT to_regclass('ledger.quarantine_event')")).scalar() is None
    finally:
        e.dispose()
