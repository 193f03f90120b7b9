"""What every fact generator shares: clock, geography, spellings and reference rows.

Built once per run from the seed.  Fact generators are functions of (random generator,
ids, dates) over this context, so a later ``legacy advance`` can build the same context
from the same seed and generate more rows of the same shape.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date
from importlib import resources

from migration.legacy import vocab
from migration.legacy.geo import (
    BoroughSpeller,
    Geography,
    PointMaker,
    geography,
    weighted_table,
)
from migration.legacy.reference import CrimeType, Hospital, crime_types, hospitals
from migration.legacy.timeutil import Clock

WARD_2014_FROM = date(2012, 1, 1).toordinal()
HOUR_WEIGHTS = (3.0, 2.6, 2.0, 1.5, 1.1, 0.9, 1.2, 2.0, 3.2, 4.0, 4.4, 4.8,
                5.2, 5.3, 5.3, 5.6, 6.0, 6.2, 6.2, 5.9, 5.6, 5.3, 4.8, 4.0)
NIGHT_HOUR_WEIGHTS = (6.5, 6.0, 5.0, 4.0, 2.5, 1.5, 1.0, 1.0, 1.2, 1.5, 1.8, 2.0,
                      2.4, 2.6, 2.8, 3.0, 3.3, 3.6, 4.0, 4.5, 5.0, 5.6, 6.2, 6.6)


@dataclass
class Context:
    seed: int
    scale: float
    clock: Clock
    geo: Geography
    speller: BoroughSpeller
    points: PointMaker
    types: list[CrimeType]
    hospitals: list[Hospital]
    borough_table: tuple[int, ...]          # weighted draw of BoroughID 1–33
    hour_table: tuple[int, ...]
    night_hour_table: tuple[int, ...]
    ward_codes: frozenset[str]              # every tblWard code
    unknown_ward_codes: tuple[str, ...]     # codes that tblWard does not hold
    heathrow_ward_2014: str
    heathrow_ward_2002: str

    def rng(self, name: str) -> random.Random:
        """An independent, reproducible random generator for one part of the database."""
        return random.Random(f"{self.seed}:{name}")

    def ward(self, r: float, r2: float, borough_id: int, day: int) -> str:
        """A ward code of the borough, of the vintage in use on ``day`` (mostly)."""
        use_2014 = (day >= WARD_2014_FROM) != (r2 < 0.06)
        codes = self._wards14[borough_id] if use_2014 else self._wards02[borough_id]
        return codes[int(r * len(codes))]

    def __post_init__(self) -> None:
        self._wards14: list[tuple[str, ...]] = [()] + [tuple(c for c, _ in b.wards_2014) for b in self.geo.boroughs]
        self._wards02: list[tuple[str, ...]] = [()] + [tuple(c for c, _ in b.wards_2002) for b in self.geo.boroughs]


def _newer_ward_codes() -> tuple[str, ...]:
    text = resources.files("migration.legacy").joinpath("data", "ward_all_codes.london.csv").read_text(encoding="utf-8")
    codes = sorted({r["WDCD"] for r in csv.DictReader(text.splitlines()) if r["SOURCEFILE"] in ("2018", "2022")})
    return tuple(codes[:: max(1, len(codes) // 40)])


def build_context(seed: int, scale: float) -> Context:
    clock = Clock.build()
    geo = geography()
    speller = BoroughSpeller(geo)
    types = crime_types(random.Random(f"{seed}:crimetypes"))
    hs = hospitals(random.Random(f"{seed}:hospitals"), geo)
    bt = weighted_table([b.id for b in geo.boroughs], [b.weight for b in geo.boroughs])
    ht = weighted_table(list(range(24)), list(HOUR_WEIGHTS), 1000)
    nt = weighted_table(list(range(24)), list(NIGHT_HOUR_WEIGHTS), 1000)
    ward_codes = geo.all_ward_codes()
    unknown = tuple(c for c in _newer_ward_codes() if c not in ward_codes) + ("00ZZFA", "E05999999", "XX")
    hill = next(b for b in geo.boroughs if b.name == "Hillingdon")
    h14 = next(c for c, n in hill.wards_2014 if n == "Heathrow Villages")
    h02 = next(c for c, n in hill.wards_2002 if n == "Heathrow Villages")
    return Context(seed, scale, clock, geo, speller, PointMaker(geo), types, hs, bt, ht, nt,
                   ward_codes, unknown, h14, h02)


def no_value_rotation_start(seed: int, name: str) -> int:
    return random.Random(f"{seed}:nv:{name}").randrange(len(vocab.NO_VALUE_TEXTS))
