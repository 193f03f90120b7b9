"""Dates and London wall-clock times as the legacy system stored them.

Days are proleptic ordinals (``date.toordinal()``) and times are seconds after midnight,
so generators do integer arithmetic and format once.  Formatting goes through lookup
tables built once per span, because the fact tables format millions of values.

The daylight-saving dates are computed from the UK rule (since 1996 the clocks go forward
at 01:00 on the last Sunday of March and back at 02:00 BST on the last Sunday of
October), not from a time-zone database: the tests compute them independently with
``zoneinfo``.  On a spring date, local times 01:00–01:59 do not exist; on an autumn date,
local times 01:00–01:59 happen twice.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

SPAN_FIRST = date(2006, 1, 1)
SPAN_LAST = date(2040, 12, 31)  # generated data ends in 2016; `legacy advance` moves on from there


def last_sunday(year: int, month: int) -> date:
    last = calendar.monthrange(year, month)[1]
    d = date(year, month, last)
    return d - timedelta(days=(d.weekday() - 6) % 7)


def spring_forward(year: int) -> date:
    """The day whose local 01:00–01:59 does not exist in London."""
    return last_sunday(year, 3)


def autumn_back(year: int) -> date:
    """The day whose local 01:00–01:59 happens twice in London."""
    return last_sunday(year, 10)


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def month_end(d: date) -> date:
    return add_months(month_start(d), 1) - timedelta(days=1)


def months_between(first: date, last: date) -> list[date]:
    """First days of every month from ``first``'s month to ``last``'s month inclusive."""
    out, cur = [], month_start(first)
    while cur <= last:
        out.append(cur)
        cur = add_months(cur, 1)
    return out


@dataclass(frozen=True)
class Clock:
    """Formatting tables and DST days for the whole generated span."""

    base: int = SPAN_FIRST.toordinal()
    dmy: tuple[str, ...] = field(default=(), repr=False)
    iso: tuple[str, ...] = field(default=(), repr=False)
    hhmm: tuple[str, ...] = field(default=(), repr=False)
    hms: tuple[str, ...] = field(default=(), repr=False)  # " HH:MM:SS" for every second of a day
    spring: frozenset[int] = frozenset()
    autumn: frozenset[int] = frozenset()

    @classmethod
    def build(cls) -> Clock:
        base = SPAN_FIRST.toordinal()
        n = SPAN_LAST.toordinal() - base + 1
        days = [date.fromordinal(base + i) for i in range(n)]
        dmy = tuple(f"{d.day:02d}/{d.month:02d}/{d.year:04d}" for d in days)
        iso = tuple(d.isoformat() for d in days)
        hhmm = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(1440))
        hms = tuple(f" {h}:{s:02d}" for h in hhmm for s in range(60))
        years = range(SPAN_FIRST.year, SPAN_LAST.year + 1)
        spring = frozenset(spring_forward(y).toordinal() for y in years)
        autumn = frozenset(autumn_back(y).toordinal() for y in years)
        return cls(base, dmy, iso, hhmm, hms, spring, autumn)

    # formatting ---------------------------------------------------------------
    def d_dmy(self, day: int) -> str:
        return self.dmy[day - self.base]

    def d_iso(self, day: int) -> str:
        return self.iso[day - self.base]

    def t_hhmm(self, secs: int) -> str:
        return self.hhmm[secs // 60]

    def dt(self, day: int, secs: int) -> str:
        """``YYYY-MM-DD HH:MM:SS``, the text form every engine accepts for DATETIME."""
        return self.iso[day - self.base] + self.hms[secs]

    # DST ---------------------------------------------------------------------
    def in_gap(self, day: int, secs: int) -> bool:
        """Local time that does not exist (spring forward, 01:00–01:59)."""
        return day in self.spring and 3600 <= secs < 7200

    def in_repeat(self, day: int, secs: int) -> bool:
        """Local time that happens twice (autumn back, 01:00–01:59)."""
        return day in self.autumn and 3600 <= secs < 7200

    def spring_on_or_before(self, day: int) -> int:
        return max(d for d in self.spring if d <= day)

    def autumn_between(self, first: int, last: int) -> list[int]:
        return sorted(d for d in self.autumn if first <= d <= last)

    def spring_between(self, first: int, last: int) -> list[int]:
        return sorted(d for d in self.spring if first <= d <= last)


def ordinal(d: date) -> int:
    return d.toordinal()


def from_ordinal(day: int) -> date:
    return date.fromordinal(day)
