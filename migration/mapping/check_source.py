"""The live legacy database compared with the mapping files' ``source.columns`` (schema drift)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from migration.mapping.check_common import Loc, _Collector, _StageInfo, suggest
from migration.mapping.loader import Problem, _fmt_path


class LiveCatalog(Protocol):
    """The live legacy database's catalog, as the check reads it.  The mapping layer only
    compares; reading a database is the db layer's (:class:`migration.db.catalog.SourceCatalog`),
    so ``mapping`` never imports ``db``."""

    #: the database, redacted, for messages
    name: str

    def read(self, tables: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
        """Every table of the database, and the columns of those of ``tables`` it has (matched
        case-insensitively, keyed by the live spelling); :class:`SourceError` when unreadable."""
        ...


def check_live_source(infos: list[_StageInfo], catalog: LiveCatalog, out: _Collector) -> None:
    """Compare every mapped legacy table with the live database (schema drift)."""
    live_tables, live_columns = catalog.read([tm.source.table for info in infos for _, tm in info.tables])
    by_lower = {t.lower(): t for t in live_tables}
    for info in infos:
        for ti, tm in info.tables:
            base: Loc = ("tables", ti, "source")

            def add(loc: Loc, message: str, *, warning: bool = False, _info: _StageInfo = info) -> None:
                p = Problem(_info.file, _info.lf.line_of(loc), _fmt_path(loc), message)
                (out.warnings if warning else out.problems).append(p)

            live = by_lower.get(tm.source.table.lower())
            if live is None:
                add(base + ("table",), f"legacy table {tm.source.table} does not exist in the source database "
                                       f"{catalog.name}{suggest(tm.source.table, live_tables)}")
                continue
            if live != tm.source.table:
                add(base + ("table",), f"the source database spells the table {live}", warning=True)
            cols = live_columns.get(live, [])
            cols_lower = {c.lower(): c for c in cols}
            for ci, c in enumerate(tm.source.columns):
                found = cols_lower.get(c.lower())
                if found is None:
                    add(base + ("columns", ci), f"column {c} does not exist in {live} of the source database"
                                                f"{suggest(c, cols)} (schema drift)")
                elif found != c:
                    add(base + ("columns", ci), f"the source database spells the column {found}", warning=True)
            declared = {c.lower() for c in tm.source.columns}
            for c in cols:
                if c.lower() not in declared:
                    add(base + ("columns",), f"the source table {live} has a column {c} that source.columns does "
                                             "not declare (schema drift): declare it, then map it or list it "
                                             "under not_migrated")


