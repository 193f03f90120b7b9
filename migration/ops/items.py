"""One line of a checklist (the go/no-go items, the post-cutover checks): what, met or not, and
the evidence — in a module of its own, so the checklist and the post-cutover checks both use it
without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    name: str
    ok: bool
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.name, "ok": self.ok, "evidence": self.evidence}
