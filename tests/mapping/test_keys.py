"""The business-key rule (migration/mapping/keys.py): one hand-written table, both forms.

Written from TARGET-MODEL's "business keys" row and SPLIT.md's "invalid key" characters,
not from the code: the Python reference (reconciliation's side) and the Polars form (the
load's side) must each give exactly these answers — a differential test alone could not
catch a misreading both share.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migration.mapping import keys

P = "RecID:"
#: (key parts, prefix, legacy key) → (state, effective key, recorded key, flags)
GOLDEN: list[tuple[tuple[str | None, ...], str | None, str, tuple[str, str | None, str | None, tuple[str, ...]]]] = [
    # an ordinary key is only trimmed (spaces, tabs, line breaks, NBSP at either end)
    (("MP10SD0002442",), P, "7", ("ok", "MP10SD0002442", "MP10SD0002442", ())),
    ((" MP10SD0002442 \t",), P, "7", ("ok", "MP10SD0002442", "MP10SD0002442", ())),
    (("\u00a0MP1\n",), P, "7", ("ok", "MP1", "MP1", ())),
    (("mp10sd0002442",), P, "7", ("ok", "mp10sd0002442", "mp10sd0002442", ())),  # never case-folded
    (("MP 10",), P, "7", ("ok", "MP 10", "MP 10", ())),                          # inner space kept
    (("NA",), P, "7", ("ok", "NA", "NA", ())),                                   # not a no-value spelling
    (("N/A1",), P, "7", ("ok", "N/A1", "N/A1", ())),
    (("Ünïcödé",), P, "7", ("ok", "Ünïcödé", "Ünïcödé", ())),
    # blank, every spelling: the legacy key, flagged
    ((None,), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("   ",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("\t\r\n",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("\u00a0",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("N/A",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("n/a",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    ((" N/a ",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("NULL",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("null",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("Null",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    (("-",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    ((" - ",), P, "7", ("blank", "RecID:7", None, ("key_blank",))),
    # blank where the key is the legacy primary key (no prefix): no key at all → quarantine
    ((None,), None, "7", ("blank", None, None, ())),
    (("n/a",), None, "7", ("blank", None, None, ())),
    # characters no key may hold: never cleaned into another key
    (("MP1\x00",), P, "7", ("invalid", None, "MP1\\x00", ())),
    (("\x00",), P, "7", ("invalid", None, "\\x00", ())),
    (("MP\t1",), P, "7", ("invalid", None, "MP\\x091", ())),
    (("MP\x1f1",), P, "7", ("invalid", None, "MP\\x1f1", ())),
    (("MP\x7f1",), P, "7", ("invalid", None, "MP\\x7f1", ())),
    (("MP\x811",), P, "7", ("invalid", None, "MP\\x811", ())),    # cp1252-undefined byte 0x81
    (("MP\x9f1",), P, "7", ("invalid", None, "MP\\x9f1", ())),
    (("MP\ufffd1",), P, "7", ("invalid", None, "MP\\ufffd1", ())),  # an undecodable byte
    (("MP\x001",), None, "7", ("invalid", None, "MP\\x001", ())),
    (("MP\u00a01",), P, "7", ("ok", "MP\u00a01", "MP\u00a01", ())),  # NBSP inside is a character
    # the reserved prefix (exact, case-sensitive, after trimming)
    (("RecID:5",), P, "7", ("reserved", None, "RecID:5", ())),
    ((" RecID:5",), P, "7", ("reserved", None, "RecID:5", ())),
    (("RecID:",), P, "7", ("reserved", None, "RecID:", ())),
    (("recid:5",), P, "7", ("ok", "recid:5", "recid:5", ())),
    (("RecID:5",), None, "7", ("ok", "RecID:5", "RecID:5", ())),   # no legacy-key loading: no collision
    # composite keys: '|'-joined; any blank part → blank, any invalid part → invalid
    (("E05000026", "2014"), None, "x", ("ok", "E05000026|2014", "E05000026|2014", ())),
    ((" E05000026", "2014 "), None, "x", ("ok", "E05000026|2014", "E05000026|2014", ())),
    (("E05000026", None), None, "x", ("blank", None, None, ())),
    (("E05000026", "N/A"), None, "x", ("blank", None, None, ())),
    (("E05\x0026", None), None, "x", ("invalid", None, "E05\\x0026", ())),
]


def _python(parts: tuple[str | None, ...], prefix: str | None, legacy: str) -> tuple[object, ...]:
    state, key = keys.key_state(parts, prefix)
    return (state, keys.effective_key(state, key, legacy, prefix), keys.printable(key), keys.key_flags(state, prefix))


def _polars(rows: list[tuple[tuple[str | None, ...], str | None, str]]) -> list[tuple[object, ...]]:
    out = []
    for parts, prefix, legacy in rows:  # one frame per row: prefixes differ between rows
        n = len(parts)
        df = pl.DataFrame({f"p{i}": [parts[i]] for i in range(n)} | {"_src_key": [legacy]},
                          schema={**{f"p{i}": pl.String for i in range(n)}, "_src_key": pl.String})
        got = keys.escape_invalid(keys.with_key_columns(df, [f"p{i}" for i in range(n)], "_src_key", prefix))
        r = got.row(0, named=True)
        out.append((r["_kstate"], r["_key"], r["_bkey"], tuple(r["_key_flags"])))
    return out


@pytest.mark.parametrize(("parts", "prefix", "legacy", "expected"), GOLDEN)
def test_python_reference_follows_the_rule(parts, prefix, legacy, expected) -> None:  # type: ignore[no-untyped-def]
    assert _python(parts, prefix, legacy) == expected


@pytest.mark.parametrize(("parts", "prefix", "legacy", "expected"), GOLDEN)
def test_polars_form_follows_the_rule(parts, prefix, legacy, expected) -> None:  # type: ignore[no-untyped-def]
    assert _polars([(parts, prefix, legacy)]) == [expected]


def test_a_surrogate_is_an_invalid_key_character_in_the_reference() -> None:
    # Polars strings cannot hold lone surrogates (readers hand U+FFFD over); Python text can
    assert keys.key_state(["MP\ud8001"], P) == ("invalid", "MP\ud8001")
    assert keys.printable("MP\ud8001") == "MP\\ud8001"


_KEYISH = st.text(alphabet=st.sampled_from(list("AMP019 -/:\t\u00a0\x00\x85\ufffdNULnulRecID")), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), _KEYISH, st.sampled_from(["N/A", "null", " - ", "RecID:3"])),
                          st.sampled_from([P, None]), st.sampled_from(["1", "22"])), min_size=1, max_size=6))
def test_polars_agrees_with_python_on_hostile_keys(rows: list[tuple[str | None, str | None, str]]) -> None:
    cases = [((v,), prefix, legacy) for v, prefix, legacy in rows]
    assert _polars(cases) == [_python(*c) for c in cases]


def test_which_tables_load_a_blank_key_under_the_legacy_key() -> None:
    from pathlib import Path

    from migration.mapping.order import parsed_specs as load_specs

    specs = load_specs(Path(__file__).resolve().parents[2] / "mappings")
    prefixes = {tm.source.table: keys.legacy_key_prefix(tm) for s in specs for tm in s.tables}
    assert prefixes["tblMPSCrime"] == "RecID:"
    # the business key IS the legacy primary key (or there is none): a blank one quarantines
    for table in ("tblLFBIncident", "tblLASAssault", "tblTransportCrime", "tblISTVAssault", "tblWard"):
        assert prefixes[table] is None, table
