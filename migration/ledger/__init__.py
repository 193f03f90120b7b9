"""The migration's books in the target database: runs, events, checkpoints, accounting, lock.

Append-only: a stage's state is derived from its events (:func:`stage_states`), never
kept in a mutable column.
"""

from migration.ledger.books import (
    EVENT_KINDS,
    Ledger,
    RunSummary,
    StageState,
    TableCount,
)
from migration.ledger.lock import MigrationLock

__all__ = ["EVENT_KINDS", "Ledger", "MigrationLock", "RunSummary", "StageState", "TableCount"]
