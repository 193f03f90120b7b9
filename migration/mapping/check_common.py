"""What the checks of the mapping files share: where a problem is (``Loc``), the collector of
problems, what could be read of each file (:class:`_StageInfo`), the model and transform helpers,
and :class:`SetContext` — what a table mapping's checks ask of the whole set's checker."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table

from migration.mapping.loader import LoadedFile, Problem
from migration.mapping.spec import (
    SeedSpec,
    StageSpec,
    TableMappingSpec,
)
from migration.mapping.transforms.base import Transform
from migration.refdata import refdata_dir
from migration.schema import models

Loc = tuple[Any, ...]

#: the reference data shipped with the migration (seeds)
REFDATA_DIR = refdata_dir()

#: the target tables a transform's named ``lookups`` read (ref_lookup names its own table)
LOOKUP_TABLES: dict[str, tuple[str, ...]] = {
    "la_alias": ("ref.la_alias",),
    "ward": ("ref.ward",),
    "offence_category": ("ref.offence_category",),
    "code_value": ("ref.code_value",),
}

#: uses of a legacy column that carry nothing to the target (compatible with not_migrated)
_SOFT_USES = ("delta ", "source key")

#: the column of core.incident that names the dataset a stage owns
_DATASET_TABLE, _DATASET_COLUMN = "core.incident", "dataset"



def suggest(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or ''."""
    cands = [c for c in candidates if isinstance(c, str)]
    by_lower = {c.lower(): c for c in cands}
    if name.lower() in by_lower and by_lower[name.lower()] != name:
        return f" (did you mean '{by_lower[name.lower()]}'?)"
    match = difflib.get_close_matches(name, cands, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""



# --------------------------------------------------------------------------- gathering


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class _StageInfo:
    """What could be read of one file: the spec, or what parts of it are well-formed."""

    lf: LoadedFile
    spec: StageSpec | None
    name: str | None
    depends_on: list[tuple[int, str]]
    dataset: str | None
    tables: list[tuple[int, TableMappingSpec]]
    seeds: list[tuple[int, SeedSpec]]
    #: False when the file could not be read as YAML at all (its stage and tables are unknown)
    readable: bool
    #: target tables named by the parts that are not well-formed (so coverage stays exact)
    other_targets: list[str] = field(default_factory=list)

    @property
    def file(self) -> str:
        return str(self.lf.path)


def _gather(lf: LoadedFile) -> _StageInfo:
    if lf.spec is not None:
        s = lf.spec
        return _StageInfo(lf, s, s.stage, list(enumerate(s.depends_on)), s.dataset,
                          list(enumerate(s.tables)), list(enumerate(s.seeds)), True)
    # The file has problems the loader reported; check the parts that are well-formed so
    # one mistake does not hide the others.
    try:
        raw = yaml.safe_load(lf.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raw = None
    if not isinstance(raw, dict):
        return _StageInfo(lf, None, None, [], None, [], [], False)
    name = raw.get("stage") if isinstance(raw.get("stage"), str) else None
    deps_raw = raw.get("depends_on")
    deps = [(i, d) for i, d in enumerate(deps_raw) if isinstance(d, str)] if isinstance(deps_raw, list) else []
    dataset = raw.get("dataset") if isinstance(raw.get("dataset"), str) else None
    other: list[str] = []
    tables: list[tuple[int, TableMappingSpec]] = []
    tables_raw = raw.get("tables")
    if isinstance(tables_raw, list):
        for i, t in enumerate(tables_raw):
            try:
                tables.append((i, TableMappingSpec.model_validate(t)))
            except ValidationError:
                if isinstance(t, dict) and isinstance(t.get("targets"), dict):
                    other += [str(k) for k in t["targets"]]
    seeds: list[tuple[int, SeedSpec]] = []
    seeds_raw = raw.get("seeds")
    if isinstance(seeds_raw, list):
        for i, s in enumerate(seeds_raw):
            try:
                seeds.append((i, SeedSpec.model_validate(s)))
            except ValidationError:
                if isinstance(s, dict) and isinstance(s.get("target"), str):
                    other.append(s["target"])
    return _StageInfo(lf, None, name, deps, dataset, tables, seeds, True, other)


# --------------------------------------------------------------------------- helpers


def _is_data_table(name: str) -> bool:
    t = models.metadata.tables.get(name)
    return t is not None and t.schema in models.DATA_SCHEMAS


def _exempt_columns(table: Table, link_column: str | None) -> set[str]:
    """Columns nobody maps: the run id, identity keys, and a linked table's link column."""
    out = {"load_run_id"}
    out |= {c.name for c in table.primary_key.columns if c.identity is not None}
    if link_column:
        out.add(link_column)
    return out


def _required_for_insert(table: Table) -> list[str]:
    """Columns an INSERT must give: NOT NULL, no server default, not generated."""
    return [c.name for c in table.columns
            if not c.nullable and c.server_default is None and c.identity is None and c.name != "load_run_id"]


def _params_problems(t: Transform, params: dict[str, Any] | None) -> list[tuple[Loc, str]]:
    """Each parameter problem of a call: (location under the params mapping, message)."""
    try:
        t.parse_params(params)
    except ValidationError as exc:
        out: list[tuple[Loc, str]] = []
        known = list(t.params_model.model_fields)
        for err in exc.errors():
            loc = tuple(err["loc"])
            pname = ".".join(str(p) for p in loc) if loc else ""
            if err["type"] == "extra_forbidden":
                hint = f"; it takes {', '.join(known)}" if known else "; it takes no parameters"
                msg = f"transform '{t.name}' has no parameter '{pname}'{suggest(str(loc[-1]), known)}{hint}"
            elif err["type"] == "missing":
                msg = f"transform '{t.name}' needs the parameter '{pname}'"
            else:
                msg = f"transform '{t.name}', parameter '{pname}': {err['msg'].removeprefix('Value error, ')}"
            out.append((loc, msg))
        return out
    return []


def can_reject(t: Transform, params: BaseModel | None) -> bool:
    """Whether a call can reject a row: the transform has a reject output, and when its
    parameters have a ``reject`` field (ref_lookup's reason code) that field is set."""
    if not t.has_reject:
        return False
    if params is not None and "reject" in type(params).model_fields:
        return getattr(params, "reject", None) is not None
    return True


def _describe_inputs(t: Transform) -> str:
    n = len(t.inputs)
    return f"{n} input{'s' if n != 1 else ''} ({', '.join(t.inputs)})"


@dataclass(frozen=True)
class _Ref:
    """A resolved reference: its kind, its type when known, and the derive it names (if any)."""

    kind: str  # source | derive | lookup | key | row
    type: str | None
    derive: str | None = None




class SetContext(Protocol):
    """What :class:`~migration.mapping.check_table._TableChecker` needs of the set's checker."""

    def add(self, info: _StageInfo, loc: Loc, message: str) -> None: ...

    def warn(self, info: _StageInfo, loc: Loc, message: str) -> None: ...

    def readable_by(self, info: _StageInfo, table: str, table_index: int) -> tuple[bool, str] | None: ...


def _cycles(graph: dict[str, list[str]], order: list[str]) -> list[list[str]]:
    """Each elementary cycle found by a depth-first walk, once, as [a, b, …, a]."""
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                key = frozenset(cyc)
                if key not in seen_sets:
                    seen_sets.add(key)
                    found.append(cyc)
            elif state.get(nxt) is None:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in order:
        if state.get(node) is None:
            visit(node, [])
    return found


def _closure(graph: dict[str, list[str]], start: str) -> set[str]:
    out: set[str] = set()
    todo = list(graph.get(start, []))
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        todo.extend(graph.get(n, []))
    return out
