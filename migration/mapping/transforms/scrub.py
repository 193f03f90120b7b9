"""ISTV ``LocDesc`` free text → ``location_text_clean`` by an ALLOW-LIST.

ISB 1594 data is anonymised by law: no patient identifier (name, address, full postcode,
date of birth, NHS number, phone number, local patient ids) may reach the new system.
A deny-list only finds the identifiers it was tuned on, so this scrubber does the
opposite: it keeps only what is recognisably *location vocabulary* and drops everything
else.

What is kept (the vocabulary below is data, not code):

- street and place types (``Road``, ``Rd``, ``High Street``, ``Square``, ``Broadway`` …),
  venue kinds (``pub``, ``off licence``, ``bus stop``, ``tube``, ``car park``, ``A&E`` …),
  generic place words (``pavement``, ``stairwell``, ``toilets`` …), a modest list of London
  areas, landmarks and chains (``Brixton``, ``Elephant and Castle``, ``Tesco`` …) and
  connectors (``on``, ``at``, ``outside``, ``junction``, ``corner`` …);
- the *name words* immediately qualifying a street type or venue kind (``Commercial Road``,
  ``Black Lion pub``): at most :data:`MAX_QUALIFIERS` words, alphabetic only, capitalised
  when the text uses both cases, never a word a title marked as a name (``Mrs Patel``,
  ``patient Ahmed``) and never in a home/address context;
- a small number (1–2 digits) right after ``platform``, ``bus``, ``terminal`` … when no
  other digits follow (``platform 2``, ``bus 38``);
- postcodes reduced to their SECTOR (``E1 6AN`` → ``E1 6``; a London district or sector on
  its own is kept).

Home context: in a sentence (split at ``. ; ! ? |`` and new lines) that mentions a dwelling
(``home``, ``house``, ``flat``, ``care home`` …) or an address (``address``, ``lives`` …), the
segment (split at commas, brackets, slashes, dashes) holding that word, every later segment
of the sentence and every earlier segment holding a number keep only the dwelling word, the
preposition before it, room words and postcode sectors — so ``outside his home at 14 Acacia
Road`` → ``outside home`` and ``14 Acacia Road (patient's home)`` → ``home``, while ``Tesco,
Rye Lane - refused to give address`` keeps ``Tesco, Rye Lane``.  A dwelling word right before
a venue kind names the venue (``White House pub``).

Output: kept words in their order and spelling (curly quotes made straight), a space between
words, ``, `` between segments, ``; `` between sentences; a connector is kept only before
something kept (``hit with a bottle at the pub`` → ``at the pub``).  Scrubbing the output
again gives the same output.

Flags (fixed order, names only — never the removed text): ``pid_removed`` when something
that looked like an identifier was dropped (anything with digits, a name marked by a title,
a capitalised word that is not vocabulary, an e-mail, the inward letters of a postcode),
``postcode_to_sector`` when a full postcode was cut to its sector, ``home_address_removed``
when a home sentence lost words, ``text_dropped`` when nothing location-like remained (the
value is then NULL).

Known limits (tests/mapping/test_scrub.py pins each one): a person's name that is itself
location vocabulary (``Sutton``, ``Chelsea``, ``Hill`` in ``John Hill Road``) or that stands
right before a street type or venue kind with no separator (``John Smith pub``) reads as a
place and is kept — a title or relation before it (``Mr``, ``pt``, ``wife``) or any
punctuation or connector after it prevents that; business names *after* a venue kind
(``Hotel Continental``), road numbers (``A13``), bus routes of 3 digits and misspelt
vocabulary are dropped; an address in a sentence that does not say it is a home keeps its
street name (never its number).

The function is pure and deterministic, never raises on any ``str``/``None`` input, and
runs in tens of microseconds per value (results are cached per distinct text).

The vocabulary is in :mod:`.scrub_vocab`, the tokeniser in :mod:`.scrub_tokens`; this module
holds the rules that decide what is kept, and the two transforms.
"""


from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from migration.mapping.transforms.base import NoParams, Transform, register
from migration.mapping.transforms.scrub_tokens import (
    _EMAIL,
    _ID_KINDS,
    _NAME_STOPS,
    _PREPOSITIONS,
    _SPECIAL,
    _SUBSTANTIVE,
    _TRIGGERS_QUALIFIERS,
    _merge_phrases,
    _normalise,
    _postcodes,
    _Tok,
    _tokenise,
)
from migration.mapping.transforms.scrub_vocab import (
    FLAG_ORDER,
    MAX_QUALIFIERS,
    MONTHS,
    NOT_QUALIFIERS,
    NUMBERED_PLACES,
)
from migration.mapping.transforms.text import clean


@lru_cache(maxsize=65536)
def scrub_location_text(text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """(cleaned location text or None, flags) — see the module docstring for the rule."""
    s = clean(text)
    if s is None:
        return (None, ())
    flags: set[str] = set()
    s = _normalise(s)
    if "@" in s:
        s, k = _EMAIL.subn(" @ ", s)
        if k:
            flags.add("pid_removed")
    toks, has_num, has_phrase = _tokenise(s)
    if has_num:
        _postcodes(toks, flags)
    if has_phrase:
        toks = _merge_phrases(toks)
    n = len(toks)
    mixed = s.lower() != s and s.upper() != s  # both cases used: capitals mean something

    def eligible(t: _Tok) -> bool:
        """Could this word be (part of) a place's name?"""
        return (t.kind == "word" and t.cat is None and not t.name and len(t.key) > 1
                and t.key not in NOT_QUALIFIERS and (not mixed or t.text[0].isupper()))

    # sentences (home context), groups (output separated by commas), the tokens to look at
    clause = group = 0
    specials: list[int] = []
    for i, t in enumerate(toks):
        if t.kind == "strong":
            clause += 1
            group += 1
        elif t.kind == "brk":
            group += 1
        t.clause = clause
        t.group = group
        if t.cat in _SPECIAL:
            specials.append(i)

    # Dr / St: decided by their neighbours
    for i in specials:
        t = toks[i]
        if t.cat != "st" and t.cat != "dr":
            continue
        prev = toks[i - 1] if i > 0 else None
        nxt = toks[i + 1] if i + 1 < n else None
        after_name = prev is not None and (eligible(prev) or prev.cat in ("street", "landmark"))
        before_name = (nxt is not None and nxt.kind == "word" and nxt.cat in (None, "landmark")
                       and (not mixed or nxt.text[0].isupper()))
        if t.cat == "dr":
            t.cat = "street" if after_name and not before_name else "title"
        elif after_name:
            t.cat = "street"
        # else Saint: kept with the saint's name after it (below)

    # names: the words after a title or a relation ("Mrs Patel", "patient Ahmed", "Name: John")
    name_keys: set[str] = set()
    for i in specials:
        if toks[i].cat != "title":
            continue
        taken = 0
        j = i + 1
        while j < n and taken < MAX_QUALIFIERS:
            u = toks[j]
            j += 1
            if u.kind == "brk" and u.text in ":-#" and taken == 0:
                continue
            if u.kind == "word" and len(u.key) == 1 and u.text.isupper() and u.key != "&":
                u.name = True  # an initial ("Mrs A. Begum")
                continue
            if u.kind != "word" or u.key in NOT_QUALIFIERS or u.cat in _NAME_STOPS:
                break
            if mixed and not u.text[0].isupper():
                break
            if not mixed and u.cat not in (None, "landmark", "street"):
                break
            u.name = True
            name_keys.add(u.key)
            taken += 1
    if name_keys:
        for t in toks:
            if t.kind == "word" and t.key in name_keys and t.cat not in _NAME_STOPS:
                t.name = True

    # home context: from the segment that mentions a dwelling to the end of its sentence, and
    # the segments before it in that sentence that hold a number ("14 Acacia Road (his home)")
    home_from: dict[int, int] = {}
    for i in specials:
        t = toks[i]
        if (t.cat == "home" or t.cat == "home_trigger") and not t.name:
            nxt = toks[i + 1] if i + 1 < n else None
            if t.cat == "home" and nxt is not None and nxt.cat == "venue" and " " not in t.key:
                t.cat = None  # "White House pub": a venue's name, not a dwelling
                continue
            if t.clause not in home_from:
                home_from[t.clause] = t.group
    in_home = [False] * n
    if home_from:
        numbered_groups = {t.group for t in toks if t.kind in ("num", "smallnum") and t.clause in home_from}
        for i, t in enumerate(toks):
            g = home_from.get(t.clause)
            in_home[i] = g is not None and (t.group >= g or t.group in numbered_groups)

    # keep
    for i, t in enumerate(toks):
        if t.name:
            continue
        home = in_home[i]
        kind = t.kind
        if kind == "sec" or kind == "district":
            t.keep = True
        elif kind == "smallnum":
            prev = toks[i - 1] if i > 0 else None
            nxt = toks[i + 1] if i + 1 < n else None
            nxt2 = toks[i + 2] if i + 2 < n else None
            # the head of a date, phone or NHS number is not a platform number
            digits_follow = nxt is not None and (
                nxt.kind in _ID_KINDS or nxt.key in MONTHS
                or (nxt.kind in ("brk", "strong") and not nxt.sp and nxt.text in "/.:-"
                    and nxt2 is not None and nxt2.kind in _ID_KINDS))
            t.keep = (not home and prev is not None and prev.keep and prev.key in NUMBERED_PLACES
                      and not digits_follow)
        elif kind != "word":
            continue
        elif home:
            if t.cat == "home" or t.cat == "room":
                t.keep = True
                # the preposition before the dwelling ("outside his home")
                for j in range(i - 1, max(-1, i - 4), -1):
                    u = toks[j]
                    if u.kind != "word" or u.group != t.group:
                        break
                    if u.key in _PREPOSITIONS:
                        u.keep = True
                        u.cat = "prep"  # stays even with "his" dropped after it
                        break
        elif t.cat == "st":
            t.keep = True
            nxt = toks[i + 1] if i + 1 < n else None
            if nxt is not None and (eligible(nxt) or nxt.cat == "landmark"):
                nxt.keep = True
                nxt.cat = nxt.cat or "qualifier"
        elif t.cat in ("connector", "street", "venue", "place", "room", "landmark"):
            t.keep = True
            if t.cat in _TRIGGERS_QUALIFIERS:
                _qualify(toks, i, eligible)

    # a connector is kept only before kept words ("hit with a bottle at the pub" → "at the pub")
    # or before a dropped number followed by a kept word ("outside 14 Acacia Road"), not before
    # a dropped number followed by more connectors ("on the A13 near Beckton" → "near Beckton")
    follow = follow_word = False
    for i in range(n - 1, -1, -1):
        t = toks[i]
        if t.kind in ("brk", "strong"):
            follow = follow_word = False
        elif t.kind in ("word", "sec", "district") or (t.kind == "smallnum" and t.keep):
            if t.cat == "connector" and t.keep:
                t.keep = follow
                follow_word = False
            else:
                follow = follow_word = t.keep
        else:
            follow = follow_word

    # flags for what was dropped
    home_dropped = False
    for i, t in enumerate(toks):
        if t.keep or t.kind in ("brk", "strong", "inward"):
            continue
        if t.kind in _ID_KINDS or t.name:
            flags.add("pid_removed")
        elif t.kind == "word" and t.cat is None and t.key not in NOT_QUALIFIERS and (
                not mixed or t.text[0].isupper()):
            flags.add("pid_removed")
        if (in_home[i] and t.kind != "other" and t.cat not in ("connector", "title", "home_trigger")
                and t.key not in NOT_QUALIFIERS):
            home_dropped = True
    if home_dropped:
        flags.add("home_address_removed")

    value = _render(toks)
    if value is None:
        flags.add("text_dropped")
    return (value, tuple(f for f in FLAG_ORDER if f in flags))


def _qualify(toks: list[_Tok], i: int, eligible: Any) -> None:
    """Keep the name words right before the street type / venue kind at ``i``."""
    taken = 0
    j = i - 1
    while j >= 0 and taken < MAX_QUALIFIERS:
        u = toks[j]
        if eligible(u):
            u.keep = True
            u.cat = "qualifier"
            taken += 1
        elif u.cat == "qualifier" or (u.kind == "word" and u.cat in ("street", "venue", "st") and not u.name):
            pass  # part of the same name ("Mile End Road", "St Mary's Hospital"); a landmark ends it
        elif u.key in ("and", "&", "of") and j > 0 and (eligible(toks[j - 1]) or toks[j - 1].cat == "landmark"):
            u.keep = True  # "Rose and Crown pub", "King of Prussia pub"
        else:
            break
        j -= 1


def _render(toks: list[_Tok]) -> str | None:
    """Kept tokens: a space between words, ', ' between groups and '; ' between sentences (so
    that scrubbing the result again changes nothing).  A sector ends its group: no word after
    it may read as the inward code of a full postcode."""
    groups: list[list[_Tok]] = []
    current: list[_Tok] = []
    last_group = -1
    for t in toks:
        if not t.keep:
            continue
        if t.group != last_group or (current and current[-1].kind == "sec"):
            if current:
                groups.append(current)
            current = []
            last_group = t.group
        current.append(t)
    if current:
        groups.append(current)
    out: list[str] = []
    last_text, last_clause = "", -1
    for g in groups:
        while g and g[-1].cat == "connector":
            g.pop()
        while g and g[0].key in ("and", "&", "of"):
            g.pop(0)
        if not g or not any(t.cat in _SUBSTANTIVE or t.kind in ("sec", "district", "smallnum") for t in g):
            continue
        text = " ".join(t.text for t in g)
        if text == last_text and g[0].clause == last_clause:
            continue
        if out:
            out.append("; " if g[0].clause != last_clause else ", ")
        out.append(text)
        last_text, last_clause = text, g[0].clause
    return "".join(out) if out else None


@register
class ScrubLocationText(Transform):
    name = "scrub_location_text"
    summary = ("ISTV LocDesc free text → location_text_clean by an allow-list: keeps street/place types, "
               "venue kinds, landmarks, connectors, the name words qualifying a street or venue (never in a "
               "home context) and postcodes cut to the sector; drops everything else (names, NHS numbers, "
               "dates, phone numbers, house numbers, home addresses). Nothing location-like left → NULL, "
               "flag text_dropped; flags pid_removed, postcode_to_sector, home_address_removed.")
    outputs = {"value": "text", "flags": "text[]"}
    python_only = True

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        if value is not None and not isinstance(value, str):
            value = str(value)
        return scrub_location_text(value)


# ================================================================ short free text
#: a title or relation that marks the next word as a person's name
_NAME_MARKERS = re.compile(r"(?i)(?<![a-z])(mr|mrs|ms|miss|mstr|master|dr|pt|patient|nok|dob|d\.o\.b|"
                           r"born|aged|age|tel|phone|mob|mobile|nhs|hosp no|mrn)(?![a-z])")


@lru_cache(maxsize=65536)
def scrub_identifiers(text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """Short free text (ISTV ``MethodOther``, 25 characters) by a DENY rule: a value that holds
    anything an identifier is made of — a digit (NHS numbers, dates of birth, phone numbers,
    full postcodes, house numbers all have one), an ``@``, a title or marker before a name
    (``Mr``, ``pt``, ``DOB`` …) — is dropped whole (NULL, flags ``pid_removed`` and
    ``text_dropped``); anything else is kept as it is.  A method description ("Bottle",
    "Bitten by dog") holds none of these; dropping the whole value rather than the matched
    part keeps a name written beside a number from surviving.  Known limit: a bare name with
    no marker and no digit ("John Smith") is kept — this field is a 25-character method
    description, not the free text the dictionary names as holding identifiers (LocDesc)."""
    s = clean(text)
    if s is None:
        return None, ()
    if any(ch.isdigit() for ch in s) or "@" in s or _NAME_MARKERS.search(s):
        return None, ("pid_removed", "text_dropped")
    return s, ()


@register
class ScrubIdentifiers(Transform):
    name = "scrub_identifiers"
    summary = ("Short free text (ISTV MethodOther) by a deny rule: a value holding a digit, an '@' or a "
               "title/marker before a name (Mr, pt, DOB, NHS …) is dropped whole → NULL, flags pid_removed "
               "and text_dropped; anything else is kept.")
    outputs = {"value": "text", "flags": "text[]"}
    python_only = True

    def py(self, p: NoParams, lookups: Any, value: Any) -> tuple[Any, ...]:
        if value is not None and not isinstance(value, str):
            value = str(value)
        return scrub_identifiers(value)
