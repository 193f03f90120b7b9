"""SafeStats migration framework: staged, reconciled, reversible legacy → PostgreSQL migration.

The public API lives in the sub-packages; the CLI (`migration.cli`) only presents.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("safestats-migration")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
