"""Control characters out of legacy text, before any transform sees it.

TARGET-MODEL: "NUL and other control characters removed (line breaks and tabs kept in
free text), the row flagged … no text value ever stops a stage".  PostgreSQL text cannot
hold NUL at all, and the other controls are noise no analyst wants.  Every column a table
mapping extracts whose declared type is text (``char``/``varchar``/``nvarchar`` in the data
dictionary, :mod:`migration.schema.legacy`; an undeclared column counts as text) is cleaned
with one precompiled character class (:data:`migration.mapping.transforms.text.CONTROL_CLASS`:
``free`` for the columns the mapping lists in ``source.free_text``, ``text`` for the
others), except

- the legacy primary key (``source.key``): it identifies the row in the ledger, and
- the business-key columns: a key is never altered except by trimming (a key holding
  control characters is the key checks' business, never cleaned into another row's key).

A row whose text was altered carries the flag ``control_chars_removed`` in every
``flags`` column of its targets (after the flags the mapping lists).  Three forms compute
the same thing and tests prove they agree: :meth:`TextCleaning.frame` (Polars, the load),
:meth:`TextCleaning.row` (the row-by-row Python reference) and
:meth:`TextCleaning.columns` (the column-wise reference reconciliation runs).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import String

from migration.mapping.spec import TableMappingSpec
from migration.mapping.transforms.text import (
    CONTROL_CLASS,
    CONTROL_FLAG,
    pl_remove_controls,
    remove_controls,
)
from migration.schema.legacy import metadata as legacy_tables

__all__ = ["CONTROL_FLAG", "TextCleaning", "key_source_columns"]


def key_source_columns(tm: TableMappingSpec) -> list[str]:
    """The legacy columns the business key is made of (through derives, for a derived key)."""
    extracted = [c for c in tm.source.columns if c not in set(tm.personal_data.drop)]
    out: list[str] = []

    def visit(ref: str) -> None:
        head = ref.split(".", 1)[0]
        if "." in ref and head in tm.derive:
            for a in tm.derive[head].args:
                visit(a)
        elif ref in extracted and ref not in out:
            out.append(ref)

    for c in tm.business_key.columns:
        visit(c)
    return out


def non_text_columns(table: str) -> set[str]:
    """Columns the data dictionary declares with a type that cannot hold text (integers,
    ``datetime``, ``bit``, ``money``): their values reach the transforms as canonical text
    (:mod:`migration.db.codec`) and need no cleaning.  A table or column the dictionary does
    not declare is treated as text."""
    t = legacy_tables.tables.get(table)
    if t is None:
        return set()
    return {c.name for c in t.columns if not isinstance(c.type, String)}


def _may_hold_controls(s: pl.Series) -> bool:
    """False when every byte of the column is printable ASCII (0x20–0x7E): then it holds no
    control character, no C1 control and no U+FFFD.  Two SIMD reductions over the bytes."""
    import numpy as np

    arr = s.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    data = arr.buffers()[-1]
    if data is None or data.size == 0:
        return False
    b = np.frombuffer(data, dtype=np.uint8)
    return bool(b.min() < 0x20 or b.max() > 0x7E)


@dataclass(frozen=True)
class TextCleaning:
    """Which extracted columns are cleaned, and with which class (``text`` or ``free``)."""

    kinds: dict[str, str]

    @classmethod
    def of(cls, tm: TableMappingSpec) -> TextCleaning:
        keep = set(key_source_columns(tm)) | ({tm.source.key} if tm.source.key else set())
        keep |= non_text_columns(tm.source.table)
        free = set(tm.source.free_text)
        return cls({c: ("free" if c in free else "text") for c in tm.source.columns
                    if c not in keep and c not in set(tm.personal_data.drop)})

    # ------------------------------------------------------------------ Polars (the load)
    def frame(self, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series | None]:
        """The frame with control characters removed, and each row's flag (None when no value
        of the chunk held any).

        A clean column costs one vectorised pass: its bytes' minimum and maximum (no byte
        below 0x20 and none above 0x7E: nothing to remove).  Otherwise the column's class is
        searched (one regex pass), and only the rows it matches are cleaned and written back."""
        cols = [c for c, k in self.kinds.items() if c in df.columns and df.schema[c] == pl.String]
        if not cols or df.height == 0:
            return df, None
        cleaned: list[pl.Series] = []
        flagged: list[pl.Series] = []
        for c in cols:
            s = df.get_column(c)
            if not _may_hold_controls(s):
                continue
            kind = self.kinds[c]
            rows = s.str.contains(CONTROL_CLASS[kind]).arg_true()
            if rows.len() == 0:
                continue
            v, f = pl_remove_controls(pl.col(c), kind)
            sub = s.gather(rows).to_frame().select(v.alias("v"), f.fill_null(False).alias("f"))
            out = s.clone()
            out.scatter(rows, sub.get_column("v"))
            cleaned.append(out)
            flagged.append(rows.filter(sub.get_column("f")))
        if not cleaned:
            return df, None
        flag = pl.Series("_ctl", [False] * df.height, dtype=pl.Boolean)
        hit = pl.concat(flagged).unique() if flagged else None
        if hit is not None and hit.len():
            flag.scatter(hit, True)
        return df.with_columns(cleaned), flag

    # ------------------------------------------------------------------ Python references
    def row(self, env: MutableMapping[str, Any]) -> bool:
        """Clean one row's values in place; True when the row is flagged."""
        flagged = False
        for c, kind in self.kinds.items():
            v = env.get(c)
            if isinstance(v, str):
                env[c], f = remove_controls(v, kind)
                flagged = flagged or f
        return flagged

    def columns(self, columns: MutableMapping[str, list[Any]], n: int) -> list[bool] | None:
        """Clean columns of values in place (once per distinct value); each row's flag, or None
        when no row is flagged."""
        flags: list[bool] | None = None
        for c, kind in self.kinds.items():
            values = columns.get(c)
            if values is None:
                continue
            done: dict[str, tuple[str | None, bool]] = {}
            changed = False
            for v in set(values):
                if isinstance(v, str):
                    r = remove_controls(v, kind)
                    if r[0] != v or r[1]:
                        done[v] = r
                        changed = True
            if not changed:
                continue
            new = list(values)
            for i, v in enumerate(values):
                hit = done.get(v) if isinstance(v, str) else None
                if hit is not None:
                    new[i] = hit[0]
                    if hit[1]:
                        if flags is None:
                            flags = [False] * n
                        flags[i] = True
            columns[c] = new
        return flags
