"""The generator's own word lists: spellings, codes, names and phrases.

These lists belong to the generator alone.  The migration must never import them (and
this module imports nothing from the migration's mapping code): if both sides read one
list, no test could ever find a spelling the mapping misses.

Non-ASCII characters below are all in Windows-1252 (’ ‘ “ ” – £ é è ô), because the
legacy database is ``Latin1_General_CI_AS``.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- boroughs
#: Pre-2011 ONS local authority codes in GSS order (E09000001 … E09000033).
OLD_ONS_CODES: tuple[str, ...] = (
    "00AA", "00AB", "00AC", "00AD", "00AE", "00AF", "00AG", "00AH", "00AJ", "00AK", "00AL",
    "00AM", "00AN", "00AP", "00AQ", "00AR", "00AS", "00AT", "00AU", "00AW", "00AX", "00AY",
    "00AZ", "00BA", "00BB", "00BC", "00BD", "00BE", "00BF", "00BG", "00BH", "00BJ", "00BK",
)

#: Met Police two-letter borough codes in GSS order (City of London is not Met: CL).
MPS_CODES: tuple[str, ...] = (
    "CL", "KG", "SX", "RY", "QK", "PY", "EK", "ZD", "XS", "YE", "RG",
    "GD", "FH", "YR", "QA", "KD", "XH", "TX", "NI", "BS", "VK", "LX",
    "PL", "VW", "KF", "JI", "TW", "MD", "ZT", "HT", "JC", "WW", "CW",
)

#: Extra "long form" spellings of particular boroughs (official name → long form).
LONG_FORMS: dict[str, tuple[str, ...]] = {
    "Kensington and Chelsea": ("Royal Borough of Kensington and Chelsea",),
    "Kingston upon Thames": ("Royal Borough of Kingston upon Thames",),
    "Greenwich": ("Royal Borough of Greenwich",),
    "Westminster": ("City of Westminster",),
}
#: Short forms seen in the real data (official name → short form).
SHORT_FORMS: dict[str, str] = {
    "Kingston upon Thames": "Kingston",
    "Richmond upon Thames": "Richmond",
    "Barking and Dagenham": "Barking",
}
#: Misspellings of real boroughs (official name → misspellings), each one slip away from
#: the name: a letter wrong, missing or doubled, or two adjacent letters swapped.  The
#: migration's alias table should resolve them (flagged), not drop them.
MISSPELT: dict[str, tuple[str, ...]] = {
    "Barnet": ("Barnett",),
    "Bromley": ("Bromely",),
    "Camden": ("Camdon",),
    "Croydon": ("Croyden",),
    "Enfield": ("Enfeild",),
    "Greenwich": ("Greenwhich",),
    "Hackney": ("Hackny",),
    "Hammersmith and Fulham": ("Hammersmith and Fullham",),
    "Haringey": ("Haringay",),
    "Hillingdon": ("Hillingdom",),
    "Islington": ("Islignton",),
    "Kensington and Chelsea": ("Kensington & Chelsa",),
    "Lewisham": ("Lewsham",),
    "Newham": ("Newam",),
    "Redbridge": ("Redbrige",),
    "Southwark": ("Southwalk",),
    "Tower Hamlets": ("Tower Hamlet",),
    "Waltham Forest": ("Waltham Forrest",),
    "Wandsworth": ("Wandsworht",),
    "Westminster": ("Westminister",),
}
MISSPELLINGS: tuple[str, ...] = tuple(m for ms in MISSPELT.values() for m in ms)
#: Places near London that are not London authorities (typed for incidents over the boundary).
NEAR_LONDON: tuple[str, ...] = (
    "Surrey", "Epping Forest", "Essex", "Kent", "Spelthorne", "Dartford", "Hertsmere", "Thurrock",
    "Slough",
)
#: Plain garbage typed into borough fields.
GARBAGE_PLACES: tuple[str, ...] = ("Narnia", "XXXX", "???", "Test")
#: Texts that name no London borough at all: they must stay unresolved.
NON_LONDON: tuple[str, ...] = NEAR_LONDON + GARBAGE_PLACES
PSEUDO_HEATHROW: tuple[str, ...] = ("Heathrow", "HEATHROW", "Heathrow ")
PSEUDO_UNKNOWN: tuple[str, ...] = ("Unknown", "UNKNOWN", "unknown")

#: Every "no value" spelling other than SQL NULL (the dictionary's conventions).
NO_VALUE_TEXTS: tuple[str, ...] = ("", " ", "   ", "NULL", "N/A", "n/a", "-")

#: Postcode districts per borough (GSS order), for LFB postcodes and ISTV identifiers.
POSTCODE_DISTRICTS: tuple[tuple[str, ...], ...] = (
    ("EC2V", "EC3M", "EC4M"), ("IG11", "RM8", "RM9", "RM10"), ("N3", "NW4", "EN5", "N12"),
    ("DA5", "DA6", "DA7", "DA15"), ("NW10", "HA9", "NW2"), ("BR1", "BR2", "BR6"),
    ("NW1", "NW3", "NW5", "WC1N"), ("CR0", "CR7", "SE25"), ("W5", "W13", "UB1"),
    ("EN1", "EN3", "N9"), ("SE10", "SE18", "SE9"), ("E8", "E5", "N16"),
    ("W6", "W12", "SW6"), ("N15", "N17", "N8"), ("HA1", "HA2", "HA3"),
    ("RM1", "RM3", "RM12"), ("UB8", "UB3", "HA4"), ("TW3", "TW4", "TW7"),
    ("N1", "N7", "N19"), ("SW3", "SW10", "W8"), ("KT1", "KT2", "KT6"),
    ("SW2", "SW9", "SE11"), ("SE13", "SE4", "SE6"), ("SW19", "CR4", "SM4"),
    ("E6", "E13", "E15"), ("IG1", "IG2", "E18"), ("TW9", "TW10", "TW1"),
    ("SE1", "SE15", "SE16"), ("SM1", "SM2", "SM3"), ("E1", "E3", "E14"),
    ("E17", "E4", "E10"), ("SW11", "SW15", "SW18"), ("W1D", "SW1A", "W2"),
)
POSTCODE_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

#: Far outside London: British National Grid points of other towns (E, N).
FAR_POINTS: tuple[tuple[int, int], ...] = (
    (383500, 398200), (407100, 286900), (531200, 104300), (458600, 171500),
    (651400, 310600), (325900, 673800), (262300, 177200), (430500, 433800),
)
#: A point at Heathrow airport (inside the London box, in Hillingdon).
HEATHROW_POINT = (507600, 175900)
NON_NUMERIC_GRID: tuple[str, ...] = ("5301O2", "TQ 301 802", "531,200", "unknown", "E5312", "#VALUE!")

# --------------------------------------------------------------------------- streets
STREETS: tuple[str, ...] = (
    "High Street", "Oxford Street", "Commercial Road", "Mare Street", "Brixton Road",
    "Holloway Road", "Edgware Road", "Kilburn High Road", "Old Kent Road", "Mile End Road",
    "Whitechapel Road", "Camden High Street", "Seven Sisters Road", "Green Lanes",
    "Uxbridge Road", "Lewisham High Street", "Peckham High Street", "Rye Lane",
    "Walworth Road", "Streatham High Road", "Tooting High Street", "Balham High Road",
    "Clapham High Street", "Fulham Road", "Kings Road", "Shepherds Bush Green",
    "Harrow Road", "Station Road", "Church Street", "London Road", "Victoria Street",
    "Strand", "Charing Cross Road", "Tottenham Court Road", "Euston Road", "Pentonville Road",
    "Essex Road", "Upper Street", "Stoke Newington High Street", "Kingsland Road",
    "Bethnal Green Road", "Roman Road", "Barking Road", "Romford Road", "Ilford Lane",
    "Lea Bridge Road", "Hoe Street", "Fore Street", "Tottenham High Road", "Wood Green High Road",
    "Hornsey Road", "Finchley Road", "Golders Green Road", "Burnt Oak Broadway",
    "Kenton Road", "Ealing Broadway", "Acton High Street", "Chiswick High Road",
    "Hounslow High Street", "Hayes Town Centre", "Sutton High Street", "Croydon Road",
    "North End", "Bromley High Street", "Eltham High Street", "Powis Street",
    "Woolwich Road", "Deptford High Street", "New Cross Road", "Camberwell Road",
    "Denmark Hill", "Coldharbour Lane", "Acre Lane", "Battersea Park Road",
    "Wandsworth High Street", "Putney High Street", "Richmond Road", "Kingston Road",
    "Mitcham Lane", "Morden Road", "Eden Street", "Ashburton Grove",
)
#: Street names carrying Windows-1252 characters.
STREETS_CP1252: tuple[str, ...] = (
    "St Mary’s Road", "King’s Cross Road", "Queen’s Crescent", "St John’s Wood Road",
    "Café Parade", "Pall Mall – Waterloo Place", "Crème Lane", "St Agnes’ Place",
    "Bishop’s Bridge Road", "“The Cut”",
)
#: The characters the cp1252 kinds look for.
CP1252_CHARS: tuple[str, ...] = ("’", "‘", "–", "£", "é", "è", "ô", "“", "”")

# --------------------------------------------------------------------------- crime types
#: (MajorCat, MinorCat, number of HO codes, PoliceUKCat, violent, weight %, retired)
CRIME_TYPES: tuple[tuple[str, str, int, str, bool, float, bool], ...] = (
    ("Burglary", "Burglary in a Dwelling", 5, "Burglary", False, 7.0, False),
    ("Burglary", "Burglary in Other Buildings", 4, "Burglary", False, 4.0, False),
    ("Criminal Damage", "Criminal Damage To Dwelling", 4, "Criminal damage and arson", False, 2.5, False),
    ("Criminal Damage", "Criminal Damage To Motor Vehicle", 3, "Criminal damage and arson", False, 3.5, False),
    ("Criminal Damage", "Criminal Damage To Other Building", 4, "Criminal damage and arson", False, 1.5, False),
    ("Criminal Damage", "Other Criminal Damage", 4, "Criminal damage and arson", False, 2.0, False),
    ("Drugs", "Drug Trafficking", 4, "Drugs", False, 0.8, False),
    ("Drugs", "Possession Of Drugs", 3, "Drugs", False, 5.0, False),
    ("Drugs", "Other Drugs", 3, "Drugs", False, 0.2, False),
    ("Fraud or Forgery", "Counted per Victim", 6, "Other crime", False, 1.0, True),
    ("Fraud or Forgery", "Other Fraud & Forgery", 5, "Other crime", False, 0.6, True),
    ("Other Notifiable Offences", "Going Equipped", 3, "Other crime", False, 0.2, False),
    ("Other Notifiable Offences", "Other Notifiable", 6, "Other crime", False, 1.0, False),
    ("Robbery", "Business Property", 3, "Robbery", True, 0.5, False),
    ("Robbery", "Personal Property", 4, "Robbery", True, 4.0, False),
    ("Sexual Offences", "Rape", 5, "Violence and sexual offences", True, 0.5, False),
    ("Sexual Offences", "Other Sexual", 6, "Violence and sexual offences", True, 1.0, False),
    ("Theft and Handling", "Handling Stolen Goods", 3, "Other theft", False, 0.3, False),
    ("Theft and Handling", "Motor Vehicle Interference & Tampering", 3, "Vehicle crime", False, 0.8, False),
    ("Theft and Handling", "Other Theft", 6, "Other theft", False, 11.0, False),
    ("Theft and Handling", "Other Theft Person", 4, "Theft from the person", False, 4.0, False),
    ("Theft and Handling", "Theft From Motor Vehicle", 3, "Vehicle crime", False, 6.0, False),
    ("Theft and Handling", "Theft From Shops", 4, "Shoplifting", False, 5.0, False),
    ("Theft and Handling", "Theft/Taking Of Motor Vehicle", 4, "Vehicle crime", False, 3.0, False),
    ("Theft and Handling", "Theft/Taking of Pedal Cycle", 3, "Bicycle theft", False, 2.5, False),
    ("Violence Against the Person", "Assault with Injury", 5, "Violence and sexual offences", True, 7.0, False),
    ("Violence Against the Person", "Common Assault", 4, "Violence and sexual offences", True, 7.0, False),
    ("Violence Against the Person", "Harassment", 5, "Public order", True, 6.0, False),
    ("Violence Against the Person", "Murder", 2, "Violence and sexual offences", True, 0.05, False),
    ("Violence Against the Person", "Offensive Weapon", 3, "Possession of weapons", True, 1.0, False),
    ("Violence Against the Person", "Other violence", 3, "Violence and sexual offences", True, 0.5, False),
    ("Violence Against the Person", "Wounding/GBH", 4, "Violence and sexual offences", True, 1.5, False),
)
#: MinorCat rows that duplicate an existing one except for letter case.
CASE_DUPLICATE_MINORS: tuple[tuple[str, str], ...] = (
    ("Theft and Handling", "Other theft"),
    ("Theft and Handling", "Theft from Shops"),
    ("Criminal Damage", "Criminal damage to motor vehicle"),
)
#: The date after which retired categories stop being used by new crimes.
CRIME_TYPES_RETIRED_FROM = (2013, 4, 1)

OUTCOMES: tuple[str, ...] = (
    "Investigation complete; no suspect identified", "Under investigation",
    "Unable to prosecute suspect", "Formal action is not in the public interest",
    "Further action is not in the public interest", "Local resolution",
    "Offender given a caution", "Offender given penalty notice",
    "Offender given a drugs possession warning", "Awaiting court outcome",
    "Court result unavailable", "Court case unable to proceed", "Suspect charged",
    "Suspect charged as part of another case", "Defendant found not guilty",
    "Defendant sent to Crown Court", "Offender sent to prison", "Offender fined",
    "Offender given community sentence", "Offender given suspended prison sentence",
    "Offender given conditional discharge", "Offender given absolute discharge",
    "Offender ordered to pay compensation", "Offender deprived of property",
    "Offender otherwise dealt with", "Action to be taken by another organisation",
    "Status update unavailable",
)
FORCES = ("Metropolitan Police Service", "City of London Police")

# --------------------------------------------------------------------------- ISTV
#: ISTV code lists (ASSUMPTION in the domain research: not checked against TRUD).
ISTV_METHODS: tuple[tuple[str, str], ...] = (
    ("01", "Body part"), ("02", "Blunt object"), ("03", "Glass/bottle"),
    ("04", "Knife/sharp object"), ("05", "Firearm"), ("06", "Other (description required)"),
    ("99", "Not known"),
)
ISTV_LOCATIONS: tuple[tuple[str, str], ...] = (
    ("01", "Public place/street"), ("02", "Licensed premises"), ("03", "Home"),
    ("04", "Workplace"), ("05", "School/college"), ("06", "Public transport"),
    ("07", "Other"), ("99", "Not known"),
)
#: Codes that are in no code list (the "invalid" kinds).
ISTV_INVALID_CODES: tuple[str, ...] = ("08", "42", "XX", "8", "0", "AB")
METHOD_OTHER: tuple[str, ...] = (
    "Bitten", "Dog", "Hot drink", "Acid", "Scissors", "Brick", "Crutch", "Chair",
    "Café chair", "Fire extinguisher", "Belt", "Hammer",
)
#: Normal location text by ISTV location type (no identifiers, no house numbers).
LOCDESC: dict[str, tuple[str, ...]] = {
    "01": (
        "bus stop outside Tesco, High Street", "outside the chicken shop on Rye Lane",
        "in the street near Brixton station", "Mare Street near the town hall",
        "Underground station E1 6", "park near Clapham Common", "Commercial Road by the mosque",
        "outside Café Nero, Strand", "Oxford Street – outside Primark",
        "car park behind the shopping centre", "near the market, Ridley Road",
    ),
    "02": (
        "Black Lion pub on Commercial Road", "nightclub, Leicester Square", "Walkabout bar",
        "pub garden, the Crown", "outside Fabric nightclub", "King’s Arms pub",
        "bar on Old Compton Street", "the Bull – Stoke Newington",
    ),
    "03": ("at home", "home address", "partner’s flat", "friend’s house", "at a house party"),
    "04": ("at work", "shop where he works", "restaurant kitchen", "building site, Stratford", "security job at a club"),
    "05": ("school playground", "outside the college gates", "school bus stop"),
    "06": (
        "on the bus", "night bus route N29", "Tube train, Central line", "Overground platform",
        "DLR station", "on a train to Victoria", "bus station, Walthamstow",
    ),
    "07": ("in a park", "hostel", "prison", "police station", "hospital ward", "in a taxi"),
    "99": ("not stated", "pt unable to say", "unknown", "?"),
}
FIRST_NAMES: tuple[str, ...] = (
    "Gary", "Chloe", "Tom", "Aisha", "Mohammed", "Jack", "Emily", "Daniel", "Sophie", "Kwame",
    "Olivia", "Liam", "Priya", "Connor", "Fatima", "Ryan", "Jade", "Tyrone", "Zoe", "Adam",
)
SURNAMES: tuple[str, ...] = (
    "Hughes", "Patel", "Okafor", "Evans", "Smith", "Brown", "Khan", "Murphy", "Taylor",
    "Nowak", "Ahmed", "Wilson", "Campbell", "Begum", "O’Brien", "Kowalski", "Adeyemi",
)
HOME_STREETS: tuple[str, ...] = (
    "Acacia Road", "Elm Grove", "Cedar Avenue", "Mill Lane", "Park Close", "Victoria Street",
    "Chestnut Gardens", "Orchard Way", "Maple Crescent", "Albert Terrace", "Church Place",
)
HONORIFICS: tuple[str, ...] = ("Mr", "Mrs", "Ms", "Miss")
FEMALE_FIRST_NAMES = frozenset({"Chloe", "Aisha", "Emily", "Sophie", "Olivia", "Priya", "Fatima", "Jade", "Zoe"})

# --------------------------------------------------------------------------- hospitals
#: (name, borough GSS index 1-33, ODS-style site code, former code or "", ISTV start
#: "yyyy-mm" or "" if never, ED closed on "yyyy-mm-dd" or "", Active, size weight).
#: Site codes are in the ODS format but not checked against ODS.
HOSPITALS: tuple[tuple[str, int, str, str, str, str, bool, float], ...] = (
    ("Royal London Hospital", 30, "R1H12", "RNJ01", "2010-04", "", True, 1.6),
    ("Homerton University Hospital", 12, "RQXM1", "", "2010-10", "", True, 1.0),
    ("Newham University Hospital", 25, "R1HNH", "RNHB1", "2011-01", "", True, 1.0),
    ("Whipps Cross University Hospital", 31, "R1HKH", "RGC01", "2011-06", "", True, 1.0),
    ("St Thomas’ Hospital", 22, "RJ122", "", "2009-10", "", True, 1.5),
    ("King’s College Hospital", 28, "RJZ01", "", "2009-07", "", True, 1.5),
    ("Princess Royal University Hospital", 6, "RJZ30", "RG2PR", "2012-03", "", True, 0.9),
    ("University Hospital Lewisham", 23, "RJ224", "RJ201", "2010-09", "", True, 1.0),
    ("Queen Elizabeth Hospital Woolwich", 11, "RJ231", "RG301", "2011-02", "", True, 1.0),
    ("St George’s Hospital", 32, "RJ701", "", "2010-01", "", True, 1.3),
    ("St Helier Hospital", 29, "RVR05", "", "2012-09", "", True, 0.8),
    ("Kingston Hospital", 21, "RAX01", "", "2013-01", "", True, 0.8),
    ("Croydon University Hospital", 8, "RJ611", "", "2011-11", "", True, 1.1),
    ("West Middlesex University Hospital", 18, "RFW01", "", "2012-06", "", True, 0.9),
    ("Hillingdon Hospital", 17, "RAS01", "", "", "", True, 0.9),
    ("Northwick Park Hospital", 15, "RV820", "", "2011-04", "", True, 1.1),
    ("Central Middlesex Hospital", 5, "RV803", "", "2010-06", "2014-09-10", True, 0.6),
    ("Ealing Hospital", 9, "RC301", "", "2012-01", "", True, 0.8),
    ("Charing Cross Hospital", 13, "RYJ02", "", "2010-11", "", True, 0.9),
    ("Hammersmith Hospital", 13, "RYJ03", "", "2011-03", "2014-09-10", True, 0.5),
    ("Chelsea and Westminster Hospital", 20, "RQM01", "", "2010-02", "", True, 1.0),
    ("St Mary’s Hospital", 33, "RYJ01", "RJ501", "2009-11", "", True, 1.3),
    ("University College Hospital", 7, "RRV03", "", "2010-05", "", True, 1.3),
    ("Royal Free Hospital", 7, "RAL01", "", "2013-06", "", True, 0.9),
    ("Whittington Hospital", 19, "RKEQ4", "", "2011-09", "", True, 0.9),
    ("North Middlesex University Hospital", 10, "RAPNM", "", "2010-08", "", True, 1.2),
    ("Barnet Hospital", 3, "RAL26", "RVL01", "2012-11", "", True, 1.0),
    ("Chase Farm Hospital", 10, "RAL27", "RVL02", "2011-05", "2013-12-09", True, 0.5),
    ("Queen’s Hospital Romford", 16, "RF4QH", "", "2014-02", "", True, 1.2),
    ("King George Hospital", 26, "RF4DG", "", "2014-05", "", True, 0.8),
    ("Queen Mary’s Hospital Sidcup", 4, "RG3QM", "", "", "2010-11-22", False, 0.3),
    ("St Bartholomew’s Hospital", 1, "R1HM0", "", "", "", True, 0.0),
    ("Guy’s Hospital", 28, "RJ121", "", "", "", True, 0.0),
    ("Moorfields Eye Hospital", 19, "RP401", "", "", "", True, 0.0),
    ("Urgent Care Centre, St Charles", 20, "RYJ9C", "", "2015-07", "", True, 0.2),
)

# --------------------------------------------------------------------------- LFB
LFB_STOP_CODES: tuple[tuple[str, str, float], ...] = (
    ("Fire", "Primary Fire", 10.0), ("Fire", "Secondary Fire", 8.0), ("Fire", "Chimney Fire", 0.5),
    ("Fire", "Late Call", 0.2), ("False Alarm", "AFA", 30.0),
    ("False Alarm", "False alarm - Good intent", 13.0), ("False Alarm", "False alarm - Malicious", 2.5),
    ("Special Service", "Special Service", 35.8),
)
#: (PropertyCategory, dwelling?, property types)
LFB_PROPERTY: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("Dwelling", True, (
        "House - single occupancy", "Purpose Built Flats/Maisonettes - 4 to 9 storeys",
        "Purpose Built Flats/Maisonettes - Up to 3 storeys", "Purpose Built Flats/Maisonettes - 10 or more storeys",
        "Converted Flat/Maisonettes - 3 or more storeys", "Converted Flat/Maisonette - Up to 2 storeys",
        "Self contained Sheltered Housing", "Bungalow - single occupancy", "Houseboat (permanent dwelling)",
        "Caravan/Mobile home (permanent dwelling)", "Student Hall of Residence",
    )),
    ("Non Residential", False, (
        "Restaurant/cafe", "Café", "Takeaway – fast food", "Pub/wine bar/bar", "Nightclub",
        "Retail warehouse", "Supermarket", "Shopping Centre", "Pound shop (£1 store)",
        "Other retail", "Office", "Warehouse", "Factory", "Workshop", "Garage",
        "Hospital", "Doctors surgery", "Care home", "Children’s nursery", "Primary school",
        "Secondary school", "College/University", "Church/Chapel", "Mosque", "Synagogue",
        "Hotel/motel", "Hostel (e.g. for homeless people)", "Police station", "Fire station",
        "Cinema", "Theatre", "Sports/leisure centre", "Swimming pool", "Library", "Museum",
        "Railway station", "Underground station", "Bus station", "Petrol station",
        "Electricity power station", "Telephone exchange", "Laundrette", "Hairdresser",
        "Betting shop – ‘£2 max stake’", "Bank/Building Society", "Post office",
        "Car showroom", "Vehicle repair workshop", "Scrap yard", "Prison",
    )),
    ("Outdoor", False, (
        "Refuse/rubbish tip", "Loose refuse", "Small refuse/rubbish container",
        "Large refuse/rubbish container", "Grassland, pasture, grazing etc",
        "Scrub land", "Tree scrub", "Hedge", "Park", "Railway trackside vegetation",
        "Canal/riverbank vegetation", "Cemetery", "Common land", "Playground",
        "Road surface/pavement", "Lake/pond/reservoir", "River/canal", "Wasteland",
    )),
    ("Road Vehicle", False, (
        "Car", "Van", "Motorcycle", "Bus/coach", "Lorry/HGV", "Taxi/cab", "Multiple Vehicles",
        "Bicycle", "Mobility scooter", "Tractor", "Ambulance", "Other road vehicle",
    )),
    ("Outdoor Structure", False, (
        "Shed", "Private garden shed", "Fence", "Wheelie Bin", "Bus shelter", "Telephone kiosk",
        "Bridge", "Tunnel/subway", "Lift (not in a building)", "Other outdoor structures",
        "Greenhouse (domestic)", "Garden equipment", "Recycling collection point",
    )),
    ("Other Residential", False, (
        "Boarding House/B&B for homeless/asylum seekers", "Nurses’/Doctors’ accommodation",
        "Residential Home", "Retirement/Elderly", "Hostel (e.g. for homeless people) - residential",
        "Military/barracks", "Monastery/convent",
    )),
    ("Boat", False, ("Boat - pleasure", "Boat - commercial", "Narrowboat", "Houseboat (not permanent dwelling)")),
    ("Rail Vehicle", False, ("Train - passenger", "Train - freight", "Tube train", "Tram")),
    ("Aircraft", False, ("Aircraft - light", "Helicopter")),
)
#: The notional cost of one pump-hour (£) by year: exact in pounds.
LFB_PUMP_HOUR_COST: dict[int, int] = {
    2007: 255, 2008: 260, 2009: 260, 2010: 260, 2011: 290, 2012: 290,
    2013: 295, 2014: 295, 2015: 298, 2016: 326,
}

# --------------------------------------------------------------------------- LAS
LAS_CATEGORIES: tuple[tuple[str, str, float], ...] = (
    ("AS1", "Assault - Injury", 30.0), ("AS2", "Assault - No injury", 15.0),
    ("AS3", "Assault - Sexual", 3.0), ("AS4", "Stab/Shot/Penetrating trauma", 4.0),
    ("AS5", "Assault - Domestic", 12.0), ("AS6", "Assault - Head injury", 14.0),
    ("AS7", "Fall (alleged assault)", 5.0), ("AS8", "Assault - Unconscious", 3.0),
    ("AS9", "Assault - Facial injury", 8.0), ("AS10", "Assault on LAS staff", 1.0),
    ("AS11", "Assault - Child", 1.5), ("AS12", "Assault - Elderly", 1.5),
    ("AS13", "Assault - Bite", 0.5), ("AS14", "Assault - Burns/scald", 0.3),
    ("AS15", "Assault - Overdose related", 0.7), ("AS16", "Assault - Mental health", 0.5),
)

# --------------------------------------------------------------------------- transport
TRANSPORT_MODES: tuple[tuple[str, str, float], ...] = (
    ("Bus", "MPS", 55.0), ("Underground", "BTP", 30.0), ("DLR", "BTP", 3.0),
    ("Overground", "BTP", 5.0), ("Tram", "BTP", 2.0), ("Rail", "BTP", 5.0),
)
BUS_ROUTES: tuple[str, ...] = (
    "25", "29", "N29", "38", "73", "149", "207", "N207", "18", "36", "43", "55",
    "159", "205", "242", "279", "N38", "12", "453", "N5", "N25", "390",
)
LINES: dict[str, tuple[str, ...]] = {
    "Underground": ("Central", "Northern", "Victoria", "Jubilee", "Piccadilly", "District",
                    "Circle", "Metropolitan", "Bakerloo", "Hammersmith & City"),
    "DLR": ("DLR",), "Overground": ("East London line", "North London line", "Gospel Oak to Barking"),
    "Tram": ("Tramlink",), "Rail": ("Southern", "Southeastern", "Greater Anglia", "SWT"),
}
STATIONS: tuple[str, ...] = (
    "Oxford Circus", "King’s Cross St. Pancras", "Stratford", "Brixton", "Seven Sisters",
    "Camden Town", "Elephant & Castle", "Liverpool Street", "Waterloo", "Victoria",
    "London Bridge", "Canary Wharf", "Finsbury Park", "Tottenham Court Road", "Bank",
    "Highbury & Islington", "Clapham Junction", "Shepherd’s Bush", "Walthamstow Central",
    "Lewisham", "West Croydon", "Wimbledon", "Ealing Broadway", "Hammersmith",
    "Whitechapel", "Dalston Junction", "Canada Water", "Woolwich Arsenal",
)
OFFENCES: tuple[str, ...] = (
    "Theft of mobile phone", "Theft from person - pickpocket", "Common assault on passenger",
    "Assault on bus driver", "Criminal damage - graffiti", "Criminal damage – window smashed",
    "Robbery of personal property", "Sexual assault - touching", "Indecent exposure",
    "Racially aggravated public order", "Public order - threatening behaviour",
    "Possession of offensive weapon", "Possession of cannabis", "Theft of bicycle",
    "Theft of luggage", "Assault ABH", "Harassment", "Fare dispute – assault",
    "Theft of purse", "Fraud - ticket", "Trespass on railway", "Obstruction of railway",
    "Attempted robbery", "Wounding GBH", "Damage to bus shelter",
)
OFFENCES_CP1252: tuple[str, ...] = (
    "Theft of £20 note from passenger", "Assault – “punched in face”", "Theft of purse – ‘dipped’",
    "Café staff assaulted at station", "Criminal damage – seat slashed",
)

# --------------------------------------------------------------------------- users/orgs
ORG_HEALTH: tuple[str, ...] = (
    "Barts Health NHS Trust", "Guy’s and St Thomas’ NHS Foundation Trust",
    "King’s College Hospital NHS Foundation Trust", "Homerton University Hospital NHS Foundation Trust",
    "Lewisham and Greenwich NHS Trust", "St George’s University Hospitals NHS Foundation Trust",
    "Epsom and St Helier University Hospitals NHS Trust", "Kingston Hospital NHS Foundation Trust",
    "Croydon Health Services NHS Trust", "Chelsea and Westminster Hospital NHS Foundation Trust",
    "The Hillingdon Hospitals NHS Foundation Trust", "London North West Healthcare NHS Trust",
    "Imperial College Healthcare NHS Trust", "University College London Hospitals NHS Foundation Trust",
    "Royal Free London NHS Foundation Trust", "Whittington Health NHS Trust",
    "North Middlesex University Hospital NHS Trust", "Barking, Havering and Redbridge University Hospitals NHS Trust",
    "Ealing Hospital NHS Trust", "Public Health England – London",
)
ORG_PAN_LONDON: tuple[tuple[str, str], ...] = (
    ("Greater London Authority", "GLA"), ("GLA Intelligence Unit", "GLA"),
    ("Mayor’s Office for Policing and Crime", "GLA"), ("London Fire Brigade", "Fire"),
    ("London Fire and Emergency Planning Authority", "Fire"), ("London Ambulance Service NHS Trust", "Ambulance"),
    ("British Transport Police", "Police"), ("Transport for London", "Transport"),
    ("TfL Community Safety, Enforcement & Policing", "Transport"), ("City of London Police", "Police"),
    ("Metropolitan Police Service – Central Analysis", "Police"), ("London Probation Trust", "CSP"),
    ("London Councils", "GLA"), ("Home Office (London Crime Reduction)", "GLA"),
)
PASSWORDS: tuple[str, ...] = (
    "password", "Password1", "safestats", "Summer2011!", "letmein", "London2012",
    "qwerty123", "Welcome1", "changeme", "Chelsea99", "monkey12", "P@ssw0rd", "Arsenal1",
    "crime2010", "spring2014", "Istv2015", "abc123", "Gla2009", "winter12", "trustno1",
)
