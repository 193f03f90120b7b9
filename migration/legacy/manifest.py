"""The ground-truth manifest of a generated legacy database.

It says, for every table, how many rows it holds and how many rows carry each anomaly
kind (:mod:`migration.legacy.kinds`) and — when keys are recorded (small scales) — which
ones, by primary key (natural key for the keyless tables).  Duplicate groups of
``tblMPSCrime`` are listed with their members and the winner, so that a later test can
re-derive the winner from the data and check the migration kept exactly that row.

The JSON is deterministic: the same seed and scale give byte-identical manifests (no
timestamps, sorted keys, keys sorted by value).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration.legacy.kinds import KINDS
from migration.schema.legacy import ROW_KEYS, TABLE_NAMES

MANIFEST_FORMAT = 1
Key = Any  # int, str, or a list for composite keys


class Tally:
    """Counts rows per kind for one table, and keeps their keys when asked to."""

    def __init__(self, table: str, *, keep_keys: bool) -> None:
        self.table = table
        self.keep_keys = keep_keys
        self.rows = 0
        self.anomalous_rows = 0
        self.counts: Counter[str] = Counter()
        self.keys: dict[str, list[Key]] = {}

    def add(self, kinds: list[str] | tuple[str, ...] | None, key: Key) -> None:
        if not kinds:
            return
        self.anomalous_rows += 1
        seen = set()
        for kind in kinds:
            if kind in seen:
                continue
            seen.add(kind)
            if KINDS[kind].table != self.table:
                raise AssertionError(f"kind {kind} tagged on a row of {self.table}")
            self.counts[kind] += 1
            if self.keep_keys:
                self.keys.setdefault(kind, []).append(key)

    def as_dict(self) -> dict[str, Any]:
        anomalies: dict[str, Any] = {}
        for kind in sorted(k for k, v in KINDS.items() if v.table == self.table):
            entry: dict[str, Any] = {"rows": self.counts.get(kind, 0)}
            if self.keep_keys:
                entry["keys"] = sorted(self.keys.get(kind, []), key=_sort_key)
            anomalies[kind] = entry
        return {"rows": self.rows, "key": list(ROW_KEYS[self.table]), "anomalies": anomalies}


def _sort_key(k: Key) -> Any:
    if isinstance(k, list):
        return [str(x) for x in k]
    return (0, k) if isinstance(k, int) else (1, str(k))


@dataclass
class DuplicateGroup:
    """Rows of ``tblMPSCrime`` sharing one trimmed CrimeRef."""

    ref: str
    expected: int
    members: list[tuple[int, int, bool]] = field(default_factory=list)  # (RecID, BatchID, failed)
    intended_winner_recid: int | None = None

    def add(self, recid: int, batch_id: int, failed: bool) -> bool:
        self.members.append((recid, batch_id, failed))
        return len(self.members) >= self.expected

    def winner(self) -> int:
        """Highest BatchID among non-FAILED batches, then highest RecID."""
        ok = [m for m in self.members if not m[2]]
        if not ok:
            raise AssertionError(f"duplicate group {self.ref!r} has no row outside FAILED batches")
        return max(ok, key=lambda m: (m[1], m[0]))[0]


@dataclass
class Manifest:
    seed: int
    scale: float
    engine: str
    keys_recorded: bool
    generator_version: str
    tallies: dict[str, Tally] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    duplicate_groups: list[dict[str, Any]] = field(default_factory=list)
    duplicate_group_count: int = 0
    duplicate_group_sizes: Counter[int] = field(default_factory=Counter)

    def tally(self, table: str) -> Tally:
        if table not in self.tallies:
            self.tallies[table] = Tally(table, keep_keys=self.keys_recorded)
        return self.tallies[table]

    def close_group(self, group: DuplicateGroup) -> int:
        winner = group.winner()
        self.duplicate_group_count += 1
        self.duplicate_group_sizes[len(group.members)] += 1
        if self.keys_recorded:
            self.duplicate_groups.append({
                "crimeref": group.ref,
                "recids": sorted(m[0] for m in group.members),
                "winner": winner,
            })
        return winner

    def as_dict(self) -> dict[str, Any]:
        tables = {name: self.tally(name).as_dict() for name in TABLE_NAMES}
        dup: dict[str, Any] = {
            "table": "tblMPSCrime",
            "rule": "winner = highest BatchID whose tblImportLog Status is not FAILED, then highest RecID; "
                    "group = rows with the same RTRIM(CrimeRef), blank refs excluded",
            "groups": self.duplicate_group_count,
            "group_sizes": {str(k): v for k, v in sorted(self.duplicate_group_sizes.items())},
        }
        if self.keys_recorded:
            dup["members"] = sorted(self.duplicate_groups, key=lambda g: g["recids"][0])
        return {
            "format": MANIFEST_FORMAT,
            "generator": "migration.legacy",
            "generator_version": self.generator_version,
            "seed": self.seed,
            "scale": self.scale,
            "engine": self.engine,
            "keys_recorded": self.keys_recorded,
            "anomalies_exact": True,
            "kinds": {name: {"table": k.table, "definition": k.definition} for name, k in sorted(KINDS.items())},
            "tables": tables,
            "duplicates": dup,
            **self.extras,
        }

    def write(self, path: Path) -> None:
        write_manifest(self.as_dict(), path)


class ManifestBook:
    """Keeps a written manifest true while ``legacy advance`` changes rows in place.

    Counts always move; when the manifest lists keys (small scales) the key lists move
    too, and every change is checked (a row gaining a kind it already carries, or losing
    one it does not carry, is a bug in the advance, not in the data)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.keys = bool(doc.get("keys_recorded"))
        self._sets: dict[tuple[str, str], set[Any]] = {}
        self._groups: dict[str, dict[str, Any]] | None = None

    # anomaly kinds -------------------------------------------------------------
    def _entry(self, table: str, kind: str) -> dict[str, Any]:
        if KINDS[kind].table != table:
            raise AssertionError(f"kind {kind} is not a kind of {table}")
        entry: dict[str, Any] = self.doc["tables"][table]["anomalies"][kind]
        return entry

    def _keyset(self, table: str, kind: str) -> set[Any]:
        k = (table, kind)
        if k not in self._sets:
            self._sets[k] = {_hashable(x) for x in self._entry(table, kind).get("keys", [])}
        return self._sets[k]

    def add(self, table: str, key: Key, kinds: set[str] | list[str] | tuple[str, ...]) -> None:
        for kind in sorted(set(kinds)):
            entry = self._entry(table, kind)
            if self.keys:
                ks = self._keyset(table, kind)
                if _hashable(key) in ks:
                    raise AssertionError(f"{table} row {key!r} already carries {kind}")
                ks.add(_hashable(key))
            entry["rows"] += 1

    def remove(self, table: str, key: Key, kinds: set[str] | list[str] | tuple[str, ...]) -> None:
        for kind in sorted(set(kinds)):
            entry = self._entry(table, kind)
            if self.keys:
                ks = self._keyset(table, kind)
                if _hashable(key) not in ks:
                    raise AssertionError(f"{table} row {key!r} does not carry {kind}")
                ks.discard(_hashable(key))
            entry["rows"] -= 1

    def change(self, table: str, key: Key, old: set[str], new: set[str]) -> None:
        self.remove(table, key, old - new)
        self.add(table, key, new - old)

    def kinds_of(self, table: str, keys: list[Key]) -> dict[Any, set[str]]:
        """The kinds each of ``keys`` carries (only when keys are recorded)."""
        if not self.keys:
            raise AssertionError("kinds of a row are known only when the manifest lists keys")
        want = {_hashable(k) for k in keys}
        out: dict[Any, set[str]] = {k: set() for k in want}
        for kind in self.doc["tables"][table]["anomalies"]:
            for k in self._keyset(table, kind) & want:
                out[k].add(kind)
        return out

    def rows(self, table: str, delta: int) -> None:
        self.doc["tables"][table]["rows"] += delta

    # duplicate groups of tblMPSCrime --------------------------------------------
    def drop_group(self, ref: str, size: int) -> None:
        dup = self.doc["duplicates"]
        dup["groups"] -= 1
        sizes = dup["group_sizes"]
        sizes[str(size)] -= 1
        if not sizes[str(size)]:
            del sizes[str(size)]
        if self.keys:
            members = self._members()
            if ref not in members:
                raise AssertionError(f"duplicate group {ref!r} is not in the manifest")
            del members[ref]

    def add_group(self, ref: str, recids: list[int], winner: int) -> None:
        dup = self.doc["duplicates"]
        dup["groups"] += 1
        sizes = dup["group_sizes"]
        sizes[str(len(recids))] = sizes.get(str(len(recids)), 0) + 1
        if self.keys:
            members = self._members()
            if ref in members:
                raise AssertionError(f"duplicate group {ref!r} is already in the manifest")
            members[ref] = {"crimeref": ref, "recids": sorted(recids), "winner": winner}

    def _members(self) -> dict[str, dict[str, Any]]:
        if self._groups is None:
            self._groups = {g["crimeref"]: g for g in self.doc["duplicates"].get("members", [])}
        return self._groups

    def finish(self) -> None:
        for (table, kind), ks in self._sets.items():
            self._entry(table, kind)["keys"] = sorted((_unhashable(k) for k in ks), key=_sort_key)
        if self._groups is not None:
            self.doc["duplicates"]["members"] = sorted(self._groups.values(), key=lambda g: g["recids"][0])


def _hashable(k: Key) -> Any:
    return tuple(k) if isinstance(k, list) else k


def _unhashable(k: Any) -> Key:
    return list(k) if isinstance(k, tuple) else k


def write_manifest(doc: dict[str, Any], path: Path) -> None:
    """Write a manifest document atomically (the same layout :meth:`Manifest.write` uses)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_manifest(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
