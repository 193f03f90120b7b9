"""How long each stage will take and how much room the target needs.

Throughput comes from earlier runs on this target when there are any (the ledger's
``stage_loaded`` events record the rows read and the seconds of every stage load), else
from the benchmark's figures (runbooks/benchmark.md: the whole migration at scale 0.1,
1,029,097 rows in 35.4–37.0 s on a 2-core machine).  Size: the bytes per loaded row a
target measured at scale 0.1 holds (database size, indexes and ledger included).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

from migration.audit.model import StageEstimate, StageProfile, total_target_bytes
from migration.ledger import history

#: rows per second of a whole-migration load (benchmark, scale 0.1, 2 cores)
BENCH_ROWS_PER_SECOND = 28_000
#: bytes the target database holds per loaded legacy row, indexes and ledger included (measured at
#: scale 0.1, seed 42: 672 MB for 1,024,324 loaded rows)
BENCH_BYTES_PER_ROW = 660


def _measured(target_url: URL | None) -> dict[str, float]:
    """stage → rows/s of its latest load on the target, where the ledger records one."""
    if target_url is None:
        return {}
    from migration.db.engines import target_engine

    speed: dict[str, float] = {}
    try:
        eng = target_engine(target_url)
        try:
            with eng.connect() as conn:
                rows = history.latest_loads(conn)
        finally:
            eng.dispose()
    except Exception:  # no target, no ledger yet: the benchmark's figures stand
        return {}
    for stage, detail in rows:
        d: dict[str, Any] = dict(detail or {})
        read = sum(int(c.get("rows_read", 0)) for c in d.get("counts", []))
        secs = float(d.get("seconds") or 0)
        if read >= 1000 and secs > 0:
            speed[stage] = read / secs
    return speed


def estimate_stages(stages: list[StageProfile], target_url: URL | None) -> None:
    """Fill each stage's :class:`StageEstimate` (in place)."""
    speed = _measured(target_url)
    for s in stages:
        rows = s.rows
        outcomes = s.outcomes()
        to_load = sum(n for (d, _r), n in outcomes.items() if d == "load")
        if s.stage in speed:
            rps, basis = speed[s.stage], "measured by the latest load of this stage on the target"
        else:
            rps, basis = float(BENCH_ROWS_PER_SECOND), "benchmark figure (runbooks/benchmark.md)"
        s.estimate = StageEstimate(rows=rows, rows_to_load=to_load, seconds=rows / rps if rps else 0.0,
                                   rows_per_second=rps, basis=basis, target_bytes=to_load * BENCH_BYTES_PER_ROW,
                                   size_basis=f"{BENCH_BYTES_PER_ROW} bytes per loaded row, indexes and ledger "
                                              "included (measured at scale 0.1)")


__all__ = ["BENCH_BYTES_PER_ROW", "BENCH_ROWS_PER_SECOND", "StageEstimate", "estimate_stages", "total_target_bytes"]
