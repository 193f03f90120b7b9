"""Helpers shared by the fact generators (borough text, dates, flags, grid text)."""

from __future__ import annotations

import random

from migration.legacy import vocab
from migration.legacy.context import Context
from migration.legacy.inject import Rotation

NO_VALUE_OR_NULL: tuple[str | None, ...] = (None,) + vocab.NO_VALUE_TEXTS
IMPOSSIBLE_DAY_MONTH = ("31/04", "29/02", "31/06", "31/09", "31/11", "30/02")
NON_LEAP_YEARS = (2009, 2010, 2011, 2013, 2014, 2015)
PLACEHOLDER_DATES = ("01/01/1900", "00/00/0000")
_CP1252 = vocab.CP1252_CHARS


def has_cp1252(text: str | None) -> bool:
    if not text:
        return False
    return any(ch in text for ch in _CP1252)


def impossible_date(rng: random.Random, year: int) -> str:
    dm = IMPOSSIBLE_DAY_MONTH[int(rng.random() * len(IMPOSSIBLE_DAY_MONTH))]
    if dm == "29/02":
        year = NON_LEAP_YEARS[int(rng.random() * len(NON_LEAP_YEARS))]
    return f"{dm}/{year}"


def misspellings_by_id(ctx: Context) -> dict[int, tuple[str, ...]]:
    """BoroughID → the misspellings of that borough the generator knows (most have some)."""
    return {bid: vocab.MISSPELT[name] for bid, name in ctx.speller.official.items() if name in vocab.MISSPELT}


class BoroughText:
    """Applies the borough-text kinds of one table (prefix ``mps``, ``lfb`` …)."""

    def __init__(self, ctx: Context, rng: random.Random, prefix: str, *, with_ward: bool) -> None:
        self.ctx = ctx
        self.rng = rng
        self.prefix = prefix
        self.with_ward = with_ward
        self.blank = Rotation(NO_VALUE_OR_NULL, start=rng.randrange(len(NO_VALUE_OR_NULL)))
        self.ward_blank = Rotation(vocab.NO_VALUE_TEXTS, start=rng.randrange(len(vocab.NO_VALUE_TEXTS)))
        self.misspelt = misspellings_by_id(ctx)
        self._not_london = 0  # every other not-London text also loses its ward (blank, then unknown code)
        self.kinds = (f"{prefix}.borough_variant", f"{prefix}.borough_pseudo", f"{prefix}.borough_blank",
                      f"{prefix}.borough_misspelt", f"{prefix}.borough_not_london")

    def apply(self, kind: str, borough_id: int, ward: str | None,
              kinds: list[str]) -> tuple[str | None, str | None] | None:
        """Return (borough text, ward code) for ``kind`` and append the kinds the row now
        carries; None when the kind does not fit this row (a borough with no known
        misspelling): the caller retries it on the next row."""
        r = self.rng.random
        p = self.prefix
        if kind.endswith(".borough_misspelt"):
            pool = self.misspelt.get(borough_id)
            if not pool:
                return None
            kinds.append(kind)
            return pool[int(r() * len(pool))], ward  # the row's own borough, misspelt: its ward still agrees
        kinds.append(kind)
        if kind.endswith(".borough_variant"):
            return self.ctx.speller.variant(self.rng, borough_id), ward
        if kind.endswith(".borough_pseudo"):
            pool = vocab.PSEUDO_HEATHROW if r() < 0.5 else vocab.PSEUDO_UNKNOWN
            return pool[int(r() * len(pool))], ward
        if kind.endswith(".borough_blank"):
            return self.blank.next(), ward
        text = vocab.NON_LONDON[int(r() * len(vocab.NON_LONDON))]
        self._not_london += 1
        if self.with_ward and self._not_london % 2 == 1:
            kinds.append(f"{p}.borough_not_london_no_ward")
            if self._not_london % 4 == 1:
                kinds.append(f"{p}.ward_no_value_text")
                return text, self.ward_blank.next()
            kinds.append(f"{p}.ward_unknown")
            codes = self.ctx.unknown_ward_codes
            return text, codes[int(r() * len(codes))]
        return text, ward

    def ward_kind(self, kind: str, kinds: list[str]) -> str:
        kinds.append(kind)
        if kind.endswith(".ward_no_value_text"):
            return self.ward_blank.next()
        codes = self.ctx.unknown_ward_codes
        return codes[int(self.rng.random() * len(codes))]
