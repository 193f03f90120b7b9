"""The allow-list scrubber's machinery below the rules: the lookup tables derived from the
vocabulary, normalising, tokenising, postcode sectors and multi-word phrases
(:mod:`migration.mapping.transforms.scrub`)."""

from __future__ import annotations

import re
import unicodedata

from migration.mapping.transforms.scrub_vocab import (
    ABBREVIATIONS,
    CONNECTORS,
    HOME_TRIGGERS,
    HOME_WORDS,
    LANDMARKS,
    LONDON_POSTCODE_AREAS,
    NAME_TRIGGERS,
    PHRASES,
    PLACE_WORDS,
    ROOM_WORDS,
    STREET_TYPES,
    VENUE_KINDS,
)

# ================================================================== machinery
_PREPOSITIONS = frozenset("on at near nr outside inside in into opposite opp by behind beside from to".split())
_STRONG_BREAKS = frozenset(".;!?|")
#: Windows-1252 / Unicode punctuation → ASCII; invisible characters removed (after NFKC)
_PUNCT = (("\u2019", "'"), ("\u2018", "'"), ("\u201a", "'"), ("\u201b", "'"), ("\u2032", "'"),
          ("\u00b4", "'"), ("\u02bc", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u201e", '"'),
          ("\u2033", '"'), ("\u2013", "-"), ("\u2014", "-"), ("\u2015", "-"), ("\u2012", "-"),
          ("\u2212", "-"), ("\u2028", "\n"), ("\u2029", "\n"), ("\u0085", "\n"), ("\u200b", ""),
          ("\u200c", ""), ("\u200d", ""), ("\u2060", ""), ("\ufeff", ""), ("\u00ad", ""))
_ASCII_PUNCT = (("\r", "\n"), ("\v", "\n"), ("\f", "\n"), ("`", "'"))
_ABBREV_SUBS = ((re.compile(r"(?<![^\W_])[oO]/[sS](?![^\W_])"), " outside "),
                (re.compile(r"(?<![^\W_])[jJ]/[wWoO](?![^\W_])"), " junction of "))
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*")
#: pieces of a whitespace-free chunk: a word (letters/digits, inner ' or -, trailing ') or one character
_PIECE = re.compile(r"\w+(?:['\-]\w+)*'?|\S")
_DISTRICT = re.compile(r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]?")
_INWARD = re.compile(r"[0-9][A-Za-z]{0,2}")
_FULL_POSTCODE = re.compile(r"([A-Za-z]{1,2}[0-9][A-Za-z0-9]?)([0-9])[A-Za-z]{2}")
_PHRASE_FIRST = frozenset(k[0] for k in PHRASES)
_PHRASE_MAX = max(len(k) for k in PHRASES)

_CATEGORY: dict[str, str] = {}
for _words, _cat in ((CONNECTORS, "connector"), (LANDMARKS, "landmark"), (PLACE_WORDS, "place"),
                     (ROOM_WORDS, "room"), (VENUE_KINDS, "venue"), (STREET_TYPES, "street"),
                     (HOME_TRIGGERS, "home_trigger"), (HOME_WORDS, "home"), (NAME_TRIGGERS, "title")):
    for _w in _words:
        _CATEGORY[_w] = _cat  # later lists win: a title beats a street type, a home word a venue
_CATEGORY["st"] = "st"      # Street after a name, Saint before one
_CATEGORY["saint"] = "st"
_CATEGORY["dr"] = "dr"      # Drive after a name, Doctor before one
#: categories a plural/possessive "s" may not reach ("Pts", "Drs")
_NO_PLURAL = frozenset(("title", "home_trigger", "st", "dr"))

_SUBSTANTIVE = frozenset(("street", "venue", "place", "room", "landmark", "home", "qualifier", "st"))
_TRIGGERS_QUALIFIERS = frozenset(("street", "venue"))
#: categories decided or acted on after tokenising
_SPECIAL = frozenset(("st", "dr", "title", "home", "home_trigger"))
#: a name after a title never runs into these
_NAME_STOPS = frozenset(("connector", "title", "home", "home_trigger"))
#: kinds of token whose loss means an identifier was dropped
_ID_KINDS = frozenset(("num", "smallnum", "district", "sec", "inward"))


class _Tok:
    """One token.  Attributes other than kind/text/sp start as class defaults (cheap to make)."""

    kind: str            # word, num, smallnum, district, sec, inward, brk, strong, other
    text: str            # output text
    sp: bool             # whitespace before it
    key = ""             # lookup key of a word
    cat: str | None = None
    keep = False
    name = False         # marked as a person's name
    group = 0
    clause = 0

    def __init__(self, kind: str, text: str, sp: bool) -> None:
        self.kind = kind
        self.text = text
        self.sp = sp


def _lookup(key: str) -> str | None:
    cat = _CATEGORY.get(key)
    if cat is None and len(key) > 3 and key[-1] == "s":
        cat = _CATEGORY.get(key[:-1])
        if cat in _NO_PLURAL:
            cat = None
    return cat


def _word(w: str, sp: bool) -> _Tok:
    t = _Tok("word", w, sp)
    t.key = key = w.lower().replace("'", "") if "'" in w else w.lower()
    t.cat = _lookup(key)
    return t


def _normalise(s: str) -> str:
    pairs: tuple[tuple[str, str], ...] = _ASCII_PUNCT
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
        pairs = _PUNCT + _ASCII_PUNCT
    for ch, rep in pairs:
        if ch in s:
            s = s.replace(ch, rep)
    if "/" in s:
        low = s.lower()
        if "o/s" in low or "j/" in low:
            for rx, rep in _ABBREV_SUBS:
                s = rx.sub(rep, s)
    return s


def _tokenise(s: str) -> tuple[list[_Tok], bool, bool]:
    """Tokens, whether any holds a digit, whether any may start a phrase."""
    toks: list[_Tok] = []
    has_num = has_phrase = False
    for li, line in enumerate(s.split("\n")):
        if li:
            toks.append(_Tok("strong", "\n", True))
        for chunk in line.split():
            if chunk.isalpha():
                t = _word(chunk, True)
                has_phrase = has_phrase or t.key in _PHRASE_FIRST
                toks.append(t)
                continue
            sp = True
            for w in _PIECE.findall(chunk):
                c = w[0]
                if c.isalnum() or c == "_":
                    if w.replace("'", "").replace("-", "").isalpha():
                        t = _word(w, sp)
                        has_phrase = has_phrase or t.key in _PHRASE_FIRST
                        toks.append(t)
                    elif any(ch.isnumeric() for ch in w):
                        toks.append(_Tok("num", w, sp))
                        has_num = True
                    else:
                        toks.append(_Tok("other", w, sp))
                elif c == "&":
                    t = _word("&", sp)
                    has_phrase = True
                    toks.append(t)
                elif c in _STRONG_BREAKS:
                    prev = toks[-1] if toks else None
                    # a full stop right after an abbreviation or an initial is not a sentence break
                    if not (c == "." and not sp and prev is not None and prev.kind == "word"
                            and (prev.key in ABBREVIATIONS or len(prev.key) == 1)):
                        toks.append(_Tok("strong", c, sp))
                elif c != "'" and c != '"' and (c != "-" or chunk == "-"):
                    toks.append(_Tok("brk", c, sp))
                sp = False
    return toks, has_num, has_phrase


def _postcodes(toks: list[_Tok], flags: set[str]) -> None:
    """Full postcodes → sector; London districts and sectors kept; small numbers marked."""
    n = len(toks)
    for i, t in enumerate(toks):
        if t.kind != "num" or not t.text.isascii():
            continue
        w = t.text
        m = _FULL_POSTCODE.fullmatch(w)
        if m is not None:
            t.kind, t.text = "sec", f"{m.group(1).upper()} {m.group(2)}"
            flags.add("postcode_to_sector")
            continue
        if _DISTRICT.fullmatch(w):
            london = w[:2].rstrip("0123456789").upper() in LONDON_POSTCODE_AREAS
            nxt = toks[i + 1] if i + 1 < n else None
            if nxt is not None and nxt.kind in ("num", "smallnum") and nxt.sp and _INWARD.fullmatch(nxt.text):
                letters = len(nxt.text) - 1
                after = toks[i + 2] if i + 2 < n else None
                # 'E1 6' then nothing, punctuation or a connector is a sector; 'SE1 7 Acacia Road'
                # reads as a district and a house number
                at_end = after is None or after.kind in ("brk", "strong") or after.cat == "connector"
                if letters == 2 or (at_end and (london or letters == 1)):
                    t.kind, t.text = "sec", f"{w.upper()} {nxt.text[0]}"
                    nxt.kind = "inward"
                    if letters == 2:
                        flags.add("postcode_to_sector")
                    elif letters == 1:
                        flags.add("pid_removed")  # a postcode missing a letter: still cut to the sector
                    continue
            if london:
                t.kind, t.text = "district", w.upper()
                continue
        if w.isdigit() and len(w) <= 2:
            t.kind = "smallnum"


def _merge_phrases(toks: list[_Tok]) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if t.kind == "word" and t.key in _PHRASE_FIRST:
            for length in range(min(_PHRASE_MAX, n - i), 1, -1):
                span = toks[i:i + length]
                if any(x.kind != "word" for x in span):
                    continue
                keys = tuple(x.key for x in span)
                cat = PHRASES.get(keys)
                if cat is None and len(keys[-1]) > 3 and keys[-1][-1] == "s":
                    cat = PHRASES.get(keys[:-1] + (keys[-1][:-1],))
                if cat is not None:
                    merged = _Tok("word", "".join((" " if x.sp and k else "") + x.text
                                                  for k, x in enumerate(span)), t.sp)
                    merged.key = " ".join(keys)
                    merged.cat = cat
                    out.append(merged)
                    i += length
                    break
            else:
                out.append(t)
                i += 1
            continue
        out.append(t)
        i += 1
    return out
