"""Issue 13's tamper matrix: one planted defect per class, each on its own copy of a loaded
target (``CREATE DATABASE … TEMPLATE``), and ``reconcile`` must exit 1 naming the table, the
key and — where a value differs — the column; a clean copy must show zero differences.

Real PostgreSQL, the small generated legacy database of the reconciliation tests (scale
0.002: every dataset, every anomaly kind, the autumn DST fold); the CLI is driven through
``migration.cli.main`` in this process.  Two classes are planted on the legacy side (a copy
of the SQLite file): a late row whose watermark equals the last recorded one, and a hard
delete the target never saw.

Situations: after a full load (every class, CI); after a delta over `legacy advance`d
activity, and after that delta was rolled back (the ``proof`` marker, `make test-proofs`).  The matrix — class ×
situation → found / missed, with the checks that named the defect — is written as Markdown
to ``<pytest basetemp>/tamper-matrix*.md`` and, when ``SAFESTATS_TAMPER_MATRIX`` names a
file, there as well (see the docstring of :func:`matrix`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.cli import main
from migration.console import RecordingConsole
from tests.conftest import PgDatabases
from tests.reconcile.conftest import CHECKS, clone_of, results_of
from tests.steps.conftest import REPO, settings_for

pytestmark = pytest.mark.postgres

FULL, AFTER_DELTA, AFTER_ROLLBACK = "after full load", "after delta", "after rollback"
SITUATIONS = [FULL, pytest.param(AFTER_DELTA, marks=pytest.mark.proof),
              pytest.param(AFTER_ROLLBACK, marks=pytest.mark.proof)]
SITUATION_ORDER = [FULL, AFTER_DELTA, AFTER_ROLLBACK]


# --------------------------------------------------------------------------- one copy to tamper with
@dataclass
class Copy:
    """A private copy of a situation's target and of its legacy database."""

    target: URL
    legacy: Path
    situation: str

    def sql(self, statement: str, **params: Any) -> Any:
        eng = create_engine(self.target, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with eng.connect() as c:
                res = c.execute(text(statement), params)
                return res.all() if res.returns_rows else None
        finally:
            eng.dispose()

    def one(self, statement: str, **params: Any) -> Any:
        rows = self.sql(statement, **params)
        assert rows, f"the legacy at this scale has no row for the tamper: {statement}"
        return rows[0]

    def lite(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        con = sqlite3.connect(self.legacy)
        try:
            rows = con.execute(statement, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()


@dataclass(frozen=True)
class Named:
    """What reconciliation must name: the table of a failing check, text of the key in its
    summary, and the differing column (None when the row itself is the difference: missing,
    extra, duplicated, re-keyed)."""

    stages: tuple[str, ...]
    table: str
    key: str
    column: str | None = None
    also: tuple[str, ...] = ()      # more text the output must hold (the other side of a re-keyed row)
    note: str = ""


# --------------------------------------------------------------------------- the plants
def _ref(c: Copy, dataset: str, where: str = "true", table: str | None = None) -> tuple[int, str]:
    join = f" JOIN {table} d USING (incident_id)" if table else ""
    return c.one(f"SELECT i.incident_id, i.source_ref FROM core.incident i{join} WHERE i.dataset = :d AND {where} "
                 f"ORDER BY i.source_ref LIMIT 1", d=dataset)


INCIDENT_COLUMNS = ("agency_code, dataset, source_ref, legacy_pk, batch_id, occurred_at, occurred_precision, "
                    "reported_at, gss_code, ward_code, lsoa_code, geom, location_precision, dq_flags, load_run_id")


def row_missing(c: Copy) -> Named:
    iid, ref = _ref(c, "LAS")
    c.sql("DELETE FROM core.incident WHERE incident_id = :i", i=iid)
    return Named(("las_assault",), "core.incident", f"source_ref={ref}", also=("missing",))


def row_extra(c: Copy) -> Named:
    iid, ref = _ref(c, "TRANSPORT")
    new = f"{ref}-TAMPER"
    cols = INCIDENT_COLUMNS.replace("source_ref", ":new")
    c.sql(f"INSERT INTO core.incident ({INCIDENT_COLUMNS}) SELECT {cols} FROM core.incident WHERE incident_id = :i",
          i=iid, new=new)
    return Named(("transport_crime",), "core.incident", f"source_ref={new}", also=("extra",))


def row_duplicated(c: Copy) -> Named:
    iid, ref = _ref(c, "LFB")
    c.sql("ALTER TABLE core.incident DROP CONSTRAINT uq_incident_dataset_source_ref")
    c.sql(f"INSERT INTO core.incident ({INCIDENT_COLUMNS}) SELECT {INCIDENT_COLUMNS} FROM core.incident "
          f"WHERE incident_id = :i", i=iid)
    return Named(("lfb_incident",), "core.incident", f"source_ref={ref}", also=("more than once",))


def key_changed(c: Copy) -> Named:
    iid, ref = _ref(c, "LAS")
    c.sql("UPDATE core.incident SET source_ref = :n WHERE incident_id = :i", n=f"{ref}X", i=iid)
    return Named(("las_assault",), "core.incident", f"source_ref={ref}", also=(f"source_ref={ref}X",))


def value_one_penny(c: Copy) -> Named:
    iid, ref = _ref(c, "LFB", "d.notional_cost IS NOT NULL", "core.fire_incident")
    c.sql("UPDATE core.fire_incident SET notional_cost = notional_cost + 0.01 WHERE incident_id = :i", i=iid)
    return Named(("lfb_incident",), "core.fire_incident", f"source_ref={ref}", "notional_cost")


#: the first pass of the repeated hour: 01:xx BST on the last Sunday of October (00:xx UTC)
FOLD_FIRST_PASS = ("extract(month FROM {c} AT TIME ZONE 'Europe/London') = 10 "
                   "AND extract(day FROM {c} AT TIME ZONE 'Europe/London') >= 25 "
                   "AND extract(dow FROM {c} AT TIME ZONE 'Europe/London') = 0 "
                   "AND extract(hour FROM {c} AT TIME ZONE 'Europe/London') = 1 "
                   "AND extract(hour FROM {c} AT TIME ZONE 'UTC') = 0")


def timestamp_dst_fold(c: Copy) -> Named:
    iid, ref = _ref(c, "MPS", FOLD_FIRST_PASS.format(c="i.occurred_at"))
    local = "to_char(occurred_at AT TIME ZONE 'Europe/London', 'YYYY-MM-DD HH24:MI:SS')"
    before = c.one(f"SELECT {local} FROM core.incident WHERE incident_id = :i", i=iid)[0]
    c.sql("UPDATE core.incident SET occurred_at = occurred_at + interval '1 hour' WHERE incident_id = :i", i=iid)
    after = c.one(f"SELECT {local} FROM core.incident WHERE incident_id = :i", i=iid)[0]
    # the tamper is invisible on a London wall clock: 01:xx BST became 01:xx GMT
    assert before == after, (before, after)
    return Named(("mps_crime",), "core.incident", f"source_ref={ref}", "occurred_at",
                 note=f"01:xx BST → 01:xx GMT, the same London wall-clock time ({before})")


def timestamp_one_tick(c: Copy) -> Named:
    iid, ref = _ref(c, "LAS", "i.reported_at IS NOT NULL")
    c.sql("UPDATE core.incident SET reported_at = reported_at + interval '3333 microseconds' WHERE incident_id = :i",
          i=iid)
    return Named(("las_assault",), "core.incident", f"source_ref={ref}", "reported_at",
                 note="+3.333 ms, one SQL Server datetime tick")


def null_to_empty(c: Copy) -> Named:
    iid, ref = _ref(c, "TRANSPORT", "d.route IS NULL", "core.transport_crime")
    c.sql("UPDATE core.transport_crime SET route = '' WHERE incident_id = :i", i=iid)
    return Named(("transport_crime",), "core.transport_crime", f"source_ref={ref}", "route", note="NULL → ''")


def case_only(c: Copy) -> Named:
    uid, login = c.one("SELECT user_id, login FROM sec.app_user WHERE login <> upper(login) ORDER BY user_id LIMIT 1")
    c.sql("UPDATE sec.app_user SET login = upper(login) WHERE user_id = :u", u=uid)
    return Named(("users",), "sec.app_user", f"user_id={uid}", "login", note=f"{login!r} → {login.upper()!r}")


def case_only_in_a_key(c: Copy) -> Named:
    iid, ref = _ref(c, "LAS", "i.source_ref <> lower(i.source_ref)")
    c.sql("UPDATE core.incident SET source_ref = lower(source_ref) WHERE incident_id = :i", i=iid)
    return Named(("las_assault",), "core.incident", f"source_ref={ref}", also=(f"source_ref={ref.lower()}",),
                 note=f"{ref!r} → {ref.lower()!r}")


def trailing_spaces_in_a_key(c: Copy) -> Named:
    iid, ref = _ref(c, "LAS")
    c.sql("UPDATE core.incident SET source_ref = source_ref || ' ' WHERE incident_id = :i", i=iid)
    return Named(("las_assault",), "core.incident", f"source_ref={ref}", also=(f"source_ref={ref} ",))


def trailing_spaces(c: Copy) -> Named:
    iid, ref = _ref(c, "TRANSPORT", "d.station IS NOT NULL", "core.transport_crime")
    c.sql("UPDATE core.transport_crime SET station = station || '  ' WHERE incident_id = :i", i=iid)
    return Named(("transport_crime",), "core.transport_crime", f"source_ref={ref}", "station")


def flag_flipped(c: Copy) -> Named:
    iid, ref = _ref(c, "LAS", "d.alcohol IS NOT NULL", "core.ambulance_assault")
    c.sql("UPDATE core.ambulance_assault SET alcohol = NOT alcohol WHERE incident_id = :i", i=iid)
    return Named(("las_assault",), "core.ambulance_assault", f"source_ref={ref}", "alcohol")


def point_one_metre(c: Copy) -> Named:
    iid, ref = _ref(c, "LFB", "i.geom IS NOT NULL")
    c.sql("UPDATE core.incident SET geom = ST_Translate(geom, 0, 1) WHERE incident_id = :i", i=iid)
    return Named(("lfb_incident",), "core.incident", f"source_ref={ref}", "geom", note="1 m north")


def _grant(c: Copy, where: str) -> tuple[int, int, str, str]:
    return c.one(f"SELECT grant_id, user_id, dataset, gss_code FROM sec.access_grant WHERE {where} "
                 f"ORDER BY grant_id LIMIT 1")


def grant_dropped(c: Copy) -> Named:
    gid, uid, ds, gss = _grant(c, "gss_code IS NOT NULL")
    c.sql("DELETE FROM sec.access_grant WHERE grant_id = :g", g=gid)
    return Named(("users",), "sec.access_grant", f"user_id={uid}, dataset={ds}, gss_code={gss}", also=("missing",))


def grant_widened_to_points(c: Copy) -> Named:
    gid, uid, ds, gss = _grant(c, "NOT show_points AND gss_code IS NOT NULL")
    c.sql("UPDATE sec.access_grant SET show_points = true WHERE grant_id = :g", g=gid)
    return Named(("users",), "sec.access_grant", f"user_id={uid}, dataset={ds}, gss_code={gss}", "show_points",
                 note="exact points granted")


def grant_widened_to_london(c: Copy) -> Named:
    gid, uid, ds, gss = _grant(c, "gss_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sec.access_grant g "
                                  "WHERE g.user_id = access_grant.user_id AND g.dataset = access_grant.dataset "
                                  "AND g.gss_code IS NULL)")
    c.sql("UPDATE sec.access_grant SET gss_code = NULL WHERE grant_id = :g", g=gid)
    return Named(("users",), "sec.access_grant", f"user_id={uid}, dataset={ds}, gss_code={gss}",
                 also=(f"user_id={uid}, dataset={ds}, gss_code=NULL",), note="one borough → all London")


def dataset_changed(c: Copy) -> Named:
    iid, ref = _ref(c, "TRANSPORT")
    c.sql("UPDATE core.incident SET dataset = 'LAS' WHERE incident_id = :i", i=iid)
    return Named(("transport_crime", "las_assault"), "core.incident", f"dataset=TRANSPORT, source_ref={ref}",
                 also=(f"dataset=LAS, source_ref={ref}",), note="TRANSPORT → LAS")


def _last_watermark(c: Copy) -> str:
    return c.one("SELECT value FROM ledger.watermark WHERE stage = 'mps_crime' AND source_table = 'tblMPSCrime' "
                 "AND kind = 'timestamp' ORDER BY run_id DESC LIMIT 1")[0]


def _late_row_through_delta(c: Copy) -> tuple[str, str, int | None]:
    """A row the legacy gets late (a copy of a loaded MPS row under a new RecID and CrimeRef),
    stamped with exactly the last high watermark, then a delta of mps_crime: (its CrimeRef,
    the stamp, the incident_id the delta gave it or None)."""
    from migration.plan.execute import Orchestrator, run_delta

    stamp = _last_watermark(c)
    _iid, ref = _ref(c, "MPS", "i.source_ref ~ '^[0-9]{2}[A-Z]{2}[0-9]{7}$' AND i.legacy_pk ~ '^[0-9]+$'")
    rec = int(c.one("SELECT legacy_pk FROM core.incident WHERE dataset = 'MPS' AND source_ref = :r", r=ref)[0])
    cols = [r[1] for r in c.lite('PRAGMA table_info("tblMPSCrime")')]
    new_id = c.lite('SELECT max("RecID") + 1 FROM "tblMPSCrime"')[0][0]
    new_ref = "16ZZ9" + f"{new_id:06d}"[-6:]
    assert not c.lite('SELECT 1 FROM "tblMPSCrime" WHERE "CrimeRef" = ?', (new_ref,))
    given = {"RecID": new_id, "CrimeRef": new_ref, "LastModified": stamp}
    select = ", ".join("?" if col in given else f'"{col}"' for col in cols)
    c.lite(f'INSERT INTO "tblMPSCrime" ({", ".join(chr(34) + x + chr(34) for x in cols)}) '
           f'SELECT {select} FROM "tblMPSCrime" WHERE "RecID" = ?', (*(given[x] for x in cols if x in given), rec))
    runner = Orchestrator(settings_for(c.legacy, c.target, checks_dir=str(CHECKS)), RecordingConsole(),
                          reconcile=False)
    try:
        run_delta(runner, ["mps_crime"])
    finally:
        runner.close()
    loaded = c.sql("SELECT incident_id FROM core.incident WHERE dataset = 'MPS' AND source_ref = :r", r=new_ref)
    return new_ref, stamp, loaded[0][0] if loaded else None


def late_legacy_row(c: Copy) -> Named:
    """What a delta comparing ``>`` instead of ``>=`` would leave is planted: the late row absent."""
    new_ref, stamp, loaded = _late_row_through_delta(c)
    note = f"LastModified {stamp} = the last high watermark"
    if loaded is not None:
        c.sql("DELETE FROM core.incident WHERE incident_id = :i", i=loaded)
        note += "; the delta loaded it (>=), the target copy then lost it"
    else:
        note += "; THE DELTA MISSED IT by itself"
    return Named(("mps_crime",), "core.incident", f"source_ref={new_ref}", also=("missing",), note=note)


def late_legacy_change(c: Copy) -> Named:
    """A loaded row revised late in the legacy (Outcome), stamped with exactly the last high
    watermark; a delta runs, and the old value a delta comparing ``>`` would have left is put back."""
    from migration.plan.execute import Orchestrator, run_delta

    stamp = _last_watermark(c)
    iid, ref = _ref(c, "MPS", "d.outcome IS NOT NULL AND i.legacy_pk ~ '^[0-9]+$' AND NOT EXISTS (SELECT 1 FROM "
                    "core.incident j WHERE j.dataset = 'MPS' AND j.source_ref = i.source_ref AND j.incident_id <> "
                    "i.incident_id)", "core.police_crime")
    pk, old = c.one("SELECT i.legacy_pk, d.outcome FROM core.incident i JOIN core.police_crime d USING (incident_id) "
                    "WHERE i.incident_id = :i", i=iid)
    assert c.lite('SELECT count(*) FROM "tblMPSCrime" WHERE "CrimeRef" = ?', (ref,))[0][0] == 1
    c.lite('UPDATE "tblMPSCrime" SET "Outcome" = ?, "LastModified" = ? WHERE "RecID" = ?',
           ("Revised late", stamp, int(pk)))
    runner = Orchestrator(settings_for(c.legacy, c.target, checks_dir=str(CHECKS)), RecordingConsole(),
                          reconcile=False)
    try:
        run_delta(runner, ["mps_crime"])
    finally:
        runner.close()
    now = c.one("SELECT outcome FROM core.police_crime WHERE incident_id = :i", i=iid)[0]
    note = f"LastModified {stamp} = the last high watermark"
    if now == "Revised late":
        c.sql("UPDATE core.police_crime SET outcome = :o WHERE incident_id = :i", o=old, i=iid)
        note += "; the delta applied it (>=), the target copy then lost it"
    else:
        note += "; THE DELTA MISSED IT by itself"
    return Named(("mps_crime",), "core.police_crime", f"source_ref={ref}", "outcome", note=note)


def legacy_hard_delete(c: Copy) -> Named:
    """A legacy row deleted (a no-crimed MPS record) that the target still holds."""
    for _iid, ref, pk in c.sql("SELECT incident_id, source_ref, legacy_pk FROM core.incident WHERE dataset = 'MPS' "
                              "AND legacy_pk ~ '^[0-9]+$' ORDER BY source_ref LIMIT 50"):
        if c.lite('SELECT count(*) FROM "tblMPSCrime" WHERE "CrimeRef" = ?', (ref,))[0][0] == 1:
            c.lite('DELETE FROM "tblMPSCrime" WHERE "RecID" = ?', (int(pk),))
            return Named(("mps_crime",), "core.incident", f"source_ref={ref}", also=("extra",),
                         note=f"legacy RecID {pk} deleted")
    raise AssertionError("no MPS row with a CrimeRef of its own among the first 50")


@dataclass(frozen=True)
class TamperClass:
    name: str
    plant: Callable[[Copy], Named]
    side: str = "target"


CLASSES = [
    TamperClass("row missing", row_missing),
    TamperClass("row extra", row_extra),
    TamperClass("row duplicated", row_duplicated),
    TamperClass("key changed", key_changed),
    TamperClass("value changed by 1p", value_one_penny),
    TamperClass("timestamp +1 h in the autumn DST fold", timestamp_dst_fold),
    TamperClass("timestamp +1 SQL Server tick (3.33 ms)", timestamp_one_tick),
    TamperClass("NULL ↔ ''", null_to_empty),
    TamperClass("case-only change", case_only),
    TamperClass("case-only change in a key", case_only_in_a_key),
    TamperClass("trailing spaces added", trailing_spaces),
    TamperClass("trailing space added to a key", trailing_spaces_in_a_key),
    TamperClass("flag flipped", flag_flipped),
    TamperClass("point moved 1 m", point_one_metre),
    TamperClass("access grant dropped", grant_dropped),
    TamperClass("access grant widened (exact points)", grant_widened_to_points),
    TamperClass("access grant widened (borough → all London)", grant_widened_to_london),
    TamperClass("row's dataset changed", dataset_changed),
    TamperClass("late legacy row, watermark = the last one", late_legacy_row, "legacy"),
    TamperClass("late legacy change, watermark = the last one", late_legacy_change, "legacy"),
    TamperClass("legacy hard delete not applied", legacy_hard_delete, "legacy"),
]


# --------------------------------------------------------------------------- the matrix
@dataclass
class Matrix:
    cells: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def record(self, cls: str, situation: str, **cell: Any) -> None:
        self.cells[(cls, situation)] = cell

    def markdown(self) -> str:
        situations = [s for s in SITUATION_ORDER if any(k[1] == s for k in self.cells)]
        names = [c.name for c in CLASSES] + ["clean copy (no tamper)"]
        out = ["| class | side | " + " | ".join(situations) + " | named by (first situation run) |",
               "|---|---|" + "---|" * len(situations) + "---|"]
        for name in names:
            if not any(k[0] == name for k in self.cells):
                continue
            side = next((c.side for c in CLASSES if c.name == name), "—")
            row = []
            first = None
            for s in situations:
                cell = self.cells.get((name, s))
                if cell is None:
                    row.append("not run")
                    continue
                row.append(f"{cell['outcome']} (exit {cell['exit']}, {cell['seconds']:.1f} s)")
                first = first or cell
            named = ""
            if first:
                named = ", ".join(f"`{n}`" for n in first.get("named_by", []))
                if first.get("what"):
                    named += f" ({first['what']})"
                others = [x for x in first.get("checks", []) if x not in first.get("named_by", [])]
                if others:
                    named += f"; also failed: {', '.join(others)}"
                if first.get("note"):
                    named += f" — {first['note']}"
            out.append(f"| {name} | {side} | " + " | ".join(row) + f" | {named} |")
        return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """The matrix of this module's run, written when the module is done: to
    ``<basetemp>/tamper-matrix[-<xdist worker>].md`` and, if set, to ``$SAFESTATS_TAMPER_MATRIX``
    (a worker's own cells only, when pytest-xdist splits the module)."""
    m = Matrix()
    yield m
    if not m.cells:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    md = m.markdown()
    (tmp_path_factory.getbasetemp() / f"tamper-matrix{'-' + worker if worker else ''}.md").write_text(md)
    wanted = os.environ.get("SAFESTATS_TAMPER_MATRIX")
    if wanted:
        path = Path(wanted if not worker else f"{wanted}.{worker}")
        path.write_text(md)


# --------------------------------------------------------------------------- situations
@dataclass
class Situation:
    name: str
    template: URL
    legacy: Path


def _copy_legacy(src: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    dst = into / "legacy.sqlite"
    shutil.copy(src, dst)
    manifest = src.with_name(src.stem + ".manifest.json")
    if manifest.exists():
        shutil.copy(manifest, into / "legacy.manifest.json")
    return dst


@pytest.fixture(scope="module")
def situations(clean_target: URL, legacy_sqlite: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Callable[[str], Situation]]:
    """Each situation's loaded target, built once (the proof ones only when asked for) and
    never connected to afterwards: it is the template of every copy."""
    built: dict[str, Situation] = {FULL: Situation(FULL, clean_target, legacy_sqlite)}
    dbs = PgDatabases()

    def get(name: str) -> Situation:
        if name not in built:
            built[name] = _build(name, clean_target, legacy_sqlite, dbs, tmp_path_factory)
        return built[name]
    try:
        yield get
    finally:
        dbs.drop_all()


def _build(name: str, clean: URL, legacy: Path, dbs: PgDatabases, tmp: pytest.TempPathFactory) -> Situation:
    from migration.legacy import advance
    from migration.mapping.order import parsed_specs
    from migration.plan.execute import Orchestrator, run_delta
    from migration.plan.undo import RollbackRunner

    advanced = _copy_legacy(legacy, tmp.mktemp("advanced"))
    advance(URL.create("sqlite", database=str(advanced)), 5, 11, advanced.with_name("legacy.manifest.json"),
            console=RecordingConsole())
    target = clone_of(clean, dbs)
    # the delta reconciles each stage it brings up to date, as a user's `run --delta` does
    runner = Orchestrator(settings_for(advanced, target, checks_dir=str(CHECKS)), RecordingConsole())
    try:
        run_delta(runner, [], all_=True)
    finally:
        runner.close()
    if name == AFTER_DELTA:
        return Situation(name, target, advanced)
    eng = create_engine(target, poolclass=NullPool)
    try:
        with eng.connect() as c:
            deltas = {r[0]: r[1] for r in c.execute(text(
                "SELECT stage, run_id FROM ledger.event WHERE kind = 'delta_started'"))}
        assert deltas, "the delta recorded no run"
        rb = RollbackRunner(eng, parsed_specs(REPO / "mappings"), RecordingConsole())
        for stage in reversed(rb.order):  # each stage's delta is a run of its own
            if stage in deltas:
                rb.run(stage, deltas[stage])
        with eng.connect() as c:
            undone = {r[0] for r in c.execute(text("SELECT CAST(detail->>'run_id' AS bigint) FROM ledger.event "
                                                   "WHERE kind = 'run_rolled_back'"))}
        assert set(deltas.values()) <= undone, "a delta was not rolled back"
    finally:
        eng.dispose()
    # undone: the target is the full load again, to be checked against the legacy it was loaded from
    return Situation(name, target, legacy)


# --------------------------------------------------------------------------- running reconcile
def _point(monkeypatch: pytest.MonkeyPatch, c: Copy) -> None:
    monkeypatch.setenv("SAFESTATS_SOURCE_URL", f"sqlite:///{c.legacy}")
    monkeypatch.setenv("SAFESTATS_TARGET_URL", c.target.render_as_string(hide_password=False))
    monkeypatch.setenv("SAFESTATS_MAPPINGS_DIR", str(REPO / "mappings"))
    monkeypatch.setenv("SAFESTATS_CHECKS_DIR", str(CHECKS))
    monkeypatch.delenv("SAFESTATS_CONFIG", raising=False)


def _copy_of(situation: Situation, dbs: PgDatabases, tmp_path: Path) -> Copy:
    return Copy(clone_of(situation.template, dbs), _copy_legacy(situation.legacy, tmp_path / "legacy"),
                situation.name)


def _reconcile(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--log-json", "reconcile", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("tamper", CLASSES, ids=[c.name for c in CLASSES])
def test_every_planted_defect_is_found_naming_table_key_and_column(
        tamper: TamperClass, situation: str, situations: Callable[[str], Situation], matrix: Matrix,
        pg_databases: PgDatabases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import time

    copy = _copy_of(situations(situation), pg_databases, tmp_path)
    named = tamper.plant(copy)
    _point(monkeypatch, copy)
    t0 = time.monotonic()
    code, out = _reconcile(capsys, *named.stages)
    seconds = time.monotonic() - t0
    failed = [r for r in results_of(copy.target) if r["status"] == "fail"]
    # the check of the tampered table that names the key (and the column, where a value differs)
    naming = [r for r in failed if r["check_name"].endswith(f"/{named.table}") and named.key in r["summary"]
              and (named.column is None or named.column in r["summary"])]
    wanted = [named.table, named.key, *([named.column] if named.column else []), *named.also]
    unnamed = [w for w in wanted if w not in out]
    found = code == 1 and bool(naming) and not unnamed
    matrix.record(tamper.name, situation, outcome="found" if found else "MISSED", exit=code, seconds=seconds,
                  named_by=sorted({f"{r['stage']} {r['check_name']}" for r in naming}),
                  checks=sorted({f"{r['stage']} {r['check_name']}" for r in failed}),
                  what=named.key + (f", column {named.column}" if named.column else ""), note=named.note)
    assert code == 1, f"{tamper.name}: reconcile exited {code}\n{out[-3000:]}"
    assert naming, (f"{tamper.name}: no failed check of {named.table} names {named.key}"
                    f"{' and ' + named.column if named.column else ''}: "
                    f"{[(r['check_name'], r['summary']) for r in failed]}")
    assert not unnamed, f"{tamper.name}: the output does not name {unnamed}\n{out[-3000:]}"


@pytest.mark.parametrize("situation", SITUATIONS)
def test_a_clean_copy_shows_zero_differences(situation: str, situations: Callable[[str], Situation],
                                             matrix: Matrix, pg_databases: PgDatabases, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import time

    copy = _copy_of(situations(situation), pg_databases, tmp_path)
    _point(monkeypatch, copy)
    t0 = time.monotonic()
    code, out = _reconcile(capsys, "--all")
    seconds = time.monotonic() - t0
    results = results_of(copy.target)
    bad = [(r["check_name"], r["summary"]) for r in results if r["status"] in ("fail", "error")]
    differences = {r["check_name"]: d for r in results if r["check_name"].startswith(("keys/", "row_hash/"))
                   for d in [sum(int(r["detail"].get(k, 0)) for k in ("missing", "extra", "duplicate", "changed"))]
                   if d}
    matrix.record("clean copy (no tamper)", situation, outcome="0 differences" if code == 0 and not differences
                  and not bad else "DIFFERENCES", exit=code, seconds=seconds,
                  named_by=[], checks=[], what=f"{len(results)} checks over every stage, {len(bad)} failed or in error",
                  note="")
    assert code == 0, out[-3000:]
    assert not bad and not differences, (bad, differences)
    assert any(r["check_name"].startswith("keys/") for r in results)


def test_a_row_a_delta_added_is_expected_not_extra(situations: Callable[[str], Situation], pg_databases: PgDatabases,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Reconciliation reads the legacy up to the newest delta's bound, not the full load's: the
    late row the delta loaded is expected (before, it was reported extra in the target)."""
    copy = _copy_of(situations(FULL), pg_databases, tmp_path)
    new_ref, _stamp, loaded = _late_row_through_delta(copy)
    assert loaded is not None, "the delta did not load a row stamped with the last watermark"
    _point(monkeypatch, copy)
    code, out = _reconcile(capsys, "mps_crime")
    assert code == 0, out[-3000:]
    keys = {r["check_name"]: r for r in results_of(copy.target)}["keys/core.incident"]
    assert keys["status"] == "pass" and keys["detail"]["extra"] == 0, keys["summary"]
    assert keys["detail"]["expected_rows"] == keys["detail"]["target_rows"]
