"""The plan: stages as data, in run order, with what ``run`` would do with each.

``prepare_plan`` is the one call the CLI makes: it validates the mapping files (every
problem, or :class:`~migration.errors.MappingError`), counts the legacy rows when a source
is given, and builds the plan.  It writes nothing anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy.engine import URL

from migration.plan.builder import build_plan, stage_order
from migration.plan.explain import (
    PLAN_COLUMNS,
    describe_stage,
    explain,
    plan_rows,
    plan_to_dict,
    summary_lines,
)
from migration.plan.lineage import LINEAGE_COLUMNS, LineageRow, TableLineage, lineage, lineage_of
from migration.plan.stages import (
    DONE_STATES,
    Action,
    Plan,
    PlanError,
    SourceTablePlan,
    StagePlan,
    StageStatus,
)


def prepare_plan(mappings_dir: Path, *, source_url: URL | None = None,
                 stage_status: Iterable[StageStatus] | Mapping[str, StageStatus] | None = None,
                 only: Iterable[str] | None = None) -> Plan:
    """Validate the mapping files, estimate the source rows (when a source is given), build the plan.

    Raises :class:`MappingError` with every problem of the files (coverage of the whole
    target model is `mappings validate`'s to judge), :class:`SourceError` when the given
    source cannot be read."""
    from migration.errors import MappingError
    from migration.mapping.loader import files_hash, mapping_files
    from migration.mapping.validate import validate
    from migration.plan.estimate import count_source_rows
    from migration.secrets import redact_url

    files = mapping_files(mappings_dir)
    if not files:
        raise MappingError([f"{mappings_dir}: no mapping files (*.yaml)"],
                           hint="point --mappings (or SAFESTATS_MAPPINGS_DIR) at the mapping folder")
    # the files as a set of their own: a plan of a set that does not cover the whole target
    # yet is still what `run` would do (`mappings validate` says what is missing)
    specs = validate(files).raise_for_problems()
    counts: dict[str, int] | None = None
    missing: tuple[str, ...] = ()
    if source_url is not None:
        found = count_source_rows(source_url, [tm.source.table for s in specs for tm in s.tables])
        counts, missing = found.rows, found.missing
    return build_plan(specs, source_counts=counts, stage_status=stage_status, only=only,
                      source=redact_url(source_url) if source_url is not None else None,
                      missing_source_tables=missing, mapping_hash=files_hash(files))


__all__ = [
    "DONE_STATES", "LINEAGE_COLUMNS", "PLAN_COLUMNS", "Action", "LineageRow", "Plan", "PlanError", "SourceTablePlan",
    "StagePlan", "StageStatus", "TableLineage", "build_plan", "describe_stage", "explain", "lineage", "lineage_of",
    "plan_rows", "plan_to_dict", "prepare_plan", "stage_order", "summary_lines",
]
