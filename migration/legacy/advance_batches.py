"""An advance's new batches: planned at each dataset's cadence (a failed-and-retried MPS load, a
replaced LFB load, a re-sent MPS batch, a re-submitted ISTV period) and written, each with its
``tblImportLog`` row, in one short transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import migration.schema.legacy as t
from migration.legacy import vocab
from migration.legacy.advance_base import AdvanceBase
from migration.legacy.advance_state import (
    CADENCE,
    ISTV_MONTHS,
    MAX_SPAN,
    ROWCOUNT_OFF_SHARE,
    MpsRow,
    _bit,
    _chunks,
    _no_value,
    _period_of,
    dt_text,
    parse_dmy,
    stochastic,
    vocab_total_istv,
)
from migration.legacy.facts_istv import IstvGenerator
from migration.legacy.facts_mps import DROP_ON_COPY, Item, MpsGenerator
from migration.legacy.facts_other import LasGenerator, LfbGenerator, TransportGenerator
from migration.legacy.generate import (
    import_log_row,
)
from migration.legacy.plan import DATASETS, SPECS, Batch, Plan, batch_file_name, load_time
from migration.legacy.timeutil import add_months, from_ordinal, month_end
from migration.legacy.writer import Row


class BatchPlanning(AdvanceBase):
    """New batches: planned, numbered and written."""

    # ------------------------------------------------------------------ batches
    def plan_loads(self) -> None:
        r = self.rng
        seq = 0
        for ds in ("MPS", "LFB", "LAS", "TRANSPORT"):
            cadence = CADENCE[ds]
            start = self.state.data_end[ds] + 1
            loads: list[int] = []
            day = self.first + int(r.random() * cadence)
            while day <= self.last:
                loads.append(day)
                day += max(1, round(cadence * (0.5 + r.random())))
            if not loads:
                loads = [self.first + r.randrange(self.days)]
            mine: list[Batch] = []
            for load_day in loads:
                end = load_day - 1
                if end < start:
                    continue
                secs = load_time(r)
                a = start
                while a <= end:  # a backlog goes as several extracts, loaded one after another
                    z = min(end, a + MAX_SPAN[ds] - 1)
                    rows = stochastic(self.per_day(ds) * (z - a + 1), r)
                    mine.append(Batch(ds, seq, a, z, load_day, min(secs, 86_399), base_rows=rows))
                    seq += 1
                    secs += 60 + r.randrange(600)
                    a = z + 1
                start = end + 1
            if not mine:  # nothing new since the data ends: the last day is extracted again (late reports)
                day = loads[-1] - 1
                mine.append(Batch(ds, seq, day, day, loads[-1], load_time(r), base_rows=1))
                seq += 1
            if not sum(b.base_rows for b in mine):
                mine[-1].base_rows = 1  # every fact table gets new rows
            self.batches += mine
        self._plan_istv(seq + 1000)
        self._plan_failed_and_replaced()
        for b in self.batches:
            if b.status == "OK" and b.role == "normal" and b.base_rows > 3 and r.random() < ROWCOUNT_OFF_SHARE:
                b.rowcount_off = r.choice((1, 1, -1, -3, 2))

    def _plan_istv(self, seq: int) -> None:
        r = self.rng
        hs = [h for h in self.ctx.hospitals if h.istv_start is not None]
        open_hs = [h for h in hs if h.closed_on is None or h.closed_on.toordinal() > self.first]
        weight = sum(h.weight for h in open_hs) or 1.0
        per_month = vocab_total_istv(self.scale) / ISTV_MONTHS
        latest = max(self.state.istv_last.values(), default=SPECS["ISTV"].last.replace(day=1).toordinal())
        floor = add_months(from_ordinal(latest), -2).toordinal()
        months: dict[int, list[tuple[int, int]]] = {}
        for h in open_hs:
            m = add_months(from_ordinal(max(self.state.istv_last.get(h.id, floor), floor)), 1)
            while True:
                end = month_end(m).toordinal()
                if h.closed_on is not None and m >= h.closed_on.replace(day=1):
                    break
                due = end + 3 + r.randrange(20)
                if due > self.last:
                    break
                if due < self.first:
                    due = self.first + r.randrange(min(7, self.days))
                rows = stochastic(per_month * h.weight / weight, r)
                if rows:  # a month with nothing to send is not submitted
                    b = Batch("ISTV", seq, m.toordinal(), end, due, load_time(r), base_rows=rows, hospital=h.id)
                    self.batches.append(b)
                    months.setdefault(h.id, []).append((m.toordinal(), rows))
                    seq += 1
                m = add_months(m, 1)
        self.istv_months = months

    def _plan_failed_and_replaced(self) -> None:
        r = self.rng
        mps = [b for b in self.batches if b.dataset == "MPS"]
        retry = max(mps, key=lambda b: (b.base_rows, -b.seq))
        retry.base_rows = max(retry.base_rows, 2)
        copies = max(1, min(2 + retry.base_rows // 50, (retry.base_rows * 3) // 5))
        f = Batch("MPS", 9000, retry.first_day, retry.last_day, retry.loaded_day, min(retry.loaded_secs, 80_000),
                  role="failed_attempt", status="FAILED", copies=copies, source=retry)
        f.claimed_rows = retry.base_rows
        retry.loaded_secs = f.loaded_secs + 1800 + r.randrange(3600)  # retried the same day; the failed rows stay
        self.batches.append(f)
        lfb = [b for b in self.batches if b.dataset == "LFB"]
        lfb = [b for b in lfb if b.base_rows] or lfb
        later = lfb[r.randrange(len(lfb))]
        gone = Batch("LFB", 9001, later.first_day, later.last_day, later.loaded_day, min(later.loaded_secs, 80_000),
                     role="replaced", status="RELOADED", source=later)
        gone.claimed_rows = later.base_rows
        later.loaded_secs = gone.loaded_secs + 1800 + r.randrange(3600)  # its rows deleted and loaded again
        self.batches.append(gone)

    def number_batches(self) -> None:
        order = {ds: i for i, ds in enumerate(DATASETS)}
        nxt = max(self.state.log, default=0)
        for b in sorted(self.batches, key=lambda b: (b.loaded_day, b.loaded_secs, order[b.dataset], b.seq)):
            nxt += 1
            b.batch_id = nxt
            if not b.file_name:
                b.file_name = batch_file_name(b, self.clock)

    # ------------------------------------------------------------------ MPS re-sent batch, ISTV re-submission
    def plan_mps_reload(self, source: int | None, rows: list[MpsRow]) -> None:
        self.reload = None
        if source is None or not rows:
            return
        db, q = self.db, self.db.q
        cols = [c.name for c in t.tblMPSCrime.columns]
        full: dict[int, tuple[Any, ...]] = {}
        for part in _chunks([r.recid for r in rows]):
            sql, p = db.in_list("r", part)
            for x in db.rows(f"SELECT {db.cols('tblMPSCrime', cols)} FROM {q('tblMPSCrime')} WHERE {q('RecID')} IN {sql}", p):
                full[int(x[0])] = tuple(x)
        src = self.state.log[source]
        first_day, last_day = _period_of(src.file_name, self.last)
        load_day = self.first + self.rng.randrange(self.days)
        b = Batch("MPS", 9002, first_day, last_day, load_day, load_time(self.rng), role="reload")
        b.file_name = src.file_name
        kinds_of = self.book.kinds_of("tblMPSCrime", [r.recid for r in rows]) if self.exact else {}
        items = []
        r = self.rng.random
        for row in rows:
            x = full[row.recid]
            body = [x[1], x[2], x[3], x[4], dt_text(x[5]), x[6], x[7], x[8], x[9], x[10], x[11], x[12], x[13],
                    _bit(x[14]), x[15], None]
            raw = body[0]
            trimmed = raw.rstrip(" ")
            if r() < 0.15:
                body[0] = trimmed + " " if raw == trimmed else trimmed
            kinds = {k for k in kinds_of.get(row.recid, set())
                     if k not in DROP_ON_COPY and not k.startswith("mps.duplicate")}
            if r() < 0.3 and not _no_value(body[14]):
                body[14] = vocab.OUTCOMES[int(r() * len(vocab.OUTCOMES))]
            if body[0].endswith(" "):
                kinds.add("mps.crimeref_trailing_space")
            items.append(Item(body, sorted(kinds)))
        self.batches.append(b)
        self.reload = (source, b, rows, items)

    def plan_istv_resubmission(self) -> None:
        self.resub = None
        db, q = self.db, self.db.q
        keyed = db.rows(f"SELECT {q('BatchID')}, {q('HospitalID')}, {q('PeriodStart')}, {q('PeriodEnd')}, COUNT(*) "
                        f"FROM {q('tblISTVAssault')} GROUP BY {q('BatchID')}, {q('HospitalID')}, {q('PeriodStart')}, "
                        f"{q('PeriodEnd')} ORDER BY {q('BatchID')}")
        ok = [x for x in keyed if self.status(int(x[0])) == "OK" and int(x[4]) > 0]
        if not ok:
            return
        x = ok[-1 - self.rng.randrange(min(5, len(ok)))]
        source, hid, ps, pe = int(x[0]), int(x[1]), x[2], x[3]
        cols = [c.name for c in t.tblISTVAssault.columns]
        rows = [tuple(r) for r in db.rows(f"SELECT {db.cols('tblISTVAssault', cols)} FROM {q('tblISTVAssault')} "
                                          f"WHERE {q('BatchID')} = :b ORDER BY {q('ISTVID')}", {"b": source})]
        group = [(int(r[0]), int(r[1])) for r in db.rows(
            f"SELECT {q('ISTVID')}, {q('BatchID')} FROM {q('tblISTVAssault')} WHERE {q('HospitalID')} = :h "
            f"AND {q('PeriodStart')} = :ps AND {q('PeriodEnd')} = :pe", {"h": hid, "ps": ps, "pe": pe})]
        first_day, last_day = parse_dmy(ps) or self.first, parse_dmy(pe) or self.first
        load_day = self.first + self.rng.randrange(self.days)
        b = Batch("ISTV", 9003, first_day, last_day, load_day, load_time(self.rng), role="resubmission", hospital=hid)
        name = self.state.log[source].file_name
        b.file_name = name if "_resubmitted" in name else name.replace(".csv", "_resubmitted.csv")
        kinds_of = self.book.kinds_of("tblISTVAssault", [r[0] for r in rows]) if self.exact else {}
        bodies = []
        for r in rows:
            body = [r[1], r[2], dt_text(r[3]), *r[4:17]]
            kinds = sorted(k for k in kinds_of.get(int(r[0]), set())
                           if k not in ("istv.superseded_submission", "istv.resubmission"))
            bodies.append((body, kinds))
        self.batches.append(b)
        self.resub = (source, b, rows, bodies, group, (hid, ps, pe))

    # ------------------------------------------------------------------ writing the batches
    def write_batches(self) -> None:
        plan_batches = sorted(self.batches, key=lambda b: b.batch_id)
        plan = Plan(plan_batches, getattr(self, "istv_months", {}), [], 1)
        st = self.state
        if self.reload is not None:
            source = self.reload[0]
            self.after_batch.setdefault(self.reload[1].batch_id, []).append(lambda: self.set_status(source))
        if self.resub is not None:
            source_i = self.resub[0]
            self.after_batch.setdefault(self.resub[1].batch_id, []).append(lambda: self.set_status(source_i))
        specs: list[tuple[str, t.Table, Callable[[BatchWriter], Any]]] = [
            ("MPS", t.tblMPSCrime, lambda w: MpsGenerator(self.ctx, plan, self.local, w, first_index=st.mps_max,  # type: ignore[arg-type]
                                                          first_recid=st.mps_max, advance_rng=self.rng)),
            ("ISTV", t.tblISTVAssault, lambda w: IstvGenerator(self.ctx, plan, self.local, w,  # type: ignore[arg-type]
                                                               first_index=st.istv_max, first_istvid=st.istv_max,
                                                               advance_rng=self.rng)),
            ("LFB", t.tblLFBIncident, lambda w: LfbGenerator(self.ctx, plan, self.local, w,  # type: ignore[arg-type]
                                                             first_index=st.lfb_count, advance_rng=self.rng)),
            ("LAS", t.tblLASAssault, lambda w: LasGenerator(self.ctx, plan, self.local, w,  # type: ignore[arg-type]
                                                            first_index=st.las_max_index + 1, advance_rng=self.rng)),
            ("TRANSPORT", t.tblTransportCrime, lambda w: TransportGenerator(self.ctx, plan, self.local, w,  # type: ignore[arg-type]
                                                                            first_index=st.transport_max,
                                                                            advance_rng=self.rng)),
        ]
        for ds, table, make in specs:
            writer = BatchWriter(self, table)
            gen = make(writer)
            if ds == "MPS" and self.reload is not None:
                gen.pending[id(self.reload[1])] = self.reload[3]
            if ds == "ISTV" and self.resub is not None:
                gen.pending[id(self.resub[1])] = self.resub[3]
            gen.run()
            left = gen.pending_kinds()
            if left:
                self.not_placed[table.name] = left
            for b in plan.of(ds):  # batches that kept no rows (failed and replaced loads)
                if b.batch_id not in self.logged:
                    self.log_batch(b)
            self.sink.commit()

    def log_batch(self, b: Batch) -> None:
        row, kinds = import_log_row(b, self.clock)
        self.sink.insert(t.tblImportLog, [row])
        self.local.tally("tblImportLog").add(kinds, b.batch_id)
        self.inserted["tblImportLog"].append(b.batch_id)
        self.logged.add(b.batch_id)
        for action in self.after_batch.pop(b.batch_id, []):
            action()

    def set_status(self, batch: int) -> None:
        self.sink.execute(f"UPDATE {self.sink.quote('tblImportLog')} SET {self.sink.quote('Status')} = ? "
                          f"WHERE {self.sink.quote('BatchID')} = ?", ("RELOADED", batch))
        self.revised["tblImportLog"][batch] = {"Status": "RELOADED"}


class BatchWriter:
    """What the fact generators write through during an advance: one transaction per batch
    (its rows and its ``tblImportLog`` row), keys of every new row kept for the manifest."""

    def __init__(self, adv: BatchPlanning, table: t.Table) -> None:
        self.adv = adv
        self.sink = adv.sink
        self.table = table
        self.batch_col = [c.name for c in table.columns].index("BatchID")
        self.rows = 0
        self._buf: list[Row] = []
        self._current: int | None = None
        self._by_id = {b.batch_id: b for b in adv.batches}

    def add(self, row: Row) -> None:
        batch = int(row[self.batch_col])
        if self._current is not None and batch != self._current:
            self._finish()
        self._current = batch
        self._buf.append(row)
        self.adv.inserted[self.table.name].append(row[0])
        self.adv.batch_keys.setdefault(batch, []).append(row[0])
        self.rows += 1
        if len(self._buf) >= self.sink.chunk_rows:
            self.sink.insert(self.table, self._buf)
            self._buf = []

    def flush(self) -> None:
        self._finish()

    def _finish(self) -> None:
        if self._buf:
            self.sink.insert(self.table, self._buf)
            self._buf = []
        if self._current is not None:
            self.adv.log_batch(self._by_id[self._current])
            self.sink.commit()
            self._current = None
