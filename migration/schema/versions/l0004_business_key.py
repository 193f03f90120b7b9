"""ledger: quarantine and disposition records carry the business key

Revision ID: l0004
Revises: l0003

A record held the legacy primary key only (``RecID 2855``): QA asked "where is crime
MP10SD0002442?" could not answer from it.  Each record now also carries the row's
business key (trimmed; NULL when it is blank; characters no key may hold written as
``\\xNN`` escapes), and ``quarantine show KEY`` matches either key.  Records written
before this revision keep a NULL business key.
"""

from __future__ import annotations

from alembic import op

from migration.schema import ddl

revision = "l0004"
down_revision = "l0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with ddl.as_owner():
        for table in ("quarantine", "disposition"):
            op.execute(f'ALTER TABLE ledger.{table} ADD COLUMN business_key text COLLATE "C"')
            op.execute(f"COMMENT ON COLUMN ledger.{table}.business_key IS 'the row''s business key, trimmed "
                       f"(NULL when blank); the legacy primary key is source_key'")
        op.execute("CREATE INDEX ix_quarantine_stage_business_key ON ledger.quarantine (stage, business_key)")


def downgrade() -> None:
    with ddl.as_owner():
        op.execute("DROP INDEX ledger.ix_quarantine_stage_business_key")
        for table in ("quarantine", "disposition"):
            op.execute(f"ALTER TABLE ledger.{table} DROP COLUMN business_key")
