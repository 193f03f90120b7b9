"""No patient identifier anywhere in the target (issue 13): the generator plants names, NHS
numbers, dates of birth, phone numbers, full postcodes and home addresses in ISTV free text
(``tblISTVAssault.LocDesc``, the manifest lists the rows); after a full migration every row of
every table of the target — data, ledger, staging — is read as text and searched for each
planted identifier, exactly and in a normalised form (separators removed, case folded), and
every text value for any ten-digit number that passes the NHS modulus-11 check, whatever its
separators.  LFB postcodes of non-dwellings legitimately stay: only identifiers planted in ISTV
text are searched for.  The search is shown to find a planted token first.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from tests.faults.conftest import Reference
from tests.rollback.conftest import Targets

pytestmark = pytest.mark.postgres

#: the generator's identifier shapes (migration/legacy/kinds.py, istv.pid_*)
PATTERNS = {
    "istv.pid_name": re.compile(r"\b(?:Mr|Mrs|Ms|Miss) [A-Z][a-z]+|\b(?:patient|pt name) [A-Z][a-z]+ [A-Z][a-z]+"),
    "istv.pid_nhs_number": re.compile(r"\b\d{3} \d{3} \d{4}\b"),
    "istv.pid_dob": re.compile(r"\b\d{2}/\d{2}/\d{4}\b"),
    "istv.pid_phone": re.compile(r"\b020 \d{4} \d{4}\b|\b07\d{3} \d{6}\b"),
    "istv.pid_postcode": re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}(?![A-Za-z])"),
    "istv.pid_address": re.compile(r"\b\d+ [A-Z][a-z]+ (?:Road|Street|Avenue|Close|Grove|Gardens|Lane|Way|Crescent|"
                                   r"Place|Terrace)\b"),
}
#: ten digits written as an NHS number is (3-3-4, with spaces, dashes or nothing), standing alone
TEN_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{3}[ -]?\d{3}[ -]?\d{4}(?![0-9A-Za-z])")


def normalise(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.casefold())


def nhs_valid(digits: str) -> bool:
    """The NHS number check digit: modulus 11 over the first nine digits, weights 10..2."""
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def planted(legacy: Path) -> dict[str, set[str]]:
    """kind → the identifiers the generator planted (read from the rows the manifest lists)."""
    manifest = json.loads(legacy.with_suffix(".manifest.json").read_text())
    kinds = manifest["tables"]["tblISTVAssault"]["anomalies"]
    db = sqlite3.connect(legacy)
    db.text_factory = lambda b: b.decode("utf-8", errors="replace")
    out: dict[str, set[str]] = {}
    for kind, pattern in PATTERNS.items():
        keys = kinds.get(kind, {}).get("keys", [])
        found: set[str] = set()
        for k in keys:
            row = db.execute("SELECT LocDesc FROM tblISTVAssault WHERE ISTVID = ?", (k,)).fetchone()
            if row and row[0]:
                found |= {m.group(0) for m in pattern.finditer(row[0])}
        out[kind] = found
    db.close()
    return out


def _text_of_every_row(url: URL) -> dict[str, list[str]]:
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            tables = [r[0] for r in conn.execute(text(
                "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN "
                "('pg_catalog', 'information_schema', 'tiger', 'topology', 'pg_toast')"))]
            # spatial_ref_sys is PostGIS's own catalogue of projections, not migrated data
            return {t: [r[0] for r in conn.execute(text(f"SELECT x::text FROM {t} x"))]
                    for t in tables if t != "public.spatial_ref_sys"}
    finally:
        eng.dispose()


def leaks(rows: dict[str, list[str]], tokens: set[str]) -> list[str]:
    wanted = {normalise(t): t for t in tokens if len(normalise(t)) >= 6}
    out = []
    for table, values in rows.items():
        for v in values:
            flat = normalise(v)
            for n, t in wanted.items():
                if n in flat or t in v:
                    out.append(f"{table}: {t!r}")
            for m in TEN_DIGITS.finditer(v):
                digits = re.sub(r"\D", "", m.group(0))
                if nhs_valid(digits):
                    out.append(f"{table}: NHS-valid number {m.group(0)!r}")
    return out


def test_no_planted_patient_identifier_and_no_nhs_number_anywhere_in_the_target(
        legacy: Path, reference: Reference, targets: Targets) -> None:
    tokens = planted(legacy)
    for kind, found in tokens.items():
        assert found, f"the generator planted no {kind} to look for (the manifest or the pattern changed)"
    everything = set().union(*tokens.values())
    url = targets.clone(reference.template, "ss_flt_pid")
    try:
        rows = _text_of_every_row(url)
    finally:
        targets.drop(url)
    assert {"istv.ed_assault", "core.incident", "ledger.quarantine_record", "ledger.event"} <= set(rows), sorted(rows)
    assert sum(len(v) for v in rows.values()) > 10_000
    # the search finds what is there: a planted token in another case and with other separators,
    # and a valid NHS number written with dashes
    nhs = next(iter(tokens["istv.pid_nhs_number"]))
    probe = {"probe.table": [f"x {next(iter(tokens['istv.pid_phone'])).replace(' ', '-').upper()} y",
                             f"z {nhs.replace(' ', '-')} z"]}
    assert len(leaks(probe, everything)) >= 2, leaks(probe, everything)
    found = leaks(rows, everything)
    assert not found, f"{len(found)} leak(s), e.g. {found[:5]}"
