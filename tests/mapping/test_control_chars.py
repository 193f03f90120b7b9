"""Control characters in legacy text: removed (free text keeps tabs and line breaks), the row
flagged ``control_chars_removed``, keys never touched; the Polars form, the row-by-row and
the column-wise Python references agree on hostile input (TARGET-MODEL "any text" rule).

And the decoding in front of it (migration.db.codec): no byte sequence and no lone
surrogate makes reading a value fail."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import fixtures_legacy_rows as legacy_rows
import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from test_differential import CONTROLS, SETTINGS, hostile_text
from test_mapping_set import BASE, BY_TABLE, run_both

from migration.db.codec import decode_bytes, decode_column, to_text
from migration.mapping.sourcetext import CONTROL_FLAG, TextCleaning, non_text_columns
from migration.mapping.transforms.text import CONTROL_CLASS, pl_remove_controls, remove_controls

TEXTS = st.lists(hostile_text, min_size=1, max_size=40)


# ------------------------------------------------------------------ the character classes
@SETTINGS
@given(TEXTS)
@example(["A\x00B", "ABC\t", "\x00", "N/A\x00", "A\tB", "x\x81y", None, " \x7f ", "\ufffd", "a\r\nb", "\\N\x00"])
def test_polars_and_python_remove_the_same_characters_and_flag_the_same_rows(values: list[str | None]) -> None:
    for kind in CONTROL_CLASS:
        v, f = pl_remove_controls(pl.col("v"), kind)
        got = pl.DataFrame({"v": values}, schema={"v": pl.String}).select(v.alias("v"), f.fill_null(False).alias("f"))
        want = [remove_controls(x, kind) for x in values]
        assert list(zip(got["v"].to_list(), got["f"].to_list(), strict=True)) == want, kind


@SETTINGS
@given(st.lists(st.tuples(hostile_text, hostile_text, hostile_text), min_size=1, max_size=40))
@example([("ok", "Caf\u00e9", "a\tb"), ("x\x00", None, "\r\n"), (None, "\u00a3", "plain")])
def test_the_frame_form_equals_both_python_references(rows: list[tuple[str | None, ...]]) -> None:
    """Whole-frame cleaning (byte pre-check, regex, only matching rows rewritten) gives every
    row what the row-by-row and the column-wise references give it."""
    cleaning = TextCleaning({"a": "text", "b": "free", "k": "text"})
    names = ["a", "b", "k"]
    df = pl.DataFrame([pl.Series(n, [r[i] for r in rows], dtype=pl.String) for i, n in enumerate(names)])
    out, flag = cleaning.frame(df)
    flags = flag.to_list() if flag is not None else [False] * len(rows)
    cols: dict[str, list[Any]] = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    col_flags = cleaning.columns(cols, len(rows)) or [False] * len(rows)
    for i, r in enumerate(rows):
        env: dict[str, Any] = dict(zip(names, r, strict=True))
        f = cleaning.row(env)
        assert out.row(i) == tuple(env[n] for n in names) == tuple(cols[n][i] for n in names), r
        assert flags[i] == f == col_flags[i], r


@pytest.mark.parametrize(("raw", "kind", "value", "flagged"), [
    ("Camden\x00", "text", "Camden", True),
    ("\x00\x00", "text", "", True),            # then clean → NULL: a value of controls only is no value
    ("N/A\x1a", "text", "N/A", True),          # a "no value" spelling behind a control is still no value
    ("Camden\t", "text", "Camden", False),     # trimming removes a trailing tab anyway: no alteration
    ("Kensington\tand Chelsea", "text", "Kensingtonand Chelsea", True),
    ("Kensington\tand Chelsea", "free", "Kensington\tand Chelsea", False),
    ("line 1\r\nline 2\x0b", "free", "line 1\r\nline 2", False),
    ("line 1\x0cline 2", "free", "line 1line 2", True),
    ("caf\u00e9 \u2013 \u00a325", "text", "caf\u00e9 \u2013 \u00a325", False),  # Windows-1252 text is no control
    ("x\x81\x8d\x8f\x90\x9dy", "text", "xy", True),     # the five bytes cp1252 leaves undefined
    ("bad\ufffdbyte", "text", "badbyte", True),
    ("lone\ud800", "text", "lone", True),     # Python side only: Polars strings cannot hold one
    ("\\N", "text", "\\N", False),            # backslashes are text, never an escape
])
def test_remove_controls(raw: str, kind: str, value: str, flagged: bool) -> None:
    assert remove_controls(raw, kind) == (value, flagged)


# ------------------------------------------------------------------ per table mapping
def _hostile_rows(table: str, n: int = 60) -> list[dict[str, Any]]:
    rows = legacy_rows.generate(table, seed=3)[:n]
    base = BASE[table]
    planted = ["\x00", "\x1b", "\x7f", "\x81", "\x9d", "\ufffd", "\t", "\r\n", "\x0c", "\\N", "\\"]
    out = []
    for i, r in enumerate(rows):
        r = dict(r)
        for j, c in enumerate(base):
            v = r.get(c)
            if isinstance(v, str) and (i + j) % 3 == 0:
                ch = planted[(i + j) % len(planted)]
                r[c] = [ch + v, v + ch, v[:1] + ch + v[1:]][(i * 7 + j) % 3]
        out.append(r)
    return out


@pytest.mark.parametrize("table", ["tblMPSCrime", "tblTransportCrime", "tblISTVAssault", "tblLFBIncident",
                                   "tblLASAssault", "tblUser", "tblBorough"])
def test_engine_and_references_agree_on_rows_with_control_characters(table: str) -> None:
    import fixtures_lookups as fx
    from test_mapping_set import LOOKUPS

    from migration.reconcile.reference import ChunkReference

    rows = _hostile_rows(table)
    _recs, refs = run_both(table, rows)   # engine (Polars) == RowEvaluator on every column
    _, tm = BY_TABLE[table]
    tables, _frames = fx.table_lookups(tm)
    chunk = ChunkReference(tm, LOOKUPS, tables).outcomes(rows)
    assert [(o.key, o.disp, o.reason, o.rows) for o in chunk] == [(o.key, o.disp, o.reason, o.rows) for o in refs]
    flagged = [o for o in refs for rows_ in o.rows.values() for r in rows_
               if CONTROL_FLAG in (r.get("dq_flags") or ())]
    has_flags = any(c.kind == "flags" for t in tm.targets.values() for c in t.columns.values())
    if has_flags and any(o.disp == "load" for o in refs):
        assert flagged, f"{table}: no loaded row carries {CONTROL_FLAG}"


@pytest.mark.parametrize("table", ["tblMPSCrime", "tblTransportCrime", "tblISTVAssault"])
def test_business_keys_and_the_legacy_key_are_never_cleaned(table: str) -> None:
    _, tm = BY_TABLE[table]
    cleaning = TextCleaning.of(tm)
    for c in tm.business_key.columns + [tm.source.key]:
        assert c not in cleaning.kinds
    declared_text = set(tm.source.columns) - non_text_columns(table)
    assert set(cleaning.kinds) == declared_text - set(tm.business_key.columns) - {tm.source.key}
    assert set(tm.source.free_text) <= set(cleaning.kinds)


def test_columns_the_dictionary_declares_as_numbers_or_datetimes_are_not_cleaned() -> None:
    assert non_text_columns("tblMPSCrime") == {"RecID", "ReportedDT", "CrimeTypeID", "KnifeFlag", "BatchID",
                                               "LastModified"}
    assert "NotionalCost" in non_text_columns("tblLFBIncident")  # money
    assert non_text_columns("tblNotInTheDictionary") == set()


def test_a_control_character_in_a_column_is_removed_and_the_row_flagged() -> None:
    row = {**BASE["tblMPSCrime"], "Location": "On or near\x00 Oxford\tStreet", "Borough": "Cam\x1bden"}
    (ref,), = [run_both("tblMPSCrime", [row])[1]]
    assert ref.disp == "load"
    inc, = ref.rows["core.incident"]
    crime, = ref.rows["core.police_crime"]
    assert crime["location_text"] == "On or near Oxford\tStreet"   # free text keeps its tab
    assert inc["gss_code"] == "E09000007"                           # Camden, once the ESC is gone
    assert inc["dq_flags"][-1] == CONTROL_FLAG


def test_a_key_with_a_control_character_reaches_the_key_logic_unchanged() -> None:
    row = {**BASE["tblMPSCrime"], "CrimeRef": "01AB\x00123456"}
    (ref,), = [run_both("tblMPSCrime", [row])[1]]
    # not cleaned into another key ("01AB123456"): the key rule sees the NUL and quarantines
    assert (ref.disp, ref.reason, ref.business_key) == ("quarantine", "INVALID_KEY", "01AB\\x00123456")


# ------------------------------------------------------------------ decoding
@pytest.mark.parametrize(("raw", "text"), [
    (b"caf\xc3\xa9", "caf\u00e9"),                       # valid UTF-8 is UTF-8
    (b"caf\xe9 \x96 \x80\xa3", "caf\u00e9 \u2013 \u20ac\u00a3"),  # else Windows-1252
    (b"A\x81B\x8d\x8f\x90\x9d", "A\x81B\x8d\x8f\x90\x9d"),       # undefined bytes → C1 controls
    (b"A\x00B", "A\x00B"),
    (b"\xed\xa0\x80", "\u00ed\u00a0\u20ac"),              # an encoded surrogate is not UTF-8
])
def test_decode_bytes(raw: bytes, text: str) -> None:
    assert decode_bytes(raw) == text


def test_lone_surrogates_become_the_replacement_character() -> None:
    assert to_text("ab\ud800c\udfff") == "ab\ufffdc\ufffd"
    s = decode_column("v", ["ok", "ab\ud800", None])
    assert s.to_list() == ["ok", "ab\ufffd", None]


@given(st.binary(max_size=20))
@SETTINGS
def test_no_byte_sequence_fails_to_decode(raw: bytes) -> None:
    text = decode_bytes(raw)
    assert isinstance(text, str)
    text.encode("utf-8")  # holds no surrogate: Polars and PostgreSQL can take it


def test_sqlite_readers_take_any_bytes(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    from migration.db.engines import source_engine
    from migration.db.source import SourceReader

    path = tmp_path / "bytes.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k VARCHAR(10), v VARCHAR(10))")
    hexes = ["41004200", "41ff42", "418142", "eda080", "5c4e", "c3a9"]
    for i, h in enumerate(hexes, start=1):
        conn.execute(f"INSERT INTO t VALUES ({i}, 'k{i}', CAST(x'{h}' AS TEXT))")
    conn.execute("CREATE TABLE u (k VARCHAR(10) PRIMARY KEY, v VARCHAR(10))")  # text key: the sqlite3 path
    for i, h in enumerate(hexes, start=1):
        conn.execute(f"INSERT INTO u VALUES ('k{i}', CAST(x'{h}' AS TEXT))")
    conn.commit()
    conn.close()
    want = [decode_bytes(bytes.fromhex(h)) for h in hexes]
    reader = SourceReader(source_engine(make_url(f"sqlite:///{path}")))
    adbc = pl.concat([c.frame for c in reader.stream("t", ["id", "v"], key="id", chunk_rows=4)])
    assert adbc.get_column("v").to_list() == [to_text(w) for w in want]
    py = pl.concat([c.frame for c in reader.stream("u", ["k", "v"], key="k", key_type="text")])
    assert py.get_column("v").to_list() == [to_text(w) for w in want]
    assert decode_column("x", list(CONTROLS)).to_list() == [to_text(c) for c in CONTROLS]
