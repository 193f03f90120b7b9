"""A legacy text value at its column's declared maximum length fits the target column.

PostgreSQL counts ``char(n)``/``varchar(n)`` in characters, so Windows-1252 → UTF-8 (one
byte to two or three) changes no length; what matters is that no target column a legacy
text column reaches is narrower than the legacy column.  Widths come from the declared
legacy schema (migration/schema/legacy.py, the data dictionary's types)."""

from __future__ import annotations

from sqlalchemy import CHAR, VARCHAR
from test_mapping_set import BY_TABLE

from migration.schema import models
from migration.schema.legacy import metadata as legacy


def test_every_target_column_fed_by_legacy_text_is_at_least_as_wide() -> None:
    checked, problems = 0, []
    for table, (_stage, tm) in BY_TABLE.items():
        declared = legacy.tables[table].c
        for tname, tspec in tm.targets.items():
            target = models.table(tname)
            for col, cspec in tspec.columns.items():
                if not cspec.from_ or len(cspec.from_) != 1 or cspec.from_[0] not in declared:
                    continue
                src = declared[cspec.from_[0]].type
                if not isinstance(src, CHAR | VARCHAR):
                    continue
                checked += 1
                width = getattr(target.c[col].type, "length", None)
                if width is not None and width < (src.length or 0):
                    problems.append(f"{table}.{cspec.from_[0]} {src} → {tname}.{col} {target.c[col].type}")
    assert checked >= 20, checked
    assert not problems, problems
