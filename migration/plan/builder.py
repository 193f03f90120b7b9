"""Build a :class:`~migration.plan.stages.Plan` from specs and plain data; no side effects.

This is the one place that decides what a run does with each stage; the executor
(:mod:`migration.plan.execute`) only carries the plan out and ``plan`` / ``run --dry-run``
only describe it.  The order is :func:`migration.mapping.order.stage_order` (the only one).

Rules (``mode="load"``, what ``run`` does):

- a loaded stage (reconciled, accepted) is skipped; one loaded but never reconciled (its gate
  was stopped, or it ran with the gate off) is reconciled when the gate is on;
- a stage whose run stopped (running, failed) is resumed from its last committed chunk,
  unless the mapping files changed since that run started (blocked: roll it back);
- a stage whose checks failed is blocked until it is reconciled again, rolled back or accepted;
- a stage that is not selected is skipped;
- a stage to load whose dependency is neither loaded nor loaded before it in this plan is
  blocked (a dependency whose checks failed says so).

``mode="delta"`` / ``"redrive"`` (``run --delta`` / ``--redrive-quarantine``): a loaded,
selected stage gets ``delta``; one that is not loaded is skipped (blocked when it was
named on its own: there is nothing to bring up to date).

:func:`build_rollback_plan` (``rollback``): the stages in reverse load order, ``rollback``
with the runs to undo newest first, a stage whose loaded dependants would be orphaned
blocked unless they are undone first (``--cascade``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from migration.errors import UnknownNameError
from migration.mapping.order import stage_order
from migration.mapping.spec import StageSpec
from migration.plan.stages import Action, Plan, PlanError, SourceTablePlan, StagePlan, StageStatus

__all__ = ["build_plan", "build_rollback_plan", "dependants", "stage_order"]


def _targets(spec: StageSpec) -> tuple[str, ...]:
    out: list[str] = [s.target for s in spec.seeds if s.load == "before_tables"]
    for tm in spec.tables:
        out += list(tm.targets)
    out += [s.target for s in spec.seeds if s.load == "after_tables"]
    return tuple(dict.fromkeys(out))


_Decision = tuple[Action, str, str]   # action, reason, hint


def _decide(spec: StageSpec, st: StageStatus | None, mapping_hash: str | None, gate: bool = True) -> _Decision:
    stage = spec.stage
    if st is not None and st.done:
        reason = f"loaded by run {st.run_id}" if st.run_id is not None else "loaded"
        if mapping_hash and st.mapping_hash and st.mapping_hash != mapping_hash:
            reason += "; the mapping files changed since: roll the stage back to load it with them"
        elif gate and st.state == "loaded" and st.run_id is not None:
            # loaded, never checked (its gate was stopped, or ran with --no-reconcile): green means checked
            return "reconcile", reason + ", not reconciled yet", ""
        return "skip", reason, ""
    if st is not None and st.unfinished:
        run = f"run {st.run_id}"
        if mapping_hash and st.mapping_hash and st.mapping_hash != mapping_hash:
            return "blocked", (f"{run} ({st.state}) was started with other mapping files: roll the stage "
                               "back first, two rule sets must not mix"), \
                f"roll the stage back (`safestats-migrate rollback {stage}`) and load it again"
        return "resume", f"{run} ({st.state}) from its last committed chunk", ""
    if st is not None and st.state == "check_failed":
        return "blocked", f"{stage} failed its reconciliation checks", (
            f"fix and `safestats-migrate reconcile {stage}`, roll it back, or accept it "
            f"(`safestats-migrate reconcile accept {stage} --reason \"…\"`)")
    if st is not None and st.state == "rolled_back":
        return "load", "rolled back before", ""
    return "load", "", ""


def _decide_delta(spec: StageSpec, st: StageStatus | None, named: bool) -> _Decision:
    state = st.state if st is not None else "not_started"
    if st is not None and st.done and st.run_id is not None:
        return "delta", f"bring the load of run {st.run_id} up to date with the legacy", ""
    if named:
        return "blocked", f"{spec.stage} is not loaded (state {state}): nothing to bring up to date", \
            f"run `safestats-migrate run {spec.stage}` first"
    return "skip", f"not loaded ({state})", ""


def build_plan(specs: Iterable[StageSpec], *, source_counts: Mapping[str, int] | None = None,
               stage_status: Iterable[StageStatus] | Mapping[str, StageStatus] | None = None,
               only: Iterable[str] | None = None, source: str | None = None,
               missing_source_tables: Iterable[str] = (), mapping_hash: str | None = None,
               mode: str = "load", target_read: bool = True, gate: bool = True) -> Plan:
    """The stages in run order, with what ``run`` would do with each.

    ``source_counts``: legacy table → rows (matched case-insensitively); ``stage_status``:
    the ledger's view of each stage (a stage without one is fresh); ``only``: run just
    these stages (the others are skipped, and a selected stage whose dependency is neither
    loaded nor selected is blocked); ``mapping_hash``: the hash of the mapping files now,
    compared with the one each run was started with; ``mode``: load, delta or redrive.
    """
    if mode not in ("load", "delta", "redrive"):
        raise PlanError(f"unknown plan mode {mode!r}", hint="use load, delta or redrive")
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
        raise UnknownNameError(f"unknown stage(s): {', '.join(unknown)}", hint=f"stages are: {', '.join(names)}")

    plans: list[StagePlan] = []
    decided: dict[str, Action] = {}
    for position, spec in enumerate(ordered, start=1):
        st = status.get(spec.stage)
        if mode == "load":
            action, reason, hint = _decide(spec, st, mapping_hash, gate)
        else:
            action, reason, hint = _decide_delta(spec, st, named=only is not None)
        if spec.stage not in selected and action != "skip":
            action, reason, hint = "skip", "not selected", ""
        if action in ("load", "resume"):
            # a dependency is there when it is loaded already, or loads before this stage
            waits = [d for d in spec.depends_on
                     if not (d in status and status[d].done) and decided.get(d) not in ("load", "resume")]
            if waits:
                failed = [d for d in waits if d in status and status[d].state == "check_failed"]
                if failed:
                    action, reason = "blocked", f"{', '.join(failed)} failed its reconciliation checks"
                    hint = (f"fix and `safestats-migrate reconcile {failed[0]}`, roll it back, or accept it "
                            f"(`safestats-migrate reconcile accept {failed[0]} --reason \"…\"`)")
                else:
                    action, reason = "blocked", f"waits for {', '.join(waits)}"
                    hint = f"run `safestats-migrate run {' '.join(waits)}` first (or `run --all`)"
        decided[spec.stage] = action
        tables = tuple(
            SourceTablePlan(table=tm.source.table, key=tm.source.key, targets=tuple(tm.targets),
                            estimated_rows=counts.get(tm.source.table.lower()))
            for tm in spec.tables)
        plans.append(StagePlan(
            position=position, stage=spec.stage, title=spec.title, file=spec.file,
            depends_on=tuple(spec.depends_on), dataset=spec.dataset,
            seeds=tuple(s.target for s in spec.seeds), tables=tables, target_tables=_targets(spec),
            action=action, reason=reason, state=st.word if st is not None else "fresh", hint=hint,
            run_id=st.run_id if st is not None and action in ("resume", "delta", "reconcile") else None,
            selected=spec.stage in selected))
    return Plan(stages=tuple(plans), source=source, missing_source_tables=tuple(missing_source_tables),
                mapping_hash=mapping_hash, mode=mode, target_read=target_read, gate=gate)


def build_rollback_plan(specs: Iterable[StageSpec], groups: Mapping[str, Sequence[int]], *,
                        stage: str | None, run_id: int | None = None, cascade: bool = False) -> Plan:
    """What ``rollback`` undoes: the stages in reverse load order, each with the runs to undo.

    ``groups``: every stage's runs not undone yet (group ids, oldest first — the ledger's
    :func:`~migration.ledger.history.active_runs`); ``stage`` None: every run of every stage
    (``rollback --all``).  For one stage: ``run_id`` (a group id) and the later runs, newest
    first; its dependants matter only when its first load would be undone (the stage would
    be left unloaded): without ``cascade`` a loaded dependant blocks it, with it they are
    undone first, every run of each."""
    ordered = stage_order(specs)
    names = [s.stage for s in ordered]
    if stage is not None and stage not in names:
        raise UnknownNameError(f"unknown stage {stage}", hint=f"stages are: {', '.join(names)}")
    runs = {name: list(groups.get(name, ())) for name in names}
    undo: dict[str, list[int]] = {}
    blocked: tuple[str, str] | None = None
    if stage is None:
        undo = {n: list(reversed(r)) for n, r in runs.items() if r}
    elif runs[stage]:
        target = run_id if run_id is not None else runs[stage][-1]
        undo[stage] = sorted((r for r in runs[stage] if r >= target), reverse=True)
        live = sorted((d for d in dependants(list(ordered), stage) if runs.get(d)),
                      key=names.index) if target == runs[stage][0] else []
        if live and not cascade:
            blocked = (f"{', '.join(live)} loaded later and depend on it",
                       "roll those back first, or add --cascade to undo them too")
            undo = {}
        for d in live if cascade else []:
            undo[d] = list(reversed(runs[d]))
    plans: list[StagePlan] = []
    for position, spec in enumerate(reversed(ordered), start=1):
        name = spec.stage
        selected = stage is None or name == stage or name in undo
        action: Action
        if blocked is not None and name == stage:
            action, reason, hint = "blocked", blocked[0], blocked[1]
        elif name in undo:
            action, hint = "rollback", ""
            reason = f"undo run{'s' if len(undo[name]) > 1 else ''} {', '.join(map(str, undo[name]))}"
            if stage is not None and name != stage:
                reason += f" (depends on {stage})"
        else:
            action, reason, hint = "skip", "nothing loaded" if selected else "not selected", ""
        plans.append(StagePlan(
            position=position, stage=name, title=spec.title, file=spec.file, depends_on=tuple(spec.depends_on),
            dataset=spec.dataset, seeds=tuple(s.target for s in spec.seeds), tables=(),
            target_tables=_targets(spec), action=action, reason=reason, state="loaded" if runs[name] else "fresh",
            hint=hint, selected=selected, undo_runs=tuple(undo.get(name, ()))))
    return Plan(stages=tuple(plans), mode="rollback")


def dependants(specs: list[StageSpec], stage: str) -> list[str]:
    """Stages that depend on ``stage``, directly or not, nearest last."""
    out: list[str] = []

    def visit(name: str) -> None:
        for s in specs:
            if name in s.depends_on and s.stage not in out:
                visit(s.stage)
                out.append(s.stage)

    visit(stage)
    return out
