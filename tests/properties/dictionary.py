"""The legacy data dictionary's declared column types, machine-readable.

``dictionary.yaml`` (next to this file) is a hand-kept copy of every table and column of
``LEGACY-DATA-DICTIONARY.md``: SQL type, length, nullability, primary key, plus a
``format`` naming what the dictionary's notes say a text column holds (``dd/mm/yyyy``,
``HH:MM``, a free-text borough name …).  The property tests derive their Hypothesis
strategies from it and from nothing else: never from the generator's value lists or
anomaly kinds (``migration/legacy``).

:func:`parse_markdown` reads the dictionary's markdown tables so a test can prove the copy
covers every table and column and declares the same types.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
YAML_PATH = HERE / "dictionary.yaml"
#: where the shared docs live on this project's machines (overridable for CI checkouts)
#: (CI clones the repository with the shared docs beside it: ../shared/safestats)
MARKDOWN_PATH = Path(os.environ.get("SAFESTATS_DATA_DICTIONARY") or next(
    (p for p in (HERE.parents[2] / "shared" / "safestats" / "LEGACY-DATA-DICTIONARY.md",
                 Path("/work/shared/safestats/LEGACY-DATA-DICTIONARY.md")) if p.exists()),
    HERE.parents[2] / "shared" / "safestats" / "LEGACY-DATA-DICTIONARY.md"))

#: SQL Server types the dictionary uses (and nvarchar, which the engine has and the
#: property tests must cover even though the dictionary declares no such column)
TEXT_TYPES = ("varchar", "char", "nvarchar")
INT_TYPES = ("bit", "tinyint", "smallint", "int")
OTHER_TYPES = ("datetime", "money")
#: what a text column's notes say it holds (``format:`` in dictionary.yaml)
FORMATS = {
    "text": ("free", "date_dmy", "time_hhmm", "time_hhmmss", "borough_name", "borough_list", "grid_text", "grid_pair",
             "flag_char", "ward_code", "gss_code", "ons_code", "code", "business_key", "secret", "patient_text",
             "postcode"),
    "integer": ("grid_metres", "enum", "percent", "seconds"),
}


@dataclass(frozen=True)
class Column:
    table: str
    name: str
    type: str
    length: int | None
    nullable: str        # "declared" (the dictionary says NULL) | "unstated" | "never" (primary key)
    pk: bool
    identity: bool
    format: str | None   # text columns only
    refers: str | None   # integer columns referring to another table's key (not declared in the legacy)
    values: tuple[object, ...] = ()  # values the notes list

    @property
    def sql(self) -> str:
        return f"{self.type}({self.length})" if self.length else self.type


@dataclass(frozen=True)
class Table:
    name: str
    kind: str            # reference | fact
    columns: tuple[Column, ...]

    @property
    def pk(self) -> Column | None:
        return next((c for c in self.columns if c.pk), None)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@cache
def load() -> dict[str, Table]:
    doc = yaml.safe_load(YAML_PATH.read_text(encoding="utf-8"))
    out = {}
    for tname, t in doc["tables"].items():
        cols = []
        for c in t["columns"]:
            cols.append(Column(table=tname, name=c["name"], type=c["type"], length=c.get("length"),
                               nullable=c.get("nullable", "unstated"), pk=bool(c.get("pk", False)),
                               identity=bool(c.get("identity", False)), format=c.get("format"),
                               refers=c.get("refers"), values=tuple(c.get("values", ()))))
        out[tname] = Table(tname, t["kind"], tuple(cols))
    return out


_TYPE = re.compile(r"^(?P<type>[a-z]+)(?:\((?P<len>\d+)\))?(?P<rest>.*)$")


def parse_markdown(text: str) -> dict[str, list[tuple[str, str, int | None, str, bool, bool]]]:
    """Every ``### tblX`` section's markdown table as (column, type, length, nullable, pk, identity)."""
    out: dict[str, list[tuple[str, str, int | None, str, bool, bool]]] = {}
    table = None
    for line in text.splitlines():
        head = re.match(r"^###\s+(tbl\w+)", line)
        if head:
            table = head.group(1)
            out[table] = []
            continue
        if line.startswith("## "):
            table = None
        if table is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("column", "") or set(cells[0]) <= {"-"}:
            continue
        m = _TYPE.match(cells[1])
        assert m, f"{table}: cannot read the type {cells[1]!r}"
        rest = m.group("rest").split()
        pk = "PK" in rest
        nullable = "never" if pk else ("declared" if "NULL" in rest else "unstated")
        length = int(m.group("len")) if m.group("len") else None
        for name in (n.strip() for n in cells[0].split(",")):
            out[table].append((name, m.group("type"), length, nullable, pk, "IDENTITY" in rest))
    return out
