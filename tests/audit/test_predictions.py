"""profile's predictions equal what `run` then records, for every stage (issue 12).

The legacy database is the generated one with planted defects (tests/audit/conftest.py):
a hospital that is quarantined (its ED rows then quarantine as UNKNOWN_HOSPITAL, a
cascade between stages), a duplicate whose winner is quarantined (the key quarantined,
the loser merged), unpadded dates and a blank key.  The predictions come from the
reference evaluator with simulated lookups; the actuals from the ledger and the target
after a real `run --all`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration.audit.profile import profile
from migration.mapping.order import parsed_specs
from tests.audit.conftest import CHECKS, MAPPINGS, run_all


def _actual(url: URL, specs) -> tuple[dict[str, Counter], dict[str, Counter]]:  # type: ignore[no-untyped-def]
    eng = create_engine(url, poolclass=NullPool)
    fates: dict[str, Counter] = {}
    flags: dict[str, Counter] = {}
    with eng.connect() as c:
        runs = dict(c.execute(text("SELECT stage, max(run_id) FROM ledger.event WHERE kind = 'stage_started' "
                                   "GROUP BY stage")).all())
        for stage, reason, n in c.execute(text(
                "SELECT stage, reason_code, count(*) FROM ledger.quarantine GROUP BY 1, 2")):
            fates.setdefault(stage, Counter())[("quarantine", reason)] += n
        for stage, disp, reason, n in c.execute(text(
                "SELECT stage, disposition, reason_code, count(*) FROM ledger.disposition GROUP BY 1, 2, 3")):
            # a loaded row the target already held as it is (a seed row, say) is "load" to the profile
            key = ("load", None) if disp == "unchanged" else (disp, reason)
            fates.setdefault(stage, Counter())[key] += n
        for stage, n in c.execute(text("SELECT stage, sum(rows_loaded) FROM ledger.table_count GROUP BY 1")):
            if n:
                fates.setdefault(stage, Counter())[("load", None)] += int(n)
        for spec in specs:
            for tm in spec.tables:
                for tname, tspec in tm.targets.items():
                    for col, cspec in tspec.columns.items():
                        if cspec.kind != "flags":
                            continue
                        for f, n in c.execute(text(
                                f"SELECT f, count(*) FROM {tname}, unnest({col}) f WHERE load_run_id = :r GROUP BY f"),
                                dict(r=runs[spec.stage])):
                            flags.setdefault(spec.stage, Counter())[(tname, f)] += n
    eng.dispose()
    return fates, flags


def test_predictions_equal_the_run(planted_sqlite: Path, target_url: URL) -> None:
    specs = parsed_specs(MAPPINGS)
    result = profile(make_url(f"sqlite:///{planted_sqlite}"), specs, checks_dir=CHECKS)
    predicted = {s.stage: Counter({k: v for k, v in s.outcomes().items()}) for s in result.stages}
    predicted_flags = {s.stage: Counter(s.flags()) for s in result.stages}
    # the planted defects are predicted
    assert predicted["istv_assault"][("quarantine", "UNKNOWN_HOSPITAL")] > 0
    assert predicted["codes"][("quarantine", "UNRESOLVED_BOROUGH")] + sum(
        n for (d, r), n in predicted["codes"].items() if d == "quarantine") > 0
    mps = next(t for s in result.stages for t in s.tables if t.table == "tblMPSCrime")
    assert mps.prediction.duplicates is not None and mps.prediction.duplicates.winners_quarantined >= 1
    # every flag the target will hold is traced to the columns behind it (value classes)
    assert mps.prediction.flags and all(("flag", f) in mps.prediction.classes for (_t, f) in mps.prediction.flags)
    # the planted unpadded dates are a value class (quarantined or flagged, as the rules say) with examples
    dated = [t for cols in mps.prediction.classes.values() for c, t in cols.items() if c == "CommittedDate"]
    assert any("9/3/2010" in t.examples.get("9/9/9999", []) for t in dated)

    run_all(planted_sqlite, target_url, reconcile=False)
    fates, flags = _actual(target_url, specs)
    for spec in specs:
        assert predicted[spec.stage] == fates.get(spec.stage, Counter()), (spec.stage, predicted[spec.stage], fates.get(spec.stage))
        assert predicted_flags[spec.stage] == flags.get(spec.stage, Counter()), spec.stage


def test_worker_processes_predict_the_same(planted_sqlite: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Large tables are evaluated by worker processes: the same predictions, flags, value classes and facts."""
    import migration.audit.profile as profile_module

    specs = parsed_specs(MAPPINGS)

    def run() -> dict:  # type: ignore[type-arg]
        r = profile(make_url(f"sqlite:///{planted_sqlite}"), specs, stages=["mps_crime"], checks_dir=CHECKS,
                    chunk_rows=3000)
        d = r.to_dict()
        for key in ("seconds", "generated_at"):
            d.pop(key)
        for s in d["stages"]:
            for t in s["tables"]:
                t.pop("seconds")
                t["parallel"] = t.pop("workers") > 1
        return d

    serial = run()
    monkeypatch.setattr(profile_module, "PARALLEL_ROWS", 1000)
    monkeypatch.setattr(profile_module, "workers_default", lambda: 2)
    parallel = run()
    mps = next(t for s in parallel["stages"] for t in s["tables"] if t["table"] == "tblMPSCrime")
    assert mps.pop("parallel") is True
    next(t for s in serial["stages"] for t in s["tables"] if t["table"] == "tblMPSCrime").pop("parallel")
    assert serial == parallel
