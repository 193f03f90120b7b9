"""The live legacy database's catalog: its tables and their columns (for the mapping files'
schema-drift check, :func:`migration.mapping.check_source.check_live_source`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from migration.db.engines import check_connect, source_engine
from migration.errors import SourceError
from migration.secrets import redact_url, scrub


class SourceCatalog:
    """Reads the catalog of the legacy database at ``url`` (one connection per :meth:`read`)."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.name = redact_url(url)

    def read(self, tables: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
        """Every table, and the columns of those of ``tables`` the database has (matched
        case-insensitively, keyed by the live spelling).  Unreachable or unreadable:
        :class:`SourceError` (exit 3)."""
        engine = source_engine(self.url)
        try:
            check_connect(engine, role="source")
            try:
                insp = inspect(engine)
                live_tables = insp.get_table_names()
                by_lower = {t.lower(): t for t in live_tables}
                columns: dict[str, list[str]] = {}
                for table in tables:
                    live = by_lower.get(table.lower())
                    if live is not None and live not in columns:
                        columns[live] = [c["name"] for c in insp.get_columns(live)]
            except SQLAlchemyError as exc:
                raise SourceError(f"cannot read the catalog of the legacy database {self.name}: "
                                  f"{scrub(getattr(exc, 'orig', exc))}") from exc
        finally:
            engine.dispose()
        return live_tables, columns
