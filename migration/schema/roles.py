"""Names the target schema's security rests on — the one place they are spelled.

Both roles are cluster-wide NOLOGIN *group* roles: real logins are made members of them
by a DBA (``GRANT safestats_migrator TO alice_migration``), so passwords never live in
the schema.  The migrations create them when they are missing and never drop them:
a role is shared by every database of the cluster and outlives any one of them.

- :data:`MIGRATOR_ROLE` owns every schema, table, view and function of ours.  The
  migrations ``SET ROLE`` to it before creating anything, so ownership is right even
  when the upgrade runs as the ``postgres`` superuser.  As the owner it is not subject
  to row-level security (RLS is enabled, not forced), which the loader and
  reconciliation need.
- :data:`APP_ROLE` is what the SafeStats application runs as: SELECT only, never an
  owner, never ``BYPASSRLS``; row-level security decides which rows it sees, from the
  user named in :data:`USER_ID_SETTING`.  It holds no SELECT on the columns that say
  where an incident happened (:data:`EXACT_LOCATION_COLUMNS`) and reads locations through
  :data:`MASKED_INCIDENT_VIEW`.
"""

from __future__ import annotations

from typing import Any

MIGRATOR_ROLE = "safestats_migrator"
APP_ROLE = "safestats_app"

#: the session setting naming the SafeStats user (``sec.app_user.user_id``) a session acts for
USER_ID_SETTING = "safestats.user_id"

#: the one relation the application reads incidents' locations from: the exact point where
#: a grant of the acting user has ``show_points`` for the row's dataset and area, the
#: borough's centroid (``location_precision`` 'borough') everywhere else (revision d0005)
MASKED_INCIDENT_VIEW = "core.incident_masked"

#: (table, column) of every column holding where an incident happened.  The application role
#: holds no SELECT on them (column privileges); ``schema check`` reports it if it does.
EXACT_LOCATION_COLUMNS: tuple[tuple[str, str], ...] = (("core.incident", "geom"),)

#: point columns the application may read: they locate a public place (an Emergency
#: Department's site, published by NHS ODS), never an incident or a person
PUBLIC_POINT_COLUMNS: tuple[tuple[str, str], ...] = (("ref.ed_site", "geom"),)


def act_for_user(connection: Any, user_id: int | None, *, local: bool = True) -> None:
    """Make ``connection`` act for SafeStats user ``user_id`` (``None``: for nobody).

    ``local=True`` (the default) scopes the setting to the current transaction, so a
    pooled connection cannot leak one user's identity into the next request.
    """
    from sqlalchemy import text

    value = "" if user_id is None else str(int(user_id))
    connection.execute(
        text("SELECT pg_catalog.set_config(:name, :value, :local)"),
        {"name": USER_ID_SETTING, "value": value, "local": local},
    )
