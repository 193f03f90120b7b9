"""Value shapes and the sketches behind the column statistics."""

from __future__ import annotations

import polars as pl
import pytest

from migration.audit.masking import mask_example
from migration.audit.stats import KMV, ColumnStats, MisraGries, column_shapes, shape_of


@pytest.mark.parametrize(("value", "shape"), [
    ("9/3/2010", "9/9/9999"), ("09/03/2010", "99/99/9999"), ("521277.0", "999999.9"), ("\x00CAMDEN", "^AAAA"),
    ("27/8/2014", "99/9/9999"), ("9:1", "9:9"), ("", "(empty)"), ("MP10SD0002442", "AA99AA9999999"),
    ("Kensington & Chelsea", "Aaaaa & Aaaaa"), ("Café\tNero", "Aaaa^Aaaa"), ("ÉCOLE", "AAAA"),
    ("12345678901", "99999999+"), ("a\u0085b", "a^a"),
])
def test_shapes(value: str, shape: str) -> None:
    assert shape_of(value) == shape


def test_column_shapes_distinct_path_equals_the_direct_one() -> None:
    values = ["9/3/2010", None, "09/03/2010"] * 50 + ["x\x00y", "Zürich"]
    s = pl.Series("c", values, dtype=pl.String)
    assert column_shapes(s).to_list() == [None if v is None else shape_of(v) for v in values]


def test_kmv_is_exact_below_k_and_close_above() -> None:
    small = KMV(k=256)
    small.add(pl.Series([str(i) for i in range(200)]).hash(seed=0))
    assert small.exact and small.estimate() == 200
    big = KMV(k=1024)
    for start in range(0, 100_000, 10_000):
        big.add(pl.Series([str(i) for i in range(start, start + 10_000)]).hash(seed=0))
    assert not big.exact
    assert abs(big.estimate() - 100_000) < 100_000 * 4 * big.relative_error


def test_misra_gries_undercount_is_bounded() -> None:
    mg = MisraGries(capacity=3)
    truth = {"a": 50, "b": 30, "c": 10, "d": 5, "e": 5}
    mg.add_counts(truth)
    for k, n in mg.counts.items():
        assert truth[k] - mg.error <= n <= truth[k]
    assert mg.top(1)[0][0] == "a"


def test_no_value_spellings_are_decided_by_the_cleaning_rule() -> None:
    st = ColumnStats("c", showable=True, mask=mask_example)
    s = pl.Series("c", ["N/A", "n/a", "  ", "", "-", "NULL", "x", None], dtype=pl.String)
    st.update(s, column_shapes(s))
    assert st.nulls == 1 and st.rows == 8
    assert set(st.no_value) == {"'N/A'", "'n/a'", "'  '", "''", "'-'", "'NULL'"}


def test_masking_keeps_codes_and_hides_identifiers() -> None:
    assert mask_example("9/3/2010") == "9/3/2010"
    assert mask_example("MP10SD0002442") == "MP10SD0002442"
    assert mask_example("2017-03-26 01:30:00") == "2017-03-26 01:30:00"
    assert mask_example("a\x00b") == "a\\x00b"
    for identifier in ("9434765919", "943 476 5919", "call 07700 900123", "jo@example.org", "Mr John Smith"):
        assert identifier not in mask_example(identifier), identifier
