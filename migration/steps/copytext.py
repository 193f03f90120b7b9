"""A transformed chunk as COPY text: PostgreSQL types of the Polars columns, arrays and
EWKB points written out, and a NUL in text refused (:class:`NulInText`) — what
:class:`migration.steps.load.TableLoad` sends to ``_chunk``."""

from __future__ import annotations

import io
from collections.abc import Callable

import polars as pl

_PG_TYPES = {
    pl.String: 'text COLLATE "C"',
    pl.Int64: "bigint",
    pl.Int32: "integer",
    pl.Boolean: "boolean",
    pl.Date: "date",
    pl.Float64: "double precision",
}


def _pg_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz" if dtype.time_zone else "timestamp"
    if isinstance(dtype, pl.Decimal):
        return "numeric(19,4)"
    if isinstance(dtype, pl.List):
        return "text[]"
    if isinstance(dtype, pl.Struct):
        return "geometry(Point,27700)"
    if dtype == pl.Null:
        return "text"
    for k, v in _PG_TYPES.items():
        if dtype == k:
            return v
    raise TypeError(f"no PostgreSQL type for {dtype}")


def _array_literal(e: pl.Expr) -> pl.Expr:
    """A list of strings as a PostgreSQL array literal (every element quoted)."""
    quoted = e.list.eval(
        pl.when(pl.element().is_null()).then(pl.lit("NULL")).otherwise(
            pl.concat_str([pl.lit('"'), pl.element().str.replace_all("\\", "\\\\", literal=True)
                          .str.replace_all('"', '\\"', literal=True), pl.lit('"')])))
    return pl.concat_str([pl.lit("{"), quoted.list.join(","), pl.lit("}")])


_EWKB_POINT_27700 = bytes.fromhex("0101000020346c0000")  # little-endian Point with SRID 27700



def _ewkb_hex(points: pl.Series) -> pl.Series:
    """Points {x, y} as hex EWKB (PostGIS parses it faster than WKT), nulls kept."""
    import numpy as np

    x = points.struct.field("x").fill_null(0.0).to_numpy().astype("<f8")
    y = points.struct.field("y").fill_null(0.0).to_numpy().astype("<f8")
    n = len(x)
    buf = np.empty((n, 25), dtype=np.uint8)
    buf[:, :9] = np.frombuffer(_EWKB_POINT_27700, dtype=np.uint8)
    buf[:, 9:17] = x.view(np.uint8).reshape(n, 8)
    buf[:, 17:25] = y.view(np.uint8).reshape(n, 8)
    flat = buf.tobytes().hex()
    hexes = [flat[i * 50:(i + 1) * 50] for i in range(n)]
    return pl.Series(points.name, hexes, dtype=pl.String).zip_with(points.is_not_null(),
                                                                    pl.Series([None] * n, dtype=pl.String))


class NulInText(Exception):
    """A text value holding NUL reached COPY (PostgreSQL text cannot store it): a bug, since
    text cleaning removes it.  ``row`` is the frame's row index, ``column`` its column."""

    def __init__(self, column: str, row: int) -> None:
        super().__init__(f"column {column} of row {row} holds a NUL character")
        self.column, self.row = column, row


def _find_nul(frame: pl.DataFrame) -> NulInText:
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            hits = frame.get_column(name).str.contains("\x00", literal=True).arg_true()
            if hits.len():
                return NulInText(name, int(hits[0]))
    return NulInText("?", -1)  # pragma: no cover - the bytes held a NUL, so some column does


def to_copy_csv(frame: pl.DataFrame) -> tuple[bytes, list[tuple[str, str]]]:
    """The frame as COPY CSV (NULL = unquoted \\N) and its (column, PostgreSQL type) list.

    Every text value is quoted, so ``\\N``, backslashes, quotes, ``\\.`` and line breaks
    arrive as they are (CSV has no backslash escapes; only an unquoted ``\\N`` is NULL).
    The one value PostgreSQL text cannot hold, NUL, raises :class:`NulInText` (one memchr
    over the bytes) instead of failing the COPY with no row named."""
    cols: list[tuple[str, str]] = []
    exprs = []
    for name, dtype in frame.schema.items():
        cols.append((name, _pg_type(dtype)))
        if isinstance(dtype, pl.List):
            exprs.append(_array_literal(pl.col(name)).alias(name))
        elif isinstance(dtype, pl.Struct):
            exprs.append(pl.lit(_ewkb_hex(frame.get_column(name))).alias(name))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(pl.col(name).dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00").alias(name))
        else:
            exprs.append(pl.col(name))
    out = frame.select(exprs)
    buf = io.BytesIO()
    out.write_csv(buf, include_header=False, null_value="\\N", quote_style="non_numeric")
    data = buf.getvalue()
    if b"\x00" in data:
        raise _find_nul(out)
    return data, cols


class _FaultyStream(io.BytesIO):
    """COPY input that calls the fault hook halfway through (the kill-9 test's mid-COPY point)."""

    def __init__(self, data: bytes, fault: Callable[..., None], chunk_no: int, table: str) -> None:
        super().__init__(data)
        self.half = len(data) // 2
        self.fault, self.chunk_no, self.table, self.fired = fault, chunk_no, table, False

    def read(self, size: int | None = -1) -> bytes:
        if not self.fired and self.tell() >= self.half:
            self.fired = True
            self.fault("mid_copy", self.chunk_no, self.table)
        return super().read(size)
