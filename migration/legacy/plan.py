"""The load history: which batches loaded which periods of which dataset, and when.

The plan is pure data built before any row exists.  ``tblImportLog`` is written from it
at the end (with the row counts actually inserted), and every fact generator walks its
dataset's batches in ``BatchID`` order.  Batch roles:

``normal``          a period's rows, loaded once (Status OK);
``failed_attempt``  a load that failed before its retry (Status FAILED).  MPS keeps the
                    rows it got in (a prefix of the retry's rows); the other datasets
                    rolled back and keep none;
``reload``          MPS: a later batch re-sending part of an earlier batch's period (the
                    earlier batch becomes RELOADED and keeps its rows); LFB/LAS/TRANSPORT:
                    the rows were deleted and re-inserted under the reload, so the
                    RELOADED batch keeps none;
``failed_reload``   MPS: a re-load attempt that FAILED after loading some copies;
``resubmission``    ISTV: a hospital re-submitted a whole period as a new batch (new
                    ISTVIDs); the earlier batch becomes RELOADED and keeps its rows.

BatchIDs increase with LoadedOn across all datasets.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date

from migration.legacy import vocab
from migration.legacy.timeutil import Clock, add_months, month_end, months_between

DATASETS = ("MPS", "LFB", "LAS", "ISTV", "TRANSPORT")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    table: str
    rows_at_scale_1: int
    first: date
    last: date
    batches_at_scale_1: int


SPECS: dict[str, DatasetSpec] = {
    "MPS": DatasetSpec("MPS", "tblMPSCrime", 8_000_000, date(2007, 4, 1), date(2016, 12, 31), 1800),
    "LFB": DatasetSpec("LFB", "tblLFBIncident", 1_200_000, date(2009, 1, 1), date(2016, 12, 31), 900),
    "LAS": DatasetSpec("LAS", "tblLASAssault", 450_000, date(2007, 12, 1), date(2016, 12, 31), 700),
    "TRANSPORT": DatasetSpec("TRANSPORT", "tblTransportCrime", 350_000, date(2007, 4, 1), date(2016, 12, 31), 300),
    "ISTV": DatasetSpec("ISTV", "tblISTVAssault", 120_000, date(2009, 7, 1), date(2016, 12, 31), 0),
}
MIN_BATCHES = 12
MIN_FACT_ROWS = 200
DATA_LAST_DAY = date(2016, 12, 31).toordinal()


@dataclass
class Batch:
    dataset: str
    seq: int
    first_day: int
    last_day: int
    loaded_day: int
    loaded_secs: int
    role: str = "normal"
    status: str = "OK"
    base_rows: int = 0                 # new rows generated for this batch
    copies: int = 0                    # MPS: rows copied from ``source`` (reload / failed)
    source: Batch | None = None        # the batch whose rows a reload/failed batch copies
    hospital: int | None = None        # ISTV: HospitalID
    links: list[Batch] = field(default_factory=list)  # later batches that copy this one
    rows_in_table: int = 0             # counted while inserting
    claimed_rows: int | None = None    # RowCount written to tblImportLog (None: actual)
    rowcount_off: int = 0              # injected RowCount error on OK batches
    batch_id: int = 0
    file_name: str = ""
    loaded_kinds: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"


def fact_rows(dataset: str, scale: float) -> int:
    return max(MIN_FACT_ROWS, round(SPECS[dataset].rows_at_scale_1 * scale))


def load_time(rng: random.Random) -> int:
    if rng.random() < 0.3:  # overnight jobs
        return rng.randrange(30 * 60, 3 * 3600 + 30 * 60)
    return rng.randrange(8 * 3600, 18 * 3600)


def _split_days(first: int, last: int, n: int) -> list[tuple[int, int]]:
    total = last - first + 1
    n = min(n, total)
    cuts = [first + (total * i) // n for i in range(n + 1)]
    return [(cuts[i], cuts[i + 1] - 1) for i in range(n)]


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (cumulative rounding)."""
    s = sum(weights)
    out, acc, given = [], 0.0, 0
    for w in weights:
        acc += w
        upto = round(total * acc / s) if s else 0
        out.append(upto - given)
        given = upto
    return out


@dataclass
class Plan:
    batches: list[Batch]
    hospital_months: dict[int, list[tuple[int, int]]]    # ISTV: hospital → [(month first day, rows)]
    istv_gaps: list[tuple[int, str]]                      # (HospitalID, "YYYY-MM") with no data by design
    istv_month_blocks: int

    def of(self, dataset: str) -> list[Batch]:
        return sorted((b for b in self.batches if b.dataset == dataset), key=lambda b: b.batch_id)


def _periodic(rng: random.Random, dataset: str, scale: float, clock: Clock) -> list[Batch]:
    spec = SPECS[dataset]
    n = max(MIN_BATCHES, round(spec.batches_at_scale_1 * scale))
    periods = _split_days(spec.first.toordinal(), spec.last.toordinal(), n)
    rows = _allocate(fact_rows(dataset, scale), [b - a + 1 for a, b in periods])
    out = []
    for i, ((a, b), r) in enumerate(zip(periods, rows, strict=True)):
        out.append(Batch(dataset, i, a, b, b + 1 + rng.randrange(0, 6), load_time(rng), base_rows=r))
    return out


def _plan_mps(rng: random.Random, scale: float, clock: Clock) -> list[Batch]:
    blocks = _periodic(rng, "MPS", scale, clock)
    total = sum(b.base_rows for b in blocks)
    n = len(blocks)
    n_reload = max(2, round(0.033 * n))
    n_fail_first = max(1, round(0.006 * n))
    n_fail_reload = max(1, round(0.004 * n))
    # blocks away from both ends so that every event has room in time
    candidates = list(range(1, n - 1))
    rng.shuffle(candidates)
    reload_idx = candidates[:n_reload]
    fail_first_idx = candidates[n_reload:n_reload + n_fail_first]
    fail_reload_idx = candidates[n_reload + n_fail_first:n_reload + n_fail_first + n_fail_reload]
    extra: list[Batch] = []
    seq = n
    per_reload = max(3, round(0.0035 * total / n_reload))
    per_fail_first = max(2, round(0.0008 * total / n_fail_first))
    per_fail_reload = max(2, round(0.0004 * total / n_fail_reload))
    for i in reload_idx:
        o = blocks[i]
        o.status = "RELOADED"
        rl = Batch("MPS", seq, o.first_day, o.last_day, o.loaded_day + rng.randrange(7, 41), load_time(rng),
                   role="reload", copies=min(per_reload, o.base_rows // 2), source=o)
        o.links.append(rl)
        extra.append(rl)
        seq += 1
    for i in fail_first_idx:
        r = blocks[i]
        f = Batch("MPS", seq, r.first_day, r.last_day, r.loaded_day, load_time(rng),
                  role="failed_attempt", status="FAILED", copies=min(per_fail_first, (r.base_rows * 3) // 5),
                  source=r)
        f.claimed_rows = r.base_rows
        r.loaded_day += 1 + rng.randrange(0, 2)
        extra.append(f)
        seq += 1
    for i in fail_reload_idx:
        o = blocks[i]
        f = Batch("MPS", seq, o.first_day, o.last_day, o.loaded_day + rng.randrange(5, 31), load_time(rng),
                  role="failed_reload", status="FAILED", copies=min(per_fail_reload, o.base_rows // 3), source=o)
        f.claimed_rows = o.base_rows
        o.links.append(f)
        extra.append(f)
        seq += 1
    return blocks + extra


def _plan_replaceable(rng: random.Random, dataset: str, scale: float, clock: Clock) -> list[Batch]:
    """LFB, LAS, TRANSPORT: failed loads rolled back; reloads replaced the rows."""
    blocks = _periodic(rng, dataset, scale, clock)
    n = len(blocks)
    n_fail = max(1, round(0.01 * n))
    n_reload = max(1, round(0.01 * n))
    candidates = list(range(1, n - 1))
    rng.shuffle(candidates)
    extra: list[Batch] = []
    seq = n
    for i in candidates[:n_fail]:
        r = blocks[i]
        f = Batch(dataset, seq, r.first_day, r.last_day, r.loaded_day, load_time(rng),
                  role="failed_attempt", status="FAILED", source=r)
        f.claimed_rows = r.base_rows
        r.loaded_day += 1 + rng.randrange(0, 2)
        extra.append(f)
        seq += 1
    for i in candidates[n_fail:n_fail + n_reload]:
        # the original load of this period was replaced: its log row stays (RELOADED, no rows)
        r = blocks[i]
        o = Batch(dataset, seq, r.first_day, r.last_day, r.loaded_day, load_time(rng),
                  role="replaced", status="RELOADED", source=r)
        o.claimed_rows = r.base_rows
        r.loaded_day += rng.randrange(7, 41)
        extra.append(o)
        seq += 1
    return blocks + extra


def _plan_istv(rng: random.Random, scale: float, clock: Clock) -> tuple[list[Batch], dict[int, list[tuple[int, int]]], list[tuple[int, str]], int]:
    last_month = date(2016, 12, 1)
    sharing: list[tuple[int, list[date], float]] = []
    for hid, h in enumerate(vocab.HOSPITALS, start=1):
        name, _b, _code, _old, start, closed, _active, weight = h
        if not start:
            continue
        first = date(int(start[:4]), int(start[5:7]), 1)
        last = last_month
        if closed:
            cd = date.fromisoformat(closed)
            last = add_months(date(cd.year, cd.month, 1), -1)
        months = months_between(first, last)
        if months:
            sharing.append((hid, months, weight))
    all_hm = [(hid, m) for hid, months, _ in sharing for m in months]
    n_gaps = max(3, round(0.03 * len(all_hm)))
    gap_candidates = [(hid, m) for hid, months, _ in sharing for m in months[1:-1]]
    gaps = set(rng.sample(gap_candidates, min(n_gaps, len(gap_candidates))))
    weights = {hid: w for hid, _, w in sharing}
    hm_weights = [0.0 if (hid, m) in gaps else weights[hid] for hid, m in all_hm]
    hm_rows = _allocate(fact_rows("ISTV", scale), hm_weights)
    target_batches = max(len(sharing), round(len(all_hm) * scale)) if scale < 1 else len(all_hm)
    block = max(1, math.ceil(len(all_hm) / max(target_batches, 1)))
    rows_of = dict(zip(all_hm, hm_rows, strict=True))
    hospital_months: dict[int, list[tuple[int, int]]] = {}
    batches: list[Batch] = []
    seq = 0
    for hid, months, _ in sharing:
        hospital_months[hid] = [(m.toordinal(), rows_of[(hid, m)]) for m in months]
        for s in range(0, len(months), block):
            chunk = months[s:s + block]
            p0, p1 = chunk[0].toordinal(), month_end(chunk[-1]).toordinal()
            rows = sum(rows_of[(hid, m)] for m in chunk)
            b = Batch("ISTV", seq, p0, p1, p1 + 3 + rng.randrange(0, 20), load_time(rng),
                      base_rows=rows, hospital=hid)
            batches.append(b)
            seq += 1
    n = len(batches)
    with_rows = [b for b in batches if b.base_rows > 0 and b.last_day < DATA_LAST_DAY - 120]
    n_resub = max(2, round(0.03 * n))
    resub = rng.sample(with_rows, min(n_resub, len(with_rows)))
    extra: list[Batch] = []
    for o in sorted(resub, key=lambda b: b.seq):
        o.status = "RELOADED"
        rs = Batch("ISTV", seq, o.first_day, o.last_day, o.loaded_day + rng.randrange(20, 91), load_time(rng),
                   role="resubmission", copies=o.base_rows, source=o, hospital=o.hospital)
        o.links.append(rs)
        extra.append(rs)
        seq += 1
    plain = [b for b in batches if b.status == "OK"]
    for r in rng.sample(plain, min(max(1, round(0.01 * n)), len(plain))):
        f = Batch("ISTV", seq, r.first_day, r.last_day, r.loaded_day, load_time(rng),
                  role="failed_attempt", status="FAILED", source=r, hospital=r.hospital)
        f.claimed_rows = r.base_rows
        r.loaded_day += 1
        extra.append(f)
        seq += 1
    gap_list = sorted((hid, f"{m.year:04d}-{m.month:02d}") for hid, m in gaps)
    return batches + extra, hospital_months, gap_list, block


def build_plan(seed: int, scale: float, clock: Clock) -> Plan:
    rng = random.Random(f"{seed}:plan")
    batches: list[Batch] = []
    batches += _plan_mps(rng, scale, clock)
    for ds in ("LFB", "LAS", "TRANSPORT"):
        batches += _plan_replaceable(rng, ds, scale, clock)
    istv, hospital_months, gaps, block = _plan_istv(rng, scale, clock)
    batches += istv
    _inject_loaded_dst(rng, batches, clock)
    _inject_rowcount_errors(rng, batches)
    order = {ds: i for i, ds in enumerate(DATASETS)}
    batches.sort(key=lambda b: (b.loaded_day, b.loaded_secs, order[b.dataset], b.seq))
    for i, b in enumerate(batches, start=1):
        b.batch_id = i
    for b in batches:
        b.file_name = batch_file_name(b, clock)
    return Plan(batches, hospital_months, gaps, block)


def _inject_loaded_dst(rng: random.Random, batches: list[Batch], clock: Clock) -> None:
    """Put a few overnight loads into the repeated autumn hour and the missing spring hour."""
    plain = [b for b in batches if b.role == "normal" and not b.links and b.status == "OK"]
    rng.shuffle(plain)
    want = {"autumn": max(2, round(len(batches) * 0.004)), "spring": max(1, round(len(batches) * 0.002))}
    for b in plain:
        if not any(want.values()):
            break
        for season in ("autumn", "spring"):
            if not want[season]:
                continue
            days = clock.autumn_between(b.last_day + 1, b.last_day + 40) if season == "autumn" \
                else clock.spring_between(b.last_day + 1, b.last_day + 40)
            if days:
                b.loaded_day = days[0]
                b.loaded_secs = 3600 + rng.randrange(0, 3600)
                want[season] -= 1
                break


def _inject_rowcount_errors(rng: random.Random, batches: list[Batch]) -> None:
    plain = [b for b in batches if b.status == "OK" and b.role == "normal" and b.base_rows > 3]
    for b in rng.sample(plain, min(len(plain), max(2, round(len(batches) * 0.003)))):
        b.rowcount_off = rng.choice((1, 1, -1, -3, 2))


def batch_file_name(b: Batch, clock: Clock) -> str:
    a = clock.d_iso(b.first_day).replace("-", "")
    z = clock.d_iso(b.last_day).replace("-", "")
    if b.dataset == "MPS":
        return f"\\\\glaint01\\SafeStats\\Imports\\MPS\\CRIS_extract_{a}_{z}.csv"
    if b.dataset == "LFB":
        return f"\\\\glaint01\\SafeStats\\Imports\\LFB\\LFB_Incidents_{a}_{z}.xlsx"
    if b.dataset == "LAS":
        return f"\\\\glaint01\\SafeStats\\Imports\\LAS\\LAS_assaults_{a[:6]}_{z[:6]}.csv"
    if b.dataset == "TRANSPORT":
        return f"\\\\glaint01\\SafeStats\\Imports\\TfL\\BTP_MPS_transport_{a[:6]}_{z[:6]}.csv"
    assert b.hospital is not None
    site = vocab.HOSPITALS[b.hospital - 1][2]
    suffix = "_resubmitted" if b.role == "resubmission" else ""
    return f"\\\\glaint01\\SafeStats\\Imports\\ISTV\\ISTV_{site}_{a[:6]}_{z[:6]}{suffix}.csv"
