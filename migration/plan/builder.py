"""Build a :class:`~migration.plan.stages.Plan` from specs and plain data; no side effects.

The order is topological on ``depends_on``; among stages that are ready at the same time
the one whose file name sorts first goes first (files are named ``10_reference.yaml``,
``20_…`` so the author controls the order where the dependencies leave it open).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Mapping
from pathlib import Path

from migration.errors import MappingError
from migration.mapping.spec import StageSpec
from migration.plan.stages import Action, Plan, PlanError, SourceTablePlan, StagePlan, StageStatus


def stage_fingerprint(spec: StageSpec) -> str:
    """SHA-256 of what a stage means (its parsed spec, not the file's layout or location)."""
    return hashlib.sha256(spec.model_dump_json(by_alias=True).encode()).hexdigest()


def stage_order(specs: Iterable[StageSpec]) -> list[StageSpec]:
    """Dependencies first; ties broken by file name, then stage name."""
    specs = list(specs)
    by_name = {s.stage: s for s in specs}
    if len(by_name) != len(specs):
        raise MappingError(["two stages share a name"])
    waiting = {s.stage: {d for d in s.depends_on if d in by_name} for s in specs}
    unknown = sorted({d for s in specs for d in s.depends_on if d not in by_name})
    if unknown:
        raise MappingError([f"unknown stage(s) in depends_on: {', '.join(unknown)}"])
    dependents: dict[str, list[str]] = {s.stage: [] for s in specs}
    for name, deps in waiting.items():
        for d in deps:
            dependents[d].append(name)

    def tie(name: str) -> tuple[str, str]:
        return (Path(by_name[name].file).name, name)

    ready = [tie(n) for n, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[StageSpec] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(by_name[name])
        for nxt in dependents[name]:
            waiting[nxt].discard(name)
            if not waiting[nxt]:
                heapq.heappush(ready, tie(nxt))
    if len(order) != len(specs):
        stuck = sorted(n for n, deps in waiting.items() if deps)
        raise MappingError([f"stage dependency cycle among: {', '.join(stuck)}"])
    return order


def _targets(spec: StageSpec) -> tuple[str, ...]:
    out: list[str] = [s.target for s in spec.seeds if s.load == "before_tables"]
    for tm in spec.tables:
        out += list(tm.targets)
    out += [s.target for s in spec.seeds if s.load == "after_tables"]
    return tuple(dict.fromkeys(out))


def build_plan(specs: Iterable[StageSpec], *, source_counts: Mapping[str, int] | None = None,
               stage_status: Iterable[StageStatus] | Mapping[str, StageStatus] | None = None,
               only: Iterable[str] | None = None, source: str | None = None,
               missing_source_tables: Iterable[str] = ()) -> Plan:
    """The stages in run order, with what ``run`` would do with each.

    ``source_counts``: legacy table → rows (matched case-insensitively); ``stage_status``:
    the ledger's view; ``only``: run just these stages (the others are skipped, and a
    selected stage whose dependency is neither done nor selected is blocked).
    """
    ordered = stage_order(specs)
    names = [s.stage for s in ordered]
    counts = {k.lower(): v for k, v in (source_counts or {}).items()}
    if stage_status is None:
        status: dict[str, StageStatus] = {}
    elif isinstance(stage_status, Mapping):
        status = dict(stage_status)
    else:
        status = {s.stage: s for s in stage_status}
    selected = set(names) if only is None else set(only)
    unknown = sorted(selected - set(names))
    if unknown:
        raise PlanError(f"unknown stage(s): {', '.join(unknown)}", hint=f"stages: {', '.join(names)}")

    plans: list[StagePlan] = []
    decided: dict[str, tuple[Action, str]] = {}
    for position, spec in enumerate(ordered, start=1):
        fp = stage_fingerprint(spec)
        st = status.get(spec.stage)
        action: Action
        if st is not None and st.state == "done":
            if st.fingerprint is not None and st.fingerprint != fp:
                action, reason = "reload", "the mapping changed since it was loaded"
            else:
                action, reason = "skip", "done"
        elif st is not None:
            action = "resume"
            reason = f"{st.state}; from the last checkpoint" + (f": {st.detail}" if st.detail else "")
        else:
            action, reason = "load", ""
        if spec.stage not in selected and action != "skip":
            action, reason = "skip", "not selected"
        if action in ("load", "resume", "reload"):
            # a dependency is there when it is loaded already or runs before this stage
            waits = [d for d in spec.depends_on
                     if not (d in status and status[d].state == "done")
                     and decided.get(d, ("skip", ""))[0] not in ("load", "resume", "reload")]
            if waits:
                action, reason = "blocked", f"waits for {', '.join(waits)}"
        decided[spec.stage] = (action, reason)
        tables = tuple(
            SourceTablePlan(table=tm.source.table, key=tm.source.key, targets=tuple(tm.targets),
                            estimated_rows=counts.get(tm.source.table.lower()))
            for tm in spec.tables)
        plans.append(StagePlan(
            position=position, stage=spec.stage, title=spec.title, file=spec.file,
            depends_on=tuple(spec.depends_on), dataset=spec.dataset,
            seeds=tuple(s.target for s in spec.seeds), tables=tables, target_tables=_targets(spec),
            fingerprint=fp, action=action, reason=reason))
    return Plan(stages=tuple(plans), source=source, missing_source_tables=tuple(missing_source_tables))
