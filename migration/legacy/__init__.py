"""The synthetic legacy SafeStats database: generator and ground-truth manifest.

``generate(url, scale, seed, manifest_path, console=...)`` creates the 14 tables of
``LEGACY-DATA-DICTIONARY.md`` in SQLite, MariaDB (through pyodbc) or PostgreSQL, fills
them with realistic rows and every documented quirk, and writes a JSON manifest that
counts (and at small scales lists) the rows carrying each anomaly kind of
:data:`KINDS`.  ``advance(url, days, seed, manifest_path, console=...)`` then simulates
days of legacy activity (new batches, in-place revisions, hard deletes, user changes) and
records exactly what changed in the manifest.  The generator never imports the
migration's mapping code.
"""

from migration.legacy.advance import AdvanceResult, advance
from migration.legacy.generate import (
    GENERATOR_VERSION,
    GenerateResult,
    default_manifest_path,
    generate,
)
from migration.legacy.kinds import KINDS, Kind
from migration.legacy.manifest import read_manifest
from migration.schema.legacy import TABLE_NAMES, TABLES, metadata

__all__ = [
    "GENERATOR_VERSION",
    "AdvanceResult",
    "KINDS",
    "TABLES",
    "TABLE_NAMES",
    "advance",
    "GenerateResult",
    "Kind",
    "default_manifest_path",
    "generate",
    "metadata",
    "read_manifest",
]
