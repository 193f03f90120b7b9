"""Hypothesis strategies derived from the dictionary's declared column types.

Every value a strategy draws is a *raw legacy value* as SQL Server would hand it over:

- ``varchar(n)`` / ``char(n)``: ``bytes`` of at most ``n`` bytes in the column's code page
  (Windows-1252; any byte 0x00–0xFF, the five bytes cp1252 leaves undefined included);
  ``char(n)`` values are sometimes blank-padded to ``n`` as SQL Server pads them;
- ``nvarchar(n)``: ``str`` of at most ``n`` UTF-16 units, lone surrogates included;
- ``bit`` / ``tinyint`` / ``smallint`` / ``int``: ``int`` over the type's whole range;
- ``datetime``: ``datetime`` from 1753-01-01 to 9999-12-31 23:59:59.997 in 1/300 s ticks
  (rendered to milliseconds as SQL Server does: .000, .003, .007 …);
- ``money``: ``Decimal`` with 4 places between the type's limits;
- ``None`` is SQL NULL (any column but a primary key: "no value is spelt many ways").

Each column mixes *hostile* values (anything the type can hold) with *plausible* ones: what
the dictionary's notes say the column holds (its ``format`` and ``values`` in
dictionary.yaml), the date/time/number grammar of TARGET-MODEL and values around it, and
reference names and codes the target knows (``migration/refdata``: real borough names,
aliases, GSS codes), so that examples are not all quarantined.  Nothing comes from the
generator (``migration/legacy``).

:func:`table_rows` draws a whole table: 1–60 rows whose business keys come from a small
pool, so duplicates, blanks ("", " ", "N/A", NULL) and near-duplicates (case, trailing
space) are frequent.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from hypothesis import strategies as st

from tests.properties.dictionary import Column, Table, load

# --------------------------------------------------------------------------- type limits
INT_RANGE = {"bit": (0, 1), "tinyint": (0, 255), "smallint": (-32768, 32767), "int": (-2**31, 2**31 - 1)}
MONEY_MIN, MONEY_MAX = Decimal("-922337203685477.5808"), Decimal("922337203685477.5807")
DT_MIN, DT_MAX = datetime(1753, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 997000)
TICKS_PER_DAY = 300 * 86400
DAYS = (date(9999, 12, 31) - date(1753, 1, 1)).days
#: the bytes Windows-1252 leaves undefined
CP1252_UNDEFINED = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])
#: bytes worth trying more often than 1 in 256: NUL and other controls, COPY's backslash,
#: tab/newline/CR, DEL, C1 / undefined bytes, NBSP, ’ – £ é ÿ, and UTF-8 lead bytes
SPICY = b"\x00\x01\x08\x09\x0a\x0b\x0c\x0d\x1a\x1b\x1f\x5c\x7f\x80\x81\x8d\x8f\x90\x9d\x92\x96\xa0\xa3\xc3\xe9\xef\xbb\xbf\xff"
BLANKS = (b"", b" ", b"  ", b"\t", b"N/A", b"n/a", b"NULL", b"null", b"-", None)


def dt_from_ticks(day: int, tick: int) -> datetime:
    """A SQL Server ``datetime``: ``day`` days after 1753-01-01, ``tick`` 1/300 s after midnight,
    rounded to the millisecond as SQL Server renders it (.000, .003, .007)."""
    ms = (tick * 10 + 1) // 3  # 1 tick = 3.33 ms; 1 -> 3, 2 -> 7, 299 -> 997
    return datetime(1753, 1, 1) + timedelta(days=day, milliseconds=ms)


# --------------------------------------------------------------------------- reference data the target knows
@cache
def _refdata(name: str) -> list[dict[str, str]]:
    with resources.files("migration.refdata").joinpath(name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@cache
def borough_names() -> list[str]:
    names = [r["name"] for r in _refdata("local_authority.csv")]
    aliases = [r["alias_norm"] for r in _refdata("la_alias.csv")]
    return sorted(set(names + aliases))


@cache
def gss_codes() -> list[str]:
    return [r["gss_code"] for r in _refdata("local_authority.csv")]


@cache
def ons_codes() -> list[str]:
    return [r["legacy_ons_code"] for r in _refdata("local_authority.csv") if r["legacy_ons_code"]]


# --------------------------------------------------------------------------- grammars (TARGET-MODEL and around it)
def _pad(n: int, padded: bool) -> str:
    return f"{n:02d}" if padded else str(n)


@st.composite
def dmy_dates(draw: Any) -> str:
    """``d/m/yyyy`` day first, padded or not, valid or impossible, and the neighbours the rules
    quarantine (two-digit years, ISO order, other separators) or blank out (placeholders)."""
    kind = draw(st.sampled_from(["valid", "valid", "valid", "placeholder", "impossible", "two_digit",
                                 "iso", "separator", "spaced", "junk"]))
    d = draw(st.dates(date(1990, 1, 1), date(2030, 12, 31)))
    pd, pm = draw(st.booleans()), draw(st.booleans())
    if kind == "valid":
        return f"{_pad(d.day, pd)}/{_pad(d.month, pm)}/{d.year}"
    if kind == "placeholder":
        return draw(st.sampled_from(["1/1/1900", "01/01/1900", "01/1/1900", "0/0/0000", "00/00/0000", "0/00/0000"]))
    if kind == "impossible":
        day, month = draw(st.sampled_from([(31, 4), (29, 2), (30, 2), (31, 6), (32, 1), (0, 5), (12, 13), (1, 0)]))
        year = draw(st.sampled_from([2014, 2015, 2019]))
        return f"{_pad(day, pd)}/{_pad(month, pm)}/{year}"
    if kind == "two_digit":
        return f"{_pad(d.day, pd)}/{_pad(d.month, pm)}/{d.year % 100:02d}"
    if kind == "iso":
        return d.isoformat()
    if kind == "separator":
        sep = draw(st.sampled_from([".", "-", " ", "\\"]))
        return f"{_pad(d.day, pd)}{sep}{_pad(d.month, pm)}{sep}{d.year}"
    if kind == "spaced":
        return f" {d.day}/{d.month}/{d.year} "
    return draw(st.sampled_from(["", " ", "N/A", "NULL", "-", "9/3", "//", "1/1/1", "99/99/9999"]))


@st.composite
def times(draw: Any, seconds: bool = False) -> str:
    """``H:M`` … ``HH:MM:SS`` (H 0–23, M/S 0–59), unpadded or not; ``99:99``; and around it: hour 24+,
    minute 60+, other separators, a dot, text."""
    kind = draw(st.sampled_from(["valid", "valid", "valid", "unknown", "hour24", "minute60", "other"]))
    h, m, s = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    ph, pm = draw(st.booleans()), draw(st.booleans())
    if kind == "valid":
        base = f"{_pad(h, ph)}:{_pad(m, pm)}"
        return base + f":{s:02d}" if seconds or draw(st.booleans()) and ph and pm else base
    if kind == "unknown":
        return draw(st.sampled_from(["99:99", "99:99:99", "", " "]))
    if kind == "hour24":
        return f"{draw(st.integers(24, 99))}:{m:02d}" + (":00" if seconds else "")
    if kind == "minute60":
        return f"{h:02d}:{draw(st.integers(60, 99))}"
    return draw(st.sampled_from(["9.30", "0930", "9h30", "12:", ":30", "noon", "1:2:3", "-1:00", "23:59:60"]))


@st.composite
def grid_text(draw: Any) -> str:
    """Easting/northing metres as text: London, ``521277.0``, ``0``, ``99999``, far away, junk."""
    kind = draw(st.sampled_from(["london", "london", "decimal", "edge", "far", "junk"]))
    e = draw(st.integers(503568, 561957))
    if kind == "london":
        return str(e)
    if kind == "decimal":
        return draw(st.sampled_from([f"{e}.0", f"{e}.5", f"{e}.00", f" {e} ", f"{e:,}", f"{e}e0"]))
    if kind == "edge":
        return draw(st.sampled_from(["0", "99999", "-1", "1e6", "0.0", "-0"]))
    if kind == "far":
        return str(draw(st.integers(0, 9_999_999)))
    return draw(st.sampled_from(["abc", "N/A", "", " ", "5O3568", "NaN", "inf", "\\N"]))


@st.composite
def grid_pair(draw: Any) -> str:
    e, n = draw(st.integers(503568, 561957)), draw(st.integers(155851, 200934))
    return draw(st.sampled_from([f"{e},{n}", f"{e} {n}", f"{e}, {n}", f"{n},{e}", "N/A", f"{e}", f"{e},{n},1",
                                 f"{e}.0,{n}.0", "0,0"]))


def nhs_number(draw: Any) -> str:
    """A ten-digit NHS number with a valid mod-11 check digit, printed ``nnn nnn nnnn``."""
    while True:
        digits = [draw(st.integers(0, 9)) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            s = "".join(map(str, digits + [check]))
            return f"{s[:3]} {s[3:6]} {s[6:]}"


@st.composite
def patient_identifier(draw: Any) -> str:
    kind = draw(st.sampled_from(["nhs", "dob", "phone", "postcode"]))
    if kind == "nhs":
        return nhs_number(draw)
    if kind == "dob":
        d = draw(st.dates(date(1930, 1, 1), date(2010, 12, 31)))
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    if kind == "phone":
        return draw(st.sampled_from(["07700 900", "020 7946 0", "07911 123"])) + f"{draw(st.integers(100, 999))}"
    out = draw(st.sampled_from(["SW1A", "E1", "N1", "SE15", "NW10", "W2", "EC1A", "CR0", "HA9"]))
    return f"{out} {draw(st.integers(0, 9))}{draw(st.sampled_from(list('ABDEFGHJLNPQRSTUWXYZ')))}" \
           f"{draw(st.sampled_from(list('ABDEFGHJLNPQRSTUWXYZ')))}"


#: how a planted identifier is introduced in free text
PATIENT_LEADS = {"nhs": ("NHS ", "nhs no ", ""), "dob": ("DOB ", "dob: ", "born "), "phone": ("tel ", "mob ", ""),
                 "postcode": ("at ", "home ", "")}


@st.composite
def patient_text(draw: Any, length: int) -> tuple[str, str]:
    """Free text holding one planted patient identifier: (the text, the identifier)."""
    ident = draw(patient_identifier())
    lead = draw(st.sampled_from(["NHS ", "DOB ", "tel ", "home ", "outside ", "", "patient "]))
    tail = draw(st.sampled_from(["", " assaulted in street", " pub", " home address", ", kicked"]))
    text = f"{lead}{ident}{tail}"
    if len(text) > length:
        text = ident
    return text, ident


@st.composite
def secrets(draw: Any) -> str:
    """A password as the legacy kept it: plaintext or an unsalted MD5 — long enough to find again."""
    if draw(st.booleans()):
        return "".join(draw(st.lists(st.sampled_from("0123456789abcdef"), min_size=32, max_size=32)))
    word = draw(st.text("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!£$", min_size=10, max_size=20))
    return word


def _cp(s: str) -> bytes:
    return s.encode("cp1252", errors="replace")


FREE_ALPHABET = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-,.'/&()’–£éÉ"


def plausible_text(col: Column) -> st.SearchStrategy[str]:
    """What the dictionary's notes say the column holds (format and listed values)."""
    n = col.length or 50
    listed = [str(v) for v in col.values if len(_cp(str(v))) <= n]
    fmt = col.format or "free"
    base: st.SearchStrategy[str]
    if fmt == "date_dmy":
        base = dmy_dates()
    elif fmt in ("time_hhmm", "time_hhmmss"):
        base = times(seconds=fmt == "time_hhmmss")
    elif fmt == "grid_text":
        base = grid_text()
    elif fmt == "grid_pair":
        base = grid_pair()
    elif fmt == "borough_name":
        base = st.sampled_from(borough_names()).flatmap(
            lambda s: st.sampled_from([s, s.upper(), s.title(), s.lower(), f" {s} "]))
    elif fmt == "borough_list":
        base = st.one_of(st.just("ALL"), st.lists(st.sampled_from(borough_names()), min_size=1, max_size=4)
                         .map(", ".join))
    elif fmt == "gss_code":
        base = st.sampled_from(gss_codes())
    elif fmt == "ons_code":
        base = st.sampled_from(ons_codes())
    elif fmt == "ward_code":
        base = st.one_of(st.integers(0, 999).map(lambda i: f"E05{i:06d}"),
                         st.sampled_from(ons_codes()).flatmap(lambda c: st.text("ABCDEFGHJKLMN", min_size=2,
                                                                                  max_size=2).map(lambda w: c + w)))
    elif fmt == "flag_char":
        base = st.sampled_from(["Y", "N", "U", "1", "0", "T", "F", "", "y", "n", "X"])
    elif fmt == "postcode":
        base = st.one_of(patient_identifier().filter(lambda s: " " in s and s[0].isalpha()),
                         st.sampled_from(["E1", "SW1A", "N1", "SE15", "W2"]))
    elif fmt == "secret":
        base = secrets()
    elif fmt == "patient_text":
        base = patient_text(n).map(lambda t: t[0])
    elif fmt == "business_key":
        base = st.from_regex(r"\A[A-Z]{2}[0-9]{2}[A-Z]{2}[0-9]{7}\Z")
    elif fmt == "code":
        base = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=min(n, 6))
    elif fmt == "free":
        base = st.text(FREE_ALPHABET, min_size=1, max_size=min(n, 40))
    else:
        raise KeyError(f"{col.table}.{col.name}: no strategy for the text format {fmt!r}")
    if listed:
        base = st.one_of(st.sampled_from(listed), base)
    return base.filter(lambda s: len(_cp(s)) <= n)


# --------------------------------------------------------------------------- per declared type
def hostile_bytes(n: int) -> st.SearchStrategy[bytes]:
    """Anything a single-byte code-page column can hold: any byte, the interesting ones often."""
    byte = st.one_of(st.integers(0, 255), st.sampled_from(list(SPICY)))
    return st.one_of(
        st.binary(max_size=n),
        st.lists(byte, max_size=n).map(bytes),
        st.lists(byte, min_size=n, max_size=n).map(bytes),                      # at the maximum length
        st.sampled_from([b"\\N", b"\\", b"a\\nb", b"\\.", b"a\tb", b"a\r\nb", b"\x00", b"a\x00b"])
        .filter(lambda b: len(b) <= n),
    )


def varchar(col: Column) -> st.SearchStrategy[bytes | None]:
    n = col.length or 1
    plausible = plausible_text(col).map(_cp)
    around = plausible.flatmap(lambda b: st.sampled_from([b, b" " + b, b + b" ", b.replace(b" ", b"  ")])
                               .filter(lambda x: len(x) <= n))
    spiced = st.tuples(plausible, st.sampled_from(list(SPICY)), st.integers(0, n)).map(
        lambda t: (t[0][:t[2]] + bytes([t[1]]) + t[0][t[2]:])[:n])
    values: st.SearchStrategy[Any] = st.one_of(plausible, plausible, plausible, around, spiced, hostile_bytes(n),
                                               st.sampled_from([b for b in BLANKS if b is None or len(b) <= n]))
    if col.type == "char":
        # SQL Server pads char(n) with blanks to n
        values = st.tuples(values, st.booleans()).map(
            lambda t: t[0].ljust(n, b" ") if t[0] is not None and t[1] else t[0])
    return values


def nvarchar(col: Column) -> st.SearchStrategy[str | None]:
    """Any UTF-16 code unit: every code point of the BMP, lone surrogates included, and pairs."""
    n = col.length or 1
    unit = st.one_of(st.integers(0, 0xFFFF).map(chr), st.integers(0xD800, 0xDFFF).map(chr),
                     st.sampled_from(["\x00", "\\", "\ufffd", "\u2019", "\u00a0", "\ufeff"]))
    pair = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF)  # two units
    text = st.lists(st.one_of(unit, unit, pair), max_size=n).map("".join).filter(
        lambda s: len(s.encode("utf-16-le", "surrogatepass")) // 2 <= n)
    return st.one_of(plausible_text(col), text, st.sampled_from(["", " ", "N/A", None]))


def integers(col: Column) -> st.SearchStrategy[int | None]:
    lo, hi = INT_RANGE[col.type]
    whole = st.integers(lo, hi)
    edges = st.sampled_from(sorted({lo, hi, 0, 1, -1 if lo < 0 else 0, hi - 1}))
    fmt, plausible = col.format, None
    if col.refers:
        plausible = st.integers(max(lo, 0), min(hi, 60))      # small ids: most exist in the reference table
    elif fmt == "grid_metres":
        plausible = st.one_of(st.integers(503568, 561957), st.integers(155851, 200934), st.sampled_from([0, 99999]))
    elif fmt == "percent":
        plausible = st.integers(0, 100)
    elif fmt == "seconds":
        plausible = st.integers(0, 3600)
    elif col.values:
        plausible = st.sampled_from([int(str(v)) for v in col.values])
    elif fmt is not None and fmt != "enum":
        raise KeyError(f"{col.table}.{col.name}: no strategy for the integer format {fmt!r}")
    options = [whole, edges] + ([plausible, plausible, plausible] if plausible is not None else [])
    return st.one_of(*options)


def datetimes(col: Column) -> st.SearchStrategy[datetime]:
    whole = st.builds(dt_from_ticks, st.integers(0, DAYS), st.integers(0, TICKS_PER_DAY - 1))
    recent_day = (date(2007, 1, 1) - date(1753, 1, 1)).days
    recent = st.builds(dt_from_ticks, st.integers(recent_day, recent_day + 12 * 366),
                       st.integers(0, TICKS_PER_DAY - 1))
    # London's missing spring hour and repeated autumn hour (last Sundays of March / October)
    dst = st.builds(lambda y, spring, minute: datetime(y, 3 if spring else 10, 31, 1, minute)
                    - timedelta(days=(datetime(y, 3 if spring else 10, 31).weekday() + 1) % 7),
                    st.integers(2007, 2018), st.booleans(), st.integers(0, 59))
    edges = st.sampled_from([DT_MIN, DT_MAX, datetime(1900, 1, 1), datetime(9999, 12, 31)])
    return st.one_of(whole, recent, recent, dst, edges)


def money(col: Column) -> st.SearchStrategy[Decimal]:
    scaled = st.integers(-9223372036854775808, 9223372036854775807).map(lambda i: Decimal(i).scaleb(-4))
    plausible = st.integers(0, 100_000_000).map(lambda i: Decimal(i).scaleb(-4))
    edges = st.sampled_from([MONEY_MIN, MONEY_MAX, Decimal("0.0000"), Decimal("-0.0001"), Decimal("0.0001")])
    return st.one_of(scaled, plausible, plausible, edges)


#: one strategy per declared SQL Server type; a type the dictionary declares without an entry
#: here fails tests/properties/test_dictionary.py
TYPE_STRATEGIES = {
    "varchar": varchar, "char": varchar, "nvarchar": nvarchar,
    "bit": integers, "tinyint": integers, "smallint": integers, "int": integers,
    "datetime": datetimes, "money": money,
}


@cache
def column_values(col: Column) -> st.SearchStrategy[Any]:
    base = TYPE_STRATEGIES[col.type](col)
    if col.pk:
        return base.filter(lambda v: v is not None)
    return st.one_of(base, base, base, st.none())


# --------------------------------------------------------------------------- whole tables
def _near(key: bytes) -> st.SearchStrategy[bytes]:
    """The same key as a person retyping it might: case swapped, a trailing or leading blank."""
    return st.sampled_from([key, key.lower(), key.upper(), key + b" ", b" " + key, key.swapcase()])


@cache
def key_pool(col: Column) -> st.SearchStrategy[list[bytes | None]]:
    """A handful of keys, blanks and near-duplicates that the rows' keys are drawn from."""
    n = col.length or 20
    real = st.lists(st.one_of(plausible_text(col).map(_cp), plausible_text(col).map(_cp), hostile_bytes(n)),
                    min_size=1, max_size=5)
    blanks = st.lists(st.sampled_from([b for b in BLANKS if col.nullable != "never" or b is not None]),
                      max_size=3)
    return st.tuples(real, blanks).flatmap(lambda t: st.tuples(
        st.just(t[0]), st.lists(st.sampled_from(t[0]).flatmap(_near), max_size=3), st.just(t[1])).map(
        lambda u: [k[:n] if k is not None else None for k in u[0] + u[1] + u[2]]))


def collation_key(v: bytes | None) -> bytes | None:
    """When two text keys are one key to SQL Server's Latin1_General_CI_AS (case, trailing blanks)."""
    return None if v is None else v.rstrip(b" ").lower()


@st.composite
def table_rows(draw: Any, table_name: str, max_rows: int = 60) -> list[dict[str, Any]]:
    """A whole legacy table: 1–``max_rows`` rows, every column drawn from its declared type, the
    primary key unique (as SQL Server's collation sees it), text keys from a small pool."""
    table: Table = load()[table_name]
    pk = table.pk
    bk_cols = [c for c in table.columns if c.format == "business_key"]
    pools = {c.name: draw(key_pool(c)) for c in bk_cols}
    size = draw(st.integers(1, max_rows))
    rows: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for _ in range(size):
        row: dict[str, Any] = {}
        for c in table.columns:
            if c.name in pools and draw(st.integers(0, 3)):
                row[c.name] = draw(st.sampled_from(pools[c.name]))
            else:
                row[c.name] = draw(column_values(c))
        if pk is not None:
            if pk.type in TYPE_STRATEGIES and pk.type in ("varchar", "char", "nvarchar"):
                if row[pk.name] is None:
                    continue
                ident = collation_key(row[pk.name])
            else:
                ident = row[pk.name]
            if ident in seen:
                continue
            seen.add(ident)
        rows.append(row)
    return rows


_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffd]")


def planted(table_name: str, rows: list[dict[str, Any]]) -> list[str]:
    """Text that must never reach the target: every password, every patient identifier planted."""
    table = load()[table_name]
    out: set[str] = set()
    for c in table.columns:
        if c.format not in ("secret", "patient_text"):
            continue
        for r in rows:
            v = r.get(c.name)
            if v is None:
                continue
            s = v.decode("cp1252", errors="replace") if isinstance(v, bytes) else v
            if c.format == "secret":
                # as it would look once in the target: text cleaning removes control characters
                # (PostgreSQL text cannot even hold a NUL) and undecodable bytes
                s = _UNSTORABLE.sub("", s).strip()
                if len(s) >= 8:
                    out.add(s)
            else:
                out |= identifiers_in(s)
    return sorted(out)


def identifiers_in(text: str) -> set[str]:
    """Patient identifiers in a piece of free text, in the shapes :func:`patient_identifier` plants."""
    import re

    found = set()
    for pat in (r"\b\d{3} \d{3} \d{4}\b", r"\b\d{2}/\d{2}/(?:19[3-9]\d|200\d|2010)\b",
                r"\b(?:07700 900|020 7946 0|07911 123)\d{3}\b",
                r"\b(?:SW1A|E1|N1|SE15|NW10|W2|EC1A|CR0|HA9) \d[ABD-HJLNP-UW-Z]{2}\b"):
        found |= set(re.findall(pat, text))
    return found
