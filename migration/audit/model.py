"""What a profile is: the data :func:`migration.audit.profile.profile` returns, with its
estimate and its JSON document (``schema_version`` 1, keys documented in runbooks/profile.md).

A module of its own so that the profiler, the estimator and the renderers all depend on it
and not on each other (they formed two import cycles: profile ↔ render ↔ estimate)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from migration.audit.predict import TablePrediction
from migration.audit.stats import ColumnStats
from migration.version import __version__

#: value classes shown per column and outcome
TOP_CLASSES = 8


@dataclass
class StageEstimate:
    rows: int
    rows_to_load: int
    seconds: float
    rows_per_second: float
    basis: str                  # where the throughput comes from
    target_bytes: int
    size_basis: str



SCHEMA_VERSION = 1


@dataclass
class TableProfile:
    stage: str
    table: str
    rows: int
    seconds: float
    columns: list[ColumnStats]
    prediction: TablePrediction
    unmapped_columns: list[str] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)     # personal_data.drop: never read
    watermark: dict[str, Any] | None = None
    workers: int = 1                 # processes that evaluated the reference


@dataclass
class StageProfile:
    stage: str
    title: str
    tables: list[TableProfile]
    dataset: str | None = None
    estimate: StageEstimate | None = None

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def outcomes(self) -> Counter[tuple[str, str | None]]:
        c: Counter[tuple[str, str | None]] = Counter()
        for t in self.tables:
            c.update(t.prediction.outcomes)
        return c

    def flags(self) -> Counter[tuple[str, str]]:
        c: Counter[tuple[str, str]] = Counter()
        for t in self.tables:
            c.update(t.prediction.flags)
        return c


@dataclass
class BatchMismatch:
    batch_id: str
    claimed: int | None
    rows: int


@dataclass
class ProfileResult:
    source: str
    generated_at: datetime
    seconds: float
    stages: list[StageProfile]
    sample: int | None
    batch_mismatches: list[BatchMismatch] = field(default_factory=list)
    batches_checked: int = 0
    notes: list[str] = field(default_factory=list)

    def prediction_counts(self) -> dict[str, dict[str, int]]:
        """stage → "disposition:REASON" → rows (``load`` without a reason), for tests and the JSON."""
        out: dict[str, dict[str, int]] = {}
        for s in self.stages:
            out[s.stage] = {(d if r is None else f"{d}:{r}"): n for (d, r), n in sorted(
                s.outcomes().items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))}
        return out

    def to_dict(self) -> dict[str, Any]:
        return profile_dict(self)


def total_target_bytes(stages: list[StageProfile]) -> int:
    return sum(s.estimate.target_bytes for s in stages if s.estimate is not None)



def _reason_rows(p: TablePrediction) -> list[dict[str, Any]]:
    out = []
    for (d, r), n in sorted(p.outcomes.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        entry: dict[str, Any] = {"disposition": d, "reason": r, "rows": n}
        kind = d
        classes = p.classes.get((kind, r or ""), {})
        entry["value_classes"] = _classes(classes)
        out.append(entry)
    return out


def _classes(classes: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for col, tally in classes.items():
        for shape, n in tally.summary.top(TOP_CLASSES):
            out.append({"column": col, "shape": shape, "rows": n, "examples": tally.examples.get(shape, [])})
    return sorted(out, key=lambda x: -x["rows"])


def _stage_dict(s: StageProfile) -> dict[str, Any]:
    est = s.estimate
    return {
        "stage": s.stage, "title": s.title, "dataset": s.dataset, "rows": s.rows,
        "predicted": {(d if r is None else f"{d}:{r}"): n for (d, r), n in sorted(
            s.outcomes().items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))},
        "flags": [{"table": t, "flag": f, "rows": n} for (t, f), n in sorted(s.flags().items())],
        "estimate": None if est is None else {
            "rows": est.rows, "rows_to_load": est.rows_to_load, "seconds": round(est.seconds, 1),
            "rows_per_second": round(est.rows_per_second), "basis": est.basis,
            "target_bytes": est.target_bytes, "size_basis": est.size_basis},
        "tables": [{
            "table": t.table, "rows": t.rows, "seconds": round(t.seconds, 2), "workers": t.workers,
            "not_read": t.not_read, "unmapped_columns": t.unmapped_columns,
            "columns": [c.to_dict() for c in t.columns],
            "predictions": _reason_rows(t.prediction),
            "flags": [{"table": tt, "flag": f, "rows": n,
                       "value_classes": _classes(t.prediction.classes.get(("flag", f), {}))}
                      for (tt, f), n in sorted(t.prediction.flags.items())],
            "duplicates": None if t.prediction.duplicates is None else vars(t.prediction.duplicates),
            "relations": [vars(r) for r in t.prediction.relations.values()],
            "watermark": t.watermark,
        } for t in s.tables],
    }


def profile_dict(r: ProfileResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION, "package_version": __version__, "kind": "safestats-profile",
        "source": r.source, "generated_at": r.generated_at.isoformat(), "seconds": round(r.seconds, 2),
        "sample": r.sample, "notes": r.notes,
        "stages": [_stage_dict(s) for s in r.stages],
        "batches": {"checked": r.batches_checked,
                    "row_count_disagrees": [vars(m) for m in r.batch_mismatches]},
        "estimate": {"seconds": round(sum(s.estimate.seconds for s in r.stages if s.estimate), 1),
                     "target_bytes": total_target_bytes(r.stages)},
    }
