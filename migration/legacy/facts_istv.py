"""``tblISTVAssault``: ED assault attendances under ISB 1594, one submission per batch.

A batch is one hospital's submission for a period (one month at full scale, several
months at small scales).  Some submissions are re-sent later as a whole (new ISTVIDs,
the earlier batch becomes RELOADED and keeps its rows), some hospital-months are missing
altogether, and closed EDs stop sending.  ``LocDesc`` sometimes holds synthetic patient
identifiers: names, NHS numbers with an invalid check digit, dates of birth, Ofcom
drama-range phone numbers (020 7946 0xxx, 07700 900xxx), postcodes, home addresses.
"""

from __future__ import annotations

import random
from typing import Any

from migration.legacy import vocab
from migration.legacy.common import has_cp1252
from migration.legacy.context import Context
from migration.legacy.geo import full_postcode, weighted_table
from migration.legacy.inject import Injector, Rotation, exclusive, rate_targets
from migration.legacy.manifest import Manifest
from migration.legacy.plan import Batch, Plan
from migration.legacy.timeutil import from_ordinal, month_end
from migration.legacy.writer import TableWriter

TABLE = "tblISTVAssault"
RATES: dict[str, tuple[float, int]] = {
    "istv.pid_name": (0.01, 3), "istv.pid_nhs_number": (0.005, 3), "istv.pid_dob": (0.005, 3),
    "istv.pid_phone": (0.004, 3), "istv.pid_postcode": (0.006, 3), "istv.pid_address": (0.008, 3),
    "istv.method_unpadded": (0.03, 3), "istv.method_unknown": (0.12, 3), "istv.method_invalid": (0.004, 3),
    "istv.methodother_no_value_text": (0.01, 7),
    "istv.loctype_unpadded": (0.03, 3), "istv.loctype_unknown": (0.08, 3), "istv.loctype_invalid": (0.004, 3),
    "istv.assault_after_arrival": (0.005, 3), "istv.assault_time_unknown": (0.06, 3),
    "istv.stale_sitecode": (0.02, 3), "istv.geolevel_none": (0.1, 3),
    "istv.arrival_dst_gap": (0.00002, 1), "istv.arrival_dst_repeated": (0.00002, 2),
}
PID = ("istv.pid_name", "istv.pid_nhs_number", "istv.pid_dob", "istv.pid_phone", "istv.pid_postcode",
       "istv.pid_address")
GROUPS = (
    ("istv.method_unpadded", "istv.method_unknown", "istv.method_invalid"),
    ("istv.loctype_unpadded", "istv.loctype_unknown", "istv.loctype_invalid"),
    ("istv.assault_after_arrival", "istv.assault_time_unknown"),
    ("istv.arrival_dst_gap", "istv.arrival_dst_repeated"),
)
METHOD_WEIGHTS = {"01": 50.0, "02": 11.0, "03": 9.0, "04": 12.0, "05": 0.6, "06": 5.0}
LOC_WEIGHTS = {"01": 40.0, "02": 18.0, "03": 20.0, "04": 5.0, "05": 3.0, "06": 6.0, "07": 8.0}
GEO_LEVELS = ((1, 10.0, 80, 100), (2, 30.0, 60, 90), (3, 15.0, 50, 80), (4, 10.0, 40, 70),
              (5, 15.0, 30, 60), (6, 20.0, 10, 40))


def nhs_number_invalid(digits9: str) -> str:
    """A 10-digit NHS number whose check digit is wrong (so it can never be a real one)."""
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits9))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    bad = (check + 1) % 10 if check != 10 else 3
    s = digits9 + str(bad)
    return f"{s[:3]} {s[3:6]} {s[6:]}"


class IstvGenerator:
    def __init__(self, ctx: Context, plan: Plan, manifest: Manifest, writer: TableWriter, *,
                 first_index: int = 0, first_istvid: int = 0, advance_rng: random.Random | None = None) -> None:
        self.ctx = ctx
        self.clock = ctx.clock
        self.plan = plan
        self.writer = writer
        self.tally = manifest.tally(TABLE)
        self.rng = ctx.rng("istv")
        self.batches = plan.of("ISTV")
        n = sum(b.base_rows for b in self.batches if b.role == "normal")
        self.inj = Injector(f"{ctx.seed}:istv:inject:{first_index}", n, rate_targets(RATES, n, advance_rng),
                            offset=first_index)
        self.i = first_index
        self.istvid = first_istvid
        self.pending: dict[int, list[tuple[list[Any], list[str]]]] = {}
        self.gaps = {(hid, ym) for hid, ym in plan.istv_gaps}
        self.method_table = weighted_table(list(range(len(METHOD_WEIGHTS))), list(METHOD_WEIGHTS.values()), 1000)
        self.loc_table = weighted_table(list(range(len(LOC_WEIGHTS))), list(LOC_WEIGHTS.values()), 1000)
        self.geo_table = weighted_table(list(range(len(GEO_LEVELS))), [g[1] for g in GEO_LEVELS], 1000)
        self.other_blank = Rotation(vocab.NO_VALUE_TEXTS, start=self.rng.randrange(7))

    def run(self) -> None:
        for b in self.batches:
            if b.role == "normal":
                rows = self._submission(b)
                superseded = bool(b.links)
                for body, kinds in rows:
                    if superseded:
                        kinds = kinds + ["istv.superseded_submission"]
                    self._emit(body, kinds, b)
                for link in b.links:
                    self.pending[id(link)] = [(body, kinds + ["istv.resubmission"]) for body, kinds in rows]
            elif b.role == "resubmission":
                for body, kinds in self.pending.pop(id(b)):
                    self._emit(body, kinds, b)
            # failed attempts were rolled back: no rows
        self.writer.flush()
        if self.pending:
            raise AssertionError("ISTV re-submissions left unwritten")

    def pending_kinds(self) -> list[str]:
        return self.inj.pending()

    def _emit(self, body: list[Any], kinds: list[str], b: Batch) -> None:
        self.istvid += 1
        self.writer.add((self.istvid, *body, b.batch_id))
        b.rows_in_table += 1
        self.tally.add(kinds, self.istvid)

    def _submission(self, b: Batch) -> list[tuple[list[Any], list[str]]]:
        assert b.hospital is not None
        out = []
        months = [(m, rows) for m, rows in self.plan.hospital_months[b.hospital] if b.first_day <= m <= b.last_day]
        for month_first, rows in months:
            for _ in range(rows):
                out.append(self._row(b, month_first))
        return out

    def _row(self, b: Batch, month_first: int) -> tuple[list[Any], list[str]]:
        ctx, clock = self.ctx, self.clock
        r = self.rng.random
        i = self.i
        self.i += 1
        due = self.inj.due(i) if i >= self.inj.next_pos else []
        kinds: list[str] = []
        h = ctx.hospitals[b.hospital - 1]  # type: ignore[operator]
        last = month_end(from_ordinal(month_first)).toordinal()
        day = month_first + int(r() * (last - month_first + 1))
        secs = ctx.night_hour_table[int(r() * 1000)] * 3600 + int(r() * 3600)
        x = r()
        delay = int(r() * 180) if x < 0.7 else (180 + int(r() * 1260) if x < 0.95 else 1440 + int(r() * 8640))
        site = h.site_code
        m_code = list(METHOD_WEIGHTS)[self.method_table[int(r() * 1000)]]
        l_code = list(LOC_WEIGHTS)[self.loc_table[int(r() * 1000)]]
        method: str = m_code
        loctype: str = l_code
        other: str | None = vocab.METHOD_OTHER[int(r() * len(vocab.METHOD_OTHER))] if m_code == "06" else None
        phrases = vocab.LOCDESC[l_code]
        desc: str | None = phrases[int(r() * len(phrases))]
        gl_i = self.geo_table[int(r() * 1000)]
        level, _, c_lo, c_hi = GEO_LEVELS[gl_i]
        confidence = c_lo + int(r() * (c_hi - c_lo + 1))
        bid = h.borough_id if r() < 0.7 else ctx.borough_table[int(r() * len(ctx.borough_table))]
        e, n = ctx.points.point(self.rng, bid)
        east: int | None = e
        north: int | None = n
        borough_id: int | None = bid
        assault_time_text: str | None = None
        after = False
        if due:
            inj = self.inj
            for grp in GROUPS:
                chosen = exclusive(due, grp, inj, i)
                if chosen is None:
                    continue
                if chosen.endswith("_unpadded"):
                    code = m_code if chosen.startswith("istv.method") else l_code
                    text = code[1] if r() < 0.5 else code[1] + " "
                    if chosen.startswith("istv.method"):
                        method = text
                    else:
                        loctype = text
                elif chosen.endswith("_unknown") and "time" not in chosen:
                    if chosen.startswith("istv.method"):
                        method, other = "99", None
                    else:
                        loctype = "99"
                        desc = vocab.LOCDESC["99"][int(r() * 4)]
                elif chosen.endswith("_invalid"):
                    code = vocab.ISTV_INVALID_CODES[int(r() * len(vocab.ISTV_INVALID_CODES))]
                    if chosen.startswith("istv.method"):
                        method = code
                    else:
                        loctype = code
                    if len(code.strip()) == 1:
                        kinds.append(chosen.replace("_invalid", "_unpadded"))
                elif chosen == "istv.assault_after_arrival":
                    after = True
                elif chosen == "istv.assault_time_unknown":
                    assault_time_text = "99:99"
                else:
                    days = (clock.autumn_between if chosen.endswith("repeated") else clock.spring_between)(
                        b.first_day, b.last_day)
                    days = [d for d in days if (h.id, clock.d_iso(d)[:7]) not in self.gaps]
                    if not days:
                        inj.retry(chosen, i)
                        continue
                    day, secs = days[int(r() * len(days))], 3600 + int(r() * 3600)
                    continue
                kinds.append(chosen)
            if "istv.stale_sitecode" in due:
                site = h.former_code or h.site_code[:3]
                kinds.append("istv.stale_sitecode")
            if "istv.geolevel_none" in due:
                level, confidence, east, north, borough_id = 9, 0, None, None, None
                kinds.append("istv.geolevel_none")
            if "istv.methodother_no_value_text" in due:
                other = self.other_blank.next()
                kinds.append("istv.methodother_no_value_text")
            pids = [k for k in PID if k in due]
            if pids:
                desc = self._pid_text(pids, desc or "", bid)
                if "istv.pid_address" in pids and not any(k.startswith("istv.loctype") for k in kinds):
                    loctype = "03"
                kinds += pids
        # times: assault before arrival (or after, for the injected defect)
        arr_min = day * 1440 + secs // 60
        a_total = arr_min + 30 + int(r() * 570) if after else arr_min - delay
        a_day, a_min = divmod(a_total, 1440)
        if assault_time_text is None:
            assault_time_text = clock.hhmm[a_min]
        if clock.in_gap(day, secs):
            kinds.append("istv.arrival_dst_gap")
        elif clock.in_repeat(day, secs):
            kinds.append("istv.arrival_dst_repeated")
        if has_cp1252(desc):
            kinds.append("istv.locdesc_cp1252")
        body = [h.id, site, clock.dt(day, secs), clock.d_dmy(a_day), assault_time_text, method, other, loctype,
                desc, level, confidence, east, north, borough_id, clock.d_dmy(b.first_day), clock.d_dmy(b.last_day)]
        return body, kinds

    def _pid_text(self, pids: list[str], desc: str, bid: int) -> str:
        r = self.rng.random
        rc = self.rng.choice
        parts: list[str] = []
        if "istv.pid_address" in pids:
            pron = rc(("his", "her", "their"))
            parts.append(f"outside {pron} home at {1 + int(r() * 180)} {rc(vocab.HOME_STREETS)}")
        else:
            parts.append(desc)
        if "istv.pid_name" in pids:
            first, last = rc(vocab.FIRST_NAMES), rc(vocab.SURNAMES)
            style = int(r() * 3)
            if style == 0:
                title = rc(vocab.HONORIFICS[1:]) if first in vocab.FEMALE_FIRST_NAMES else "Mr"
                parts.insert(0, f"{title} {first} {last}")
            elif style == 1:
                parts.insert(0, f"patient {first} {last}")
            else:
                parts.insert(0, f"pt name {first} {last}")
        if "istv.pid_nhs_number" in pids:
            digits = "".join(str(int(r() * 10)) for _ in range(9))
            parts.append(f"NHS no {nhs_number_invalid(digits)}")
        if "istv.pid_dob" in pids:
            parts.append(f"DOB {1 + int(r() * 28):02d}/{1 + int(r() * 12):02d}/{1950 + int(r() * 55)}")
        if "istv.pid_phone" in pids:
            if r() < 0.5:
                parts.append(f"tel 020 7946 0{int(r() * 1000):03d}")
            else:
                parts.append(f"mob 07700 900{int(r() * 1000):03d}")
        if "istv.pid_postcode" in pids:
            district = rc(self.ctx.geo.by_id(bid).districts)
            parts.append(f"lives {full_postcode(self.rng, district)}")
        return ", ".join(parts)[:255]
