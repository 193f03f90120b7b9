"""Dates and times: day-first text dates and text times, London local time → timestamptz.

The text grammar (TARGET-MODEL: tolerant where the reading is unambiguous, strict where it is
not), applied after trimming and the no-value spellings (``clean``):

- a date is ``d/m/yyyy``: day, then month, of one or two ASCII digits, a four-digit year,
  ``/`` between them — always day first.  ``dd/mm/yyyy`` is the documented form; any other
  padding (``9/3/2010``, ``27/8/2014``, ``09/3/2010``) is read and flagged ``date_unpadded``.
  The placeholders 1/1/1900 and 0/0/0000 in any padding mean "no date" (NULL, flag
  ``date_placeholder``), never a 1900 date.  A date of that shape that does not exist
  (31/04/2014, 29/02/2015, 00/01/2010, 1/13/2010, a year outside 1900–2099) rejects
  ``IMPOSSIBLE_DATE``; any other text (two-digit years, ``yyyy-mm-dd``, dots, dashes, a time
  inside) rejects ``MALFORMED_DATE``.
- a time is ``H:M`` or ``H:M:S``, each field of one or two ASCII digits, H 0–23, M and S 0–59
  (``9:1`` is 09:01).  ``HH:MM`` and ``HH:MM:SS`` are documented; other paddings are read and
  flagged ``time_unpadded``.  ``99:99``, ``99:99:99`` and blank mean "time unknown" (00:00
  local, precision ``day``, flag ``time_unknown``).  A time of that shape out of range
  (24:00, 9:60, 23:59:60) rejects ``IMPOSSIBLE_TIME``; any other time text (``12.30``,
  ``1230``, ``10:00 pm``, fractions of a second) rejects ``MALFORMED_TIME`` — whatever the
  date, since a time the dictionary does not say means "unknown" cannot be read as unknown.
  A date rejection takes precedence over a time rejection.

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

from migration.mapping.transforms.base import NoParams, PlPlan, Transform, pl_flag_list, register
from migration.mapping.transforms.text import clean, pl_clean

LONDON = ZoneInfo("Europe/London")
UTC = UTC
#: (day, month, year) of the placeholder dates, in any zero padding (01/01/1900, 1/1/1900, 0/0/0000 …)
PLACEHOLDER_DMY = ((1, 1, 1900), (0, 0, 0))
#: the date grammar (after trimming): day/month/year, day and month of one or two digits, a
#: four-digit year, always day first.  ``dd/mm/yyyy`` is the documented form; any other padding
#: is read and flagged ``date_unpadded``.
DATE_PATTERN = "^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$"
_DATE = re.compile(DATE_PATTERN)
#: the time grammar (after trimming): hours:minutes[:seconds], each of one or two digits;
#: ``HH:MM`` and ``HH:MM:SS`` are the documented forms, any other padding is read and flagged
#: ``time_unpadded``.  Hours 0–23, minutes and seconds 0–59.
TIME_PATTERN = "^([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2}))?$"
_TIME = re.compile(TIME_PATTERN)
#: the dictionary's spellings of "time unknown" (blank and every no-value spelling too)
UNKNOWN_TIMES = ("99:99", "99:99:99")
MIN_YEAR, MAX_YEAR = 1900, 2099
#: ISO-like local datetime text as the extractor writes it (space or T; optional :SS and fraction)
DATETIME_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?$"
_DATETIME = re.compile(DATETIME_PATTERN)


# ----------------------------------------------------------------- python reference
def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


@lru_cache(maxsize=65536)
def parse_dmy(text: str | None) -> tuple[date | None, str]:
    """(date, status) with status one of ok (``dd/mm/yyyy``), unpadded (``d/m/yyyy`` and the
    other paddings), missing, placeholder, impossible, malformed."""
    s = clean(text)
    if s is None:
        return None, "missing"
    m = _DATE.fullmatch(s)
    if m is None:
        return None, "malformed"
    d, mo, y = int(m[1]), int(m[2]), int(m[3])
    if (d, mo, y) in PLACEHOLDER_DMY:
        return None, "placeholder"
    if not (MIN_YEAR <= y <= MAX_YEAR) or not (1 <= mo <= 12) or not (1 <= d <= _days_in_month(y, mo)):
        return None, "impossible"
    return date(y, mo, d), ("ok" if len(s) == 10 else "unpadded")


@lru_cache(maxsize=8192)
def parse_hm(text: str | None) -> tuple[time | None, str, bool]:
    """(time, status, padded) with status minute, second, unknown (99:99 / blank), impossible
    (the grammar's shape, a field out of range: 24:00, 9:60) or malformed (anything else)."""
    s = clean(text)
    if s is None or s in UNKNOWN_TIMES:
        return None, "unknown", True
    m = _TIME.fullmatch(s)
    if m is None:
        return None, "malformed", True
    h, mi, sec = int(m[1]), int(m[2]), int(m[3] or 0)
    if h > 23 or mi > 59 or sec > 59:
        return None, "impossible", True
    padded = len(m[1]) == 2 and len(m[2]) == 2 and (m[3] is None or len(m[3]) == 2)
    return time(h, mi, sec), ("minute" if m[3] is None else "second"), padded


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


def pl_dmy(plan: PlPlan, ds: pl.Expr) -> Any:
    """Polars form of :func:`parse_dmy` over cleaned text: staged columns ``day`` (Date or null)
    and ``status`` (the same status names).  Give it a plan of its own (stage names are fixed)."""
    c = plan.stage(g=ds.str.extract_groups(DATE_PATTERN), padded=ds.str.len_chars() == 10, missing=ds.is_null())
    c = plan.stage(
        d=c.g.struct.field("1").cast(pl.Int32, strict=False),
        m=c.g.struct.field("2").cast(pl.Int32, strict=False),
        y=c.g.struct.field("3").cast(pl.Int32, strict=False),
        padded=c.padded, missing=c.missing,
    )
    d, m, y = c.d, c.m, c.y
    leap = ((y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0)))
    month_days = (pl.when(m == 2).then(pl.when(leap).then(29).otherwise(28))
                  .when(m.is_in([4, 6, 9, 11])).then(30).otherwise(31))
    placeholder = pl.any_horizontal(*[(d == pd) & (m == pm) & (y == py) for pd, pm, py in PLACEHOLDER_DMY])
    c = plan.stage(
        d=d, m=m, y=y, padded=c.padded, missing=c.missing,
        placeholder=placeholder.fill_null(False),
        valid=(y.is_between(MIN_YEAR, MAX_YEAR) & m.is_between(1, 12) & d.is_between(1, month_days)).fill_null(False),
    )
    # pl.date raises on an impossible date even in an unselected branch: build it from safe parts
    c = plan.stage(
        day=pl.when(c.valid).then(pl.date(pl.when(c.valid).then(c.y).otherwise(2000),
                                          pl.when(c.valid).then(c.m).otherwise(1),
                                          pl.when(c.valid).then(c.d).otherwise(1))),
        status=(pl.when(c.missing).then(pl.lit("missing"))
                .when(c.d.is_null()).then(pl.lit("malformed"))
                .when(c.placeholder).then(pl.lit("placeholder"))
                .when(~c.valid).then(pl.lit("impossible"))
                .when(c.padded).then(pl.lit("ok"))
                .otherwise(pl.lit("unpadded"))),
    )
    return c


def pl_hm(plan: PlPlan, ts: pl.Expr) -> Any:
    """Polars form of :func:`parse_hm` over cleaned text: staged columns ``h``, ``mi``, ``sec``,
    ``status`` and ``padded``.  Give it a plan of its own (stage names are fixed)."""
    c = plan.stage(g=ts.str.extract_groups(TIME_PATTERN), unknown=(ts.is_null() | ts.is_in(UNKNOWN_TIMES)).fill_null(False))
    c = plan.stage(ht=c.g.struct.field("1"), mt=c.g.struct.field("2"), st=c.g.struct.field("3"), unknown=c.unknown)
    c = plan.stage(
        h=c.ht.cast(pl.Int64, strict=False), mi=c.mt.cast(pl.Int64, strict=False),
        sec=c.st.cast(pl.Int64, strict=False).fill_null(0),
        shape=c.ht.is_not_null(), has_sec=c.st.is_not_null(), unknown=c.unknown,
        padded=((c.ht.str.len_chars() == 2) & (c.mt.str.len_chars() == 2)
                & (c.st.is_null() | (c.st.str.len_chars() == 2))).fill_null(True),
    )
    return plan.stage(
        h=c.h, mi=c.mi, sec=c.sec,
        padded=c.padded | c.unknown | ~c.shape,
        status=(pl.when(c.unknown).then(pl.lit("unknown"))
                .when(~c.shape).then(pl.lit("malformed"))
                .when((c.h > 23) | (c.mi > 59) | (c.sec > 59)).then(pl.lit("impossible"))
                .when(c.has_sec).then(pl.lit("second"))
                .otherwise(pl.lit("minute"))),
    )


@register
class LondonDateTimeText(Transform):
    name = "london_datetime_text"
    summary = ("Day-first text date (d/m/yyyy, day and month of one or two digits) + text time (H:M[:S], one or "
               "two digits each) in London local time → timestamptz and precision. Not dd/mm/yyyy → flag "
               "date_unpadded; not HH:MM[:SS] → flag time_unpadded. Placeholder date (1/1/1900, 0/0/0000 in any "
               "padding) or blank → NULL, precision none; unknown time (99:99, 99:99:99, blank) → 00:00 local, "
               "precision day; impossible date (31/04, 00/01, 1/13, year outside 1900-2099) → reject "
               "IMPOSSIBLE_DATE, other date text (2-digit year, yyyy-mm-dd, dots, dashes) → reject MALFORMED_DATE; "
               "time of the grammar out of range (24:00, 9:60) → reject IMPOSSIBLE_TIME, other time text → reject "
               "MALFORMED_TIME; DST gap/overlap per the declared rule, flagged.")
    inputs = ("date", "time")
    outputs = {"value": "timestamptz", "precision": "text", "flags": "text[]", "reject": "text"}
    params_model = NoParams

    def py(self, p: NoParams, lookups: Any, d: Any, t: Any) -> tuple[Any, ...]:
        return _dt_text(d if d is None else str(d), t if t is None else str(t))

    def pl(self, p: NoParams, lookups: Any, plan: PlPlan, d: pl.Expr, t: pl.Expr) -> dict[str, pl.Expr]:
        c = plan.stage(ds=pl_clean(d), ts=pl_clean(t))
        dplan, tplan = PlPlan(prefix=f"{plan.prefix}d~"), PlPlan(prefix=f"{plan.prefix}t~")
        dc, tc = pl_dmy(dplan, c.ds), pl_hm(tplan, c.ts)
        plan.stages.extend(dplan.stages + tplan.stages)
        c = plan.stage(
            day=dc.day, status=dc.status, tstatus=tc.status, tpadded=tc.padded, h=tc.h, mi=tc.mi, sec=tc.sec,
            reject=(pl.when(dc.status == "impossible").then(pl.lit("IMPOSSIBLE_DATE"))
                    .when(dc.status == "malformed").then(pl.lit("MALFORMED_DATE"))
                    .when(tc.status == "impossible").then(pl.lit("IMPOSSIBLE_TIME"))
                    .when(tc.status == "malformed").then(pl.lit("MALFORMED_TIME"))),
        )
        status, tstatus, accepted = c.status, c.tstatus, c.reject.is_null()
        dated = accepted & status.is_in(["ok", "unpadded"])
        timed = tstatus.is_in(["minute", "second"])
        c = plan.stage(
            local=pl.when(dated).then(
                c.day.cast(pl.Datetime("us"))
                + pl.when(timed).then(pl.duration(hours=c.h, minutes=c.mi, seconds=c.sec))
                .otherwise(pl.duration(seconds=0))),
            status=status, tstatus=tstatus, tpadded=c.tpadded, reject=c.reject, dated=dated)
        status, tstatus, dated = c.status, c.tstatus, c.dated
        instant, gap, overlap = pl_london(plan, c.local)
        flags = pl_flag_list([
            (c.reject.is_null() & (status == "placeholder"), "date_placeholder"),
            (c.reject.is_null() & (status == "missing"), "date_missing"),
            (dated & (status == "unpadded"), "date_unpadded"),
            (dated & (tstatus == "unknown"), "time_unknown"),
            (dated & ~c.tpadded, "time_unpadded"),
            (gap, "dst_gap_shifted"),
            (overlap, "dst_overlap_earlier"),
        ])
        return {
            "value": instant,
            "precision": (pl.when(~dated).then(pl.lit("none"))
                          .when(tstatus == "second").then(pl.lit("second"))
                          .when(tstatus == "minute").then(pl.lit("minute"))
                          .otherwise(pl.lit("day"))),
            "flags": flags,
            "reject": c.reject,
        }


_DATE_REJECTS = {"impossible": "IMPOSSIBLE_DATE", "malformed": "MALFORMED_DATE"}
_TIME_REJECTS = {"impossible": "IMPOSSIBLE_TIME", "malformed": "MALFORMED_TIME"}


@lru_cache(maxsize=65536)
def _dt_text(d: str | None, t: str | None) -> tuple[Any, ...]:
    day, status = parse_dmy(d)
    tm, tstatus, tpadded = parse_hm(t)
    reject = _DATE_REJECTS.get(status) or _TIME_REJECTS.get(tstatus)
    if reject is not None:
        return (None, "none", (), reject)
    if day is None:
        return (None, "none", ("date_placeholder",) if status == "placeholder" else ("date_missing",), None)
    flags: tuple[str, ...] = ("date_unpadded",) if status == "unpadded" else ()
    if tstatus == "unknown":
        flags += ("time_unknown",)
    elif not tpadded:
        flags += ("time_unpadded",)
    precision = {"second": "second", "minute": "minute"}.get(tstatus, "day")
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
            "flags": pl_flag_list([
                (gap, "dst_gap_shifted"),
                (overlap, "dst_overlap_earlier"),
                (c.local.is_not_null() & ~c.in_range, "datetime_out_of_range"),
            ]),
            "reject": pl.when(s.is_not_null() & c.local.is_null()).then(pl.lit("MALFORMED_DATETIME")),
        }


@register
class DmyDate(Transform):
    name = "dmy_date"
    summary = ("Day-first text date (d/m/yyyy, day and month of one or two digits) → date; not dd/mm/yyyy → flag "
               "date_unpadded. Placeholder (1/1/1900, 0/0/0000 in any padding)/blank → NULL (flag date_placeholder "
               "/ date_missing); impossible → reject IMPOSSIBLE_DATE; other text → reject MALFORMED_DATE.")
    outputs = {"value": "date", "flags": "text[]", "reject": "text"}

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        day, status = parse_dmy(None if value is None else str(value))
        return (day, _date_flags(status), _DATE_REJECTS.get(status))


@register
class MonthStart(Transform):
    name = "month_start"
    summary = ("Day-first text date (the grammar of dmy_date) → the first day of its month (reporting months); not "
               "dd/mm/yyyy → flag date_unpadded. Blank/placeholder → NULL (not flagged: a submission's period is "
               "known from its batch); impossible or malformed → reject BAD_PERIOD.")
    outputs = {"value": "date", "flags": "text[]", "reject": "text"}

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        day, status = parse_dmy(None if value is None else str(value))
        if status in _DATE_REJECTS:
            return (None, (), "BAD_PERIOD")
        if day is None:
            return (None, (), None)
        return (day.replace(day=1), ("date_unpadded",) if status == "unpadded" else (), None)


def _date_flags(status: str) -> tuple[str, ...]:
    return {"placeholder": ("date_placeholder",), "missing": ("date_missing",),
            "unpadded": ("date_unpadded",)}.get(status, ())


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
