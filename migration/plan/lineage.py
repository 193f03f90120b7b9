"""Source → target lineage of one legacy table: what happens to each of its columns.

Read straight from the spec: every target column is traced back through its ``via``
chain, derives, lookups and exploded lists to the legacy columns it comes from; legacy
columns that reach no target say why (dropped, not migrated, or only used by the key,
the delta or a rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from migration.mapping import transforms
from migration.mapping.keys import legacy_key_prefix
from migration.mapping.sourcetext import CONTROL_FLAG, TextCleaning
from migration.mapping.spec import ColumnSpec, StageSpec, TableMappingSpec
from migration.mapping.validate import suggest, validate
from migration.plan.stages import PlanError

LINEAGE_COLUMNS = ("legacy column", "through", "target", "note")


@dataclass(frozen=True)
class LineageRow:
    legacy_column: str  # "" for target columns that take no legacy value (const, default)
    through: str        # the transforms on the way, in order
    target: str         # schema.table.column, or what happens instead
    note: str = ""


@dataclass(frozen=True)
class TableLineage:
    stage: str
    file: str
    source_table: str
    rows: tuple[LineageRow, ...]
    #: problems `mappings validate` finds in the whole set (the lineage is read all the same)
    mapping_problems: int = 0


def find_table(specs: Iterable[StageSpec], table: str) -> tuple[StageSpec, TableMappingSpec]:
    """The stage and mapping of a legacy table (case-insensitive)."""
    known: list[str] = []
    for spec in specs:
        for tm in spec.tables:
            known.append(tm.source.table)
            if tm.source.table.lower() == table.lower():
                return spec, tm

    raise PlanError(f"no mapping file maps the legacy table '{table}'{suggest(table, known)}",
                    hint=f"mapped tables: {', '.join(sorted(known)) or '(none)'}")


def _fmt_value(v: object) -> str:
    return "NULL" if v is None else repr(v)


class _Tracer:
    def __init__(self, tm: TableMappingSpec) -> None:
        self.tm = tm

    def trace(self, ref: str, depth: int = 0) -> list[tuple[str, list[str]]]:
        """(legacy column, steps from it to ``ref``) for every legacy column behind ``ref``."""
        tm = self.tm
        if depth > 50:  # a derive cycle (validation reports it)
            return []
        if ref == "key":
            keys = [(c, ["business key"]) for c in tm.business_key.columns]
            prefix = legacy_key_prefix(tm)
            if prefix is not None and tm.source.key is not None:
                keys.append((tm.source.key, [f"legacy key when the business key is blank ({prefix}<n>)"]))
            return keys
        if ref == "key.flags":
            return [(c, ["business key (key_blank: loaded under the legacy key)"]) for c in tm.business_key.columns]
        head, dot, out = ref.partition(".")
        if not dot:
            return [(ref, [])]
        if head == "row":
            for tspec in tm.targets.values():
                for ex in tspec.explode:
                    if ex.name == out:
                        return [(c, steps + [f"each item of {ex.from_}"]) for c, steps in self.trace(ex.from_, depth + 1)]
            return []
        if head in tm.derive:
            d = tm.derive[head]
            label = f"{d.transform} ({head}" + ("" if out == "value" else f".{out}") + ")"
            found: list[tuple[str, list[str]]] = []
            for a in d.args:
                found += [(c, steps + [label]) for c, steps in self.trace(a, depth + 1)]
            return found
        if head in tm.lookups:
            lk = tm.lookups[head]
            return [(src, [f"lookup {lk.table}.{out}"]) for src in lk.match.values()]
        col = head.removeprefix("scrub_")
        if head.startswith("scrub_") and col in tm.personal_data.scrub:
            return [(col, [f"{tm.personal_data.scrub[col]} (scrub" + ("" if out == "value" else f".{out}") + ")"])]
        return [(ref, [])]

    def column(self, target: str, spec: ColumnSpec) -> list[LineageRow]:
        kind = spec.kind
        if kind == "const":
            return [LineageRow("", f"const {_fmt_value(spec.const)}", target)]
        if kind == "default":
            return [LineageRow("", f"default {_fmt_value(spec.default)}", target)]
        if kind == "flags":
            flag_rows: list[LineageRow] = []
            for d in spec.flags or []:
                for col, steps in self.trace(f"{d}.flags"):
                    row = LineageRow(col, " → ".join(steps), target, "data-quality flags")
                    if row not in flag_rows:
                        flag_rows.append(row)

            if TextCleaning.of(self.tm).kinds:
                flag_rows.append(LineageRow("", f"{CONTROL_FLAG} when text cleaning removed control characters",
                                            target, "data-quality flags"))
            return flag_rows or [LineageRow("", "no flags", target)]
        via = [c.name for c in spec.via]
        rows = []
        for ref in spec.from_ or []:
            for col, steps in self.trace(ref):
                rows.append(LineageRow(col, " → ".join(steps + via) or "as is", target))
        return rows


def lineage(specs: Iterable[StageSpec], table: str) -> TableLineage:
    """Every legacy column of ``table`` and every target column it feeds, in a readable order."""
    spec, tm = find_table(specs, table)
    tracer = _Tracer(tm)
    mapped: list[LineageRow] = []
    fixed: list[LineageRow] = []
    for tname, tspec in tm.targets.items():
        for col, cspec in tspec.columns.items():
            for row in tracer.column(f"{tname}.{col}", cspec):
                (mapped if row.legacy_column else fixed).append(row)
        if tspec.link:
            fixed.append(LineageRow("", f"key of the {tspec.link} row", f"{tname} (link)"))
    scrub = tm.personal_data.scrub
    by_column: dict[str, list[LineageRow]] = {}
    for row in mapped:
        if row.legacy_column in scrub:
            row = LineageRow(row.legacy_column, f"scrubbed by {scrub[row.legacy_column]} → {row.through}",
                             row.target, row.note)
        by_column.setdefault(row.legacy_column, []).append(row)
    other_uses = _other_uses(tm)
    rows: list[LineageRow] = []
    for c in tm.source.columns:
        if c in tm.personal_data.drop:
            rows.append(LineageRow(c, "", "dropped", "personal data: never extracted"))
        elif c in by_column:
            note = "; ".join(other_uses.get(c, []))
            for i, r in enumerate(by_column[c]):
                first = "; ".join(n for n in (note, r.note) if n)
                rows.append(LineageRow(r.legacy_column, r.through, r.target, first if i == 0 else r.note))
        elif c in tm.not_migrated:
            rows.append(LineageRow(c, "", "not migrated", tm.not_migrated[c]))
        elif c in scrub:
            rows.append(LineageRow(c, f"scrubbed by {scrub[c]}", "scrubbed", "; ".join(other_uses.get(c, []))))
        elif c in other_uses:
            rows.append(LineageRow(c, "", "—", "; ".join(other_uses[c])))
        else:
            rows.append(LineageRow(c, "", "—", "not accounted for (see `mappings validate`)"))
    return TableLineage(stage=spec.stage, file=spec.file, source_table=tm.source.table, rows=tuple(rows + fixed))


def lineage_of(location: Path, table: str) -> TableLineage:
    """Lineage of a legacy table from the mapping files, even when some of them have problems."""
    report = validate(location)
    found = lineage(report.specs, table)
    return replace(found, mapping_problems=len(report.problems))


def _other_uses(tm: TableMappingSpec) -> dict[str, list[str]]:
    """Uses of legacy columns that are not target values: keys, delta, rules, duplicates."""
    uses: dict[str, list[str]] = {}
    tracer = _Tracer(tm)

    def add(ref: str, what: str) -> None:
        for c, _ in tracer.trace(ref):
            if what not in uses.setdefault(c, []):
                uses[c].append(what)

    if tm.source.key:
        add(tm.source.key, "source key")
    for c in tm.business_key.columns:
        add(c, "business key")
    if tm.source.delta is not None:
        for attr in ("watermark_column", "batch_column"):
            v = getattr(tm.source.delta, attr)
            if v:
                add(v, f"delta {attr.removesuffix('_column')}")
    for kind, rules in (("filter", tm.filters), ("quarantine", tm.quarantine)):
        for rule in rules:
            if rule.reject:
                reason = "reject"
                t = transforms.REGISTRY.get(tm.derive[rule.reject].transform) if rule.reject in tm.derive else None
                if t is not None:
                    reason = f"{t.name} reject"
                add(f"{rule.reject}.reject", f"{kind} on {reason}")
            if rule.when and rule.when.column:
                add(rule.when.column, f"{kind} {rule.reason}")
    if tm.duplicates is not None:
        for w in tm.duplicates.winner:
            add(w.expr, "duplicate winner")
        for p in tm.duplicates.partition or []:
            add(p, "duplicate group")
    return uses
