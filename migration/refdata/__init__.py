"""Reference data shipped with the migration (CSV seeds named by the mapping files' ``seeds:``).

A regular package (not a namespace package) so that ``importlib.resources.files`` gives a
plain directory path.  See README.md for what each file holds and its licence.

This module is the one locator of those files: the loader's seeds, the mapping checks, the
profile's simulation and the borough near-miss list all find them here (there were four
ways before, each with its own idea of where the folder is).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

PACKAGE = "migration.refdata"


def refdata_dir() -> Path:
    """The folder of the shipped reference CSV files (inside the installed package)."""
    return Path(str(resources.files(PACKAGE)))


def refdata_path(name: str) -> Path:
    """One shipped reference file by its name (``local_authority.csv``)."""
    return refdata_dir() / name


def read_refdata(name: str) -> str:
    """The text of one shipped reference file."""
    return refdata_path(name).read_text(encoding="utf-8")


def refdata_version() -> str:
    """A short hash of every shipped CSV (name and bytes): recorded with each run, so a
    change of the reference data is visible in the ledger."""
    h = hashlib.sha256()
    for p in sorted(refdata_dir().glob("*.csv")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]
