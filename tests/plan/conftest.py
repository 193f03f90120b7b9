"""The plan's tests use the runner tests' legacy database and upgraded targets."""

from tests.steps.conftest import legacy_sqlite, target_url

__all__ = ["legacy_sqlite", "target_url"]
