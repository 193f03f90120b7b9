"""The expected outcome of every legacy row, from the mapping's Python reference.

Reconciliation computes what the target must hold with the Python reference of each
mapping — :class:`migration.mapping.evaluate.RowEvaluator`, which applies every
transform's ``py`` form row by row — and never with the load's vectorised engine
(:mod:`migration.steps.engine`, Polars).  ``RowEvaluator.evaluate`` costs 200–330 µs a
row here (it re-reads the pydantic specs for every column of every row): ten times the
whole load of tblMPSCrime.  :class:`ChunkReference` computes the *same function* over a
chunk of rows at a time:

- everything ``RowEvaluator.evaluate`` derives from the spec (column kinds, transform
  objects, parsed parameters, derive order, rules) is resolved once, at construction;
- each derive, ``via`` step and scrubber is applied column by column, calling its ``py``
  reference once per *distinct* input tuple of the chunk (and memoised across chunks).
  The references are pure (their contract, tested with hypothesis), so this is the same
  function.  Inputs are told apart by type as well as value (``1``, ``1.0`` and ``True``
  are equal in Python; two equal instants in different zones too), and inputs of types
  without an exact key (floats, Decimals, anything unknown) are never shared.

A differential test (tests/reconcile/test_reference.py) proves that
:meth:`ChunkReference.outcomes` equals ``RowEvaluator.evaluate`` on every row of the
generated legacy database and on the hostile fixture rows of the mapping tests, for every
table mapping.  ``SAFESTATS_RECONCILE_REFERENCE=plain`` makes reconciliation run
``RowEvaluator.evaluate`` itself, row by row (slow; for audits of this module).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain
from typing import Any

from migration.mapping import keys as key_rule
from migration.mapping import transforms
from migration.mapping.evaluate import RowEvaluator, RowOutcome, _text_of
from migration.mapping.sourcetext import CONTROL_FLAG, TextCleaning
from migration.mapping.spec import ConditionSpec, TableMappingSpec
from migration.mapping.transforms.text import clean

_MEMO_LIMIT = 50_000
#: output types whose Python values are exact cache keys on their own
_EXACT_TYPES = frozenset({"text", "integer", "bigint", "boolean", "date", "text[]"})
_NO_KEY = object()


def _memo_key(v: Any) -> Any:
    """An exact cache key for a transform input, or _NO_KEY when there is none."""
    t = type(v)
    if v is None or t is str:
        return v
    if t is int or t is bool or t is date:
        return (t, v)
    if t is datetime:
        return (t, v, v.tzinfo, v.fold)
    if t is tuple:
        parts = tuple(_memo_key(x) for x in v)
        return _NO_KEY if any(p is _NO_KEY for p in parts) else (t, parts)
    return _NO_KEY


@dataclass
class TargetRows:
    """The rows one source chunk gives a target table: ``source[i]`` is the chunk row that
    gave row ``i``; ``columns`` hold the values, aligned with ``source``."""

    source: list[int]
    columns: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(self.source)


@dataclass
class ChunkOutcome:
    """What the reference says about each row of a chunk (``RowOutcome`` per column)."""

    size: int
    key: list[str | None]
    disp: list[str]
    reason: list[str | None]
    fields: list[tuple[str, ...] | None]
    targets: dict[str, TargetRows] = field(default_factory=dict)
    #: the business key each row's quarantine/disposition record carries (None = blank)
    business_key: list[str | None] = field(default_factory=list)

    def rows(self) -> list[RowOutcome]:
        """Every row as the ``RowOutcome`` ``RowEvaluator.evaluate`` returns (for the differential test)."""
        out = [RowOutcome(key=self.key[i], disp=self.disp[i], reason=self.reason[i], fields=self.fields[i],
                          business_key=self.business_key[i] if self.business_key else None)
               for i in range(self.size)]
        for tname, rows in self.targets.items():
            for o in out:
                o.rows[tname] = []
            for j, s in enumerate(rows.source):
                out[s].rows[tname].append({c: vals[j] for c, vals in rows.columns.items()})
        return out


class _Call:
    """One transform with parsed parameters, applied column-wise over distinct inputs.

    ``text_args``: every input is known to be of one exact type (text, integers, booleans,
    dates, text arrays) or NULL, so the inputs themselves are exact cache keys."""

    def __init__(self, name: str, params: Any, lookups: Mapping[str, Any], text_args: bool = False) -> None:
        t = transforms.get(name)
        self.name = name
        self.py = t.py
        self.params = params
        self.lookups = lookups
        self.width = len(t.outputs)
        self.text_args = text_args
        self.memo: dict[Any, tuple[Any, ...]] = {}
        #: memoising pays only when inputs repeat; a call whose inputs are mostly distinct
        #: (dates with times, grid references) stops caching after its first chunk
        self.use_memo = True
        self.calls = 0

    def one(self, *args: Any) -> tuple[Any, ...]:
        return self.py(self.params, self.lookups, *args)

    def columns(self, args: Sequence[list[Any]], n: int) -> list[tuple[Any, ...]] | list[list[Any]]:
        """The outputs over ``n`` rows, output by output (each a sequence of n values)."""
        memo = self.memo
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        py, params, lookups = self.py, self.params, self.lookups
        single = len(args) == 1
        inputs: Any = args[0] if single else list(zip(*args, strict=True))
        results: list[tuple[Any, ...]]
        if not self.use_memo:
            results = ([py(params, lookups, v) for v in inputs] if single
                       else [py(params, lookups, *tup) for tup in inputs])
        elif self.text_args:
            for k in set(inputs) - memo.keys():
                memo[k] = py(params, lookups, k) if single else py(params, lookups, *k)
            results = [memo[k] for k in inputs]
        else:
            results = []
            append = results.append
            for v in inputs:
                k = _memo_key(v)
                if k is _NO_KEY:
                    append(py(params, lookups, v) if single else py(params, lookups, *v))
                    continue
                r = memo.get(k)
                if r is None:
                    r = py(params, lookups, v) if single else py(params, lookups, *v)
                    memo[k] = r
                append(r)
        self.calls += n
        if self.use_memo and self.calls >= 20_000 and len(memo) > 0.5 * self.calls:
            self.use_memo = False
            memo.clear()
        if not results:
            return [[] for _ in range(self.width)]
        return list(zip(*results, strict=True))


class ChunkReference:
    """``RowEvaluator.evaluate`` over a chunk, column by column (see the module docstring)."""

    def __init__(self, tm: TableMappingSpec, lookups: Mapping[str, Any],
                 lookup_tables: Mapping[str, Mapping[tuple[str | None, ...], Mapping[str, Any]]]) -> None:
        plain = RowEvaluator(tm, lookups, lookup_tables)
        self.plain = plain
        self.tm = tm
        self.extracted = list(plain.extracted)
        self._raw = frozenset(self.extracted)
        self.text = TextCleaning.of(tm)
        self.scrubs = []
        for col, tname in tm.personal_data.scrub.items():
            t = transforms.get(tname)
            self.scrubs.append((col, _Call(tname, t.parse_params({}), lookups, text_args=True),
                                [f"scrub_{col}.{o}" for o in t.outputs]))
        self.key_columns = list(tm.business_key.columns)
        self.key_prefix = key_rule.legacy_key_prefix(tm)
        self.derived_key = any("." in c for c in self.key_columns)
        self.lookup_specs = [(name, list(spec.match.values()), lookup_tables[name], list(spec.columns))
                             for name, spec in tm.lookups.items()]
        # references whose values are exact cache keys (no two distinct values compare equal):
        # decoded source columns and the key (text), transform outputs typed text, integer,
        # bigint, boolean, date or text[], and lookup columns holding only text or only integers
        self._text_refs: set[str] = set(self.extracted) | {"key"}
        for col, tname in tm.personal_data.scrub.items():
            for o, typ in transforms.get(tname).outputs.items():
                if typ in _EXACT_TYPES:
                    self._text_refs.add(f"scrub_{col}.{o}")
        for name, spec in tm.lookups.items():
            for c in spec.columns:
                kinds = {type(row[c]) for row in lookup_tables[name].values() if row[c] is not None}
                if kinds <= {str} or kinds <= {int}:
                    self._text_refs.add(f"{name}.{c}")
        self.derives = []
        for name in plain._order:
            d = tm.derive[name]
            t = transforms.get(d.transform)
            self.derives.append((_Call(d.transform, plain._params[name], lookups,
                                       text_args=all(a in self._text_refs for a in d.args)), list(d.args),
                                 [f"{name}.{o}" for o in t.outputs]))
            self._text_refs.update(f"{name}.{o}" for o, typ in t.outputs.items() if typ in _EXACT_TYPES)
        self.rules: list[tuple[str, ConditionSpec | None, str | None, str | None, tuple[str, ...]]] = []
        for rule in tm.filters:
            self.rules.append(("filter", rule.when, rule.reject, rule.reason or "FILTERED", tuple(rule.fields)))
        for rule in tm.quarantine:
            self.rules.append(("quarantine", rule.when, rule.reject, rule.reason, tuple(rule.fields)))
        self.targets = []
        for tname, tspec in tm.targets.items():
            base: list[tuple[str, str, Any]] = []
            row_cols: dict[str, str] = {}
            for col, cspec in tspec.columns.items():
                if cspec.from_ and len(cspec.from_) == 1 and cspec.from_[0].startswith("row."):
                    row_cols[col] = cspec.from_[0].split(".", 1)[1]
                    continue
                kind = cspec.kind
                if kind in ("const", "default"):
                    base.append((col, "value", cspec.const if kind == "const" else cspec.default))
                elif kind == "flags":
                    base.append((col, "flags", [f"{d}.flags" for d in (cspec.flags or [])]))
                else:
                    assert cspec.from_ is not None
                    calls = []
                    text_in = all(r in self._text_refs for r in cspec.from_)
                    for call in cspec.via:
                        t = transforms.get(call.name)
                        calls.append(_Call(call.name, t.parse_params(call.params), lookups, text_args=text_in))
                        text_in = t.outputs.get("value") in _EXACT_TYPES
                    base.append((col, "from", (list(cspec.from_), calls)))
            explode = [(ex.name, ex.from_) for ex in tspec.explode]
            self.targets.append((tname, base, row_cols, list(tspec.where), explode))

    # ------------------------------------------------------------------ pieces
    def _condition(self, env: Mapping[str, list[Any]], cond: ConditionSpec, n: int) -> list[bool]:
        assert cond.column is not None
        values = env[cond.column]
        if cond.column in self._raw:
            values = [clean(v) for v in values]
        texts = [_text_of(v) for v in values]
        if cond.is_null is not None:
            want = cond.is_null
            return [(t is None) == want for t in texts]
        if cond.not_null is not None:
            want = cond.not_null
            return [(t is not None) == want for t in texts]
        assert cond.in_ is not None
        allowed = frozenset(_text_of(x) for x in cond.in_)
        return [t is not None and t in allowed for t in texts]

    def _keys(self, env: dict[str, list[Any]], n: int, source_keys: list[Any]) -> tuple[list[str | None], list[str]]:
        """Effective keys and key states of ``n`` rows (the business-key rule, row by row); sets
        ``key.flags`` and ``_bkey`` in ``env``."""
        prefix = self.key_prefix
        cols = [env[c] for c in self.key_columns]
        states: list[str] = []
        keys: list[str | None] = []
        recorded: list[str | None] = []
        flags: list[tuple[str, ...]] = []
        for i in range(n):
            st, bkey = key_rule.key_state([c[i] for c in cols], prefix)
            states.append(st)
            keys.append(key_rule.effective_key(st, bkey, source_keys[i], prefix))
            recorded.append(key_rule.printable(bkey))
            flags.append(key_rule.key_flags(st, prefix))
        env["key.flags"] = flags
        env["_bkey"] = recorded
        return keys, states

    # ------------------------------------------------------------------ evaluation
    def values(self, columns: Mapping[str, list[Any]], n: int, refs: Sequence[str]) -> dict[str, list[Any]]:
        """The values of ``refs`` (derive outputs) for ``n`` rows, as :meth:`evaluate` computes them."""
        env: dict[str, list[Any]] = {}
        self.evaluate(columns, n, env=env)
        return {r: env[r] for r in refs}

    def evaluate(self, columns: Mapping[str, list[Any]], n: int,
                 env: dict[str, list[Any]] | None = None) -> ChunkOutcome:
        """The reference outcome of ``n`` rows given as columns of decoded text (``env``, when
        given, receives every value computed on the way)."""
        env = {} if env is None else env
        cleaned = dict(columns)
        ctl = self.text.columns(cleaned, n)  # control characters out of every non-key text column
        columns = cleaned
        env.update({c: (columns[c] if c in columns else [None] * n) for c in self.extracted})
        for col, call, outs in self.scrubs:
            values = call.columns([env[col]], n)
            for o, v in zip(outs, values, strict=True):
                env[o] = list(v)
            env[col] = env[f"scrub_{col}.value"]
        skeys = (columns[self.tm.source.key] if self.tm.source.key is not None and self.tm.source.key in columns
                 else [None] * n)
        states: list[str] = [key_rule.OK] * n
        key: list[str | None] = [None] * n
        if not self.derived_key:
            key, states = self._keys(env, n, skeys)
        env["key"] = key
        for name, sources, table, cols in self.lookup_specs:
            raw = (env_src(columns, sources[0], n) if len(sources) == 1
                   else list(zip(*[env_src(columns, s, n) for s in sources], strict=True)))
            hit: dict[Any, Any] = {}
            for r in set(raw):
                k = (clean(r),) if len(sources) == 1 else tuple(clean(x) for x in r)
                hit[r] = None if None in k else table.get(k)
            found = [hit[r] for r in raw]
            for c in cols:
                env[f"{name}.{c}"] = [None if f is None else f[c] for f in found]
        for call, args, outs in self.derives:
            values = call.columns([env[a] for a in args], n)
            for o, v in zip(outs, values, strict=True):
                env[o] = v if isinstance(v, list) else list(v)
        if self.derived_key:
            key, states = self._keys(env, n, skeys)
            env["key"] = key
        disp = ["load"] * n
        reason: list[str | None] = [None] * n
        fields: list[tuple[str, ...] | None] = [None] * n
        decided = [False] * n
        for i in range(n):
            if key[i] is None:
                disp[i], reason[i], fields[i], decided[i] = (
                    "quarantine", key_rule.REASONS.get(states[i], "BLANK_KEY"), tuple(self.key_columns), True)
        for d, when, reject, fixed, rule_fields in self.rules:
            if all(decided):
                break
            if when is not None:
                hits = self._condition(env, when, n)
                for i in range(n):
                    if not decided[i] and hits[i]:
                        disp[i], reason[i], fields[i], decided[i] = d, fixed, rule_fields, True
            else:
                rejects = env[f"{reject}.reject"]
                for i in range(n):
                    if not decided[i] and rejects[i] is not None:
                        disp[i], reason[i], fields[i], decided[i] = d, rejects[i], rule_fields, True
        outcome = ChunkOutcome(size=n, key=key, disp=disp, reason=reason, fields=fields, business_key=env["_bkey"])
        for tname, base, row_cols, wheres, explode in self.targets:
            tvalues: dict[str, list[Any]] = {}
            for col, kind, spec in base:
                if kind == "value":
                    tvalues[col] = [spec] * n
                elif kind == "flags":
                    parts = [env[f] for f in spec]
                    if ctl is not None:
                        parts.append([(CONTROL_FLAG,) if f else () for f in ctl])
                    if not parts:
                        tvalues[col] = [()] * n
                    else:
                        tvalues[col] = [tuple(chain.from_iterable(p for p in ps if p)) for ps in zip(*parts, strict=True)]
                else:
                    refs, calls = spec
                    current = [env[r] for r in refs]
                    for call in calls:
                        current = [list(call.columns(current, n)[0])]
                    tvalues[col] = current[0]
            keep = list(range(n))
            for w in wheres:
                hits = self._condition(env, w, n)
                keep = [i for i in keep if hits[i]]
            if not explode and not row_cols:
                if len(keep) == n:
                    outcome.targets[tname] = TargetRows(keep, {c: list(v) for c, v in tvalues.items()})
                else:
                    outcome.targets[tname] = TargetRows(keep, {c: [v[i] for i in keep] for c, v in tvalues.items()})
                continue
            source: list[int] = []
            combos_out: list[dict[str, Any]] = []
            for i in keep:
                combos: list[dict[str, Any]] = [{}]
                for name, src in explode:
                    seq = env[src][i] or ()
                    combos = [{**c, name: item} for c in combos for item in seq]
                for combo in combos:
                    source.append(i)
                    combos_out.append(combo)
            tcols: dict[str, list[Any]] = {c: [v[i] for i in source] for c, v in tvalues.items()}
            for col, name in row_cols.items():
                tcols[col] = [it.get(name) for it in combos_out]
            outcome.targets[tname] = TargetRows(source, tcols)
        return outcome

    def outcomes(self, rows: Sequence[Mapping[str, Any]]) -> list[RowOutcome]:
        """Row dicts in, ``RowOutcome`` per row out (for the differential test)."""
        n = len(rows)
        columns = {c: [r.get(c) for r in rows] for c in self.extracted}
        return self.evaluate(columns, n).rows()


def env_src(columns: Mapping[str, list[Any]], name: str, n: int) -> list[Any]:
    return columns[name] if name in columns else [None] * n


class PlainReference:
    """``RowEvaluator.evaluate`` row by row, shaped as a :class:`ChunkOutcome` (audit mode)."""

    def __init__(self, tm: TableMappingSpec, lookups: Mapping[str, Any],
                 lookup_tables: Mapping[str, Mapping[tuple[str | None, ...], Mapping[str, Any]]]) -> None:
        self.plain = RowEvaluator(tm, lookups, lookup_tables)
        self.tm = tm
        self.extracted = list(self.plain.extracted)

    def evaluate(self, columns: Mapping[str, list[Any]], n: int) -> ChunkOutcome:
        names = [c for c in self.extracted if c in columns]
        out = ChunkOutcome(size=n, key=[], disp=[], reason=[], fields=[])
        for i in range(n):
            o = self.plain.evaluate({c: columns[c][i] for c in names})
            out.key.append(o.key)
            out.business_key.append(o.business_key)
            out.disp.append(o.disp)
            out.reason.append(o.reason)
            out.fields.append(o.fields)
            for tname, rows in o.rows.items():
                tr = out.targets.setdefault(tname, TargetRows([], {}))
                for r in rows:
                    for c, v in r.items():
                        tr.columns.setdefault(c, [None] * len(tr.source)).append(v)
                    tr.source.append(i)
        for tname in self.tm.targets:
            out.targets.setdefault(tname, TargetRows([], {}))
        return out


Reference = ChunkReference | PlainReference


def reference_for(tm: TableMappingSpec, lookups: Mapping[str, Any],
                  lookup_tables: Mapping[str, Mapping[tuple[str | None, ...], Mapping[str, Any]]]) -> Reference:
    """The evaluator reconciliation uses: column-wise, or ``RowEvaluator`` itself on request."""
    if os.environ.get("SAFESTATS_RECONCILE_REFERENCE") == "plain":
        return PlainReference(tm, lookups, lookup_tables)
    return ChunkReference(tm, lookups, lookup_tables)


__all__ = ["ChunkOutcome", "ChunkReference", "PlainReference", "Reference", "TargetRows", "reference_for",
           "Callable"]
