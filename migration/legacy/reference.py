"""Reference tables: complete at every scale, with their own quirks.

Each builder is a function of a random generator and returns :class:`RefRow` objects
(the row, its manifest key and its anomaly kinds), so that a later ``legacy advance``
can reuse them to change reference rows in place.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from migration.legacy import vocab
from migration.legacy.geo import LONDON_E, LONDON_N, BoroughSpeller, Geography
from migration.legacy.inject import Rotation
from migration.legacy.timeutil import Clock

HEATHROW_ID = 34
UNKNOWN_ID = 99


@dataclass
class RefRow:
    values: tuple[Any, ...]
    key: Any
    kinds: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- boroughs
def borough_rows(rng: random.Random, geo: Geography) -> list[RefRow]:
    gss_null = set(rng.sample(range(1, 34), 3))
    amp = {"Kensington and Chelsea", "Hammersmith and Fulham", "Barking and Dagenham"}
    out = []
    for b in geo.boroughs:
        kinds = []
        name = b.name
        if name in amp:
            name = name.replace(" and ", " & ")
            kinds.append("borough.name_variant")
        gss = None if b.id in gss_null else b.gss
        if gss is None:
            kinds.append("borough.gss_null")
        out.append(RefRow((b.id, name, b.old_ons, gss, b.mps_code), b.id, kinds))
    out.append(RefRow((HEATHROW_ID, "Heathrow", None, None, "HR"), HEATHROW_ID, ["borough.pseudo"]))
    out.append(RefRow((UNKNOWN_ID, "Unknown", None, None, "ZZ"), UNKNOWN_ID, ["borough.pseudo"]))
    return out


def ward_rows(rng: random.Random, geo: Geography, speller: BoroughSpeller) -> list[RefRow]:
    out = []
    for vintage in ("2002", "2014"):
        for b in geo.boroughs:
            for code, name in (b.wards_2002 if vintage == "2002" else b.wards_2014):
                kinds = []
                text = b.name
                if rng.random() < 0.06:
                    text = speller.variant(rng, b.id)
                    kinds.append("ward.borough_variant")
                if vintage == "2002":
                    kinds.append("ward.old_style_code")
                out.append(RefRow((code, name, text, vintage), [code, vintage], kinds))
    dups = rng.sample(range(len(out)), 3)
    for i in dups:
        out[i].kinds.append("ward.duplicate_row")
        out.append(RefRow(out[i].values, list(out[i].key), list(out[i].kinds)))
    return out


def lsoa_rows(rng: random.Random, geo: Geography) -> list[RefRow]:
    """4,765 LSOAs of 2001 (E01000001…) and 4,835 of 2011 (most codes kept, some split)."""
    weights = [len(b.msoas) for b in geo.boroughs]
    per = _allocate_int(4765, weights)
    code = 1
    lsoa01: list[tuple[str, str, int]] = []
    per_msoa_count: dict[str, int] = {}
    for b, count in zip(geo.boroughs, per, strict=True):
        for k in range(count):
            msoa = b.msoas[k % len(b.msoas)]
            letter = chr(ord("A") + k // len(b.msoas))
            per_msoa_count[msoa] = per_msoa_count.get(msoa, 0) + 1
            lsoa01.append((f"E01{code:06d}", f"{msoa}{letter}", b.id))
            code += 1
    out = [RefRow((c, name, bid, 2001), [c, 2001]) for c, name, bid in lsoa01]
    dropped = set(rng.sample(range(len(lsoa01)), 60))
    new_code = 32_501
    rows11: list[tuple[str, str, int]] = []
    for i, row in enumerate(lsoa01):
        if i not in dropped:
            rows11.append(row)
    splits = sorted(dropped)
    extra_needed = 4835 - len(rows11)
    for j in range(extra_needed):
        _, split_name, bid = lsoa01[splits[j % len(splits)]]
        msoa = split_name[:-1]
        per_msoa_count[msoa] += 1
        letter = chr(ord("A") + per_msoa_count[msoa] - 1)
        rows11.append((f"E01{new_code:06d}", f"{msoa}{letter}", bid))
        new_code += 1
    out += [RefRow((c, name, bid, 2011), [c, 2011]) for c, name, bid in rows11]
    return out


def _allocate_int(total: int, weights: list[int]) -> list[int]:
    s = sum(weights)
    out, acc, given = [], 0, 0
    for w in weights:
        acc += w
        upto = round(total * acc / s)
        out.append(upto - given)
        given = upto
    return out


# --------------------------------------------------------------------------- crime types
@dataclass(frozen=True)
class CrimeType:
    id: int
    major: str
    minor: str
    ho_code: str | None
    police_uk: str
    violent: bool
    retired: bool
    weight: float


def crime_types(rng: random.Random) -> list[CrimeType]:
    out: list[CrimeType] = []
    next_id = 1
    blank_ho = set(rng.sample(range(128), 6))
    k = 0
    for mi, (major, minor, n_codes, puk, violent, weight, retired) in enumerate(vocab.CRIME_TYPES):
        for j in range(n_codes):
            ho: str | None = f"{(mi + 1) * 3:03d}/{j + 1:02d}"
            if k in blank_ho:
                ho = "" if k % 2 else None
            share = weight / n_codes * (1.6 if j == 0 else 1.0)
            out.append(CrimeType(next_id, major, minor, ho, puk, violent, retired, share))
            next_id += 1
            k += 1
    for major, minor in vocab.CASE_DUPLICATE_MINORS:
        like = next(c for c in out if c.minor.upper() == minor.upper())
        out.append(CrimeType(next_id, major, minor, f"{900 + next_id:03d}/01", like.police_uk,
                             like.violent, False, 0.05))
        next_id += 1
    return out


def crime_type_rows(types: list[CrimeType]) -> list[RefRow]:
    upper: dict[str, set[str]] = {}
    for t in types:
        upper.setdefault(t.minor.upper(), set()).add(t.minor)
    out = []
    for t in types:
        kinds = []
        if len(upper[t.minor.upper()]) > 1:
            kinds.append("crimetype.minorcat_case_duplicate")
        if t.retired:
            kinds.append("crimetype.retired")
        if t.ho_code is None or not t.ho_code.strip():
            kinds.append("crimetype.hocode_blank")
        out.append(RefRow((t.id, t.major, t.minor, t.ho_code, t.police_uk, int(t.violent), int(t.retired)),
                          t.id, kinds))
    return out


# --------------------------------------------------------------------------- hospitals
@dataclass(frozen=True)
class Hospital:
    id: int
    name: str
    borough_id: int
    site_code: str
    former_code: str
    istv_start: date | None
    closed_on: date | None
    active: bool
    weight: float
    easting: int
    northing: int


def hospitals(rng: random.Random, geo: Geography) -> list[Hospital]:
    out = []
    for hid, (name, bid, code, former, start, closed, active, weight) in enumerate(vocab.HOSPITALS, start=1):
        b = geo.by_id(bid)
        e = min(max(int(b.cx + rng.uniform(-1500, 1500)), LONDON_E[0]), LONDON_E[1])
        n = min(max(int(b.cy + rng.uniform(-1500, 1500)), LONDON_N[0]), LONDON_N[1])
        st = date(int(start[:4]), int(start[5:7]), 1 + rng.randrange(0, 27)) if start else None
        out.append(Hospital(hid, name, bid, code, former, st, date.fromisoformat(closed) if closed else None,
                            active, weight, e, n))
    return out


def hospital_rows(hs: list[Hospital], clock: Clock) -> list[RefRow]:
    out = []
    for h in hs:
        kinds = []
        start = clock.d_dmy(h.istv_start.toordinal()) if h.istv_start else None
        if start is None:
            kinds.append("hospital.istvstart_null")
        if h.closed_on is not None and h.active:
            kinds.append("hospital.closed_still_active")
        out.append(RefRow((h.id, h.site_code, h.name, h.borough_id, h.easting, h.northing, start, int(h.active)),
                          h.id, kinds))
    return out


# --------------------------------------------------------------------------- lookup codes
def lookup_rows(geo: Geography, types: list[CrimeType]) -> list[RefRow]:
    rows: list[tuple[str, str, str]] = []
    rows += [("ISTV_METHOD", c, d) for c, d in vocab.ISTV_METHODS]
    rows += [("ISTV_METHOD", "1", "Body part"), ("ISTV_METHOD", "NA", "N/A")]
    rows += [("ISTV_LOCATION", c, d) for c, d in vocab.ISTV_LOCATIONS]
    rows += [("ISTV_LOCATION", "3", "Home"), ("ISTV_LOCATION", "NA", "N/A")]
    rows += [("LFB_GROUP", "FIRE", "Fire"), ("LFB_GROUP", "SS", "Special Service"), ("LFB_GROUP", "FA", "False Alarm")]
    rows += [("LFB_STOPCODE", f"SC{i + 1:02d}", s) for i, (_, s, _) in enumerate(vocab.LFB_STOP_CODES)]
    rows += [("LFB_STOPCODE", "NA", "N/A")]
    rows += [("LFB_PROPCAT", f"PC{i + 1:02d}", cat) for i, (cat, _, _) in enumerate(vocab.LFB_PROPERTY)]
    pt = [t for _, _, types_ in vocab.LFB_PROPERTY for t in types_]
    rows += [("LFB_PROPTYPE", f"PT{i + 1:03d}", t) for i, t in enumerate(pt)]
    rows += [("LAS_CATEGORY", c, d) for c, d, _ in vocab.LAS_CATEGORIES] + [("LAS_CATEGORY", "NA", "N/A")]
    rows += [("LAS_ALCOHOL", c, d) for c, d in (("Y", "Alcohol involved"), ("N", "No alcohol"), ("U", "Unknown"))]
    rows += [("TRANSPORT_MODE", m[:3].upper(), m) for m, _, _ in vocab.TRANSPORT_MODES]
    rows += [("MPS_OUTCOME", f"O{i + 1:02d}", o) for i, o in enumerate(vocab.OUTCOMES)] + [("MPS_OUTCOME", "NA", "N/A")]
    rows += [("FORCE", "MPS", vocab.FORCES[0]), ("FORCE", "COLP", vocab.FORCES[1])]
    rows += [("GEO_LEVEL", str(c), d) for c, d in ((1, "Point"), (2, "Street"), (3, "Postcode sector"),
                                                   (4, "LSOA"), (5, "Ward"), (6, "Borough"), (9, "None"))]
    rows += [("ORG_TYPE", t.upper()[:10], t) for t in ("Police", "CSP", "Fire", "Ambulance", "Health", "Transport", "GLA")]
    rows += [("DATASET", d, d) for d in ("MPS", "LFB", "LAS", "ISTV", "TRANSPORT")]
    rows += [("IMPORT_STATUS", s, s) for s in ("OK", "FAILED", "RELOADED")]
    rows += [("TRANSPORT_OFFENCE", f"TO{i + 1:02d}", o) for i, o in enumerate(vocab.OFFENCES)]
    rows += [("BUS_ROUTE", r, f"Route {r}") for r in vocab.BUS_ROUTES]
    rows += [("RAIL_LINE", f"L{i + 1:02d}", line) for i, line in enumerate(sorted({x for v in vocab.LINES.values() for x in v}))]
    rows += [("STATION", f"ST{i + 1:02d}", s) for i, s in enumerate(vocab.STATIONS)]
    rows += [("MPS_MAJORCAT", f"MC{i + 1:02d}", m) for i, m in enumerate(sorted({t.major for t in types}))]
    rows += [("POLICEUK_CAT", f"PU{i + 1:02d}", p) for i, p in enumerate(sorted({t.police_uk for t in types} | {"Anti-social behaviour"}))]
    rows += [("MPS_BOROUGH", b.mps_code, b.name) for b in geo.boroughs]
    rows += [("MPS_BOROUGH", "HR", "Heathrow"), ("MPS_BOROUGH", "ZZ", "N/A")]
    out = []
    for code_type, code, descr in rows:
        kinds = []
        if descr.strip() == "N/A":
            kinds.append("lookup.na_row")
        if code_type in ("ISTV_METHOD", "ISTV_LOCATION") and len(code.strip()) == 1:
            kinds.append("lookup.unpadded_code")
        out.append(RefRow((code_type, code, descr), [code_type, code], kinds))
    return out


# --------------------------------------------------------------------------- organisations, users
@dataclass(frozen=True)
class Org:
    id: int
    name: str
    type: str
    borough_id: int | None  # the borough it serves; None = pan-London
    domain: str


_DOMAINS = {"Police": "met.police.uk", "CSP": "gov.uk", "Fire": "london-fire.gov.uk",
            "Ambulance": "lond-amb.nhs.uk", "Health": "nhs.net", "Transport": "tfl.gov.uk",
            "GLA": "london.gov.uk"}


def organisations(rng: random.Random, geo: Geography) -> list[Org]:
    orgs: list[Org] = []

    def add(name: str, type_: str, bid: int | None, domain: str | None = None) -> None:
        orgs.append(Org(len(orgs) + 1, name, type_, bid, domain or _DOMAINS[type_]))

    for b in geo.boroughs:
        slug = b.name.lower().replace(" and ", "").replace(" upon ", "").replace(" ", "")
        add(f"{b.name} Community Safety Partnership", "CSP", b.id, f"{slug}.gov.uk")
    for b in geo.boroughs:
        if b.name == "City of London":
            add("City of London Police – Intelligence", "Police", b.id, "cityoflondon.police.uk")
        else:
            add(f"MPS {b.name} Borough Intelligence Unit", "Police", b.id)
    for b in rng.sample(list(geo.boroughs), 20):
        slug = b.name.lower().replace(" and ", "").replace(" upon ", "").replace(" ", "")
        add(f"{b.name} Council – Youth Offending Service", "CSP", b.id, f"{slug}.gov.uk")
    for name in vocab.ORG_HEALTH:
        add(name, "Health", rng.randrange(1, 34) if "Trust" in name else None)
    for name, type_ in vocab.ORG_PAN_LONDON:
        add(name, type_, None)
    return orgs


def organisation_rows(rng: random.Random, orgs: list[Org], speller: BoroughSpeller) -> list[RefRow]:
    out = []
    placed = [o.id for o in orgs if o.borough_id is not None]
    misspellable = [o.id for o in orgs if o.borough_id is not None and speller.official[o.borough_id] in vocab.MISSPELT]
    misspelt = set(rng.sample(misspellable, 2))
    not_london = set(rng.sample([i for i in placed if i not in misspelt], 1))
    for o in orgs:
        kinds = []
        text: str | None = None
        if o.borough_id is not None:
            text = speller.official[o.borough_id]
            if o.id in misspelt:
                text = rng.choice(vocab.MISSPELT[text])
                kinds.append("org.borough_misspelt")
            elif o.id in not_london:
                text = rng.choice(vocab.NEAR_LONDON)  # the neighbouring district, typed for the borough
                kinds.append("org.borough_not_london")
            elif rng.random() < 0.15:
                text = speller.variant(rng, o.borough_id)
                kinds.append("org.borough_variant")
        if any(ch in o.name for ch in vocab.CP1252_CHARS):
            kinds.append("org.name_cp1252")
        out.append(RefRow((o.id, o.name, o.type, text), o.id, kinds))
    return out


def user_rows(rng: random.Random, orgs: list[Org], speller: BoroughSpeller, geo: Geography,
              clock: Clock, n_users: int = 600) -> list[RefRow]:
    n_orphans = 6
    orphan_ids = set(rng.sample(range(1, n_users + 1), n_orphans))
    heathrow_users = set(rng.sample(range(1, n_users + 1), 5))
    odd = rng.sample(range(1, n_users + 1), 10)
    misspelt_users, outside_users = set(odd[:6]), set(odd[6:])
    maker = UserMaker(orgs, speller, geo, clock)
    login_days = (date(2008, 1, 1).toordinal(), date(2016, 12, 31).toordinal())
    return [maker.make(rng, uid, orphan=uid in orphan_ids, heathrow=uid in heathrow_users,
                       misspelt=uid in misspelt_users, outside=uid in outside_users, login_days=login_days)
            for uid in range(1, n_users + 1)]


def password(rng: random.Random, *, md5: bool) -> str:
    """A legacy password: plaintext, or its unsalted MD5 (both must never reach the new system)."""
    plain = rng.choice(vocab.PASSWORDS)
    return hashlib.md5(plain.encode("ascii")).hexdigest() if md5 else plain  # noqa: S324 - a legacy defect


class UserMaker:
    """Builds ``tblUser`` rows (``generate`` makes 600; ``legacy advance`` adds new users)."""

    def __init__(self, orgs: list[Org], speller: BoroughSpeller, geo: Geography, clock: Clock,
                 logins: set[str] | None = None) -> None:
        self.orgs = orgs
        self.speller = speller
        self.geo = geo
        self.clock = clock
        self.logins: set[str] = set(logins or ())
        self.alls = Rotation(("ALL", "ALL", "All", "ALL "))
        self.hillingdon = next(b.id for b in geo.boroughs if b.name == "Hillingdon")

    def make(self, rng: random.Random, uid: int, *, orphan: bool = False, heathrow: bool = False,
             misspelt: bool = False, outside: bool = False,
             login_days: tuple[int, int] | None = None) -> RefRow:
        """One user; ``login_days`` is the range of the LastLogin day (None: never logged in)."""
        speller, geo, orgs = self.speller, self.geo, self.orgs
        kinds: list[str] = []
        org = orgs[rng.randrange(len(orgs))]
        first = rng.choice(vocab.FIRST_NAMES)
        last = rng.choice(vocab.SURNAMES).replace("’", "")
        base = (first[0] + last).lower()
        login = base
        k = 2
        while login in self.logins:
            login = f"{base}{k}"
            k += 1
        self.logins.add(login)
        email = f"{login}@{org.domain}"
        org_id = org.id
        if orphan:
            org_id = 900 + uid % 97
            kinds.append("user.orphan_org")
        special = heathrow or misspelt or outside
        if org.borough_id is None and not special:
            allowed = self.alls.next()
            kinds.append("user.allowed_all")
        else:
            home = org.borough_id if org.borough_id is not None else self.hillingdon
            ids = [home] + [rng.randrange(1, 34) for _ in range(rng.choice((0, 0, 0, 1, 2)))]
            tokens: list[str] = []
            misspell: int | None = None
            if misspelt:
                # one of the user's boroughs typed wrongly; a borough of their own when one has a
                # known misspelling, else an extra borough that has one
                known = [bid for bid in dict.fromkeys(ids) if speller.official[bid] in vocab.MISSPELT]
                if not known:
                    extra = [b.id for b in geo.boroughs if b.name in vocab.MISSPELT]
                    known = [extra[rng.randrange(len(extra))]]
                    ids.append(known[0])
                misspell = known[rng.randrange(len(known))]
            for bid in dict.fromkeys(ids):
                if bid == misspell:
                    tokens.append(rng.choice(vocab.MISSPELT[speller.official[bid]]))
                    kinds.append("user.allowed_misspelt")
                elif rng.random() < 0.2:
                    tokens.append(speller.variant(rng, bid, outer_space=False))
                    if "user.allowed_variant" not in kinds:
                        kinds.append("user.allowed_variant")
                else:
                    tokens.append(speller.official[bid])
            if heathrow:
                tokens.append("Heathrow")
                kinds.append("user.allowed_heathrow")
            if outside:
                tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(vocab.NON_LONDON))
                kinds.append("user.allowed_unmatched")
            allowed = rng.choice((",", ", ")).join(tokens)
        plain = rng.choice(vocab.PASSWORDS)
        if rng.random() < 0.4:
            pw = hashlib.md5(plain.encode("ascii")).hexdigest()  # noqa: S324 - reproducing a legacy defect
            kinds.append("user.password_md5")
        else:
            pw = plain
            kinds.append("user.password_plaintext")
        last_login = None
        if login_days is not None and rng.random() > 0.1:
            day = rng.randrange(*login_days)
            last_login = self.clock.dt(day, rng.randrange(7 * 3600, 20 * 3600))
        org_type = org.type
        can_istv = int(org_type in ("Health", "GLA") or (org_type == "CSP" and rng.random() < 0.5))
        can_points = int(org_type in ("Police", "GLA", "Fire", "Ambulance") or rng.random() < 0.3)
        disabled = int(rng.random() < 0.15)
        return RefRow((uid, login, email, org_id, allowed, can_istv, can_points, pw, last_login, disabled),
                      uid, kinds)
