"""The checks of the whole set of stages: names, dependencies, writers, source tables,
datasets, seeds and the coverage of the target model."""

from __future__ import annotations

import csv
from pathlib import Path

from migration.mapping.check_common import (
    Loc,
    _closure,
    _Collector,
    _cycles,
    _exempt_columns,
    _is_data_table,
    _required_for_insert,
    _StageInfo,
    suggest,
)
from migration.mapping.check_table import _TableChecker
from migration.mapping.loader import Problem, _fmt_path
from migration.mapping.spec import (
    SeedSpec,
)
from migration.schema import models


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
