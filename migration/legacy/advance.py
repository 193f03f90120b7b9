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

import hashlib
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError

from migration.console import Console
from migration.db.engines import writable_engine
from migration.errors import GeneratorError, GeneratorUsageError, SafeStatsError, SourceError
from migration.legacy import vocab
from migration.legacy.context import Context, build_context
from migration.legacy.facts_istv import IstvGenerator
from migration.legacy.facts_mps import DROP_ON_COPY, Item, MpsGenerator
from migration.legacy.facts_other import LasGenerator, LfbGenerator, TransportGenerator
from migration.legacy.generate import (
    GENERATOR_VERSION,
    default_manifest_path,
    engine_label,
    import_log_row,
    legacy_url,
)
from migration.legacy.manifest import (
    Manifest,
    ManifestBook,
    _sort_key,
    read_manifest,
    write_manifest,
)
from migration.legacy.plan import DATASETS, SPECS, Batch, Plan, batch_file_name, load_time
from migration.legacy.reference import UserMaker, organisations, password
from migration.legacy.timeutil import SPAN_LAST, add_months, from_ordinal, month_end
from migration.legacy.writer import Row, Sink, sink_for
from migration.schema import legacy as t
from migration.schema.legacy import TABLE_NAMES
from migration.secrets import redact_url, scrub

MAX_DAYS = 3660
#: days between loads at the real cadence (span of the data / batches at scale 1)
CADENCE = {ds: (s.last - s.first).days / s.batches_at_scale_1 for ds, s in SPECS.items() if s.batches_at_scale_1}
#: the longest period one extract covers (a backlog is sent as several)
MAX_SPAN = {"MPS": 7, "LFB": 14, "LAS": 21, "TRANSPORT": 31}
ISTV_MONTHS = 90                     # months of ISTV data at scale 1 (2009-07 … 2016-12)
MPS_REVISED_SHARE = 0.12             # of rows are revised at some point (the generator's rate)
LAS_REVISED_SHARE = 0.08
MPS_NO_CRIME_SHARE = 0.004
LAS_DELETED_SHARE = 0.002
ROWCOUNT_OFF_SHARE = 0.02            # of OK batches claim a RowCount they did not load
LATE_WRITER_MAX_SECONDS = 1800
WINDOW_DAYS = 120                    # rows of the last ~4 months are "rolling months"
WINDOW_ROWS = (2000, 50_000)
NO_VALUE = frozenset(x.strip() for x in vocab.NO_VALUE_TEXTS) | {"NULL", "N/A", "-"}
_DT_FORMAT = "%Y-%m-%d %H:%M:%S"


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


# --------------------------------------------------------------------------- helpers
def dt_text(v: Any) -> str | None:
    """A datetime as the legacy text ``YYYY-MM-DD HH:MM:SS`` (whatever the driver returned)."""
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.strftime(_DT_FORMAT)
    return str(v)[:19]


def split_dt(v: str) -> tuple[int, int]:
    d = datetime.strptime(v[:19], _DT_FORMAT)
    return d.date().toordinal(), d.hour * 3600 + d.minute * 60 + d.second


def parse_dmy(v: Any) -> int | None:
    if not isinstance(v, str):
        return None
    try:
        return datetime.strptime(v.strip(), "%d/%m/%Y").date().toordinal()
    except ValueError:
        return None


def stochastic(x: float, rng: random.Random) -> int:
    """``x`` rounded up or down at random, so that the expected value is ``x``."""
    k = int(x)
    return k + (1 if rng.random() < x - k else 0)


def _no_value(v: Any) -> bool:
    return isinstance(v, str) and v.strip().upper() in NO_VALUE


def _chunks(items: Sequence[Any], n: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# --------------------------------------------------------------------------- reading the state
@dataclass
class LogRow:
    batch_id: int
    dataset: str
    file_name: str
    loaded_on: str
    row_count: int | None
    status: str


@dataclass
class MpsRow:
    recid: int
    ref: str | None
    batch: int
    reported: str
    lastmod: str | None
    outcome: str | None


@dataclass
class State:
    counts: dict[str, int]
    log: dict[int, LogRow]
    now: str
    max_lastmod: str | None
    max_updated: str | None
    mps_max: int
    istv_max: int
    transport_max: int
    lfb_count: int
    las_max_index: int
    data_end: dict[str, int]
    istv_last: dict[int, int]                  # hospital → first day of its latest submitted month
    users: list[tuple[Any, ...]]               # UserID, Login, AllowedBoroughs, Password, LastLogin, Disabled


class Db:
    """Reads of the legacy tables, quoted for the engine at hand."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.q = conn.dialect.identifier_preparer.quote_identifier

    def cols(self, table: str, names: Iterable[str]) -> str:
        return ", ".join(self.q(n) for n in names)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        return list(self.conn.execute(text(sql), params or {}).fetchall())

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self.conn.execute(text(sql), params or {}).scalar()

    def done(self) -> None:
        """End the read transaction (planning is over; writes go through the sink)."""
        self.conn.rollback()

    def in_list(self, name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        params = {f"{name}{i}": v for i, v in enumerate(values)}
        return "(" + ", ".join(f":{k}" for k in params) + ")", params


def read_state(db: Db) -> State:
    q = db.q
    counts = {name: int(db.scalar(f"SELECT COUNT(*) FROM {q(name)}")) for name in TABLE_NAMES}
    log = {}
    for r in db.rows(f"SELECT {db.cols('tblImportLog', ('BatchID', 'Dataset', 'FileName', 'LoadedOn', 'RowCount', 'Status'))} "
                     f"FROM {q('tblImportLog')} ORDER BY {q('BatchID')}"):
        log[int(r[0])] = LogRow(int(r[0]), str(r[1]), str(r[2] or ""), dt_text(r[3]) or "", r[4], str(r[5]))

    def mx(table: str, col: str) -> str | None:
        return dt_text(db.scalar(f"SELECT MAX({q(col)}) FROM {q(table)}"))

    max_lastmod, max_updated = mx("tblMPSCrime", "LastModified"), mx("tblLASAssault", "UpdatedOn")
    stamps = [s for s in (mx("tblImportLog", "LoadedOn"), max_lastmod, max_updated, mx("tblUser", "LastLogin")) if s]
    if not stamps:
        raise GeneratorError("the legacy database holds no load, revision or login time to continue from",
                             hint="generate it with `safestats-migrate legacy generate` first")

    def top(table: str, col: str) -> int:
        return int(db.scalar(f"SELECT MAX({q(col)}) FROM {q(table)}") or 0)

    las_top = db.scalar(f"SELECT MAX(SUBSTR({q('LASRef')}, 6)) FROM {q('tblLASAssault')}")
    data_end: dict[str, int] = {}
    for ds, table, col in (("MPS", "tblMPSCrime", "ReportedDT"), ("LAS", "tblLASAssault", "CallDT")):
        v = dt_text(db.scalar(f"SELECT MAX({q(col)}) FROM {q(table)}"))
        data_end[ds] = split_dt(v)[0] if v else SPECS[ds].last.toordinal()
    for ds, table, col in (("LFB", "tblLFBIncident", "DateOfCall"), ("TRANSPORT", "tblTransportCrime", "CrimeDate")):
        c = q(col)
        latest = None
        for (v,) in db.rows(f"SELECT {c} FROM {q(table)} WHERE {c} LIKE '__/__/____' ORDER BY SUBSTR({c}, 7, 4) DESC, "
                            f"SUBSTR({c}, 4, 2) DESC, SUBSTR({c}, 1, 2) DESC LIMIT 50"):
            latest = parse_dmy(v)
            if latest is not None:
                break
        data_end[ds] = latest if latest is not None else SPECS[ds].last.toordinal()
    istv_last: dict[int, int] = {}
    for hid, pe in db.rows(f"SELECT {q('HospitalID')}, {q('PeriodEnd')} FROM {q('tblISTVAssault')} "
                           f"GROUP BY {q('HospitalID')}, {q('PeriodEnd')}"):
        d = parse_dmy(pe)
        if d is not None and hid is not None:
            first = from_ordinal(d).replace(day=1).toordinal()
            istv_last[int(hid)] = max(istv_last.get(int(hid), 0), first)
    users = [tuple(r) for r in db.rows(
        f"SELECT {db.cols('tblUser', ('UserID', 'Login', 'AllowedBoroughs', 'Password', 'LastLogin', 'Disabled'))} "
        f"FROM {q('tblUser')} ORDER BY {q('UserID')}")]
    return State(counts, log, max(stamps), max_lastmod, max_updated, top("tblMPSCrime", "RecID"),
                 top("tblISTVAssault", "ISTVID"), top("tblTransportCrime", "RecID"), counts["tblLFBIncident"],
                 int(las_top) if las_top and str(las_top).isdigit() else counts["tblLASAssault"],
                 data_end, istv_last, users)


# --------------------------------------------------------------------------- the run
class Advance:
    """One ``legacy advance`` run: plan, write, book."""

    def __init__(self, db: Db, sink: Sink, doc: dict[str, Any], seed: int, days: int, console: Console) -> None:
        self.db = db
        self.sink = sink
        self.doc = doc
        self.seed = seed
        self.days = days
        self.console = console
        self.scale = float(doc["scale"])
        self.state = read_state(db)
        st = self.state
        for name in TABLE_NAMES:
            want = doc["tables"][name]["rows"]
            if st.counts[name] != want:
                raise GeneratorError(
                    f"the manifest does not describe this database: {name} holds {st.counts[name]:,} rows, "
                    f"the manifest says {want:,}",
                    hint="pass the manifest written by the `legacy generate` (and any `legacy advance`) that "
                         "made this database")
        self.first = split_dt(st.now)[0] + 1
        self.last = self.first + days - 1
        if self.last > SPAN_LAST.toordinal():
            raise GeneratorError(f"an advance of {days} days from {from_ordinal(self.first)} ends after "
                                 f"{SPAN_LAST}", hint="advance by fewer days")
        base = build_context(int(doc["seed"]), self.scale)
        self.orgs = organisations(base.rng("orgs"), base.geo)
        digest = hashlib.sha256(f"{doc['seed']}|{seed}|{self.first}|{days}|{max(st.log, default=0)}|"
                                f"{st.mps_max}".encode()).hexdigest()
        self.ctx: Context = replace(base, seed=int(digest[:15], 16))
        self.clock = base.clock
        self.rng = random.Random(f"{self.ctx.seed}:advance")
        self.book = ManifestBook(doc)
        self.local = Manifest(seed=int(doc["seed"]), scale=self.scale, engine=str(doc["engine"]),
                              keys_recorded=True, generator_version=GENERATOR_VERSION)
        self.inserted: dict[str, list[Any]] = {n: [] for n in TABLE_NAMES}
        self.revised: dict[str, dict[Any, dict[str, Any]]] = {n: {} for n in TABLE_NAMES}
        self.deleted: dict[str, list[Any]] = {n: [] for n in TABLE_NAMES}
        self.exact = bool(doc.get("keys_recorded")) and bool(doc.get("anomalies_exact", True))
        self.batches: list[Batch] = []
        self.after_batch: dict[int, list[Callable[[], None]]] = {}
        self.logged: set[int] = set()
        self.batch_keys: dict[int, list[Any]] = {}
        self.not_placed: dict[str, list[str]] = {}
        self.writing = False

    # ------------------------------------------------------------------ rates
    def per_day(self, ds: str) -> float:
        s = SPECS[ds]
        return s.rows_at_scale_1 * self.scale / ((s.last - s.first).days + 1)

    def pick_time(self, lo_h: int, hi_h: int) -> int:
        return self.rng.randrange(lo_h * 3600, hi_h * 3600)

    # ------------------------------------------------------------------ batches
    def plan_loads(self) -> None:
        r = self.rng
        seq = 0
        for ds in ("MPS", "LFB", "LAS", "TRANSPORT"):
            cadence = CADENCE[ds]
            start = self.state.data_end[ds] + 1
            loads: list[int] = []
            day = self.first + int(r.random() * cadence)
            while day <= self.last:
                loads.append(day)
                day += max(1, round(cadence * (0.5 + r.random())))
            if not loads:
                loads = [self.first + r.randrange(self.days)]
            mine: list[Batch] = []
            for load_day in loads:
                end = load_day - 1
                if end < start:
                    continue
                secs = load_time(r)
                a = start
                while a <= end:  # a backlog goes as several extracts, loaded one after another
                    z = min(end, a + MAX_SPAN[ds] - 1)
                    rows = stochastic(self.per_day(ds) * (z - a + 1), r)
                    mine.append(Batch(ds, seq, a, z, load_day, min(secs, 86_399), base_rows=rows))
                    seq += 1
                    secs += 60 + r.randrange(600)
                    a = z + 1
                start = end + 1
            if not mine:  # nothing new since the data ends: the last day is extracted again (late reports)
                day = loads[-1] - 1
                mine.append(Batch(ds, seq, day, day, loads[-1], load_time(r), base_rows=1))
                seq += 1
            if not sum(b.base_rows for b in mine):
                mine[-1].base_rows = 1  # every fact table gets new rows
            self.batches += mine
        self._plan_istv(seq + 1000)
        self._plan_failed_and_replaced()
        for b in self.batches:
            if b.status == "OK" and b.role == "normal" and b.base_rows > 3 and r.random() < ROWCOUNT_OFF_SHARE:
                b.rowcount_off = r.choice((1, 1, -1, -3, 2))

    def _plan_istv(self, seq: int) -> None:
        r = self.rng
        hs = [h for h in self.ctx.hospitals if h.istv_start is not None]
        open_hs = [h for h in hs if h.closed_on is None or h.closed_on.toordinal() > self.first]
        weight = sum(h.weight for h in open_hs) or 1.0
        per_month = vocab_total_istv(self.scale) / ISTV_MONTHS
        latest = max(self.state.istv_last.values(), default=SPECS["ISTV"].last.replace(day=1).toordinal())
        floor = add_months(from_ordinal(latest), -2).toordinal()
        months: dict[int, list[tuple[int, int]]] = {}
        for h in open_hs:
            m = add_months(from_ordinal(max(self.state.istv_last.get(h.id, floor), floor)), 1)
            while True:
                end = month_end(m).toordinal()
                if h.closed_on is not None and m >= h.closed_on.replace(day=1):
                    break
                due = end + 3 + r.randrange(20)
                if due > self.last:
                    break
                if due < self.first:
                    due = self.first + r.randrange(min(7, self.days))
                rows = stochastic(per_month * h.weight / weight, r)
                if rows:  # a month with nothing to send is not submitted
                    b = Batch("ISTV", seq, m.toordinal(), end, due, load_time(r), base_rows=rows, hospital=h.id)
                    self.batches.append(b)
                    months.setdefault(h.id, []).append((m.toordinal(), rows))
                    seq += 1
                m = add_months(m, 1)
        self.istv_months = months

    def _plan_failed_and_replaced(self) -> None:
        r = self.rng
        mps = [b for b in self.batches if b.dataset == "MPS"]
        retry = max(mps, key=lambda b: (b.base_rows, -b.seq))
        retry.base_rows = max(retry.base_rows, 2)
        copies = max(1, min(2 + retry.base_rows // 50, (retry.base_rows * 3) // 5))
        f = Batch("MPS", 9000, retry.first_day, retry.last_day, retry.loaded_day, min(retry.loaded_secs, 80_000),
                  role="failed_attempt", status="FAILED", copies=copies, source=retry)
        f.claimed_rows = retry.base_rows
        retry.loaded_secs = f.loaded_secs + 1800 + r.randrange(3600)  # retried the same day; the failed rows stay
        self.batches.append(f)
        lfb = [b for b in self.batches if b.dataset == "LFB"]
        lfb = [b for b in lfb if b.base_rows] or lfb
        later = lfb[r.randrange(len(lfb))]
        gone = Batch("LFB", 9001, later.first_day, later.last_day, later.loaded_day, min(later.loaded_secs, 80_000),
                     role="replaced", status="RELOADED", source=later)
        gone.claimed_rows = later.base_rows
        later.loaded_secs = gone.loaded_secs + 1800 + r.randrange(3600)  # its rows deleted and loaded again
        self.batches.append(gone)

    def number_batches(self) -> None:
        order = {ds: i for i, ds in enumerate(DATASETS)}
        nxt = max(self.state.log, default=0)
        for b in sorted(self.batches, key=lambda b: (b.loaded_day, b.loaded_secs, order[b.dataset], b.seq)):
            nxt += 1
            b.batch_id = nxt
            if not b.file_name:
                b.file_name = batch_file_name(b, self.clock)

    # ------------------------------------------------------------------ existing rows to touch
    def mps_window(self) -> tuple[list[MpsRow], dict[str, list[tuple[int, str, int]]]]:
        db, q = self.db, self.db.q
        w = int(min(max(self.per_day("MPS") * WINDOW_DAYS, WINDOW_ROWS[0]), WINDOW_ROWS[1]))
        rows = [MpsRow(int(r[0]), r[1], int(r[2]), dt_text(r[3]) or "", dt_text(r[4]), r[5]) for r in db.rows(
            f"SELECT {db.cols('tblMPSCrime', ('RecID', 'CrimeRef', 'BatchID', 'ReportedDT', 'LastModified', 'Outcome'))} "
            f"FROM {q('tblMPSCrime')} ORDER BY {q('RecID')} DESC LIMIT {w}")]
        rows.sort(key=lambda x: x.recid)
        lo = rows[0].recid if rows else 0
        ref = q("CrimeRef")
        groups: dict[str, list[tuple[int, str, int]]] = {}
        for recid, raw, batch in db.rows(
                f"SELECT {q('RecID')}, {ref}, {q('BatchID')} FROM {q('tblMPSCrime')} WHERE TRIM({ref}) <> '' AND "
                f"RTRIM({ref}) IN (SELECT RTRIM({ref}) FROM {q('tblMPSCrime')} WHERE {q('RecID')} >= :lo "
                f"AND TRIM({ref}) <> '') ORDER BY {q('RecID')}", {"lo": lo}):
            groups.setdefault(str(raw).rstrip(" "), []).append((int(recid), str(raw), int(batch)))
        return rows, {k: v for k, v in groups.items() if len(v) > 1}

    def electable(self, groups: dict[str, list[tuple[int, str, int]]]) -> list[tuple[int, str, int]]:
        """(size, ref, winner) of the groups whose winner can be deleted with a loadable member left."""
        out = []
        for ref in sorted(groups):
            members = groups[ref]
            win = self.winner(members, self.status)
            rest = [m for m in members if m[0] != win]
            if win is not None and win != self.state.mps_max and self.winner(rest, self.status) is not None:
                out.append((len(members), ref, win))
        return out

    def all_groups(self) -> dict[str, list[tuple[int, str, int]]]:
        db, q = self.db, self.db.q
        ref = q("CrimeRef")
        groups: dict[str, list[tuple[int, str, int]]] = {}
        for recid, raw, batch in db.rows(
                f"SELECT {q('RecID')}, {ref}, {q('BatchID')} FROM {q('tblMPSCrime')} WHERE TRIM({ref}) <> '' AND "
                f"RTRIM({ref}) IN (SELECT RTRIM({ref}) FROM {q('tblMPSCrime')} WHERE TRIM({ref}) <> '' "
                f"GROUP BY RTRIM({ref}) HAVING COUNT(*) > 1) ORDER BY {q('RecID')}"):
            groups.setdefault(str(raw).rstrip(" "), []).append((int(recid), str(raw), int(batch)))
        return groups

    def status(self, batch: int) -> str:
        return self.state.log[batch].status if batch in self.state.log else "OK"

    def winner(self, members: Iterable[tuple[int, str, int]], status: Callable[[int], str]) -> int | None:
        ok = [m for m in members if status(m[2]) != "FAILED"]
        return max(ok, key=lambda m: (m[2], m[0]))[0] if ok else None

    def dup_kinds(self, members: list[tuple[int, str, int]], status: Callable[[int], str]) -> dict[int, set[str]]:
        """The duplicate kinds every member of one CrimeRef group carries (none for a single row)."""
        if len(members) < 2:
            return {m[0]: set() for m in members}
        common = {"mps.duplicate_crimeref"}
        if len({m[1] for m in members}) > 1:
            common.add("mps.duplicate_only_after_trim")
        win = self.winner(members, status)
        return {m[0]: common | ({"mps.duplicate_superseded"} if m[0] != win else set()) for m in members}

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

    # ------------------------------------------------------------------ MPS revisions
    def plan_mps_revisions(self, pool: list[MpsRow], taken: set[int]) -> None:
        r = self.rng
        clock = self.clock
        st = self.state
        events: list[tuple[int, int, int, list[MpsRow], str]] = []  # (day, secs, pass, rows, role)
        nulls = [x for x in pool if x.lastmod is None]
        valued = [x for x in pool if x.lastmod is not None]

        def take(n: int, prefer_valued: bool = False) -> list[MpsRow]:
            out: list[MpsRow] = []
            for _ in range(n):
                src = valued if (prefer_valued and valued) or not nulls else nulls
                if not src:
                    break
                out.append(src.pop())
            return out

        late: list[tuple[MpsRow, str, int]] = []
        if st.max_lastmod:
            pm_day, pm_secs = split_dt(st.max_lastmod)
            for behind in (0, r.randrange(1, LATE_WRITER_MAX_SECONDS + 1)):
                stamp_s = pm_day * 86400 + pm_secs - behind
                stamp = clock.dt(stamp_s // 86400, stamp_s % 86400)
                cand = [x for x in nulls + valued if x.reported < stamp]
                if not cand:
                    cand = self.late_candidates(stamp, taken)
                if cand:
                    row = cand[r.randrange(len(cand))]
                    for lst in (nulls, valued):
                        if row in lst:
                            lst.remove(row)
                    taken.add(row.recid)
                    late.append((row, stamp, behind))
        autumn = [d for d in clock.autumn_between(self.first, self.last)]
        dst: list[tuple[MpsRow, str, str]] = []
        for d in autumn:  # the night job runs in both passes of the repeated hour
            firsts = sorted(r.randrange(1200, 3600) for _ in range(3))
            seconds = sorted(r.randrange(0, firsts[-1]) for _ in range(3))
            for label, offsets in (("first", firsts), ("second", seconds)):
                rows = take(len(offsets), prefer_valued=label == "second")
                for row, off in zip(rows, offsets, strict=False):
                    dst.append((row, clock.dt(d, 3600 + off), label))
                    events.append((d, 3600 + off, 1 if label == "first" else 2, [row], "dst"))
        n_total = max(12, stochastic(MPS_REVISED_SHARE * self.per_day("MPS") * self.days, r))
        n_regular = max(4, n_total - len(late) - len(dst) - 3)
        regular = take(n_regular)
        valued_one = take(1, prefer_valued=True)  # at least one row revised a second time
        regular = valued_one + regular
        n_bulk = (len(regular) * 3) // 5
        bulk, single = regular[:n_bulk], regular[n_bulk:]
        jobs = max(1, len(bulk) // 3)
        for j in range(jobs):
            part = bulk[j::jobs]
            if part:
                day = self.first + r.randrange(self.days)
                events.append((day, 7 * 3600 + r.randrange(1800), 0, part, "job"))
        for row in single:
            events.append((self.first + r.randrange(self.days), self.pick_time(8, 20), 0, [row], "edit"))
        final = take(3)
        if final:
            events.append((self.last, 20 * 3600 + r.randrange(1800), 0, final, "job"))
        self.mps_events = events
        self.mps_late = late
        self.mps_dst = dst
        self.mps_autumn = autumn

    def late_candidates(self, stamp: str, taken: set[int]) -> list[MpsRow]:
        """Rows reported before ``stamp`` (a late writer revises a row that existed then)."""
        db, q = self.db, self.db.q
        failed = {b for b, row in self.state.log.items() if row.status == "FAILED"}
        rows = db.rows(
            f"SELECT {db.cols('tblMPSCrime', ('RecID', 'CrimeRef', 'BatchID', 'ReportedDT', 'LastModified', 'Outcome'))} "
            f"FROM {q('tblMPSCrime')} WHERE {q('ReportedDT')} < :s ORDER BY {q('RecID')} DESC LIMIT 200", {"s": stamp})
        return [MpsRow(int(x[0]), x[1], int(x[2]), dt_text(x[3]) or "", dt_text(x[4]), x[5]) for x in rows
                if int(x[0]) not in taken and int(x[2]) not in failed]

    # ------------------------------------------------------------------ MPS re-sent batch, ISTV re-submission
    def plan_mps_reload(self, source: int | None, rows: list[MpsRow]) -> None:
        self.reload = None
        if source is None or not rows:
            return
        db, q = self.db, self.db.q
        cols = [c.name for c in t.tblMPSCrime.columns]
        full: dict[int, tuple[Any, ...]] = {}
        for part in _chunks([r.recid for r in rows]):
            sql, p = db.in_list("r", part)
            for x in db.rows(f"SELECT {db.cols('tblMPSCrime', cols)} FROM {q('tblMPSCrime')} WHERE {q('RecID')} IN {sql}", p):
                full[int(x[0])] = tuple(x)
        src = self.state.log[source]
        first_day, last_day = _period_of(src.file_name, self.last)
        load_day = self.first + self.rng.randrange(self.days)
        b = Batch("MPS", 9002, first_day, last_day, load_day, load_time(self.rng), role="reload")
        b.file_name = src.file_name
        kinds_of = self.book.kinds_of("tblMPSCrime", [r.recid for r in rows]) if self.exact else {}
        items = []
        r = self.rng.random
        for row in rows:
            x = full[row.recid]
            body = [x[1], x[2], x[3], x[4], dt_text(x[5]), x[6], x[7], x[8], x[9], x[10], x[11], x[12], x[13],
                    _bit(x[14]), x[15], None]
            raw = body[0]
            trimmed = raw.rstrip(" ")
            if r() < 0.15:
                body[0] = trimmed + " " if raw == trimmed else trimmed
            kinds = {k for k in kinds_of.get(row.recid, set())
                     if k not in DROP_ON_COPY and not k.startswith("mps.duplicate")}
            if r() < 0.3 and not _no_value(body[14]):
                body[14] = vocab.OUTCOMES[int(r() * len(vocab.OUTCOMES))]
            if body[0].endswith(" "):
                kinds.add("mps.crimeref_trailing_space")
            items.append(Item(body, sorted(kinds)))
        self.batches.append(b)
        self.reload = (source, b, rows, items)

    def plan_istv_resubmission(self) -> None:
        self.resub = None
        db, q = self.db, self.db.q
        keyed = db.rows(f"SELECT {q('BatchID')}, {q('HospitalID')}, {q('PeriodStart')}, {q('PeriodEnd')}, COUNT(*) "
                        f"FROM {q('tblISTVAssault')} GROUP BY {q('BatchID')}, {q('HospitalID')}, {q('PeriodStart')}, "
                        f"{q('PeriodEnd')} ORDER BY {q('BatchID')}")
        ok = [x for x in keyed if self.status(int(x[0])) == "OK" and int(x[4]) > 0]
        if not ok:
            return
        x = ok[-1 - self.rng.randrange(min(5, len(ok)))]
        source, hid, ps, pe = int(x[0]), int(x[1]), x[2], x[3]
        cols = [c.name for c in t.tblISTVAssault.columns]
        rows = [tuple(r) for r in db.rows(f"SELECT {db.cols('tblISTVAssault', cols)} FROM {q('tblISTVAssault')} "
                                          f"WHERE {q('BatchID')} = :b ORDER BY {q('ISTVID')}", {"b": source})]
        group = [(int(r[0]), int(r[1])) for r in db.rows(
            f"SELECT {q('ISTVID')}, {q('BatchID')} FROM {q('tblISTVAssault')} WHERE {q('HospitalID')} = :h "
            f"AND {q('PeriodStart')} = :ps AND {q('PeriodEnd')} = :pe", {"h": hid, "ps": ps, "pe": pe})]
        first_day, last_day = parse_dmy(ps) or self.first, parse_dmy(pe) or self.first
        load_day = self.first + self.rng.randrange(self.days)
        b = Batch("ISTV", 9003, first_day, last_day, load_day, load_time(self.rng), role="resubmission", hospital=hid)
        name = self.state.log[source].file_name
        b.file_name = name if "_resubmitted" in name else name.replace(".csv", "_resubmitted.csv")
        kinds_of = self.book.kinds_of("tblISTVAssault", [r[0] for r in rows]) if self.exact else {}
        bodies = []
        for r in rows:
            body = [r[1], r[2], dt_text(r[3]), *r[4:17]]
            kinds = sorted(k for k in kinds_of.get(int(r[0]), set())
                           if k not in ("istv.superseded_submission", "istv.resubmission"))
            bodies.append((body, kinds))
        self.batches.append(b)
        self.resub = (source, b, rows, bodies, group, (hid, ps, pe))

    # ------------------------------------------------------------------ writing the batches
    def write_batches(self) -> None:
        plan_batches = sorted(self.batches, key=lambda b: b.batch_id)
        plan = Plan(plan_batches, getattr(self, "istv_months", {}), [], 1)
        st = self.state
        if self.reload is not None:
            source = self.reload[0]
            self.after_batch.setdefault(self.reload[1].batch_id, []).append(lambda: self.set_status(source))
        if self.resub is not None:
            source_i = self.resub[0]
            self.after_batch.setdefault(self.resub[1].batch_id, []).append(lambda: self.set_status(source_i))
        specs: list[tuple[str, t.Table, Callable[[BatchWriter], Any]]] = [
            ("MPS", t.tblMPSCrime, lambda w: MpsGenerator(self.ctx, plan, self.local, w, first_index=st.mps_max,  # type: ignore[arg-type]
                                                          first_recid=st.mps_max, advance_rng=self.rng)),
            ("ISTV", t.tblISTVAssault, lambda w: IstvGenerator(self.ctx, plan, self.local, w,  # type: ignore[arg-type]
                                                               first_index=st.istv_max, first_istvid=st.istv_max,
                                                               advance_rng=self.rng)),
            ("LFB", t.tblLFBIncident, lambda w: LfbGenerator(self.ctx, plan, self.local, w,  # type: ignore[arg-type]
                                                             first_index=st.lfb_count, advance_rng=self.rng)),
            ("LAS", t.tblLASAssault, lambda w: LasGenerator(self.ctx, plan, self.local, w,  # type: ignore[arg-type]
                                                            first_index=st.las_max_index + 1, advance_rng=self.rng)),
            ("TRANSPORT", t.tblTransportCrime, lambda w: TransportGenerator(self.ctx, plan, self.local, w,  # type: ignore[arg-type]
                                                                            first_index=st.transport_max,
                                                                            advance_rng=self.rng)),
        ]
        for ds, table, make in specs:
            writer = BatchWriter(self, table)
            gen = make(writer)
            if ds == "MPS" and self.reload is not None:
                gen.pending[id(self.reload[1])] = self.reload[3]
            if ds == "ISTV" and self.resub is not None:
                gen.pending[id(self.resub[1])] = self.resub[3]
            gen.run()
            left = gen.pending_kinds()
            if left:
                self.not_placed[table.name] = left
            for b in plan.of(ds):  # batches that kept no rows (failed and replaced loads)
                if b.batch_id not in self.logged:
                    self.log_batch(b)
            self.sink.commit()

    def log_batch(self, b: Batch) -> None:
        row, kinds = import_log_row(b, self.clock)
        self.sink.insert(t.tblImportLog, [row])
        self.local.tally("tblImportLog").add(kinds, b.batch_id)
        self.inserted["tblImportLog"].append(b.batch_id)
        self.logged.add(b.batch_id)
        for action in self.after_batch.pop(b.batch_id, []):
            action()

    def set_status(self, batch: int) -> None:
        self.sink.execute(f"UPDATE {self.sink.quote('tblImportLog')} SET {self.sink.quote('Status')} = ? "
                          f"WHERE {self.sink.quote('BatchID')} = ?", ("RELOADED", batch))
        self.revised["tblImportLog"][batch] = {"Status": "RELOADED"}

    # ------------------------------------------------------------------ LAS and users
    def plan_las(self) -> None:
        db, q, r = self.db, self.db.q, self.rng
        w = int(min(max(self.per_day("LAS") * WINDOW_DAYS * 3, WINDOW_ROWS[0]), WINDOW_ROWS[1]))
        rows = sorted((tuple(x) for x in db.rows(
            f"SELECT {db.cols('tblLASAssault', ('LASRef', 'UpdatedOn', 'AlcoholFlag', 'Category', 'BatchID'))} "
            f"FROM {q('tblLASAssault')} ORDER BY {q('LASRef')} DESC LIMIT {w}")), key=lambda x: str(x[0]))
        top = rows[-1][0] if rows else None
        self.las_batch = {str(x[0]): int(x[4]) for x in rows}
        pool = [x for x in rows if x[0] != top]
        r.shuffle(pool)
        n_del = max(1, stochastic(LAS_DELETED_SHARE * self.per_day("LAS") * self.days, r))
        self.las_deletes = [str(x[0]) for x in pool[:n_del]]
        pool = pool[n_del:]
        n_rev = max(4, stochastic(LAS_REVISED_SHARE * self.per_day("LAS") * self.days, r))
        cats = [c for _, c, _ in vocab.LAS_CATEGORIES]
        events = []
        for x in pool[:n_rev]:
            day, secs = self.first + r.randrange(self.days), self.pick_time(9, 18)
            change: dict[str, Any] = {"UpdatedOn": self.clock.dt(day, secs)}
            flag = x[2]
            if (flag is None or flag.strip() in ("", "U")) and r.random() < 0.6:
                change["AlcoholFlag"] = "Y" if r.random() < 0.4 else "N"
            elif r.random() < 0.3:
                change["Category"] = r.choice([c for c in cats if c != x[3]])
            events.append((day, secs, str(x[0]), dt_text(x[1]), flag, change))
        self.las_events = events

    def plan_users(self) -> None:
        r = self.rng
        users = self.state.users
        officials = set(self.ctx.speller.official.values())
        enabled = [u for u in users if not u[5]]
        r.shuffle(enabled)
        chosen: set[int] = set()

        def pick(cond: Callable[[tuple[Any, ...]], bool]) -> tuple[Any, ...] | None:
            for u in enabled:
                if int(u[0]) not in chosen and cond(u):
                    chosen.add(int(u[0]))
                    return u
            return None

        def removable(u: tuple[Any, ...]) -> bool:
            toks = [x.strip() for x in str(u[2] or "").split(",")]
            return len(toks) >= 2 and any(x in officials for x in toks)

        events: list[tuple[int, int, str, Any]] = []
        grant = pick(removable)
        if grant is not None:
            raw = str(grant[2])
            toks = raw.split(",")
            idx = [i for i, x in enumerate(toks) if x.strip() in officials]
            drop = idx[r.randrange(len(idx))]
            rest = [x.strip() for i, x in enumerate(toks) if i != drop]
            after = (", " if ", " in raw else ",").join(rest)
            events.append((self.first + r.randrange(self.days), self.pick_time(9, 17), "allowed",
                           (int(grant[0]), raw, after, toks[drop].strip())))
        off = pick(lambda u: True)
        if off is not None:
            events.append((self.first + r.randrange(self.days), self.pick_time(9, 17), "disabled", int(off[0])))
        pw = pick(lambda u: u[3] is not None)
        if pw is not None:
            md5 = bool(re.fullmatch(r"[0-9a-f]{32}", str(pw[3])))
            new = password(r, md5=md5)
            while new == pw[3]:
                new = password(r, md5=md5)
            events.append((self.first + r.randrange(self.days), self.pick_time(9, 17), "password", (int(pw[0]), new)))
        uid = max((int(u[0]) for u in users), default=0) + 1
        maker = UserMaker(self.orgs, self.ctx.speller, self.ctx.geo, self.clock, {str(u[1]) for u in users})
        new_user = maker.make(r, uid)  # a new account: a real organisation, never logged in yet
        created = self.first + r.randrange(self.days)
        events.append((created, self.pick_time(9, 12), "new", new_user))
        can_login = [int(u[0]) for u in enabled if off is None or int(u[0]) != int(off[0])]
        for day in range(self.first, self.last + 1):
            for _ in range(1 + r.randrange(4)):
                who = can_login[r.randrange(len(can_login))] if can_login else uid
                if who == uid and day <= created:
                    continue
                events.append((day, self.pick_time(7, 20), "login", who))
        if not any(e[0] == self.last and e[2] == "login" for e in events) and can_login:
            events.append((self.last, self.pick_time(7, 20), "login", can_login[0]))
        self.user_events = events

    # ------------------------------------------------------------------ in-place changes, day by day
    def write_events(self) -> None:
        clock, s = self.clock, self.sink
        events: list[tuple[int, int, Callable[[], None]]] = []
        self.las_old: dict[str, tuple[str | None, Any]] = {}
        self.user_what: dict[str, list[int]] = {}

        def true_time(day: int, secs: int, second_pass: bool = False) -> int:
            k = day * 86400 + secs
            if day in clock.autumn and (second_pass or secs >= 7200):
                k += 3600
            return k

        self.mps_set: dict[int, dict[str, Any]] = {}
        self.mps_old: dict[int, MpsRow] = {}
        seq = 0
        for day, secs, pss, rows, _role in self.mps_events:
            stamp = clock.dt(day, secs)
            events.append((true_time(day, secs, pss == 2), seq, self._mps_update(rows, stamp)))
            seq += 1
        for row, stamp, _behind in self.mps_late:  # committed during the run, stamped at/before the old maximum
            day = self.first + self.rng.randrange(self.days)
            events.append((true_time(day, self.pick_time(8, 20)), seq, self._mps_update([row], stamp)))
            seq += 1
        for recid in self.mps_deletes:
            day = self.first + self.rng.randrange(self.days)
            events.append((true_time(day, self.pick_time(8, 20)), seq, self._delete("tblMPSCrime", "RecID", recid)))
            seq += 1
        for day, secs, ref, old, flag, change in self.las_events:
            events.append((true_time(day, secs), seq, self._las_update(ref, old, flag, change)))
            seq += 1
        for ref in self.las_deletes:
            day = self.first + self.rng.randrange(self.days)
            events.append((true_time(day, self.pick_time(8, 20)), seq, self._delete("tblLASAssault", "LASRef", ref)))
            seq += 1
        for day, secs, what, payload in self.user_events:
            events.append((true_time(day, secs), seq, self._user(day, secs, what, payload)))
            seq += 1
        events.sort(key=lambda e: (e[0], e[1]))
        current = None
        for when, _, action in events:
            day = when // 86400
            if current is not None and day != current:
                s.commit()
            current = day
            action()
        s.commit()

    def _mps_update(self, rows: list[MpsRow], stamp: str) -> Callable[[], None]:
        def go() -> None:
            r = self.rng.random
            s = self.sink
            for row in rows:
                change: dict[str, Any] = {"LastModified": stamp}
                if r() < 0.5 and not _no_value(row.outcome):
                    new = vocab.OUTCOMES[int(r() * len(vocab.OUTCOMES))]
                    if new != row.outcome:
                        change["Outcome"] = new
                sets = ", ".join(f"{s.quote(c)} = ?" for c in change)
                s.execute(f"UPDATE {s.quote('tblMPSCrime')} SET {sets} WHERE {s.quote('RecID')} = ?",
                          (*change.values(), row.recid))
                self.mps_set[row.recid] = change
                self.mps_old[row.recid] = row
        return go

    def _las_update(self, ref: str, old: str | None, flag: Any, change: dict[str, Any]) -> Callable[[], None]:
        def go() -> None:
            s = self.sink
            sets = ", ".join(f"{s.quote(c)} = ?" for c in change)
            s.execute(f"UPDATE {s.quote('tblLASAssault')} SET {sets} WHERE {s.quote('LASRef')} = ?",
                      (*change.values(), ref))
            self.revised["tblLASAssault"][ref] = dict(change)
            self.las_old[ref] = (old, flag)
        return go

    def _delete(self, table: str, key: str, value: Any) -> Callable[[], None]:
        def go() -> None:
            s = self.sink
            n = s.execute(f"DELETE FROM {s.quote(table)} WHERE {s.quote(key)} = ?", (value,))
            if n != 1:
                raise GeneratorError(f"deleting {table} {key} {value!r} removed {n} rows",
                                     hint="is another process changing the legacy database?")
            self.deleted[table].append(value)
        return go

    def _user(self, day: int, secs: int, what: str, payload: Any) -> Callable[[], None]:
        def go() -> None:
            s = self.sink
            q = s.quote
            if what == "new":
                s.insert(t.tblUser, [payload.values])
                self.inserted["tblUser"].append(payload.key)
                self.new_user = payload
                return
            change: dict[str, Any]
            if what == "login":
                uid, change = payload, {"LastLogin": self.clock.dt(day, secs)}
            elif what == "allowed":
                uid, change = payload[0], {"AllowedBoroughs": payload[2]}
                self.allowed_change = payload
            elif what == "disabled":
                uid, change = payload, {"Disabled": True}
            else:
                uid, change = payload[0], {"Password": payload[1]}
            sets = ", ".join(f"{q(c)} = ?" for c in change)
            s.execute(f"UPDATE {q('tblUser')} SET {sets} WHERE {q('UserID')} = ?", (*change.values(), uid))
            if uid in self.inserted["tblUser"]:
                return  # the new account's own logins: it is listed as inserted
            entry: dict[str, Any] = self.revised["tblUser"].setdefault(uid, {})
            entry.update(change)
            self.user_what.setdefault(what, []).append(uid)
        return go

    # ------------------------------------------------------------------ the manifest
    def book_changes(self, groups: dict[str, list[tuple[int, str, int]]]) -> None:
        book, clock = self.book, self.clock
        exact = self.exact
        # deleted rows lose every kind they carried (known only when keys are recorded)
        for table in ("tblMPSCrime", "tblLASAssault"):
            gone = self.deleted[table]
            if gone and exact:
                for key, kinds in book.kinds_of(table, gone).items():
                    book.remove(table, key, kinds)
            book.rows(table, -len(gone))
        # new rows, as the generators tallied them
        for table in TABLE_NAMES:
            tally = self.local.tallies.get(table)
            book.rows(table, len(self.inserted[table]))
            if tally is None:
                continue
            for kind, keys in tally.keys.items():
                for key in keys:
                    book.add(table, key, [kind])
        new_user = getattr(self, "new_user", None)
        if new_user is not None:
            book.add("tblUser", new_user.key, new_user.kinds)
        # MPS revisions: kinds that follow LastModified
        for recid, change in self.mps_set.items():
            old = self.mps_old[recid].lastmod
            book.change("tblMPSCrime", recid, _lastmod_kinds(old, clock), _lastmod_kinds(change["LastModified"], clock))
            self.revised["tblMPSCrime"][recid] = dict(change)
        for ref, change in self.revised["tblLASAssault"].items():
            old, flag = self.las_old[ref]
            was = ({"las.updated"} if old else set()) | ({"las.alcohol_flag_unknown"} if _flag_unknown(flag) else set())
            becomes = {"las.updated"} | ({"las.alcohol_flag_unknown"}
                                         if _flag_unknown(change.get("AlcoholFlag", flag)) else set())
            book.change("tblLASAssault", ref, was, becomes)
        # duplicate groups touched by the deletes and the re-sent rows
        touched: dict[str, list[tuple[int, str, int]]] = {}
        deleted = set(self.deleted["tblMPSCrime"])
        self.dup_record: list[dict[str, Any]] = []
        for recid in deleted:
            raw = self.ref_of_mps.get(recid)
            if raw is not None and raw.strip(" "):
                ref = raw.rstrip(" ")
                touched.setdefault(ref, groups.get(ref, [(recid, raw, self.batch_of_mps[recid])]))
        copies: list[tuple[int, int, str, int]] = []  # (original, copy RecID, copy ref, batch)
        if self.reload is not None:
            _, rl_batch, rl_rows, rl_items = self.reload
            rl_keys = self.batch_keys.get(rl_batch.batch_id, [])
            for row, item, key in zip(rl_rows, rl_items, rl_keys, strict=True):
                copies.append((row.recid, int(key), str(item.body[0]), rl_batch.batch_id))
                ref = str(row.ref).rstrip(" ")
                touched.setdefault(ref, groups.get(ref, [(row.recid, str(row.ref), row.batch)]))
        new_status = {b.batch_id: b.status for b in self.batches}
        changed_status = {k: str(v["Status"]) for k, v in self.revised["tblImportLog"].items()}

        def after(batch: int) -> str:
            if batch in new_status:
                return new_status[batch]
            return changed_status.get(batch, self.status(batch))

        for ref in sorted(touched):
            before = touched[ref]
            now = [m for m in before if m[0] not in deleted] + [(c, raw, bt) for _, c, raw, bt in copies
                                                              if raw.rstrip(" ") == ref]
            old_k = self.dup_kinds(before, self.status)
            new_k = self.dup_kinds(now, after)
            for m in now:
                if m[0] in old_k:
                    book.change("tblMPSCrime", m[0], old_k[m[0]], new_k[m[0]])
                else:
                    book.add("tblMPSCrime", m[0], new_k[m[0]])
            if not exact:
                for m in before:
                    if m[0] in deleted:
                        book.remove("tblMPSCrime", m[0], old_k[m[0]])
            if len(before) > 1:
                book.drop_group(ref, len(before))
            if len(now) > 1:
                win = self.winner(now, after)
                if win is None:
                    raise AssertionError(f"group {ref!r} left without a winner")
                book.add_group(ref, [m[0] for m in now], win)
            self.dup_record.append({"crimeref": ref, "members_before": sorted(m[0] for m in before),
                                    "winner_before": self.winner(before, self.status),
                                    "members_after": sorted(m[0] for m in now),
                                    "winner_after": self.winner(now, after)})
        for g in self.local.duplicate_groups:
            book.add_group(g["crimeref"], g["recids"], g["winner"])
        # ISTV: every row of the re-submitted period
        if self.resub is not None:
            rs_batch, group = self.resub[1], self.resub[4]
            period = group + [(int(k), rs_batch.batch_id) for k in self.batch_keys.get(rs_batch.batch_id, [])]
            for key, batch in period:
                gained = _istv_kinds(batch, period)
                if (key, batch) in group:
                    book.change("tblISTVAssault", key, _istv_kinds(batch, group), gained)
                else:
                    book.add("tblISTVAssault", key, gained)
        # tblImportLog: status changes, and batches whose row counts moved
        for batch, status in changed_status.items():
            if self.state.log[batch].status != status:
                book.add("tblImportLog", batch, ["importlog.reloaded"])
        for batch, n in self.lost.items():
            claimed = self.state.log[batch].row_count
            held = self.counts_before[batch]
            book.change("tblImportLog", batch, {"importlog.rowcount_mismatch"} if claimed != held else set(),
                        {"importlog.rowcount_mismatch"} if claimed != held - n else set())
        self.doc["anomalies_exact"] = exact
        if not exact:
            self.doc["anomalies_note"] = (
                "legacy advance changed rows whose kinds are listed only with keys (manifest written without "
                "keys): row counts and the kinds of new rows are exact, the other anomaly counts are not")
        book.finish()

    def batch_counts(self, lost: dict[int, int]) -> dict[int, int]:
        """Rows each batch of ``lost`` holds (read before any change)."""
        out: dict[int, int] = {b: 0 for b in lost}
        q = self.db.q
        for table, ds in (("tblMPSCrime", "MPS"), ("tblLASAssault", "LAS")):
            for part in _chunks(sorted(b for b in lost if self.state.log[b].dataset == ds)):
                sql, p = self.db.in_list("b", part)
                for b, n in self.db.rows(f"SELECT {q('BatchID')}, COUNT(*) FROM {q(table)} WHERE {q('BatchID')} "
                                         f"IN {sql} GROUP BY {q('BatchID')}", p):
                    out[int(b)] = int(n)
        return out

    def finish_record(self) -> dict[str, Any]:
        """Append this run to ``advances`` and return the entry::

            {"seed", "days", "from", "to", "generator_version", "anomalies_exact",
             "previous": {"now", "max_batch", "max_lastmodified", "max_updatedon"},
             "reference_tables": "unchanged",
             "batches": [{"batch", "dataset", "role", "status", "loaded_on", "period", "rows", "file"}],
             "status_changes": [[batch, "OK", "RELOADED"]],
             "changes": {table: {"inserted": [keys], "revised": [keys], "deleted": [keys],
                                 "set": [[key, {column: new value}]]}},       # every table, keys always
             "mps": {"null_to_value", "value_to_value", "outcome_changed", "late_writers",
                     "autumn_days", "dst_repeated", "shared_stamps", "max_lastmodified",
                     "duplicate_groups_changed", "deleted_winners", "reload", "failed_batches"},
             "las": {...}, "istv": {"resubmission": {...}}, "users": {...}, "not_placed": {...}}
        """
        doc, st, clock = self.doc, self.state, self.clock
        changes: dict[str, Any] = {}
        for name in TABLE_NAMES:
            rev = self.revised[name]
            order = sorted(rev, key=_sort_key)
            changes[name] = {"inserted": sorted(self.inserted[name], key=_sort_key), "revised": order,
                             "deleted": sorted(self.deleted[name], key=_sort_key), "set": [[k, rev[k]] for k in order]}
        mps_set = self.revised["tblMPSCrime"]
        by_stamp: dict[str, list[int]] = {}
        for recid, change in mps_set.items():
            by_stamp.setdefault(change["LastModified"], []).append(recid)
        deleted = set(self.deleted["tblMPSCrime"])
        las = self.revised["tblLASAssault"]
        batches = sorted(self.batches, key=lambda b: b.batch_id)
        record: dict[str, Any] = {
            "seed": self.seed,
            "days": self.days,
            "from": from_ordinal(self.first).isoformat(),
            "to": from_ordinal(self.last).isoformat(),
            "generator_version": GENERATOR_VERSION,
            "previous": {"now": st.now, "max_batch": max(st.log, default=0), "max_lastmodified": st.max_lastmod,
                         "max_updatedon": st.max_updated},
            "reference_tables": "unchanged",
            "batches": [{"batch": b.batch_id, "dataset": b.dataset, "role": b.role, "status": b.status,
                         "loaded_on": clock.dt(b.loaded_day, b.loaded_secs),
                         "period": [clock.d_iso(b.first_day), clock.d_iso(b.last_day)],
                         "rows": b.rows_in_table, "file": b.file_name} for b in batches],
            "status_changes": [[k, self.state.log[k].status, v["Status"]]
                               for k, v in sorted(self.revised["tblImportLog"].items())],
            "changes": changes,
            "mps": {
                "null_to_value": sorted(k for k in mps_set if self.mps_old[k].lastmod is None),
                "value_to_value": sorted(k for k in mps_set if self.mps_old[k].lastmod is not None),
                "outcome_changed": sorted(k for k, v in mps_set.items() if "Outcome" in v),
                "late_writers": [{"recid": row.recid, "stamp": stamp, "behind_seconds": behind}
                                 for row, stamp, behind in self.mps_late],
                "autumn_days": [clock.d_iso(d) for d in self.mps_autumn],
                "dst_repeated": [{"recid": row.recid, "stamp": stamp, "pass": label}
                                 for row, stamp, label in self.mps_dst],
                "shared_stamps": [{"stamp": k, "recids": sorted(v)} for k, v in sorted(by_stamp.items()) if len(v) > 1],
                "max_lastmodified": max([st.max_lastmod or ""] + list(by_stamp)) or None,
                "duplicate_groups_changed": [g for g in self.dup_record
                                             if max(len(g["members_before"]), len(g["members_after"])) > 1],
                "deleted_winners": [g for g in self.dup_record
                                    if len(g["members_before"]) > 1 and g["winner_before"] in deleted],
                "reload": None,
                "failed_batches": [b.batch_id for b in batches if b.dataset == "MPS" and b.status == "FAILED"],
            },
            "las": {
                "null_to_value": sorted(k for k in las if not self.las_old[k][0]),
                "value_to_value": sorted(k for k in las if self.las_old[k][0]),
                "alcohol_flag_settled": sorted(k for k, v in las.items() if "AlcoholFlag" in v),
                "category_corrected": sorted(k for k, v in las.items() if "Category" in v),
            },
            "istv": {"resubmission": None},
            "users": {
                "new": sorted(self.inserted["tblUser"]),
                "allowed_removed": [],
                "disabled": sorted(self.user_what.get("disabled", [])),
                "password_changed": sorted(self.user_what.get("password", [])),
                "logged_in": sorted(set(self.user_what.get("login", []))),
            },
            "not_placed": self.not_placed,
            "anomalies_exact": self.exact,
        }
        allowed = getattr(self, "allowed_change", None)
        if allowed is not None:
            record["users"]["allowed_removed"] = [{"user": allowed[0], "before": allowed[1], "after": allowed[2],
                                                   "removed": allowed[3]}]
        if self.reload is not None:
            rl_source, rl_batch, rl_rows, _ = self.reload
            rl_keys = self.batch_keys.get(rl_batch.batch_id, [])
            record["mps"]["reload"] = {
                "source_batch": rl_source, "batch": rl_batch.batch_id,
                "copies": [[row.recid, int(k)] for row, k in zip(rl_rows, rl_keys, strict=True)]}
        if self.resub is not None:
            rs_source, rs_batch, rs_rows, _, _, (hid, ps, pe) = self.resub
            rs_keys = self.batch_keys.get(rs_batch.batch_id, [])
            resub = {"hospital": hid, "period_start": ps, "period_end": pe, "superseded_batch": rs_source,
                     "batch": rs_batch.batch_id, "rows": len(rs_keys),
                     "copies": [[int(x[0]), int(k)] for x, k in zip(rs_rows, rs_keys, strict=True)]}
            record["istv"]["resubmission"] = resub
            doc.setdefault("istv_resubmissions", []).append({k: resub[k] for k in (
                "hospital", "period_start", "period_end", "superseded_batch", "batch", "rows")})
        statuses = doc.setdefault("batches", {})
        for b in batches:
            statuses.setdefault(b.dataset, {"OK": 0, "FAILED": 0, "RELOADED": 0})[b.status] += 1
        for batch, old, new in record["status_changes"]:
            ds = st.log[batch].dataset
            statuses[ds][old] -= 1
            statuses[ds][new] += 1
        span = doc.setdefault("data_span", {})
        for ds in DATASETS:
            ends = [b.last_day for b in batches if b.dataset == ds and b.role == "normal"]
            if ends and ds in span:
                span[ds][1] = max(span[ds][1], clock.d_iso(max(ends)))
        doc.setdefault("advances", []).append(record)
        return record


def _bit(v: Any) -> Any:
    return None if v is None else int(bool(v))


def _flag_unknown(v: Any) -> bool:
    return v is None or str(v).strip() in ("", "U")


def _lastmod_kinds(v: str | None, clock: Any) -> set[str]:
    if not v:
        return set()
    day, secs = split_dt(v)
    return {"mps.revised"} | ({"mps.lastmodified_dst_repeated"} if clock.in_repeat(day, secs) else set())


def _period_of(file_name: str, fallback: int) -> tuple[int, int]:
    m = re.search(r"_(\d{8})_(\d{8})\.", file_name)
    if not m:
        return fallback, fallback
    a, z = (datetime.strptime(x, "%Y%m%d").date().toordinal() for x in m.groups())
    return a, z


def _istv_kinds(batch: int, period: list[tuple[int, int]]) -> set[str]:
    """The re-submission kinds of a row of ``batch`` among the rows (ISTVID, BatchID) of its period."""
    out = set()
    if any(b > batch for _, b in period):
        out.add("istv.superseded_submission")
    if any(b < batch for _, b in period):
        out.add("istv.resubmission")
    return out


def vocab_total_istv(scale: float) -> float:
    return SPECS["ISTV"].rows_at_scale_1 * scale


class BatchWriter:
    """What the fact generators write through during an advance: one transaction per batch
    (its rows and its ``tblImportLog`` row), keys of every new row kept for the manifest."""

    def __init__(self, adv: Advance, table: t.Table) -> None:
        self.adv = adv
        self.sink = adv.sink
        self.table = table
        self.batch_col = [c.name for c in table.columns].index("BatchID")
        self.rows = 0
        self._buf: list[Row] = []
        self._current: int | None = None
        self._by_id = {b.batch_id: b for b in adv.batches}

    def add(self, row: Row) -> None:
        batch = int(row[self.batch_col])
        if self._current is not None and batch != self._current:
            self._finish()
        self._current = batch
        self._buf.append(row)
        self.adv.inserted[self.table.name].append(row[0])
        self.adv.batch_keys.setdefault(batch, []).append(row[0])
        self.rows += 1
        if len(self._buf) >= self.sink.chunk_rows:
            self.sink.insert(self.table, self._buf)
            self._buf = []

    def flush(self) -> None:
        self._finish()

    def _finish(self) -> None:
        if self._buf:
            self.sink.insert(self.table, self._buf)
            self._buf = []
        if self._current is not None:
            self.adv.log_batch(self._by_id[self._current])
            self.sink.commit()
            self._current = None


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
