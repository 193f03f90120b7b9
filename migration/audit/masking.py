"""Which legacy values a profile may show, and how.

- A column is *sensitive* (no example, top value or min/max — counts and shapes only) when
  the mappings say so: ``personal_data.drop`` (never even read), ``personal_data.scrub``,
  the legacy columns behind a target column a check file lists as ``sensitive``, and
  every free-text column (character type longer than 10) of a table whose mapping
  declares personal data at all (``tblUser``, ``tblISTVAssault``).
- Every example of the other columns goes through the identifier scrubber
  (:func:`migration.mapping.transforms.scrub.scrub_location_text`): when it finds nothing
  to remove, the value is shown as it is (control characters written ``\\x00``); when it
  does, a code-like value (no letters, or one word of at most 20 characters; never 9 or
  more digits in a row, an NHS or phone number's spaced form or an e-mail: a date, a time,
  a number, a reference) is still shown, and anything else is replaced by the scrubber's output.  Registered secrets are masked last (:func:`migration.secrets.scrub`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from migration.mapping.spec import StageSpec, TableMappingSpec
from migration.mapping.transforms.scrub import scrub_location_text
from migration.reconcile.spec import load_check_file
from migration.secrets import scrub

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_LENGTH = re.compile(r"\((\d+)\)")
FREE_TEXT_LENGTH = 10
_LONG_DIGITS = re.compile(r"\d{9,}|\d{3}[ -]\d{3}[ -]\d{4}|\b0\d{3,4}[ -]\d{3}[ -]?\d{3,4}\b")


def visible(v: str) -> str:
    """Control characters written ``\\x00``; an empty or space-padded value quoted (``'  '``)."""
    if v == "" or v.strip() != v:
        v = "'" + v + "'"
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", v)


def mask_example(value: Any) -> str:
    """A non-sensitive column's value as a profile may show it."""
    v = str(value)
    try:
        cleaned, flags = scrub_location_text(v)
    except Exception:  # the scrubber never raises; if it ever did, show nothing
        return "«masked»"
    if flags and not _code_like(v):
        return "«scrubbed: " + (cleaned or "") + "»"
    return scrub(visible(v))


def _code_like(v: str) -> bool:
    """A date, time, number or reference code: no letters (a date with its time), or one word of at
    most 20 characters; never an e-mail, 9 or more digits in a row, or an NHS or phone number's
    spaced form."""
    s = v.strip()
    if "@" in s or _LONG_DIGITS.search(s) is not None or len(s) > 30:
        return False
    return not any(ch.isalpha() for ch in s) or (len(s) <= 20 and not any(ch.isspace() for ch in s))


def _is_free_text(type_name: str) -> bool:
    t = type_name.upper()
    if not any(k in t for k in ("CHAR", "TEXT", "CLOB", "STRING")):
        return False
    m = _LENGTH.search(t)
    return m is None or int(m.group(1)) > FREE_TEXT_LENGTH


def raw_columns(tm: TableMappingSpec, extracted: list[str], ref: str) -> list[str]:
    """The legacy columns a reference (column, ``derive.output``, ``lookup.column``) is computed from."""
    out: list[str] = []

    def visit(r: str) -> None:
        head = r.split(".", 1)[0]
        if "." in r and head in tm.derive:
            for a in tm.derive[head].args:
                visit(a)
        elif "." in r and head in tm.lookups:
            for c in tm.lookups[head].match.values():
                visit(c)
        elif head == "key" and r not in extracted:  # the business-key rule (key.flags: key_blank)
            for c in tm.business_key.columns:
                visit(c)
        elif r in extracted and r not in out:
            out.append(r)

    visit(ref)
    return out


def target_sensitive_sources(tm: TableMappingSpec, sensitive: dict[str, list[str]]) -> set[str]:
    """Legacy columns feeding a target column a check file lists as sensitive."""
    extracted = list(tm.source.columns)
    out: set[str] = set()
    for tname, cols in sensitive.items():
        tspec = tm.targets.get(tname)
        if tspec is None:
            continue
        for c in cols:
            cspec = tspec.columns.get(c)
            if cspec is None or not cspec.from_:
                continue
            for ref in cspec.from_:
                out.update(raw_columns(tm, extracted, ref))
    return out


def check_sensitive(checks_dir: Path | None, stages: Iterable[StageSpec]) -> dict[str, list[str]]:
    """Target table → sensitive columns, from the check files (empty when they cannot be read)."""
    out: dict[str, list[str]] = {}
    if checks_dir is None or not Path(checks_dir).is_dir():
        return out

    for p in sorted(Path(checks_dir).glob("*.yaml")):
        lc = load_check_file(p)
        if lc.spec is not None:
            for t, cols in lc.spec.sensitive.items():
                out.setdefault(t, []).extend(cols)
    return out


def sensitive_columns(tm: TableMappingSpec, live_types: dict[str, str], sensitive: dict[str, list[str]]) -> set[str]:
    pd = tm.personal_data
    out = set(pd.drop) | set(pd.scrub) | target_sensitive_sources(tm, sensitive)
    if pd.drop or pd.scrub:
        out |= {c for c, t in live_types.items() if _is_free_text(t)}
    return out


__all__ = ["check_sensitive", "mask_example", "sensitive_columns", "visible"]
