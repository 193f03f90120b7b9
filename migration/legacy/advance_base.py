"""What every part of an advance shares: the state read from the database, the seeded random
sources, what was inserted, revised and deleted so far, and the duplicate groups of existing rows."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from migration.console import Console
from migration.errors import GeneratorError
from migration.legacy.advance_state import (
    WINDOW_DAYS,
    WINDOW_ROWS,
    Db,
    MpsRow,
    dt_text,
    read_state,
    split_dt,
)
from migration.legacy.context import Context, build_context
from migration.legacy.generate import (
    GENERATOR_VERSION,
)
from migration.legacy.manifest import (
    Manifest,
    ManifestBook,
)
from migration.legacy.plan import SPECS, Batch
from migration.legacy.reference import organisations
from migration.legacy.timeutil import SPAN_LAST, from_ordinal
from migration.legacy.writer import Sink
from migration.schema.legacy import TABLE_NAMES


class AdvanceBase:
    """The state of one ``legacy advance`` run; the parts (batches, changes, manifest) extend it."""

    # set by one part while planning and read by another (declared here so each part type-checks
    # on its own; :meth:`Advance.run <migration.legacy.advance.Advance.run>` sets them in order)
    #: legacy key → batch and CrimeRef of the MPS rows in the window and in duplicate groups
    batch_of_mps: dict[int, Any]
    ref_of_mps: dict[int, Any]
    #: MPS rows revised: their old values, the changed columns; late writers; the DST passes
    mps_old: dict[int, MpsRow]
    mps_set: dict[int, dict[str, Any]]
    mps_late: list[tuple[MpsRow, str, int]]
    mps_dst: list[tuple[MpsRow, str, str]]
    mps_autumn: list[int]
    mps_deletes: list[int]
    #: LAS rows revised (old UpdatedOn and flag), deleted, and the batch of each
    las_old: dict[str, tuple[str | None, Any]]
    las_deletes: list[str]
    las_batch: dict[str, int]
    #: tblUser change → the users it touched
    user_what: dict[str, list[int]]
    #: the re-sent MPS batch and the re-submitted ISTV period (None: none this run)
    reload: tuple[Any, ...] | None
    resub: tuple[Any, ...] | None
    #: rows each batch lost to deletes, and the batches' row counts before the run
    lost: dict[int, int]
    counts_before: dict[int, int]

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
