"""An advance recorded in the manifest: counts, duplicate groups, keys and the ``advances`` entry."""

from __future__ import annotations

from typing import Any

from migration.legacy.advance_base import AdvanceBase
from migration.legacy.advance_state import _chunks, _flag_unknown, _istv_kinds, _lastmod_kinds
from migration.legacy.generate import (
    GENERATOR_VERSION,
)
from migration.legacy.manifest import (
    _sort_key,
)
from migration.legacy.plan import DATASETS
from migration.legacy.timeutil import from_ordinal
from migration.schema.legacy import TABLE_NAMES


class ManifestBooking(AdvanceBase):
    """The manifest kept true to the database after the changes."""

    # ------------------------------------------------------------------ the manifest
    def book_changes(self, groups: dict[str, list[tuple[int, str, int]]]) -> None:
        book, clock = self.book, self.clock
        exact = self.exact
        # deleted rows lose every kind they carried (known only when keys are recorded)
        for table in ("tblMPSCrime", "tblLASAssault"):
            gone = self.deleted[table]
            if gone and exact:
                for key, kinds in book.kinds_of(table, gone).items():
                    book.remove(table, key, kinds)
            book.rows(table, -len(gone))
        # new rows, as the generators tallied them
        for table in TABLE_NAMES:
            tally = self.local.tallies.get(table)
            book.rows(table, len(self.inserted[table]))
            if tally is None:
                continue
            for kind, keys in tally.keys.items():
                for key in keys:
                    book.add(table, key, [kind])
        new_user = getattr(self, "new_user", None)
        if new_user is not None:
            book.add("tblUser", new_user.key, new_user.kinds)
        # MPS revisions: kinds that follow LastModified
        for recid, change in self.mps_set.items():
            old = self.mps_old[recid].lastmod
            book.change("tblMPSCrime", recid, _lastmod_kinds(old, clock), _lastmod_kinds(change["LastModified"], clock))
            self.revised["tblMPSCrime"][recid] = dict(change)
        for ref, change in self.revised["tblLASAssault"].items():
            old, flag = self.las_old[ref]
            was = ({"las.updated"} if old else set()) | ({"las.alcohol_flag_unknown"} if _flag_unknown(flag) else set())
            becomes = {"las.updated"} | ({"las.alcohol_flag_unknown"}
                                         if _flag_unknown(change.get("AlcoholFlag", flag)) else set())
            book.change("tblLASAssault", ref, was, becomes)
        # duplicate groups touched by the deletes and the re-sent rows
        touched: dict[str, list[tuple[int, str, int]]] = {}
        deleted = set(self.deleted["tblMPSCrime"])
        self.dup_record: list[dict[str, Any]] = []
        for recid in deleted:
            raw = self.ref_of_mps.get(recid)
            if raw is not None and raw.strip(" "):
                ref = raw.rstrip(" ")
                touched.setdefault(ref, groups.get(ref, [(recid, raw, self.batch_of_mps[recid])]))
        copies: list[tuple[int, int, str, int]] = []  # (original, copy RecID, copy ref, batch)
        if self.reload is not None:
            _, rl_batch, rl_rows, rl_items = self.reload
            rl_keys = self.batch_keys.get(rl_batch.batch_id, [])
            for row, item, key in zip(rl_rows, rl_items, rl_keys, strict=True):
                copies.append((row.recid, int(key), str(item.body[0]), rl_batch.batch_id))
                ref = str(row.ref).rstrip(" ")
                touched.setdefault(ref, groups.get(ref, [(row.recid, str(row.ref), row.batch)]))
        new_status = {b.batch_id: b.status for b in self.batches}
        changed_status = {k: str(v["Status"]) for k, v in self.revised["tblImportLog"].items()}

        def after(batch: int) -> str:
            if batch in new_status:
                return new_status[batch]
            return changed_status.get(batch, self.status(batch))

        for ref in sorted(touched):
            before = touched[ref]
            now = [m for m in before if m[0] not in deleted] + [(c, raw, bt) for _, c, raw, bt in copies
                                                              if raw.rstrip(" ") == ref]
            old_k = self.dup_kinds(before, self.status)
            new_k = self.dup_kinds(now, after)
            for m in now:
                if m[0] in old_k:
                    book.change("tblMPSCrime", m[0], old_k[m[0]], new_k[m[0]])
                else:
                    book.add("tblMPSCrime", m[0], new_k[m[0]])
            if not exact:
                for m in before:
                    if m[0] in deleted:
                        book.remove("tblMPSCrime", m[0], old_k[m[0]])
            if len(before) > 1:
                book.drop_group(ref, len(before))
            if len(now) > 1:
                win = self.winner(now, after)
                if win is None:
                    raise AssertionError(f"group {ref!r} left without a winner")
                book.add_group(ref, [m[0] for m in now], win)
            self.dup_record.append({"crimeref": ref, "members_before": sorted(m[0] for m in before),
                                    "winner_before": self.winner(before, self.status),
                                    "members_after": sorted(m[0] for m in now),
                                    "winner_after": self.winner(now, after)})
        for g in self.local.duplicate_groups:
            book.add_group(g["crimeref"], g["recids"], g["winner"])
        # ISTV: every row of the re-submitted period
        if self.resub is not None:
            rs_batch, group = self.resub[1], self.resub[4]
            period = group + [(int(k), rs_batch.batch_id) for k in self.batch_keys.get(rs_batch.batch_id, [])]
            for key, batch in period:
                gained = _istv_kinds(batch, period)
                if (key, batch) in group:
                    book.change("tblISTVAssault", key, _istv_kinds(batch, group), gained)
                else:
                    book.add("tblISTVAssault", key, gained)
        # tblImportLog: status changes, and batches whose row counts moved
        for batch, status in changed_status.items():
            if self.state.log[batch].status != status:
                book.add("tblImportLog", batch, ["importlog.reloaded"])
        for batch, n in self.lost.items():
            claimed = self.state.log[batch].row_count
            held = self.counts_before[batch]
            book.change("tblImportLog", batch, {"importlog.rowcount_mismatch"} if claimed != held else set(),
                        {"importlog.rowcount_mismatch"} if claimed != held - n else set())
        self.doc["anomalies_exact"] = exact
        if not exact:
            self.doc["anomalies_note"] = (
                "legacy advance changed rows whose kinds are listed only with keys (manifest written without "
                "keys): row counts and the kinds of new rows are exact, the other anomaly counts are not")
        book.finish()

    def batch_counts(self, lost: dict[int, int]) -> dict[int, int]:
        """Rows each batch of ``lost`` holds (read before any change)."""
        out: dict[int, int] = {b: 0 for b in lost}
        q = self.db.q
        for table, ds in (("tblMPSCrime", "MPS"), ("tblLASAssault", "LAS")):
            for part in _chunks(sorted(b for b in lost if self.state.log[b].dataset == ds)):
                sql, p = self.db.in_list("b", part)
                for b, n in self.db.rows(f"SELECT {q('BatchID')}, COUNT(*) FROM {q(table)} WHERE {q('BatchID')} "
                                         f"IN {sql} GROUP BY {q('BatchID')}", p):
                    out[int(b)] = int(n)
        return out

    def finish_record(self) -> dict[str, Any]:
        """Append this run to ``advances`` and return the entry::

            {"seed", "days", "from", "to", "generator_version", "anomalies_exact",
             "previous": {"now", "max_batch", "max_lastmodified", "max_updatedon"},
             "reference_tables": "unchanged",
             "batches": [{"batch", "dataset", "role", "status", "loaded_on", "period", "rows", "file"}],
             "status_changes": [[batch, "OK", "RELOADED"]],
             "changes": {table: {"inserted": [keys], "revised": [keys], "deleted": [keys],
                                 "set": [[key, {column: new value}]]}},       # every table, keys always
             "mps": {"null_to_value", "value_to_value", "outcome_changed", "late_writers",
                     "autumn_days", "dst_repeated", "shared_stamps", "max_lastmodified",
                     "duplicate_groups_changed", "deleted_winners", "reload", "failed_batches"},
             "las": {...}, "istv": {"resubmission": {...}}, "users": {...}, "not_placed": {...}}
        """
        doc, st, clock = self.doc, self.state, self.clock
        changes: dict[str, Any] = {}
        for name in TABLE_NAMES:
            rev = self.revised[name]
            order = sorted(rev, key=_sort_key)
            changes[name] = {"inserted": sorted(self.inserted[name], key=_sort_key), "revised": order,
                             "deleted": sorted(self.deleted[name], key=_sort_key), "set": [[k, rev[k]] for k in order]}
        mps_set = self.revised["tblMPSCrime"]
        by_stamp: dict[str, list[int]] = {}
        for recid, change in mps_set.items():
            by_stamp.setdefault(change["LastModified"], []).append(recid)
        deleted = set(self.deleted["tblMPSCrime"])
        las = self.revised["tblLASAssault"]
        batches = sorted(self.batches, key=lambda b: b.batch_id)
        record: dict[str, Any] = {
            "seed": self.seed,
            "days": self.days,
            "from": from_ordinal(self.first).isoformat(),
            "to": from_ordinal(self.last).isoformat(),
            "generator_version": GENERATOR_VERSION,
            "previous": {"now": st.now, "max_batch": max(st.log, default=0), "max_lastmodified": st.max_lastmod,
                         "max_updatedon": st.max_updated},
            "reference_tables": "unchanged",
            "batches": [{"batch": b.batch_id, "dataset": b.dataset, "role": b.role, "status": b.status,
                         "loaded_on": clock.dt(b.loaded_day, b.loaded_secs),
                         "period": [clock.d_iso(b.first_day), clock.d_iso(b.last_day)],
                         "rows": b.rows_in_table, "file": b.file_name} for b in batches],
            "status_changes": [[k, self.state.log[k].status, v["Status"]]
                               for k, v in sorted(self.revised["tblImportLog"].items())],
            "changes": changes,
            "mps": {
                "null_to_value": sorted(k for k in mps_set if self.mps_old[k].lastmod is None),
                "value_to_value": sorted(k for k in mps_set if self.mps_old[k].lastmod is not None),
                "outcome_changed": sorted(k for k, v in mps_set.items() if "Outcome" in v),
                "late_writers": [{"recid": row.recid, "stamp": stamp, "behind_seconds": behind}
                                 for row, stamp, behind in self.mps_late],
                "autumn_days": [clock.d_iso(d) for d in self.mps_autumn],
                "dst_repeated": [{"recid": row.recid, "stamp": stamp, "pass": label}
                                 for row, stamp, label in self.mps_dst],
                "shared_stamps": [{"stamp": k, "recids": sorted(v)} for k, v in sorted(by_stamp.items()) if len(v) > 1],
                "max_lastmodified": max([st.max_lastmod or ""] + list(by_stamp)) or None,
                "duplicate_groups_changed": [g for g in self.dup_record
                                             if max(len(g["members_before"]), len(g["members_after"])) > 1],
                "deleted_winners": [g for g in self.dup_record
                                    if len(g["members_before"]) > 1 and g["winner_before"] in deleted],
                "reload": None,
                "failed_batches": [b.batch_id for b in batches if b.dataset == "MPS" and b.status == "FAILED"],
            },
            "las": {
                "null_to_value": sorted(k for k in las if not self.las_old[k][0]),
                "value_to_value": sorted(k for k in las if self.las_old[k][0]),
                "alcohol_flag_settled": sorted(k for k, v in las.items() if "AlcoholFlag" in v),
                "category_corrected": sorted(k for k, v in las.items() if "Category" in v),
            },
            "istv": {"resubmission": None},
            "users": {
                "new": sorted(self.inserted["tblUser"]),
                "allowed_removed": [],
                "disabled": sorted(self.user_what.get("disabled", [])),
                "password_changed": sorted(self.user_what.get("password", [])),
                "logged_in": sorted(set(self.user_what.get("login", []))),
            },
            "not_placed": self.not_placed,
            "anomalies_exact": self.exact,
        }
        allowed = getattr(self, "allowed_change", None)
        if allowed is not None:
            record["users"]["allowed_removed"] = [{"user": allowed[0], "before": allowed[1], "after": allowed[2],
                                                   "removed": allowed[3]}]
        if self.reload is not None:
            rl_source, rl_batch, rl_rows, _ = self.reload
            rl_keys = self.batch_keys.get(rl_batch.batch_id, [])
            record["mps"]["reload"] = {
                "source_batch": rl_source, "batch": rl_batch.batch_id,
                "copies": [[row.recid, int(k)] for row, k in zip(rl_rows, rl_keys, strict=True)]}
        if self.resub is not None:
            rs_source, rs_batch, rs_rows, _, _, (hid, ps, pe) = self.resub
            rs_keys = self.batch_keys.get(rs_batch.batch_id, [])
            resub = {"hospital": hid, "period_start": ps, "period_end": pe, "superseded_batch": rs_source,
                     "batch": rs_batch.batch_id, "rows": len(rs_keys),
                     "copies": [[int(x[0]), int(k)] for x, k in zip(rs_rows, rs_keys, strict=True)]}
            record["istv"]["resubmission"] = resub
            doc.setdefault("istv_resubmissions", []).append({k: resub[k] for k in (
                "hospital", "period_start", "period_end", "superseded_batch", "batch", "rows")})
        statuses = doc.setdefault("batches", {})
        for b in batches:
            statuses.setdefault(b.dataset, {"OK": 0, "FAILED": 0, "RELOADED": 0})[b.status] += 1
        for batch, old, new in record["status_changes"]:
            ds = st.log[batch].dataset
            statuses[ds][old] -= 1
            statuses[ds][new] += 1
        span = doc.setdefault("data_span", {})
        for ds in DATASETS:
            ends = [b.last_day for b in batches if b.dataset == ds and b.role == "normal"]
            if ends and ds in span:
                span[ds][1] = max(span[ds][1], clock.d_iso(max(ends)))
        doc.setdefault("advances", []).append(record)
        return record
