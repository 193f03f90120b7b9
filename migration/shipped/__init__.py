"""The mapping and check files shipped with the package, found from any folder.

The files live in the repository's ``mappings/`` and ``checks/`` (where people edit them);
the build maps them into this package (``migration.shipped.mappings`` and
``migration.shipped.checks``, see ``setup.py``), so an installed wheel carries them as
package data.  In a source checkout (the editable install, or ``PYTHONPATH`` pointing at
it) they are not copied: the checkout's own folders are the shipped set.

They are the last layer of the settings: ``--mappings`` > ``SAFESTATS_MAPPINGS_DIR`` >
``[paths] mappings`` in the config file > :func:`shipped_dir` (the same for checks).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

KINDS = ("mappings", "checks")


def shipped_dir(kind: str) -> Path:
    """The folder of the shipped ``kind`` files (``mappings`` or ``checks``), absolute.

    Never raises for a missing folder: the mapping and check loaders name the path they
    could not read, with what to do next."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of shipped files {kind!r}")
    packaged = files(__name__).joinpath(kind)  # an installed wheel: package data
    if packaged.is_dir():
        return Path(str(packaged)).resolve()
    checkout = Path(__file__).resolve().parents[2] / kind  # a source checkout: the repository's folder
    if checkout.is_dir():
        return checkout
    return Path(str(packaged))


def origin(kind: str) -> str:
    """Where :func:`shipped_dir` found them, in words (for `config show`)."""
    packaged = files(__name__).joinpath(kind)
    return "shipped with the package" if packaged.is_dir() else "shipped with the package (source checkout)"


__all__ = ["KINDS", "origin", "shipped_dir"]
