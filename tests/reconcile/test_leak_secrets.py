"""The secrets the leak check looks for: every dropped legacy value, except one the same
legacy table carries legitimately in a migrated column (found by the property tests: a
password ``abc`` beside another user's login ``abc`` failed a clean migration)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from migration.db.source import SourceReader
from migration.mapping.order import parsed_specs as load_specs
from migration.reconcile.leaks import secret_digests
from tests.steps.conftest import REPO


def _d(s: str) -> tuple[int, str]:
    return len(s), hashlib.md5(s.encode()).hexdigest()  # noqa: S324


def test_a_secret_equal_to_a_value_the_table_carries_is_not_looked_for(legacy_sqlite: Path,
                                                                        tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.sqlite"
    shutil.copy(legacy_sqlite, legacy)
    db = sqlite3.connect(legacy)
    (u1, u2, u3) = [r[0] for r in db.execute('SELECT "UserID" FROM "tblUser" ORDER BY "UserID" LIMIT 3')]
    db.execute('UPDATE "tblUser" SET "Password" = \'abc\' WHERE "UserID" = ?', (u1,))
    db.execute('UPDATE "tblUser" SET "Login" = \'abc\' WHERE "UserID" = ?', (u2,))
    db.execute('UPDATE "tblUser" SET "Password" = \'s3cret-Planted!\', "Email" = \'x s3cret\' WHERE "UserID" = ?',
               (u3,))
    db.commit()
    db.close()
    specs = [s for s in load_specs(REPO / "mappings") if s.stage == "users"]
    eng = create_engine(f"sqlite:///{legacy}", poolclass=NullPool)
    try:
        digests = secret_digests(SourceReader(eng), specs)
    finally:
        eng.dispose()
    assert _d("abc") not in digests          # another user's login: not evidence of a leak
    assert _d("s3cret-Planted!") in digests  # a word of an e-mail is not the whole password
    assert len(digests) > 10
