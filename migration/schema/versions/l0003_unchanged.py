"""ledger: rows already in the target exactly as the run would write them ('unchanged')

Revision ID: l0003
Revises: l0002

An upsert leaves a row alone when the target already holds exactly what the run would
write (a delta re-reading its overlap window, a seed that anticipated a legacy code).
Such a row is neither inserted nor updated, so it does not carry the run's id; it is
recorded as ``unchanged`` so that accounting still balances with every term counted on
its own: read = loaded + unchanged + merged + quarantined + filtered.
"""

from __future__ import annotations

from alembic import op

from migration.schema import ddl

revision = "l0003"
down_revision = "l0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with ddl.as_owner():
        op.execute("ALTER TABLE ledger.disposition DROP CONSTRAINT ck_disposition_disposition")
        op.execute("ALTER TABLE ledger.disposition ADD CONSTRAINT ck_disposition_disposition "
                   "CHECK (disposition IN ('filter', 'merged', 'unchanged'))")
        op.execute("ALTER TABLE ledger.table_count ADD COLUMN rows_unchanged bigint NOT NULL DEFAULT 0")


def downgrade() -> None:
    with ddl.as_owner():
        op.execute("ALTER TABLE ledger.table_count DROP COLUMN rows_unchanged")
        op.execute("DELETE FROM ledger.disposition WHERE disposition = 'unchanged'")
        op.execute("ALTER TABLE ledger.disposition DROP CONSTRAINT ck_disposition_disposition")
        op.execute("ALTER TABLE ledger.disposition ADD CONSTRAINT ck_disposition_disposition "
                   "CHECK (disposition IN ('filter', 'merged'))")
