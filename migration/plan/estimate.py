"""Row counts of the legacy tables, read from the live source (read-only engine)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, inspect, select, table
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from migration.db.engines import check_connect, source_engine
from migration.errors import SourceError
from migration.secrets import redact_url, scrub


@dataclass(frozen=True)
class SourceCounts:
    rows: dict[str, int]
    #: asked-for tables the source does not have
    missing: tuple[str, ...]


def count_source_rows(url: URL, tables: Iterable[str]) -> SourceCounts:
    """``SELECT COUNT(*)`` of each table that exists (names matched case-insensitively)."""
    wanted = list(dict.fromkeys(tables))
    engine = source_engine(url)
    try:
        check_connect(engine, role="source")
        rows: dict[str, int] = {}
        missing: list[str] = []
        with engine.connect() as conn:
            live = {t.lower(): t for t in inspect(conn).get_table_names()}
            for name in wanted:
                actual = live.get(name.lower())
                if actual is None:
                    missing.append(name)
                    continue
                rows[name] = int(conn.execute(select(func.count()).select_from(table(actual))).scalar_one())
        return SourceCounts(rows=rows, missing=tuple(missing))
    except SQLAlchemyError as exc:
        raise SourceError(f"cannot count the legacy rows in {redact_url(url)}: {scrub(getattr(exc, 'orig', exc))}",
                          hint="check the source URL and that its login may SELECT") from exc
    finally:
        engine.dispose()
