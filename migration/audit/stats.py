"""Column statistics in one streamed pass, memory flat: counts, "no value" spellings,
distinct counts, top values, lengths, min/max and value-shape classes.

Value shapes are computed generically, so shapes nobody listed still show up: every
digit becomes ``9``, every upper-case letter ``A``, every other letter ``a``, every
control character (C0, DEL, C1: tabs and line breaks included) ``^``; other characters
stay as they are.  Runs are compressed where their length carries no meaning: letters,
controls and spaces longer than 4 are cut to 4 (as word shapes do), digit runs are kept
up to 8 (their widths are what tells ``9/3/2010`` — ``9/9/9999`` — from ``09/03/2010`` —
``99/99/9999``, or an easting ``999999.9``) and longer ones end in ``+``.  A shape is at
most 40 characters (then ``…``); the empty string's shape is ``(empty)``.

Sketches keep memory flat whatever the table size:

- distinct values: a K-minimum-values sketch of 64-bit hashes (exact below ``KMV_K``
  distinct values; above, relative standard error about ``1/sqrt(KMV_K - 2)``);
- top values and shapes: Misra–Gries summaries (exact until more than their capacity of
  distinct items were seen; then every count is low by at most the stated ``error``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from migration.mapping.transforms.text import clean

KMV_K = 4096
TOP_CAPACITY = 256
SHAPE_CAPACITY = 128
SHAPE_MAX = 40
EXAMPLES_PER_SHAPE = 3
#: the shape of the empty string
EMPTY = "(empty)"


def shape_expr(e: pl.Expr) -> pl.Expr:
    """The value-shape class of a text column (see the module docstring)."""
    s = (e.str.replace_all(r"\p{Nd}", "9")
         .str.replace_all(r"\p{Lu}", "A")
         .str.replace_all(r"[\p{Ll}\p{Lt}\p{Lm}\p{Lo}]", "a")
         .str.replace_all(r"\p{Cc}", "^")
         .str.replace_all("A{5,}", "AAAA")
         .str.replace_all("a{5,}", "aaaa")
         .str.replace_all(r"\^{5,}", "^^^^")
         .str.replace_all(" {5,}", "    ")
         .str.replace_all("9{9,}", "99999999+"))
    return (pl.when(s.str.len_chars() > SHAPE_MAX).then(s.str.slice(0, SHAPE_MAX) + pl.lit("…"))
            .when(s == "").then(pl.lit(EMPTY)).otherwise(s))


_ASCII_PLAIN = r"^[\x20-\x7e]*$"


def ascii_shape_expr(e: pl.Expr) -> pl.Expr:
    """:func:`shape_expr` for printable ASCII only (the common case; several times faster)."""
    s = (e.str.replace_all("[0-9]", "9").str.replace_all("[A-Z]", "A").str.replace_all("[a-z]", "a")
         .str.replace_all("A{5,}", "AAAA").str.replace_all("a{5,}", "aaaa").str.replace_all(" {5,}", "    ")
         .str.replace_all("9{9,}", "99999999+"))
    return (pl.when(s.str.len_chars() > SHAPE_MAX).then(s.str.slice(0, SHAPE_MAX) + pl.lit("…"))
            .when(s == "").then(pl.lit(EMPTY)).otherwise(s))


def shapes_of(series: pl.Series) -> pl.Series:
    if bool(series.drop_nulls().str.contains(_ASCII_PLAIN).all()):
        return pl.select(ascii_shape_expr(pl.lit(series))).to_series()
    return pl.select(shape_expr(pl.lit(series))).to_series()


def column_shapes(s: pl.Series) -> pl.Series:
    """The shape of every value of a column; computed once per distinct value when values repeat."""
    name = s.name
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    u = s.unique()
    if len(u) * 2 > len(s):
        return shapes_of(s).alias(name)
    m = pl.DataFrame({"v": u, "shape": shapes_of(u)})
    return pl.DataFrame({"v": s}).join(m, on="v", how="left", maintain_order="left").get_column("shape").alias(name)


def frame_shapes(frame: pl.DataFrame) -> dict[str, pl.Series]:
    return {c: column_shapes(frame.get_column(c)) for c in frame.columns}


def shape_of(value: str) -> str:
    """One value's shape (the same expression, for tests and single values)."""
    return str(shapes_of(pl.Series([value], dtype=pl.String))[0])


class MisraGries:
    """Frequent items with at most ``error`` undercount per item (0 = exact)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.counts: dict[Any, int] = {}
        self.error = 0

    def add_counts(self, items: dict[Any, int]) -> None:
        c = self.counts
        for k, n in items.items():
            c[k] = c.get(k, 0) + n
        if len(c) > self.capacity:
            cut = sorted(c.values(), reverse=True)[self.capacity]
            self.error += cut
            self.counts = {k: n - cut for k, n in c.items() if n > cut}

    def top(self, n: int) -> list[tuple[Any, int]]:
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]


class KMV:
    """K minimum values of 64-bit hashes: a mergeable distinct-count estimate."""

    def __init__(self, k: int = KMV_K) -> None:
        self.k = k
        self.mins: pl.Series = pl.Series("h", [], dtype=pl.UInt64)

    def add(self, hashes: pl.Series) -> None:
        both = pl.concat([self.mins, hashes.unique().sort().head(self.k)]).unique().sort()
        self.mins = both.head(self.k)

    @property
    def exact(self) -> bool:
        return len(self.mins) < self.k

    def estimate(self) -> int:
        if self.exact:
            return len(self.mins)
        kth = int(self.mins[-1]) + 1
        return int(round((self.k - 1) * (2 ** 64) / kth))

    @property
    def relative_error(self) -> float:
        return 0.0 if self.exact else 1 / math.sqrt(self.k - 2)


@dataclass
class ShapeTally:
    """Shapes of one column with a few examples each (examples only when showable)."""

    summary: MisraGries = field(default_factory=lambda: MisraGries(SHAPE_CAPACITY))
    examples: dict[str, list[str]] = field(default_factory=dict)

    def merge(self, other: ShapeTally) -> None:
        self.summary.error += other.summary.error
        self.add(dict(other.summary.counts), other.examples)

    def add(self, counts: dict[str, int], examples: dict[str, list[str]] | None = None) -> None:
        self.summary.add_counts(counts)
        if examples:
            for shape, vals in examples.items():
                if shape not in self.summary.counts:
                    continue
                have = self.examples.setdefault(shape, [])
                for v in vals:
                    if len(have) >= EXAMPLES_PER_SHAPE:
                        break
                    if v not in have:
                        have.append(v)
        for gone in [s for s in self.examples if s not in self.summary.counts]:
            del self.examples[gone]


@dataclass
class ColumnStats:
    """One legacy column's statistics, updated chunk by chunk."""

    name: str
    showable: bool                      # examples, top values and min/max may be shown (after masking)
    mask: Callable[[str], str]
    rows: int = 0
    nulls: int = 0
    no_value: dict[str, int] = field(default_factory=dict)
    distinct: KMV = field(default_factory=KMV)
    top: MisraGries = field(default_factory=lambda: MisraGries(TOP_CAPACITY))
    min_len: int | None = None
    max_len: int | None = None
    min_text: str | None = None
    max_text: str | None = None
    numeric: bool = True
    min_num: float | None = None
    max_num: float | None = None
    shapes: ShapeTally = field(default_factory=ShapeTally)

    def update(self, s: pl.Series, shapes: pl.Series) -> None:
        n = len(s)
        self.rows += n
        nn = s.drop_nulls()
        self.nulls += n - len(nn)
        if len(nn) == 0:
            return
        # "no value" spellings: the cleaning rule itself decides (called once per distinct value)
        for v in nn.unique().to_list():
            if clean(v) is None:
                cnt = int((nn == v).sum())
                key = repr(v)
                self.no_value[key] = self.no_value.get(key, 0) + cnt
        self.distinct.add(nn.hash(seed=0))
        vc = nn.value_counts(sort=True)
        self.top.add_counts(dict(zip(vc.get_column(nn.name).to_list(), vc.get_column("count").to_list(), strict=True)))
        lens = nn.str.len_chars()
        lo, hi = int(lens.min()), int(lens.max())  # type: ignore[arg-type]
        self.min_len = lo if self.min_len is None else min(self.min_len, lo)
        self.max_len = hi if self.max_len is None else max(self.max_len, hi)
        tmin, tmax = str(nn.min()), str(nn.max())
        self.min_text = tmin if self.min_text is None else min(self.min_text, tmin)
        self.max_text = tmax if self.max_text is None else max(self.max_text, tmax)
        if self.numeric:
            nums = nn.str.strip_chars().cast(pl.Float64, strict=False)
            if nums.null_count() or nums.is_nan().any():
                self.numeric = False
            else:
                a, b = float(nums.min()), float(nums.max())  # type: ignore[arg-type]
                self.min_num = a if self.min_num is None else min(self.min_num, a)
                self.max_num = b if self.max_num is None else max(self.max_num, b)
        sh = shapes.drop_nulls()
        frame = pl.DataFrame({"shape": sh, "value": nn})
        sc = frame.group_by("shape").agg(pl.len().alias("n"), pl.col("value").unique().head(EXAMPLES_PER_SHAPE))
        counts = dict(zip(sc.get_column("shape").to_list(), sc.get_column("n").to_list(), strict=True))
        examples = None
        if self.showable:
            examples = {shape: [self.mask(v) for v in vals]
                        for shape, vals in zip(sc.get_column("shape").to_list(), sc.get_column("value").to_list(),
                                               strict=True)}
        self.shapes.add(counts, examples)

    def to_dict(self, top_n: int = 10, shapes_n: int = 20) -> dict[str, Any]:
        d: dict[str, Any] = {
            "column": self.name, "rows": self.rows, "nulls": self.nulls,
            "no_value": dict(sorted(self.no_value.items(), key=lambda kv: -kv[1])),
            "distinct": self.distinct.estimate(),
            "distinct_exact": self.distinct.exact,
            "distinct_relative_error": round(self.distinct.relative_error, 4),
            "min_length": self.min_len, "max_length": self.max_len,
            "examples_shown": self.showable,
        }
        if self.numeric and self.min_num is not None:
            d["min_number"], d["max_number"] = self.min_num, self.max_num
        if self.showable:
            d["min"] = None if self.min_text is None else self.mask(self.min_text)
            d["max"] = None if self.max_text is None else self.mask(self.max_text)
            d["top_values"] = [{"value": self.mask(str(v)), "count": c} for v, c in self.top.top(top_n)]
            d["top_values_max_undercount"] = self.top.error
        d["shapes"] = [{"shape": s, "count": c, "examples": self.shapes.examples.get(s, []) if self.showable else []}
                       for s, c in self.shapes.summary.top(shapes_n)]
        d["shapes_total"] = len(self.shapes.summary.counts)
        d["shapes_max_undercount"] = self.shapes.summary.error
        return d
