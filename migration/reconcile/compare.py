"""Comparing the expected side with the target inside PostgreSQL, and naming what differs.

**Key-set and row-hash diff.**  Both sides are tables of (canonical key ``k``, md5 ``h``):
``…_exp`` COPY'd from the source pass, ``…_act`` computed in SQL over the target.  They are
compared by *hash of the key*, never by collation order (data-diff's bisection, inside one
database):

1. level 1 — 256 buckets by the first 2 hex digits of md5(k) (each side keeps the first 4 in
   a column ``b``): per bucket the row count and the XOR of the first 64 bits of every row
   hash, on each side; equal buckets are done;
2. level 2 — inside the differing buckets only, 65,536 sub-buckets (4 hex digits);
3. keys — inside the differing sub-buckets only, a full join on ``k``: a key only expected
   is *missing*, one only in the target is *extra*, one the target holds twice is a
   *duplicate*, one whose hashes differ is *changed*.

Only then are rows pulled, and only for a capped sample of keys: the target's canonical
columns (one SQL query) and the expected ones (the source rows re-read by key and run
through the reference again), so every differing column can be named with its before
(expected) and after (target) value — sensitive columns masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from migration.reconcile.normalise import NULL, decode_fields
from migration.reconcile.results import MASKED, CheckResult
from migration.reconcile.tableplan import TablePlan

STATUS_ORDER = ("missing", "extra", "duplicate", "changed")


@dataclass
class TableDiff:
    expected_rows: int = 0
    target_rows: int = 0
    buckets: int = 0                     # differing level-1 buckets
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_ORDER, 0))
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {s: [] for s in STATUS_ORDER})
    collisions: int = 0                  # source rows that gave a key another source row also gave


def _digests(conn: Connection, table: str, prefix: int, within: list[str] | None, within_len: int) -> dict[str, tuple[int, int]]:
    """Per bucket ``left(b, prefix)`` (``b`` = the first 4 hex digits of md5(k)): row count and the
    XOR of the first 64 bits of the row hashes."""
    cond = f" WHERE left(b, {within_len}) = ANY(:w)" if within is not None else ""
    rows = conn.execute(text(
        f"SELECT left(b, {prefix}) AS bucket, count(*), bit_xor(('x' || left(h, 16))::bit(64)::bigint) "
        f"FROM {table}{cond} GROUP BY 1"), dict(w=within or []))
    return {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}


def _differing(e: dict[str, tuple[int, int]], a: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(b for b in set(e) | set(a) if e.get(b) != a.get(b))


def diff_table(conn: Connection, exp: str, act: str, samples: int) -> TableDiff:
    d = TableDiff()
    e1 = _digests(conn, exp, 2, None, 0)
    a1 = _digests(conn, act, 2, None, 0)
    d.expected_rows = sum(c for c, _x in e1.values())
    d.target_rows = sum(c for c, _x in a1.values())
    b1 = _differing(e1, a1)
    d.buckets = len(b1)
    if not b1:
        return d
    if len(b1) <= 128:
        e2 = _digests(conn, exp, 4, b1, 2)
        a2 = _digests(conn, act, 4, b1, 2)
        b2 = _differing(e2, a2)
        cond, params = "b = ANY(:p)", dict(p=b2)
    else:
        cond, params = "true", {}
    conn.execute(text("DROP TABLE IF EXISTS _rec_diff"))
    conn.execute(text(
        f"CREATE TEMP TABLE _rec_diff AS "
        f"WITH e AS (SELECT DISTINCT ON (k) k, s, h, count(*) OVER (PARTITION BY k) AS c FROM {exp} "
        f"           WHERE {cond} ORDER BY k, n DESC), "
        f"     a AS (SELECT k, min(h) AS h, count(*) AS c FROM {act} WHERE {cond} GROUP BY k) "
        f"SELECT coalesce(e.k, a.k) AS k, e.s, e.c AS ec, a.c AS ac, "
        f"       CASE WHEN a.k IS NULL THEN 'missing' WHEN e.k IS NULL THEN 'extra' WHEN a.c > 1 THEN 'duplicate' "
        f"            WHEN e.h <> a.h THEN 'changed' END AS status "
        f"FROM e FULL JOIN a ON a.k = e.k"), params)
    d.collisions = int(conn.execute(text("SELECT coalesce(sum(ec - 1), 0) FROM _rec_diff WHERE ec > 1")).scalar_one())
    for status, n in conn.execute(text("SELECT status, count(*) FROM _rec_diff WHERE status IS NOT NULL GROUP BY 1")):
        d.counts[status] = int(n)
    for status in STATUS_ORDER:
        if d.counts[status]:
            rows = conn.execute(text(
                "SELECT k, s, ac FROM _rec_diff WHERE status = :st ORDER BY k COLLATE \"C\" LIMIT :n"),
                dict(st=status, n=samples))
            d.samples[status] = [{"k": r[0], "source_key": r[1], "target_copies": r[2]} for r in rows]
    conn.execute(text("DROP TABLE IF EXISTS _rec_diff"))
    return d


# ---------------------------------------------------------------------------- showing values
def display_key(plan: TablePlan, k: str) -> dict[str, Any]:
    try:
        values = decode_fields(k, plan.key_kinds)
    except (ValueError, IndexError):
        return {"key": k}
    return dict(zip(plan.key_names, values, strict=True))


def key_text(key: dict[str, Any]) -> str:
    return ", ".join(f"{n}={v if v is not None else 'NULL'}" for n, v in key.items())


def display_value(canonical: str | None, kind: str) -> Any:
    """What a person reads for a canonical field (the canonical text without its length prefix)."""
    if canonical is None or canonical == NULL:
        return None
    if kind in ("text", "text[]", "ref"):
        if ":" in canonical and canonical.split(":", 1)[0].isdigit():
            inner = canonical.split(":", 1)[1]
            if kind == "ref":
                parts = [p.split(":", 1)[1] if ":" in p and p.split(":", 1)[0].isdigit() else p
                         for p in inner.split("|")]
                return "/".join(parts)
            return inner
    return canonical


def column_diffs(plan: TablePlan, expected: dict[str, str], actual: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for v in plan.values:
        e = expected.get(v.column)
        a = actual.get(v.column)
        if e == a:
            continue
        masked = v.column in plan.sensitive
        out.append({"column": v.column,
                    "before": (MASKED if e not in (None, NULL) else None) if masked else display_value(e, v.kind),
                    "after": (MASKED if a not in (None, NULL) else None) if masked else display_value(a, v.kind),
                    "masked": masked})
    return out


def actual_columns(conn: Connection, plan: TablePlan, keys: list[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    sql, params = plan.columns_sql(keys)
    rows = conn.execute(text(sql), params).mappings()
    return {r["k"]: dict(r) for r in rows}


def _short(value: Any) -> str:
    if value is None:
        return "NULL"
    s = str(value)
    return repr(s[:40] + ("…" if len(s) > 40 else ""))


def key_result(stage: str, plan: TablePlan, d: TableDiff) -> CheckResult:
    name = f"keys/{plan.table}"
    bad = d.counts["missing"] + d.counts["extra"] + d.counts["duplicate"]
    detail: dict[str, Any] = {"table": plan.table, "key": plan.key_names, "expected_rows": d.expected_rows,
                              "target_rows": d.target_rows, "differing_buckets": d.buckets,
                              "missing": d.counts["missing"], "extra": d.counts["extra"],
                              "duplicate": d.counts["duplicate"], "source_collisions": d.collisions}
    for status in ("missing", "extra", "duplicate"):
        detail[f"{status}_keys"] = [dict(display_key(plan, s["k"]), **({"source_key": s["source_key"]}
                                                                    if s.get("source_key") else {}),
                                         **({"copies": s["target_copies"]} if status == "duplicate" else {}))
                                    for s in d.samples[status]]
    if bad:
        parts = []
        for status, label in (("missing", "missing from the target"), ("extra", "extra in the target"),
                              ("duplicate", "held more than once")):
            if d.counts[status]:
                first = display_key(plan, d.samples[status][0]["k"])
                parts.append(f"{d.counts[status]:,} key(s) {label} (e.g. {key_text(first)}"
                             + (f", source {d.samples[status][0]['source_key']}" if status == "missing" else "") + ")")
        return CheckResult(stage, name, "fail", f"{plan.table}: " + "; ".join(parts), detail)
    if d.collisions:
        return CheckResult(stage, name, "warn", f"{plan.table}: all {d.target_rows:,} keys match, but {d.collisions:,} "
                           "source row(s) map to a key another source row also maps to (the later one is expected)",
                           detail)
    return CheckResult(stage, name, "pass", f"{plan.table}: all {d.target_rows:,} keys match", detail)


def hash_result(stage: str, plan: TablePlan, d: TableDiff, changed: list[dict[str, Any]]) -> CheckResult:
    name = f"row_hash/{plan.table}"
    n = d.counts["changed"]
    compared = d.expected_rows - d.counts["missing"]
    detail: dict[str, Any] = {"table": plan.table, "key": plan.key_names, "columns": [v.column for v in plan.values],
                              "compared_rows": compared, "changed": n, "differing_buckets": d.buckets,
                              "changed_rows": changed, "sensitive": sorted(plan.sensitive)}
    if n:
        first = changed[0] if changed else None
        what = ""
        if first is not None:
            cols = []
            for c in first["columns"][:4]:
                if c["masked"]:
                    cols.append(f"{c['column']} (sensitive: values not shown)")
                else:
                    cols.append(f"{c['column']} {_short(c['before'])} → {_short(c['after'])}")
            what = f" (e.g. {key_text(first['key'])}: {', '.join(cols) or 'columns not located'})"
        all_cols = sorted({c["column"] for r in changed for c in r["columns"]})
        return CheckResult(stage, name, "fail", f"{plan.table}: {n:,} row(s) differ from the source in "
                           f"{', '.join(all_cols) or '?'}{what}", detail)
    return CheckResult(stage, name, "pass", f"{plan.table}: {compared:,} rows identical to the source "
                       f"({len(plan.values)} columns compared)", detail)


# ---------------------------------------------------------------------------- control totals
def _money(v: int, kind: str | None) -> str:
    if kind and kind.startswith("numeric:"):
        return format(Decimal(v).scaleb(-int(kind.split(":", 1)[1])), "f")
    return f"{v:,}"


def totals_result(stage: str, totals: Any, expected: dict[tuple[Any, ...], list[Any]],
                  actual: dict[tuple[Any, ...], list[Any]], samples: int) -> CheckResult:
    spec = totals.spec
    name = f"control_totals/{spec.name}"
    tol = {t.measure: t for t in spec.tolerances}
    diffs: list[dict[str, Any]] = []
    within: list[dict[str, Any]] = []
    empty = [0 if mk not in ("min", "max") else None for _m, mk, _c, _k in totals.measures]
    for b in sorted(set(expected) | set(actual), key=lambda t: tuple("" if x is None else str(x) for x in t)):
        e = expected.get(b, empty)
        a = actual.get(b, empty)
        for j, (m, mk, _c, kind) in enumerate(totals.measures):
            if e[j] == a[j]:
                continue
            row = {"bucket": dict(zip(spec.by, b, strict=True)), "measure": m}
            if mk in ("min", "max"):
                row.update(expected=e[j], target=a[j])
                diffs.append(row)
                continue
            delta = int(a[j]) - int(e[j])
            row.update(expected=_money(int(e[j]), kind if mk == "sum" else None),
                       target=_money(int(a[j]), kind if mk == "sum" else None),
                       difference=_money(delta, kind if mk == "sum" else None))
            if m in tol and abs(delta) <= tol[m].abs:
                row["tolerance"] = tol[m].abs
                within.append(row)
            else:
                diffs.append(row)
    grand = {}
    for j, (m, mk, _c, kind) in enumerate(totals.measures):
        if mk in ("count", "count_true", "sum"):
            ev = sum(int(v[j]) for v in expected.values())
            av = sum(int(v[j]) for v in actual.values())
            grand[m] = {"expected": _money(ev, kind if mk == "sum" else None),
                        "target": _money(av, kind if mk == "sum" else None)}
    detail = {"table": spec.table, "by": spec.by, "measures": spec.measures, "buckets_expected": len(expected),
              "buckets_target": len(actual), "differences": diffs[:samples], "differing": len(diffs),
              "within_tolerance": within[:samples], "tolerances": [t.model_dump() for t in spec.tolerances],
              "totals": grand}
    label = f"{spec.table} by {', '.join(spec.by) or '(all rows)'}"
    if diffs:
        first = diffs[0]
        where = ", ".join(f"{k}={v}" for k, v in first["bucket"].items()) or "all rows"
        return CheckResult(stage, name, "fail", f"{label}: {len(diffs):,} difference(s) in "
                           f"{len({tuple(x['bucket'].items()) for x in diffs}):,} of {max(len(expected), len(actual)):,} "
                           f"buckets (e.g. {where}: {first['measure']} expected {first['expected']}, target "
                           f"{first['target']})", detail)
    if within:
        reasons = "; ".join(sorted({tol[w['measure']].reason for w in within}))
        return CheckResult(stage, name, "warn", f"{label}: {len(within):,} difference(s) within the declared "
                           f"tolerance ({reasons})", detail)
    return CheckResult(stage, name, "pass", f"{label}: {len(expected):,} buckets, every measure equal "
                       f"({', '.join(spec.measures)})", detail)
