"""Package layout that pyproject.toml cannot express on its own: the mapping and check files
stay in the repository's ``mappings/`` and ``checks/`` folders (where they are edited) and are
shipped inside the package as ``migration.shipped.mappings`` / ``migration.shipped.checks``
(found by :func:`migration.shipped.shipped_dir` with importlib.resources).  Everything else is
in pyproject.toml."""

from setuptools import find_namespace_packages, setup

SHIPPED = {"migration.shipped.mappings": "mappings", "migration.shipped.checks": "checks"}

setup(
    packages=find_namespace_packages(include=["migration", "migration.*"], exclude=["*.__pycache__"]) + list(SHIPPED),
    package_dir=SHIPPED,
)
