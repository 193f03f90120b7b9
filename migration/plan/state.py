"""The ledger's state of every stage, as the plain data the builder takes (reads only)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from migration.ledger import Ledger
from migration.plan.stages import StageStatus


def stage_status(engine: Engine) -> dict[str, StageStatus]:
    """Every stage with events: its state, its latest run and the mapping hash that run was started with.

    Raises :class:`~migration.errors.TargetError` (exit 3) when the target has no ledger
    (``schema upgrade`` first)."""
    ledger = Ledger(engine)
    ledger.require_installed()
    out: dict[str, StageStatus] = {}
    with engine.connect() as conn:
        for name, st in ledger.stage_states(conn).items():
            info = (ledger.run_info(conn, st.run_id) or {}) if st.run_id is not None else {}
            out[name] = StageStatus(name, st.state, st.run_id, info.get("mapping_hash"))
    return out


__all__ = ["stage_status"]
