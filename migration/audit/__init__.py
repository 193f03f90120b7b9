"""The legacy audit before a single row moves (issue 12).

::

    result = profile_legacy(settings, stages=["mps_crime"])   # read-only, no target needed
    render_html(result); render_json(result)
    report = preflight(settings)                              # PASS / WARN / FAIL lines, exit code
    record_baseline(settings)                                 # the legacy schema fingerprint, re-baselined

* :mod:`.profile` — column statistics, value shapes, predictions, cross-table facts,
  estimate (:mod:`.stats`, :mod:`.predict`, :mod:`.simulate`, :mod:`.estimate`,
  :mod:`.masking`); :mod:`.render` — JSON, console tables, HTML;
* :mod:`.fingerprint` — the whole legacy schema as data, its diff, and where it is kept
  (a ``ledger.event``); :mod:`.preflight` — the checks.
"""

from __future__ import annotations

# aliased: the package's attribute ``profile`` stays the module (tests patch migration.audit.profile)
from migration.audit.profile import ProfileResult
from migration.audit.profile import profile as _profile
from migration.console import Console
from migration.mapping.order import parsed_specs
from migration.settings import Settings


def profile_legacy(settings: Settings, *, stages: list[str] | None = None, sample: int | None = None,
                   console: Console | None = None) -> ProfileResult:
    """Profile the legacy database against the mapping files of ``settings`` (read-only)."""
    specs = parsed_specs(settings.mappings_dir)
    return _profile(settings.require_source(), specs, stages=stages, sample=sample, chunk_rows=settings.chunk_rows,
                   checks_dir=settings.checks_dir, target_url=settings.target_url, console=console)


__all__ = ["profile_legacy"]
