"""Quarantined rows: list, show and export them — keys, reasons and field names only.

A quarantine record never holds a row's payload (ISTV text, passwords, names): QA sees
*which* legacy row failed *which* rule on *which* fields, and goes to the legacy system
with the key if they need to see the row itself.  Each record names the row by its legacy
primary key (``source_key``, e.g. RecID ``2855``) and by its business key (``business_key``,
e.g. CrimeRef ``MP10SD0002442``; empty when blank); a key given to :func:`records` matches
either.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from migration.errors import TargetError, UnknownNameError, UsageError


@dataclass(frozen=True)
class QuarantineGroup:
    stage: str
    source_table: str
    reason_code: str
    rows: int
    runs: str
    #: records of the group whose business key is blank (NULL)
    blank_keys: int = 0


@dataclass(frozen=True)
class QuarantineRecord:
    quarantine_id: int
    run_id: int
    stage: str
    source_table: str
    source_key: str
    reason_code: str
    fields: list[str]
    created_at: datetime
    redriven_by_run_id: int | None
    rolled_back_at: datetime | None
    business_key: str | None = None


_ACTIVE = "redriven_by_run_id IS NULL AND rolled_back_at IS NULL"


def require_ledger(engine: Engine) -> None:
    """The target holds the ledger's quarantine table, or a TargetError (exit 3) says what to do."""
    with engine.connect() as conn:
        ok = conn.execute(text("SELECT to_regclass('ledger.quarantine') IS NOT NULL "
                               "AND to_regclass('ledger.run') IS NOT NULL")).scalar_one()
    if not ok:
        raise TargetError(f"the target {engine.url.database} has no ledger schema (ledger.quarantine is missing)",
                          hint="run `safestats-migrate schema upgrade` first")


def check_names(engine: Engine, *, stages: list[str], stage: str | None = None, reason: str | None = None,
                run_id: int | None = None) -> None:
    """An unknown stage, reason code or run is a usage error (exit 2) listing the valid ones.

    ``stages`` are the stages of the mapping set; a stage or reason found in the quarantine is
    valid too (records of a stage since renamed stay reachable)."""
    require_ledger(engine)
    with engine.connect() as conn:
        if stage is not None:
            known = sorted(set(stages) | set(conn.execute(text(
                "SELECT DISTINCT stage FROM ledger.quarantine")).scalars()))
            if stage not in known:
                raise UnknownNameError(f"unknown stage {stage!r}", hint=f"stages are: {', '.join(known)}")
        if reason is not None:
            reasons = list(conn.execute(text(
                "SELECT DISTINCT reason_code FROM ledger.quarantine WHERE CAST(:s AS text) IS NULL OR stage = :s "
                "ORDER BY 1"), dict(s=stage)).scalars())
            if reason not in reasons:
                where = f" of stage {stage}" if stage else ""
                raise UnknownNameError(
                    f"no quarantine record{where} has reason {reason!r}",
                    hint=f"reasons recorded{where}: {', '.join(reasons)}" if reasons else f"nothing{where} is "
                         "quarantined")
        if run_id is not None:
            runs = list(conn.execute(text("SELECT run_id FROM ledger.run ORDER BY run_id")).scalars())
            if run_id not in runs:
                shown = ", ".join(str(r) for r in runs[-20:]) or "none yet"
                raise UnknownNameError(f"unknown run {run_id}",
                                       hint=f"runs are: {shown} (`safestats-migrate runs` lists them)")


def summary(engine: Engine, *, stage: str | None = None, include_closed: bool = False,
            run_id: int | None = None) -> list[QuarantineGroup]:
    cond = "TRUE" if include_closed else _ACTIVE
    with engine.connect() as conn:
        rows = conn.execute(text(
            f"SELECT stage, source_table, reason_code, count(*), string_agg(DISTINCT run_id::text, ','), "
            f"count(*) FILTER (WHERE business_key IS NULL) FROM ledger.quarantine WHERE {cond} "
            f"AND (CAST(:s AS text) IS NULL OR stage = :s) AND (CAST(:run AS bigint) IS NULL OR run_id = :run) "
            f"GROUP BY 1, 2, 3 ORDER BY 1, 2, 4 DESC"), dict(s=stage, run=run_id)).all()
    return [QuarantineGroup(*r) for r in rows]


def _where(include_closed: bool, key: str | None, quarantine_id: int | None) -> str:
    cond = "TRUE" if include_closed or key or quarantine_id else _ACTIVE
    return (f"{cond} AND (CAST(:s AS text) IS NULL OR stage = :s) AND (CAST(:r AS text) IS NULL OR reason_code = :r) "
            f"AND (CAST(:k AS text) IS NULL OR source_key = :k OR business_key = :k) "
            f"AND (CAST(:q AS bigint) IS NULL OR quarantine_id = :q) "
            f"AND (CAST(:run AS bigint) IS NULL OR run_id = :run)")


def records(engine: Engine, *, stage: str | None = None, reason: str | None = None, key: str | None = None,
            quarantine_id: int | None = None, include_closed: bool = False, limit: int | None = None,
            run_id: int | None = None) -> list[QuarantineRecord]:
    lim = f"LIMIT {int(limit)}" if limit else ""
    with engine.connect() as conn:
        rows = conn.execute(text(
            f"SELECT quarantine_id, run_id, stage, source_table, source_key, reason_code, fields, created_at, "
            f"redriven_by_run_id, rolled_back_at, business_key FROM ledger.quarantine "
            f"WHERE {_where(include_closed, key, quarantine_id)} ORDER BY quarantine_id {lim}"),
            dict(s=stage, r=reason, k=key, q=quarantine_id, run=run_id)).all()
    return [QuarantineRecord(quarantine_id=r[0], run_id=r[1], stage=r[2], source_table=r[3], source_key=r[4],
                             reason_code=r[5], fields=list(r[6]), created_at=r[7], redriven_by_run_id=r[8],
                             rolled_back_at=r[9], business_key=r[10]) for r in rows]


def count_records(engine: Engine, *, stage: str | None = None, reason: str | None = None, key: str | None = None,
                  quarantine_id: int | None = None, include_closed: bool = False, run_id: int | None = None) -> int:
    """How many records :func:`records` would return without a limit (to say what a limit left out)."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            f"SELECT count(*) FROM ledger.quarantine WHERE {_where(include_closed, key, quarantine_id)}"),
            dict(s=stage, r=reason, k=key, q=quarantine_id, run=run_id)).scalar_one())


def export(engine: Engine, path: Path, *, stage: str | None = None, fmt: str = "csv",
           include_closed: bool = False) -> int:
    recs = records(engine, stage=stage, include_closed=include_closed)
    if fmt not in ("csv", "json"):
        raise UsageError(f"unknown export format {fmt}", hint="use csv or json")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path.write_text(json.dumps([_jsonable(r) for r in recs], indent=2), encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["quarantine_id", "run_id", "stage", "source_table", "source_key", "business_key",
                        "reason_code", "fields", "created_at", "redriven_by_run_id", "rolled_back_at"])
            for r in recs:
                w.writerow([r.quarantine_id, r.run_id, r.stage, r.source_table, r.source_key, r.business_key or "",
                            r.reason_code, ";".join(r.fields), r.created_at.isoformat(), r.redriven_by_run_id or "",
                            r.rolled_back_at.isoformat() if r.rolled_back_at else ""])
    return len(recs)


def _jsonable(r: QuarantineRecord) -> dict[str, Any]:
    d = dict(r.__dict__)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = v.isoformat()
    return d
