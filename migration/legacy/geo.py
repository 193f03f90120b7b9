"""London geography for the generator: boroughs, wards, LSOAs, points and spellings.

Built from the ONS / London Datastore files in ``migration/legacy/data`` (OGL v3).  The
``2014`` ward vintage is the ONS ``SOURCEFILE=2016`` ward set (E05 codes); the ``2002``
vintage re-codes the same wards in the pre-2011 style ``<old LA code><F..>``
(``00AAFA`` …), which is what the legacy database mixed with the E05 codes.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from migration.legacy import vocab

#: The Greater London extent in British National Grid metres (data dictionary).
LONDON_E = (503_568, 561_957)
LONDON_N = (155_851, 200_934)

_INNER_WEIGHT = 1.35
_WEIGHT_OVERRIDES = {"E09000033": 2.6, "E09000001": 0.12, "E09000030": 1.6, "E09000022": 1.6}


@dataclass(frozen=True)
class Borough:
    id: int                       # 1–33 in GSS order (the legacy BoroughID)
    name: str                     # official ONS name
    gss: str
    old_ons: str
    mps_code: str
    cx: float
    cy: float
    sd: float                     # spread of generated points around the centroid (m)
    weight: float                 # share of incidents
    wards_2014: tuple[tuple[str, str], ...]
    wards_2002: tuple[tuple[str, str], ...]
    msoas: tuple[str, ...]        # MSOA 2011 names, e.g. "Camden 027"
    districts: tuple[str, ...]    # postcode districts


@dataclass(frozen=True)
class Geography:
    boroughs: tuple[Borough, ...]

    def by_id(self, borough_id: int) -> Borough:
        return self.boroughs[borough_id - 1]

    def all_ward_codes(self) -> frozenset[str]:
        return frozenset(c for b in self.boroughs for c, _ in b.wards_2014 + b.wards_2002)


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("migration.legacy").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _old_ward_suffixes() -> list[str]:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return [a + b for a in "FGH" for b in letters]


@lru_cache(maxsize=1)
def geography() -> Geography:
    centroids = {r["GSS_CODE"]: r for r in _read_csv("Boroughs.csv")}
    gss_codes = sorted(centroids)
    if len(gss_codes) != 33:
        raise RuntimeError(f"Boroughs.csv should list 33 boroughs, found {len(gss_codes)}")
    wards: dict[str, list[tuple[str, str]]] = {g: [] for g in gss_codes}
    for r in _read_csv("ward_all_codes.london.csv"):
        if r["SOURCEFILE"] == "2016":
            wards[r["LADCD"]].append((r["WDCD"], r["WDNM"]))
    msoas: dict[str, list[str]] = {g: [] for g in gss_codes}
    for r in _read_csv("msoa_la.london.csv"):
        if r["MSOA11CD"]:
            msoas[r["LAD20CD"]].append(r["MSOA11NM"])
    suffixes = _old_ward_suffixes()
    boroughs = []
    for i, gss in enumerate(gss_codes):
        c = centroids[gss]
        w14 = tuple(sorted(wards[gss]))
        old = vocab.OLD_ONS_CODES[i]
        by_name = sorted(w14, key=lambda w: w[1])
        w02 = tuple((old + suffixes[j], name) for j, (_, name) in enumerate(by_name))
        hectares = float(c["HECTARES"])
        radius = (hectares * 10_000 / 3.14159) ** 0.5
        weight = _WEIGHT_OVERRIDES.get(gss, _INNER_WEIGHT if c["ONS_INNER"] == "T" else 1.0)
        boroughs.append(Borough(
            id=i + 1, name=c["NAME"], gss=gss, old_ons=old, mps_code=vocab.MPS_CODES[i],
            cx=float(c["X"]), cy=float(c["Y"]), sd=radius * 0.45, weight=weight,
            wards_2014=w14, wards_2002=w02, msoas=tuple(sorted(msoas[gss])),
            districts=vocab.POSTCODE_DISTRICTS[i],
        ))
    return Geography(tuple(boroughs))


def weighted_table(items: list[int], weights: list[float], size: int = 2000) -> tuple[int, ...]:
    """A lookup table: ``table[int(random() * len(table))]`` draws ``items`` by weight."""
    total = sum(weights)
    out: list[int] = []
    acc = 0.0
    for item, w in zip(items, weights, strict=True):
        acc += w
        while len(out) < round(acc / total * size):
            out.append(item)
    return tuple(out)


class PointMaker:
    """Points inside the London box scattered around each borough's centroid.

    Normal deviates come from a fixed table (drawn once from a fixed seed): a table
    look-up is several times cheaper than ``random.gauss`` on millions of rows."""

    _TABLE_SIZE = 8192

    def __init__(self, geo: Geography) -> None:
        self._params: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] + [(b.cx, b.cy, b.sd) for b in geo.boroughs]
        table_rng = random.Random(27700)
        self.normal_table = tuple(table_rng.gauss(0.0, 1.0) for _ in range(self._TABLE_SIZE))

    def point(self, rng: random.Random, borough_id: int) -> tuple[int, int]:
        cx, cy, sd = self._params[borough_id]
        r = rng.random
        normal = self.normal_table
        e = int(cx + normal[int(r() * 8192)] * sd)
        n = int(cy + normal[int(r() * 8192)] * sd)
        e = min(max(e, LONDON_E[0] + 200), LONDON_E[1] - 200)
        n = min(max(n, LONDON_N[0] + 200), LONDON_N[1] - 200)
        return e, n


class BoroughSpeller:
    """Renders a borough as the free text the partner systems typed.

    ``variant`` never returns the official name, and every variant is one of: letter case,
    ``&`` for ``and``, a long form (``Royal Borough of …``, ``London Borough of …``,
    ``City of Westminster``), one of the short forms ``Kingston``/``Richmond``/``Barking``,
    an internal double space, or (``outer_space=True``) leading/trailing spaces.
    """

    def __init__(self, geo: Geography) -> None:
        self.official = {b.id: b.name for b in geo.boroughs}
        self._variants: dict[int, tuple[str, ...]] = {}
        self._inner_variants: dict[int, tuple[str, ...]] = {}
        for b in geo.boroughs:
            inner = _inner_variants(b.name)
            outer = (b.name + " ", b.name + "   ", " " + b.name, inner[0] + " ")
            self._inner_variants[b.id] = inner
            self._variants[b.id] = inner + outer

    def variant(self, rng: random.Random, borough_id: int, *, outer_space: bool = True) -> str:
        choices = self._variants[borough_id] if outer_space else self._inner_variants[borough_id]
        return choices[int(rng.random() * len(choices))]

    def upper(self, borough_id: int) -> str:
        return self.official[borough_id].upper()


def _inner_variants(name: str) -> tuple[str, ...]:
    out: list[str] = [name.upper()]
    if " and " in name:
        out += [name.replace(" and ", " & "), name.replace(" and ", " And "),
                name.upper().replace(" AND ", " & ")]
    if " upon " in name:
        out.append(name.replace(" upon ", " Upon "))
    if " of " in name:
        out.append(name.replace(" of ", " Of "))
    out += list(vocab.LONG_FORMS.get(name, ()))
    if name not in ("City of London", "Westminster") and name not in vocab.LONG_FORMS:
        out.append("London Borough of " + name)
    if name in vocab.SHORT_FORMS:
        out.append(vocab.SHORT_FORMS[name])
    if " " in name:
        out.append(name.replace(" ", "  ", 1))
    out.append(name.lower())
    seen: list[str] = []
    for v in out:
        if v != name and v not in seen:
            seen.append(v)
    return tuple(seen)


def in_london_box(e: int, n: int) -> bool:
    return LONDON_E[0] <= e <= LONDON_E[1] and LONDON_N[0] <= n <= LONDON_N[1]


def full_postcode(rng: random.Random, district: str) -> str:
    letters = vocab.POSTCODE_INWARD_LETTERS
    return f"{district} {rng.randrange(10)}{letters[rng.randrange(len(letters))]}{letters[rng.randrange(len(letters))]}"
