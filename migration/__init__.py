"""SafeStats migration framework: staged, reconciled, reversible legacy → PostgreSQL migration.

The library's facade is :mod:`migration.api`, re-exported here (``migration.plan(...)``,
``migration.run(...)``, …); the CLI (`migration.cli`) only presents what it returns.
"""

from migration.api import *  # noqa: F403  (the facade is the package's public API)
from migration.api import __all__ as _api_all
from migration.version import __version__

__all__ = ["__version__", *_api_all]
