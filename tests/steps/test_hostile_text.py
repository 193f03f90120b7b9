"""No text value stops a stage (issue 10), end to end on real databases.

Every class of value a legacy ``varchar`` can hold is planted as raw bytes — SQLite
``CAST(x'…' AS TEXT)``, MariaDB ``latin1`` through pyodbc — into the text columns of
``tblMPSCrime``, ``tblTransportCrime`` and ``tblISTVAssault``: NUL and other C0 controls,
DEL, the five bytes Windows-1252 leaves undefined, Windows-1252 bytes that are not UTF-8,
values at the column's declared maximum length, leading/trailing/inner whitespace, ``\\N``
and backslashes COPY could misread, tabs and line breaks in free and in coded text.  The
stages run and reconcile; the run finishes, every table balances (read = loaded +
unchanged + merged + quarantined + filtered), each planted row that loads holds the value
TARGET-MODEL's "any text" rule gives and carries ``control_chars_removed`` exactly when a
control character was removed, and reconciliation's integrity checks pass.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyodbc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.ledger import Ledger
from migration.legacy import generate
from migration.mapping.sourcetext import CONTROL_FLAG
from migration.plan.execute import Orchestrator
from tests.conftest import MARIADB_ODBC
from tests.steps.conftest import SCALE, settings_for

STAGES = ["boroughs", "areas", "codes", "mps_crime", "transport_crime", "istv_assault"]
TABLE_OF = {"MPS": ("tblMPSCrime", "RecID"), "TRANSPORT": ("tblTransportCrime", "RecID"),
            "ISTV": ("tblISTVAssault", "ISTVID")}


@dataclass(frozen=True)
class Plant:
    """One hostile value: the legacy column, its raw bytes, the target column it reaches and
    what that column must hold (``None`` = NULL), and whether the row is flagged."""

    dataset: str
    column: str
    raw: bytes
    target: str
    want: Any
    flagged: bool
    what: str


PLANTS = [
    # -- MPS: Location is free text (tabs and line breaks kept), the others are not
    Plant("MPS", "Location", b"On or near\x00 Baker Street", "location_text", "On or near Baker Street", True,
          "NUL inside free text"),
    Plant("MPS", "Location", b"line 1\r\nline 2\tend", "location_text", "line 1\r\nline 2\tend", False,
          "line breaks and a tab in free text are kept"),
    Plant("MPS", "Location", b"\\N", "location_text", "\\N", False, "\\N is text, never NULL"),
    Plant("MPS", "Location", b"\xe9" * 255, "location_text", "\u00e9" * 255, False,
          "varchar(255) full of a Windows-1252 letter (510 UTF-8 bytes)"),
    Plant("MPS", "Outcome", b"\x1b[31mRed\x07", "outcome", "[31mRed", True, "ESC and BEL"),
    Plant("MPS", "Outcome", b"Caf\xe9 \x96 \x92s \xa3", "outcome", "Caf\u00e9 \u2013 \u2019s \u00a3", False,
          "Windows-1252 bytes that are not UTF-8"),
    Plant("MPS", "Outcome", b"x\x81\x8d\x8f\x90\x9dy", "outcome", "xy", True,
          "the five bytes Windows-1252 leaves undefined"),
    Plant("MPS", "Outcome", b"C:\\temp\\new\\N", "outcome", "C:\\temp\\new\\N", False, "backslashes"),
    Plant("MPS", "Outcome", b"  lead and trail \t", "outcome", "lead and trail", False,
          "leading and trailing whitespace trimmed, unflagged"),
    Plant("MPS", "Outcome", b"\xa0inner  two\xa0", "outcome", "inner  two", False, "NBSP trimmed, inner spaces kept"),
    Plant("MPS", "Outcome", b"a\tb", "outcome", "ab", True, "a tab inside coded text is removed"),
    Plant("MPS", "Outcome", b"\x00\x00", "outcome", None, True, "controls only: no value"),
    Plant("MPS", "Outcome", b"N/A\x7f", "outcome", None, True, "a no-value spelling behind DEL"),
    Plant("MPS", "Outcome", b"\x80" * 100, "outcome", "\u20ac" * 100, False, "varchar(100) of euro signs"),
    Plant("MPS", "Force", b"City of London Police\x00", "agency_code", "COLP", True,
          "NUL behind a mapped value: mapped once removed"),
    Plant("MPS", "Borough", b"Camden\x1a", "gss_code", "E09000007", True, "SUB behind a borough: resolved"),
    # -- transport: OffenceDesc is free text
    Plant("TRANSPORT", "OffenceDesc", b"Theft\x00 of\tphone\r\n", "offence_desc", "Theft of\tphone", True,
          "NUL in free text; trailing line break trimmed"),
    Plant("TRANSPORT", "OffenceDesc", b"\x96" * 100, "offence_desc", "\u2013" * 100, False,
          "varchar(100) of en dashes"),
    Plant("TRANSPORT", "Station", b"Bank\x1f\x7f", "station", "Bank", True, "unit separator and DEL"),
    Plant("TRANSPORT", "Station", b"\\", "station", "\\", False, "a lone backslash"),
    Plant("TRANSPORT", "Route", b"\\N", "route", "\\N", False, "\\N is text"),
    Plant("TRANSPORT", "Mode", b"Bus\x00", "mode", "Bus", True, "NUL behind a mode"),
    # -- ISTV: MethodOther and LocDesc are free text (LocDesc is scrubbed afterwards)
    Plant("ISTV", "MethodOther", b"kick\x00ed\x9d", "assault_method_other", "kicked", True, "NUL and 0x9D"),
    Plant("ISTV", "MethodOther", b"\xe9" * 25, "assault_method_other", "\u00e9" * 25, False, "varchar(25), full"),
    Plant("ISTV", "LocDesc", b"Pub\x00 on High St\x0c", "location_text_clean", "Pub on High St", True,
          "NUL and form feed in scrubbed free text"),
]


def _rows_to_plant(cur: Any, table: str, key: str, n: int) -> list[int]:
    cur.execute(f"SELECT {key} FROM {table} ORDER BY {key}")
    keys = [int(r[0]) for r in cur.fetchall()]
    return keys[5:5 + 7 * n:7]  # spread out, away from the first rows


def plant_sqlite(path: Path) -> dict[int, Plant]:
    """Write every plant into its own row; returns plant index → legacy key."""
    conn = sqlite3.connect(path)
    cur = conn.cursor()
    where: dict[int, Plant] = {}
    used: dict[str, list[int]] = {}
    for ds, (table, key) in TABLE_OF.items():
        used[ds] = _rows_to_plant(cur, table, key, sum(p.dataset == ds for p in PLANTS))
    for p in PLANTS:
        table, key = TABLE_OF[p.dataset]
        k = used[p.dataset].pop(0)
        cur.execute(f"UPDATE {table} SET {p.column} = CAST(x'{p.raw.hex()}' AS TEXT) WHERE {key} = ?", (k,))
        assert cur.rowcount == 1
        where[k * 10 + list(TABLE_OF).index(p.dataset)] = p
    conn.commit()
    conn.close()
    return where


def plant_mariadb(url: URL) -> dict[int, Plant]:
    conn = pyodbc.connect(MARIADB_ODBC + f";DATABASE={url.database}", autocommit=True)
    cur = conn.cursor()
    where: dict[int, Plant] = {}
    used: dict[str, list[int]] = {}
    for ds, (table, key) in TABLE_OF.items():
        used[ds] = _rows_to_plant(cur, table, key, sum(p.dataset == ds for p in PLANTS))
    for p in PLANTS:
        table, key = TABLE_OF[p.dataset]
        k = used[p.dataset].pop(0)
        cur.execute(f"UPDATE `{table}` SET `{p.column}` = x'{p.raw.hex()}' WHERE `{key}` = {k}")
        where[k * 10 + list(TABLE_OF).index(p.dataset)] = p
    conn.close()
    return where


def _detail_table(dataset: str) -> str:
    return {"MPS": "core.police_crime", "TRANSPORT": "core.transport_crime", "ISTV": "istv.ed_assault"}[dataset]


def assert_stages_survive_hostile_text(source: Path | URL, target: URL, planted: dict[int, Plant]) -> None:
    runner = Orchestrator(settings_for(source, target), RecordingConsole(), reconcile=True)
    try:
        results = runner.run(STAGES)
    finally:
        runner.close()
    assert [r.stage for r in results] == STAGES
    eng = create_engine(target, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            for c in Ledger(eng).table_counts(conn):
                assert c.balanced, c
                assert c.rows_read == (c.rows_loaded + c.rows_unchanged + c.rows_merged + c.rows_quarantined
                                       + c.rows_filtered), c
            # reconciliation's integrity checks (the quarantine-rate thresholds are not one)
            checks = conn.execute(text(
                "SELECT stage, check_name, status, summary FROM ledger.check_result r WHERE run_id = "
                "(SELECT max(run_id) FROM ledger.check_result WHERE stage = r.stage)")).all()
            assert {r.stage for r in checks} >= set(STAGES[3:])
            bad = [tuple(r) for r in checks if r.status in ("fail", "error")
                   and not r.check_name.startswith("quarantine_rate/")]
            assert not bad, bad
            names = {r.check_name.split("/")[0] for r in checks if r.stage == "mps_crime"}
            assert {"accounting", "keys", "row_hash", "control_totals"} <= names, names
            loaded = 0
            for code, p in planted.items():
                key, ds = divmod(code, 10)
                dataset = list(TABLE_OF)[ds]
                table = TABLE_OF[dataset][0]
                col = f"i.{p.target}" if p.target in ("agency_code", "gss_code") else f"d.{p.target}"
                row = conn.execute(text(
                    f"SELECT {col}, i.dq_flags FROM core.incident i JOIN {_detail_table(dataset)} d "
                    f"USING (incident_id) WHERE i.dataset = :ds AND i.legacy_pk = :k"),
                    dict(ds=dataset, k=str(key))).first()
                if row is None:  # not loaded: merged, filtered or quarantined — with a reason
                    fate = conn.execute(text(
                        "SELECT reason_code FROM ledger.quarantine WHERE source_table = :t AND source_key = :k "
                        "UNION ALL SELECT reason_code FROM ledger.disposition WHERE source_table = :t "
                        "AND source_key = :k"), dict(t=table, k=str(key))).scalars().all()
                    assert fate and all(fate), (p.what, key, fate)
                    continue
                loaded += 1
                value, flags = row
                assert value == p.want, (p.what, value, p.want)
                assert (CONTROL_FLAG in flags) == p.flagged, (p.what, flags)
            assert loaded >= len(planted) * 0.7, f"only {loaded} of {len(planted)} planted rows loaded"
            assert conn.execute(text(
                "SELECT count(*) FROM core.incident WHERE :f = ANY(dq_flags)"), dict(f=CONTROL_FLAG)).scalar_one() \
                == sum(1 for code, p in planted.items() if p.flagged and _loaded(conn, code))
    finally:
        eng.dispose()


def _loaded(conn: Any, code: int) -> bool:
    key, ds = divmod(code, 10)
    return conn.execute(text("SELECT 1 FROM core.incident WHERE dataset = :ds AND legacy_pk = :k"),
                        dict(ds=list(TABLE_OF)[ds], k=str(key))).first() is not None


@pytest.mark.postgres
def test_hostile_text_from_sqlite_loads_flagged_and_reconciles(legacy_sqlite: Path, tmp_path: Path,
                                                                 target_url: URL) -> None:
    path = tmp_path / "hostile.sqlite"
    shutil.copy(legacy_sqlite, path)
    planted = plant_sqlite(path)
    assert len(planted) == len(PLANTS)
    assert_stages_survive_hostile_text(path, target_url, planted)


@pytest.mark.mariadb
@pytest.mark.postgres
def test_hostile_text_from_mariadb_latin1_loads_flagged_and_reconciles(mariadb_url: URL, tmp_path: Path,
                                                                       target_url: URL) -> None:
    generate(mariadb_url, SCALE, 7, tmp_path / "m.manifest.json", console=RecordingConsole())
    planted = plant_mariadb(mariadb_url)
    assert len(planted) == len(PLANTS)
    assert_stages_survive_hostile_text(mariadb_url, target_url, planted)
