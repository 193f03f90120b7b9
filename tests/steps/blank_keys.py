"""A legacy database holding business keys the generator never writes (shared by the blank-key tests).

Rows are added to a copy of the generated SQLite legacy: CrimeRefs blank in every spelling,
one beginning with the reserved prefix ``RecID:``, ones holding control characters or the
replacement character, a duplicate group with near-duplicates (a trailing space and a tab
collide after trimming; a different letter case does not), and blank LFB IncidentNumbers
(the business key that *is* the legacy primary key).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from migration.console import RecordingConsole
from migration.plan.execute import Orchestrator
from tests.steps.conftest import REPO, settings_for

CHECKS = REPO / "checks"
MPS_STAGES = ["boroughs", "areas", "codes", "mps_crime"]
STAGES = MPS_STAGES + ["lfb_incident"]

BLANK_SPELLINGS: list[str | None] = [None, "", "   ", "N/A", "n/a", "NULL", "null", "Null", "-", " - ", "\t",
                                     "\u00a0", " N/A "]
#: CrimeRef → (reason, the business key its quarantine record carries)
UNLOADABLE = {
    "RecID:1": ("KEY_RESERVED_PREFIX", "RecID:1"),
    " RecID:999999 ": ("KEY_RESERVED_PREFIX", "RecID:999999"),
    "BK\x00NUL": ("INVALID_KEY", "BK\\x00NUL"),
    "BK\x81C1": ("INVALID_KEY", "BK\\x81C1"),        # a byte cp1252 leaves undefined → U+0081
    "BK\ufffdBAD": ("INVALID_KEY", "BK\\ufffdBAD"),  # an undecodable byte
    "BK\tTAB": ("INVALID_KEY", "BK\\x09TAB"),
}
#: the duplicate group: (CrimeRef as the legacy holds it, batch); the later batch wins
DUPLICATES = [("BKDUP1", "early"), ("BKDUP1 ", "late"), ("\tBKDUP1", "early")]
NEAR = "bkdup1"  # another key (COLLATE "C": letter case matters)
LFB_BLANK = ["N/A", "   ", "-"]


@dataclass
class Planted:
    blank: dict[int, str | None] = field(default_factory=dict)       # RecID → the CrimeRef spelling
    unloadable: dict[int, str] = field(default_factory=dict)         # RecID → CrimeRef
    duplicates: dict[int, str] = field(default_factory=dict)         # RecID → CrimeRef
    near: int = 0
    winner: int = 0
    blank_late: int = 0                                              # a blank row of the winner's batch, read last
    batches: dict[str, int] = field(default_factory=dict)
    lfb_blank: list[str] = field(default_factory=list)


def mps_row(c: sqlite3.Cursor, recid: int, crime_ref: str | None, batch: int) -> None:
    """A row every rule lets through (a London borough, a valid date and grid point)."""
    cols = [r[1] for r in c.execute("PRAGMA table_info(tblMPSCrime)")]
    template = dict(zip(cols, c.execute(f"SELECT {', '.join(cols)} FROM tblMPSCrime ORDER BY RecID LIMIT 1")
                        .fetchone(), strict=True))
    ctype, major = c.execute("SELECT CrimeTypeID, MajorCat FROM tblCrimeType WHERE Retired = 0 OR Retired IS NULL "
                             "ORDER BY CrimeTypeID LIMIT 1").fetchone()
    template.update(RecID=recid, CrimeRef=crime_ref, CommittedDate="15/06/2012", CommittedTime="13:30",
                    ReportedDT="2012-06-15 14:00:00", CrimeTypeID=ctype, MajorCat=major, Borough="Camden",
                    WardCode=None, Easting="529000", Northing="184000", BatchID=batch, LastModified=None)
    c.execute(f"INSERT INTO tblMPSCrime ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
              [template[k] for k in cols])


def plant(path: Path) -> Planted:
    db = sqlite3.connect(path)
    c = db.cursor()
    p = Planted()
    ok = [r[0] for r in c.execute("SELECT BatchID FROM tblImportLog WHERE Dataset = 'MPS' AND trim(Status) = 'OK' "
                                  "ORDER BY BatchID")]
    p.batches = {"early": ok[0], "late": ok[-1]}
    recid = c.execute("SELECT max(RecID) FROM tblMPSCrime").fetchone()[0] + 100
    for spelling in BLANK_SPELLINGS:
        recid += 1
        mps_row(c, recid, spelling, p.batches["early"])
        p.blank[recid] = spelling
    for ref in UNLOADABLE:
        recid += 1
        mps_row(c, recid, ref, p.batches["early"])
        p.unloadable[recid] = ref
    for ref, batch in DUPLICATES:
        recid += 1
        mps_row(c, recid, ref, p.batches[batch])
        p.duplicates[recid] = ref
        if batch == "late":
            p.winner = recid
    recid += 1
    mps_row(c, recid, NEAR, p.batches["early"])
    p.near = recid
    recid += 1
    mps_row(c, recid, None, p.batches["late"])
    p.blank[recid] = None
    p.blank_late = recid
    numbers = [r[0] for r in c.execute("SELECT IncidentNumber FROM tblLFBIncident ORDER BY IncidentNumber "
                                       f"LIMIT {len(LFB_BLANK)}")]
    for old, new in zip(numbers, LFB_BLANK, strict=True):
        c.execute("UPDATE tblLFBIncident SET IncidentNumber = ? WHERE IncidentNumber = ?", (new, old))
    p.lfb_blank = list(LFB_BLANK)
    db.commit()
    db.close()
    return p


def load(source: Path, target: URL, stages: list[str], *, gate: bool = True) -> list[Any]:
    """The stages loaded, each reconciled by its gate with the shipped check files."""
    runner = Orchestrator(settings_for(source, target, checks_dir=str(CHECKS)), RecordingConsole(), reconcile=gate)
    try:
        return runner.run(stages)
    finally:
        runner.close()
