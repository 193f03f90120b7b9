"""The checks ``cutover go`` runs once the decision is recorded (each a checklist item).

- every identity and sequence-backed column of the data tables would hand out a value above
  its column's maximum (a sequence left behind would collide with a migrated key at the
  application's first insert);
- the rows per dataset in ``core.incident`` equal the report's (the report the go decision
  names);
- row-level security holds for the application role: for one enabled user of each grant
  shape (all London or boroughs, one or several boroughs, points or not, ISTV or not), and
  for a disabled user and for nobody, the rows visible as ``safestats_app`` acting for the
  user equal the rows their grants cover, counted by the migrator (who bypasses RLS).
  The target login must be allowed to ``SET ROLE`` to the application role.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from migration.ops.items import Item
from migration.schema.models import DATA_SCHEMAS
from migration.schema.roles import APP_ROLE, act_for_user


def sequences_above_max(conn: Connection) -> Item:
    cols = conn.execute(text(
        "SELECT n.nspname, c.relname, a.attname, pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), "
        "a.attname) AS seq FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(:s) AND c.relkind = 'r' "
        "AND a.attnum > 0 AND NOT a.attisdropped "
        "AND (a.attidentity <> '' OR pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) "
        "IS NOT NULL) ORDER BY 1, 2, 3"), dict(s=list(DATA_SCHEMAS))).all()
    behind = []
    for schema, table, column, seq in cols:
        top = conn.execute(text(f'SELECT max("{column}") FROM "{schema}"."{table}"')).scalar_one()
        if top is None:
            continue
        last, called, step = conn.execute(text(
            "SELECT s.last_value, s.is_called, q.seqincrement FROM pg_sequence q, "
            f"LATERAL (SELECT last_value, is_called FROM {seq}) s WHERE q.seqrelid = CAST(:seq AS regclass)"),
            dict(seq=seq)).one()
        nxt = last + step if called else last
        if nxt <= top:
            behind.append(f"{schema}.{table}.{column}: next {nxt} ≤ max {top}")
    return Item("identities and sequences above their column's maximum", not behind,
                f"{len(cols)} identity/sequence columns checked" if not behind else "; ".join(behind))


def counts_match_report(conn: Connection, report_path: str) -> Item:
    doc = json.loads(Path(report_path).read_text(encoding="utf-8"))
    chart = next((c for c in doc.get("charts", []) if c.get("id") == "rows-per-dataset"), None)
    if chart is None:
        return Item("rows per dataset equal the report's", False, f"{report_path} has no rows-per-dataset figures")
    target = next(s["values"] for s in chart["series"] if s["name"] == "target")
    expected = {cat.split(" ")[0]: int(v) for cat, v in zip(chart["categories"], target, strict=True)}
    now = {r[0]: int(r[1]) for r in conn.execute(text(
        "SELECT dataset, count(*) FROM core.incident GROUP BY 1"))}
    diff = [f"{d}: report {n:,}, target {now.get(d, 0):,}" for d, n in sorted(expected.items()) if now.get(d, 0) != n]
    extra = [f"{d}: {n:,} rows not in the report" for d, n in sorted(now.items()) if d not in expected]
    bad = diff + extra
    return Item("rows per dataset equal the report's", not bad,
                ", ".join(f"{d} {n:,}" for d, n in sorted(expected.items())) if not bad else "; ".join(bad))


def rls_smoke(engine: Engine) -> Item:
    with engine.connect() as conn:
        shapes = conn.execute(text(
            "SELECT DISTINCT ON (shape) user_id, shape FROM (SELECT u.user_id, concat_ws(', ', "
            "CASE WHEN bool_or(g.gss_code IS NULL) THEN 'all London' WHEN count(DISTINCT g.gss_code) > 1 "
            "THEN 'several boroughs' ELSE 'one borough' END, CASE WHEN bool_or(g.show_points) THEN 'points' "
            "ELSE 'no points' END, CASE WHEN u.can_see_istv THEN 'ISTV' ELSE 'no ISTV' END) AS shape "
            "FROM sec.app_user u JOIN sec.access_grant g ON g.user_id = u.user_id WHERE NOT u.disabled "
            "GROUP BY u.user_id, u.can_see_istv) s ORDER BY shape, user_id")).all()
        probes: list[tuple[int | None, str]] = [(int(r[0]), r[1]) for r in shapes]
        disabled = conn.execute(text("SELECT min(user_id) FROM sec.app_user WHERE disabled")).scalar_one()
        if disabled is not None:
            probes.append((int(disabled), "disabled"))
        probes.append((None, "nobody"))
        wrong, seen = [], []
        for user, shape in probes:
            expected = 0 if user is None or shape == "disabled" else int(conn.execute(text(
                "SELECT count(*) FROM core.incident i WHERE EXISTS (SELECT FROM sec.access_grant g "
                "WHERE g.user_id = :u AND g.dataset = i.dataset AND (g.gss_code IS NULL OR g.gss_code = i.gss_code))"),
                dict(u=user)).scalar_one())
            conn.rollback()  # end the reads' transaction: the probe's role and user stay in its own
            with conn.begin():
                conn.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
                act_for_user(conn, user)
                visible = int(conn.execute(text("SELECT count(*) FROM core.incident")).scalar_one())
            seen.append(f"{shape} (user {user}): {visible:,}")
            if visible != expected:
                wrong.append(f"{shape} (user {user}) sees {visible:,} rows, its grants cover {expected:,}")
    return Item(f"row-level security as {APP_ROLE}", not wrong and len(probes) > 1,
                "; ".join(seen) if not wrong else "; ".join(wrong))


def post_cutover_checks(engine: Engine, report_path: str) -> list[Item]:
    with engine.connect() as conn:
        items = [sequences_above_max(conn), counts_match_report(conn, report_path)]
    items.append(rls_smoke(engine))
    return items


