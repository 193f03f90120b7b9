"""``tblMPSCrime``: about 800,000 recorded crimes a year, with every quirk of the dictionary.

Rows are generated one batch (a period of days) at a time; a batch is held in memory
only while its duplicates are arranged, so memory does not grow with the scale.
Duplicates come from four load histories (see :mod:`migration.legacy.plan`):

- a re-loaded period: part of an earlier batch sent again in a later one (later wins);
- a load that FAILED part-way, then was retried: the failed rows stay (retry wins);
- a re-load attempt that FAILED after inserting some copies (the original wins);
- a careless load that inserted a row twice within one batch (higher RecID wins).

Some copies differ from their original only by trailing spaces in ``CrimeRef``.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from migration.legacy import vocab
from migration.legacy.common import misspellings_by_id
from migration.legacy.context import WARD_2014_FROM, Context
from migration.legacy.geo import LONDON_E, LONDON_N, weighted_table
from migration.legacy.inject import Injector, Rotation, rate_targets
from migration.legacy.manifest import DuplicateGroup, Manifest
from migration.legacy.plan import DATA_LAST_DAY, Batch, Plan
from migration.legacy.reference import CrimeType
from migration.legacy.writer import TableWriter

TABLE = "tblMPSCrime"
INTRA_DUP = "_intra_dup"
LASTMOD_FROM = date(2012, 1, 1).toordinal()
RETIRED_FROM = date(*vocab.CRIME_TYPES_RETIRED_FROM).toordinal()

#: kind → (share of base rows, minimum rows at any scale)
RATES: dict[str, tuple[float, int]] = {
    "mps.committed_date_placeholder": (0.001, 4),
    "mps.committed_date_impossible": (0.0002, 4),
    "mps.committed_time_unknown": (0.01, 3),
    "mps.dst_gap_committed": (0.00001, 3),
    "mps.reported_dst_repeated": (0.00001, 3),
    "mps.reported_dst_gap": (0.000005, 2),
    "mps.lastmodified_dst_repeated": (0.000005, 2),
    "mps.grid_missing": (0.03, 7),
    "mps.grid_zero": (0.002, 3),
    "mps.grid_99999": (0.001, 3),
    "mps.grid_swapped": (0.001, 3),
    "mps.grid_non_numeric": (0.0005, 3),
    "mps.grid_outside_london": (0.0005, 3),
    "mps.borough_variant": (0.02, 8),
    "mps.borough_pseudo": (0.005, 5),
    "mps.borough_blank": (0.003, 7),
    "mps.borough_misspelt": (0.0003, 4),
    "mps.borough_not_london": (0.0003, 6),
    "mps.ward_unknown": (0.002, 3),
    "mps.ward_no_value_text": (0.003, 7),
    "mps.orphan_crimetype": (0.003, 4),
    "mps.majorcat_mismatch": (0.002, 3),
    "mps.location_no_value_text": (0.01, 7),
    "mps.location_cp1252": (0.005, 4),
    "mps.domestic_flag_alt": (0.02, 4),
    "mps.domestic_flag_unknown": (0.01, 4),
    "mps.knife_flag_null": (0.05, 3),
    "mps.outcome_no_value_text": (0.01, 7),
    "mps.crimeref_trailing_space": (0.002, 3),
    "mps.blank_crimeref": (0.000005, 4),
    INTRA_DUP: (0.0003, 2),
}
GROUPS: tuple[tuple[str, ...], ...] = (  # applied in this order: later groups see earlier changes
    ("mps.reported_dst_repeated", "mps.reported_dst_gap"),
    ("mps.committed_date_placeholder", "mps.committed_date_impossible", "mps.committed_time_unknown",
     "mps.dst_gap_committed"),
    ("mps.borough_variant", "mps.borough_pseudo", "mps.borough_blank", "mps.borough_misspelt",
     "mps.borough_not_london"),
    ("mps.ward_unknown", "mps.ward_no_value_text"),
    ("mps.grid_missing", "mps.grid_zero", "mps.grid_99999", "mps.grid_swapped", "mps.grid_non_numeric",
     "mps.grid_outside_london"),
    ("mps.orphan_crimetype", "mps.majorcat_mismatch"),
    ("mps.location_no_value_text", "mps.location_cp1252"),
    ("mps.domestic_flag_alt", "mps.domestic_flag_unknown"),
    ("mps.crimeref_trailing_space", "mps.blank_crimeref"),
)
_OUTCOMES = vocab.OUTCOMES
_N_OUTCOMES = len(vocab.OUTCOMES)
_FORCES = vocab.FORCES
E_LO, E_HI = LONDON_E[0] + 200, LONDON_E[1] - 200
N_LO, N_HI = LONDON_N[0] + 200, LONDON_N[1] - 200
_GROUP_OF = {kind: g for g, group in enumerate(GROUPS) for kind in group}
_ORDER = {kind: _GROUP_OF.get(kind, len(GROUPS) + n) for n, kind in enumerate(RATES)}
_NO_VALUE_OR_NULL = (None,) + vocab.NO_VALUE_TEXTS
_IMPOSSIBLE = ("31/04", "29/02", "31/06", "31/09", "31/11", "30/02")
_NON_LEAP = (2009, 2010, 2011, 2013, 2014, 2015)
DROP_ON_COPY = frozenset({"mps.revised", "mps.lastmodified_dst_repeated", "mps.crimeref_trailing_space"})

# body columns (RecID and BatchID are added when the row is written)
REF, FORCE, CDATE, CTIME, REPORTED, CTYPE, MAJOR, BOROUGH, WARD, EAST, NORTH, LOC, DOM, KNIFE, OUTCOME, LASTMOD = range(16)


class Item:
    __slots__ = ("body", "kinds", "group", "winner")

    def __init__(self, body: list[Any], kinds: list[str]) -> None:
        self.body = body
        self.kinds = kinds
        self.group: DuplicateGroup | None = None
        self.winner = False


class MpsGenerator:
    def __init__(self, ctx: Context, plan: Plan, manifest: Manifest, writer: TableWriter, *,
                 first_index: int = 0, first_recid: int = 0, advance_rng: random.Random | None = None) -> None:
        """``first_index``/``first_recid`` continue numbering after existing rows (for
        ``legacy advance``): CrimeRefs derive from the index, so they stay unique.  With
        ``advance_rng`` the kinds hit their rates without minimums (see
        :func:`~migration.legacy.inject.rate_targets`) and no row is inserted with a
        LastModified: that is set by later revisions."""
        self.ctx = ctx
        self.plan = plan
        self.manifest = manifest
        self.writer = writer
        self.tally = manifest.tally(TABLE)
        self.rng = ctx.rng("mps")
        self.batches = plan.of("MPS")
        n = sum(b.base_rows for b in self.batches if b.role == "normal")
        self.n_base = n
        targets = rate_targets(RATES, n, advance_rng,
                               skip=("mps.lastmodified_dst_repeated",) if advance_rng is not None else ())
        self.inj = Injector(f"{ctx.seed}:mps:inject:{first_index}", n, targets,
                            spans={"mps.lastmodified_dst_repeated": 0.75}, offset=first_index)
        self.i = first_index
        self.recid = first_recid
        self.not_london = 0
        self.misspelt = misspellings_by_id(ctx)
        self.stash: dict[int, list[Item]] = {}
        self.pending: dict[int, list[Item]] = {}
        types = ctx.types
        self.type_by_id: dict[int, CrimeType] = {t.id: t for t in types}
        self.retired_ids = frozenset(t.id for t in types if t.retired)
        self.types_before = _type_table(types, include_retired=True)
        self.types_after = _type_table(types, include_retired=False)
        self.majors = sorted({t.major for t in types})
        max_id = max(self.type_by_id)
        self.orphan_ids = (0, 999, 1234, 9999, max_id + 5, max_id + 17, -1)
        self.streets = tuple("On or near " + s for s in vocab.STREETS)
        # per-borough data and formatting tables bound once: the row function is the hot path
        self.bdata: list[Any] = [None] + [
            (ctx.speller.official[b.id], b.mps_code, b.cx, b.cy, b.sd,
             tuple(c for c, _ in b.wards_2014), tuple(c for c, _ in b.wards_2002)) for b in ctx.geo.boroughs]
        self.normal = ctx.points.normal_table
        self.hours = tuple(h * 3600 for h in ctx.hour_table)
        self.base = ctx.clock.base
        self.iso, self.dmy, self.hhmm, self.hms = ctx.clock.iso, ctx.clock.dmy, ctx.clock.hhmm, ctx.clock.hms
        self.spring, self.autumn = ctx.clock.spring, ctx.clock.autumn
        self.yy = tuple(d[2:4] for d in ctx.clock.iso)
        self.streets_cp = tuple("On or near " + s for s in vocab.STREETS_CP1252)
        self.rot: dict[str, Rotation] = {
            name: Rotation(items, start=self.rng.randrange(len(items)))
            for name, items in (
                ("grid", _NO_VALUE_OR_NULL), ("blank_borough", _NO_VALUE_OR_NULL),
                ("ward", vocab.NO_VALUE_TEXTS), ("loc", vocab.NO_VALUE_TEXTS),
                ("outcome", vocab.NO_VALUE_TEXTS), ("dom", ("U", "", " ", None, "U")),
                ("ref", ("", " ", "   ", None)), ("placeholder", ("01/01/1900", "00/00/0000")),
            )
        }

    # ------------------------------------------------------------------ driver
    def run(self) -> None:
        for b in self.batches:
            if b.role == "normal":
                items = self.stash.pop(id(b), None)
                if items is None:
                    items = self._block(b, prefix=0)
                self._link_copies(b, items)
                for it in items:
                    self._emit(it, b)
            elif b.role == "failed_attempt":
                assert b.source is not None
                items = self._block(b.source, prefix=b.copies)
                self.stash[id(b.source)] = items
                for copy in self._prefix_copies(b, items):
                    self._emit(copy, b)
            else:  # reload, failed_reload
                for it in self.pending.pop(id(b), []):
                    self._emit(it, b)
        self.writer.flush()
        if self.stash or self.pending:
            raise AssertionError("MPS batches left unwritten")

    def _emit(self, it: Item, b: Batch) -> None:
        self.recid += 1
        body = it.body
        row = (self.recid, *body[:15], b.batch_id, body[15])
        self.writer.add(row)
        b.rows_in_table += 1
        kinds = it.kinds
        if b.failed:
            kinds = kinds + ["mps.failed_batch_row"]
        self.tally.add(kinds, self.recid)
        g = it.group
        if g is not None:
            if it.winner:
                g.intended_winner_recid = self.recid
            if g.add(self.recid, b.batch_id, b.failed):
                winner = self.manifest.close_group(g)
                if winner != g.intended_winner_recid:
                    raise AssertionError(f"duplicate group {g.ref!r}: rule picks {winner}, "
                                         f"generator meant {g.intended_winner_recid}")

    # ------------------------------------------------------------------ duplicates
    def _eligible(self, it: Item) -> bool:
        ref = it.body[REF]
        return it.group is None and ref is not None and ref.strip() != ""

    def _link_copies(self, b: Batch, items: list[Item]) -> None:
        if not b.links:
            return
        eligible = [k for k, it in enumerate(items) if self._eligible(it)]
        self.rng.shuffle(eligible)
        for link in sorted(b.links, key=lambda x: x.seq):
            chosen, eligible = eligible[: link.copies], eligible[link.copies:]
            copies = []
            for k in sorted(chosen):
                orig = items[k]
                copy = self._pair(orig, copy_wins=not link.failed, trailing_p=0.15, revise=True)
                copies.append(copy)
            self.pending[id(link)] = copies

    def _prefix_copies(self, f: Batch, items: list[Item]) -> list[Item]:
        out: list[Item] = []
        for it in items:
            if len(out) >= f.copies:
                break
            if self._eligible(it):
                # the failed batch's row is inserted first; the retried original wins
                out.append(self._pair(it, copy_wins=False, trailing_p=0.0, revise=False))
        return out

    def _pair(self, orig: Item, *, copy_wins: bool, trailing_p: float, revise: bool) -> Item:
        r = self.rng.random
        body = list(orig.body)
        raw = orig.body[REF]
        trimmed = raw.rstrip()
        if r() < trailing_p:
            body[REF] = trimmed + " " if raw == trimmed else trimmed
        body[LASTMOD] = None
        kinds = [k for k in orig.kinds if k not in DROP_ON_COPY]
        if body[REF].endswith(" "):
            kinds.append("mps.crimeref_trailing_space")
        if revise and r() < 0.3 and "mps.outcome_no_value_text" not in orig.kinds:
            body[OUTCOME] = vocab.OUTCOMES[int(r() * len(vocab.OUTCOMES))]
        copy = Item(body, kinds)
        group = DuplicateGroup(trimmed, expected=2)
        common = ["mps.duplicate_crimeref"]
        if body[REF] != raw:
            common.append("mps.duplicate_only_after_trim")
        orig.kinds = orig.kinds + common
        copy.kinds = copy.kinds + common
        loser = orig if copy_wins else copy
        loser.kinds.append("mps.duplicate_superseded")
        (copy if copy_wins else orig).winner = True
        orig.group = group
        copy.group = group
        return copy

    # ------------------------------------------------------------------ rows
    def _block(self, b: Batch, *, prefix: int) -> list[Item]:
        items: list[Item] = []
        for _ in range(b.base_rows):
            it, intra = self._row(b)
            items.append(it)
            if intra:
                if len(items) <= prefix or not self._eligible(it):
                    self.inj.retry(INTRA_DUP, self.i - 1)
                else:
                    items.append(self._pair(it, copy_wins=True, trailing_p=0.3, revise=False))
        return items

    def _pick(self, due: list[str], i: int) -> list[str]:
        """The due kinds in application order, at most one per exclusive group (others retry)."""
        out: list[str] = []
        used: set[int] = set()
        for kind in sorted(due, key=_ORDER.__getitem__):
            g = _GROUP_OF.get(kind)
            if g is not None:
                if g in used:
                    self.inj.retry(kind, i)
                    continue
                used.add(g)
            out.append(kind)
        return out

    def _row(self, b: Batch) -> tuple[Item, bool]:
        ctx = self.ctx
        clock = ctx.clock
        r = self.rng.random
        i = self.i
        self.i += 1
        due: list[str] = self.inj.due(i) if i >= self.inj.next_pos else []
        kinds: list[str] = []

        bt = ctx.borough_table
        bid = bt[int(r() * len(bt))]
        name, code, cx, cy, sd, w14, w02 = self.bdata[bid]
        # reported
        rep_day = b.first_day + int(r() * (b.last_day - b.first_day + 1))
        rep_secs = self.hours[int(r() * 1000)] + int(r() * 3600)
        # committed: before reported
        x = r()
        if x < 0.6:
            delay = int(r() * 360)
        elif x < 0.9:
            delay = 360 + int(r() * 4000)
        else:
            delay = 4320 + int(r() * 80000)
        # crime type
        table = self.types_before if rep_day < RETIRED_FROM else self.types_after
        ctype = table[int(r() * len(table))]
        t = self.type_by_id[ctype]
        major: str | None = t.major
        # place (ward vintage by date, mostly; points around the borough centroid)
        wards = w14 if (rep_day >= WARD_2014_FROM) != (r() < 0.06) else w02
        ward = wards[int(r() * len(wards))]
        normal = self.normal
        e = int(cx + normal[int(r() * 8192)] * sd)
        n = int(cy + normal[int(r() * 8192)] * sd)
        e = E_LO if e < E_LO else (E_HI if e > E_HI else e)
        n = N_LO if n < N_LO else (N_HI if n > N_HI else n)
        easting: str | None = str(e)
        northing: str | None = str(n)
        borough: str | None = name
        location: str | None = self.streets[int(r() * len(self.streets))]
        violent = t.violent
        domestic: str | None = "Y" if r() < (0.25 if violent else 0.04) else "N"
        knife: int | None = 1 if violent and r() < 0.08 else 0
        outcome: str | None = None
        if r() < 0.85:
            outcome = _OUTCOMES[int(r() * _N_OUTCOMES)]
        ref: str | None = f"{self.yy[rep_day - self.base]}{code}{i:07d}"
        force = _FORCES[1] if bid == 1 else _FORCES[0]
        lm_day = -1
        lm_secs = 0
        if r() < 0.12:
            d = b.loaded_day + 1 + int(r() * 180)
            if LASTMOD_FROM <= d <= DATA_LAST_DAY:
                lm_day = d
                lm_secs = (int(r() * 86400) if r() < 0.15 else 7 * 3600 + int(r() * 12 * 3600))
        cdate_text: str | None = None
        ctime_text: str | None = None
        intra = False

        if due:
            inj = self.inj
            for chosen in self._pick(due, i):
                if chosen == "mps.reported_dst_repeated" or chosen == "mps.reported_dst_gap":
                    days = (clock.autumn_between if chosen == "mps.reported_dst_repeated"
                            else clock.spring_between)(b.first_day, b.last_day)
                    if not days:
                        inj.retry(chosen, i)
                        continue
                    rep_day = days[int(r() * len(days))]
                    rep_secs = 3600 + int(r() * 3600)
                    delay = int(r() * 50)
                elif chosen == "mps.committed_date_placeholder":
                    cdate_text = self.rot["placeholder"].next()
                    kinds.append(chosen)
                elif chosen == "mps.committed_date_impossible":
                    year = int(clock.d_iso(rep_day)[:4])
                    dm = _IMPOSSIBLE[int(r() * len(_IMPOSSIBLE))]
                    if dm == "29/02":
                        year = _NON_LEAP[int(r() * len(_NON_LEAP))]
                    cdate_text = f"{dm}/{year}"
                    kinds.append(chosen)
                elif chosen == "mps.committed_time_unknown":
                    ctime_text = "99:99"
                    kinds.append(chosen)
                elif chosen == "mps.dst_gap_committed":
                    sd = clock.spring_on_or_before(rep_day - 1)
                    delay = (rep_day - sd) * 1440 + rep_secs // 60 - (60 + int(r() * 60))
                elif chosen == "mps.grid_missing":
                    easting = northing = self.rot["grid"].next()
                    kinds.append(chosen)
                elif chosen == "mps.grid_zero":
                    easting, northing = "0", "0"
                    kinds.append(chosen)
                elif chosen == "mps.grid_99999":
                    easting, northing = "99999", "99999"
                    kinds.append(chosen)
                elif chosen == "mps.grid_swapped":
                    easting, northing = str(n), str(e)
                    kinds.append(chosen)
                elif chosen == "mps.grid_non_numeric":
                    bad = vocab.NON_NUMERIC_GRID[int(r() * len(vocab.NON_NUMERIC_GRID))]
                    if r() < 0.5:
                        easting = bad
                    else:
                        northing = bad
                    kinds.append(chosen)
                elif chosen == "mps.grid_outside_london":
                    fe, fn = vocab.FAR_POINTS[int(r() * len(vocab.FAR_POINTS))]
                    easting, northing = str(fe + int(r() * 2000)), str(fn + int(r() * 2000))
                    kinds.append(chosen)
                elif chosen == "mps.borough_variant":
                    borough = ctx.speller.variant(self.rng, bid)
                    kinds.append(chosen)
                elif chosen == "mps.borough_pseudo":
                    if r() < 0.6:
                        borough = vocab.PSEUDO_HEATHROW[int(r() * len(vocab.PSEUDO_HEATHROW))]
                        ward = ctx.heathrow_ward_2014 if rep_day >= WARD_2014_FROM else ctx.heathrow_ward_2002
                        he, hn = vocab.HEATHROW_POINT
                        e, n = he + int(r() * 1500) - 750, hn + int(r() * 1000) - 500
                        easting, northing = str(e), str(n)
                    else:
                        borough = vocab.PSEUDO_UNKNOWN[int(r() * len(vocab.PSEUDO_UNKNOWN))]
                    kinds.append(chosen)
                elif chosen == "mps.borough_blank":
                    borough = self.rot["blank_borough"].next()
                    kinds.append(chosen)
                elif chosen == "mps.borough_misspelt":
                    pool = self.misspelt.get(bid)
                    if not pool:  # no known misspelling of this row's borough: the next row
                        inj.retry(chosen, i)
                        continue
                    borough = pool[int(r() * len(pool))]
                    kinds.append(chosen)
                elif chosen == "mps.borough_not_london":
                    pool = vocab.NON_LONDON
                    borough = pool[int(r() * len(pool))]
                    kinds.append(chosen)
                    self.not_london += 1  # every other one also loses its ward: blank, then unknown code
                    if self.not_london % 2 == 1:
                        kinds.append("mps.borough_not_london_no_ward")
                        if self.not_london % 4 == 1:
                            ward = self.rot["ward"].next()
                            kinds.append("mps.ward_no_value_text")
                        else:
                            ward = ctx.unknown_ward_codes[int(r() * len(ctx.unknown_ward_codes))]
                            kinds.append("mps.ward_unknown")
                elif chosen == "mps.ward_unknown":
                    if "mps.borough_not_london" in due:  # that kind decides the ward itself
                        inj.retry(chosen, i)
                        continue
                    ward = ctx.unknown_ward_codes[int(r() * len(ctx.unknown_ward_codes))]
                    kinds.append(chosen)
                elif chosen == "mps.ward_no_value_text":
                    if "mps.borough_not_london" in due:
                        inj.retry(chosen, i)
                        continue
                    ward = self.rot["ward"].next()
                    kinds.append(chosen)
                elif chosen == "mps.orphan_crimetype":
                    ctype = self.orphan_ids[int(r() * len(self.orphan_ids))]
                    major = self.majors[int(r() * len(self.majors))] if r() < 0.7 else None
                    kinds.append(chosen)
                elif chosen == "mps.majorcat_mismatch":
                    others = [m for m in self.majors if m != t.major]
                    major = others[int(r() * len(others))]
                    kinds.append(chosen)
                elif chosen == "mps.location_no_value_text":
                    location = self.rot["loc"].next()
                    kinds.append(chosen)
                elif chosen == "mps.location_cp1252":
                    location = self.streets_cp[int(r() * len(self.streets_cp))]
                    kinds.append(chosen)
                elif chosen == "mps.domestic_flag_alt":
                    domestic = ("1" if r() < 0.6 else "T") if domestic == "Y" else ("0" if r() < 0.6 else "F")
                    kinds.append(chosen)
                elif chosen == "mps.domestic_flag_unknown":
                    domestic = self.rot["dom"].next()
                    kinds.append(chosen)
                elif chosen == "mps.crimeref_trailing_space":
                    ref = f"{ref}{' ' if r() < 0.7 else '   '}"
                    kinds.append(chosen)
                elif chosen == "mps.blank_crimeref":
                    ref = self.rot["ref"].next()
                    kinds.append(chosen)
                elif chosen == "mps.knife_flag_null":
                    knife = None
                    kinds.append(chosen)
                elif chosen == "mps.outcome_no_value_text":
                    outcome = self.rot["outcome"].next()
                    kinds.append(chosen)
                elif chosen == "mps.lastmodified_dst_repeated":
                    autumns = clock.autumn_between(max(b.loaded_day + 1, LASTMOD_FROM), DATA_LAST_DAY)
                    if not autumns:
                        inj.retry(chosen, i)
                        continue
                    lm_day = autumns[0]
                    lm_secs = 3600 + int(r() * 3600)
                elif chosen == INTRA_DUP:
                    intra = True

        # committed from reported
        base = self.base
        clock_spring, clock_autumn = self.spring, self.autumn
        total_min = rep_day * 1440 + rep_secs // 60 - delay
        c_day, c_min = divmod(total_min, 1440)
        hhmm = self.hhmm
        if cdate_text is None:
            cdate_text = self.dmy[c_day - base]
            if ctime_text is None and c_day in clock_spring and 60 <= c_min < 120:
                kinds.append("mps.dst_gap_committed")
        if ctime_text is None:
            ctime_text = hhmm[c_min]
        if 3600 <= rep_secs < 7200:
            if rep_day in clock_autumn:
                kinds.append("mps.reported_dst_repeated")
            elif rep_day in clock_spring:
                kinds.append("mps.reported_dst_gap")
        lastmod = None
        if lm_day >= 0:
            lastmod = self.iso[lm_day - base] + self.hms[lm_secs]
            kinds.append("mps.revised")
            if lm_day in clock_autumn and 3600 <= lm_secs < 7200:
                kinds.append("mps.lastmodified_dst_repeated")
        if ctype in self.retired_ids:
            kinds.append("mps.retired_crimetype")
        reported = self.iso[rep_day - base] + self.hms[rep_secs]
        body = [ref, force, cdate_text, ctime_text, reported, ctype, major, borough, ward,
                easting, northing, location, domestic, knife, outcome, lastmod]
        return Item(body, kinds), intra

    def pending_kinds(self) -> list[str]:
        """Kinds that were scheduled but never found a row they could be applied to."""
        return self.inj.pending()


def _type_table(types: list[CrimeType], *, include_retired: bool) -> tuple[int, ...]:
    chosen = [t for t in types if include_retired or not t.retired]
    return weighted_table([t.id for t in chosen], [t.weight for t in chosen], 4000)

