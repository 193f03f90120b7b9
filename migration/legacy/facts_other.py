"""``tblLFBIncident``, ``tblLASAssault`` and ``tblTransportCrime``.

These three datasets have a primary key, so a failed load left no rows (it was rolled
back) and a re-load replaced the rows: the ``tblImportLog`` rows of such batches point at
no rows at all, and every row belongs to exactly one OK batch.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from migration.legacy import vocab
from migration.legacy.common import PLACEHOLDER_DATES, BoroughText, has_cp1252, impossible_date
from migration.legacy.context import Context
from migration.legacy.geo import full_postcode, weighted_table
from migration.legacy.inject import Injector, Rotation, exclusive, rate_targets
from migration.legacy.manifest import Manifest
from migration.legacy.plan import Batch, Plan
from migration.legacy.writer import TableWriter

Row = tuple[Any, ...]
UPPER_CASE_UNTIL = date(2012, 1, 1).toordinal()


class PeriodicGenerator:
    """Walks one dataset's batches; subclasses make the rows of a batch's period."""

    dataset = ""
    table = ""
    rates: dict[str, tuple[float, int]] = {}

    def __init__(self, ctx: Context, plan: Plan, manifest: Manifest, writer: TableWriter, *,
                 first_index: int = 0, advance_rng: random.Random | None = None) -> None:
        """``first_index`` continues numbering (keys derive from it) after existing rows;
        ``advance_rng`` is for ``legacy advance`` (rates without minimums, nothing stamped
        as updated at insert)."""
        self.ctx = ctx
        self.clock = ctx.clock
        self.writer = writer
        self.tally = manifest.tally(self.table)
        self.rng = ctx.rng(self.dataset.lower())
        self.batches = plan.of(self.dataset)
        n = sum(b.base_rows for b in self.batches if b.role == "normal")
        targets = rate_targets(self.rates, n, advance_rng)
        self.advancing = advance_rng is not None
        self.inj = Injector(f"{ctx.seed}:{self.dataset}:inject:{first_index}", n, targets, offset=first_index)
        self.i = first_index

    def run(self) -> None:
        for b in self.batches:
            if b.role != "normal":
                continue  # failed and replaced loads keep no rows
            for _ in range(b.base_rows):
                i = self.i
                self.i += 1
                due = self.inj.due(i) if i >= self.inj.next_pos else []
                row, key, kinds = self.row(b, i, due)
                self.writer.add(row)
                b.rows_in_table += 1
                self.tally.add(kinds, key)
        self.writer.flush()

    def row(self, b: Batch, i: int, due: list[str]) -> tuple[Row, Any, list[str]]:
        raise NotImplementedError

    def pending_kinds(self) -> list[str]:
        return self.inj.pending()

    def _dst_day(self, kind: str, b: Batch, i: int) -> int | None:
        days = (self.clock.autumn_between if kind.endswith("repeated") else self.clock.spring_between)(
            b.first_day, b.last_day)
        if not days:
            self.inj.retry(kind, i)
            return None
        return days[int(self.rng.random() * len(days))]


# --------------------------------------------------------------------------- LFB
class LfbGenerator(PeriodicGenerator):
    dataset = "LFB"
    table = "tblLFBIncident"
    rates = {
        "lfb.borough_variant": (0.01, 4), "lfb.borough_pseudo": (0.001, 3), "lfb.borough_blank": (0.002, 7),
        "lfb.borough_misspelt": (0.0003, 3),
        "lfb.borough_not_london": (0.0003, 4), "lfb.ward_unknown": (0.002, 3), "lfb.ward_no_value_text": (0.002, 7),
        "lfb.postcode_null": (0.01, 3), "lfb.time_no_seconds": (0.003, 3), "lfb.first_pump_null": (0.04, 3),
        "lfb.cost_sub_penny": (0.01, 4), "lfb.call_dst_gap": (0.00001, 2), "lfb.call_dst_repeated": (0.00001, 2),
    }
    GROUPS = (("lfb.borough_variant", "lfb.borough_pseudo", "lfb.borough_blank", "lfb.borough_misspelt",
               "lfb.borough_not_london"),
              ("lfb.ward_unknown", "lfb.ward_no_value_text"), ("lfb.call_dst_gap", "lfb.call_dst_repeated"))

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.boroughs = BoroughText(self.ctx, self.rng, "lfb", with_ward=True)
        stops = vocab.LFB_STOP_CODES
        self.stop_table = weighted_table(list(range(len(stops))), [w for _, _, w in stops], 1000)
        self.serial = self.i

    def _category(self, group: str) -> int:
        r = self.rng.random()
        # index into vocab.LFB_PROPERTY: Dwelling 0, Non Residential 1, Outdoor 2, Road Vehicle 3,
        # Outdoor Structure 4, Other Residential 5, Boat 6, Rail Vehicle 7, Aircraft 8
        table: tuple[int, ...]
        if group == "Fire":
            table = (0, 0, 0, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6, 7)
        elif group == "False Alarm":
            table = (0, 0, 0, 0, 1, 1, 1, 1, 5, 5, 3)
        else:
            table = (0, 0, 0, 0, 1, 1, 3, 3, 2, 4, 6, 8)
        return table[int(r * len(table))]

    def row(self, b: Batch, i: int, due: list[str]) -> tuple[Row, Any, list[str]]:
        ctx, clock = self.ctx, self.clock
        r = self.rng.random
        kinds: list[str] = []
        bid = ctx.borough_table[int(r() * len(ctx.borough_table))]
        day = b.first_day + int(r() * (b.last_day - b.first_day + 1))
        secs = ctx.hour_table[int(r() * 1000)] * 3600 + int(r() * 3600)
        group, stop, _ = vocab.LFB_STOP_CODES[self.stop_table[int(r() * len(self.stop_table))]]
        cat_i = self._category(group)
        category, dwelling, types = vocab.LFB_PROPERTY[cat_i]
        ptype = types[int(r() * len(types))]
        district = ctx.geo.by_id(bid).districts[int(r() * 3) % len(ctx.geo.by_id(bid).districts)]
        postcode: str | None = district if dwelling else full_postcode(self.rng, district)
        e, n = ctx.points.point(self.rng, bid)
        ward: str | None = ctx.ward(r(), r(), bid, day)
        upper_style = day < UPPER_CASE_UNTIL
        borough: str | None = ctx.speller.upper(bid) if upper_style else ctx.speller.official[bid]
        first_pump: int | None = 150 + int(r() * r() * 900)
        pumps = 1 + int(r() * r() * 4)
        halves = 1 + int(r() * r() * 6)
        rate = vocab.LFB_PUMP_HOUR_COST[min(max(int(clock.d_iso(day)[:4]), 2007), 2016)]
        cost_10000 = pumps * halves * rate * 5000  # pumps × half-hours × rate/2, in 1/10000 £
        time_text: str | None = None
        borough_kind = None
        if due:
            for grp in self.GROUPS:
                chosen = exclusive(due, grp, self.inj, i)
                if chosen is None:
                    continue
                if chosen in self.boroughs.kinds:
                    got = self.boroughs.apply(chosen, bid, ward, kinds)
                    if got is None:
                        self.inj.retry(chosen, i)
                        continue
                    borough, ward = got
                    borough_kind = chosen
                elif chosen.startswith("lfb.ward"):
                    if "lfb.borough_not_london" in due:
                        self.inj.retry(chosen, i)
                        continue
                    ward = self.boroughs.ward_kind(chosen, kinds)
                else:  # DST
                    d = self._dst_day(chosen, b, i)
                    if d is not None:
                        day, secs = d, 3600 + int(r() * 3600)
            for kind in due:
                if kind == "lfb.postcode_null":
                    postcode = None
                    kinds.append(kind)
                elif kind == "lfb.time_no_seconds":
                    time_text = clock.hhmm[secs // 60] + "   "
                    kinds.append(kind)
                elif kind == "lfb.first_pump_null":
                    first_pump = None
                    kinds.append(kind)
                elif kind == "lfb.cost_sub_penny":
                    minutes = 5 + int(r() * 200)
                    cost_10000 = round(pumps * minutes * rate * 10000 / 60)
                    if cost_10000 % 100 == 0:  # a whole penny by chance: shift by a third of one
                        cost_10000 += 33
                    kinds.append(kind)
        if upper_style and borough_kind is None:
            kinds += ["lfb.borough_variant", "lfb.borough_upper_case"]
        elif borough_kind == "lfb.borough_variant" and borough == borough.upper():  # type: ignore[union-attr]
            kinds.append("lfb.borough_upper_case")
        if dwelling and postcode is not None:
            kinds.append("lfb.postcode_district_only")
        if dwelling:
            kinds.append("lfb.exact_coords_null")
        if day in clock.spring and 3600 <= secs < 7200:
            kinds.append("lfb.call_dst_gap")
        elif day in clock.autumn and 3600 <= secs < 7200:
            kinds.append("lfb.call_dst_repeated")
        if has_cp1252(ptype):
            kinds.append("lfb.propertytype_cp1252")
        self.serial += 1
        date_text = clock.d_dmy(day)
        number = f"{self.serial % 1_000_000:06d}-{date_text.replace('/', '')}"
        if time_text is None:
            time_text = clock.hms[secs][1:]
        e_round, n_round = (e // 100) * 100 + 50, (n // 100) * 100 + 50
        cost = f"{cost_10000 // 10000}.{cost_10000 % 10000:04d}"
        row = (number, date_text, time_text, group, stop, category, ptype, postcode, borough, ward,
               None if dwelling else e, None if dwelling else n, e_round, n_round, first_pump, cost, b.batch_id)
        return row, number, kinds


# --------------------------------------------------------------------------- LAS
class LasGenerator(PeriodicGenerator):
    dataset = "LAS"
    table = "tblLASAssault"
    rates = {
        "las.borough_variant": (0.05, 4), "las.borough_pseudo": (0.003, 3), "las.borough_blank": (0.01, 7),
        "las.borough_misspelt": (0.0005, 3),
        "las.borough_not_london": (0.0005, 4), "las.ward_unknown": (0.003, 3), "las.ward_no_value_text": (0.005, 7),
        "las.gridref_no_value": (0.04, 4), "las.gridref_zero": (0.003, 3), "las.gridref_swapped": (0.002, 3),
        "las.gridref_outside_london": (0.001, 3), "las.alcohol_flag_unknown": (0.08, 4),
        "las.calldt_dst_gap": (0.00001, 2), "las.calldt_dst_repeated": (0.00001, 2),
    }
    GROUPS = (("las.borough_variant", "las.borough_pseudo", "las.borough_blank", "las.borough_misspelt",
               "las.borough_not_london"),
              ("las.ward_unknown", "las.ward_no_value_text"),
              ("las.gridref_no_value", "las.gridref_zero", "las.gridref_swapped", "las.gridref_outside_london"),
              ("las.calldt_dst_gap", "las.calldt_dst_repeated"))

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.boroughs = BoroughText(self.ctx, self.rng, "las", with_ward=True)
        cats = vocab.LAS_CATEGORIES
        self.cat_table = weighted_table(list(range(len(cats))), [w for _, _, w in cats], 1000)
        self.grid_blank = Rotation(("N/A", "N/A", "N/A", None, "", "n/a", "-"), start=self.rng.randrange(7))
        self.alcohol_unknown = Rotation(("U", "", " ", None, "U"), start=self.rng.randrange(5))

    def row(self, b: Batch, i: int, due: list[str]) -> tuple[Row, Any, list[str]]:
        ctx, clock = self.ctx, self.clock
        r = self.rng.random
        kinds: list[str] = []
        bid = ctx.borough_table[int(r() * len(ctx.borough_table))]
        day = b.first_day + int(r() * (b.last_day - b.first_day + 1))
        secs = ctx.night_hour_table[int(r() * 1000)] * 3600 + int(r() * 3600)
        ward: str | None = ctx.ward(r(), r(), bid, day)
        borough: str | None = ctx.speller.official[bid]
        e, n = ctx.points.point(self.rng, bid)
        space = r() < 0.2
        grid: str | None = None
        grid_pair: tuple[int, int] | None = (e, n)
        category = vocab.LAS_CATEGORIES[self.cat_table[int(r() * len(self.cat_table))]][1]
        alcohol: str | None = "Y" if r() < 0.35 else "N"
        updated = r() < 0.08
        if due:
            for grp in self.GROUPS:
                chosen = exclusive(due, grp, self.inj, i)
                if chosen is None:
                    continue
                if chosen in self.boroughs.kinds:
                    got = self.boroughs.apply(chosen, bid, ward, kinds)
                    if got is None:
                        self.inj.retry(chosen, i)
                        continue
                    borough, ward = got
                elif chosen.startswith("las.ward"):
                    if "las.borough_not_london" in due:
                        self.inj.retry(chosen, i)
                        continue
                    ward = self.boroughs.ward_kind(chosen, kinds)
                elif chosen == "las.gridref_no_value":
                    grid_pair = None
                    grid = self.grid_blank.next()
                    kinds.append(chosen)
                elif chosen == "las.gridref_zero":
                    grid_pair = (0, 0)
                    kinds.append(chosen)
                elif chosen == "las.gridref_swapped":
                    grid_pair = (n, e)
                    kinds.append(chosen)
                elif chosen == "las.gridref_outside_london":
                    fe, fn = vocab.FAR_POINTS[int(r() * len(vocab.FAR_POINTS))]
                    grid_pair = (fe + int(r() * 2000), fn + int(r() * 2000))
                    kinds.append(chosen)
                else:
                    d = self._dst_day(chosen, b, i)
                    if d is not None:
                        day, secs = d, 3600 + int(r() * 3600)
            if "las.alcohol_flag_unknown" in due:
                alcohol = self.alcohol_unknown.next()
                kinds.append("las.alcohol_flag_unknown")
        if grid_pair is not None:
            grid = f"{grid_pair[0]}{' ' if space else ','}{grid_pair[1]}"
            if space:
                kinds.append("las.gridref_space")
        if day in clock.spring and 3600 <= secs < 7200:
            kinds.append("las.calldt_dst_gap")
        elif day in clock.autumn and 3600 <= secs < 7200:
            kinds.append("las.calldt_dst_repeated")
        updated_on = None
        if updated and not self.advancing:  # an advance's revisions stamp UpdatedOn when they happen
            # changed in place after the load (the source re-sent a correction)
            updated_on = clock.dt(b.loaded_day + 1 + int(r() * 90), 8 * 3600 + int(r() * 36000))
            kinds.append("las.updated")
        ref = f"LAS{clock.d_iso(b.first_day)[2:4]}{i:08d}"
        row = (ref, clock.dt(day, secs), ward, borough, grid, category, alcohol, updated_on, b.batch_id)
        return row, ref, kinds


# --------------------------------------------------------------------------- transport
class TransportGenerator(PeriodicGenerator):
    dataset = "TRANSPORT"
    table = "tblTransportCrime"
    rates = {
        "transport.borough_variant": (0.06, 4), "transport.borough_pseudo": (0.005, 3),
        "transport.borough_blank": (0.02, 7), "transport.borough_misspelt": (0.001, 3),
        "transport.borough_not_london": (0.001, 4),
        "transport.route_no_value_text": (0.05, 7), "transport.station_no_value_text": (0.02, 7),
        "transport.crime_date_placeholder": (0.002, 4), "transport.crime_date_impossible": (0.0005, 3),
        "transport.crime_time_unknown": (0.02, 3), "transport.crime_dst_gap": (0.00001, 2),
        "transport.offence_cp1252": (0.01, 3),
    }
    GROUPS = (("transport.borough_variant", "transport.borough_pseudo", "transport.borough_blank",
               "transport.borough_misspelt", "transport.borough_not_london"),
              ("transport.crime_date_placeholder", "transport.crime_date_impossible",
               "transport.crime_time_unknown", "transport.crime_dst_gap"))

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.boroughs = BoroughText(self.ctx, self.rng, "transport", with_ward=False)
        modes = vocab.TRANSPORT_MODES
        self.mode_table = weighted_table(list(range(len(modes))), [w for _, _, w in modes], 1000)
        self.route_blank = Rotation(vocab.NO_VALUE_TEXTS, start=self.rng.randrange(7))
        self.station_blank = Rotation(vocab.NO_VALUE_TEXTS, start=self.rng.randrange(7))
        self.placeholder = Rotation(PLACEHOLDER_DATES)

    def row(self, b: Batch, i: int, due: list[str]) -> tuple[Row, Any, list[str]]:
        ctx, clock = self.ctx, self.clock
        r = self.rng.random
        kinds: list[str] = []
        bid = ctx.borough_table[int(r() * len(ctx.borough_table))]
        day = b.first_day + int(r() * (b.last_day - b.first_day + 1))
        secs = ctx.hour_table[int(r() * 1000)] * 3600 + int(r() * 3600)
        mode, agency, _ = vocab.TRANSPORT_MODES[self.mode_table[int(r() * len(self.mode_table))]]
        route: str | None = None
        station: str | None = None
        if mode == "Bus":
            if r() < 0.3:
                route = vocab.BUS_ROUTES[int(r() * len(vocab.BUS_ROUTES))]
        else:
            if r() < 0.4:
                lines = vocab.LINES[mode]
                route = lines[int(r() * len(lines))]
            if r() < 0.7:
                station = vocab.STATIONS[int(r() * len(vocab.STATIONS))]
        offence = vocab.OFFENCES[int(r() * len(vocab.OFFENCES))]
        borough: str | None = ctx.speller.official[bid]
        date_text: str | None = None
        time_text: str | None = None
        if due:
            for grp in self.GROUPS:
                chosen = exclusive(due, grp, self.inj, i)
                if chosen is None:
                    continue
                if chosen in self.boroughs.kinds:
                    got = self.boroughs.apply(chosen, bid, None, kinds)
                    if got is None:
                        self.inj.retry(chosen, i)
                        continue
                    borough = got[0]
                elif chosen == "transport.crime_date_placeholder":
                    date_text = self.placeholder.next()
                    kinds.append(chosen)
                elif chosen == "transport.crime_date_impossible":
                    date_text = impossible_date(self.rng, int(clock.d_iso(day)[:4]))
                    kinds.append(chosen)
                elif chosen == "transport.crime_time_unknown":
                    time_text = "99:99"
                    kinds.append(chosen)
                else:
                    days = clock.spring_between(b.first_day, b.last_day)
                    if not days:
                        self.inj.retry(chosen, i)
                        continue
                    day, secs = days[int(r() * len(days))], 3600 + int(r() * 3600)
            for kind in due:
                if kind == "transport.route_no_value_text":
                    route = self.route_blank.next()
                    kinds.append(kind)
                elif kind == "transport.station_no_value_text":
                    station = self.station_blank.next()
                    kinds.append(kind)
                elif kind == "transport.offence_cp1252":
                    offence = vocab.OFFENCES_CP1252[int(r() * len(vocab.OFFENCES_CP1252))]
        if has_cp1252(offence):
            kinds.append("transport.offence_cp1252")
        if date_text is None:
            date_text = clock.d_dmy(day)
            if time_text is None and day in clock.spring and 3600 <= secs < 7200:
                kinds.append("transport.crime_dst_gap")
        if time_text is None:
            time_text = clock.hhmm[secs // 60]
        recid = i + 1
        row = (recid, agency, mode, route, station, date_text, time_text, offence, borough, b.batch_id)
        return row, recid, kinds
