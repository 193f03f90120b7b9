"""data: keep the legacy BoroughID on ref.local_authority

Revision ID: d0004
Revises: d0003

Legacy tables refer to boroughs by ``tblBorough.BoroughID`` (tblLSOA, tblHospital,
tblISTVAssault).  Keeping the id on the authority it became lets those references be
resolved by a plain lookup, with no copy of the legacy table in the target.
"""

from __future__ import annotations

from alembic import op

from migration.schema import ddl

revision = "d0004"
down_revision = "d0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with ddl.as_owner():
        op.execute("ALTER TABLE ref.local_authority ADD COLUMN legacy_borough_id smallint")
        op.execute("ALTER TABLE ref.local_authority ADD CONSTRAINT uq_local_authority_legacy_borough_id "
                   "UNIQUE (legacy_borough_id)")
        op.execute("COMMENT ON COLUMN ref.local_authority.legacy_borough_id IS 'tblBorough.BoroughID (lineage, lookups)'")


def downgrade() -> None:
    with ddl.as_owner():
        op.execute("ALTER TABLE ref.local_authority DROP COLUMN legacy_borough_id")
