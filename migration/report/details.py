"""Reading the ``detail`` JSON of ``ledger.check_result`` rows, whatever check wrote them.

The report knows two shapes well and renders everything else as a key/value table:

* **differing keys** — lists of rows that differ between source and target, each with its
  business key and, for changed rows, the columns with their source ("before") and target
  ("after") values; or plain lists of keys missing from / extra in / duplicated in the
  target;
* **buckets** — source-vs-target counts per bucket (month, borough, dataset, or any
  combination), which become the charts.

The reconciliation checks choose the exact key names; the vocabulary below accepts the
usual spellings (``before``/``source``/``expected``, ``after``/``target``/``actual``…) so a
renamed key degrades to the key/value table instead of disappearing.

Everything that leaves this module is *clean*: every string has been through
:func:`migration.secrets.scrub`, and any value under a key that names something sensitive
(password, token, NHS number, patient, e-mail, phone, date of birth) is replaced by the
mask, even though the checks mask those values themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from migration.report.model import DetailTable, Difference
from migration.secrets import MASK, scrub

#: a key naming something that must never be shown, whatever the check wrote under it
SENSITIVE_KEY = re.compile(r"(?i)pass(word|wd|phrase)?|pwd|secret|token|credential|nhs|patient|birth|\bdob\b|"
                           r"e-?mail|phone|mobile|api_?key|private")
#: longest value shown; a before/after value longer than this is cut (the ledger has it all)
MAX_VALUE_CHARS = 200

_DIFF_LISTS = ("differences", "differing", "differing_keys", "differing_rows", "diffs", "mismatches",
               "changed", "changed_rows", "samples", "sample", "rows")
_KEY_LISTS = {
    "missing": "missing", "missing_keys": "missing", "missing_in_target": "missing", "missing_from_target": "missing",
    "duplicate_rows": "duplicate",
    "extra": "extra", "extra_keys": "extra", "extra_in_target": "extra", "unexpected": "extra",
    "duplicates": "duplicate", "duplicate_keys": "duplicate", "duplicated": "duplicate",
}
_KIND_ORDER = {"missing": 0, "extra": 1, "duplicate": 2, "changed": 3, "bucket": 4}
_BUCKET_LISTS = ("buckets", "bucket_counts", "control_totals", "totals", "by_month", "per_month", "months",
                 "by_borough", "per_borough", "boroughs", "by_dataset", "per_dataset", "by_bucket")
_KEY_FIELDS = ("key", "keys", "business_key", "bucket")
#: fields that say a dict is a row's identity (its business key, spelt out field by field)
_KEY_HINTS = _KEY_FIELDS + ("source_key", "source_ref", "pk", "id", "legacy_pk")
#: fields of a differing row that are about it, not part of its key
_ROW_META = frozenset(("table", "kind", "type", "status", "column", "name", "field", "col", "count", "n",
                       "source_key", "copies", "masked", "measure", "difference", "tolerance"))
_BEFORE = ("before", "source", "expected", "old", "src", "source_value", "legacy")
_AFTER = ("after", "target", "actual", "new", "tgt", "target_value", "migrated")
_COLUMN_MAPS = ("columns", "values", "diff", "changes", "changed_columns", "fields")
_COLUMN_NAME = ("column", "name", "field", "col", "measure")
_SOURCE_COUNT = ("source", "source_count", "src", "expected", "source_rows", "legacy")
_TARGET_COUNT = ("target", "target_count", "tgt", "actual", "target_rows", "migrated")
_COUNT_FIELDS = ("count", "rows", "n", "row_count")
#: keys of a bucket row that are values or verdicts, not dimensions
_BUCKET_VALUE_KEYS = frozenset(_SOURCE_COUNT + _TARGET_COUNT + (
    "diff", "difference", "delta", "status", "ok", "tolerance", "match", "equal", "passed"))
#: keys every check detail carries for the ledger's sake (listed last)
_BOOKKEEPING = ("load_run_id", "seconds")
_BUCKET_NESTS = ("bucket", "key", "by", "dims", "group")
_VALUE_PREFIXES = ("source_", "target_", "src_", "tgt_", "expected_", "actual_", "diff_", "delta_")
#: bucket dimensions and the spellings they come under
DIMENSIONS = {
    "month": ("month", "year_month", "period", "reporting_month", "occurred_month"),
    "borough": ("borough", "borough_name", "gss_code", "gss", "local_authority", "la", "authority"),
    "dataset": ("dataset",),
}


# --------------------------------------------------------------------------- cleaning
def clean_text(value: Any, *, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as text a person may read: scrubbed of secrets, cut to ``limit`` characters."""
    if isinstance(value, str):
        s = value
    elif isinstance(value, bool):  # as JSON spells it: the details are JSON
        s = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        s = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        s = str(value)
    s = scrub(s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def is_sensitive(name: str | None) -> bool:
    return bool(name) and SENSITIVE_KEY.search(str(name)) is not None


def clean(value: Any, *, key: str | None = None) -> Any:
    """A copy of a JSON value with every string scrubbed and sensitive keys masked."""
    if key is not None and is_sensitive(key) and value is not None and not isinstance(value, (dict, list)):
        return MASK
    if isinstance(value, Mapping):
        return {scrub(k): clean(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v, key=key) for v in value]
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return scrub(str(value))


def _shown(value: Any, column: str | None) -> str | None:
    if value is None:
        return None
    if is_sensitive(column):
        return MASK
    return clean_text(value)


def format_key(value: Any) -> str:
    """A business key as text: ``dataset=MPS, source_ref=123`` for composite keys."""
    if isinstance(value, Mapping):
        return clean_text(", ".join(f"{k}={v}" for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return clean_text(" / ".join(str(v) for v in value))
    return clean_text(value)


# --------------------------------------------------------------------------- differences
@dataclass(frozen=True)
class DifferenceFinding:
    differences: list[Difference]
    found: int              # differences the check found, in its own unit (keys, rows, bucket measures)
    listed: int             # how many of them it kept in the detail (found > listed: a capped sample)
    consumed: set[str]      # top-level detail keys fully rendered as differences


def _first(d: Mapping[str, Any], names: Iterable[str]) -> tuple[str | None, Any]:
    for n in names:
        if n in d:
            return n, d[n]
    return None, None


def _pair(v: Any) -> tuple[bool, Any, Any]:
    """(recognised, before, after) from ``{before:…, after:…}``, ``[before, after]``…"""
    if isinstance(v, Mapping):
        kb, b = _first(v, _BEFORE)
        ka, a = _first(v, _AFTER)
        if kb is not None or ka is not None:
            return True, b, a
        return False, None, None
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return True, v[0], v[1]
    return False, None, None


def _columns_of(item: Mapping[str, Any]) -> list[tuple[str | None, Any, Any]] | None:
    """The changed columns of one differing row, or None when it names none."""
    _, cols = _first(item, _COLUMN_MAPS)
    out: list[tuple[str | None, Any, Any]] = []
    if isinstance(cols, Mapping):
        for name, v in cols.items():
            ok, b, a = _pair(v)
            if ok:
                out.append((str(name), b, a))
        return out or None
    if isinstance(cols, list):
        for v in cols:
            if isinstance(v, Mapping):
                _, name = _first(v, _COLUMN_NAME)
                ok, b, a = _pair(v)
                if ok:
                    out.append((None if name is None else str(name), b, a))
            elif isinstance(v, str):  # only the names of the columns that differ
                out.append((v, None, None))
        return out or None
    _, name = _first(item, _COLUMN_NAME)
    ok, b, a = _pair(item)
    if ok and (name is not None or b is not None or a is not None):
        return [(None if name is None else str(name), b, a)]
    return None


def _rows_from(stage: str, check: str, kind_hint: str | None, table: str | None, items: list[Any]
               ) -> list[Difference]:
    out: list[Difference] = []
    for item in items:
        if not isinstance(item, Mapping):
            out.append(Difference(stage, check, kind_hint or "other", format_key(item), table))
            continue
        kfield, key = _first(item, _KEY_FIELDS)
        source_key = item.get("source_key")
        if key is None:
            key = {k: v for k, v in item.items() if k not in _COLUMN_MAPS and k not in _ROW_META
                   and k not in _BEFORE and k not in _AFTER and not isinstance(v, (dict, list))}
            if not key and source_key is not None:
                key, source_key = source_key, None
        key_text = format_key(key)
        src = clean_text(source_key, limit=120) if source_key is not None else None
        tbl = str(item.get("table") or table) if (item.get("table") or table) else None
        tbl = clean_text(tbl) if tbl else None
        explicit = item.get("kind") or item.get("type") or item.get("status")
        kind = str(explicit or kind_hint or ("bucket" if kfield == "bucket" else "changed"))
        kind = _KEY_LISTS.get(kind, kind)
        if kind == "duplicate" and _int(item.get("copies")) is not None:
            out.append(Difference(stage, check, kind, key_text, tbl, None, None,
                                  f"{item['copies']} rows in the target", src))
            continue
        cols = _columns_of(item)
        if not cols:
            out.append(Difference(stage, check, kind, key_text, tbl, source_key=src))
            continue
        for name, b, a in cols:
            out.append(Difference(stage, check, kind, key_text, tbl, clean_text(name) if name else None,
                                  _shown(b, name), _shown(a, name), src))
    return out


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def find_differences(stage: str, check: str, detail: Any) -> DifferenceFinding:
    """Every differing key a check's detail lists, as :class:`Difference` rows."""
    found: list[Difference] = []
    total = listed = 0
    consumed: set[str] = set()
    if not isinstance(detail, Mapping):
        return DifferenceFinding([], 0, 0, consumed)

    def scan(d: Mapping[str, Any], table: str | None, top: bool) -> None:
        nonlocal total, listed
        for k, v in d.items():
            if k in _DIFF_LISTS and isinstance(v, list) and v and _looks_like_rows(v):
                found.extend(_rows_from(stage, check, None, table, v))
            elif k in _KEY_LISTS and isinstance(v, list) and v:
                found.extend(_rows_from(stage, check, _KEY_LISTS[k], table, v))
            else:
                if top and k in ("tables", "by_table", "per_table"):
                    scan_tables(v)
                continue
            total += max(len(v), _declared_total(d, k))
            listed += len(v)
            if top:
                consumed.add(k)

    def scan_tables(v: Any) -> None:
        if isinstance(v, Mapping):
            for tname, sub in v.items():
                if isinstance(sub, Mapping):
                    scan(sub, str(tname), False)
        elif isinstance(v, list):
            for sub in v:
                if isinstance(sub, Mapping):
                    scan(sub, str(sub.get("table") or sub.get("name") or ""), False)

    scan(detail, str(detail["table"]) if isinstance(detail.get("table"), str) else None, True)
    # jsonb keeps keys in its own order: list what is missing first, then extra, duplicated, changed
    found.sort(key=lambda d: _KIND_ORDER.get(d.kind, len(_KIND_ORDER)))
    return DifferenceFinding(found, total, listed, consumed)


def _looks_like_rows(v: list[Any]) -> bool:
    """A list of differing rows (dicts with a key), not a list of bucket counts."""
    first = v[0]
    if not isinstance(first, Mapping):
        return True
    if _first(first, _KEY_HINTS)[0] is not None:
        return True
    return _columns_of(first) is not None and not _is_bucket(first)


def _declared_total(d: Mapping[str, Any], list_key: str) -> int:
    """How many the check found, when it says so beside its (capped) list.

    ``missing_keys`` beside ``missing``, ``changed_rows`` beside ``changed``, ``differences``
    beside ``differing``, or ``<list>_total`` / ``<list>_count`` / ``n_<list>``."""
    names = [f"{list_key}_total", f"{list_key}_count", f"n_{list_key}", f"total_{list_key}"]
    if list_key.endswith(("_keys", "_rows")):
        names.append(list_key.rsplit("_", 1)[0])
    if list_key == "differences":
        names.append("differing")
    for name in names:
        n = _int(d.get(name))
        if n is not None:
            return n
    return 0


# --------------------------------------------------------------------------- buckets
@dataclass(frozen=True)
class BucketCount:
    dims: dict[str, str]    # dimension (month/borough/dataset/other name) → value
    source: int | None
    target: int | None


def _count(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, Mapping):
        _, c = _first(v, _COUNT_FIELDS)
        return _count(c) if c is not None else None
    return None


def _is_bucket(row: Mapping[str, Any]) -> bool:
    return (_first(row, _SOURCE_COUNT)[0] is not None and _first(row, _TARGET_COUNT)[0] is not None
            and _count(_first(row, _SOURCE_COUNT)[1]) is not None)


def dimension_of(name: str) -> str:
    """A bucket column's dimension: ``month(occurred_at)`` → month, ``parent.gss_code`` → borough."""
    n = name.strip()
    if n.startswith("month(") or n.startswith("month_of("):
        return "month"
    n = n.rsplit(".", 1)[-1]
    for dim, names in DIMENSIONS.items():
        if n in names:
            return dim
    return name


def _bucket(row: Mapping[str, Any], implied: dict[str, str]) -> BucketCount | None:
    ks, s = _first(row, _SOURCE_COUNT)
    kt, t = _first(row, _TARGET_COUNT)
    if ks is None or kt is None:
        return None
    src, tgt = _count(s), _count(t)
    if src is None and tgt is None:
        return None
    dims = dict(implied)
    for nest in _BUCKET_NESTS:  # {"bucket": {"gss_code": …, "month(occurred_at)": …}, "source": …}
        inner = row.get(nest)
        if isinstance(inner, Mapping):
            for k, v in inner.items():
                if not isinstance(v, (dict, list)):
                    dims[dimension_of(str(k))] = "(none)" if v is None else clean_text(v, limit=80)
    for k, v in row.items():
        if k in _BUCKET_VALUE_KEYS or k.startswith(_VALUE_PREFIXES) or isinstance(v, (dict, list)):
            continue
        dim = dimension_of(k)
        if v is None and dim not in DIMENSIONS:
            continue
        dims[dim] = "(none)" if v is None else clean_text(v, limit=80)
    return BucketCount(dims, src, tgt)


def find_buckets(detail: Any) -> tuple[list[BucketCount], set[str]]:
    """Source-vs-target counts per bucket anywhere a check's detail keeps them."""
    out: list[BucketCount] = []
    consumed: set[str] = set()
    if not isinstance(detail, Mapping):
        return out, consumed

    def implied_dim(key: str) -> str | None:
        for prefix in ("by_", "per_"):
            if key.startswith(prefix):
                return dimension_of(key[len(prefix):].rstrip("s") if key[len(prefix):] != "dataset" else "dataset")
        return {"months": "month", "boroughs": "borough"}.get(key)

    def scan(d: Mapping[str, Any], implied: dict[str, str], top: bool) -> None:
        for k, v in d.items():
            if k not in _BUCKET_LISTS:
                continue
            dim = implied_dim(k)
            got: list[BucketCount] = []
            if isinstance(v, list):
                for row in v:
                    if isinstance(row, Mapping):
                        b = _bucket(row, implied)
                        if b is not None:
                            got.append(b)
            elif isinstance(v, Mapping):
                for label, row in v.items():
                    if isinstance(row, Mapping):
                        b = _bucket(row, {**implied, dim or "bucket": clean_text(label, limit=80)})
                        if b is not None:
                            got.append(b)
                        else:  # nested: {dataset: {month: {source, target}}}
                            scan({kk: vv for kk, vv in row.items()}, implied, False)
            if got:
                out.extend(got)
                if top:
                    consumed.add(k)

    scan(detail, {}, True)
    tables = detail.get("tables")
    if isinstance(tables, Mapping):
        for sub in tables.values():
            if isinstance(sub, Mapping):
                scan(sub, {}, False)
    return out, consumed


# --------------------------------------------------------------------------- key/value
def _as_table(path: str, v: list[Any], limit: int) -> DetailTable | None:
    """A list of flat-ish objects as a table (nested objects and lists as compact text)."""
    if len(v) < 2 or not all(isinstance(x, Mapping) for x in v):
        return None
    columns: list[str] = []
    for x in v:
        for k in x:
            if k not in columns:
                columns.append(str(k))
    if len(columns) > 12:
        return None
    rows = []
    for x in v[:limit]:
        cells = []
        for c in columns:
            val = x.get(c)
            if is_sensitive(c) and val is not None and not isinstance(val, (dict, list)):
                val = MASK
            if isinstance(val, list) and all(not isinstance(e, (dict, list)) for e in val):
                cells.append(", ".join(clean_text(e, limit=60) for e in val[:10]) + (" …" if len(val) > 10 else ""))
            elif isinstance(val, Mapping):
                cells.append(format_key(val))
            else:
                cells.append("" if val is None else clean_text(val))
        rows.append(tuple(cells))
    return DetailTable(clean_text(path, limit=120), tuple(clean_text(c, limit=60) for c in columns), tuple(rows),
                       max(len(v) - limit, 0))


def flatten(detail: Any, *, skip: set[str], limit: int = 60, table_rows: int = 50
            ) -> tuple[list[tuple[str, str]], list[DetailTable], int]:
    """A detail JSON for people: (path, text) pairs, tables for lists of objects, and how many
    pairs were left out."""
    items: list[tuple[str, str]] = []
    tables: list[DetailTable] = []
    left = 0

    def walk(v: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
        if isinstance(v, Mapping) and v and depth < 3:
            for k, sub in v.items():
                yield from walk(sub if not is_sensitive(str(k)) or isinstance(sub, (dict, list)) else MASK,
                                f"{path}.{k}" if path else str(k), depth + 1)
        elif isinstance(v, list) and v and all(not isinstance(x, (dict, list)) for x in v):
            shown = ", ".join(clean_text(x, limit=60) for x in v[:20])
            more = f" … ({len(v) - 20} more)" if len(v) > 20 else ""
            yield path or "(value)", shown + more
        elif isinstance(v, list) and v and (t := _as_table(path or "(list)", v, table_rows)) is not None:
            tables.append(t)
        elif isinstance(v, list) and v and depth < 3:
            for i, sub in enumerate(v[:20]):
                yield from walk(sub, f"{path}[{i}]", depth + 1)
            if len(v) > 20:
                yield f"{path}[…]", f"{len(v) - 20} more"
        else:
            yield path or "(value)", "" if v is None else ("{}" if v == {} else "[]" if v == [] else clean_text(v))

    if isinstance(detail, Mapping):
        # an empty list (no differences, no tolerances) says nothing the summary does not say
        detail = {k: v for k, v in detail.items() if k not in skip and v != [] and v != {}}
    # jsonb hands keys back shortest first; people read them sorted, bookkeeping last
    pairs = sorted(walk(detail, "", 0), key=lambda p: (p[0].split(".")[0].split("[")[0] in _BOOKKEEPING,
                                                       [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p[0])]))
    for pair in pairs:
        if len(items) < limit:
            items.append((clean_text(pair[0], limit=120), pair[1]))
        else:
            left += 1
    return items, tables, left
