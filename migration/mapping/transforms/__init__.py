"""The named transforms the mapping files use.  Importing this package registers them all."""

from migration.mapping.transforms import dates, extra, geo, scrub, text  # noqa: F401  (registration)
from migration.mapping.transforms.base import REGISTRY, Transform, get

__all__ = ["REGISTRY", "Transform", "get"]
