"""The allow-list scrubber's vocabulary: data, not code (:mod:`migration.mapping.transforms.scrub`)."""

from __future__ import annotations

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
