"""Build a :class:`~migration.plan.stages.Plan` from specs and plain data; no side effects.

The order is the one ``run --all`` takes: stages in file-name order, each after the
stages it depends on (a depth-first walk), so the author controls the order where
``depends_on`` leaves it open by naming files ``10_reference.yaml``, ``20_…``.  What
each stage would do follows the runner's rules: a loaded stage is skipped, an unfinished
run is resumed (unless the mapping files changed since it started), a stage whose
dependency is neither loaded nor running before it is blocked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from migration.errors import MappingError
from migration.mapping.spec import StageSpec
from migration.plan.stages import Action, Plan, PlanError, SourceTablePlan, StagePlan, StageStatus


def stage_order(specs: Iterable[StageSpec]) -> list[StageSpec]:
    """Dependencies first; otherwise by file name, then stage name."""
    specs = sorted(specs, key=lambda s: (Path(s.file).name, s.stage))
    by_name = {s.stage: s for s in specs}
    if len(by_name) != len(specs):
        raise MappingError(["two stages share a name"])
    out: list[StageSpec] = []
    done: set[str] = set()

    def visit(s: StageSpec, stack: tuple[str, ...]) -> None:
        if s.stage in done:
            return
        if s.stage in stack:
            raise MappingError([f"stage dependency cycle: {' → '.join(stack + (s.stage,))}"])
        for d in s.depends_on:
            if d not in by_name:
                raise MappingError([f"{s.file}: stage {s.stage} depends on unknown stage {d}"])
            visit(by_name[d], stack + (s.stage,))
        done.add(s.stage)
        out.append(s)

    for s in specs:
        visit(s, ())
    return out


def _targets(spec: StageSpec) -> tuple[str, ...]:
    out: list[str] = [s.target for s in spec.seeds if s.load == "before_tables"]
    for tm in spec.tables:
        out += list(tm.targets)
    out += [s.target for s in spec.seeds if s.load == "after_tables"]
    return tuple(dict.fromkeys(out))


def _decide(spec: StageSpec, st: StageStatus | None, mapping_hash: str | None) -> tuple[Action, str]:
    if st is not None and st.done:
        reason = f"loaded by run {st.run_id}" if st.run_id is not None else "loaded"
        if mapping_hash and st.mapping_hash and st.mapping_hash != mapping_hash:
            reason += "; the mapping files changed since: roll the stage back to load it with them"
        return "skip", reason
    if st is not None and st.unfinished:
        run = f"run {st.run_id}" if st.run_id is not None else "its run"
        if mapping_hash and st.mapping_hash and st.mapping_hash != mapping_hash:
            return "blocked", (f"{run} ({st.state}) was started with other mapping files: roll the stage "
                               "back first, two rule sets must not mix")
        return "resume", f"{run} ({st.state}) from its last committed chunk"
    if st is not None and st.state == "rolled_back":
        return "load", "rolled back before"
    if st is not None and st.state == "check_failed":
        return "load", "its checks failed"
    return "load", ""


def build_plan(specs: Iterable[StageSpec], *, source_counts: Mapping[str, int] | None = None,
               stage_status: Iterable[StageStatus] | Mapping[str, StageStatus] | None = None,
               only: Iterable[str] | None = None, source: str | None = None,
               missing_source_tables: Iterable[str] = (), mapping_hash: str | None = None) -> Plan:
    """The stages in run order, with what ``run`` would do with each.

    ``source_counts``: legacy table → rows (matched case-insensitively); ``stage_status``:
    the ledger's view of each stage; ``only``: run just these stages (the others are
    skipped, and a selected stage whose dependency is neither loaded nor selected is
    blocked); ``mapping_hash``: the hash of the mapping files now, compared with the one
    each run was started with.
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
        raise PlanError(f"unknown stage(s): {', '.join(unknown)}", hint=f"stages are: {', '.join(names)}")

    plans: list[StagePlan] = []
    decided: dict[str, Action] = {}
    for position, spec in enumerate(ordered, start=1):
        st = status.get(spec.stage)
        action, reason = _decide(spec, st, mapping_hash)
        if spec.stage not in selected and action != "skip":
            action, reason = "skip", "not selected"
        if action in ("load", "resume"):
            # a dependency is there when it is loaded already, or runs before this stage
            waits = [d for d in spec.depends_on
                     if not (d in status and status[d].done) and decided.get(d) not in ("load", "resume")]
            if waits:
                action, reason = "blocked", f"waits for {', '.join(waits)}"
        decided[spec.stage] = action
        tables = tuple(
            SourceTablePlan(table=tm.source.table, key=tm.source.key, targets=tuple(tm.targets),
                            estimated_rows=counts.get(tm.source.table.lower()))
            for tm in spec.tables)
        plans.append(StagePlan(
            position=position, stage=spec.stage, title=spec.title, file=spec.file,
            depends_on=tuple(spec.depends_on), dataset=spec.dataset,
            seeds=tuple(s.target for s in spec.seeds), tables=tables, target_tables=_targets(spec),
            action=action, reason=reason))
    return Plan(stages=tuple(plans), source=source, missing_source_tables=tuple(missing_source_tables),
                mapping_hash=mapping_hash)
