"""``legacy advance``: N days of legacy activity after the data already in the database.

The legacy system keeps running until cutover.  ``advance(url, days, seed)`` reads where
the database stands (the latest ``LoadedOn``/``LastModified``/``UpdatedOn``/``LastLogin``,
the highest keys and batches, where each dataset's data ends), simulates the next
``days`` days from the day after, writes the changes, and records them in the manifest
(``advances``, one entry per run, keys always listed) while keeping the manifest's
per-table counts true (and its keys, when it lists them).  What a run does:

- **New batches** for every fact table at the real cadence (MPS every ~2 days, LFB ~3,
  LAS ~5, TfL ~12, ISTV one submission per hospital-month), each covering the days since
  the dataset's data ends; a backlog is sent as several extracts.  The rows come from the
  same generators as ``generate``, their anomaly kinds at the same rates (no minimums).
  Always: an MPS load that FAILED part-way and was retried, an LFB load replaced by a
  later one (its log row RELOADED, no rows), an MPS batch re-sent (rows copied under a
  new BatchID, so the copies win; the old batch becomes RELOADED), and an ISTV
  submission re-sent whole (new ISTVIDs; the old batch becomes RELOADED, which is how
  ``generate`` marks superseded submissions).
- **In-place revisions** of ``tblMPSCrime`` (``LastModified``, London local time, and
  sometimes ``Outcome``): rows going from NULL to a value and from a value to a later one;
  nightly and morning jobs stamping several rows with one value (the last job of the run
  sets the new maximum, shared); late writers stamped at, and up to 30 minutes before,
  the previous maximum; and when the window holds the last Sunday of October, revisions
  in both passes of the repeated hour 01:00–01:59 (the second pass stamped earlier than
  the first).  ``tblLASAssault`` revisions set ``UpdatedOn`` (and may settle an unknown
  alcohol flag or correct the category).
- **Hard deletes**: MPS rows "no-crimed", including the winner of a duplicate group whose
  other members stay (so the winner must be re-elected), and a few LAS rows.  The row
  holding a table's highest key is never deleted (keys continue from the maxima).
- **tblUser**: a new user, a borough removed from someone's AllowedBoroughs (a grant to
  revoke), a user disabled, a password changed, and daily logins (``LastLogin``).
- Reference tables are not changed (the dictionary says they change rarely; an advance
  of days or months leaves them as they are).

Where it starts: the day after the latest ``LoadedOn``, ``LastModified``, ``UpdatedOn``
or ``LastLogin`` (someone logs in on every simulated day, so advances chain day after
day).  Each dataset's new data starts after its latest data (``ReportedDT``, ``CallDT``,
``DateOfCall``, ``CrimeDate``; an ISTV hospital's latest ``PeriodEnd``), so a day may be
covered twice, never skipped.  Keys continue from the maxima (RecIDs, ISTVIDs, BatchIDs,
the LASRef and LFB serials); hence the highest key of a table is never deleted.

The manifest: ``advances`` gets one entry (format in :meth:`Advance.finish_record`), the
per-table counts and duplicate groups follow every change, and when the manifest lists
keys (scale <= 0.02) the key lists follow too, so the independent recount of every kind
still matches.  Without keys the kinds a deleted or copied row carried are unknown: row
counts and the kinds of new rows stay exact, and ``anomalies_exact`` turns false.

Concurrency: each batch is written with its ``tblImportLog`` row in one short
transaction, and the other changes commit day by day, so a full load reading the
database meanwhile is never blocked for long: MariaDB and PostgreSQL readers see
committed snapshots; a SQLite file is used in WAL mode (``generate`` leaves it so;
``advance`` switches an older file when no reader holds it), where readers keep their
snapshot and never block the writer (``synchronous=NORMAL``: no fsync per short
transaction).  Run one advance at a time.  An advance interrupted half-way leaves its
committed changes and no manifest entry; the next advance then refuses (the row counts
no longer match the manifest): regenerate.

Determinism: the same database state, seed and days give the same changes and manifest
(on every engine: the same seed gives the same changes on SQLite, MariaDB and PostgreSQL).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from migration.console import Console
from migration.db.engines import writable_engine
from migration.errors import GeneratorError, GeneratorUsageError, SafeStatsError, SourceError
from migration.legacy.advance_batches import BatchPlanning
from migration.legacy.advance_book import ManifestBooking
from migration.legacy.advance_changes import ChangePlanning
from migration.legacy.advance_state import MAX_DAYS, MPS_NO_CRIME_SHARE, Db, stochastic
from migration.legacy.generate import (
    default_manifest_path,
    engine_label,
    legacy_url,
)
from migration.legacy.manifest import (
    read_manifest,
    write_manifest,
)
from migration.legacy.timeutil import from_ordinal
from migration.legacy.writer import sink_for
from migration.schema.legacy import TABLE_NAMES
from migration.secrets import redact_url, scrub


@dataclass(frozen=True)
class AdvanceResult:
    """What an advance did, for the CLI to render."""

    url: str
    engine: str
    manifest_path: Path
    seed: int
    days: int
    first_day: str
    last_day: str
    changes: dict[str, dict[str, int]]        # table → inserted / revised / deleted
    batches: int
    anomalies_exact: bool
    journal_mode: str | None
    seconds: float



class Advance(BatchPlanning, ChangePlanning, ManifestBooking):
    """One ``legacy advance`` run: plan, write, book.

    The parts live along their seams: :class:`~.advance_base.AdvanceBase` (the state),
    :class:`~.advance_batches.BatchPlanning`, :class:`~.advance_changes.ChangePlanning` and
    :class:`~.advance_book.ManifestBooking`; :meth:`run` is the order they happen in."""

    # ------------------------------------------------------------------ the whole run
    def run(self) -> dict[str, Any]:
        st = self.state
        self.plan_loads()
        window, groups = self.mps_window()
        failed = {b for b, row in st.log.items() if row.status == "FAILED"}
        usable = [r for r in window if r.batch not in failed]
        taken: set[int] = {st.mps_max}
        self.batch_of_mps = {r.recid: r.batch for r in window}
        self.ref_of_mps = {r.recid: r.ref for r in window}
        for members in groups.values():
            for recid, raw, batch in members:
                self.batch_of_mps[recid] = batch
                self.ref_of_mps[recid] = raw

        # the winner of a duplicate group is no-crimed, another loadable member survives
        electable = self.electable(groups)
        if not electable:  # none among the rolling months: look at every group once
            for ref, members in self.all_groups().items():
                groups.setdefault(ref, members)
                for recid, raw, batch in members:
                    self.batch_of_mps[recid] = batch
                    self.ref_of_mps[recid] = raw
            electable = self.electable(groups)
        biggest = [e for e in electable if e[0] >= min(3, max((e[0] for e in electable), default=0))]
        pick = biggest[self.rng.randrange(len(biggest))] if biggest else None
        winner_pick = (pick[1], pick[2]) if pick else None
        if winner_pick is not None:
            taken.add(winner_pick[1])
        # a recent OK batch is re-sent in part
        recent_ok = sorted({r.batch for r in usable if self.status(r.batch) == "OK"})[-3:]
        reload_src = recent_ok[self.rng.randrange(len(recent_ok))] if recent_ok else None
        src_rows = [r for r in usable if r.batch == reload_src and r.ref is not None and r.ref.strip(" ")
                    and r.recid not in taken]
        n_copy = min(max(3, round(0.1 * len(src_rows))), max(1, len(src_rows) // 2), 500) if src_rows else 0
        copies = sorted(self.rng.sample(src_rows, n_copy), key=lambda r: r.recid) if n_copy else []
        taken |= {r.recid for r in copies}
        # no-crimes and revisions among the rolling months
        pool = [r for r in usable if r.recid not in taken]
        self.rng.shuffle(pool)
        n_del = max(2, stochastic(MPS_NO_CRIME_SHARE * self.per_day("MPS") * self.days, self.rng))
        dels, pool = pool[:n_del], pool[n_del:]
        taken |= {r.recid for r in dels}
        self.mps_deletes = [r.recid for r in dels] + ([winner_pick[1]] if winner_pick else [])
        self.winner_pick = winner_pick
        self.plan_mps_revisions(pool, taken)
        self.plan_istv_resubmission()
        self.plan_mps_reload(reload_src, copies)
        self.plan_las()
        self.plan_users()
        self.number_batches()
        lost: dict[int, int] = {}
        for recid in self.mps_deletes:
            lost[self.batch_of_mps[recid]] = lost.get(self.batch_of_mps[recid], 0) + 1
        for ref in self.las_deletes:
            lost[self.las_batch[ref]] = lost.get(self.las_batch[ref], 0) + 1
        self.lost = lost
        self.counts_before = self.batch_counts(lost)
        self.db.done()
        self.writing = True
        self.write_batches()
        self.write_events()
        self.book_changes(groups)
        return self.finish_record()



# --------------------------------------------------------------------------- entry point
def advance(url: str | URL, days: int, seed: int, manifest_path: str | Path | None = None, *,
            console: Console) -> AdvanceResult:
    """Simulate ``days`` days of legacy activity in ``url`` and record them in the manifest."""
    started = time.monotonic()
    if not (1 <= days <= MAX_DAYS):
        raise GeneratorUsageError(f"{days} days is out of range", hint=f"advance by 1 to {MAX_DAYS} days")
    if seed < 0:
        raise GeneratorUsageError(f"seed {seed} is negative", hint="use a seed of 0 or more")
    u = legacy_url(url)
    shown = redact_url(u)
    path = Path(manifest_path) if manifest_path is not None else default_manifest_path(u)
    if path is None:
        raise GeneratorUsageError(f"no manifest path for {shown}",
                             hint="pass --manifest PATH (the one `legacy generate` wrote for this database)")
    if not path.is_file():
        raise GeneratorUsageError(f"the manifest {path} does not exist",
                             hint="pass --manifest PATH: the manifest `legacy generate` wrote for this database")
    doc = read_manifest(path)
    if doc.get("generator") != "migration.legacy" or "tables" not in doc:
        raise GeneratorUsageError(f"{path} is not a legacy generator manifest")
    engine = writable_engine(u)
    try:
        try:
            conn = engine.connect()
        except DBAPIError as exc:
            raise SourceError(
                f"cannot connect to the legacy database {shown}: {scrub(getattr(exc, 'orig', exc))}".strip(),
                hint="check the server is running and the URL (driver, host, database) is right") from exc
        sink = sink_for(engine, shown)
        label = engine_label(engine)
        missing = sorted(set(TABLE_NAMES) - set(sink.existing_tables()))
        if missing:
            conn.close()
            raise GeneratorError(f"the database {shown} does not hold the legacy tables "
                                 f"({', '.join(missing[:4])}{'…' if len(missing) > 4 else ''} missing)",
                                 hint="advance the database that `legacy generate` created")
        run: Advance | None = None
        try:
            sink.open(bulk=False)
            run = Advance(Db(conn), sink, doc, seed, days, console)
            console.info(f"advancing the legacy database {shown} ({label}) by {days} days from "
                         f"{from_ordinal(run.first).isoformat()}, seed {seed}")
            record = run.run()
        except SafeStatsError:
            sink.abort()
            raise
        except DBAPIError as exc:
            sink.abort()
            wrote = run is not None and run.writing
            raise GeneratorError(
                f"advancing {shown} failed: {scrub(getattr(exc, 'orig', exc))}",
                hint="the changes committed so far stay in the database and the manifest was not updated: "
                     "regenerate the database" if wrote else "nothing was changed; check the database is "
                     "reachable and writable") from exc
        except BaseException:
            sink.abort()
            raise
        finally:
            conn.close()
        sink.close()
        write_manifest(doc, path)
    finally:
        engine.dispose()
    counts = {name: {k: len(v[k]) for k in ("inserted", "revised", "deleted")}
              for name, v in record["changes"].items()}
    seconds = time.monotonic() - started
    console.info(f"advanced to {record['to']} in {seconds:,.1f} s; manifest {path}")
    return AdvanceResult(url=shown, engine=label, manifest_path=path, seed=seed, days=days,
                         first_day=record["from"], last_day=record["to"], changes=counts,
                         batches=len(record["batches"]), anomalies_exact=bool(doc.get("anomalies_exact")),
                         journal_mode=getattr(sink, "journal_mode", None) or None, seconds=seconds)

