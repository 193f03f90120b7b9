"""The application's view of a fully migrated target (issue 16): the probe that found exact
points readable by a user without ``show_points`` is refused, and the view gives exact points
exactly where a grant allows them.  Runs on the session's clean, reconciled target (read
only, every probe in a rolled-back transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migration.schema.roles import APP_ROLE, MASKED_INCIDENT_VIEW, act_for_user

pytestmark = pytest.mark.postgres

PROBE = "SELECT count(*) FILTER (WHERE geom IS NOT NULL) FROM core.incident"


@contextmanager
def as_app(engine: Engine, user_id: int) -> Iterator[Connection]:
    with engine.connect() as conn:
        trans = conn.begin()
        conn.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
        act_for_user(conn, user_id)
        try:
            yield conn
        finally:
            trans.rollback()


def _users(conn: Connection, having: str) -> list[int]:
    return [r[0] for r in conn.execute(text(f"""
        SELECT g.user_id FROM sec.access_grant g JOIN sec.app_user u USING (user_id)
        WHERE NOT u.disabled GROUP BY g.user_id HAVING {having} ORDER BY count(*) DESC, g.user_id LIMIT 4"""))]


def test_the_probe_is_refused_and_the_view_shows_points_only_where_granted(clean_target: URL) -> None:
    engine = create_engine(clean_target, poolclass=NullPool)
    try:
        with engine.connect() as conn:  # the superuser: the truth to compare with
            exact = {r[0]: (r[1], r[2]) for r in conn.execute(text(
                "SELECT incident_id, ST_X(geom), ST_Y(geom) FROM core.incident WHERE geom IS NOT NULL"))}
            centroid = {r[0]: (float(r[1]), float(r[2])) for r in conn.execute(text(
                "SELECT gss_code, centroid_easting, centroid_northing FROM ref.local_authority"))}
            no_points = _users(conn, "NOT bool_or(g.show_points)")
            points = _users(conn, "bool_and(g.show_points)")
        assert exact and len(centroid) == 33 and no_points and points

        seen_area = seen_exact = 0
        for user_id in no_points + points:
            with as_app(engine, user_id) as conn, pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(PROBE))
            with as_app(engine, user_id) as conn:
                visible = conn.execute(text("SELECT count(*) FROM core.incident")).scalar_one()
                rows = conn.execute(text(f"""
                    SELECT incident_id, gss_code, ST_X(geom), ST_Y(geom), location_precision, point_shown
                    FROM {MASKED_INCIDENT_VIEW}""")).all()
            assert len(rows) == visible, user_id  # row-level security decides the rows, as before
            for incident_id, gss, x, y, precision, shown in rows:
                if user_id in no_points or incident_id not in exact:
                    assert not shown
                    assert (x, y) == (centroid[gss] if gss else (None, None))
                    assert precision == ("borough" if gss else "none")
                    seen_area += 1
                else:
                    assert shown and (x, y) == exact[incident_id]
                    seen_exact += 1
        assert seen_area and seen_exact  # both answers were seen, so the asserts above mean something
    finally:
        engine.dispose()
