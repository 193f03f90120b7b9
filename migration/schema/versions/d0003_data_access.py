"""data: application grants, row-level security, the masked incident view

Revision ID: d0003
Revises: d0002

How a user's access is enforced by the database, not only by the application:

- The application runs as ``safestats_app`` (SELECT only, not an owner, no BYPASSRLS)
  and, per request, sets ``safestats.user_id`` to the SafeStats user it acts for
  (``SELECT set_config('safestats.user_id', '42', true)``).  The application is trusted
  to set it from the identity provider's answer; the database then does the rest.
- ``sec.acting_user_id()`` reads that setting; unset or empty means nobody, so a
  session that forgot to set it sees no incident at all (fail closed).
- ``sec.access_grant`` has RLS too: a session sees only the grants of the user it acts
  for, and none when that user is disabled.  The incident policy reads grants through
  that same filter, so one rule decides who is who.
- ``core.incident`` policy: a row is visible when the acting user has a grant for its
  dataset and either all London (grant ``gss_code`` NULL) or its borough.  An incident
  without a borough (``gss_code`` NULL) matches only all-London grants, because
  ``NULL = gss_code`` is never true.  ISTV rows need a grant of the ISTV dataset like
  any other dataset.
- Detail tables: a row is visible when its incident is.  The policy reads
  ``core.incident``, whose own policy applies inside it, so the rule is written once.
- ``core.incident_masked`` (``security_invoker``, so RLS applies as the caller) gives
  ``geom`` only where the user holds ``show_points`` for the row's dataset and area;
  other users get the area columns (borough, ward, LSOA) and a NULL point.

RLS is ENABLED, not FORCED: the owner (``safestats_migrator``) still sees every row,
which loading, rollback and reconciliation need.  The application role can read
``core.incident.geom`` directly (a ``security_invoker`` view needs the caller to hold
SELECT on what it reads); the masked view is the application's contract for points.
"""

from __future__ import annotations

from alembic import op

from migration.schema import ddl
from migration.schema.roles import APP_ROLE, USER_ID_SETTING

revision = "d0003"
down_revision = "d0002"
branch_labels = None
depends_on = None

# What the application may read.  No INSERT/UPDATE/DELETE anywhere: it reports, the
# migration writes.
READABLE = (
    "ref.local_authority", "ref.la_alias", "ref.ward", "ref.lsoa", "ref.offence_category",
    "ref.ed_site", "ref.code_value", "ref.import_batch",
    "core.incident", "core.police_crime", "core.fire_incident", "core.ambulance_assault",
    "core.transport_crime", "istv.ed_assault",
    "sec.organisation", "sec.app_user", "sec.access_grant",
)
DETAIL_TABLES = ("core.police_crime", "core.fire_incident", "core.ambulance_assault",
                 "core.transport_crime", "istv.ed_assault")


def upgrade() -> None:
    with ddl.as_owner():
        # Plain SQL and STABLE so the planner inlines it into the policies: it is
        # evaluated once per query, not once per row.  missing_ok => NULL when never set.
        op.execute(f"""
CREATE FUNCTION sec.acting_user_id() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$ SELECT NULLIF(pg_catalog.current_setting('{USER_ID_SETTING}', true), '')::integer $fn$""")
        op.execute("COMMENT ON FUNCTION sec.acting_user_id() IS "
                   f"'The sec.app_user this session acts for (setting {USER_ID_SETTING}); NULL = nobody.'")

        for table in READABLE:
            op.execute(f"GRANT SELECT ON {table} TO {APP_ROLE}")

        op.execute("ALTER TABLE sec.access_grant ENABLE ROW LEVEL SECURITY")
        op.execute(f"""
CREATE POLICY access_grant_own ON sec.access_grant
    FOR SELECT TO {APP_ROLE}
    USING (user_id = sec.acting_user_id()
           AND EXISTS (SELECT FROM sec.app_user u
                       WHERE u.user_id = access_grant.user_id AND NOT u.disabled))""")

        op.execute("ALTER TABLE core.incident ENABLE ROW LEVEL SECURITY")
        op.execute(f"""
CREATE POLICY incident_granted ON core.incident
    FOR SELECT TO {APP_ROLE}
    USING (EXISTS (SELECT FROM sec.access_grant g
                   WHERE g.user_id = sec.acting_user_id()
                     AND g.dataset = incident.dataset
                     AND (g.gss_code IS NULL OR g.gss_code = incident.gss_code)))""")

        for table in DETAIL_TABLES:
            name = table.split(".")[1]
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"""
CREATE POLICY {name}_incident_visible ON {table}
    FOR SELECT TO {APP_ROLE}
    USING (EXISTS (SELECT FROM core.incident i WHERE i.incident_id = {name}.incident_id))""")

        op.execute("""
CREATE VIEW core.incident_masked WITH (security_invoker = true) AS
SELECT i.incident_id, i.agency_code, i.dataset, i.source_ref,
       i.occurred_at, i.occurred_precision, i.reported_at,
       i.gss_code, i.ward_code, i.lsoa_code,
       CASE WHEN p.shown THEN i.geom END AS geom,
       i.location_precision,
       p.shown AS point_shown
FROM core.incident i
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT FROM sec.access_grant g
                   WHERE g.user_id = sec.acting_user_id()
                     AND g.show_points
                     AND g.dataset = i.dataset
                     AND (g.gss_code IS NULL OR g.gss_code = i.gss_code)) AS shown
) p""")
        op.execute("COMMENT ON VIEW core.incident_masked IS "
                   "'core.incident for the application: geom is NULL unless the acting user may see points "
                   "for the dataset and area.'")
        op.execute(f"GRANT SELECT ON core.incident_masked TO {APP_ROLE}")


def downgrade() -> None:
    with ddl.as_owner():
        op.execute("DROP VIEW core.incident_masked")
        for table in reversed(DETAIL_TABLES):
            name = table.split(".")[1]
            op.execute(f"DROP POLICY {name}_incident_visible ON {table}")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute("DROP POLICY incident_granted ON core.incident")
        op.execute("ALTER TABLE core.incident DISABLE ROW LEVEL SECURITY")
        op.execute("DROP POLICY access_grant_own ON sec.access_grant")
        op.execute("ALTER TABLE sec.access_grant DISABLE ROW LEVEL SECURITY")
        for table in reversed(READABLE):
            op.execute(f"REVOKE SELECT ON {table} FROM {APP_ROLE}")
        op.execute("DROP FUNCTION sec.acting_user_id()")
