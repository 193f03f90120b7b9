"""The text grammar end to end (issue 10, "tolerant where the reading is unambiguous"): legacy
rows holding unpadded dates and times, a whole number written ``528000.0`` and values the
grammar refuses go through the whole pipeline — SQLite source → reader → transforms → COPY
→ reconcile — and land where runbooks/mappings.md says, with reconciliation passing."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.reconcile import reconcile
from tests.steps.conftest import run_all, settings_for

pytestmark = pytest.mark.postgres

LONDON = ZoneInfo("Europe/London")


def _plant(path: Path) -> dict[str, int]:
    """Rewrite four ordinary tblMPSCrime rows (CrimeRefs that occur once) and one hospital."""
    con = sqlite3.connect(path)
    rec = [r[0] for r in con.execute(
        "SELECT RecID FROM tblMPSCrime WHERE RTRIM(CrimeRef) IN (SELECT RTRIM(CrimeRef) FROM tblMPSCrime "
        "WHERE TRIM(CrimeRef) <> '' GROUP BY RTRIM(CrimeRef) HAVING count(*) = 1) ORDER BY RecID LIMIT 4")]
    assert len(rec) == 4
    rows = dict(zip(("unpadded", "decimal_zero", "fraction", "hour_24"), rec, strict=True))
    place = "Borough = 'Camden', Easting = '528000', Northing = '184000'"
    con.execute(f"UPDATE tblMPSCrime SET CommittedDate = '9/3/2010', CommittedTime = '9:1', {place} "
                "WHERE RecID = ?", (rows["unpadded"],))
    con.execute("UPDATE tblMPSCrime SET CommittedDate = '27/8/2014', CommittedTime = '23:59', Borough = 'Camden', "
                "Easting = '528000.0', Northing = ' 184000.00 ' WHERE RecID = ?", (rows["decimal_zero"],))
    con.execute(f"UPDATE tblMPSCrime SET CommittedDate = '15/06/2014', CommittedTime = '12:00', {place}, "
                "Easting = '528000.5' WHERE RecID = ?", (rows["fraction"],))
    con.execute(f"UPDATE tblMPSCrime SET CommittedDate = '15/06/2014', CommittedTime = '24:00', {place} "
                "WHERE RecID = ?", (rows["hour_24"],))
    # a hospital whose ISTVStart is unpadded loads (its ED attendances are not lost with it)
    rows["hospital"] = con.execute("SELECT min(HospitalID) FROM tblHospital").fetchone()[0]
    con.execute("UPDATE tblHospital SET ISTVStart = '4/7/2012' WHERE HospitalID = ?", (rows["hospital"],))
    con.commit()
    con.close()
    return rows


def test_unpadded_dates_times_and_decimal_zero_load_flagged_and_reconcile(
        legacy_sqlite: Path, target_url: URL, tmp_path: Path) -> None:
    src = tmp_path / "legacy.sqlite"
    shutil.copy(legacy_sqlite, src)
    rows = _plant(src)
    run_all(src, target_url)

    eng = create_engine(target_url, poolclass=NullPool)
    with eng.connect() as conn:
        def incident(rec: int) -> tuple[object, ...] | None:
            row = conn.execute(text(
                "SELECT occurred_at, occurred_precision, dq_flags, ST_X(geom), ST_Y(geom) FROM core.incident "
                "WHERE dataset = 'MPS' AND legacy_pk = :k"), {"k": str(rec)}).first()
            return None if row is None else tuple(row)

        def quarantined(rec: int) -> tuple[object, ...] | None:
            row = conn.execute(text(
                "SELECT reason_code, fields FROM ledger.quarantine WHERE stage = 'mps_crime' AND source_key = :k"),
                {"k": str(rec)}).first()
            return None if row is None else tuple(row)

        at, precision, flags, x, y = incident(rows["unpadded"]) or (None,) * 5
        assert at == datetime(2010, 3, 9, 9, 1, tzinfo=LONDON) and precision == "minute"
        assert {"date_unpadded", "time_unpadded"} <= set(flags), flags
        assert (x, y) == (528000.0, 184000.0) and "number_decimal_zero" not in flags
        assert quarantined(rows["unpadded"]) is None

        at, precision, flags, x, y = incident(rows["decimal_zero"]) or (None,) * 5
        assert at == datetime(2014, 8, 27, 23, 59, tzinfo=LONDON) and precision == "minute"
        assert "date_unpadded" in flags and "time_unpadded" not in flags
        assert (x, y) == (528000.0, 184000.0) and "number_decimal_zero" in flags

        assert incident(rows["fraction"]) is None
        assert quarantined(rows["fraction"]) == ("NOT_INTEGER", ["Easting", "Northing"])
        assert incident(rows["hour_24"]) is None
        assert quarantined(rows["hour_24"]) == ("IMPOSSIBLE_TIME", ["CommittedDate", "CommittedTime"])

        assert conn.execute(text("SELECT istv_from FROM ref.ed_site WHERE legacy_hospital_id = :h"),
                            {"h": rows["hospital"]}).scalar_one() == date(2012, 7, 4)
        # ... and its ED attendances with it (they went to quarantine as UNKNOWN_HOSPITAL before)
        assert conn.execute(text(
            "SELECT count(*) FROM istv.ed_assault a JOIN ref.ed_site s USING (ods_site_code) "
            "WHERE s.legacy_hospital_id = :h"), {"h": rows["hospital"]}).scalar_one() > 0
    eng.dispose()

    outcome = reconcile(settings_for(src, target_url), RecordingConsole(), ["codes", "mps_crime"])
    bad = [(r.stage, r.check, r.status) for r in outcome.results if r.status in ("fail", "error")]
    assert not bad, bad
    assert {s.stage for s in outcome.stages if s.results} == {"codes", "mps_crime"}
