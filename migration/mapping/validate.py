"""Semantic checks of the mapping files: everything the loader cannot know on its own.

:mod:`migration.mapping.loader` finds YAML syntax errors, duplicate and unknown keys and
type errors, one file at a time.  This module adds the checks that need the transform
registry, the target model at Alembic head (:mod:`migration.schema.models`), the reference
files shipped in ``migration/refdata/``, the whole set of stages, and — when a source URL
is given — the live legacy database:

- transforms: known names (with a suggestion), parameters valid for the transform's
  ``params_model``, as many inputs as the transform takes, ``python_only`` transforms only
  under ``personal_data.scrub`` (and scrub naming only those), no transform with a
  ``reject`` output inside a ``via`` chain (its rejects would be lost);
- references: source columns declared and not dropped, ``derive.output`` naming an output
  the transform has, ``lookup.column`` declared, ``row.<name>`` only in an exploding target,
  ``key``; derive cycles; ``flags:`` and ``reject:`` naming derives that have those outputs,
  and every derive that can reject named by a quarantine or filter rule;
- the target: tables exist and are DATA tables, columns exist, every column is mapped or
  explicitly defaulted (except ``load_run_id``, identity keys and a linked table's link
  column), ``link`` names an earlier target, lookups name real tables and columns;
- the legacy side: every column of ``source.columns`` is used, dropped, scrubbed or listed in
  ``not_migrated`` — and those lists name real columns; with a source URL the live tables
  and columns are compared with ``source.columns`` (schema drift);
- the set: unique stage names, known and acyclic ``depends_on``, each legacy table mapped
  by one stage only, reference tables read only after the stage that writes them, and
  every DATA table at Alembic head written by some stage.

Every problem carries file, line and field path, and all of them are collected: nothing
stops at the first one.  The library never prints; the CLI renders the report.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from geoalchemy2 import Geometry
from pydantic import BaseModel, ValidationError
from sqlalchemy import Column, Table, inspect
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from migration.errors import MappingError, SourceError
from migration.mapping import transforms
from migration.mapping.keys import legacy_key_prefix
from migration.mapping.loader import LoadedFile, Problem, _fmt_path, load_file, mapping_files
from migration.mapping.spec import (
    ColumnSpec,
    ConditionSpec,
    SeedSpec,
    StageSpec,
    TableMappingSpec,
    TargetSpec,
    TransformCall,
)
from migration.mapping.transforms.base import Transform
from migration.schema import models

Loc = tuple[Any, ...]

#: the reference data shipped with the migration (seeds)
REFDATA_DIR = Path(__file__).resolve().parents[1] / "refdata"

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


@dataclass(frozen=True)
class ValidationReport:
    """Everything wrong with a set of mapping files.

    ``specs`` holds every file the loader could read, even when other checks found
    problems (``mappings show`` reads them); only :meth:`raise_for_problems` vouches for them.
    """

    location: Path
    files: list[Path]
    specs: list[StageSpec]
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    #: whether the live legacy database was compared with the mappings
    source_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> list[StageSpec]:
        """The specs, or :class:`MappingError` carrying every problem."""
        if self.problems:
            raise MappingError([str(p) for p in self.problems])
        return self.specs


def validate(location: Path | Sequence[Path], *, source_url: URL | None = None,
             refdata_dir: Path | None = None, focus: Path | None = None) -> ValidationReport:
    """Load and check the mapping files of a directory, or the given files.

    A directory is the whole set: its coverage of the target model is checked too.  Given
    files are checked as a set of their own (their ``depends_on`` must name each other)
    and coverage is not claimed.  ``focus``: keep only the problems located in that file
    (the others still give the context: its dependencies, the tables other stages load).
    ``source_url``: also compare the live legacy database with ``source.columns``.
    Raises :class:`SourceError` only when that database cannot be read; every problem of
    the mappings themselves is in the report.
    """
    out = _Collector()
    whole_set = False
    if isinstance(location, (str, Path)):
        loc_path = Path(location)
        if not loc_path.exists():
            out.problems.append(Problem(str(location), 0, "", "no such file or directory"))
            files: list[Path] = []
        elif loc_path.is_dir():
            whole_set = True
            files = mapping_files(loc_path)
            if not files:
                out.problems.append(Problem(str(location), 0, "", "no mapping files (*.yaml) in this directory"))
        else:
            files = [loc_path]
    else:
        files = [Path(p) for p in location]
        loc_path = files[0].parent if files else Path(".")
    infos = [_gather(load_file(p)) for p in files]
    for info in infos:
        out.problems.extend(info.lf.problems)
    set_checker = _SetChecker(infos, out, refdata_dir or REFDATA_DIR, str(loc_path), coverage=whole_set)
    set_checker.run()
    source_checked = False
    if source_url is not None:
        _check_live_source(infos, source_url, out)
        source_checked = True
    if focus is not None:
        out.problems = [p for p in out.problems if Path(p.file) == Path(focus)]
        out.warnings = [p for p in out.warnings if Path(p.file) == Path(focus)]
    order = {str(p): i for i, p in enumerate(files)}

    def key(p: Problem) -> tuple[int, int, str]:
        return (order.get(p.file, len(order)), p.line, p.path)

    problems = sorted(_unique(out.problems), key=key)
    warnings = sorted(_unique(out.warnings), key=key)
    specs = [i.spec for i in infos if i.spec is not None]
    return ValidationReport(location=loc_path, files=files, specs=specs, problems=problems,
                            warnings=warnings, source_checked=source_checked)


def load_specs(location: Path, *, source_url: URL | None = None) -> list[StageSpec]:
    """The stage specs of a mapping directory, or :class:`MappingError` with every problem."""
    return validate(location, source_url=source_url).raise_for_problems()


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


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


# --------------------------------------------------------------------------- the whole set


class _SetChecker:
    def __init__(self, infos: list[_StageInfo], out: _Collector, refdata_dir: Path, location: str, *,
                 coverage: bool) -> None:
        self.infos = infos
        self.coverage = coverage
        self.out = out
        self.refdata_dir = refdata_dir
        self.location = location
        self.by_name: dict[str, _StageInfo] = {}
        self.ancestors: dict[str, set[str]] = {}
        #: target table → [(stage name, table index; -1 for a before_tables seed, ≥ 10000 after)]
        self.writers: dict[str, list[tuple[str | None, int]]] = {}
        #: target table → the columns some table mapping writes
        self.mapped_columns: dict[str, set[str]] = {}

    def add(self, info: _StageInfo, loc: Loc, message: str) -> None:
        self.out.problems.append(Problem(info.file, info.lf.line_of(loc), _fmt_path(loc), message))

    def warn(self, info: _StageInfo, loc: Loc, message: str) -> None:
        self.out.warnings.append(Problem(info.file, info.lf.line_of(loc), _fmt_path(loc), message))

    def run(self) -> None:
        self._stage_names()
        self._dependencies()
        self._writers()
        self._source_tables()
        self._datasets()
        for info in self.infos:
            for ti, tm in info.tables:
                _TableChecker(self, info, ti, tm).run()
            for si, seed in info.seeds:
                self._seed(info, si, seed)
        self._coverage()

    # -- stages
    def _stage_names(self) -> None:
        for info in self.infos:
            if info.name is None:
                continue
            first = self.by_name.get(info.name)
            if first is not None:
                self.add(info, ("stage",), f"stage '{info.name}' is already defined in "
                                           f"{first.file}:{first.lf.line_of(('stage',))}; stage names are unique")
                continue
            self.by_name[info.name] = info

    def _dependencies(self) -> None:
        complete = all(i.readable and i.name is not None for i in self.infos)
        for info in self.infos:
            for di, dep in info.depends_on:
                loc = ("depends_on", di)
                if dep == info.name:
                    self.add(info, loc, f"stage '{dep}' depends on itself")
                elif dep not in self.by_name and complete:
                    self.add(info, loc, f"unknown stage '{dep}' in depends_on{suggest(dep, self.by_name)}; "
                                        f"stages: {', '.join(sorted(self.by_name)) or '(none)'}")
        # cycles (self-dependencies are reported above)
        graph = {name: [d for _, d in info.depends_on if d in self.by_name and d != name]
                 for name, info in self.by_name.items()}
        for cycle in _cycles(graph, list(self.by_name)):
            head = self.by_name[cycle[0]]
            idx = next(i for i, d in head.depends_on if d == cycle[1])
            self.add(head, ("depends_on", idx),
                     f"stage dependency cycle: {' → '.join(cycle)}; a stage can only wait for stages that "
                     "do not wait for it")
        for name in self.by_name:
            self.ancestors[name] = _closure(graph, name)

    def _writers(self) -> None:
        for info in self.infos:
            for si, seed in info.seeds:
                pos = -1 if seed.load == "before_tables" else 10_000 + si
                self.writers.setdefault(seed.target, []).append((info.name, pos))
            for ti, tm in info.tables:
                for tname, tspec in tm.targets.items():
                    self.writers.setdefault(tname, []).append((info.name, ti))
                    self.mapped_columns.setdefault(tname, set()).update(tspec.columns)
            for tname in info.other_targets:  # malformed parts: position unknown, so never "earlier"
                self.writers.setdefault(tname, []).append((info.name, 10**9))

    def _source_tables(self) -> None:
        """A legacy table is mapped once per stage: the ledger keys checkpoints, counts and
        quarantine on (stage, source table).  Mapping it again in another stage is allowed
        (the language has no other way to derive, say, parent rows from the same table) but
        its rows then have one fate per stage, so it is said."""
        seen: dict[str, tuple[_StageInfo, int]] = {}
        for info in self.infos:
            for ti, tm in info.tables:
                key = tm.source.table.lower()
                loc: Loc = ("tables", ti, "source", "table")
                if key not in seen:
                    seen[key] = (info, ti)
                    continue
                first, fti = seen[key]
                where = f"{first.file}:{first.lf.line_of(('tables', fti, 'source', 'table'))}"
                if first is info:
                    self.add(info, loc, f"legacy table {tm.source.table} is already mapped by this stage ({where}); "
                                        "map it once, with one target per target table")
                else:
                    self.warn(info, loc, f"legacy table {tm.source.table} is also mapped by stage '{first.name}' "
                                         f"({where}): each of its rows is counted, and may be quarantined, once "
                                         "per stage")

    def _datasets(self) -> None:
        seen: dict[str, _StageInfo] = {}
        for info in self.infos:
            if info.dataset is None:
                continue
            if info.dataset not in models.DATASETS:
                self.add(info, ("dataset",), f"unknown dataset '{info.dataset}'{suggest(info.dataset, models.DATASETS)}; "
                                             f"core.incident accepts {', '.join(models.DATASETS)}")
            elif info.dataset in seen:
                first = seen[info.dataset]
                self.add(info, ("dataset",), f"dataset {info.dataset} is already owned by stage '{first.name}' "
                                             f"({first.file}); a dataset belongs to one stage")
            else:
                seen[info.dataset] = info

    def readable_by(self, info: _StageInfo, table: str, table_index: int) -> tuple[bool, str] | None:
        """Why ``table`` is not loaded before table ``table_index`` of this stage runs, or None.

        (True, why) is a problem; (False, why) a warning: the table mapping reads a table it
        writes itself, and sees only the rows there before it started."""
        writers = self.writers.get(table, [])
        if not writers:
            return None  # reported once by the coverage check
        for stage, pos in writers:
            if stage == info.name and pos < table_index:
                return None
            if stage is not None and info.name is not None and stage in self.ancestors.get(info.name, set()):
                return None
        names = sorted({s for s, _ in writers if s is not None and s != info.name})
        if names:
            return True, (f"{table} is loaded by stage {', '.join(repr(n) for n in names)}, which stage "
                          f"'{info.name}' does not depend on; add it to depends_on")
        if all(stage == info.name and pos == table_index for stage, pos in writers):
            return False, (f"{table}, which this table mapping writes itself: it sees only the rows there "
                           "before this table started loading")
        return True, f"{table} is loaded later in this stage; move that table (or seed) before this one"

    # -- seeds
    def _seed(self, info: _StageInfo, si: int, seed: SeedSpec) -> None:
        base: Loc = ("seeds", si)
        path = self.refdata_dir / seed.file
        header: list[str] | None = None
        if not path.is_file():
            self.add(info, base + ("file",), f"seed file {seed.file} not found in {self.refdata_dir}"
                     + suggest(seed.file, [p.name for p in self.refdata_dir.glob('*.csv')]
                               if self.refdata_dir.is_dir() else []))
        else:
            try:
                with path.open(encoding="utf-8-sig", newline="") as fh:
                    header = next(csv.reader(fh), [])
            except (OSError, UnicodeDecodeError) as exc:
                self.add(info, base + ("file",), f"cannot read seed file {path}: {exc}")
        table = models.metadata.tables.get(seed.target)
        if table is None:
            self.add(info, base + ("target",), f"unknown target table '{seed.target}'"
                     + suggest(seed.target, models.metadata.tables))
        elif not _is_data_table(seed.target):
            self.add(info, base + ("target",), f"{seed.target} is not a DATA table (schemas "
                                               f"{', '.join(models.DATA_SCHEMAS)}); seeds load reference data only")
            table = None
        for col, csv_col in seed.columns.items():
            loc = base + ("columns", col)
            if table is not None:
                if col not in table.c:
                    self.add(info, loc, f"unknown column '{col}' of {seed.target}{suggest(col, table.c.keys())}")
                elif col == "load_run_id" or (table.c[col].identity is not None):
                    self.add(info, loc, f"{seed.target}.{col} is set by the database or the loader; remove it")
            if header is not None and csv_col not in header:
                self.add(info, loc, f"seed file {seed.file} has no column '{csv_col}'{suggest(csv_col, header)}; "
                                    f"its header: {', '.join(header)}")
        if table is not None:
            missing = [c for c in _required_for_insert(table) if c not in seed.columns]
            if missing:
                self.add(info, base + ("columns",),
                         f"{seed.target} needs {', '.join(missing)} (NOT NULL, no default); map them to CSV columns")
            # columns a table mapping writes are filled when it upserts the seeded rows
            left = [c for c in table.c.keys()
                    if c not in seed.columns and c not in missing and c not in _exempt_columns(table, None)
                    and c not in self.mapped_columns.get(seed.target, set())]
            if left:
                self.warn(info, base + ("columns",),
                          f"{seed.target}: {', '.join(left)} not in the seed, nor mapped by any table; "
                          "they get NULL or the column default")

    # -- coverage
    def _coverage(self) -> None:
        if not self.coverage:
            return
        if not all(i.readable for i in self.infos) or not self.infos:
            if self.infos:
                self.out.warnings.append(Problem(
                    self.location, 0, "",
                    "coverage of the target tables not checked: some files could not be read as YAML"))
            return
        for table in models.DATA_TABLES:
            if table.fullname not in self.writers:
                self.out.problems.append(Problem(
                    self.location, 0, table.fullname,
                    f"no stage writes the DATA table {table.fullname}; map a legacy table or seed to it"))


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


# --------------------------------------------------------------------------- one table mapping


class _TableChecker:
    def __init__(self, owner: _SetChecker, info: _StageInfo, ti: int, tm: TableMappingSpec) -> None:
        self.owner = owner
        self.info = info
        self.ti = ti
        self.tm = tm
        self.base: Loc = ("tables", ti)
        self.columns = list(tm.source.columns)
        self.column_set = set(self.columns)
        self.dropped = set(tm.personal_data.drop)
        #: derive name → its transform (None when the name is unknown)
        self.derives: dict[str, Transform | None] = {
            name: transforms.REGISTRY.get(d.transform) for name, d in tm.derive.items()}
        #: legacy column → what uses it
        self.used: dict[str, list[str]] = {}
        #: (who refers, derive name): who is "derive:<name>" for derive inputs, else a target/rule
        self.derive_refs: list[tuple[str, str]] = []
        self.lookup_used: set[str] = set()
        self.rejects_handled: set[str] = set()
        #: derive name → its parsed parameters (None when they are invalid)
        self.derive_params: dict[str, BaseModel | None] = {}

    def add(self, loc: Loc, message: str) -> None:
        self.owner.add(self.info, self.base + loc, message)

    def warn(self, loc: Loc, message: str) -> None:
        self.owner.warn(self.info, self.base + loc, message)

    def use(self, column: str, role: str) -> None:
        self.used.setdefault(column, []).append(role)

    def run(self) -> None:
        self._source()
        self._personal_data()
        self._business_key()
        self._lookups()
        self._derive()
        self._duplicates()
        self._rules()
        for tname, tspec in self.tm.targets.items():
            self._target(tname, tspec)
        self._key_flag()
        self._unhandled_rejects()
        self._accounting()

    # -- references
    def ref(self, ref: str, loc: Loc, role: str, *, rows: set[str] | None = None,
            plain_source_only: bool = False) -> _Ref | None:
        """Resolve a reference, recording what it uses; report and return None when it cannot."""
        tm = self.tm
        if plain_source_only or not ("." in ref or ref == "key"):
            if ref in self.column_set:
                if ref in self.dropped:
                    self.add(loc, f"column '{ref}' is dropped (personal_data.drop) and never extracted, "
                                  f"so it cannot be used here")
                    return None
                self.use(ref, role)
                return _Ref("source", "text")
            if not plain_source_only and ref in tm.derive:
                self.add(loc, f"'{ref}' is a derive: name one of its outputs, e.g. '{ref}.value'")
                return None
            if not plain_source_only and ref in tm.lookups:
                self.add(loc, f"'{ref}' is a lookup: name one of its columns, e.g. '{ref}.{tm.lookups[ref].columns[0]}'"
                         if tm.lookups[ref].columns else f"'{ref}' is a lookup: name one of its columns")
                return None
            self.add(loc, f"unknown source column '{ref}': not in source.columns of {tm.source.table}"
                          f"{suggest(ref, self.columns)}")
            return None
        if ref == "key":
            for c in tm.business_key.columns:
                if c in self.column_set:
                    self.use(c, role)
            return _Ref("key", "text")
        head, _, out = ref.partition(".")
        if head == "row":
            if rows is None:
                self.add(loc, f"'{ref}': row.<name> only exists in the columns of a target that explodes a list")
                return None
            if out not in rows:
                self.add(loc, f"'{ref}': this target explodes {', '.join(sorted(rows))}, not '{out}'"
                              f"{suggest(out, rows)}")
                return None
            return _Ref("row", "text")
        scrubbed = head.removeprefix("scrub_") if head.startswith("scrub_") else None
        if scrubbed is not None and scrubbed in tm.personal_data.scrub and head not in tm.derive:
            # the outputs of the scrubber of a personal_data.scrub column
            st = transforms.REGISTRY.get(tm.personal_data.scrub[scrubbed])
            self.use(scrubbed, role)
            if st is None:
                return _Ref("derive", None)
            if out not in st.outputs:
                self.add(loc, f"'{head}' (scrubber {st.name}) has no output '{out}'{suggest(out, st.outputs)}; "
                              f"its outputs: {', '.join(st.outputs)}")
                return None
            return _Ref("derive", st.outputs[out])
        if head in tm.derive:
            self.derive_refs.append((role, head))
            t = self.derives.get(head)
            if t is None:
                return _Ref("derive", None, head)  # unknown transform: reported at the derive
            if out not in t.outputs:
                self.add(loc, f"derive '{head}' (transform {t.name}) has no output '{out}'"
                              f"{suggest(out, t.outputs)}; its outputs: {', '.join(t.outputs)}")
                return None
            return _Ref("derive", t.outputs[out], head)
        if head in tm.lookups:
            self.lookup_used.add(head)
            lk = tm.lookups[head]
            if out not in lk.columns:
                self.add(loc, f"lookup '{head}' does not declare the column '{out}'{suggest(out, lk.columns)}; "
                              f"add it to lookups.{head}.columns")
                return None
            for src in lk.match.values():
                if src in self.column_set:
                    self.use(src, role)
            return _Ref("lookup", None)
        if ref in self.column_set:  # a legacy column with a dot in its name
            self.use(ref, role)
            return _Ref("source", "text")
        names = list(tm.derive) + list(tm.lookups)
        self.add(loc, f"unknown reference '{ref}': no derive or lookup named '{head}'{suggest(head, names)}")
        return None

    def _scrubber(self, name: str) -> tuple[str, Transform | None] | None:
        """(column, scrubber) when ``name`` is ``scrub_<Column>`` of a personal_data.scrub column."""
        col = name.removeprefix("scrub_") if name.startswith("scrub_") else None
        if col is None or col not in self.tm.personal_data.scrub or name in self.tm.derive:
            return None
        return col, transforms.REGISTRY.get(self.tm.personal_data.scrub[col])

    def _derive_names(self) -> list[str]:
        return list(self.tm.derive) + [f"scrub_{c}" for c in self.tm.personal_data.scrub]

    def transform(self, name: str, loc: Loc, *, in_scrub: bool = False) -> Transform | None:
        t = transforms.REGISTRY.get(name)
        if t is None:
            self.add(loc, f"unknown transform '{name}'{suggest(name, transforms.REGISTRY)}")
            return None
        if t.python_only and not in_scrub:
            self.add(loc, f"transform '{name}' runs only in Python while rows are extracted: "
                          "use it under personal_data.scrub, never in derive or via")
        if in_scrub and not t.python_only:
            self.add(loc, f"transform '{name}' is not a scrubber (python_only); personal_data.scrub "
                          "takes the transforms that clean raw text before it leaves Python")
        return t

    def params(self, t: Transform, params: dict[str, Any] | None, loc: Loc) -> BaseModel | None:
        problems = _params_problems(t, params)
        for sub, msg in problems:
            self.add(loc + sub, msg)
        return None if problems else t.parse_params(params)

    # -- source, personal data, key
    def _source(self) -> None:
        src = self.tm.source
        seen: set[str] = set()
        for ci, c in enumerate(src.columns):
            if c in seen:
                self.add(("source", "columns", ci), f"column '{c}' is listed twice")
            seen.add(c)
        if src.key is not None:
            if src.key not in self.column_set:
                self.add(("source", "key"), f"key column '{src.key}' is not in source.columns"
                                            f"{suggest(src.key, self.columns)}")
            elif src.key in self.dropped:
                self.add(("source", "key"), f"key column '{src.key}' cannot be dropped")
            else:
                self.use(src.key, "source key")
        for i, c in enumerate(src.free_text):
            if c not in self.column_set:
                self.add(("source", "free_text", i), f"free-text column '{c}' is not in source.columns"
                                                     f"{suggest(c, self.columns)}")
        d = src.delta
        if d is not None:
            for attr, needed in (("watermark_column", "watermark"), ("batch_column", "batch")):
                value = getattr(d, attr)
                if d.strategy == needed and value is None:
                    self.add(("source", "delta"), f"strategy {needed} needs {attr}")
                if value is not None:
                    if value not in self.column_set:
                        self.add(("source", "delta", attr), f"{attr} '{value}' is not in source.columns"
                                                            f"{suggest(value, self.columns)}")
                    else:
                        self.use(value, f"delta {attr}")

    def _personal_data(self) -> None:
        pd = self.tm.personal_data
        for i, c in enumerate(pd.drop):
            if c not in self.column_set:
                self.add(("personal_data", "drop", i), f"dropped column '{c}' is not in source.columns"
                                                       f"{suggest(c, self.columns)}")
        for c, name in pd.scrub.items():
            loc: Loc = ("personal_data", "scrub", c)
            if c not in self.column_set:
                self.add(loc, f"scrubbed column '{c}' is not in source.columns{suggest(c, self.columns)}")
            if c in self.dropped:
                self.add(loc, f"column '{c}' is both dropped and scrubbed; a dropped column is never read")
            t = self.transform(name, loc, in_scrub=True)
            if t is not None:
                if len(t.inputs) != 1:
                    self.add(loc, f"scrubber '{name}' takes {_describe_inputs(t)}; a scrubber takes the one column")
                self.params(t, {}, loc)

    def _business_key(self) -> None:
        derived = False
        for i, c in enumerate(self.tm.business_key.columns):
            loc: Loc = ("business_key", "columns", i)
            if "." not in c:
                self.ref(c, loc, "business key", plain_source_only=True)
                continue
            derived = True
            r = self.ref(c, loc, "business key")
            if r is not None and (r.kind not in ("derive", "lookup") or r.type not in (None, "text")):
                self.add(loc, f"a key part is a source column or the text output of a derive or lookup, "
                              f"not '{c}'" + (f" ({r.type})" if r.type else ""))
        if derived:
            for name, d in self.tm.derive.items():
                for ai, a in enumerate(d.args):
                    if a == "key":
                        self.add(("derive", name, "args", ai),
                                 "the business key is computed after the derives (a key part is a derive "
                                 "output), so no derive can read `key`")

    def _key_flag(self) -> None:
        """A row loaded under its legacy key (blank business key) must say so: some flags column
        lists `key` (the key_blank flag)."""
        prefix = legacy_key_prefix(self.tm)
        if prefix is None:
            return
        listed = any("key" in (c.flags or []) for t in self.tm.targets.values() for c in t.columns.values()
                     if c.kind == "flags")
        if not listed:
            self.add(("business_key",), f"a blank {'/'.join(self.tm.business_key.columns)} loads under the legacy "
                                        f"key ('{prefix}<n>') flagged key_blank: add `key` to a flags column "
                                        "(e.g. dq_flags: {flags: [..., key]})")

    def _lookups(self) -> None:
        for name, lk in self.tm.lookups.items():
            loc: Loc = ("lookups", name)
            if "." in name or name in ("key", "row"):
                self.add(loc, f"lookup name '{name}' cannot contain '.' or be 'key'/'row'")
            if name in self.tm.derive:
                self.add(loc, f"'{name}' is both a lookup and a derive; references would be ambiguous")
            for src in lk.match.values():
                self.ref(src, loc + ("match",), f"lookup {name}", plain_source_only=True)
            table = models.metadata.tables.get(lk.table)
            if table is None:
                self.add(loc + ("table",), f"unknown lookup table '{lk.table}'{suggest(lk.table, models.metadata.tables)}")
                continue
            if not _is_data_table(lk.table):
                self.add(loc + ("table",), f"lookup table {lk.table} is not a DATA table")
            for col in lk.match:
                if col not in table.c:
                    self.add(loc + ("match", col), f"{lk.table} has no column '{col}'{suggest(col, table.c.keys())}")
            for ci, col in enumerate(lk.columns):
                if col not in table.c:
                    self.add(loc + ("columns", ci), f"{lk.table} has no column '{col}'{suggest(col, table.c.keys())}")
            why = self.owner.readable_by(self.info, lk.table, self.ti)
            if why:
                (self.add if why[0] else self.warn)(loc + ("table",), f"lookup reads {why[1]}")

    def _reads(self, t: Transform, params: BaseModel | None, loc: Loc) -> None:
        """The reference tables a transform reads must be loaded before this table."""
        tables: list[str] = []
        for lk in t.lookups:
            tables += LOOKUP_TABLES.get(lk, ())
        if "ref_lookup" in t.lookups and params is not None:
            table_name = str(getattr(params, "table", ""))
            key, col = str(getattr(params, "key", "")), str(getattr(params, "column", ""))
            table = models.metadata.tables.get(table_name)
            if table is None:
                self.add(loc + ("table",), f"unknown table '{table_name}'{suggest(table_name, models.metadata.tables)}")
            else:
                for attr, c in (("key", key), ("column", col)):
                    if c not in table.c:
                        self.add(loc + (attr,), f"{table_name} has no column '{c}'{suggest(c, table.c.keys())}")
                tables.append(table_name)
        for table_name in tables:
            why = self.owner.readable_by(self.info, table_name, self.ti)
            if why:
                (self.add if why[0] else self.warn)(loc, f"transform '{t.name}' reads {why[1]}")

    # -- derive
    def _derive(self) -> None:
        tm = self.tm
        deps: dict[str, list[str]] = {}
        for name, d in tm.derive.items():
            loc: Loc = ("derive", name)
            if "." in name or name in ("key", "row"):
                self.add(loc, f"derive name '{name}' cannot contain '.' or be 'key'/'row'")
            t = self.transform(d.transform, loc + ("transform",))
            params = None
            if t is not None:
                if len(d.args) != len(t.inputs):
                    self.add(loc + ("args",), f"transform '{t.name}' takes {_describe_inputs(t)}, "
                                              f"got {len(d.args)}")
                params = self.params(t, d.params, loc + ("params",))
                self.derive_params[name] = params
                self._reads(t, params, loc + ("params",))
            deps[name] = []
            for ai, a in enumerate(d.args):
                if a.startswith("row."):
                    self.add(loc + ("args", ai), f"'{a}': row.<name> only exists in the columns of an exploding target")
                    continue
                r = self.ref(a, loc + ("args", ai), f"derive:{name}")
                if r is not None and r.kind == "derive" and r.derive is not None:
                    deps[name].append(r.derive)
        for cycle in _cycles(deps, list(tm.derive)):
            self.add(("derive", cycle[0]), f"derive cycle: {' → '.join(cycle)}")

    # -- duplicates, rules
    def _duplicates(self) -> None:
        dup = self.tm.duplicates
        if dup is None:
            return
        # the duplicate rule runs over the whole table before any chunk; a group is named by legacy
        # columns or by text derive outputs (the key snapshot runs the derives, as it does for a
        # derived business key) — text, so the loader's and reconciliation's groups are the same strings
        for i, c in enumerate(dup.partition or []):
            ploc: Loc = ("duplicates", "partition", i)
            got = self.ref(c, ploc, "duplicate group", plain_source_only="." not in c)
            if got is not None and "." in c and (c.partition(".")[0] not in self.tm.derive or got.type != "text"):
                self.add(ploc, f"'{c}': a duplicate group is made of legacy columns or derive outputs of type text")
        # without a partition the groups are the business key, derived keys included: the key
        # snapshot computes it with the same engine as the load
        for i, w in enumerate(dup.winner):
            loc: Loc = ("duplicates", "winner", i, "expr")
            head = w.expr.partition(".")[0]
            if "." in w.expr and head not in self.tm.lookups:
                self.add(loc, f"'{w.expr}': a winner is ordered by a legacy column or a lookup.column, "
                              "read before any derive")
                continue
            self.ref(w.expr, loc, "duplicate winner")

    def _condition(self, cond: ConditionSpec, loc: Loc, role: str, rows: set[str] | None = None) -> None:
        if cond.column is not None:
            self.ref(cond.column, loc + ("column",), role, rows=rows)

    def _rules(self) -> None:
        for kind in ("filters", "quarantine"):
            rules = self.tm.filters if kind == "filters" else self.tm.quarantine
            for ri, rule in enumerate(rules):
                loc: Loc = (kind, ri)
                if rule.reject is not None:
                    if rule.reject not in self.tm.derive:
                        self.add(loc + ("reject",), f"'{rule.reject}' is not a derive of this table"
                                                    f"{suggest(rule.reject, self.tm.derive)}")
                    else:
                        self.derive_refs.append((kind, rule.reject))
                        self.rejects_handled.add(rule.reject)
                        t = self.derives.get(rule.reject)
                        if t is not None and not t.has_reject:
                            self.add(loc + ("reject",), f"derive '{rule.reject}' (transform {t.name}) never "
                                                        "rejects a row: it has no reject output")
                        elif t is not None and not can_reject(t, self.derive_params.get(rule.reject, None)) \
                                and self.derive_params.get(rule.reject) is not None:
                            self.add(loc + ("reject",), f"derive '{rule.reject}' (transform {t.name}) never "
                                                        "rejects a row: its `reject` parameter is not set")
                if rule.when is not None:
                    self._condition(rule.when, loc + ("when",), kind)
                for fi, f in enumerate(rule.fields):
                    if f not in self.column_set:
                        self.add(loc + ("fields", fi), f"'{f}' is not a legacy column of {self.tm.source.table}"
                                                       f"{suggest(f, self.columns)}")

    def _unhandled_rejects(self) -> None:
        for name, t in self.derives.items():
            if self.derive_params.get(name) is None:
                continue  # unknown transform or invalid parameters: reported already
            if t is not None and can_reject(t, self.derive_params[name]) and name not in self.rejects_handled:
                self.add(("derive", name), f"derive '{name}' (transform {t.name}) can reject a row, but no "
                                           f"quarantine or filter rule names it: add `- reject: {name}` under "
                                           "quarantine (with its fields), or its rejects would be lost")

    # -- targets
    def _target(self, tname: str, tspec: TargetSpec) -> None:
        loc: Loc = ("targets", tname)
        table = models.metadata.tables.get(tname)
        rows = {e.name for e in tspec.explode} if tspec.explode else None
        if table is None:
            self.add(loc, f"unknown target table '{tname}'{suggest(tname, models.metadata.tables)}")
        elif not _is_data_table(tname):
            self.add(loc, f"{tname} is not a DATA table (schemas {', '.join(models.DATA_SCHEMAS)}); "
                          "the ledger and staging are written by the runner only")
            table = None
        link_column = self._link(tname, tspec, table, loc)
        seen_rows: set[str] = set()
        for ei, ex in enumerate(tspec.explode):
            if ex.name in seen_rows:
                self.add(loc + ("explode", ei, "name"), f"row name '{ex.name}' is used twice")
            seen_rows.add(ex.name)
            r = self.ref(ex.from_, loc + ("explode", ei, "from"), f"explode {tname}")
            if r is not None and r.type is not None and r.type != "text[]":
                self.add(loc + ("explode", ei, "from"), f"'{ex.from_}' is {r.type}, not a list (text[]) to explode")
        for wi, cond in enumerate(tspec.where):
            # conditions hold per legacy row, before any list is exploded: no row.<name> here
            self._condition(cond, loc + ("where", wi), f"where {tname}")
        for col, cspec in tspec.columns.items():
            self._column(tname, table, col, cspec, loc + ("columns", col), rows)
        if table is not None:
            exempt = _exempt_columns(table, link_column)
            if tspec.link is not None and link_column is None:
                # the link is wrong (reported above): do not also report the key it would fill
                exempt |= {c.name for c in table.primary_key.columns if c.foreign_keys}
            missing = [c for c in table.c.keys() if c not in tspec.columns and c not in exempt]
            for c in missing:
                self.add(loc + ("columns",), f"target column {tname}.{c} is not mapped: map it with `from`, "
                                             "or give it a `const` or an explicit `default`")
            if tname == _DATASET_TABLE and self.info.dataset is not None:
                ds = tspec.columns.get(_DATASET_COLUMN)
                if ds is not None and ds.kind == "const" and ds.const != self.info.dataset:
                    self.add(loc + ("columns", _DATASET_COLUMN, "const"),
                             f"dataset '{ds.const}' differs from the stage's dataset '{self.info.dataset}'")

    def _link(self, tname: str, tspec: TargetSpec, table: Table | None, loc: Loc) -> str | None:
        if tspec.link is None:
            return None
        earlier = list(self.tm.targets)[: list(self.tm.targets).index(tname)]
        if tspec.link not in earlier:
            self.add(loc + ("link",), f"link '{tspec.link}' must name an earlier target of this table mapping"
                                      f"{suggest(tspec.link, earlier)}"
                                      + (f" (earlier: {', '.join(earlier)})" if earlier else " (there is none)"))
            return None
        parent = models.metadata.tables.get(tspec.link)
        if parent is None:
            return None  # reported at the parent target
        pk = [c.name for c in parent.primary_key.columns]
        if len(pk) != 1:
            self.add(loc + ("link",), f"{tspec.link} has a composite primary key; a link carries one surrogate key")
            return None
        if table is not None and pk[0] not in table.c:
            self.add(loc + ("link",), f"{tname} has no column '{pk[0]}' to carry the key of {tspec.link}")
        return pk[0]

    def _column(self, tname: str, table: Table | None, col: str, spec: ColumnSpec, loc: Loc,
                rows: set[str] | None) -> None:
        if table is not None:
            if col not in table.c:
                self.add(loc, f"unknown column '{col}' of {tname}{suggest(col, table.c.keys())}")
            elif col == "load_run_id":
                self.add(loc, "load_run_id is written by the loader (the run's id); remove it")
            elif table.c[col].identity is not None:
                self.add(loc, f"{tname}.{col} is an identity generated by the database; remove it")
            elif spec.kind in ("const", "default") and getattr(spec, spec.kind) is None and not table.c[col].nullable:
                self.add(loc + (spec.kind,), f"{tname}.{col} is NOT NULL; a {spec.kind} of null would fail the load")
        kind = spec.kind
        role = f"{tname}.{col}"
        target_col = table.c[col] if table is not None and col in table.c else None
        if kind == "flags":
            if target_col is not None and not isinstance(target_col.type, ARRAY):
                self.add(loc + ("flags",), f"{tname}.{col} is {target_col.type}, not a list (text[]) for flags")
            for fi, d in enumerate(spec.flags or []):
                floc = loc + ("flags", fi)
                if d == "key":  # the business-key rule's flag (key_blank)
                    if legacy_key_prefix(self.tm) is None:
                        self.add(floc, "`key` flags a blank business key loaded under the legacy key, and a "
                                       "blank key of this table is quarantined (the business key is the legacy "
                                       "primary key, or there is none): remove it")
                    continue
                scrubbed = self._scrubber(d)
                if d not in self.tm.derive and scrubbed is None:
                    self.add(floc, f"'{d}' is not a derive of this table{suggest(d, self._derive_names())}")
                    continue
                if scrubbed is not None:
                    self.use(scrubbed[0], role)
                    t = scrubbed[1]
                else:
                    self.derive_refs.append((role, d))
                    t = self.derives.get(d)
                if t is not None and not t.has_flags:
                    self.add(floc, f"derive '{d}' (transform {t.name}) has no flags output; "
                                   f"its outputs: {', '.join(t.outputs)}")
            return
        if kind != "from":
            return
        refs = spec.from_ or []
        row_refs = [r for r in refs if r.startswith("row.")]
        if row_refs and (len(refs) > 1 or spec.via):
            self.add(loc + ("from",), f"'{row_refs[0]}' is written as it is: it takes no `via` and no other input")
        resolved = [self.ref(r, loc + ("from", ri) if len(refs) > 1 else loc + ("from",), role, rows=rows)
                    for ri, r in enumerate(refs)]
        if not spec.via:
            if len(refs) != 1:
                self.add(loc + ("from",), f"{len(refs)} inputs need a `via` transform that takes them")
            elif resolved[0] is not None and target_col is not None:
                self._type_fits(target_col, resolved[0].type, loc + ("from",), f"'{refs[0]}'")
            return
        last: Transform | None = None
        for vi, call in enumerate(spec.via):
            last = self._via(call, loc + ("via", vi), len(refs) if vi == 0 else 1, vi)
        if last is not None and target_col is not None:
            self._type_fits(target_col, last.outputs["value"], loc + ("via", len(spec.via) - 1),
                            f"transform '{last.name}'")

    def _type_fits(self, column: Column[Any], typ: str | None, loc: Loc, what: str) -> None:
        """Only the mismatches no cast can mend: a point and a geometry, a list and an array."""
        if typ is None:
            return
        is_geom = isinstance(column.type, Geometry)
        is_array = isinstance(column.type, ARRAY)
        where = f"{column.table.fullname}.{column.name}"
        if is_geom != (typ == "point"):
            self.add(loc, f"{what} gives {typ}; {where} is {column.type}")
        elif is_array != (typ == "text[]"):
            self.add(loc, f"{what} gives {typ}; {where} is {column.type}")

    def _via(self, call: TransformCall, loc: Loc, n_inputs: int, position: int) -> Transform | None:
        t = self.transform(call.name, loc)
        if t is None:
            return None
        params = self.params(t, call.params, loc + (call.name,))
        if "value" not in t.outputs:
            self.add(loc, f"transform '{t.name}' has no value output to pass on")
            return None
        if can_reject(t, params):
            self.add(loc, f"transform '{t.name}' can reject rows, and rejects inside a `via` chain are lost: "
                          "make it a derive, quarantine its `reject`, and map `from: <derive>.value`")
        if len(t.inputs) != n_inputs:
            got = (f"{n_inputs} input{'s' if n_inputs != 1 else ''} from `from`" if position == 0
                   else "the one value of the previous step")
            self.add(loc, f"transform '{t.name}' takes {_describe_inputs(t)}, got {got}")
        self._reads(t, params, loc + (call.name,))
        return t

    # -- every legacy column accounted for
    def _accounting(self) -> None:
        tm = self.tm
        # a derive is live when a target, rule or explode uses it, or a live derive does;
        # a legacy column read only by dead derives is not carried anywhere
        live: set[str] = set()
        todo = [d for who, d in self.derive_refs if not who.startswith("derive:")]
        while todo:
            d = todo.pop()
            if d in live:
                continue
            live.add(d)
            todo += [head for who, head in self.derive_refs if who == f"derive:{d}"]
        for name in tm.derive:
            if name not in live:
                self.warn(("derive", name), f"derive '{name}' is never used by a target or a rule")
        self.used = {c: roles for c, roles in self.used.items()
                     if any(not r.startswith("derive:") or r[len("derive:"):] in live for r in roles)}
        for name in tm.lookups:
            if name not in self.lookup_used:
                self.warn(("lookups", name), f"lookup '{name}' is never used")
        for c, reason in tm.not_migrated.items():
            loc: Loc = ("not_migrated", c)
            if c not in self.column_set:
                self.add(loc, f"'{c}' is not in source.columns{suggest(c, self.columns)}")
            elif any(not r.startswith(_SOFT_USES) for r in self.used.get(c, [])):
                # reading a column to find changes (delta) or to page (source key) carries nothing over
                self.add(loc, f"column '{c}' is listed as not migrated but is used ({', '.join(r.replace('derive:', 'derive ') for r in self.used[c][:3])})")
            if not str(reason or "").strip():
                self.add(loc, "say why the column is not migrated")
        accounted = set(self.used) | self.dropped | set(tm.personal_data.scrub) | set(tm.not_migrated)
        for ci, c in enumerate(self.columns):
            if c not in accounted:
                self.add(("source", "columns", ci),
                         f"legacy column '{c}' of {tm.source.table} is not accounted for: map it, drop it "
                         "(personal_data.drop) or list it under not_migrated with the reason")


# --------------------------------------------------------------------------- the live source


def _check_live_source(infos: list[_StageInfo], url: URL, out: _Collector) -> None:
    """Compare every mapped legacy table with the live database (schema drift)."""
    from migration.db.engines import check_connect, source_engine
    from migration.secrets import redact_url, scrub

    engine = source_engine(url)
    try:
        check_connect(engine, role="source")
        try:
            insp = inspect(engine)
            live_tables = insp.get_table_names()
            by_lower = {t.lower(): t for t in live_tables}
            live_columns: dict[str, list[str]] = {}
            for info in infos:
                for _, tm in info.tables:
                    live = by_lower.get(tm.source.table.lower())
                    if live is not None and live not in live_columns:
                        live_columns[live] = [c["name"] for c in insp.get_columns(live)]
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot read the catalog of the legacy database {redact_url(url)}: "
                              f"{scrub(getattr(exc, 'orig', exc))}") from exc
    finally:
        engine.dispose()
    for info in infos:
        for ti, tm in info.tables:
            base: Loc = ("tables", ti, "source")

            def add(loc: Loc, message: str, *, warning: bool = False, _info: _StageInfo = info) -> None:
                p = Problem(_info.file, _info.lf.line_of(loc), _fmt_path(loc), message)
                (out.warnings if warning else out.problems).append(p)

            live = by_lower.get(tm.source.table.lower())
            if live is None:
                add(base + ("table",), f"legacy table {tm.source.table} does not exist in the source database "
                                       f"{redact_url(url)}{suggest(tm.source.table, live_tables)}")
                continue
            if live != tm.source.table:
                add(base + ("table",), f"the source database spells the table {live}", warning=True)
            cols = live_columns.get(live, [])
            cols_lower = {c.lower(): c for c in cols}
            for ci, c in enumerate(tm.source.columns):
                found = cols_lower.get(c.lower())
                if found is None:
                    add(base + ("columns", ci), f"column {c} does not exist in {live} of the source database"
                                                f"{suggest(c, cols)} (schema drift)")
                elif found != c:
                    add(base + ("columns", ci), f"the source database spells the column {found}", warning=True)
            declared = {c.lower() for c in tm.source.columns}
            for c in cols:
                if c.lower() not in declared:
                    add(base + ("columns",), f"the source table {live} has a column {c} that source.columns does "
                                             "not declare (schema drift): declare it, then map it or list it "
                                             "under not_migrated")


# --------------------------------------------------------------------------- JSON Schema


def language_schema() -> dict[str, Any]:
    """JSON Schema of a mapping file, for editors (YAML language servers) to complete and check.

    pydantic's schema describes the parsed form; the YAML has shorthands the models accept
    before validation (one string where a list is expected, ``via: [name, {name: {params}}]``),
    so those are widened here, and every transform's name and parameters are spelled out.
    """
    schema = StageSpec.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    schema["properties"].pop("file", None)
    names = sorted(transforms.REGISTRY)
    scrubbers = sorted(n for n, t in transforms.REGISTRY.items() if t.python_only)
    params_refs: dict[str, dict[str, Any]] = {}
    for name in names:
        ps = transforms.REGISTRY[name].params_model.model_json_schema()
        for k, v in ps.pop("$defs", {}).items():
            defs.setdefault(k, v)
        key = f"Params_{name}"
        ps.setdefault("title", f"parameters of {name}")
        defs[key] = ps
        params_refs[name] = {"$ref": f"#/$defs/{key}"}

    def one_or_many(item: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [item, {"type": "array", "items": item}]}

    call_forms: list[dict[str, Any]] = [{"type": "string", "enum": names}]
    for name in names:
        t = transforms.REGISTRY[name]
        call_forms.append({
            "type": "object", "additionalProperties": False, "required": [name],
            "properties": {name: {"anyOf": [params_refs[name], {"type": "null"}]}},
            "description": t.summary,
        })
    defs["TransformCall"] = {"title": "TransformCall", "description": "a transform name, or {name: {param: value}}",
                             "anyOf": call_forms}
    col = defs["ColumnSpec"]
    col["properties"]["from"] = {**one_or_many({"type": "string"}), "description":
                                 "a source column, derive.output, lookup.column, key or row.<name>"}
    col["properties"]["via"] = {**one_or_many({"$ref": "#/$defs/TransformCall"}),
                                "description": "transforms applied in order (first takes every `from` input)"}
    col["oneOf"] = [{"required": [k]} for k in ("from", "const", "default", "flags")]
    derive = defs["DeriveSpec"]
    derive["properties"]["transform"] = {"type": "string", "enum": names,
                                         "description": "; ".join(f"{n}: {transforms.REGISTRY[n].summary}" for n in names)}
    derive["properties"]["args"] = {**one_or_many({"type": "string"}),
                                    "description": derive["properties"]["args"].get("description", "")}
    derive["allOf"] = [{"if": {"properties": {"transform": {"const": n}}, "required": ["transform"]},
                        "then": {"properties": {"params": params_refs[n]}}} for n in names]
    defs["BusinessKeySpec"]["properties"]["columns"] = one_or_many({"type": "string"})
    if scrubbers:
        defs["PersonalDataSpec"]["properties"]["scrub"]["additionalProperties"] = {"type": "string", "enum": scrubbers}
    defs["RuleSpec"]["oneOf"] = [{"required": ["reject"]}, {"required": ["when"]}]
    defs["ConditionSpec"]["required"] = ["column"]
    defs["ConditionSpec"]["oneOf"] = [{"required": [k]} for k in ("in", "is_null", "not_null")]
    data_tables = [t.fullname for t in models.DATA_TABLES]
    defs["TargetSpec"]["properties"]["link"] = {"anyOf": [{"type": "string", "enum": data_tables}, {"type": "null"}],
                                                "description": defs["TargetSpec"]["properties"]["link"].get("description")}
    defs["TableMappingSpec"]["properties"]["targets"]["propertyNames"] = {"enum": data_tables}
    defs["SeedSpec"]["properties"]["target"] = {"type": "string", "enum": data_tables,
                                                "description": "schema.table"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "SafeStats migration mapping file"
    schema["description"] = (StageSpec.__doc__ or "").strip() or "One stage of the SafeStats migration."
    return schema
