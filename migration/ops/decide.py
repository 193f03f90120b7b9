"""``quarantine decide``: record what people decided about quarantined rows.

A decision by stage (and reason) covers the records open at that moment — their count is
recorded and returned; records quarantined later are undecided.  A decision by KEY covers
the open records of that legacy or business key; a key naming records of several stages
is refused (exit 2) with the matches listed, so one word never decides about rows of two
datasets (``--stage`` narrows it).  ``undecided`` revokes earlier decisions.  Taken under
the migration lock, so a decision never lands between ``cutover go``'s check and its record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from migration.errors import UnknownNameError, UsageError
from migration.ledger import decisions
from migration.ledger.books import actor as os_actor
from migration.ledger.decisions import DECISIONS, Decision
from migration.settings import Settings


@dataclass(frozen=True)
class DecideResult:
    decision: Decision
    #: what the decision was asked about, in words (``stage mps_crime reason BAD_DATE``, ``key MP10…``)
    subject: str


def decide(settings: Settings, *, decision: str, note: str, keys: list[str] | None = None,
           stage: str | None = None, reason: str | None = None, by: str | None = None) -> DecideResult:
    from migration.db.engines import check_connect, target_engine
    from migration.ledger import MigrationLock, quarantine
    from migration.mapping.order import parsed_specs

    if decision not in DECISIONS:
        raise UsageError(f"unknown decision {decision!r}", hint=f"use one of: {', '.join(DECISIONS)}")
    if not note.strip():
        raise UsageError("a decision needs a note", hint='say why: --note "…"')
    keys = [k for k in (keys or []) if k]
    if not keys and stage is None:
        raise UsageError("name the rows: KEY… or --stage STAGE [--reason R]")
    if keys and reason is not None:
        raise UsageError("--reason goes with --stage, not with keys")
    who = by or os_actor()
    target = target_engine(settings.require_target())
    try:
        check_connect(target, role="target")
        stages = [s.stage for s in parsed_specs(settings.mappings_dir)] if stage is not None else []
        quarantine.check_names(target, stages=stages, stage=stage, reason=reason)
        with MigrationLock(target, f"quarantine decide --as {decision}"), target.begin() as conn:
            if keys:
                for key in keys:
                    matches = decisions.key_matches(conn, key, stage=stage)
                    if not matches:
                        where = f" in stage {stage}" if stage else ""
                        raise UnknownNameError(f"no open quarantine record{where} has the key {key!r}",
                                               hint="`safestats-migrate quarantine show KEY` looks for it among "
                                                    "all records, `quarantine list` shows what is open")
                    if len({m.stage for m in matches}) > 1:
                        listed = "; ".join(f"{m.stage} {m.source_table} {m.reason_code} ({m.records})"
                                           for m in matches)
                        raise UsageError(f"the key {key!r} names open records of several stages: {listed}",
                                         hint="add --stage STAGE to say which")
                ids = decisions.open_ids(conn, stage=stage, keys=keys)
                subject = f"key {', '.join(keys)}" + (f" in stage {stage}" if stage else "")
            else:
                ids = decisions.open_ids(conn, stage=stage, reason=reason)
                subject = f"stage {stage}" + (f" reason {reason}" if reason else "")
                if not ids:
                    raise UsageError(f"no open quarantine record in {subject}: nothing to decide",
                                     hint="`safestats-migrate quarantine list` shows what is open")
            made = decisions.record_decision(conn, decision=decision, note=note.strip(), actor=who, ids=ids,
                                             stage=stage, reason=reason, key=", ".join(keys) or None)
    finally:
        target.dispose()
    return DecideResult(made, subject)


def decision_counts(engine: Engine, *, stage: str | None = None) -> list[dict[str, Any]]:
    """Open and settled records per stage, reason and decision (``quarantine list``, ``status``)."""
    with engine.connect() as conn:
        return decisions.counts(conn, stage=stage)


def record_decisions(engine: Engine, ids: list[int]) -> dict[int, tuple[str, str, datetime]]:
    """quarantine id → (decision, who, when) of the records that have one (``quarantine show``)."""
    with engine.connect() as conn:
        return decisions.decisions_of(conn, ids)
