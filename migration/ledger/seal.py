"""The digest chain over the ledger: seals (``ledger.seal``, ``ledger.seal_row``) and their check.

**Canonical form of a row.**  Every base table of the ``ledger`` schema except the lock note
and the chain's own tables is covered; its columns in ordinal order, its primary key (a JSON
array, as PostgreSQL renders ``jsonb_build_array(pk…)::text``, e.g. ``[42]`` or
``[7, "mps_crime", "tblMPSCrime"]``) names the row.  The row's canonical form is the JSON
text of ``["ledger.<table>", <pk>, [[column, value], …]]`` with sorted keys, no spaces and
``ensure_ascii=False``; timestamps are UTC ISO-8601 (``2026-12-05T15:32:06.123456+00:00``),
``numeric`` is its decimal string, arrays are lists, ``jsonb`` its value, SQL NULL is
``null`` (never the empty string).  A row's hash is the SHA-256 of that text (UTF-8).

**A seal** covers every row no earlier seal covers, in table-name then primary-key order:
``ledger.seal_row`` keeps (table, pk, row hash) per row in that order.  Its digest is the
SHA-256 of the canonical JSON of the seal's own fields (id, run, time, who, command,
catch-up flag, row count, ``up_to``, previous digest) followed by one line
``<table>\\t<pk>\\t<row hash>`` per covered row.  The first seal's previous digest is 64
zeros.  ``up_to`` records per table the rows covered, the last primary key and the column
list hashed (a column added by a later revision does not break older seals).

Sealing happens at the end of every command holding the migration lock
(:class:`~migration.ledger.lock.MigrationLock` seals before it lets go), and right after it
is taken for rows a previous command left unsealed (killed before its seal): that seal is
``catch_up``.  Sealers serialise on a transaction advisory lock, and ``prev_digest`` is
unique, so the chain cannot fork.

:func:`verify` recomputes every row hash of every seal from the rows as they are now and
every seal's digest from its rows, and checks each seal links to the one before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from migration.ledger.books import actor

#: the previous digest of the first seal
GENESIS = "0" * 64
#: a fixed key for pg_advisory_xact_lock: one sealer at a time
SEAL_LOCK_KEY = 0x5AFE57A75_0002
#: ledger tables outside the chain: the lock note is rewritten in place, the chain's own tables
#: are covered by the digests themselves
NOT_SEALED = frozenset({"lock", "seal", "seal_row"})
#: how many rows are fetched at a time while sealing or verifying
_BATCH = 5000


@dataclass(frozen=True)
class LedgerTable:
    name: str
    columns: tuple[str, ...]    # ordinal order
    pk: tuple[str, ...]         # primary key columns, in key order
    int_pk: bool = False        # the key is one integer column (an identity): sealing reads past the last one


@dataclass(frozen=True)
class SealInfo:
    seal_id: int
    run_id: int | None
    rows: int
    digest: str
    catch_up: bool
    runs: tuple[int, ...]


@dataclass(frozen=True)
class Problem:
    """One difference between the chain and the ledger as it is now."""

    kind: str           # changed | deleted | seal | link | anchor
    seal_id: int
    run_id: int | None  # the row's run when it has one, else the newest run its seal covered
    table: str | None = None
    pk: str | None = None
    detail: str = ""

    def line(self) -> str:
        run = f" (run {self.run_id})" if self.run_id is not None else ""  # the row's run, else its seal's
        if self.kind in ("changed", "deleted"):
            return f"ledger.{self.table} row {self.pk} {self.kind} after seal {self.seal_id}{run}"
        return self.detail


@dataclass(frozen=True)
class CatchUp:
    seal_id: int
    rows: int
    runs: tuple[int, ...]


@dataclass
class Verification:
    seals: int = 0
    rows: int = 0                               # sealed rows checked
    head: tuple[int, str] | None = None         # the last seal: id, digest
    appended: dict[str, int] = field(default_factory=dict)   # table → rows after the last seal
    catch_ups: list[CatchUp] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)    # first first
    anchor: tuple[int, str] | None = None       # the report's recorded head, when checked

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------------------- canonical form
def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def canonical_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_sha256(table: str, pk: str, columns: Sequence[str], values: Sequence[Any]) -> str:
    """The SHA-256 of a row's canonical form (see the module's docstring)."""
    form = canonical_json([f"ledger.{table}", pk, [[c, v] for c, v in zip(columns, values, strict=True)]])
    return hashlib.sha256(form.encode("utf-8")).hexdigest()


def _header(*, seal_id: int, run_id: int | None, sealed_at: datetime, sealed_by: str, command: str,
            catch_up: bool, rows: int, up_to: dict[str, Any], prev_digest: str) -> str:
    return canonical_json({"seal_id": seal_id, "run_id": run_id, "sealed_at": sealed_at, "sealed_by": sealed_by,
                           "command": command, "catch_up": catch_up, "rows": rows, "up_to": up_to,
                           "prev_digest": prev_digest})


class _Digest:
    def __init__(self, header: str) -> None:
        self.h = hashlib.sha256(header.encode("utf-8"))
        self.h.update(b"\n")

    def add(self, table: str, pk: str, sha: str) -> None:
        self.h.update(f"{table}\t{pk}\t{sha}\n".encode())

    def hexdigest(self) -> str:
        return self.h.hexdigest()


# ---------------------------------------------------------------------------- the catalog
def installed(conn: Connection) -> bool:
    """Whether the chain's tables exist (ledger revision l0008 or later)."""
    return conn.execute(text("SELECT to_regclass('ledger.seal') IS NOT NULL "
                             "AND to_regclass('ledger.seal_row') IS NOT NULL")).scalar_one() is True


def ledger_tables(conn: Connection) -> list[LedgerTable]:
    """Every base table of the ledger the chain covers, by name, with its columns and primary key."""
    cols: dict[str, list[str]] = {}
    types: dict[tuple[str, str], str] = {}
    for name, column, data_type in conn.execute(text(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = 'ledger' AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position")):
        if name not in NOT_SEALED:
            cols.setdefault(name, []).append(column)
            types[(name, column)] = data_type
    pks: dict[str, list[str]] = {}
    for name, column in conn.execute(text(
            "SELECT cl.relname, a.attname FROM pg_index i "
            "JOIN pg_class cl ON cl.oid = i.indrelid JOIN pg_namespace n ON n.oid = cl.relnamespace "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = k.attnum "
            "WHERE n.nspname = 'ledger' AND i.indisprimary ORDER BY cl.relname, k.ord")):
        pks.setdefault(name, []).append(column)
    # a table without a primary key has no row identity: all its columns name the row
    out = []
    for n, c in sorted(cols.items()):
        pk = tuple(pks.get(n) or c)
        out.append(LedgerTable(n, tuple(c), pk, len(pk) == 1 and types[(n, pk[0])] in ("bigint", "integer")))
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pk_sql(t: LedgerTable, alias: str = "t") -> str:
    return f"jsonb_build_array({', '.join(f'{alias}.{_q(c)}' for c in t.pk)})::text"


def _run_of(t: LedgerTable, values: Sequence[Any]) -> int | None:
    column = "run_id" if "run_id" in t.columns else None
    if column is None:
        return None
    value = values[t.columns.index(column)]
    return int(value) if isinstance(value, int) else None


def _run_of_key(t: LedgerTable, pk: str, default: int | None) -> int | None:
    """The run a row belongs to, read from its primary key when the key holds it (``run_id`` is a
    key column of most books), else ``default`` (the newest run its seal covered)."""
    if "run_id" not in t.pk:
        return default
    try:
        value = json.loads(pk)[t.pk.index("run_id")]
    except (ValueError, IndexError, TypeError):
        return default
    return value if isinstance(value, int) else default


def _unsealed(conn: Connection, t: LedgerTable, total: dict[str, Any] | None
              ) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """The rows of ``t`` no seal covers yet: (pk text, values in column order), in key order.

    ``total``: what the seals so far covered of ``t`` (``{"sealed": rows, "hi": the highest
    integer key}``, carried in every seal's ``up_to``).  When the table holds exactly that many
    rows nothing is pending; when an integer-keyed table holds that many up to ``hi``, only the
    rows past ``hi`` are; otherwise (a row committed late under a lower key, or a row gone)
    every row is looked up in ``ledger.seal_row``."""
    cols = ", ".join(f"t.{_q(c)}" for c in t.columns)
    order = ", ".join(f"t.{_q(c)}" for c in t.pk)
    where = (f"NOT EXISTS (SELECT 1 FROM ledger.seal_row s WHERE s.table_name = :t AND s.pk = {_pk_sql(t)})")
    params: dict[str, Any] = dict(t=t.name)
    if total is not None:
        sealed, hi = int(total.get("sealed", 0)), total.get("hi")
        if conn.execute(text(f"SELECT count(*) FROM ledger.{_q(t.name)}")).scalar_one() == sealed:
            return
        if t.int_pk and (hi is None and sealed == 0 or isinstance(hi, int) and conn.execute(text(
                f"SELECT count(*) FROM ledger.{_q(t.name)} t WHERE t.{_q(t.pk[0])} <= :hi"),
                dict(hi=hi)).scalar_one() == sealed):
            where, params = f"t.{_q(t.pk[0])} > :hi", dict(hi=hi if hi is not None else -(2 ** 63))
    sql = f"SELECT {_pk_sql(t)}, {cols} FROM ledger.{_q(t.name)} t WHERE {where} ORDER BY {order}"
    for row in conn.execute(text(sql).execution_options(yield_per=_BATCH), params):
        yield row[0], tuple(row[1:])


def _utc(conn: Connection) -> None:
    conn.execute(text("SET LOCAL TimeZone = 'UTC'"))


# ---------------------------------------------------------------------------- sealing
def seal(conn: Connection, *, command: str, catch_up: bool = False, who: str | None = None) -> SealInfo | None:
    """Seal every ledger row no seal covers yet; ``None`` when there is none (nothing is written).

    Runs in the caller's transaction (commit it to keep the seal).  ``catch_up``: the rows were
    left unsealed by an earlier command (taken with the lock, before the command's own work)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), dict(k=SEAL_LOCK_KEY))
    _utc(conn)
    tables = ledger_tables(conn)
    prev = conn.execute(text("SELECT digest, up_to FROM ledger.seal ORDER BY seal_id DESC LIMIT 1")).first()
    prev_digest = str(prev[0]) if prev is not None else GENESIS
    # what the seals so far covered, per table (absent: a chain older than the totals — look everything up)
    before = prev[1].get("totals") if prev is not None and isinstance(prev[1], dict) else {} if prev is None else None
    entries: list[tuple[str, str, str]] = []
    up_to: dict[str, Any] = {}
    totals: dict[str, dict[str, Any]] = {}
    runs: set[int] = set()
    for t in tables:
        total = None if before is None else before.get(t.name, {"sealed": 0, "hi": None})
        count, last, hi = 0, None, (total or {}).get("hi")
        for pk, values in _unsealed(conn, t, total):
            entries.append((t.name, pk, row_sha256(t.name, pk, t.columns, values)))
            run = int(values[0]) if t.name == "run" else _run_of(t, values)
            if run is not None:
                runs.add(run)
            count, last = count + 1, pk
            if t.int_pk:
                key = values[t.columns.index(t.pk[0])]
                hi = key if hi is None else max(hi, key)
        if count:
            up_to[t.name] = {"rows": count, "last_pk": last, "columns": list(t.columns)}
        sealed_before = int((total or {}).get("sealed", 0)) if total is not None else None
        if sealed_before is None:  # no totals yet: count what the chain covers
            sealed_before = int(conn.execute(text("SELECT count(*) FROM ledger.seal_row WHERE table_name = :t"),
                                             dict(t=t.name)).scalar_one())
            hi = conn.execute(text(f"SELECT max({_q(t.pk[0])}) FROM ledger.{_q(t.name)}")).scalar() \
                if t.int_pk else None
        totals[t.name] = {"sealed": sealed_before + count, "hi": hi if t.int_pk else None}
    if not entries:
        return None
    seal_id = int(conn.execute(text("SELECT nextval(pg_get_serial_sequence('ledger.seal', 'seal_id'))")).scalar_one())
    sealed_at = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    run_id = max(runs) if runs else None
    by = who or actor()
    doc = {"tables": up_to, "runs": sorted(runs), "totals": totals}
    digest = _Digest(_header(seal_id=seal_id, run_id=run_id, sealed_at=sealed_at, sealed_by=by, command=command,
                             catch_up=catch_up, rows=len(entries), up_to=doc, prev_digest=prev_digest))
    for table, pk, sha in entries:
        digest.add(table, pk, sha)
    conn.execute(text(
        "INSERT INTO ledger.seal (seal_id, run_id, sealed_at, sealed_by, command, catch_up, rows, up_to, "
        "prev_digest, digest) VALUES (:i, :r, :at, :by, :cmd, :cu, :n, CAST(:up AS jsonb), :prev, :d)"),
        dict(i=seal_id, r=run_id, at=sealed_at, by=by, cmd=command, cu=catch_up, n=len(entries),
             up=canonical_json(doc), prev=prev_digest, d=digest.hexdigest()))
    for start in range(0, len(entries), _BATCH):
        conn.execute(text(
            "INSERT INTO ledger.seal_row (seal_id, n, table_name, pk, row_sha256) "
            "SELECT :s, n + :off, t, p, h FROM unnest(CAST(:ts AS text[]), CAST(:ps AS text[]), CAST(:hs AS text[])) "
            "WITH ORDINALITY AS u(t, p, h, n)"),
            dict(s=seal_id, off=start, ts=[e[0] for e in entries[start:start + _BATCH]],
                 ps=[e[1] for e in entries[start:start + _BATCH]], hs=[e[2] for e in entries[start:start + _BATCH]]))
    return SealInfo(seal_id, run_id, len(entries), digest.hexdigest(), catch_up, tuple(sorted(runs)))


def seal_pending(engine: Engine, *, command: str, catch_up: bool = False) -> SealInfo | None:
    """:func:`seal` in a transaction of its own; nothing before ledger revision l0008."""
    with engine.begin() as conn:
        if not installed(conn):
            return None
        return seal(conn, command=command, catch_up=catch_up)


def head(conn: Connection) -> tuple[int, str] | None:
    """The chain's last link: (seal id, digest); ``None`` before the first seal or before l0008."""
    if not installed(conn):
        return None
    row = conn.execute(text("SELECT seal_id, digest FROM ledger.seal ORDER BY seal_id DESC LIMIT 1")).first()
    return (int(row[0]), str(row[1])) if row else None


# ---------------------------------------------------------------------------- verifying
def verify(conn: Connection, anchor: tuple[int, str] | None = None) -> Verification:
    """Recompute the chain over the ledger as it is now (see the module's docstring).

    ``anchor``: a head recorded outside the database (a report's): it must be a link of the
    chain.  Problems come first-first: by seal, then in the seal's row order."""
    _utc(conn)
    out = Verification()
    seals = [dict(r) for r in conn.execute(text(
        "SELECT seal_id, run_id, sealed_at, sealed_by, command, catch_up, rows, up_to, prev_digest, digest "
        "FROM ledger.seal ORDER BY seal_id")).mappings()]
    out.seals = len(seals)
    by_id = {s["seal_id"]: s for s in seals}
    problems: list[tuple[tuple[int, int], Problem]] = []

    # 1. every seal links to the one before and its digest is its rows' and fields'
    digests: dict[int, _Digest] = {}
    prev = GENESIS
    for s in seals:
        if s["prev_digest"] != prev:
            problems.append(((s["seal_id"], -1), Problem(
                "link", s["seal_id"], s["run_id"],
                detail=f"ledger.seal {s['seal_id']} does not follow the seal before it (a seal was removed or "
                       f"changed)")))
        prev = s["digest"]
        digests[s["seal_id"]] = _Digest(_header(
            seal_id=s["seal_id"], run_id=s["run_id"], sealed_at=s["sealed_at"], sealed_by=s["sealed_by"],
            command=s["command"], catch_up=s["catch_up"], rows=s["rows"], up_to=s["up_to"],
            prev_digest=s["prev_digest"]))
        up_to = s["up_to"] if isinstance(s["up_to"], dict) else {}
        if s["catch_up"]:
            out.catch_ups.append(CatchUp(s["seal_id"], s["rows"], tuple(int(r) for r in up_to.get("runs", []))))
    counted: dict[int, int] = {}
    for seal_id, table, pk, sha in conn.execute(text(
            "SELECT seal_id, table_name, pk, row_sha256 FROM ledger.seal_row ORDER BY seal_id, n"
            ).execution_options(yield_per=_BATCH)):
        if seal_id in digests:
            digests[seal_id].add(table, pk, sha)
            counted[seal_id] = counted.get(seal_id, 0) + 1
    for s in seals:
        if digests[s["seal_id"]].hexdigest() != s["digest"] or counted.get(s["seal_id"], 0) != s["rows"]:
            problems.append(((s["seal_id"], -1), Problem(
                "seal", s["seal_id"], s["run_id"],
                detail=f"ledger.seal {s['seal_id']} or its rows in ledger.seal_row were changed (its digest does "
                       f"not match)")))

    # 2. every sealed row is still what its seal hashed
    tables = {t.name: t for t in ledger_tables(conn)}
    for name in sorted({r[0] for r in conn.execute(text("SELECT DISTINCT table_name FROM ledger.seal_row"))}):
        t = tables.get(name)
        if t is None:  # the whole table is gone
            first = conn.execute(text("SELECT seal_id, n, pk FROM ledger.seal_row WHERE table_name = :t "
                                      "ORDER BY seal_id, n LIMIT 1"), dict(t=name)).one()
            n_rows = conn.execute(text("SELECT count(*) FROM ledger.seal_row WHERE table_name = :t"),
                                  dict(t=name)).scalar_one()
            out.rows += n_rows
            problems.append(((first[0], first[1]), Problem("deleted", first[0], by_id.get(first[0], {}).get("run_id"),
                                                            name, first[2])))
            continue
        sql = (f"SELECT s.seal_id, s.n, s.pk, s.row_sha256, t.ctid IS NULL, "
               f"{', '.join(f't.{_q(c)}' for c in t.columns)} FROM ledger.seal_row s "
               f"LEFT JOIN ledger.{_q(name)} t ON {_pk_sql(t)} = s.pk WHERE s.table_name = :t ORDER BY s.seal_id, s.n")
        for row in conn.execute(text(sql).execution_options(yield_per=_BATCH), dict(t=name)):
            seal_id, n, pk, sha, gone = row[0], row[1], row[2], row[3], row[4]
            out.rows += 1
            sealed = by_id.get(seal_id)
            run = sealed["run_id"] if sealed else None
            if gone:
                problems.append(((seal_id, n), Problem("deleted", seal_id, _run_of_key(t, pk, run), name, pk)))
                continue
            current = dict(zip(t.columns, row[5:], strict=True))
            run = current["run_id"] if isinstance(current.get("run_id"), int) else _run_of_key(t, pk, run)
            sealed_cols = (((sealed or {}).get("up_to") or {}).get("tables", {}).get(name, {}).get("columns")
                           or list(t.columns))
            values = [current.get(c, "<column dropped>") for c in sealed_cols]
            if row_sha256(name, pk, sealed_cols, values) != sha:
                problems.append(((seal_id, n), Problem("changed", seal_id, run, name, pk)))

    # 3. rows after the last seal
    for t in tables.values():
        count = conn.execute(text(
            f"SELECT count(*) FROM ledger.{_q(t.name)} t WHERE NOT EXISTS (SELECT 1 FROM ledger.seal_row s "
            f"WHERE s.table_name = :t AND s.pk = {_pk_sql(t)})"), dict(t=t.name)).scalar_one()
        if count:
            out.appended[t.name] = int(count)

    # 4. the head recorded outside the database is a link of the chain
    if seals:
        out.head = (int(seals[-1]["seal_id"]), str(seals[-1]["digest"]))
    if anchor is not None:
        out.anchor = anchor
        linked = by_id.get(anchor[0])
        if linked is None or linked["digest"] != anchor[1]:
            what = "is not in the ledger" if linked is None else "has another digest in the ledger"
            problems.append(((anchor[0], -2), Problem(
                "anchor", anchor[0], linked["run_id"] if linked else None,
                detail=f"the report's chain head, seal {anchor[0]}, {what} (seals were removed or rewritten)")))
    out.problems = [p for _, p in sorted(problems, key=lambda x: x[0])]
    return out


__all__ = ["GENESIS", "NOT_SEALED", "CatchUp", "LedgerTable", "Problem", "SealInfo", "Verification",
           "canonical_json", "head", "installed", "ledger_tables", "row_sha256", "seal", "seal_pending", "verify"]
