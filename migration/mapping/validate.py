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

This module is the entry; the checks live along their seams: :mod:`.check_common` (what they
share), :mod:`.check_set` (the whole set), :mod:`.check_table` (one table mapping),
:mod:`.check_source` (the live legacy database, read through a catalog the caller gives —
:class:`migration.db.catalog.SourceCatalog` — so the mapping layer never opens a database)
and :mod:`.language` (the JSON Schema).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migration.errors import MappingError
from migration.mapping.check_common import REFDATA_DIR, _Collector, _gather, can_reject, suggest
from migration.mapping.check_set import _SetChecker
from migration.mapping.check_source import LiveCatalog, check_live_source
from migration.mapping.language import language_schema
from migration.mapping.loader import Problem, load_file, mapping_files
from migration.mapping.spec import StageSpec


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


def validate(location: Path | Sequence[Path], *, source: LiveCatalog | None = None,
             refdata_dir: Path | None = None, focus: Path | None = None) -> ValidationReport:
    """Load and check the mapping files of a directory, or the given files.

    A directory is the whole set: its coverage of the target model is checked too.  Given
    files are checked as a set of their own (their ``depends_on`` must name each other)
    and coverage is not claimed.  ``focus``: keep only the problems located in that file
    (the others still give the context: its dependencies, the tables other stages load).
    ``source``: also compare the live legacy database (its catalog) with ``source.columns``.
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
    if source is not None:
        check_live_source(infos, source, out)
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


def load_specs(location: Path, *, source: LiveCatalog | None = None) -> list[StageSpec]:
    """The stage specs of a mapping directory, or :class:`MappingError` with every problem."""
    return validate(location, source=source).raise_for_problems()


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


__all__ = ["LiveCatalog", "ValidationReport", "can_reject", "language_schema", "load_specs", "suggest", "validate"]
