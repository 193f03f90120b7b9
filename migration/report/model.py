"""The report as data: what QA signs off, before it is rendered as HTML, JSON or Markdown.

Every text in these objects has already been through :func:`migration.secrets.scrub`
(the builder does it once, the renderers trust it); values read from check details are
also masked by column name (see :mod:`migration.report.details`).  Nothing here holds a
row's payload: accounting, reasons, field names, check summaries, and the before/after
values the checks chose to keep (masked by the checks themselves on sensitive columns).

:meth:`Report.to_dict` is the JSON form; its keys are documented in ``runbooks/report.md``
and only ever grow (``format_version`` changes if one is renamed or removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

#: version of the JSON layout (``Report.to_dict``); bump when a key or a value's vocabulary is
#: renamed or removed (2: the verdicts are the migration's: PASS, PASS_WITH_ACCEPTED, FAIL,
#: INCOMPLETE, and every planned stage is listed)
FORMAT_VERSION = 2

CHECK_STATUSES = ("pass", "warn", "fail", "error")

PASS = "PASS"
PASS_WITH_ACCEPTED = "PASS_WITH_ACCEPTED"
FAIL = "FAIL"
INCOMPLETE = "INCOMPLETE"
#: the verdicts (of the report and of each stage), best first — those of
#: :mod:`migration.ledger.verdict`, which decides them for a report of the whole target
VERDICTS = (PASS, PASS_WITH_ACCEPTED, INCOMPLETE, FAIL)


def verdict_label(status: str) -> str:
    """``PASS_WITH_ACCEPTED`` → ``PASS WITH ACCEPTED`` (the token is for machines)."""
    return status.replace("_", " ")


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@dataclass(frozen=True)
class Acceptance:
    """A failed stage explicitly accepted (``stage_accepted`` event): who, when and why."""

    by: str
    at: datetime
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "at": iso(self.at), "reason": self.reason}


@dataclass(frozen=True)
class CheckRow:
    """The latest result of one check of one stage (``ledger.check_result``)."""

    result_id: int
    run_id: int
    stage: str
    check: str
    status: str             # pass | warn | fail | error
    summary: str
    at: datetime
    accepted: Acceptance | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")

    def to_dict(self) -> dict[str, Any]:
        return {"result_id": self.result_id, "run_id": self.run_id, "stage": self.stage, "check": self.check,
                "status": self.status, "summary": self.summary, "at": iso(self.at),
                "accepted": self.accepted.to_dict() if self.accepted else None}


@dataclass(frozen=True)
class AccountingRow:
    """One table of one run: read = loaded + unchanged + merged + quarantined + filtered."""

    run_id: int
    stage: str
    source_table: str
    read: int
    loaded: int
    unchanged: int
    merged: int
    quarantined: int
    filtered: int

    @property
    def accounted(self) -> int:
        return self.loaded + self.unchanged + self.merged + self.quarantined + self.filtered

    @property
    def difference(self) -> int:
        """read − accounted: positive when rows were lost, negative when rows were doubled."""
        return self.read - self.accounted

    @property
    def balanced(self) -> bool:
        return self.difference == 0

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "stage": self.stage, "source_table": self.source_table,
                "read": self.read, "loaded": self.loaded, "unchanged": self.unchanged, "merged": self.merged,
                "quarantined": self.quarantined, "filtered": self.filtered, "accounted": self.accounted,
                "difference": self.difference, "balanced": self.balanced}


@dataclass(frozen=True)
class QuarantineRow:
    """Quarantined rows of one stage, table and reason (keys and field names only, never payload)."""

    stage: str
    source_table: str
    reason: str
    rows: int
    open_rows: int          # neither redriven nor rolled back
    fields: tuple[str, ...]
    runs: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "source_table": self.source_table, "reason": self.reason,
                "rows": self.rows, "open_rows": self.open_rows, "fields": list(self.fields),
                "runs": list(self.runs)}


@dataclass(frozen=True)
class Difference:
    """One differing key found by a check: a changed column, or a key missing/extra/duplicated."""

    stage: str
    check: str
    kind: str               # changed | missing | extra | duplicate | bucket | other
    key: str                # the business key (or, for a control-total bucket, the bucket)
    table: str | None = None
    column: str | None = None  # the differing column (or, for a bucket, the measure)
    before: str | None = None  # source side (expected), masked
    after: str | None = None   # target side (actual), masked
    source_key: str | None = None  # the legacy row's own key, when the check names it

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "check": self.check, "kind": self.kind, "table": self.table,
                "key": self.key, "source_key": self.source_key, "column": self.column, "before": self.before,
                "after": self.after}


@dataclass(frozen=True)
class Series:
    name: str               # "source" | "target" | …
    values: tuple[int | None, ...]


@dataclass(frozen=True)
class Chart:
    """Counts per bucket (month, borough, dataset), one series per side."""

    chart_id: str
    stage: str | None
    dimension: str          # month | borough | dataset
    title: str
    origin: str             # where the numbers come from, in words
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    note: str = ""

    @property
    def differing(self) -> tuple[str, ...]:
        """Categories whose series disagree (only when there are at least two series)."""
        if len(self.series) < 2:
            return ()
        return tuple(c for i, c in enumerate(self.categories)
                     if len({s.values[i] for s in self.series}) > 1)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.chart_id, "stage": self.stage, "dimension": self.dimension, "title": self.title,
                "origin": self.origin, "note": self.note, "categories": list(self.categories),
                "series": [{"name": s.name, "values": list(s.values)} for s in self.series],
                "differing": list(self.differing)}


@dataclass(frozen=True)
class DetailTable:
    """A list of similar objects in a check's detail (expectation results, tolerated differences…)."""

    path: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    truncated: int = 0      # rows left out


@dataclass(frozen=True)
class CheckDetail:
    """A check's detail JSON, flattened for people (what the renderers do not draw otherwise)."""

    stage: str
    check: str
    result_id: int
    items: tuple[tuple[str, str], ...]   # (dotted path, value as text), scrubbed and masked
    truncated: int = 0                   # items left out to keep the report readable
    tables: tuple[DetailTable, ...] = ()  # lists of objects (expectation results…) as tables

    @property
    def size(self) -> int:
        return len(self.items) + self.truncated + sum(len(t.rows) + t.truncated for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "check": self.check, "result_id": self.result_id,
                "items": [{"path": p, "value": v} for p, v in self.items], "truncated": self.truncated,
                "tables": [{"path": t.path, "columns": list(t.columns), "rows": [list(r) for r in t.rows],
                            "truncated": t.truncated} for t in self.tables]}


@dataclass(frozen=True)
class StageSummary:
    """One stage: its ledger state, the load run reported on, its totals and its verdict."""

    stage: str
    state: str              # ledger stage state (not_started, loaded, reconciled, check_failed, …)
    load_run_id: int | None  # the latest run that wrote the stage's data (full, delta or redrive)
    loaded_at: datetime | None
    tables: tuple[str, ...]
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    checks: dict[str, int]  # status → number of checks
    verdict: str            # PASS | PASS_WITH_ACCEPTED | INCOMPLETE | FAIL
    reasons: tuple[str, ...]
    accepted: Acceptance | None = None
    runs: tuple[int, ...] = ()  # runs whose accounting is reported: the full load, then its deltas
    #: the stage's state for the migration's verdict (reconciled, stale, not_started, …; see
    #: migration.ledger.verdict), empty in a report of one run
    verdict_state: str = ""
    planned: bool = True    # in the mapping set (a stage only the ledger knows is listed, not counted)

    @property
    def live(self) -> bool:
        """Something of the stage is in the target (not only rolled back or never loaded)."""
        return bool(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "state": self.state, "verdict_state": self.verdict_state,
                "planned": self.planned, "load_run_id": self.load_run_id, "runs": list(self.runs),
                "loaded_at": iso(self.loaded_at), "tables": list(self.tables), "rows_read": self.rows_read,
                "rows_loaded": self.rows_loaded, "rows_quarantined": self.rows_quarantined,
                "checks": {s: self.checks.get(s, 0) for s in CHECK_STATUSES}, "verdict": self.verdict,
                "reasons": list(self.reasons), "accepted": self.accepted.to_dict() if self.accepted else None}


@dataclass(frozen=True)
class Verdict:
    status: str             # PASS | PASS_WITH_ACCEPTED | INCOMPLETE | FAIL
    reasons: tuple[str, ...]
    summary: str = ""       # "INCOMPLETE: 5 of 10 stages reconciled; mps_crime failed, 4 not started"
    planned: int = 0        # stages of the plan (mapping set)
    reconciled: int = 0     # of them reconciled (accepted failures included)

    @property
    def label(self) -> str:
        return verdict_label(self.status)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "label": self.label, "summary": self.summary, "planned": self.planned,
                "reconciled": self.reconciled, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Scope:
    """What the report covers: one run, or the latest load run of every stage."""

    run_id: int | None
    run_kind: str | None
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "run_kind": self.run_kind, "description": self.description}


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    target: str             # the target URL, password hidden
    package_version: str
    scope: Scope
    verdict: Verdict
    stages: tuple[StageSummary, ...]
    checks: tuple[CheckRow, ...]
    accounting: tuple[AccountingRow, ...]
    quarantine: tuple[QuarantineRow, ...]
    differences: tuple[Difference, ...]
    #: "stage/check" → {"found": differences the check found, "listed": how many it kept in its detail}
    difference_counts: dict[str, dict[str, int]]
    charts: tuple[Chart, ...]
    details: tuple[CheckDetail, ...]
    notes: tuple[str, ...] = field(default=())
    #: rows loaded under their legacy key (blank business key), per stage and batch status
    blank_keys: tuple[BlankKeyRow, ...] = field(default=())
    #: provenance, coverage and exclusions (migration.report.signoff); None for a target never loaded
    signoff: SignoffPack | None = None
    #: the ledger's digest chain when the report was built: (last seal id, its digest); None before
    #: the first seal (``report verify`` checks a report's head is a link of the chain)
    ledger_head: tuple[int, str] | None = None

    @property
    def empty(self) -> bool:
        """Nothing loaded and nothing checked: the target is fresh."""
        return all(s.state == "not_started" and not any(s.checks.values()) for s in self.stages)

    def totals(self) -> dict[str, Any]:
        checks = {s: sum(1 for c in self.checks if c.status == s) for s in CHECK_STATUSES}
        return {
            "stages": len(self.stages),
            "stages_planned": self.verdict.planned,
            "stages_reconciled": self.verdict.reconciled,
            "checks": checks,
            "rows_read": sum(a.read for a in self.accounting),
            "rows_loaded": sum(a.loaded for a in self.accounting),
            "rows_unchanged": sum(a.unchanged for a in self.accounting),
            "rows_merged": sum(a.merged for a in self.accounting),
            "rows_quarantined": sum(a.quarantined for a in self.accounting),
            "rows_filtered": sum(a.filtered for a in self.accounting),
            "unbalanced_tables": sum(1 for a in self.accounting if not a.balanced),
            "differences": sum(c["found"] for c in self.difference_counts.values()),
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (keys documented in runbooks/report.md, order stable)."""
        return {
            "format_version": FORMAT_VERSION,
            "generated_at": iso(self.generated_at),
            "package_version": self.package_version,
            "target": self.target,
            "scope": self.scope.to_dict(),
            "empty": self.empty,
            "verdict": self.verdict.to_dict(),
            "totals": self.totals(),
            "stages": [s.to_dict() for s in self.stages],
            "checks": [c.to_dict() for c in self.checks],
            "accounting": [a.to_dict() for a in self.accounting],
            "quarantine": [q.to_dict() for q in self.quarantine],
            "differences": [d.to_dict() for d in self.differences],
            "difference_counts": {k: dict(v) for k, v in self.difference_counts.items()},
            "charts": [c.to_dict() for c in self.charts],
            "check_details": [d.to_dict() for d in self.details],
            "notes": list(self.notes),
            "blank_keys": [b.to_dict() for b in self.blank_keys],
            **(self.signoff.to_dict() if self.signoff else {"provenance": None, "coverage": None,
                                                              "exclusions": None, "signoff": None}),
            "ledger_head": ({"seal_id": self.ledger_head[0], "digest": self.ledger_head[1]}
                            if self.ledger_head else None),
        }


# the report's "Blank business keys" section lives in its own module
from migration.report.blank_keys import BlankKeyRow  # noqa: E402

if TYPE_CHECKING:  # signoff imports this module; the annotation is enough here
    from migration.report.signoff import SignoffPack
