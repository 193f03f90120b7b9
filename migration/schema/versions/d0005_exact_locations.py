"""data: exact locations hidden by the database (column privileges, one masking view)

Revision ID: d0005
Revises: d0004

Up to d0004 the application role could read ``core.incident.geom`` directly (d0003 granted
it the whole table), and hiding exact points was left to the application choosing
``core.incident_masked``.  From here
the database enforces it on its own:

- **Column privileges.**  ``safestats_app`` loses its table-wide SELECT on
  ``core.incident`` and gets SELECT on every column *except* ``geom``, one by one
  (``INCIDENT_READABLE``).  ``SELECT geom FROM core.incident`` and ``SELECT *`` are refused
  (permission denied); counting, filtering and joining on the other columns work as
  before, and so do the detail tables' policies (they read ``incident_id`` only).
  ``geom`` is the only column of core/istv/ref that says where an incident happened:
  ``istv.ed_assault`` has no point (an ED attendance's point is its ``core.incident``
  row, dataset ISTV), ``location_text_clean`` is already cut to the postcode sector, and
  ``ref.ed_site.geom`` is a hospital's public site, which ``ods_site_code`` names anyway —
  it stays readable.  A column added later is not readable until granted.
- **One view, folded into the old one.**  ``core.incident_masked`` keeps its name and
  columns (the application's contract, ``migration.schema.roles.MASKED_INCIDENT_VIEW``)
  but is now a ``security_barrier`` view owned by ``safestats_migrator`` that reads the
  base table with its owner's rights — the only way a view can return a column its
  reader may not select.  For each row:

  - ``geom``: the row's own point when a grant of the acting user with ``show_points``
    covers the row's dataset and area (``point_shown`` true); otherwise the centroid of
    the row's local authority (NULL when the row has no borough);
  - ``location_precision``: the row's own when the point is shown, else ``borough``
    (the area the returned location stands for), or ``none`` without a borough.

  There is no ward or LSOA geometry in the reference data (ONS ward and LSOA lookups
  carry codes, not coordinates), so the area-level location is the authority's centroid;
  ``ward_code``/``lsoa_code`` stay in the view as codes.
- **Rows.**  Row-level security on ``core.incident`` still governs every read of the
  base table (and, through it, of the detail tables).  A view that reads with its
  owner's rights is not subject to the owner's RLS (enabled, not forced, so the loader
  and reconciliation see every row), so the view repeats the policy's rule in its
  security-barrier WHERE clause: the acting user (``sec.acting_user_id()``, not
  disabled) holds a grant of the row's dataset for all London or the row's borough.
  ``tests/schema`` proves that the view returns exactly the rows RLS lets the same
  session see in the base table, for every grant shape.  A session acting for nobody
  sees nothing.
- **Centroids.**  ``ref.local_authority`` gains ``centroid_easting``/``centroid_northing``
  (British National Grid metres), seeded by the ``boroughs`` stage from
  ``migration/refdata/local_authority.csv`` (and rewritten with the same values by the
  stage's tblBorough upsert); the values come from the London Datastore's
  statistical GIS boundary attribute table (``Boroughs.csv``, OGL v3.0), rounded to the
  metre.  Authorities loaded before this revision are filled here with the same values,
  so a target upgraded after its boroughs were loaded reconciles like a fresh one.

Downgrade restores d0004 exactly: the d0003 ``security_invoker`` view (NULL point
without ``show_points``), table-wide SELECT on ``core.incident`` for the application
role, no centroid columns.  Nothing loaded from legacy is dropped (the centroids are
reference data the seed brings back).
"""

from __future__ import annotations

from alembic import op

from migration.schema import ddl
from migration.schema.roles import APP_ROLE

revision = "d0005"
down_revision = "d0004"
branch_labels = None
depends_on = None

#: the columns of core.incident the application may read: all but ``geom``
INCIDENT_READABLE = (
    "incident_id", "agency_code", "dataset", "source_ref", "legacy_pk", "batch_id",
    "occurred_at", "occurred_precision", "reported_at", "gss_code", "ward_code", "lsoa_code",
    "location_precision", "dq_flags", "load_run_id",
)

#: GSS code -> (easting, northing): Boroughs.csv (London Datastore) X, Y rounded to the metre
CENTROIDS = {
    "E09000001": (532387, 181351), "E09000002": (549164, 186289), "E09000003": (523924, 191945),
    "E09000004": (548985, 175714), "E09000005": (519606, 186490), "E09000006": (543635, 165067),
    "E09000007": (527501, 184264), "E09000008": (534962, 163447), "E09000009": (517057, 181946),
    "E09000010": (532830, 196193), "E09000011": (542383, 176366), "E09000012": (535488, 185074),
    "E09000013": (522891, 179261), "E09000014": (531259, 189343), "E09000015": (514992, 189959),
    "E09000016": (556115, 186844), "E09000017": (507551, 183726), "E09000018": (512743, 174963),
    "E09000019": (531468, 184814), "E09000020": (524962, 179871), "E09000021": (519994, 166151),
    "E09000022": (530571, 175100), "E09000023": (538209, 174545), "E09000024": (526068, 169514),
    "E09000025": (540720, 183331), "E09000026": (543515, 189458), "E09000027": (519007, 172652),
    "E09000028": (534297, 175675), "E09000029": (527359, 163632), "E09000030": (536343, 181454),
    "E09000031": (537425, 190718), "E09000032": (525110, 174160), "E09000033": (528268, 180870),
}

CENTROID_COMMENT = "centroid, British National Grid metres (London Datastore borough boundaries)"
GEOM_COMMENT = "exact location; the application may not select it and reads core.incident_masked"

# The acting user's enabled grants of the row's dataset for all London or the row's borough:
# the rule of the policy incident_granted (d0003), which the view cannot inherit (see above).
# The grants with show_points are read once per query, as 'DATASET/gss' or 'DATASET/*'
# (all London), and each row is matched against that short list: a correlated EXISTS per
# row (d0003's form) costs ~15 µs a row, which is minutes on the full incident table.
_GRANTED = """SELECT FROM sec.access_grant g JOIN sec.app_user u ON u.user_id = g.user_id
        WHERE g.user_id = sec.acting_user_id() AND NOT u.disabled
          AND g.dataset = i.dataset AND (g.gss_code IS NULL OR g.gss_code = i.gss_code)"""

VIEW = f"""
CREATE VIEW core.incident_masked WITH (security_barrier = true) AS
SELECT i.incident_id, i.agency_code, i.dataset, i.source_ref,
       i.occurred_at, i.occurred_precision, i.reported_at,
       i.gss_code, i.ward_code, i.lsoa_code,
       (CASE WHEN p.shown THEN i.geom
             ELSE ST_SetSRID(ST_MakePoint(la.centroid_easting, la.centroid_northing), 27700)
        END)::geometry(Point, 27700) AS geom,
       CASE WHEN p.shown THEN i.location_precision
            WHEN i.gss_code IS NOT NULL THEN 'borough'
            ELSE 'none' END AS location_precision,
       p.shown AS point_shown
FROM core.incident i
CROSS JOIN (
    SELECT coalesce(array_agg(g.dataset || '/' || coalesce(g.gss_code, '*')), '{{}}') AS areas
    FROM sec.access_grant g JOIN sec.app_user u ON u.user_id = g.user_id
    WHERE g.user_id = sec.acting_user_id() AND NOT u.disabled AND g.show_points
) pt
CROSS JOIN LATERAL (
    SELECT i.geom IS NOT NULL
           AND (i.dataset || '/*' = ANY (pt.areas)
                OR coalesce(i.dataset || '/' || i.gss_code = ANY (pt.areas), false)) AS shown
) p
LEFT JOIN ref.local_authority la ON la.gss_code = i.gss_code
WHERE EXISTS (
        {_GRANTED})"""

VIEW_COMMENT = ("core.incident for the application (security barrier, reads as its owner): the exact point "
                "where a grant of the acting user has show_points for the dataset and area, else the borough "
                "centroid with location_precision borough; only the rows the acting user is granted.")

# d0003's view, restored by the downgrade (a revision is history: copied, not imported)
D0003_VIEW = """
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
) p"""

D0003_VIEW_COMMENT = ("core.incident for the application: geom is NULL unless the acting user may see points "
                      "for the dataset and area.")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    with ddl.as_owner():
        op.execute("ALTER TABLE ref.local_authority ADD COLUMN centroid_easting integer, "
                   "ADD COLUMN centroid_northing integer, "
                   "ADD CONSTRAINT ck_local_authority_centroid "
                   "CHECK ((centroid_easting IS NULL) = (centroid_northing IS NULL))")
        for column in ("centroid_easting", "centroid_northing"):
            op.execute(f"COMMENT ON COLUMN ref.local_authority.{column} IS {_lit(CENTROID_COMMENT)}")
        values = ", ".join(f"('{gss}', {e}, {n})" for gss, (e, n) in CENTROIDS.items())
        op.execute(f"""
UPDATE ref.local_authority la
SET centroid_easting = v.e, centroid_northing = v.n
FROM (VALUES {values}) AS v (gss_code, e, n)
WHERE la.gss_code = v.gss_code""")

        op.execute("DROP VIEW core.incident_masked")
        op.execute(VIEW)
        op.execute(f"COMMENT ON VIEW core.incident_masked IS {_lit(VIEW_COMMENT)}")
        op.execute(f"GRANT SELECT ON core.incident_masked TO {APP_ROLE}")

        op.execute(f"REVOKE SELECT ON core.incident FROM {APP_ROLE}")
        op.execute(f"GRANT SELECT ({', '.join(INCIDENT_READABLE)}) ON core.incident TO {APP_ROLE}")
        op.execute(f"COMMENT ON COLUMN core.incident.geom IS {_lit(GEOM_COMMENT)}")


def downgrade() -> None:
    with ddl.as_owner():
        op.execute("COMMENT ON COLUMN core.incident.geom IS NULL")
        # revoking the table privilege revokes the column privileges with it
        op.execute(f"REVOKE SELECT ON core.incident FROM {APP_ROLE}")
        op.execute(f"GRANT SELECT ON core.incident TO {APP_ROLE}")

        op.execute("DROP VIEW core.incident_masked")
        op.execute(D0003_VIEW)
        op.execute(f"COMMENT ON VIEW core.incident_masked IS {_lit(D0003_VIEW_COMMENT)}")
        op.execute(f"GRANT SELECT ON core.incident_masked TO {APP_ROLE}")

        op.execute("ALTER TABLE ref.local_authority DROP CONSTRAINT ck_local_authority_centroid, "
                   "DROP COLUMN centroid_northing, DROP COLUMN centroid_easting")
