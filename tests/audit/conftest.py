"""Fixtures for the audit tests: a generated legacy database with planted defects."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.steps.conftest import REPO, legacy_sqlite, run_all, settings_for, target_url  # noqa: F401  (fixtures)

MAPPINGS = REPO / "mappings"
CHECKS = REPO / "checks"
NHS_NUMBER = "943 476 5919"
PASSWORD = "Tr0ub4dor&3xyzzy"


def plant(path: Path) -> None:
    """Defects that exercise rule precedence, the duplicate rule and a cascade between stages."""
    con = sqlite3.connect(path)
    with con:
        # a hospital whose borough resolves nowhere: quarantined in `codes`, its ED rows UNKNOWN_HOSPITAL
        con.execute("UPDATE tblHospital SET BoroughID = 777 WHERE HospitalID = "
                    "(SELECT HospitalID FROM tblISTVAssault GROUP BY HospitalID ORDER BY count(*) DESC LIMIT 1)")
        # a duplicate CrimeRef whose winner (same batch, higher RecID) has an impossible date:
        # the key is quarantined with its winner, the loser merged
        ref, batch = con.execute("SELECT CrimeRef, max(BatchID) FROM tblMPSCrime WHERE length(trim(CrimeRef)) >= 8 "
                                 "AND BatchID IS NOT NULL GROUP BY CrimeRef ORDER BY CrimeRef LIMIT 1").fetchone()
        cols = [r[1] for r in con.execute("PRAGMA table_info(tblMPSCrime)")]
        top = con.execute("SELECT max(RecID) FROM tblMPSCrime").fetchone()[0]
        sel = ", ".join({"RecID": str(top + 1), "CommittedDate": "'31/02/2011'"}.get(c, f'"{c}"') for c in cols)
        con.execute(f"INSERT INTO tblMPSCrime SELECT {sel} FROM tblMPSCrime WHERE CrimeRef = ? AND BatchID = ? "
                    "LIMIT 1", (ref, batch))
        # day-first dates without leading zeros, a blank key, an identifier and a password in text
        con.execute("UPDATE tblMPSCrime SET CommittedDate = '9/3/2010' WHERE RecID IN "
                    "(SELECT RecID FROM tblMPSCrime ORDER BY RecID LIMIT 3)")
        con.execute("UPDATE tblMPSCrime SET CrimeRef = 'N/A' WHERE RecID = (SELECT RecID FROM tblMPSCrime "
                    "ORDER BY RecID LIMIT 1 OFFSET 10)")
        con.execute("UPDATE tblMPSCrime SET Location = ? WHERE RecID = (SELECT RecID FROM tblMPSCrime "
                    "ORDER BY RecID LIMIT 1 OFFSET 20)", (f"outside the pub, caller NHS {NHS_NUMBER}",))
        con.execute("UPDATE tblMPSCrime SET Outcome = ? WHERE RecID = (SELECT RecID FROM tblMPSCrime "
                    "ORDER BY RecID LIMIT 1 OFFSET 21)", (NHS_NUMBER.replace(" ", ""),))
        con.execute("UPDATE tblUser SET Password = ? WHERE UserID = (SELECT min(UserID) FROM tblUser)", (PASSWORD,))
        con.execute("UPDATE tblUser SET Email = ? WHERE UserID = (SELECT max(UserID) FROM tblUser)", (PASSWORD,))
        con.execute("UPDATE tblISTVAssault SET LocDesc = ? WHERE ISTVID = (SELECT min(ISTVID) FROM tblISTVAssault)",
                    (f"at home, NHS no {NHS_NUMBER}",))
    con.close()


@pytest.fixture(scope="session")
def planted_sqlite(legacy_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    path = tmp_path_factory.mktemp("audit") / "planted.sqlite"
    shutil.copy(legacy_sqlite, path)
    plant(path)
    return path
