"""The named transforms the mapping files use.  Importing this package registers them all."""

import importlib
import importlib.util

from migration.mapping.transforms import dates, extra, geo, text  # noqa: F401  (registration)
from migration.mapping.transforms.base import REGISTRY, Transform, get

if importlib.util.find_spec("migration.mapping.transforms.scrub") is not None:
    importlib.import_module("migration.mapping.transforms.scrub")

__all__ = ["REGISTRY", "Transform", "get"]
