"""The checks of one table mapping of a stage: source columns, personal data, business key,
lookups, derives, rules, targets and the accounting of every legacy column."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from pydantic import BaseModel
from sqlalchemy import Column, Table
from sqlalchemy.dialects.postgresql import ARRAY

from migration.mapping import transforms
from migration.mapping.check_common import (
    _DATASET_COLUMN,
    _DATASET_TABLE,
    _SOFT_USES,
    LOOKUP_TABLES,
    Loc,
    SetContext,
    _cycles,
    _describe_inputs,
    _exempt_columns,
    _is_data_table,
    _params_problems,
    _Ref,
    _StageInfo,
    can_reject,
    suggest,
)
from migration.mapping.keys import legacy_key_prefix
from migration.mapping.spec import (
    ColumnSpec,
    ConditionSpec,
    TableMappingSpec,
    TargetSpec,
    TransformCall,
)
from migration.mapping.transforms.base import Transform
from migration.schema import models


class _TableChecker:
    def __init__(self, owner: SetContext, info: _StageInfo, ti: int, tm: TableMappingSpec) -> None:
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


