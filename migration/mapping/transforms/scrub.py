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
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from migration.mapping.transforms.base import NoParams, Transform, register
from migration.mapping.transforms.text import clean

# ================================================================== vocabulary (data)
# Every key is lower case, apostrophes removed ("sainsbury's" → "sainsburys"); a plural
# or possessive "s" is also tried without it ("pubs" → "pub", "Tesco's" → "tesco").

#: street and place types: a word of these makes the 1–3 name words before it a place name
STREET_TYPES = frozenset("""
road rd street st lane ln avenue ave av square sq parade pde broadway close way park pk
bridge market circus place pl crescent cres drive grove gardens gdns terrace tce walk row
hill green gate mews court ct yard wharf quay embankment passage path common heath rise vale
end cross arch approach causeway circle boulevard highway bypass viaduct roundabout arcade
precinct piazza plaza promenade esplanade reach wood forest fields dock docks basin
""".split())

#: venue kinds: like street types, they make the name words before them a place name
VENUE_KINDS = frozenset("""
pub bar nightclub club restaurant takeaway cafe café caff shop supermarket store stores
offie offy bus station stn underground tube platform train overground dlr tram school academy
college university uni hospital hosp hotel church mosque temple synagogue gurdwara chapel
cathedral stadium alley alleyway estate flats tower centre center library cinema theatre
theater gym garage cemetery playground baths launderette laundrette bookmakers bookies casino
prison hmp airport terminal depot warehouse factory office offices venue hall mall superstore
chemist pharmacy surgery clinic salon barbers barber lounge brewery inn tavern arms services
nursery arena museum gallery zoo subway underpass footbridge rank lido pitch rec line
""".split())

#: generic place words: kept (a location on their own) but they qualify no name
PLACE_WORDS = frozenset("""
pavement footpath sidewalk area public toilets toilet loos stairs stairwell staircase steps
lift escalator corridor reception lobby foyer doorway car vehicle van taxi cab minicab
carriage shelter bench forecourt basement roof rooftop field grass woods river canal towpath
beach queue cashpoint atm workplace work street thames outdoors outdoor indoors town city stand
shopping coffee
""".split())

#: rooms and parts of a dwelling: also kept inside a home sentence
ROOM_WORDS = frozenset("""
kitchen bedroom bathroom hallway doorstep balcony landing driveway garden stairwell stairs
""".split())

#: London areas, landmarks and chains (modest on purpose; each is a place on its own)
LANDMARKS = frozenset("""
london tesco sainsburys asda morrisons lidl aldi waitrose iceland co-op coop mcdonalds kfc
greggs wetherspoons spoons costa starbucks primark boots superdrug argos ladbrokes coral
westfield soho mayfair brixton peckham camden hackney shoreditch stratford whitechapel stepney
bow poplar dalston walthamstow leyton leytonstone ilford romford woolwich deptford lewisham
catford streatham tooting balham wimbledon putney fulham chelsea kensington hammersmith acton
southall uxbridge harrow edgware finchley hendon kilburn holloway archway highbury islington
hoxton aldgate moorgate holborn strand bayswater vauxhall stockwell kennington bermondsey
rotherhithe greenwich eltham erith bexleyheath sidcup orpington beckenham bromley penge norwood
mitcham morden sutton kingston surbiton richmond twickenham hounslow heathrow hayes ealing
wembley willesden harlesden neasden cricklewood hampstead highgate tottenham edmonton enfield
chingford plaistow beckton barking dagenham croydon brent barnet bexley haringey havering
hillingdon lambeth merton newham redbridge southwark wandsworth westminster battersea clapham
camberwell brockley charlton thamesmead pimlico marylebone paddington euston waterloo
blackfriars piccadilly barbican farringdon clerkenwell angel bloomsbury belgravia knightsbridge
chiswick brentford isleworth feltham northolt greenford stanmore pinner ruislip hornchurch
upminster rainham woodford wanstead walworth sydenham selhurst purley coulsdon carshalton
wallington cheam tolworth chessington teddington barnes mortlake kew roehampton southfields
earlsfield homerton clapton bankside southbank nandos pret wagamama dominos morleys poundland
wilko currys halfords homebase ikea lloyds barclays natwest hsbc santander halifax nationwide
betfred travelodge hmv shell esso texaco
""".split())

#: connectors and prepositions: kept between kept words, never a location on their own
CONNECTORS = frozenset("""
on at near nr outside inside in into opposite opp by of the a an junction jct jn jnc corner
to from onto off behind beside between next front rear back side entrance towards toward
along across under underneath over above below within around round past beyond adjacent
alongside just and & with upon via top bottom o/s
""".split())

#: a dwelling: kept as the location type, and its sentence becomes a home context
HOME_WORDS = frozenset("home house flat apartment maisonette bedsit hostel halls".split())

#: mark a home context but are dropped themselves
HOME_TRIGGERS = frozenset("""
address addr lives living lived live resides residing resident residence dwelling abode
""".split())

#: titles and relations: the 1–3 capitalised words after one are a person's name
NAME_TRIGGERS = frozenset("""
mr mrs ms miss mx dr prof sir dame rev revd fr patient pt pts named name called aka nok
son daughter wife husband partner boyfriend girlfriend bf gf friend mate brother sister
mother father mum mom dad cousin uncle aunt auntie nephew niece grandson granddaughter
grandmother grandfather nan gran neighbour neighbor carer gp victim suspect assailant
offender attacker mother-in-law father-in-law ex
""".split())

#: words after which a 1–2 digit number is a location detail (platform 2, bus 38)
NUMBERED_PLACES = frozenset("platform platforms bus route terminal gate stand bay exit carriage junction".split())

#: month names (a number before one is part of a date)
MONTHS = frozenset("""
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
""".split())

#: words that are never a place name (and, when dropped, not a possible personal name)
NOT_QUALIFIERS = frozenset("""
his her their my your our its him them he she they i we you this that these those some any
no not unknown known was were is are been being had has have got went came come going walking
walked waiting standing sitting drinking working running leaving left assaulted attacked
punched kicked stabbed hit slapped bitten bit glassed robbed mugged beaten beat fight fighting
fought fell pushed struck headbutted strangled threatened chased followed injured hurt
male female man woman men women boy girl boys girls youth youths group gang person people
persons someone somebody stranger strangers drunk security staff bouncer bouncers doorman
police officer officers knife bottle glass weapon weapons phone mobile tel mob dob nhs age
aged years yrs year old approx about around night morning evening afternoon today yesterday
tonight am pm hrs when while after before then also who whom which where there here monday tuesday wednesday thursday friday saturday
sunday mon tue tues wed thu thur thurs fri sat sun pts patients unk nk location loc
given gave give giving stated states state said says reported reports refused declined unable
told telling details detail info information unclear not-known sector postcode district
""".split()) | MONTHS

#: multi-word vocabulary (matched before single words, longest first): words → category
PHRASES: dict[tuple[str, ...], str] = {
    **{tuple(p.split()): "street" for p in ("high road", "high street", "main road", "service road")},
    **{tuple(p.split()): "venue" for p in (
        "off licence", "off license", "bus stop", "bus shelter", "bus garage", "bus station",
        "car park", "tube station", "train station", "railway station", "police station",
        "petrol station", "fire station", "shopping centre", "leisure centre", "sports centre",
        "community centre", "youth club", "post office", "kebab shop", "chicken shop",
        "betting shop", "wine bar", "taxi rank", "cab office", "snooker hall", "bingo hall",
        "car wash", "public house", "night club", "recreation ground", "play area",
        "football ground", "football pitch", "swimming pool", "building site", "shop front",
        "magistrates court", "crown court", "bus lane",
    )},
    **{tuple(p.split()): "place" for p in (
        "a & e", "a and e", "accident and emergency", "emergency department", "waiting room",
        "town centre", "city centre", "public place", "open space", "bus seat",
        "top deck", "lower deck", "upper deck",
    )},
    **{tuple(p.split()): "room" for p in ("living room", "front door", "back door", "front garden", "back garden")},
    **{tuple(p.split()): "home" for p in (
        "care home", "nursing home", "residential home", "childrens home", "house party",
    )},
    **{tuple(p.split()): "home_trigger" for p in ("home address", "no fixed abode")},
    **{tuple(p.split()): "venue" for p in ("block of flats", "tower block", "council estate")},
    **{tuple(p.split()): "landmark" for p in (
        "elephant and castle", "elephant & castle", "kings cross", "st pancras", "canary wharf",
        "isle of dogs", "crystal palace", "notting hill", "shepherds bush", "earls court",
        "mile end", "bethnal green", "golders green", "london bridge", "tower bridge",
        "tower hill", "hyde park", "regents park", "victoria park", "finsbury park", "marble arch",
        "covent garden", "leicester square", "trafalgar square", "piccadilly circus",
        "oxford circus", "canning town", "east ham", "west ham", "forest gate", "camden town",
        "kentish town", "chalk farm", "swiss cottage", "seven sisters", "manor house",
        "turnpike lane", "wood green", "muswell hill", "south bank", "old kent road",
        "tottenham court road", "burger king", "pizza hut", "paddy power", "olympic park",
        "pizza express", "five guys", "chicken cottage", "sports direct", "jd sports", "premier inn",
        "marks and spencer", "marks & spencer", "william hill", "tk maxx",
        "queen elizabeth olympic park", "royal london", "whipps cross", "north middlesex",
        "new cross", "stoke newington", "stamford hill", "seven kings", "gants hill",
        "west end", "east end", "city of london", "kingston upon thames", "richmond upon thames",
        "waltham forest", "tower hamlets", "victoria station", "charing cross", "liverpool street",
        "fenchurch street", "st katharine docks", "canada water", "surrey quays",
    )},
}

#: abbreviations whose full stop is not a sentence break ("St. Mary's", "Mr. Smith")
ABBREVIATIONS = frozenset("st rd ave av nr opp jct sq ln pl pde cres gdns tce ct stn hosp mr mrs ms dr prof rev revd fr pt no".split())

#: postcode areas of London and its edge: a district or sector on its own is kept only here
LONDON_POSTCODE_AREAS = frozenset("E EC N NW SE SW W WC BR CR DA EN HA IG KT RM SM TN TW UB WD".split())

MAX_QUALIFIERS = 3
FLAG_ORDER = ("pid_removed", "postcode_to_sector", "home_address_removed", "text_dropped")

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
