"""How chunks are serialised for COPY: every text value arrives as it was, whatever it holds
(``\\N``, backslashes, quotes, ``\\.``, line breaks, Windows-1252 and C1 characters), and
the one value PostgreSQL text cannot hold, NUL, is named instead of failing the COPY."""

from __future__ import annotations

import io

import polars as pl
import psycopg2
import pytest
from sqlalchemy.engine import URL

from migration.steps.load import NulInText, to_copy_csv

HOSTILE = ["\\N", "", "\\", "a\\b", "\\.", "A\n\\.\nB", "\\.\n", "x\r\ny", '"q"', "\t", "NULL", None, "1",
           "  lead", "\u00e9\u20ac", "\u0081", "\\\\N", "a,b", "{x}", "\ufffd", "\u00a0"]


@pytest.mark.postgres
def test_every_text_value_survives_copy(pg_url: URL) -> None:
    df = pl.DataFrame({"k": list(range(len(HOSTILE))), "v": HOSTILE, "l": [[v, None, '"\\{}'] for v in HOSTILE]},
                      schema={"k": pl.Int64, "v": pl.String, "l": pl.List(pl.String)})
    data, types = to_copy_csv(df)
    assert types == [("k", "bigint"), ("v", 'text COLLATE "C"'), ("l", "text[]")]
    conn = psycopg2.connect(host=pg_url.host, port=pg_url.port, user=pg_url.username, dbname=pg_url.database)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TEMP TABLE t (k bigint, v text, l text[])")
        cur.copy_expert("COPY t FROM STDIN WITH (FORMAT csv, NULL '\\N')", io.BytesIO(data))
        cur.execute("SELECT v, l FROM t ORDER BY k")
        assert cur.fetchall() == [(v, [v, None, '"\\{}']) for v in HOSTILE]
    finally:
        conn.close()


def test_a_nul_is_named_by_column_and_row_before_copy() -> None:
    df = pl.DataFrame({"k": [1, 2, 3], "a": ["x", "y", "z"], "b": ["ok", "ok", "n\x00l"]})
    with pytest.raises(NulInText) as err:
        to_copy_csv(df)
    assert (err.value.column, err.value.row) == ("b", 2)
    with pytest.raises(NulInText) as err:
        to_copy_csv(pl.DataFrame({"l": [["a"], ["b\x00"]]}))
    assert (err.value.column, err.value.row) == ("l", 1)
