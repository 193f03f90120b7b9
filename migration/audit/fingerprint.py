"""The legacy schema as data: its fingerprint, the difference between two, where it is kept.

A fingerprint holds every table of the legacy database with its columns (type, length,
nullability, collation where the engine exposes it), primary key, foreign keys, unique
constraints and indexes — read through SQLAlchemy's inspector, so it is the same on SQL
Server, MariaDB and SQLite.  The first full ``run`` records one automatically
(:func:`record_first_baseline`, called where a run starts); ``preflight --record`` records a
new one (:func:`record_baseline`).  They are kept as ``ledger.event`` rows of kind
``legacy_fingerprint`` (the ledger is append-only: the latest one is the baseline).

:func:`mapped_drift` compares the columns the mappings read with the live database (and,
for type and length, with the baseline): missing, renamed-looking, retyped or narrowed is
a problem; :func:`diff` lists every other change, for a warning with a readable diff.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from migration.errors import SourceError
from migration.ledger import Ledger
from migration.mapping.spec import StageSpec
from migration.secrets import redact_url, scrub

EVENT_KIND = "legacy_fingerprint"
FORMAT = 1
_LENGTH = re.compile(r"\((\d+)(?:\s*,\s*(\d+))?\)")


def _family(type_name: str) -> str:
    """The kind of a column type (text, integer, decimal, float, datetime, binary, boolean, other)."""
    t = type_name.upper()
    for family, words in (("text", ("CHAR", "TEXT", "CLOB", "STRING")), ("datetime", ("DATE", "TIME")),
                          ("boolean", ("BOOL", "BIT")), ("integer", ("INT",)),
                          ("decimal", ("DEC", "NUMERIC", "MONEY")), ("float", ("FLOAT", "REAL", "DOUBLE")),
                          ("binary", ("BLOB", "BINARY", "IMAGE"))):
        if any(w in t for w in words):
            return family
    return "other"


def _collations(engine: Engine) -> dict[tuple[str, str], str]:
    """(table, column) → collation, where the engine's catalog says (MariaDB/MySQL, SQL Server)."""
    dialect = engine.dialect.name
    sql = None
    if dialect in ("mysql", "mariadb"):
        sql = ("SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
               "WHERE TABLE_SCHEMA = DATABASE() AND COLLATION_NAME IS NOT NULL")
    elif dialect == "mssql":
        sql = ("SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM INFORMATION_SCHEMA.COLUMNS "
               "WHERE COLLATION_NAME IS NOT NULL")
    if sql is None:
        return {}
    with engine.connect() as conn:
        return {(r[0], r[1]): r[2] for r in conn.execute(text(sql))}


def capture(engine: Engine) -> dict[str, Any]:
    """The fingerprint of the whole legacy schema (read-only)."""
    try:
        insp = inspect(engine)
        collations = _collations(engine)
        tables: dict[str, Any] = {}
        for t in sorted(insp.get_table_names()):
            cols = {}
            for c in insp.get_columns(t):
                typ = c["type"]
                try:
                    type_name = str(typ.compile(dialect=engine.dialect))
                except Exception:
                    type_name = str(typ)
                m = _LENGTH.search(type_name)
                cols[c["name"]] = {
                    "type": type_name, "family": _family(type_name),
                    "length": int(m.group(1)) if m else getattr(typ, "length", None),
                    "scale": int(m.group(2)) if m and m.group(2) else None,
                    "nullable": bool(c.get("nullable", True)),
                    "collation": collations.get((t, c["name"])) or getattr(typ, "collation", None),
                }
            pk = insp.get_pk_constraint(t).get("constrained_columns") or []
            fks = sorted(f"{','.join(f['constrained_columns'])}->{f['referred_table']}({','.join(f['referred_columns'])})"
                         for f in insp.get_foreign_keys(t))
            uniques = sorted(",".join(u["column_names"]) for u in insp.get_unique_constraints(t))
            indexes = sorted(("unique " if i.get("unique") else "") + ",".join(str(x) for x in i["column_names"])
                             for i in insp.get_indexes(t))
            tables[t] = {"columns": cols, "primary_key": list(pk), "foreign_keys": fks, "unique": uniques,
                         "indexes": indexes}
    except SQLAlchemyError as exc:
        raise SourceError(f"cannot read the catalog of the legacy database {redact_url(engine.url)}: "
                          f"{scrub(getattr(exc, 'orig', exc))}",
                          hint="check the login may read the catalog (VIEW DEFINITION on SQL Server)") from exc
    body = {"format": FORMAT, "dialect": engine.dialect.name, "tables": tables}
    # the server's version goes with the fingerprint (the report's provenance names it) but not into
    # its hash: a patched server is not a changed schema
    return {**body, "hash": hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16],
            "server_version": server_version(engine)}


#: SQL Server's major.minor → its product name (the legacy runs 2008 R2: 10.50)
_MSSQL_NAMES = {(10, 0): "2008", (10, 50): "2008 R2", (11, 0): "2012", (12, 0): "2014", (13, 0): "2016",
                (14, 0): "2017", (15, 0): "2019", (16, 0): "2022"}


def server_version(engine: Engine) -> str | None:
    """The legacy server's version as its own catalog says (``SQL Server 2008 R2 (10.50.6000)``,
    ``MariaDB 10.11.6``, ``SQLite 3.45.1``); None when it cannot be read."""
    dialect = engine.dialect.name
    sql = {"mssql": "SELECT CAST(SERVERPROPERTY('ProductVersion') AS varchar(64))",
           "mysql": "SELECT VERSION()", "mariadb": "SELECT VERSION()",
           "sqlite": "SELECT sqlite_version()", "postgresql": "SHOW server_version"}.get(dialect)
    if sql is None:
        return None
    try:
        with engine.connect() as conn:
            v = str(conn.execute(text(sql)).scalar_one())
    except SQLAlchemyError:
        return None
    if dialect == "mssql":
        parts = tuple(int(x) for x in v.split(".")[:2] if x.isdigit())
        name = _MSSQL_NAMES.get(parts) if len(parts) == 2 else None  # type: ignore[arg-type]
        return f"SQL Server {name} ({v})" if name else f"SQL Server {v}"
    if dialect in ("mysql", "mariadb"):
        return f"MariaDB {v.split('-MariaDB')[0]}" if "mariadb" in v.lower() else f"MySQL {v}"
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[dialect] + f" {v}"


# --------------------------------------------------------------------------- differences
def _col_desc(c: dict[str, Any]) -> str:
    return c["type"] + ("" if c["nullable"] else " NOT NULL") + (f" COLLATE {c['collation']}" if c.get("collation") else "")


def diff(old: dict[str, Any], new: dict[str, Any], *, skip: set[tuple[str, str]] | None = None) -> list[str]:
    """Readable lines of what changed from ``old`` to ``new`` (``skip``: (table, column) pairs left out)."""
    skip = {(t.lower(), c.lower()) for t, c in (skip or set())}
    out: list[str] = []
    ot, nt = old.get("tables", {}), new.get("tables", {})
    for t in sorted(set(ot) | set(nt)):
        if t not in nt:
            out.append(f"- table {t}")
            continue
        if t not in ot:
            out.append(f"+ table {t} ({', '.join(nt[t]['columns'])})")
            continue
        oc, nc = ot[t]["columns"], nt[t]["columns"]
        for c in sorted(set(oc) | set(nc)):
            if (t.lower(), c.lower()) in skip:
                continue
            if c not in nc:
                out.append(f"- column {t}.{c} {_col_desc(oc[c])}")
            elif c not in oc:
                out.append(f"+ column {t}.{c} {_col_desc(nc[c])}")
            elif _col_desc(oc[c]) != _col_desc(nc[c]):
                out.append(f"~ column {t}.{c}: {_col_desc(oc[c])} → {_col_desc(nc[c])}")
        for part in ("primary_key", "foreign_keys", "unique", "indexes"):
            if ot[t].get(part) != nt[t].get(part):
                out.append(f"~ {part.replace('_', ' ')} of {t}: {ot[t].get(part)} → {nt[t].get(part)}")
    return out


@dataclass(frozen=True)
class Drift:
    table: str
    column: str | None
    kind: str            # missing_table | missing | renamed | retyped | narrowed | widened | nullability
    message: str
    fatal: bool


def mapped_columns(specs: Iterable[StageSpec]) -> dict[str, list[str]]:
    """Legacy table → the columns its mapping declares (read or dropped)."""
    out: dict[str, list[str]] = {}
    for s in specs:
        for tm in s.tables:
            cols = out.setdefault(tm.source.table, [])
            cols += [c for c in tm.source.columns if c not in cols]
    return out


def mapped_drift(specs: Iterable[StageSpec], live: dict[str, Any], baseline: dict[str, Any] | None) -> list[Drift]:
    """The columns the mappings use, checked against the live legacy database (and the baseline)."""
    out: list[Drift] = []
    lt = {t.lower(): t for t in live.get("tables", {})}
    bt = {t.lower(): t for t in (baseline or {}).get("tables", {})}
    for table, cols in mapped_columns(specs).items():
        ltn = lt.get(table.lower())
        if ltn is None:
            hint = difflib.get_close_matches(table, list(lt.values()), n=1)
            out.append(Drift(table, None, "missing_table", f"legacy table {table} is missing"
                             + (f" (renamed to {hint[0]}?)" if hint else ""), True))
            continue
        lcols = live["tables"][ltn]["columns"]
        lc = {c.lower(): c for c in lcols}
        bcols = baseline["tables"][bt[table.lower()]]["columns"] if baseline and table.lower() in bt else {}
        bc = {c.lower(): c for c in bcols}
        unmapped_live = [c for c in lcols if c.lower() not in {x.lower() for x in cols}]
        for c in cols:
            found = lc.get(c.lower())
            if found is None:
                guess = None
                base = bcols.get(bc.get(c.lower(), ""))
                new_here = [x for x in unmapped_live if x.lower() not in bc] if bcols else unmapped_live
                close = difflib.get_close_matches(c, new_here, n=1, cutoff=0.6)
                if close:
                    guess = close[0]
                elif base is not None:
                    same = [x for x in new_here if lcols[x]["type"] == base["type"]]
                    guess = same[0] if len(same) == 1 else None
                out.append(Drift(table, c, "renamed" if guess else "missing",
                                 f"{table}.{c} is missing from the live legacy database"
                                 + (f" — renamed to {guess}?" if guess else ""), True))
                continue
            if not bcols or c.lower() not in bc:
                continue
            now, was = lcols[found], bcols[bc[c.lower()]]
            if now["family"] != was["family"] or (now["type"] != was["type"] and now.get("length") is None):
                out.append(Drift(table, c, "retyped", f"{table}.{c} changed type: {was['type']} → {now['type']}", True))
            elif (was.get("length") or 0) and (now.get("length") or 0) and now["length"] < was["length"]:
                out.append(Drift(table, c, "narrowed", f"{table}.{c} narrowed: {was['type']} → {now['type']}", True))
            elif (was.get("scale") or 0) != (now.get("scale") or 0) and now["family"] == "decimal":
                out.append(Drift(table, c, "retyped", f"{table}.{c} changed scale: {was['type']} → {now['type']}", True))
            elif now["type"] != was["type"]:
                out.append(Drift(table, c, "widened", f"{table}.{c} changed: {was['type']} → {now['type']}", False))
            elif now["nullable"] != was["nullable"] or now.get("collation") != was.get("collation"):
                out.append(Drift(table, c, "nullability", f"{table}.{c} changed: {_col_desc(was)} → {_col_desc(now)}",
                                 False))
    return out


# --------------------------------------------------------------------------- the baseline in the ledger
def latest(conn: Connection) -> dict[str, Any] | None:
    """The baseline: the latest recorded fingerprint, with who recorded it and when."""
    ev = Ledger(conn.engine).latest_event(conn, EVENT_KIND)
    if ev is None:
        return None
    detail = dict(ev["detail"] or {})
    fp = detail.get("fingerprint")
    if not isinstance(fp, dict):
        return None
    return {**fp, "recorded_at": ev["at"], "recorded_by": detail.get("recorded_by"), "actor": ev["actor"]}


def record(conn: Connection, fingerprint: dict[str, Any], *, recorded_by: str, source: str) -> None:
    Ledger(conn.engine).event(conn, run_id=None, stage=None, kind=EVENT_KIND,
                              detail={"fingerprint": fingerprint, "recorded_by": recorded_by, "source": source,
                                      "hash": fingerprint.get("hash")})


def record_first_baseline(target: Engine, source: Engine) -> bool:
    """At the start of a full run: record the legacy fingerprint when none is recorded yet.

    Never stops the run: a catalog the login may not read leaves no baseline, and
    ``preflight`` says so (a WARN naming what to do)."""
    with target.begin() as conn:
        if latest(conn) is not None:
            return False
        try:
            fp = capture(source)
        except SourceError:
            return False
        record(conn, fp, recorded_by="run", source=redact_url(source.url))
    return True


__all__ = ["Drift", "EVENT_KIND", "capture", "diff", "latest", "mapped_columns", "mapped_drift", "record",
           "record_first_baseline", "server_version"]
