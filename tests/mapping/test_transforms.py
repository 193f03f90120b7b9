"""Unit tests of the transform library, one group per transform, with the examples the
TARGET-MODEL mapping rules and the legacy data dictionary give.  The engine's vectorised
forms are held equal to these references by tests/mapping/test_differential.py; the ISTV
scrubber has its own file, tests/mapping/test_scrub.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from migration.mapping import transforms
from migration.mapping.transforms.dates import london_to_utc
from migration.mapping.transforms.geo import BUFFER, E_MAX, E_MIN, N_MAX, N_MIN, normalise_borough
from migration.mapping.transforms.text import NO_VALUE, clean

NO_VALUE_SPELLINGS = (None, "", " ", "   ", "\t", "\u00a0", " \u00a0\t\r\n", "NULL", "null", "Null", "N/A",
                      "n/a", "N/a", "-", "  N/A  ", "\tNULL\u00a0", " - ")

#: the transforms whose inputs are derived values (instants, points), not legacy text
NON_TEXT_INPUTS = {"after", "point_if"}


def run(tx: Any, name: str, *args: Any, **params: Any) -> tuple[Any, ...]:
    t = transforms.get(name)
    return t.py(tx.params_for(t, **params), tx.lookups, *args)


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


# ================================================================== every transform
@pytest.mark.parametrize("name", sorted(set(transforms.REGISTRY) - NON_TEXT_INPUTS))
def test_every_no_value_spelling_is_no_value(tx: Any, name: str) -> None:
    """TARGET-MODEL: every "no value" spelling → NULL — each transform treats them all as NULL."""
    t = transforms.get(name)
    expected = run(tx, name, *[None] * len(t.inputs))
    for spelling in NO_VALUE_SPELLINGS:
        assert run(tx, name, *[spelling] * len(t.inputs)) == expected, spelling


def test_registry_contract() -> None:
    for name, t in transforms.REGISTRY.items():
        assert t.name == name
        assert list(t.outputs)[0] == "value", name
        assert t.summary.strip(), name
        assert ("reject" in t.outputs) == t.has_reject
    # the scrubbers run in Python before anything leaves the process (personal_data.scrub)
    assert [n for n, t in transforms.REGISTRY.items() if t.python_only] == ["scrub_location_text", "scrub_identifiers"]


# ================================================================== text
def test_clean_no_value_and_trim() -> None:
    assert set(NO_VALUE) == {"", "NULL", "N/A", "-"}
    for s in NO_VALUE_SPELLINGS:
        assert clean(s) is None, s
    assert clean("  Camden\t\u00a0") == "Camden"
    assert clean("--") == "--" and clean("NA") == "NA" and clean("N/A/B") == "N/A/B"
    assert clean("Caf\u00e9 \u2019s \u2013 \u00a35") == "Caf\u00e9 \u2019s \u2013 \u00a35"  # cp1252 already decoded
    assert clean(0) == "0"


def test_clean_text(tx: Any) -> None:
    assert run(tx, "clean_text", "  Kensington  &  Chelsea ") == ("Kensington  &  Chelsea",)
    assert run(tx, "clean_text", "a \t\u00a0 b", collapse_spaces=True) == ("a b",)
    assert run(tx, "clean_text", " e05000128 ", case="upper") == ("E05000128",)
    # upper case is ASCII-only: the same in Python and Polars whatever their Unicode tables
    assert run(tx, "clean_text", "stra\u00dfe \u00e9 \ua7cd", case="upper") == ("STRA\u00dfE \u00e9 \ua7cd",)
    assert run(tx, "clean_text", "n/a", case="upper") == (None,)


def test_map(tx: Any) -> None:
    assert run(tx, "map", "y") == ("yes",)
    assert run(tx, "map", " N ") == ("no",)
    assert run(tx, "map", "maybe") == ("other",)
    assert run(tx, "map", None) == ("other",)
    assert run(tx, "map", "maybe", keep_unmapped=True) == ("maybe",)
    assert run(tx, "map", "y", ignore_case=False) == ("other",)


@pytest.mark.parametrize(("text", "expected"), [
    ("42", (42, (), None)), (" -7 ", (-7, (), None)), ("0", (0, (), None)), ("-0", (0, (), None)),
    ("007", (7, (), None)), ("2147483647", (2147483647, (), None)), ("-2147483648", (-2147483648, (), None)),
    ("2147483648", (None, ("not_integer",), None)), ("99999999999", (None, ("not_integer",), None)),
    # a zero fractional part is the whole number, flagged; any other fraction is not an integer
    ("1.0", (1, ("number_decimal_zero",), None)), ("-3.000", (-3, ("number_decimal_zero",), None)),
    ("1.5", (None, ("not_integer",), None)), ("1.", (None, ("not_integer",), None)),
    ("1e3", (None, ("not_integer",), None)), ("+1", (None, ("not_integer",), None)),
    ("1 000", (None, ("not_integer",), None)), ("\uff11", (None, ("not_integer",), None)), ("", (None, (), None)),
])
def test_int(tx: Any, text: str, expected: tuple[Any, ...]) -> None:
    assert run(tx, "int", text) == expected


def test_int_range(tx: Any) -> None:
    assert run(tx, "int", "255", min=0, max=255) == (255, (), None)
    assert run(tx, "int", "256", min=0, max=255) == (None, ("not_integer",), None)
    assert run(tx, "int", "-1", min=0, max=255) == (None, ("not_integer",), None)
    assert run(tx, "int", "255.0", min=0, max=255) == (255, ("number_decimal_zero",), None)
    assert run(tx, "int", "256.0", min=0, max=255) == (None, ("not_integer",), None)


def test_int_reject_not_integer(tx: Any) -> None:
    """Where an integer is declared (`reject: NOT_INTEGER`) a fractional value quarantines the row."""
    assert run(tx, "int", "312.5", reject="NOT_INTEGER") == (None, (), "NOT_INTEGER")
    assert run(tx, "int", "-0.01", min=0, max=86400, reject="NOT_INTEGER") == (None, (), "NOT_INTEGER")
    assert run(tx, "int", "312.0", reject="NOT_INTEGER") == (312, ("number_decimal_zero",), None)
    assert run(tx, "int", "abc", reject="NOT_INTEGER") == (None, ("not_integer",), None)


@pytest.mark.parametrize(("text", "expected"), [
    ("Y", (True, ())), ("y", (True, ())), ("1", (True, ())), ("T", (True, ())), (" t ", (True, ())),
    ("N", (False, ())), ("n", (False, ())), ("0", (False, ())), ("F", (False, ())),
    ("U", (None, ())), ("u", (None, ())), ("", (None, ())), (None, (None, ())), ("   ", (None, ())),
    ("X", (None, ("flag_unrecognised",))), ("2", (None, ("flag_unrecognised",))),
    ("YN", (None, ("flag_unrecognised",))),
])
def test_flag(tx: Any, text: str | None, expected: tuple[Any, ...]) -> None:
    """TARGET-MODEL: Y/1/T true, N/0/F false, U/'' NULL."""
    assert run(tx, "flag", text) == expected


@pytest.mark.parametrize(("text", "width", "expected"), [
    ("1", 2, "01"), ("9", 2, "09"), (" 7 ", 2, "07"), ("99", 2, "99"), ("123", 2, "123"), ("A", 2, "A"),
    ("1A", 2, "1A"), ("", 2, None), ("1", 3, "001"), ("\u0661", 2, "\u0661"),
])
def test_zero_pad(tx: Any, text: str, width: int, expected: str | None) -> None:
    assert run(tx, "zero_pad", text, width=width) == (expected,)


@pytest.mark.parametrize(("text", "expected"), [
    ("1234.5678", Decimal("1234.5678")), ("0.0001", Decimal("0.0001")), ("12", Decimal("12.0000")),
    ("-5.5", Decimal("-5.5000")), (" 350.00 ", Decimal("350.0000")),
    ("999999999999999.9999", Decimal("999999999999999.9999")),
    ("-999999999999999.9999", Decimal("-999999999999999.9999")),
])
def test_money_exact(tx: Any, text: str, expected: Decimal) -> None:
    """TARGET-MODEL: exact, as SQL Server money (4 decimal places); no rounding, never a float."""
    value, reject = run(tx, "money", text)
    assert reject is None
    assert isinstance(value, Decimal) and value == expected
    assert value.as_tuple().exponent == -4
    assert str(value) == str(expected.quantize(Decimal("0.0001")))


@pytest.mark.parametrize("text", ["12.34567", "1e3", "1E3", "1,000", "\u00a35", ".5", "5.", "+5", "NaN",
                                  "Infinity", "1000000000000000", "12.3.4", "0.00001", "abc"])
def test_money_malformed_is_rejected(tx: Any, text: str) -> None:
    assert run(tx, "money", text) == (None, "MALFORMED_MONEY")


def test_money_blank(tx: Any) -> None:
    assert run(tx, "money", "") == (None, None)
    assert run(tx, "money", None) == (None, None)


def test_code_value(tx: Any) -> None:
    """TARGET-MODEL: ISTV Method/LocType → zero-pad; 99 → not known (a listed code); unknown → quarantine."""
    assert run(tx, "code_value", "1") == ("01", None)
    assert run(tx, "code_value", " 6 ") == ("06", None)
    assert run(tx, "code_value", "99") == ("99", None)
    assert run(tx, "code_value", "7") == (None, "UNKNOWN_CODE")
    assert run(tx, "code_value", "AB") == (None, "UNKNOWN_CODE")
    assert run(tx, "code_value", "01", code_system="ISTV_LOCATION") == (None, "UNKNOWN_CODE")
    assert run(tx, "code_value", "") == (None, None)


def test_split_list(tx: Any) -> None:
    assert run(tx, "split_list", "Camden, Hackney,,  ,Islington ") == (("Camden", "Hackney", "Islington"),)
    assert run(tx, "split_list", "a;b; c", separator=";") == (("a", "b", "c"),)
    assert run(tx, "split_list", "a,N/A,-,b") == (("a", "b"),)
    assert run(tx, "split_list", "") == ((),)
    assert run(tx, "split_list", None) == ((),)


# ================================================================== dates
@pytest.mark.parametrize(("text", "expected"), [
    ("15/06/2014", (date(2014, 6, 15), (), None)),
    ("29/02/2016", (date(2016, 2, 29), (), None)),
    (" 01/01/2000\u00a0", (date(2000, 1, 1), (), None)),
    ("31/12/2099", (date(2099, 12, 31), (), None)),
    ("01/01/1900", (None, ("date_placeholder",), None)),
    ("00/00/0000", (None, ("date_placeholder",), None)),
    ("", (None, ("date_missing",), None)),
    ("31/04/2014", (None, (), "IMPOSSIBLE_DATE")),
    ("29/02/2015", (None, (), "IMPOSSIBLE_DATE")),
    ("29/02/1900", (None, (), "IMPOSSIBLE_DATE")),
    ("32/01/2014", (None, (), "IMPOSSIBLE_DATE")),
    ("00/01/2014", (None, (), "IMPOSSIBLE_DATE")),
    ("15/13/2014", (None, (), "IMPOSSIBLE_DATE")),
    ("31/12/1899", (None, (), "IMPOSSIBLE_DATE")),
    ("01/01/2100", (None, (), "IMPOSSIBLE_DATE")),
    ("2014-06-15", (None, (), "MALFORMED_DATE")),
    ("1/6/2014", (date(2014, 6, 1), ("date_unpadded",), None)),
    ("1/1/1900", (None, ("date_placeholder",), None)),
    ("0/0/0000", (None, ("date_placeholder",), None)),
    ("15/06/14", (None, (), "MALFORMED_DATE")),
    ("15.06.2014", (None, (), "MALFORMED_DATE")),
    ("15/06/2014 10:00", (None, (), "MALFORMED_DATE")),
])
def test_dmy_date(tx: Any, text: str, expected: tuple[Any, ...]) -> None:
    """TARGET-MODEL: strict day-first; placeholders → NULL; impossible dates → quarantine."""
    assert run(tx, "dmy_date", text) == expected


def test_month_start(tx: Any) -> None:
    assert run(tx, "month_start", "15/03/2014") == (date(2014, 3, 1), (), None)
    assert run(tx, "month_start", "1/3/2014") == (date(2014, 3, 1), ("date_unpadded",), None)
    assert run(tx, "month_start", "01/01/1900") == (None, (), None)
    assert run(tx, "month_start", "1/1/1900") == (None, (), None)
    assert run(tx, "month_start", "") == (None, (), None)
    assert run(tx, "month_start", "31/04/2014") == (None, (), "BAD_PERIOD")
    assert run(tx, "month_start", "2014-03") == (None, (), "BAD_PERIOD")


@pytest.mark.parametrize(("d", "t", "expected"), [
    # summer (BST, UTC+1) and winter (GMT) instants; minute and second precision
    ("15/06/2014", "14:30", (utc(2014, 6, 15, 13, 30), "minute", (), None)),
    ("15/01/2014", "14:30:15", (utc(2014, 1, 15, 14, 30, 15), "second", (), None)),
    (" 15/06/2014 ", "\u00a014:30\t", (utc(2014, 6, 15, 13, 30), "minute", (), None)),
    # unknown time (99:99, blank) → 00:00 London, precision day
    ("15/06/2014", "99:99", (utc(2014, 6, 14, 23, 0), "day", ("time_unknown",), None)),
    ("15/06/2014", "99:99:99", (utc(2014, 6, 14, 23, 0), "day", ("time_unknown",), None)),
    ("15/01/2014", "", (utc(2014, 1, 15, 0, 0), "day", ("time_unknown",), None)),
    ("15/01/2014", None, (utc(2014, 1, 15, 0, 0), "day", ("time_unknown",), None)),
    ("15/01/2014", "N/A", (utc(2014, 1, 15, 0, 0), "day", ("time_unknown",), None)),
    # unpadded times are read, flagged; a time out of range or of no shape quarantines the row
    ("15/06/2014", "1:30", (utc(2014, 6, 15, 0, 30), "minute", ("time_unpadded",), None)),
    ("15/06/2014", "24:00", (None, "none", (), "IMPOSSIBLE_TIME")),
    ("15/06/2014", "10:60", (None, "none", (), "IMPOSSIBLE_TIME")),
    ("15/06/2014", "10:00:60", (None, "none", (), "IMPOSSIBLE_TIME")),
    ("15/06/2014", "10.30", (None, "none", (), "MALFORMED_TIME")),
    # placeholder / missing dates → NULL, precision none (the row loads)
    ("01/01/1900", "10:00", (None, "none", ("date_placeholder",), None)),
    ("00/00/0000", "99:99", (None, "none", ("date_placeholder",), None)),
    ("", "10:00", (None, "none", ("date_missing",), None)),
    (None, None, (None, "none", ("date_missing",), None)),
    # impossible and malformed dates → quarantine
    ("31/04/2014", "10:00", (None, "none", (), "IMPOSSIBLE_DATE")),
    ("29/02/2015", "10:00", (None, "none", (), "IMPOSSIBLE_DATE")),
    ("29/02/2016", "10:00", (utc(2016, 2, 29, 10, 0), "minute", (), None)),
    ("2014-06-15", "10:00", (None, "none", (), "MALFORMED_DATE")),
    # DST spring gap: 01:00–01:59 does not exist → one hour later (BST), flagged
    ("30/03/2014", "00:59", (utc(2014, 3, 30, 0, 59), "minute", (), None)),
    ("30/03/2014", "01:00", (utc(2014, 3, 30, 1, 0), "minute", ("dst_gap_shifted",), None)),
    ("30/03/2014", "01:30", (utc(2014, 3, 30, 1, 30), "minute", ("dst_gap_shifted",), None)),
    ("30/03/2014", "02:00", (utc(2014, 3, 30, 1, 0), "minute", (), None)),
    ("30/03/2014", "99:99", (utc(2014, 3, 30, 0, 0), "day", ("time_unknown",), None)),
    # DST autumn overlap: 01:00–01:59 happens twice → the earlier, BST instant, flagged
    ("26/10/2014", "00:59", (utc(2014, 10, 25, 23, 59), "minute", (), None)),
    ("26/10/2014", "01:00", (utc(2014, 10, 26, 0, 0), "minute", ("dst_overlap_earlier",), None)),
    ("26/10/2014", "01:30", (utc(2014, 10, 26, 0, 30), "minute", ("dst_overlap_earlier",), None)),
    ("26/10/2014", "01:59:59", (utc(2014, 10, 26, 0, 59, 59), "second", ("dst_overlap_earlier",), None)),
    ("26/10/2014", "02:00", (utc(2014, 10, 26, 2, 0), "minute", (), None)),
])
def test_london_datetime_text(tx: Any, d: str | None, t: str | None, expected: tuple[Any, ...]) -> None:
    got = run(tx, "london_datetime_text", d, t)
    assert got == expected
    if got[0] is not None:
        assert got[0].utcoffset() is not None and got[0].utcoffset().total_seconds() == 0


def test_london_datetime_text_dst_rule_far_from_2014(tx: Any) -> None:
    # last Sundays of March/October 2099 (29 March, 25 October)
    assert run(tx, "london_datetime_text", "29/03/2099", "01:15")[0] == utc(2099, 3, 29, 1, 15)
    assert run(tx, "london_datetime_text", "25/10/2099", "01:15")[0] == utc(2099, 10, 25, 0, 15)
    # 1968-71 British Standard Time: UTC+1 all winter
    assert run(tx, "london_datetime_text", "15/01/1970", "12:00")[0] == utc(1970, 1, 15, 11, 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("2014-06-15 12:00", (utc(2014, 6, 15, 11, 0), (), None)),
    ("2014-06-15T12:00:00", (utc(2014, 6, 15, 11, 0), (), None)),
    ("2014-06-15 12:00:00.123", (utc(2014, 6, 15, 11, 0, 0, 123000), (), None)),
    ("2014-01-15 12:00:00.000001", (utc(2014, 1, 15, 12, 0, 0, 1), (), None)),
    ("2014-03-30 01:30", (utc(2014, 3, 30, 1, 30), ("dst_gap_shifted",), None)),
    ("2014-10-26 01:30:00", (utc(2014, 10, 26, 0, 30), ("dst_overlap_earlier",), None)),
    ("1899-12-31 23:59", (None, ("datetime_out_of_range",), None)),
    ("2100-01-01 00:00", (None, ("datetime_out_of_range",), None)),
    ("0000-01-01 00:00", (None, (), "MALFORMED_DATETIME")),
    ("2014-02-29 10:00", (None, (), "MALFORMED_DATETIME")),
    ("2014-06-15 24:00", (None, (), "MALFORMED_DATETIME")),
    ("2014-06-15 23:59:60", (None, (), "MALFORMED_DATETIME")),
    ("2014-06-15 12:00:00.1234567", (None, (), "MALFORMED_DATETIME")),
    ("15/06/2014 12:00", (None, (), "MALFORMED_DATETIME")),
    ("2014-06-15", (None, (), "MALFORMED_DATETIME")),
    ("", (None, (), None)),
])
def test_london_datetime(tx: Any, text: str, expected: tuple[Any, ...]) -> None:
    """TARGET-MODEL: a legacy local datetime is Europe/London; gap → +1 h, overlap → the earlier instant."""
    assert run(tx, "london_datetime", text) == expected


def test_london_datetime_accepts_a_datetime(tx: Any) -> None:
    assert run(tx, "london_datetime", datetime(2014, 10, 26, 1, 30)) == (
        utc(2014, 10, 26, 0, 30), ("dst_overlap_earlier",), None)


def test_london_to_utc() -> None:
    assert london_to_utc(datetime(2014, 3, 30, 1, 30)) == (utc(2014, 3, 30, 1, 30), ("dst_gap_shifted",))
    assert london_to_utc(datetime(2014, 10, 26, 1, 30)) == (utc(2014, 10, 26, 0, 30), ("dst_overlap_earlier",))
    assert london_to_utc(datetime(2014, 7, 1, 9, 0)) == (utc(2014, 7, 1, 8, 0), ())


# ================================================================== grid
E, N = "530000", "180000"


@pytest.mark.parametrize(("e", "n", "expected"), [
    (E, N, ((530000.0, 180000.0), "exact", (), None)),
    (" 530000 ", "180000.0", ((530000.0, 180000.0), "exact", ("number_decimal_zero",), None)),
    # a fractional value: easting/northing are whole metres (NOT_INTEGER, quarantined)
    (" 530000 ", "180000.5", (None, None, (), "NOT_INTEGER")),
    ("", "180000.5", (None, None, (), "NOT_INTEGER")),
    ("0", N, (None, None, ("grid_zero",), None)),
    (E, "0", (None, None, ("grid_zero",), None)),
    ("-0", N, (None, None, ("grid_zero",), None)),
    ("99999", N, (None, None, ("grid_99999",), None)),
    (E, "99999", (None, None, ("grid_99999",), None)),
    ("99999.0", N, (None, None, ("grid_99999", "number_decimal_zero"), None)),
    ("abc", N, (None, None, ("grid_non_numeric",), None)),
    ("530,000", N, (None, None, ("grid_non_numeric",), None)),
    ("5.3e5", N, (None, None, ("grid_non_numeric",), None)),
    ("", N, (None, None, ("grid_missing",), None)),
    (None, None, (None, None, ("grid_missing",), None)),
    ("N/A", "N/A", (None, None, ("grid_missing",), None)),
    # missing wins over the other problems, then non-numeric, zero, 99999
    ("", "abc", (None, None, ("grid_missing",), None)),
    ("abc", "0", (None, None, ("grid_non_numeric",), None)),
    ("0", "99999", (None, None, ("grid_zero",), None)),
    # swapped back and flagged
    (N, E, ((530000.0, 180000.0), "exact", ("grid_swapped",), None)),
    # outside London + 5 km
    ("400000", N, (None, None, ("grid_outside_london",), None)),
    (E, "300000", (None, None, ("grid_outside_london",), None)),
    ("-530000", N, (None, None, ("grid_outside_london",), None)),
    ("300000", "400000", (None, None, ("grid_outside_london",), None)),
    (str(E_MIN - BUFFER), str(N_MIN - BUFFER), ((float(E_MIN - BUFFER), float(N_MIN - BUFFER)), "exact", (), None)),
    (str(E_MAX + BUFFER), str(N_MAX + BUFFER), ((float(E_MAX + BUFFER), float(N_MAX + BUFFER)), "exact", (), None)),
    (str(E_MIN - BUFFER - 1), N, (None, None, ("grid_outside_london",), None)),
    (E, str(N_MAX + BUFFER + 1), (None, None, ("grid_outside_london",), None)),
])
def test_grid_point(tx: Any, e: str | None, n: str | None, expected: tuple[Any, ...]) -> None:
    assert run(tx, "grid_point", e, n) == expected


def test_grid_point_precision_param(tx: Any) -> None:
    assert run(tx, "grid_point", E, N, precision="rounded") == ((530000.0, 180000.0), "rounded", (), None)
    assert run(tx, "grid_point", "0", N, precision="rounded") == (None, None, ("grid_zero",), None)


@pytest.mark.parametrize(("text", "expected"), [
    ("530000,180000", ((530000.0, 180000.0), "exact", (), None)),
    ("530000 180000", ((530000.0, 180000.0), "exact", (), None)),
    ("530000, 180000", ((530000.0, 180000.0), "exact", (), None)),
    (" 530000\t\u00a0180000 ", ((530000.0, 180000.0), "exact", (), None)),
    ("180000,530000", ((530000.0, 180000.0), "exact", ("grid_swapped",), None)),
    ("0,0", (None, None, ("grid_zero",), None)),
    ("99999 180000", (None, None, ("grid_99999",), None)),
    ("N/A", (None, None, ("grid_missing",), None)),
    ("", (None, None, ("grid_missing",), None)),
    ("530000", (None, None, ("grid_non_numeric",), None)),
    ("530000,180000,1", (None, None, ("grid_non_numeric",), None)),
    (",,", (None, None, ("grid_non_numeric",), None)),
    ("TQ 300 800", (None, None, ("grid_non_numeric",), None)),
    ("abc,def", (None, None, ("grid_non_numeric",), None)),
    ("400000,180000", (None, None, ("grid_outside_london",), None)),
])
def test_gridref_point(tx: Any, text: str, expected: tuple[Any, ...]) -> None:
    """TARGET-MODEL: LAS GridRef — split on comma or space, then as easting/northing."""
    assert run(tx, "gridref_point", text) == expected


# ================================================================== boroughs
@pytest.mark.parametrize(("text", "norm"), [
    ("Kensington & Chelsea", "KENSINGTON AND CHELSEA"),
    ("Kensington And Chelsea", "KENSINGTON AND CHELSEA"),
    ("KENSINGTON AND CHELSEA", "KENSINGTON AND CHELSEA"),
    ("  kensington&chelsea\u00a0", "KENSINGTON AND CHELSEA"),
    ("Royal Borough of Kingston upon Thames", "KINGSTON UPON THAMES"),
    ("London Borough of Barnet", "BARNET"),
    ("City of Westminster", "WESTMINSTER"),
    ("city of  westminster", "WESTMINSTER"),
    ("City of London", "CITY OF LONDON"),
    ("Heathrow", "HEATHROW"),
    ("N/A", None), ("", None), ("&", "AND"),
])
def test_normalise_borough(text: str, norm: str | None) -> None:
    assert normalise_borough(text) == norm


def test_borough_gss(tx: Any) -> None:
    """TARGET-MODEL borough rule: normalise, la_alias; Heathrow → Hillingdon flagged; ward fallback;
    blank → NULL flagged (loads); non-empty text resolving neither way → quarantine."""
    assert run(tx, "borough_gss", "Kensington & Chelsea", None) == (tx.KENSINGTON, (), None)
    assert run(tx, "borough_gss", "Royal Borough of Kingston upon Thames", None) == (tx.KINGSTON, (), None)
    assert run(tx, "borough_gss", "Kingston", None) == (tx.KINGSTON, (), None)
    assert run(tx, "borough_gss", "City of Westminster", None) == (tx.WESTMINSTER, (), None)
    assert run(tx, "borough_gss", "City of London", None) == (tx.CITY, (), None)
    assert run(tx, "borough_gss", "Heathrow", None) == (tx.HILLINGDON, ("borough_heathrow",), None)
    # the text wins over the ward
    assert run(tx, "borough_gss", "Camden", "E05000235") == (tx.CAMDEN, (), None)
    # unresolvable text, ward code known → from the ward (case-insensitive), flagged
    assert run(tx, "borough_gss", "Narnia", "e05000235") == (tx.HACKNEY, ("borough_from_ward",), None)
    assert run(tx, "borough_gss", "", " E05000128 ") == (tx.CAMDEN, ("borough_from_ward",), None)
    # nothing to resolve: loads without a location
    assert run(tx, "borough_gss", "", None) == (None, ("borough_missing",), None)
    assert run(tx, "borough_gss", "Unknown", None) == (None, ("borough_missing",), None)
    assert run(tx, "borough_gss", "Unknown", "X") == (None, ("borough_missing",), None)
    # non-empty text resolving neither way → quarantine
    assert run(tx, "borough_gss", "Narnia", None) == (None, (), "UNRESOLVED_BOROUGH")
    assert run(tx, "borough_gss", "Narnia", "E05999999") == (None, (), "UNRESOLVED_BOROUGH")


def test_borough_list(tx: Any) -> None:
    """TARGET-MODEL: split, normalise through la_alias, one grant per authority; ALL → NULL;
    Heathrow reported, never widened to Hillingdon; unmatched names reported."""
    assert run(tx, "borough_list", "Camden, Hackney") == ((tx.CAMDEN, tx.HACKNEY), ())
    assert run(tx, "borough_list", "Hackney,Camden,camden") == ((tx.CAMDEN, tx.HACKNEY), ())
    assert run(tx, "borough_list", "Kensington & Chelsea,City of Westminster") == ((tx.KENSINGTON, tx.WESTMINSTER), ())
    assert run(tx, "borough_list", "ALL") == ((None,), ())
    assert run(tx, "borough_list", " all ") == ((None,), ())
    assert run(tx, "borough_list", "Camden,ALL") == ((None,), ())
    assert run(tx, "borough_list", "Heathrow") == ((), ("borough_not_widened",))
    assert run(tx, "borough_list", "Hillingdon,Heathrow") == ((tx.HILLINGDON,), ("borough_not_widened",))
    assert run(tx, "borough_list", "Camden,Narnia,Gondor") == ((tx.CAMDEN,), ("borough_unmatched",))
    assert run(tx, "borough_list", "Narnia,Heathrow") == ((), ("borough_unmatched", "borough_not_widened"))
    assert run(tx, "borough_list", "Camden,,") == ((tx.CAMDEN,), ())
    assert run(tx, "borough_list", "") == ((), ("borough_list_empty",))
    assert run(tx, "borough_list", "Camden;Hackney", separator=";") == ((tx.CAMDEN, tx.HACKNEY), ())
    # a misspelling grants its borough and says so (kinds user.allowed_misspelt: flagged borough_misspelt)
    assert run(tx, "borough_list", "Camdon, Hackney") == ((tx.CAMDEN, tx.HACKNEY), ("borough_misspelt",))
    assert run(tx, "borough_list", "Hackny,Camdon,Narnia") == ((tx.CAMDEN, tx.HACKNEY),
                                                               ("borough_misspelt", "borough_unmatched"))


def test_offence_category(tx: Any) -> None:
    """TARGET-MODEL: look up; orphan → an explicit UNKNOWN category and a flag, never a lost row."""
    assert run(tx, "offence_category", "12") == (112, ())
    assert run(tx, "offence_category", " 7 ") == (107, ())
    assert run(tx, "offence_category", "007") == (107, ())
    assert run(tx, "offence_category", "999") == (999, ("offence_unknown",))
    assert run(tx, "offence_category", "abc") == (999, ("offence_unknown",))
    assert run(tx, "offence_category", "") == (999, ("offence_unknown",))
    assert run(tx, "offence_category", "12", scheme="OTHER") == (None, ("offence_unknown",))


def test_ref_lookup(tx: Any) -> None:
    assert run(tx, "ref_lookup", "1") == ("RQX01", (), None)
    assert run(tx, "ref_lookup", " 2 ") == ("R1H12", (), None)
    assert run(tx, "ref_lookup", "3") == (None, (), "UNKNOWN_HOSPITAL")
    assert run(tx, "ref_lookup", "3", reject=None) == (None, ("ref_not_found",), None)
    assert run(tx, "ref_lookup", "") == (None, (), None)
    # an id that is not a whole number is not found (it used to load silently with no site);
    # a fractional one, where an integer is declared, is NOT_INTEGER (runbooks/mappings.md)
    assert run(tx, "ref_lookup", "x") == (None, (), "UNKNOWN_HOSPITAL")
    assert run(tx, "ref_lookup", "2.5") == (None, (), "NOT_INTEGER")
    assert run(tx, "ref_lookup", "2.0") == ("R1H12", ("number_decimal_zero",), None)


def test_borough_parameters_are_normalised_like_the_text(tx: Any) -> None:
    """A parameter spelt as people write it must behave as its normalised form: otherwise
    never_widen: [Heathrow] would silently widen Heathrow to all of Hillingdon."""
    assert run(tx, "borough_list", "Heathrow", never_widen=["Heathrow"]) == ((), ("borough_not_widened",))
    assert run(tx, "borough_list", "heathrow ", never_widen=[" London  Heathrow", "heathrow"]) == (
        (), ("borough_not_widened",))
    assert run(tx, "borough_list", "Everywhere", all_value="everywhere") == ((None,), ())
    assert run(tx, "borough_gss", "Not known", None, no_location_values=["Not Known"]) == (
        None, ("borough_missing",), None)
    assert run(tx, "borough_gss", "not  known", None, no_location_values=["NOT KNOWN"]) == (
        None, ("borough_missing",), None)


def test_london_to_utc_by_the_hour_equals_the_exact_rule_on_every_transition_day() -> None:
    """The cached per-hour offset gives exactly what zoneinfo gives, minute by minute, on every
    day Europe/London changed its offset from 1900 to 2099 (double summer time included)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from migration.mapping.transforms.dates import _london_exact, london_to_utc

    tz = ZoneInfo("Europe/London")
    days = 0
    for year in range(1900, 2100):
        day = datetime(year, 1, 1)
        while day.year == year:
            nxt = day + timedelta(days=1)
            if day.replace(tzinfo=tz).utcoffset() != nxt.replace(tzinfo=tz).utcoffset():
                days += 1
                for minute in range(0, 48 * 60, 7):
                    t = day + timedelta(minutes=minute, seconds=minute % 60, microseconds=minute)
                    assert london_to_utc(t) == _london_exact(t), t
            day = nxt
    assert days > 300  # two a year since 1916, and the war years' extra ones
