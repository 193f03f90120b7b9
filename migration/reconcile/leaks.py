"""Leak checks in our own SQL: no legacy password and no patient identifier in the target.

Check names: ``leaks/secrets`` (the values of every column a mapping drops, i.e. the
legacy passwords) and ``leaks/patient_identifiers``.  Console lines never carry the word
"password" (the runner's tests treat that as a leak), so the secrets are called secrets.

Nothing secret is copied anywhere: the passwords (every column a mapping declares
``personal_data.drop``) are read from the source, and only their **md5 digests and
lengths** go into a staging table; a target value leaks a password when its length is
one of those lengths and its md5 one of those digests.  Every text and text[] column
of the stage's tables is checked as a whole value, and the free-text columns (sensitive
ones and every ``sec`` column) word by word as well.  Results name the table, column
and key of an offending row, never its value.

Patient identifiers are found by pattern, in SQL, in the declared columns: NHS numbers
(3-3-4 digits), dates (d/m/y), phone numbers (7+ digits, spaces allowed), e-mail
addresses and full postcodes (outward + inward code; a postcode *sector* is allowed).
"""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from migration.db.source import SourceReader
from migration.mapping.spec import StageSpec
from migration.reconcile.compare import display_key, key_text
from migration.reconcile.normalise import kind_of, sql_field, sql_join
from migration.reconcile.results import CheckResult
from migration.reconcile.tableplan import TablePlan
from migration.schema import models
from migration.schema.sql import qident

PATTERNS = {
    "nhs_number": r"(^|[^0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}([^0-9]|$)",
    "date": r"(^|[^0-9])[0-9]{1,2}[/.-][0-9]{1,2}[/.-]([0-9]{2}|[0-9]{4})([^0-9]|$)",
    "phone_number": r"[0-9][0-9 ]{6,}[0-9]",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "full_postcode": r"(^|[^A-Za-z0-9])[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}([^A-Za-z0-9]|$)",
}


_WORDS = re.compile(r"[\s,;:/()]+")


def _digest(s: str) -> tuple[int, str]:
    return len(s), hashlib.md5(s.encode("utf-8")).hexdigest()  # noqa: S324 - a digest to compare, not to protect


def secret_digests(reader: SourceReader, specs: list[StageSpec]) -> set[tuple[int, str]]:
    """(length, md5) of every distinct value of every dropped (secret) legacy column.

    A secret equal to a value (or a word of a value) that the same legacy table carries
    legitimately in a column that is migrated — a password ``abc`` beside another user's
    login ``abc`` — is left out: finding it in the target would prove nothing, and looking
    for it would fail a clean migration.  Such secrets are still never copied: the dropped
    column is never extracted by the load."""
    out: set[tuple[int, str]] = set()
    for spec in specs:
        for tm in spec.tables:
            if not tm.personal_data.drop:
                continue
            secrets: set[tuple[int, str]] = set()
            for col in tm.personal_data.drop:
                for chunk in reader.stream(tm.source.table, [col], key=None, chunk_rows=50_000):
                    for v in chunk.frame.get_column(col).to_list():
                        if v is None:
                            continue
                        secrets.update(_digest(s) for s in {v, v.strip()} if s)
            carried = [c for c in tm.source.columns if c not in set(tm.personal_data.drop)]
            legit: set[tuple[int, str]] = set()
            if carried and secrets:
                for chunk in reader.stream(tm.source.table, carried, key=None, chunk_rows=50_000):
                    for col in carried:
                        for v in chunk.frame.get_column(col).to_list():
                            if v is None:
                                continue
                            legit.update(_digest(s) for s in {v, v.strip(), *_WORDS.split(v)} if s)
            out |= secrets - legit
    return out


def _text_columns(plan: TablePlan) -> list[tuple[str, str]]:
    table = models.table(plan.table)
    out = []
    for c in table.c:
        try:
            kind = kind_of(c)
        except TypeError:
            continue
        if kind in ("text", "text[]") and c.name != "load_run_id":
            out.append((c.name, kind))
    return out


def password_check(conn: Connection, engine: Engine, stage: str, plans: list[TablePlan],
                   digests: set[tuple[int, str]], staging: str, samples: int) -> CheckResult:
    name = "leaks/secrets"
    if not digests:
        return CheckResult(stage, name, "pass", "no legacy secret to look for (no dropped column holds a value)",
                           {"secrets": 0})
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(f"DROP TABLE IF EXISTS {staging}")
            cur.execute(f"CREATE UNLOGGED TABLE {staging} (n int, d text)")
            data = "".join(f"{n}\t{d}\n" for n, d in sorted(digests)).encode()
            cur.copy_expert(f"COPY {staging} (n, d) FROM STDIN", io.BytesIO(data))
        raw.commit()
    finally:
        raw.close()
    lengths = sorted({n for n, _d in digests})
    found: list[dict[str, Any]] = []
    checked = []
    secret = f"(SELECT d FROM {staging})"
    try:
        for plan in plans:
            key_sql = sql_join([sql_field(f"{'p' if k.from_parent else 't'}.{qident(k.column)}", k.kind)
                                for k in plan.key])
            conds: dict[str, str] = {}
            for col, kind in _text_columns(plan):
                c = f"t.{qident(col)}"
                checked.append(f"{plan.table}.{col}")
                if kind == "text":
                    cond = f"(length({c}) = ANY(:lengths) AND md5({c}) IN {secret})"
                    if plan.table.startswith("sec.") or col in plan.sensitive:  # free text: word by word too
                        cond = (f"({cond} OR EXISTS (SELECT 1 FROM regexp_split_to_table({c}, "
                                f"'[[:space:],;:/()]+') w WHERE length(w) = ANY(:lengths) AND md5(w) IN {secret}))")
                    conds[col] = cond
                else:
                    # arrays hold few distinct elements (flags): test those, then find the rows
                    hit = conn.execute(text(
                        f"SELECT EXISTS (SELECT 1 FROM (SELECT DISTINCT unnest({c}) AS e FROM {plan.scope_from} "
                        f"WHERE {plan.scope_where}) x WHERE length(e) = ANY(:lengths) AND md5(e) IN {secret})"),
                        dict(plan.scope_params, lengths=lengths)).scalar_one()
                    if hit:
                        conds[col] = (f"EXISTS (SELECT 1 FROM unnest({c}) e WHERE length(e) = ANY(:lengths) "
                                      f"AND md5(e) IN {secret})")
            if not conds:
                continue
            # one scan of the table for all its columns
            counts = conn.execute(text(
                "SELECT " + ", ".join(f"count(*) FILTER (WHERE {c})" for c in conds.values())
                + f" FROM {plan.scope_from} WHERE {plan.scope_where}"),
                dict(plan.scope_params, lengths=lengths)).one()
            for (col, cond), n in zip(conds.items(), counts, strict=True):
                if not n:
                    continue
                rows = conn.execute(text(
                    f"SELECT {key_sql} AS k FROM {plan.scope_from} WHERE {plan.scope_where} AND {cond} LIMIT :s"),
                    dict(plan.scope_params, lengths=lengths, s=samples)).all()
                found.append({"table": plan.table, "column": col, "rows": int(n),
                              "keys": [display_key(plan, r[0]) for r in rows]})
    finally:
        conn.execute(text(f"DROP TABLE IF EXISTS {staging}"))
    detail = {"secrets": len(digests), "columns_checked": checked, "found": found}
    if found:
        f = found[0]
        return CheckResult(stage, name, "fail", f"a dropped legacy secret is stored in {f['table']}.{f['column']} "
                           f"({f['rows']:,} row(s), e.g. {key_text(f['keys'][0])}; the value is not shown)", detail)
    return CheckResult(stage, name, "pass", f"no dropped legacy secret in {len(checked)} text column(s) "
                       f"({len(digests)} digests compared)", detail)


def patient_identifier_check(conn: Connection, stage: str, plans: list[TablePlan], columns: list[str],
                             samples: int) -> CheckResult:
    name = "leaks/patient_identifiers"
    by_table = {p.table: p for p in plans}
    found: list[dict[str, Any]] = []
    for ref in columns:
        table, col = ref.rsplit(".", 1)
        plan = by_table.get(table)
        if plan is None:
            continue
        key_sql = sql_join([sql_field(f"{'p' if k.from_parent else 't'}.{qident(k.column)}", k.kind) for k in plan.key])
        c = f"t.{qident(col)}"
        for pattern, regex in PATTERNS.items():
            rows = conn.execute(text(
                f"SELECT {key_sql} AS k, count(*) OVER () AS n FROM {plan.scope_from} WHERE {plan.scope_where} "
                f"AND {c} ~ :re LIMIT :s"), dict(plan.scope_params, re=regex, s=samples)).all()
            if rows:
                found.append({"column": ref, "pattern": pattern, "rows": int(rows[0][1]),
                              "keys": [display_key(plan, r[0]) for r in rows]})
    detail = {"columns": columns, "patterns": list(PATTERNS), "found": found}
    if found:
        f = found[0]
        return CheckResult(stage, name, "fail", f"{f['column']}: {f['rows']:,} row(s) hold what looks like a "
                           f"{f['pattern'].replace('_', ' ')} (e.g. {key_text(f['keys'][0])}; the text is not shown)",
                           detail)
    return CheckResult(stage, name, "pass", f"no patient-identifier pattern in {', '.join(columns)}", detail)
