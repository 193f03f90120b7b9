"""The one run order of the stages, the validated, ordered stage specs of a mapping folder,
and the order a table mapping's derives are computed in (:func:`derive_order`).

Every part that needs the stages in order (the plan, reconciliation, rollback, reports,
audits) takes them from here: dependencies first, otherwise by file name, then stage
name, so the author controls the order ``depends_on`` leaves open by naming files
``10_reference.yaml``, ``20_…``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from migration.errors import MappingError
from migration.mapping.loader import load_file, mapping_files
from migration.mapping.spec import StageSpec, TableMappingSpec
from migration.mapping.validate import validate


def stage_order(specs: Iterable[StageSpec]) -> list[StageSpec]:
    """Dependencies first (a depth-first walk); otherwise by file name, then stage name."""
    specs = sorted(specs, key=lambda s: (Path(s.file).name, s.stage))
    by_name = {s.stage: s for s in specs}
    if len(by_name) != len(specs):
        raise MappingError(["two stages share a name"])
    out: list[StageSpec] = []
    done: set[str] = set()

    def visit(s: StageSpec, stack: tuple[str, ...]) -> None:
        if s.stage in done:
            return
        if s.stage in stack:
            raise MappingError([f"stage dependency cycle: {' → '.join(stack + (s.stage,))}"])
        for d in s.depends_on:
            if d not in by_name:
                raise MappingError([f"{s.file}: stage {s.stage} depends on unknown stage {d}"])
            visit(by_name[d], stack + (s.stage,))
        done.add(s.stage)
        out.append(s)

    for s in specs:
        visit(s, ())
    return out


def validated_specs(directory: Path) -> tuple[list[StageSpec], list[Path]]:
    """The stage specs of a mapping folder, fully validated, in run order, with their files.

    The files are checked as a set of their own (coverage of the whole target model is
    `mappings validate`'s to judge); every problem is in the :class:`MappingError`."""
    files = mapping_files(directory)
    if not files:
        raise MappingError([f"{directory}: no mapping files (*.yaml)"],
                           hint="point --mappings (or SAFESTATS_MAPPINGS_DIR) at the mapping folder")
    return stage_order(validate(files).raise_for_problems()), files


def load_stage_specs(directory: Path) -> list[StageSpec]:
    """:func:`validated_specs` without the files."""
    return validated_specs(directory)[0]


def parsed_specs(directory: Path) -> list[StageSpec]:
    """The stage specs of a mapping folder in run order, each file parsed against the language
    only (its schema), not checked against the target model: what rollback, reconciliation,
    reports and audits need to find the stages of a migration that may since have been
    edited.  ``plan`` and ``run`` use :func:`validated_specs`."""
    files = mapping_files(directory)
    if not files:
        raise MappingError([f"{directory}: no mapping files (*.yaml)"],
                           hint="point --mappings (or SAFESTATS_MAPPINGS_DIR) at the mapping folder")
    specs, problems = [], []
    for f in files:
        lf = load_file(f)
        problems += [str(p) for p in lf.problems]
        if lf.spec is not None:
            specs.append(lf.spec)
    if problems:
        raise MappingError(problems)
    return stage_order(specs)


def derive_order(tm: TableMappingSpec) -> list[str]:
    """The derives of a table mapping, each after the derives whose outputs it reads (the
    Polars engine and the row-by-row reference both compute them in this order)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in seen:
            return
        if name in stack:
            raise ValueError(f"derive cycle: {' → '.join(stack + (name,))}")
        for a in tm.derive[name].args:
            head = a.split(".", 1)[0]
            if "." in a and head in tm.derive:
                visit(head, stack + (name,))
        seen.add(name)
        order.append(name)

    for name in tm.derive:
        visit(name, ())
    return order


__all__ = ["derive_order", "load_stage_specs", "parsed_specs", "stage_order", "validated_specs"]
