"""The check files: ``checks/<stage>.yaml``, one per stage, as typed frozen models.

A check file declares what reconciliation proves about a stage beyond what it always
proves (accounting, key sets and row hashes of every table the stage writes)::

    stage: mps_crime
    sensitive: {core.police_crime: [location_text]}    # never shown, only "differs"
    samples: 50                                          # differing keys kept per check
    control_totals:
      - name: incidents_by_borough_month
        table: core.incident
        by: [gss_code, month(occurred_at)]               # month() is in Europe/London
        measures: [count, min(occurred_at), max(occurred_at), count(geom)]
        tolerances:                                      # exact unless declared, with a reason
          - {measure: count, abs: 2, reason: "…"}
    quarantine_rate:
      default: {warn: 0.005, fail: 0.02}                 # share of the rows read, per reason
      reasons: {IMPOSSIBLE_DATE: {warn: 0.002, fail: 0.01}}
    leaks:
      passwords: true                                    # no text value equals a legacy password
      patient_identifiers: [istv.ed_assault.location_text_clean]
    expectations:                                        # Great Expectations suites on the target
      - name: mps_incidents
        table: core.incident
        where: "dataset = 'MPS'"
        expect:
          - not_null: [source_ref, occurred_precision]
          - in_set: {column: agency_code, values: [MPS, COLP]}
          - unique: [dataset, source_ref]
          - rows: {name: grid_inside_london, sql: "SELECT … FROM {batch} WHERE …"}

Loading collects *every* problem of every file, each with file, line and field path,
exactly like the mapping loader (unknown keys are errors), then the references are
checked against the stage's mapping and the target model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from migration.errors import EXIT_FAILED, SafeStatsError
from migration.mapping.loader import LoadedYaml, parse_model, yaml_files

MEASURE = re.compile(r"^(count|count\((?P<c1>[A-Za-z_.]+)\)|count_true\((?P<c2>[A-Za-z_.]+)\)|"
                     r"sum\((?P<c3>[A-Za-z_.]+)\)|min\((?P<c4>[A-Za-z_.]+)\)|max\((?P<c5>[A-Za-z_.]+)\))$")
BUCKET = re.compile(r"^(month\((?P<m>[A-Za-z_.]+)\)|(?P<c>[A-Za-z_.]+))$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ToleranceSpec(_Strict):
    measure: str = Field(description="one of the control total's measures, e.g. sum(notional_cost)")
    abs: int = Field(ge=0, description="allowed absolute difference: rows, units (money in 10000ths) or seconds")
    reason: str = Field(min_length=10, description="why a difference is acceptable (shown with every result)")


class ControlTotalSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    table: str = Field(description="a target table the stage writes (schema.table)")
    by: list[str] = Field(default_factory=list,
                          description="bucket columns: column, parent.column, or month(column) in Europe/London")
    measures: list[str] = Field(description="count, count(c), count_true(c), sum(c), min(c), max(c)")
    tolerances: list[ToleranceSpec] = Field(default_factory=list)
    comment: str | None = None

    @field_validator("by")
    @classmethod
    def _buckets(cls, v: list[str]) -> list[str]:
        for b in v:
            if not BUCKET.match(b):
                raise ValueError(f"'{b}' is not a bucket: use column, parent.column or month(column)")
        return v

    @field_validator("measures")
    @classmethod
    def _measures(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one measure")
        for m in v:
            if not MEASURE.match(m):
                raise ValueError(f"'{m}' is not a measure: count, count(c), count_true(c), sum(c), min(c), max(c)")
        return v

    @model_validator(mode="after")
    def _tolerances(self) -> ControlTotalSpec:
        for t in self.tolerances:
            if t.measure not in self.measures:
                raise ValueError(f"tolerance for '{t.measure}', which is not among the measures")
        return self


class RateSpec(_Strict):
    warn: float = Field(ge=0, le=1, description="share of rows read above which the result is a warning")
    fail: float = Field(ge=0, le=1, description="share of rows read above which the check fails")
    min_rows: int = Field(default=10, ge=0, description=(
        "a reason with fewer quarantined rows than this never warns (on a small table a handful of "
        "rows is a large share: 3 of 250 rows is 1.2%, and says nothing about the feed); the fail "
        "threshold holds whatever the count"))

    @model_validator(mode="after")
    def _order(self) -> RateSpec:
        if self.warn > self.fail:
            raise ValueError("warn must not be above fail")
        return self


class QuarantineRateSpec(_Strict):
    default: RateSpec
    reasons: dict[str, RateSpec] = Field(default_factory=dict)
    comment: str | None = None


class LeakSpec(_Strict):
    passwords: bool = Field(True, description="no text value in the stage's tables equals a legacy password")
    patient_identifiers: list[str] = Field(
        default_factory=list, description="schema.table.column: no NHS number, date, phone, e-mail or full postcode")


class InSetSpec(_Strict):
    column: str
    values: list[Any]


class BetweenSpec(_Strict):
    column: str
    min: Any = None
    max: Any = None


class RowsSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    sql: str = Field(description="SELECT … FROM {batch} …: every row it returns is unexpected")
    columns: list[str] = Field(default_factory=list, description="columns the query reads (for masking)")
    comment: str | None = None


class ExpectationSpec(_Strict):
    """One expectation: exactly one of the forms below."""

    not_null: list[str] | None = None
    in_set: InSetSpec | None = None
    unique: list[str] | None = Field(None, description="one column, or several that are unique together")
    between: BetweenSpec | None = None
    rows: RowsSpec | None = None
    comment: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ExpectationSpec:
        forms = [f for f in ("not_null", "in_set", "unique", "between", "rows") if getattr(self, f) is not None]
        if len(forms) != 1:
            raise ValueError("an expectation is exactly one of not_null, in_set, unique, between, rows")
        return self

    @property
    def form(self) -> str:
        return next(f for f in ("not_null", "in_set", "unique", "between", "rows") if getattr(self, f) is not None)

    @property
    def columns(self) -> list[str]:
        if self.not_null is not None:
            return list(self.not_null)
        if self.in_set is not None:
            return [self.in_set.column]
        if self.unique is not None:
            return list(self.unique)
        if self.between is not None:
            return [self.between.column]
        assert self.rows is not None
        return list(self.rows.columns)


class SuiteSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    table: str
    where: str | None = Field(None, description="SQL condition selecting the stage's rows")
    sensitive: bool = Field(False, description="results as BOOLEAN_ONLY: never any value in the results")
    expect: list[ExpectationSpec]
    comment: str | None = None


class CheckFileSpec(_Strict):
    stage: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    comment: str | None = None
    samples: int = Field(50, ge=1, le=1000, description="differing keys kept (with before/after) per check")
    sensitive: dict[str, list[str]] = Field(default_factory=dict,
                                            description="table → columns whose values are never shown")
    control_totals: list[ControlTotalSpec] = Field(default_factory=list)
    quarantine_rate: QuarantineRateSpec = Field(
        default_factory=lambda: QuarantineRateSpec(default=RateSpec(warn=0.01, fail=0.05)))
    leaks: LeakSpec = Field(default_factory=lambda: LeakSpec(passwords=True))
    expectations: list[SuiteSpec] = Field(default_factory=list)
    file: str = Field("", exclude=True)


@dataclass
class LoadedChecks(LoadedYaml):
    spec: CheckFileSpec | None = None


class CheckFileError(SafeStatsError):
    """One or more check files are invalid; ``problems`` holds every one of them (exit 1, as invalid mappings)."""

    exit_code = EXIT_FAILED

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the check files: " + "; ".join(self.problems[:3])
                         + (" …" if len(self.problems) > 3 else ""),
                         hint="fix the check files (see runbooks/reconcile.md), then run `safestats-migrate "
                              "reconcile` again")


def load_check_file(path: Path) -> LoadedChecks:
    """Parse and type-check one check file; never raises for bad content."""
    lc = LoadedChecks(path=path)
    lc.spec = parse_model(lc, CheckFileSpec, "a check file is a YAML mapping (stage:, control_totals: …)")
    return lc


def check_files(directory: Path) -> list[Path]:
    return yaml_files(directory)


def measure_column(measure: str) -> str | None:
    m = MEASURE.match(measure)
    assert m is not None
    return next((m.group(g) for g in ("c1", "c2", "c3", "c4", "c5") if m.group(g)), None)


def measure_kind(measure: str) -> str:
    return measure.split("(", 1)[0]


def bucket_parts(bucket: str) -> tuple[str, bool]:
    """(column reference, is month())."""
    m = BUCKET.match(bucket)
    assert m is not None
    return (m.group("m"), True) if m.group("m") else (m.group("c"), False)


def load_checks(directory: Path, stages: dict[str, Any]) -> dict[str, CheckFileSpec]:
    """Every check file of ``directory``, validated against the stages' mappings and the model.

    ``stages`` maps stage name → :class:`StageSpec`.  Raises :class:`CheckFileError` with
    every problem of every file."""
    from migration.reconcile.tableplan import build_plans
    from migration.schema import models

    files = check_files(directory)
    problems: list[str] = []
    out: dict[str, CheckFileSpec] = {}
    for path in files:
        lc = load_check_file(path)
        spec = lc.spec
        if spec is not None:
            stage = stages.get(spec.stage)
            if stage is None:
                lc.problem(("stage",), f"unknown stage '{spec.stage}' (stages: {', '.join(sorted(stages))})")
            elif spec.stage in out:
                lc.problem(("stage",), f"stage '{spec.stage}' already has a check file ({out[spec.stage].file})")
            else:
                plans = {p.table: p for p in build_plans(stage)}
                _validate(lc, spec, plans, models)
        problems += [str(p) for p in lc.problems]
        if spec is not None and not lc.problems:
            out[spec.stage] = spec
    if problems:
        raise CheckFileError(problems)
    return out


def _validate(lc: LoadedChecks, spec: CheckFileSpec, plans: dict[str, Any], models: Any) -> None:
    for table, cols in spec.sensitive.items():
        if table not in models.metadata.tables:
            lc.problem(("sensitive", table), f"unknown table '{table}'")
            continue
        for i, c in enumerate(cols):
            if c not in models.table(table).c:
                lc.problem(("sensitive", table, i), f"{table} has no column '{c}'")
    for i, ct in enumerate(spec.control_totals):
        plan = plans.get(ct.table)
        if plan is None:
            lc.problem(("control_totals", i, "table"),
                       f"stage {spec.stage} does not write '{ct.table}' (it writes {', '.join(plans)})")
            continue
        for j, b in enumerate(ct.by):
            ref, _month = bucket_parts(b)
            try:
                plan.column_expr(ref)
            except KeyError as exc:
                lc.problem(("control_totals", i, "by", j), str(exc.args[0]))
        for j, m in enumerate(ct.measures):
            col = measure_column(m)
            if col is None:
                continue
            try:
                _sql, column = plan.column_expr(col)
            except KeyError as exc:
                lc.problem(("control_totals", i, "measures", j), str(exc.args[0]))
                continue
            from migration.reconcile.normalise import kind_of

            kind = kind_of(column)
            mk = measure_kind(m)
            if mk == "sum" and not (kind == "int" or kind.startswith("numeric")):
                lc.problem(("control_totals", i, "measures", j), f"sum() needs a number column; {col} is {kind}")
            if mk == "count_true" and kind != "bool":
                lc.problem(("control_totals", i, "measures", j), f"count_true() needs a boolean column; {col} is {kind}")
            if mk in ("min", "max") and kind not in ("int", "date", "timestamptz", "timestamp") \
                    and not kind.startswith("numeric"):
                lc.problem(("control_totals", i, "measures", j), f"{mk}() needs a number, date or time; {col} is {kind}")
    for j, ref in enumerate(spec.leaks.patient_identifiers):
        parts = ref.rsplit(".", 1)
        if len(parts) != 2 or parts[0] not in models.metadata.tables or parts[1] not in models.table(parts[0]).c:
            lc.problem(("leaks", "patient_identifiers", j), f"'{ref}' is not schema.table.column of the target")
    names = set()
    for i, suite in enumerate(spec.expectations):
        if suite.name in names:
            lc.problem(("expectations", i, "name"), f"two suites are named '{suite.name}'")
        names.add(suite.name)
        if suite.table not in models.metadata.tables:
            lc.problem(("expectations", i, "table"), f"unknown table '{suite.table}'")
            continue
        table = models.table(suite.table)
        for j, e in enumerate(suite.expect):
            for c in e.columns:
                if c not in table.c:
                    lc.problem(("expectations", i, "expect", j), f"{suite.table} has no column '{c}'")
            if e.rows is not None and "{batch}" not in e.rows.sql:
                lc.problem(("expectations", i, "expect", j, "rows", "sql"), "the query must read FROM {batch}")
            elif e.rows is not None and re.search(r"[{}]", e.rows.sql.replace("{batch}", "")):
                lc.problem(("expectations", i, "expect", j, "rows", "sql"),
                           "braces other than {batch} are not allowed (Great Expectations formats the query): "
                           "write [0-9][0-9] instead of [0-9]{2}")
