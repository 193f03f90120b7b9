"""The migration's books in the target database: runs, events, checkpoints, accounting, lock.

Every read and write of the ``ledger`` schema goes through this package (no other module
holds ledger SQL; ``tests/ledger/test_boundary.py`` checks it):

- :class:`Ledger` (:mod:`.books`) — runs, events, stage states, checkpoints, accounting;
- :mod:`.records` — quarantine and disposition records and the events that change them;
- :mod:`.images` — before-images for exact rollback;
- :mod:`.history` — runs of a stage, seeds, snapshots, watermarks, check results, report reads;
- :mod:`.quarantine` — listing and exporting quarantine records (``quarantine`` commands);
- :mod:`.verdict` — the migration's verdict; :mod:`.lock` — the migration lock;
- :mod:`.seal` — the digest chain over the books (sealed when the lock is let go), and its check.

Append-only: a stage's state is derived from its events (:func:`stage_states`), a record's
from its events (views ``ledger.quarantine``, ``ledger.quarantine_open``), never kept in a
mutable column.  Writers take the caller's connection where a ledger row must commit with
the data it describes (a chunk with its records and checkpoint).
"""

from migration.ledger import history, images, records
from migration.ledger.books import (
    EVENT_KINDS,
    Ledger,
    RunSummary,
    StageState,
    TableCount,
)
from migration.ledger.lock import MigrationLock

__all__ = ["EVENT_KINDS", "Ledger", "MigrationLock", "RunSummary", "StageState", "TableCount", "history", "images",
           "records"]
