"""The Python reference of a table mapping: one legacy row in, its fate and target rows out.

Reconciliation computes expected target values with this (never with the load's engine),
and tests prove :mod:`migration.steps.engine` gives the same on the same rows.  It reads
every transform's ``py`` reference only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from migration.mapping import keys as key_rule
from migration.mapping import transforms
from migration.mapping.order import derive_order
from migration.mapping.sourcetext import CONTROL_FLAG, TextCleaning
from migration.mapping.spec import ColumnSpec, ConditionSpec, TableMappingSpec
from migration.mapping.transforms.text import clean


@dataclass
class RowOutcome:
    key: str | None                # the effective key (``RecID:<n>`` for a blank one loaded under it)
    disp: str                      # load | filter | quarantine
    reason: str | None
    fields: tuple[str, ...] | None
    #: target table → list of column dicts (several for exploded targets)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: the business key as quarantine and disposition records carry it (None = blank)
    business_key: str | None = None


def _text_of(x: Any) -> str | None:
    if x is None:
        return None
    if isinstance(x, bool):
        return "true" if x else "false"
    return str(x)


class RowEvaluator:
    def __init__(self, tm: TableMappingSpec, lookups: Mapping[str, Any],
                 lookup_tables: Mapping[str, Mapping[tuple[str | None, ...], Mapping[str, Any]]]) -> None:
        self.tm = tm
        self.lookups = lookups
        self.lookup_tables = lookup_tables
        self.extracted = [c for c in tm.source.columns if c not in set(tm.personal_data.drop)]
        self._params = {name: transforms.get(d.transform).parse_params(d.params) for name, d in tm.derive.items()}
        self._via_params: dict[tuple[str, int], Any] = {}
        self._order = derive_order(tm)
        self.text = TextCleaning.of(tm)

    def evaluate(self, row: Mapping[str, Any], source_key: Any = None) -> RowOutcome:
        """One legacy row's outcome; ``source_key`` is its legacy primary key as text (what a
        blank business key loads under)."""
        tm = self.tm
        prefix = key_rule.legacy_key_prefix(tm)
        if source_key is None and tm.source.key is not None:
            source_key = row.get(tm.source.key)
        row = {c: row.get(c) for c in self.extracted}
        ctl = self.text.row(row)  # control characters out of every non-key text column
        env: dict[str, Any] = dict(row)
        for col, tname in tm.personal_data.scrub.items():
            t = transforms.get(tname)
            out = t.py(t.parse_params({}), self.lookups, env.get(col))
            for o, v in zip(t.outputs, out, strict=True):
                env[f"scrub_{col}.{o}"] = v
            env[col] = env[f"scrub_{col}.value"]
        derived_key = any("." in c for c in tm.business_key.columns)

        state, bkey = key_rule.OK, None

        def business_key() -> str | None:
            nonlocal state, bkey
            state, bkey = key_rule.key_state([env.get(c) for c in tm.business_key.columns], prefix)
            env["key.flags"] = key_rule.key_flags(state, prefix)
            return key_rule.effective_key(state, bkey, source_key, prefix)

        key = None if derived_key else business_key()
        env["key"] = key
        env["_ctl"] = ctl
        for name, spec in tm.lookups.items():
            k = tuple(clean(row.get(src)) for src in spec.match.values())
            found = self.lookup_tables[name].get(k) if None not in k else None
            for c in spec.columns:
                env[f"{name}.{c}"] = None if found is None else found[c]
        for name in self._order:
            dspec = tm.derive[name]
            t = transforms.get(dspec.transform)
            values = t.py(self._params[name], self.lookups, *[env[a] for a in dspec.args])
            for o, v in zip(t.outputs, values, strict=True):
                env[f"{name}.{o}"] = v
        if derived_key:
            key = business_key()
            env["key"] = key
        disp, reason, fields = self._disposition(env, key, state)
        outcome = RowOutcome(key=key, disp=disp, reason=reason, fields=fields,
                             business_key=key_rule.printable(bkey))
        for tname, tspec in tm.targets.items():
            base: dict[str, Any] = {}
            row_cols: dict[str, str] = {}
            for col, cspec in tspec.columns.items():
                if cspec.from_ and len(cspec.from_) == 1 and cspec.from_[0].startswith("row."):
                    row_cols[col] = cspec.from_[0].split(".", 1)[1]
                    continue
                base[col] = self._column(env, cspec, (tname, col))
            if not all(self._condition(env, w) for w in tspec.where):
                outcome.rows[tname] = []
                continue
            rows = [base]
            for ex in tspec.explode:
                items = env[ex.from_] or ()
                rows = [{**r, "__" + ex.name: item} for r in rows for item in items]
            result: list[dict[str, Any]] = []
            for r in rows:
                target_row = {k: v for k, v in r.items() if not k.startswith("__")}
                for col, name in row_cols.items():
                    target_row[col] = r.get("__" + name)
                result.append(target_row)
            outcome.rows[tname] = result
        return outcome

    def _condition(self, env: Mapping[str, Any], cond: ConditionSpec) -> bool:
        assert cond.column is not None
        v = env[cond.column]
        if cond.column in self.extracted:
            v = clean(v)
        t = _text_of(v)
        if cond.is_null is not None:
            return (t is None) == cond.is_null
        if cond.not_null is not None:
            return (t is not None) == cond.not_null
        assert cond.in_ is not None
        return t is not None and t in {_text_of(x) for x in cond.in_}

    def _disposition(self, env: Mapping[str, Any], key: str | None, state: str
                     ) -> tuple[str, str | None, tuple[str, ...] | None]:
        tm = self.tm
        if key is None:
            return "quarantine", key_rule.REASONS.get(state, "BLANK_KEY"), tuple(tm.business_key.columns)
        for rule in tm.filters:
            if rule.when is not None:
                if self._condition(env, rule.when):
                    return "filter", rule.reason or "FILTERED", tuple(rule.fields)
            elif env[f"{rule.reject}.reject"] is not None:
                return "filter", env[f"{rule.reject}.reject"], tuple(rule.fields)
        for rule in tm.quarantine:
            if rule.reject is not None:
                r = env[f"{rule.reject}.reject"]
                if r is not None:
                    return "quarantine", r, tuple(rule.fields)
            else:
                assert rule.when is not None
                if self._condition(env, rule.when):
                    return "quarantine", rule.reason, tuple(rule.fields)
        return "load", None, None

    def _column(self, env: Mapping[str, Any], spec: ColumnSpec, where: tuple[str, str]) -> Any:
        kind = spec.kind
        if kind == "const":
            return spec.const
        if kind == "default":
            return spec.default
        if kind == "flags":
            out: tuple[str, ...] = ()
            for d in spec.flags or []:
                out += tuple(env[f"{d}.flags"] or ())
            if env.get("_ctl"):
                out += (CONTROL_FLAG,)
            return out
        assert spec.from_ is not None
        values = [env[r] for r in spec.from_]
        if not spec.via:
            return values[0]
        for i, call in enumerate(spec.via):
            key = (where[0] + "." + where[1], i)
            t = transforms.get(call.name)
            if key not in self._via_params:
                self._via_params[key] = t.parse_params(call.params)
            values = [t.py(self._via_params[key], self.lookups, *values)[0]]
        return values[0]
