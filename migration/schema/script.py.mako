"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}

Say *why*: what this changes in the target model, what a reviewer should check, and
what the downgrade gives back.  Write the DDL by hand with op.execute (it is what
`schema upgrade --sql` shows a DBA), create objects inside ddl.as_owner(), change
migration/schema/models.py to match, and run tests/schema (the model check fails if
the two disagree).
"""

from __future__ import annotations

from alembic import op

from migration.schema import ddl

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    with ddl.as_owner():
        ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    with ddl.as_owner():
        ${downgrades if downgrades else "pass"}
