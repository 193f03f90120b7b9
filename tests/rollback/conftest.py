"""Fixtures for the rollback tests: one loaded target per worker, cloned per scenario.

Loading every stage takes seconds; ``CREATE DATABASE … TEMPLATE`` copies the loaded
target in a fraction of one, so every scenario gets its own database (and may change it
freely) while the suite loads the legacy database once per worker.  The template itself
is never connected to after its load (PostgreSQL refuses to copy a database in use).

``exact()`` is this suite's notion of "unchanged": every data table, every column —
surrogate keys (``incident_id``, ``grant_id``, ``id``) and ``load_run_id`` included —
each row as PostgreSQL prints it, keyed and ordered by the primary key.  It is stricter
than the runner's ``snapshot()`` (issue 4's "identical", which leaves surrogate keys and
``load_run_id`` out so that two separate loads can be compared).
"""

from __future__ import annotations

import fcntl
import pickle
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.legacy import generate
from migration.mapping.order import parsed_specs
from migration.plan.undo import RollbackRunner
from migration.schema import api, models
from tests.conftest import PgDatabases, _unique
from tests.steps.conftest import REPO, cli, run_all

SCALE = 0.002
SEED = 7

Exact = dict[str, dict[str, str]]
T = TypeVar("T")


# --------------------------------------------------------------------------- databases
class Targets:
    """Throwaway target databases: fresh (upgraded) ones and copies of a loaded one."""

    def __init__(self) -> None:
        self.dbs = PgDatabases()

    def fresh(self, prefix: str) -> URL:
        url = self.dbs.create(prefix)
        api.upgrade(url)
        return url

    def clone(self, template: URL, prefix: str) -> URL:
        name = _unique(prefix)
        with self.dbs.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        self.dbs.created.append(name)
        return template.set(database=name)

    def drop(self, url: URL) -> None:
        with self.dbs.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        self.dbs.created.remove(str(url.database))


@pytest.fixture(scope="session")
def targets() -> Iterator[Targets]:
    t = Targets()
    try:
        yield t
    finally:
        t.dbs.drop_all()


@pytest.fixture(scope="session")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic legacy database every scenario starts from (read-only; copy it to move it)."""
    path = tmp_path_factory.mktemp("rb_legacy") / "legacy.sqlite"
    generate(make_url(f"sqlite:///{path}"), SCALE, SEED, None, console=RecordingConsole())
    return path


@pytest.fixture(scope="session")
def _loaded_template(legacy: Path, targets: Targets) -> URL:
    """Every stage loaded from ``legacy``.  Only ever copied, never used directly."""
    url = targets.fresh("ss_rb_tpl")
    run_all(legacy, url)
    return url


@pytest.fixture
def loaded(_loaded_template: URL, targets: Targets) -> Iterator[URL]:
    """A target with every stage loaded, this test's own (a copy of the template)."""
    url = targets.clone(_loaded_template, "ss_rb")
    yield url
    targets.drop(url)


def shared_across_workers(tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str,
                          build: Callable[[], T]) -> T:
    """``build()`` once per test session, not once per xdist worker: the first worker to get
    here builds and pickles the result, the others wait for it and read it.  Only for
    results that hold no live database a worker would drop behind another one's back."""
    if worker_id == "master":  # not distributed
        return build()
    root = tmp_path_factory.getbasetemp().parent  # this session's, shared by its workers
    path = root / f"{name}.pickle"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            return cast(T, pickle.loads(path.read_bytes()))
        value = build()
        path.write_bytes(pickle.dumps(value))
        return value


# --------------------------------------------------------------------------- looking at a target
def engine(url: URL) -> Any:
    return create_engine(url, poolclass=NullPool)


def exact(url: URL) -> Exact:
    """Every data table exactly: every column, surrogate keys and load_run_id included, each
    row as PostgreSQL prints it (geometry as hex EWKB, timestamps in UTC), keyed by the
    printed primary key, in primary-key order."""
    out: Exact = {}
    eng = engine(url)
    with eng.connect() as conn:
        conn.execute(text("SET TimeZone = 'UTC'"))
        for t in models.DATA_TABLES:
            pk = [c.name for c in t.primary_key.columns]
            assert pk, f"{t.fullname} has no primary key to order by"
            cols = ", ".join(f'x."{c}"' for c in pk)
            out[t.fullname] = dict(conn.execute(text(
                f"SELECT CAST(ROW({cols}) AS text), CAST(x AS text) FROM {t.fullname} x ORDER BY {cols}")).all())
    eng.dispose()
    return out


@dataclass
class Diff:
    gone: set[str]       # primary keys present before, absent after
    new: set[str]        # absent before, present after
    changed: set[str]    # present in both, printed differently

    @property
    def empty(self) -> bool:
        return not (self.gone or self.new or self.changed)


def diff(before: dict[str, str], after: dict[str, str]) -> Diff:
    return Diff(gone=set(before) - set(after), new=set(after) - set(before),
                changed={k for k in set(before) & set(after) if before[k] != after[k]})


def assert_exact(want: Exact, got: Exact, what: str) -> None:
    """Every table row for row, byte for byte; the message names the first rows that differ."""
    assert set(want) == set(got)
    problems = []
    for table in want:
        d = diff(want[table], got[table])
        if not d.empty:
            sample = sorted(d.gone)[:2] + sorted(d.new)[:2] + sorted(d.changed)[:2]
            problems.append(f"{table}: {len(d.gone)} missing, {len(d.new)} extra, {len(d.changed)} changed "
                            f"(e.g. keys {sample})")
    assert not problems, f"{what}:\n" + "\n".join(problems)


def scalar(url: URL, sql: str, **params: Any) -> Any:
    eng = engine(url)
    with eng.connect() as conn:
        value = conn.execute(text(sql), params).scalar()
    eng.dispose()
    return value


def rows(url: URL, sql: str, **params: Any) -> list[Any]:
    eng = engine(url)
    with eng.connect() as conn:
        out = list(conn.execute(text(sql), params).all())
    eng.dispose()
    return out


def stage_run(url: URL, stage: str) -> int:
    """The full-load run of a stage."""
    return int(scalar(url, "SELECT run_id FROM ledger.event WHERE stage = :s AND kind = 'stage_started' "
                           "ORDER BY event_id DESC LIMIT 1", s=stage))


def rollback_api(url: URL, console: RecordingConsole | None = None) -> tuple[RollbackRunner, Any]:
    eng = engine(url)
    return RollbackRunner(eng, parsed_specs(REPO / "mappings"), console or RecordingConsole()), eng


def rollback_cli(args: list[str], source: Path, target: URL, **kw: Any) -> subprocess.CompletedProcess[str]:
    return cli(["rollback", *args], source, target, **kw)


def wait_until(cond: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- moving the legacy
def move_legacy(path: Path, n: int = 0, *, revise_again: list[int] | None = None) -> dict[str, Any]:
    """Legacy activity by hand, different rows for each ``n`` (``legacy advance`` picks its rows
    itself; the LIFO test needs the second move to revise a row the first one revised):

    - three tblMPSCrime rows revised (Location, LastModified after the last watermark), and
      any ``revise_again`` rows revised once more;
    - the winner of a duplicate CrimeRef group no-crimed (deleted): a loser is elected and
      the incident is updated in place;
    - two CrimeRefs that are alone in their group deleted: their incidents go;
    - two new rows (one a new CrimeRef, one re-sending an existing CrimeRef in a new batch);
    - a user narrowed to one borough (grants revoked), another's e-mail changed, a third
      user deleted (the account and its grants go).
    """
    db = sqlite3.connect(path)
    c = db.cursor()
    wm = c.execute("SELECT max(LastModified) FROM tblMPSCrime").fetchone()[0]
    stamp = c.execute("SELECT datetime(?, '+1 minutes')", (wm,)).fetchone()[0]
    revised = [r[0] for r in c.execute(
        "SELECT RecID FROM tblMPSCrime WHERE LastModified IS NULL AND trim(coalesce(CrimeRef, '')) <> '' "
        "ORDER BY RecID LIMIT 3 OFFSET ?", (3 * n,))]
    for rec in revised + list(revise_again or []):
        c.execute("UPDATE tblMPSCrime SET Location = ?, LastModified = ? WHERE RecID = ?",
                  (f"On or near Revised Road {n}/{rec}", stamp, rec))
    statuses = dict(c.execute("SELECT BatchID, trim(Status) FROM tblImportLog"))
    group = c.execute(
        "SELECT rtrim(CrimeRef) FROM tblMPSCrime WHERE trim(coalesce(CrimeRef, '')) <> '' GROUP BY rtrim(CrimeRef) "
        "HAVING count(*) > 1 ORDER BY 1 LIMIT 1 OFFSET ?", (n,)).fetchone()[0]
    members = c.execute("SELECT RecID, BatchID FROM tblMPSCrime WHERE rtrim(CrimeRef) = ? ORDER BY BatchID DESC, "
                        "RecID DESC", (group,)).fetchall()
    winner = next(r for r, b in members if statuses.get(b) != "FAILED")
    c.execute("DELETE FROM tblMPSCrime WHERE RecID = ?", (winner,))
    lone = [r[0] for r in c.execute(
        "SELECT max(RecID) FROM tblMPSCrime m WHERE trim(coalesce(CrimeRef, '')) <> '' AND m.LastModified IS NULL "
        "GROUP BY rtrim(CrimeRef) HAVING count(*) = 1 ORDER BY 1 DESC LIMIT 2 OFFSET ?", (2 * n,))]
    c.execute(f"DELETE FROM tblMPSCrime WHERE RecID IN ({','.join('?' * len(lone))})", lone)
    top = c.execute("SELECT max(RecID) FROM tblMPSCrime").fetchone()[0]
    batch = c.execute("SELECT max(BatchID) FROM tblImportLog").fetchone()[0] + 1
    c.execute("INSERT INTO tblImportLog (BatchID, Dataset, FileName, LoadedOn, RowCount, Status) "
              "VALUES (?, 'MPS', ?, '2017-01-02 03:04:05', 2, 'OK')", (batch, f"mps_delta_{n}.csv"))
    cols = [r[1] for r in c.execute("PRAGMA table_info(tblMPSCrime)")]
    template = c.execute(f"SELECT {', '.join(cols)} FROM tblMPSCrime WHERE RecID = ?", (revised[0],)).fetchone()
    resent = c.execute("SELECT CrimeRef FROM tblMPSCrime WHERE RecID = ?", (revised[1],)).fetchone()[0]
    for i, ref in enumerate([f"DELTA{n:02d}00001", resent]):
        row = dict(zip(cols, template, strict=True))
        row.update(RecID=top + 1 + i, CrimeRef=ref, BatchID=batch, LastModified=stamp)
        c.execute(f"INSERT INTO tblMPSCrime ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                  [row[k] for k in cols])
    narrowed, deleted_user = [r[0] for r in c.execute(
        "SELECT UserID FROM tblUser WHERE AllowedBoroughs LIKE '%,%' ORDER BY UserID LIMIT 2 OFFSET ?", (2 * n,))]
    c.execute("UPDATE tblUser SET AllowedBoroughs = 'Camden' WHERE UserID = ?", (narrowed,))
    c.execute("DELETE FROM tblUser WHERE UserID = ?", (deleted_user,))
    emailed = c.execute("SELECT UserID FROM tblUser WHERE Email IS NOT NULL ORDER BY UserID DESC LIMIT 1 OFFSET ?",
                        (n,)).fetchone()[0]
    c.execute("UPDATE tblUser SET Email = ? WHERE UserID = ?", (f"moved{n}@example.org", emailed))
    db.commit()
    db.close()
    return {"revised": revised, "deleted_winner": winner, "group": group, "lone_deleted": lone,
            "narrowed_user": narrowed, "deleted_user": deleted_user, "emailed_user": emailed}
