"""Dates and times: strict day-first text dates, London local time → timestamptz.

Declared rule for daylight-saving time (Europe/London): a local time inside the missing
spring hour moves forward one hour (01:30 → 02:30 BST) and is flagged ``dst_gap_shifted``;
a local time inside the repeated autumn hour takes the earlier, BST instant and is flagged
``dst_overlap_earlier``.  Python's ``zoneinfo`` with ``fold=0`` does exactly this; the
Polars form asks for the ``earliest`` instant and, where the time does not exist, converts
the wall time one hour later.  Local times are accepted for years 1900–2099 (the legacy
data's range; outside it London's historic offsets are not a rule anyone declared): other
years give no instant and the flag ``datetime_out_of_range``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from migration.mapping.transforms.base import NoParams, PlPlan, Transform, register
from migration.mapping.transforms.text import clean, pl_clean

LONDON = ZoneInfo("Europe/London")
UTC = UTC
PLACEHOLDER_DATES = ("01/01/1900", "00/00/0000")
DATE_PATTERN = "^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
_DATE = re.compile(DATE_PATTERN)
TIME_PATTERN = "^[0-9]{2}:[0-9]{2}(:[0-9]{2})?$"
_TIME = re.compile(TIME_PATTERN)
UNKNOWN_TIMES = ("99:99", "99:99:99")
MIN_YEAR, MAX_YEAR = 1900, 2099
#: ISO-like local datetime text as the extractor writes it (space or T; optional :SS and fraction)
DATETIME_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?$"
_DATETIME = re.compile(DATETIME_PATTERN)


# ----------------------------------------------------------------- python reference
@lru_cache(maxsize=65536)
def parse_dmy(text: str | None) -> tuple[date | None, str]:
    """(date, status) with status one of ok, missing, placeholder, impossible, malformed."""
    s = clean(text)
    if s is None:
        return None, "missing"
    if s in PLACEHOLDER_DATES:
        return None, "placeholder"
    if not _DATE.fullmatch(s):
        return None, "malformed"
    d, mo, y = int(s[0:2]), int(s[3:5]), int(s[6:10])
    if not (MIN_YEAR <= y <= MAX_YEAR) or not (1 <= mo <= 12):
        return None, "impossible"
    try:
        return date(y, mo, d), "ok"
    except ValueError:
        return None, "impossible"


@lru_cache(maxsize=8192)
def parse_hm(text: str | None) -> tuple[time | None, str]:
    """(time, status) with status ok_minute, ok_second, unknown (99:99 / blank) or unparseable."""
    s = clean(text)
    if s is None or s in UNKNOWN_TIMES:
        return None, "unknown"
    if not _TIME.fullmatch(s):
        return None, "unparseable"
    h, mi = int(s[0:2]), int(s[3:5])
    sec = int(s[6:8]) if len(s) == 8 else 0
    if h > 23 or mi > 59 or sec > 59:
        return None, "unparseable"
    return time(h, mi, sec), ("ok_second" if len(s) == 8 else "ok_minute")


def london_to_utc(local: datetime) -> tuple[datetime, tuple[str, ...]]:
    """Interpret a naive London wall-clock time; returns the UTC instant and the DST flags.

    Europe/London changes its offset only on whole hours, so the offset and the flags are
    those of the wall-clock hour (cached); an hour where that does not hold is computed
    minute by minute (:func:`_london_exact`)."""
    rule = _london_hour(local.year, local.month, local.day, local.hour)
    if rule is None:
        return _london_exact(local)
    offset, flags = rule
    return (local - offset).replace(tzinfo=UTC), flags


@lru_cache(maxsize=65536)
def _london_hour(y: int, m: int, d: int, h: int) -> tuple[timedelta, tuple[str, ...]] | None:
    start = datetime(y, m, d, h)
    first, flags = _london_exact(start)
    last, last_flags = _london_exact(start.replace(minute=59, second=59, microsecond=999999))
    offset = start - first.replace(tzinfo=None)
    if last_flags != flags or start.replace(minute=59, second=59, microsecond=999999) - last.replace(
            tzinfo=None) != offset:
        return None
    return offset, flags


def _london_exact(local: datetime) -> tuple[datetime, tuple[str, ...]]:
    aware = local.replace(tzinfo=LONDON, fold=0)
    instant = aware.astimezone(UTC)
    back = instant.astimezone(LONDON).replace(tzinfo=None)
    if back != local:
        return instant, ("dst_gap_shifted",)
    other = local.replace(tzinfo=LONDON, fold=1).astimezone(UTC)
    if other != instant:
        return instant, ("dst_overlap_earlier",)
    return instant, ()


def parse_local_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    s = clean(value)
    if s is None:
        return None
    if not _DATETIME.fullmatch(s):
        return None
    frac = s[20:].ljust(6, "0") if len(s) > 20 else "0"
    try:
        return datetime(int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]),
                        int(s[17:19]) if len(s) >= 19 else 0, int(frac))
    except ValueError:
        return None


@register
class LondonDateTimeText(Transform):
    name = "london_datetime_text"
    summary = ("Day-first text date (dd/mm/yyyy) + text time (HH:MM[:SS]) in London local time → "
               "timestamptz and precision. Placeholder/blank date → NULL, precision none; unknown time "
               "(99:99, blank) → 00:00 local, precision day; impossible date → reject IMPOSSIBLE_DATE, "
               "other text → reject MALFORMED_DATE; DST gap/overlap per the declared rule, flagged.")
    inputs = ("date", "time")
    outputs = {"value": "timestamptz", "precision": "text", "flags": "text[]", "reject": "text"}
    params_model = NoParams

    def py(self, p: NoParams, lookups: Any, d: Any, t: Any) -> tuple[Any, ...]:
        return _dt_text(d if d is None else str(d), t if t is None else str(t))

    def pl(self, p: NoParams, lookups: Any, plan: PlPlan, d: pl.Expr, t: pl.Expr) -> dict[str, pl.Expr]:
        c = plan.stage(ds=pl_clean(d), ts=pl_clean(t))
        ds, ts = c.ds, c.ts
        c = plan.stage(
            shape=ds.str.contains(DATE_PATTERN),
            placeholder=ds.is_in(PLACEHOLDER_DATES).fill_null(False),
            year=ds.str.slice(6, 4).cast(pl.Int32, strict=False),
            tshape=ts.str.contains(TIME_PATTERN),
            tunknown=ts.is_null() | ts.is_in(UNKNOWN_TIMES).fill_null(False),
            h=ts.str.slice(0, 2).cast(pl.Int64, strict=False),
            mi=ts.str.slice(3, 2).cast(pl.Int64, strict=False),
            tlen=ts.str.len_chars(),
        )
        c = plan.stage(
            day=pl.when(c.shape & ~c.placeholder & c.year.is_between(MIN_YEAR, MAX_YEAR)).then(
                ds.str.strptime(pl.Date, "%d/%m/%Y", strict=False)),
            sec=pl.when(c.tlen == 8).then(ts.str.slice(6, 2).cast(pl.Int64, strict=False)).otherwise(0),
            shape=c.shape, placeholder=c.placeholder, tshape=c.tshape, tunknown=c.tunknown, h=c.h, mi=c.mi,
            tlen=c.tlen,
        )
        c = plan.stage(
            status=(pl.when(ds.is_null()).then(pl.lit("missing"))
                    .when(c.placeholder).then(pl.lit("placeholder"))
                    .when(~c.shape).then(pl.lit("malformed"))
                    .when(c.day.is_null()).then(pl.lit("impossible"))
                    .otherwise(pl.lit("ok"))),
            tstatus=(pl.when(c.tunknown).then(pl.lit("unknown"))
                     .when(~c.tshape | (c.h > 23) | (c.mi > 59) | (c.sec > 59)).then(pl.lit("unparseable"))
                     .when(c.tlen == 8).then(pl.lit("ok_second"))
                     .otherwise(pl.lit("ok_minute"))),
            day=c.day, h=c.h, mi=c.mi, sec=c.sec,
        )
        tok = c.tstatus.is_in(["ok_second", "ok_minute"])
        c = plan.stage(
            local=pl.when(c.status == "ok").then(
                c.day.cast(pl.Datetime("us"))
                + pl.when(tok).then(pl.duration(hours=c.h, minutes=c.mi, seconds=c.sec))
                .otherwise(pl.duration(seconds=0))),
            status=c.status, tstatus=c.tstatus)
        status, tstatus = c.status, c.tstatus
        instant, gap, overlap = pl_london(plan, c.local)
        flags = pl.concat_list([
            pl.when(status == "placeholder").then(pl.lit("date_placeholder")),
            pl.when(status == "missing").then(pl.lit("date_missing")),
            pl.when((status == "ok") & (tstatus == "unknown")).then(pl.lit("time_unknown")),
            pl.when((status == "ok") & (tstatus == "unparseable")).then(pl.lit("time_unparseable")),
            pl.when(gap).then(pl.lit("dst_gap_shifted")),
            pl.when(overlap).then(pl.lit("dst_overlap_earlier")),
        ]).list.drop_nulls()
        return {
            "value": instant,
            "precision": (pl.when(status != "ok").then(pl.lit("none"))
                          .when(tstatus == "ok_second").then(pl.lit("second"))
                          .when(tstatus == "ok_minute").then(pl.lit("minute"))
                          .otherwise(pl.lit("day"))),
            "flags": flags,
            "reject": (pl.when(status == "impossible").then(pl.lit("IMPOSSIBLE_DATE"))
                       .when(status == "malformed").then(pl.lit("MALFORMED_DATE"))),
        }


@lru_cache(maxsize=65536)
def _dt_text(d: str | None, t: str | None) -> tuple[Any, ...]:
    day, status = parse_dmy(d)
    if status == "impossible":
        return (None, "none", (), "IMPOSSIBLE_DATE")
    if status == "malformed":
        return (None, "none", (), "MALFORMED_DATE")
    if day is None:
        return (None, "none", ("date_placeholder",) if status == "placeholder" else ("date_missing",), None)
    tm, tstatus = parse_hm(t)
    flags: tuple[str, ...] = ()
    if tstatus == "unknown":
        flags = ("time_unknown",)
    elif tstatus == "unparseable":
        flags = ("time_unparseable",)
    precision = {"ok_second": "second", "ok_minute": "minute"}.get(tstatus, "day")
    instant, dst = london_to_utc(datetime.combine(day, tm or time(0, 0)))
    return (instant, precision, flags + dst, None)


@register
class LondonDateTime(Transform):
    name = "london_datetime"
    summary = ("A legacy datetime (London wall-clock, no zone) → timestamptz by the declared DST rule "
               "(flags dst_gap_shifted / dst_overlap_earlier); unreadable text → reject MALFORMED_DATETIME.")
    outputs = {"value": "timestamptz", "flags": "text[]", "reject": "text"}

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        s = clean(value) if not isinstance(value, datetime) else value
        if s is None:
            return (None, (), None)
        local = parse_local_datetime(s)
        if local is None:
            return (None, (), "MALFORMED_DATETIME")
        if not (MIN_YEAR <= local.year <= MAX_YEAR):
            return (None, ("datetime_out_of_range",), None)
        instant, flags = london_to_utc(local)
        return (instant, flags, None)

    def pl(self, p: NoParams, lookups: Any, plan: PlPlan, value: pl.Expr) -> dict[str, pl.Expr]:
        s = plan.stage(s=pl_clean(value)).s
        c = plan.stage(shape=s.str.contains(DATETIME_PATTERN), n=s.str.len_chars())
        c = plan.stage(
            base=pl.when(c.shape).then(
                s.str.replace("T", " ", literal=True).str.slice(0, 16)
                .str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M", strict=False)),
            sec=pl.when(c.n >= 19).then(s.str.slice(17, 2).cast(pl.Int64, strict=False)).otherwise(0),
            micro=pl.when(c.n >= 21).then(s.str.slice(20).str.pad_end(6, "0").cast(pl.Int64, strict=False))
            .otherwise(0),
        )
        c = plan.stage(local=pl.when(c.base.is_not_null() & (c.base.dt.year() >= 1) & (c.sec <= 59)).then(
            c.base + pl.duration(seconds=c.sec, microseconds=c.micro)))
        c = plan.stage(local=c.local, in_range=c.local.dt.year().is_between(MIN_YEAR, MAX_YEAR).fill_null(False))
        instant, gap, overlap = pl_london(plan, pl.when(c.in_range).then(c.local))
        return {
            "value": instant,
            "flags": pl.concat_list([
                pl.when(gap).then(pl.lit("dst_gap_shifted")),
                pl.when(overlap).then(pl.lit("dst_overlap_earlier")),
                pl.when(c.local.is_not_null() & ~c.in_range).then(pl.lit("datetime_out_of_range")),
            ]).list.drop_nulls(),
            "reject": pl.when(s.is_not_null() & c.local.is_null()).then(pl.lit("MALFORMED_DATETIME")),
        }


@register
class DmyDate(Transform):
    name = "dmy_date"
    summary = ("Day-first text date → date. Placeholder/blank → NULL (flag date_placeholder / date_missing); "
               "impossible → reject IMPOSSIBLE_DATE; other text → reject MALFORMED_DATE.")
    outputs = {"value": "date", "flags": "text[]", "reject": "text"}

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        day, status = parse_dmy(None if value is None else str(value))
        return (day, _date_flags(status), _date_reject(status))



@register
class MonthStart(Transform):
    name = "month_start"
    summary = ("Day-first text date → the first day of its month (reporting months). Blank/placeholder → NULL; "
               "impossible or malformed → reject BAD_PERIOD.")
    outputs = {"value": "date", "reject": "text"}

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        day, status = parse_dmy(None if value is None else str(value))
        if day is None:
            return (None, "BAD_PERIOD" if status in ("impossible", "malformed") else None)
        return (day.replace(day=1), None)



def _date_flags(status: str) -> tuple[str, ...]:
    return {"placeholder": ("date_placeholder",), "missing": ("date_missing",)}.get(status, ())


def _date_reject(status: str) -> str | None:
    return {"impossible": "IMPOSSIBLE_DATE", "malformed": "MALFORMED_DATE"}.get(status)




def pl_london(plan: PlPlan, local: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(instant in UTC, in_gap, in_overlap) for a naive London wall-clock expression."""
    c = plan.stage(lt=local)
    c = plan.stage(
        first=c.lt.dt.replace_time_zone("Europe/London", ambiguous="earliest", non_existent="null"),
        latest=c.lt.dt.replace_time_zone("Europe/London", ambiguous="latest", non_existent="null"),
        shifted=(c.lt + pl.duration(hours=1)).dt.replace_time_zone(
            "Europe/London", ambiguous="earliest", non_existent="null"),
    )
    c2 = plan.stage(
        gap=(c.first.is_null() & c.shifted.is_not_null()).fill_null(False),
        overlap=(c.first.is_not_null() & (c.first != c.latest)).fill_null(False),
        instant=pl.coalesce(c.first, c.shifted).dt.convert_time_zone("UTC"),
    )
    return c2.instant, c2.gap, c2.overlap
