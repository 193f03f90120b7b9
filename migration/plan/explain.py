"""Describe a plan without doing any of it: rows for a table, lines for a log, a dict for JSON."""

from __future__ import annotations

from typing import Any

from migration.plan.stages import Plan, StagePlan

PLAN_COLUMNS = ("#", "stage", "legacy → target", "depends on", "source rows", "action")


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
            "blocked": "cannot run"}[stage.action]
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
                    _rows(s.estimated_rows) if s.tables else "—", s.action_text))
    return out


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan for machines (``plan --json``); keys are stable."""
    return {
        "source": plan.source,
        "mapping_hash": plan.mapping_hash,
        "estimated_rows": plan.estimated_rows,
        "missing_source_tables": list(plan.missing_source_tables),
        "stages": [
            {
                "position": s.position,
                "stage": s.stage,
                "title": s.title,
                "file": s.file,
                "depends_on": list(s.depends_on),
                "dataset": s.dataset,
                "seeds": list(s.seeds),
                "tables": [{"table": t.table, "key": t.key, "targets": list(t.targets),
                            "estimated_rows": t.estimated_rows} for t in s.tables],
                "target_tables": list(s.target_tables),
                "estimated_rows": s.estimated_rows,
                "action": s.action,
                "reason": s.reason,
            }
            for s in plan.stages
        ],
    }
