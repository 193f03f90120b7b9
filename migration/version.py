"""The package's version, in a module of its own at the bottom layer: the ledger and the
report record it, and importing it must not pull in the facade that ``migration/__init__``
re-exports (that would make every layer depend on the top one)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("safestats-migration")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"
