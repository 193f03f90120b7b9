"""Describe a plan without doing any of it: rows for a table, lines for a log, a dict for JSON."""

from __future__ import annotations

from typing import Any

from migration.plan.stages import Plan, StagePlan

PLAN_COLUMNS = ("#", "stage", "legacy → target", "depends on", "source rows", "state", "action")
#: the version of :func:`plan_to_dict`'s document
SCHEMA_VERSION = 1


def _rows(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def describe_stage(stage: StagePlan) -> str:
    """One sentence: what ``run`` would do with this stage."""
    parts: list[str] = []
    if stage.seeds:
        parts.append(f"seed {', '.join(stage.seeds)} from the reference files")
    for t in stage.tables:
        rows = "" if t.estimated_rows is None else f" ({t.estimated_rows:,} rows)"
        parts.append(f"{t.table}{rows} → {', '.join(t.targets)}")
    what = "; ".join(parts) or "nothing to load"
    verb = {"load": "would load", "resume": "would resume", "skip": "would skip",
            "blocked": "cannot run", "reconcile": "would reconcile", "delta": "would bring up to date",
            "rollback": "would undo"}[stage.action]
    why = f" ({stage.reason})" if stage.reason else ""
    return f"{stage.position}. {stage.stage} — {stage.title}: {verb}{why}: {what}"


def explain(plan: Plan) -> list[str]:
    """Every stage in one sentence, then the summary."""
    return [describe_stage(s) for s in plan.stages] + summary_lines(plan)


def summary_lines(plan: Plan) -> list[str]:
    lines: list[str] = []
    total = plan.estimated_rows
    writing = [s.stage for s in plan.stages if s.writes]
    summary = f"{len(writing)} of {len(plan.stages)} stage(s) would write"
    if not plan.target_read:
        summary += "; no target read: every stage is shown as fresh"
    if plan.source:
        summary += f"; {_rows(total)} source rows in all (from {plan.source})"
    lines.append(summary)
    if plan.missing_source_tables:
        lines.append(f"not in the source database: {', '.join(plan.missing_source_tables)} "
                     "(run `safestats-migrate mappings validate` to see the drift)")
    return lines


def plan_rows(plan: Plan) -> list[tuple[str, ...]]:
    """Rows under :data:`PLAN_COLUMNS`."""
    out: list[tuple[str, ...]] = []
    for s in plan.stages:
        flows = [f"seed → {t}" for t in s.seeds] + [f"{t.table} → {', '.join(t.targets)}" for t in s.tables]
        out.append((str(s.position), s.stage, "\n".join(flows), ", ".join(s.depends_on) or "—",
                    _rows(s.estimated_rows) if s.tables else "—", s.state, s.action_text))
    return out


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan for machines (``plan --json`` and ``run --dry-run --json`` print this same
    document); keys are stable, ``schema_version`` changes when they do."""
    return {
        "schema_version": SCHEMA_VERSION,
        "stages": [
            {
                "stage": s.stage,
                "state": s.state,
                "action": s.action,
                "reason": s.reason,
                "depends_on": list(s.depends_on),
                "estimate": s.estimated_rows,
                **({"undo_runs": list(s.undo_runs)} if plan.mode == "rollback" else {}),
            }
            for s in plan.stages
        ],
    }
