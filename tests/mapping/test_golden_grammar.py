"""The golden table of the text grammar: dates, times and whole numbers.

TARGET-MODEL, row ``dd/mm/yyyy + HH:MM``: "tolerant where the reading is unambiguous, strict
where it is not".  Every expected output below was written by hand from the rules in
runbooks/mappings.md ("The text grammar") — never computed by the code under test — and each
row is checked against BOTH the Python reference (``py``, which reconciliation uses) and the
load's execution path (``ChunkEvaluator._apply``: the Polars form, or the reference over the
distinct inputs).  The differential tests (test_differential.py) prove the two agree with
each other; only this table can catch a misreading they share.

Instants are written in UTC, worked out by hand: Europe/London is GMT (UTC+0) in winter and
BST (UTC+1) from 01:00 UTC on the last Sunday of March (30 March 2014, 28 March 2010) to
01:00 UTC on the last Sunday of October (26 October 2014).  A local time in the missing
spring hour moves one hour forward; one in the repeated autumn hour takes the earlier, BST
instant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from migration.mapping import transforms


def Z(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:  # noqa: N802 - reads as "Zulu"
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


NONE = (None, "none")
PH = (None, "none", ("date_placeholder",), None)
MISSING = (None, "none", ("date_missing",), None)
IMPOSSIBLE_DATE = (None, "none", (), "IMPOSSIBLE_DATE")
MALFORMED_DATE = (None, "none", (), "MALFORMED_DATE")
IMPOSSIBLE_TIME = (None, "none", (), "IMPOSSIBLE_TIME")
MALFORMED_TIME = (None, "none", (), "MALFORMED_TIME")
UNPADDED = ("date_unpadded",)
T_UNPADDED = ("time_unpadded",)

#: london_datetime_text: (date text, time text) → (instant UTC, precision, flags, reject)
DATETIME_TEXT: list[tuple[str | None, str | None, tuple[Any, ...]]] = [
    # ---- dates (with a padded time, 12:00 local): the documented form, then other paddings
    ("15/06/2014", "12:00", (Z(2014, 6, 15, 11), "minute", (), None)),            # BST
    ("15/01/2014", "12:00", (Z(2014, 1, 15, 12), "minute", (), None)),            # GMT
    ("9/3/2010", "12:00", (Z(2010, 3, 9, 12), "minute", UNPADDED, None)),         # 9 March, GMT
    ("27/8/2014", "12:00", (Z(2014, 8, 27, 11), "minute", UNPADDED, None)),       # 27 August, BST
    ("4/7/2012", "12:00", (Z(2012, 7, 4, 11), "minute", UNPADDED, None)),         # 4 July, never 7 April
    ("09/3/2010", "12:00", (Z(2010, 3, 9, 12), "minute", UNPADDED, None)),
    ("9/03/2010", "12:00", (Z(2010, 3, 9, 12), "minute", UNPADDED, None)),
    ("13/1/2010", "12:00", (Z(2010, 1, 13, 12), "minute", UNPADDED, None)),
    # spaces around are trimmed (any text), not a flag of their own
    (" 15/06/2014 ", "12:00", (Z(2014, 6, 15, 11), "minute", (), None)),
    ("\u00a015/06/2014\t", "12:00", (Z(2014, 6, 15, 11), "minute", (), None)),
    ("  9/3/2010\t", "12:00", (Z(2010, 3, 9, 12), "minute", UNPADDED, None)),
    # placeholders in every padding → no date (never a 1900 date), whatever the time
    ("01/01/1900", "12:00", PH), ("1/1/1900", "12:00", PH), ("01/1/1900", "12:00", PH),
    ("1/01/1900", "12:00", PH), ("00/00/0000", "12:00", PH), ("0/0/0000", "12:00", PH),
    ("0/00/0000", "12:00", PH), ("00/0/0000", "12:00", PH), (" 1/1/1900 ", "99:99", PH),
    ("1/1/1900", "9:1", PH), ("0/0/0000", None, PH),
    # ... but only those two: other days of 1900 are dates, 0/0 of another year is impossible
    ("02/01/1900", "12:00", (Z(1900, 1, 2, 12), "minute", (), None)),
    ("0/0/1900", "12:00", IMPOSSIBLE_DATE), ("1/1/0000", "12:00", IMPOSSIBLE_DATE),
    # blank → no date
    ("", "12:00", MISSING), (None, None, MISSING), ("N/A", "12:00", MISSING), ("  ", "99:99", MISSING),
    # 29/02 in leap and non-leap years
    ("29/02/2016", "12:00", (Z(2016, 2, 29, 12), "minute", (), None)),
    ("29/2/2016", "12:00", (Z(2016, 2, 29, 12), "minute", UNPADDED, None)),
    ("29/02/2000", "12:00", (Z(2000, 2, 29, 12), "minute", (), None)),        # divisible by 400
    ("29/02/2015", "12:00", IMPOSSIBLE_DATE), ("29/2/2015", "12:00", IMPOSSIBLE_DATE),
    ("29/02/1900", "12:00", IMPOSSIBLE_DATE),                                  # divisible by 100
    # other impossible dates of the right shape
    ("31/04/2014", "12:00", IMPOSSIBLE_DATE), ("31/4/2014", "12:00", IMPOSSIBLE_DATE),
    ("00/01/2010", "12:00", IMPOSSIBLE_DATE), ("0/1/2010", "12:00", IMPOSSIBLE_DATE),
    ("1/13/2010", "12:00", IMPOSSIBLE_DATE),                                   # day first, never month first
    ("32/01/2010", "12:00", IMPOSSIBLE_DATE), ("15/00/2010", "12:00", IMPOSSIBLE_DATE),
    ("31/12/1899", "12:00", IMPOSSIBLE_DATE), ("01/01/2100", "12:00", IMPOSSIBLE_DATE),
    # not the grammar: two-digit years, ISO, other separators, extra digits or text
    ("15/06/14", "12:00", MALFORMED_DATE), ("9/3/10", "12:00", MALFORMED_DATE),
    ("2014-06-15", "12:00", MALFORMED_DATE), ("2014/06/15", "12:00", MALFORMED_DATE),
    ("15.06.2014", "12:00", MALFORMED_DATE), ("15-06-2014", "12:00", MALFORMED_DATE),
    ("9.3.2010", "12:00", MALFORMED_DATE), ("9-3-2010", "12:00", MALFORMED_DATE),
    ("15 06 2014", "12:00", MALFORMED_DATE), ("15/06/2014 10:00", "12:00", MALFORMED_DATE),
    ("015/06/2014", "12:00", MALFORMED_DATE), ("15/06/02014", "12:00", MALFORMED_DATE),
    ("15//06/2014", "12:00", MALFORMED_DATE), ("\uff11\uff15/06/2014", "12:00", MALFORMED_DATE),
    ("June 15 2014", "12:00", MALFORMED_DATE),
    # a date rejection comes before a time rejection
    ("2014-06-15", "25:00", MALFORMED_DATE), ("31/04/2014", "12.30", IMPOSSIBLE_DATE),
    # ---- times (on 15/01/2014, GMT: the UTC time is the local time)
    ("15/01/2014", "09:01", (Z(2014, 1, 15, 9, 1), "minute", (), None)),
    ("15/01/2014", "9:1", (Z(2014, 1, 15, 9, 1), "minute", T_UNPADDED, None)),
    ("15/01/2014", "09:1", (Z(2014, 1, 15, 9, 1), "minute", T_UNPADDED, None)),
    ("15/01/2014", "9:01", (Z(2014, 1, 15, 9, 1), "minute", T_UNPADDED, None)),
    ("15/01/2014", "3:4", (Z(2014, 1, 15, 3, 4), "minute", T_UNPADDED, None)),
    ("15/01/2014", "0:0", (Z(2014, 1, 15, 0, 0), "minute", T_UNPADDED, None)),
    ("15/01/2014", "00:00", (Z(2014, 1, 15, 0, 0), "minute", (), None)),
    ("15/01/2014", "23:59", (Z(2014, 1, 15, 23, 59), "minute", (), None)),
    ("15/01/2014", "23:59:59", (Z(2014, 1, 15, 23, 59, 59), "second", (), None)),
    ("15/01/2014", "23:59:5", (Z(2014, 1, 15, 23, 59, 5), "second", T_UNPADDED, None)),
    ("15/01/2014", "9:1:5", (Z(2014, 1, 15, 9, 1, 5), "second", T_UNPADDED, None)),
    ("15/01/2014", " 9:1 ", (Z(2014, 1, 15, 9, 1), "minute", T_UNPADDED, None)),
    ("15/01/2014", "\t09:01\u00a0", (Z(2014, 1, 15, 9, 1), "minute", (), None)),
    ("15/06/2014", "9:1", (Z(2014, 6, 15, 8, 1), "minute", T_UNPADDED, None)),      # BST
    # both unpadded: the example of issue 10 (9 March 2010 is GMT)
    ("9/3/2010", "9:1", (Z(2010, 3, 9, 9, 1), "minute", UNPADDED + T_UNPADDED, None)),
    # unknown time: 99:99 and blank → 00:00 local, precision day
    ("15/01/2014", "99:99", (Z(2014, 1, 15), "day", ("time_unknown",), None)),
    ("15/01/2014", "99:99:99", (Z(2014, 1, 15), "day", ("time_unknown",), None)),
    ("15/01/2014", "", (Z(2014, 1, 15), "day", ("time_unknown",), None)),
    ("15/01/2014", None, (Z(2014, 1, 15), "day", ("time_unknown",), None)),
    ("15/01/2014", " N/A ", (Z(2014, 1, 15), "day", ("time_unknown",), None)),
    ("15/06/2014", "99:99", (Z(2014, 6, 14, 23), "day", ("time_unknown",), None)),  # midnight BST
    ("9/3/2010", "99:99", (Z(2010, 3, 9), "day", UNPADDED + ("time_unknown",), None)),
    # out of range: quarantined, never read as unknown
    ("15/01/2014", "24:00", IMPOSSIBLE_TIME), ("15/01/2014", "25:00", IMPOSSIBLE_TIME),
    ("15/01/2014", "9:60", IMPOSSIBLE_TIME), ("15/01/2014", "23:59:60", IMPOSSIBLE_TIME),
    ("15/01/2014", "99:98", IMPOSSIBLE_TIME), ("15/01/2014", "99:9", IMPOSSIBLE_TIME),
    # a bad time is quarantined whatever the date (it is not one the dictionary calls unknown)
    ("1/1/1900", "25:00", IMPOSSIBLE_TIME), ("", "12.30", MALFORMED_TIME),
    # other time text
    ("15/01/2014", "12.30", MALFORMED_TIME), ("15/01/2014", "1230", MALFORMED_TIME),
    ("15/01/2014", "12:30 pm", MALFORMED_TIME), ("15/01/2014", "12:30:00.5", MALFORMED_TIME),
    ("15/01/2014", "123:00", MALFORMED_TIME), ("15/01/2014", "12:300", MALFORMED_TIME),
    ("15/01/2014", "12:", MALFORMED_TIME), ("15/01/2014", ":30", MALFORMED_TIME),
    ("15/01/2014", "12:30:00:00", MALFORMED_TIME), ("15/01/2014", "noon", MALFORMED_TIME),
    ("15/01/2014", "\uff11\uff12:00", MALFORMED_TIME),
    # ---- DST, spring 2014 (30 March): 01:00–01:59 local does not exist → one hour later (BST)
    ("30/03/2014", "00:59", (Z(2014, 3, 30, 0, 59), "minute", (), None)),
    ("30/03/2014", "01:30", (Z(2014, 3, 30, 1, 30), "minute", ("dst_gap_shifted",), None)),
    ("30/3/2014", "1:30", (Z(2014, 3, 30, 1, 30), "minute", UNPADDED + T_UNPADDED + ("dst_gap_shifted",), None)),
    ("30/03/2014", "01:00:00", (Z(2014, 3, 30, 1, 0), "second", ("dst_gap_shifted",), None)),
    ("30/03/2014", "02:00", (Z(2014, 3, 30, 1, 0), "minute", (), None)),
    ("30/03/2014", "99:99", (Z(2014, 3, 30, 0, 0), "day", ("time_unknown",), None)),
    # ---- DST, autumn 2014 (26 October): 01:00–01:59 local happens twice → the earlier (BST)
    ("26/10/2014", "00:59", (Z(2014, 10, 25, 23, 59), "minute", (), None)),
    ("26/10/2014", "01:30", (Z(2014, 10, 26, 0, 30), "minute", ("dst_overlap_earlier",), None)),
    ("26/10/2014", "1:30:0", (Z(2014, 10, 26, 0, 30), "second", T_UNPADDED + ("dst_overlap_earlier",), None)),
    ("26/10/2014", "01:59:59", (Z(2014, 10, 26, 0, 59, 59), "second", ("dst_overlap_earlier",), None)),
    ("26/10/2014", "02:00", (Z(2014, 10, 26, 2, 0), "minute", (), None)),
    ("26/10/2014", "99:99", (Z(2014, 10, 25, 23, 0), "day", ("time_unknown",), None)),   # midnight BST
]

#: dmy_date (tblHospital.ISTVStart): text → (date, flags, reject)
DMY_DATE: list[tuple[str | None, tuple[Any, ...]]] = [
    ("15/06/2014", (date(2014, 6, 15), (), None)),
    ("9/3/2010", (date(2010, 3, 9), UNPADDED, None)),
    ("27/8/2014", (date(2014, 8, 27), UNPADDED, None)),
    (" 4/7/2012 ", (date(2012, 7, 4), UNPADDED, None)),
    ("1/1/1900", (None, ("date_placeholder",), None)), ("01/01/1900", (None, ("date_placeholder",), None)),
    ("0/0/0000", (None, ("date_placeholder",), None)), ("00/00/0000", (None, ("date_placeholder",), None)),
    ("", (None, ("date_missing",), None)), (None, (None, ("date_missing",), None)),
    ("29/02/2016", (date(2016, 2, 29), (), None)), ("29/02/2015", (None, (), "IMPOSSIBLE_DATE")),
    ("31/04/2014", (None, (), "IMPOSSIBLE_DATE")), ("00/01/2010", (None, (), "IMPOSSIBLE_DATE")),
    ("1/13/2010", (None, (), "IMPOSSIBLE_DATE")),
    ("15/06/14", (None, (), "MALFORMED_DATE")), ("2014-06-15", (None, (), "MALFORMED_DATE")),
    ("15.06.2014", (None, (), "MALFORMED_DATE")), ("15-06-2014", (None, (), "MALFORMED_DATE")),
]

#: month_start (ISTV PeriodStart / PeriodEnd): text → (first of the month, flags, reject)
MONTH_START: list[tuple[str | None, tuple[Any, ...]]] = [
    ("15/06/2014", (date(2014, 6, 1), (), None)),
    ("1/6/2014", (date(2014, 6, 1), UNPADDED, None)),
    ("1/1/1900", (None, (), None)), ("", (None, (), None)),
    ("31/06/2014", (None, (), "BAD_PERIOD")), ("2014-06", (None, (), "BAD_PERIOD")),
]

NI = ("not_integer",)
DZ = ("number_decimal_zero",)
#: int: text → (value, flags, reject) with the default parameters, and with reject: NOT_INTEGER, min 0
INT: list[tuple[str | None, tuple[Any, ...], tuple[Any, ...]]] = [
    ("521277", (521277, (), None), (521277, (), None)),
    ("521277.0", (521277, DZ, None), (521277, DZ, None)),
    ("521277.00", (521277, DZ, None), (521277, DZ, None)),
    ("521277.5", (None, NI, None), (None, (), "NOT_INTEGER")),
    ("521277.05", (None, NI, None), (None, (), "NOT_INTEGER")),
    ("-1", (-1, (), None), (None, NI, None)),                  # below min 0: not a value of the column
    ("-1.0", (-1, DZ, None), (None, NI, None)),
    ("-0.5", (None, NI, None), (None, (), "NOT_INTEGER")),
    ("0", (0, (), None), (0, (), None)), ("-0", (0, (), None), (0, (), None)),
    (" 521277 ", (521277, (), None), (521277, (), None)),
    ("\t521277.0\u00a0", (521277, DZ, None), (521277, DZ, None)),
    ("007", (7, (), None), (7, (), None)),
    ("521277.", (None, NI, None), (None, NI, None)), (".5", (None, NI, None), (None, NI, None)),
    ("5.3e5", (None, NI, None), (None, NI, None)), ("+1", (None, NI, None), (None, NI, None)),
    ("1,000", (None, NI, None), (None, NI, None)), ("1 000", (None, NI, None), (None, NI, None)),
    ("abc", (None, NI, None), (None, NI, None)), ("\uff15", (None, NI, None), (None, NI, None)),
    ("2147483648", (None, NI, None), (None, NI, None)),
    ("", (None, (), None), (None, (), None)), (None, (None, (), None), (None, (), None)),
    ("N/A", (None, (), None), (None, (), None)),
]

P = (521277.0, 180000.0)
#: grid_point: (easting, northing) → (point, precision, flags, reject)
GRID: list[tuple[str | None, str | None, tuple[Any, ...]]] = [
    ("521277", "180000", (P, "exact", (), None)),
    ("521277.0", "180000", (P, "exact", DZ, None)),
    ("521277.00", "180000.0", (P, "exact", DZ, None)),
    (" 521277 ", "\t180000\u00a0", (P, "exact", (), None)),
    ("521277.5", "180000", (None, None, (), "NOT_INTEGER")),
    ("521277", "180000.25", (None, None, (), "NOT_INTEGER")),
    ("", "180000.5", (None, None, (), "NOT_INTEGER")),              # a fraction rejects whatever the other side
    ("-1", "180000", (None, None, ("grid_outside_london",), None)),
    ("0.0", "180000", (None, None, ("grid_zero",) + DZ, None)),
    ("99999", "180000", (None, None, ("grid_99999",), None)),
    ("180000.0", "521277", (P, "exact", ("grid_swapped",) + DZ, None)),
    ("abc", "180000", (None, None, ("grid_non_numeric",), None)),
    ("521,277", "180000", (None, None, ("grid_non_numeric",), None)),
    ("", "", (None, None, ("grid_missing",), None)),
]

#: gridref_point (LAS GridRef): text → (point, precision, flags, reject)
GRIDREF: list[tuple[str | None, tuple[Any, ...]]] = [
    ("521277,180000", (P, "exact", (), None)),
    ("521277.0 180000", (P, "exact", DZ, None)),
    ("521277.5,180000", (None, None, (), "NOT_INTEGER")),
    ("N/A", (None, None, ("grid_missing",), None)),
]


def _both(tx: Any, name: str, rows: list[tuple[Any, ...]], expected: list[tuple[Any, ...]],
          **params: Any) -> None:
    """Each row's expected output from the reference and from the engine (all rows in one chunk)."""
    t = transforms.get(name)
    p = tx.params_for(t, **params)
    got_py = [t.py(p, tx.lookups, *r) for r in rows]
    got_engine = tx.run_engine(t, p, {f"in{i}": [r[i] for r in rows] for i in range(len(t.inputs))})
    bad = [f"{r!r}: expected {e!r}, reference {a!r}, engine {b!r}"
           for r, e, a, b in zip(rows, expected, got_py, got_engine, strict=True) if not (e == a == b)]
    assert not bad, f"{name} {params}: {len(bad)} of {len(rows)} golden rows differ:\n" + "\n".join(bad)
    for r, v in zip(rows, got_engine, strict=True):  # instants are aware UTC in both forms
        if isinstance(v[0], datetime):
            assert v[0].utcoffset() is not None and v[0].utcoffset().total_seconds() == 0, r


def test_golden_datetime_text(tx: Any) -> None:
    _both(tx, "london_datetime_text", [(d, t) for d, t, _ in DATETIME_TEXT], [e for _, _, e in DATETIME_TEXT])


def test_golden_dmy_date(tx: Any) -> None:
    _both(tx, "dmy_date", [(d,) for d, _ in DMY_DATE], [e for _, e in DMY_DATE])


def test_golden_month_start(tx: Any) -> None:
    _both(tx, "month_start", [(d,) for d, _ in MONTH_START], [e for _, e in MONTH_START])


def test_golden_int(tx: Any) -> None:
    _both(tx, "int", [(s,) for s, _, _ in INT], [e for _, e, _ in INT])
    _both(tx, "int", [(s,) for s, _, _ in INT], [e for _, _, e in INT], min=0, reject="NOT_INTEGER")


@pytest.mark.parametrize("precision", ["exact", "rounded"])
def test_golden_grid(tx: Any, precision: str) -> None:
    def with_precision(e: tuple[Any, ...]) -> tuple[Any, ...]:
        return (e[0], precision if e[1] else None, e[2], e[3])

    _both(tx, "grid_point", [(e, n) for e, n, _ in GRID], [with_precision(x) for _, _, x in GRID],
          precision=precision)
    _both(tx, "gridref_point", [(s,) for s, _ in GRIDREF], [with_precision(x) for _, x in GRIDREF],
          precision=precision)


def test_golden_grid_fallback(tx: Any) -> None:
    """LFB: the exact pair, else the 50 m rounded pair; a fraction in either pair rejects."""
    rows = [("521277.0", "180000", "521250", "180000"), (None, None, "521250.0", "180000"),
            (None, None, "521250.5", "180000"), ("521277.5", "180000", "521250", "180000")]
    expected = [(P, "exact", DZ, None), ((521250.0, 180000.0), "rounded", DZ, None),
                (None, None, (), "NOT_INTEGER"), (None, None, (), "NOT_INTEGER")]
    _both(tx, "grid_point_fallback", rows, expected)


def test_golden_looked_up_ids(tx: Any) -> None:
    """Legacy ids read by the integer grammar before a look-up (lookups of tests/mapping/conftest.py:
    crime type 12 → 112, UNKNOWN → 999; hospital 2 → R1H12)."""
    _both(tx, "offence_category", [("12",), ("12.0",), (" 12.00 ",), ("12.5",), ("+12",)],
          [(112, ()), (112, DZ), (112, DZ), (999, ("offence_unknown",)), (999, ("offence_unknown",))])
    _both(tx, "ref_lookup", [("2",), ("2.0",), ("2.5",), ("7",), ("abc",), ("",)],
          [("R1H12", (), None), ("R1H12", DZ, None), (None, (), "NOT_INTEGER"), (None, (), "UNKNOWN_HOSPITAL"),
           (None, (), "UNKNOWN_HOSPITAL"), (None, (), None)])
    _both(tx, "ref_lookup", [("2.0",), ("2.5",), ("abc",)],
          [("R1H12", DZ, None), (None, ("ref_not_found",), None), (None, ("ref_not_found",), None)], reject=None)


# ---------------------------------------------------------------- BatchID (issue 10, part c)
@pytest.mark.parametrize("table", ["tblMPSCrime", "tblLFBIncident", "tblLASAssault", "tblTransportCrime",
                                   "tblISTVAssault"])
@pytest.mark.parametrize(("batch", "want", "flag"), [("12", 12, None), ("12.0", 12, "number_decimal_zero"),
                                                      ("12.5", None, "not_integer"), ("x12", None, "not_integer")])
def test_a_batch_id_that_is_no_whole_number_loads_null_and_says_so(table: str, batch: str, want: int | None,
                                                                    flag: str | None) -> None:
    # a REAL stored in an int column of SQLite ('12.5') used to become NULL with no flag
    from test_mapping_set import BASE, run_both

    _recs, refs = run_both(table, [{**BASE[table], "BatchID": batch}])  # engine == reference, row by row
    rows = [r for o in refs for rs in o.rows.values() for r in rs if "batch_id" in r]
    assert rows, f"{table}: the base row must load"
    assert rows[0]["batch_id"] == want
    flags = rows[0].get("dq_flags") or ()
    assert (flag in flags) if flag else not {"not_integer", "number_decimal_zero"} & set(flags)
