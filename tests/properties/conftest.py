"""Hypothesis profiles and the session's legacy databases / target templates.

Profiles (``SAFESTATS_HYPOTHESIS_PROFILE``, default ``ci``):

- ``ci`` — a few examples per table on SQLite, fewer on MariaDB, derandomized so a CI run is
  reproducible, no shrinking (a failure in CI is reported as drawn; reproduce and shrink it
  with the slow profile);
- ``slow`` — at least 200 examples per table on each engine, random, shrinking on
  (``make test-properties-slow``).

No deadline: one example is a whole stage run and reconciliation (seconds).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.properties.harness import World

PROFILE = os.environ.get("SAFESTATS_HYPOTHESIS_PROFILE", "ci")
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
          HealthCheck.large_base_example]

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=False,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=_QUIET)
settings.register_profile("slow", deadline=None, derandomize=False, print_blob=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                          suppress_health_check=_QUIET)

#: examples per table and engine, per profile
EXAMPLES = {"ci": {"sqlite": 2, "mariadb": 1}, "slow": {"sqlite": 200, "mariadb": 200}}


def examples(engine: str) -> int:
    return EXAMPLES[PROFILE][engine]


def profile_settings(engine: str) -> settings:
    return settings(settings.get_profile(PROFILE), max_examples=examples(engine))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(Path(tmp_path_factory.mktemp("props")))
    try:
        yield w
    finally:
        w.close()
