"""The plan: stages as data, in run order, with what ``run`` would do with each.

``prepare_plan`` is the one call ``plan`` and ``run --dry-run`` make: it validates the
mapping files (every problem, or :class:`~migration.errors.MappingError`), counts the
legacy rows when a source is given, reads the ledger's state of every stage when a target
is given, and builds the plan.  It writes nothing anywhere.  ``run`` executes the same
plan (:mod:`migration.plan.execute`, imported on its own: it pulls in the loader).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy.engine import URL

from migration.db.engines import check_connect, target_engine
from migration.mapping.loader import files_hash
from migration.mapping.order import stage_order, validated_specs
from migration.plan.builder import build_plan
from migration.plan.estimate import count_source_rows
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
    Step,
    steps_of,
)
from migration.plan.state import stage_status as read_stage_status
from migration.secrets import redact_url


def prepare_plan(mappings_dir: Path, *, source_url: URL | None = None, target_url: URL | None = None,
                 stage_status: Iterable[StageStatus] | Mapping[str, StageStatus] | None = None,
                 only: Iterable[str] | None = None, mode: str = "load", gate: bool = True) -> Plan:
    """Validate the mapping files, estimate the source rows (when a source is given), read the
    ledger's state of every stage (when a target is given), build the plan.  Writes nothing.

    ``plan`` and ``run --dry-run`` both call this; ``run`` builds the same plan under its
    lock (:meth:`migration.plan.execute.Orchestrator.run`).  Raises :class:`MappingError`
    with every problem of the files, :class:`SourceError` / :class:`TargetError` (exit 3)
    when a given database cannot be read."""
    specs, files = validated_specs(mappings_dir)
    counts: dict[str, int] | None = None
    missing: tuple[str, ...] = ()
    if source_url is not None:
        found = count_source_rows(source_url, [tm.source.table for s in specs for tm in s.tables])
        counts, missing = found.rows, found.missing
    if target_url is not None and stage_status is None:
        engine = target_engine(target_url)
        try:
            check_connect(engine, role="target")
            stage_status = read_stage_status(engine)
        finally:
            engine.dispose()
    return build_plan(specs, source_counts=counts, stage_status=stage_status, only=only,
                      source=redact_url(source_url) if source_url is not None else None,
                      missing_source_tables=missing, mapping_hash=files_hash(files), mode=mode,
                      target_read=stage_status is not None, gate=gate)


__all__ = [
    "DONE_STATES", "LINEAGE_COLUMNS", "PLAN_COLUMNS", "Action", "LineageRow", "Plan", "PlanError", "SourceTablePlan",
    "StagePlan", "StageStatus", "Step", "TableLineage", "build_plan", "describe_stage", "explain", "lineage",
    "lineage_of", "plan_rows", "plan_to_dict", "prepare_plan", "read_stage_status", "stage_order", "steps_of",
    "summary_lines",
]
