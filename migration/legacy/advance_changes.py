"""An advance's changes to existing rows: MPS and LAS revisions in place, hard deletes, tblUser
changes, written day by day."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import migration.schema.legacy as t
from migration.errors import GeneratorError
from migration.legacy import vocab
from migration.legacy.advance_base import AdvanceBase
from migration.legacy.advance_state import (
    LAS_DELETED_SHARE,
    LAS_REVISED_SHARE,
    LATE_WRITER_MAX_SECONDS,
    MPS_REVISED_SHARE,
    WINDOW_DAYS,
    WINDOW_ROWS,
    MpsRow,
    _no_value,
    dt_text,
    split_dt,
    stochastic,
)
from migration.legacy.reference import UserMaker, password


class ChangePlanning(AdvanceBase):
    """Revisions, deletes and user changes of existing rows."""

    # ------------------------------------------------------------------ MPS revisions
    def plan_mps_revisions(self, pool: list[MpsRow], taken: set[int]) -> None:
        r = self.rng
        clock = self.clock
        st = self.state
        events: list[tuple[int, int, int, list[MpsRow], str]] = []  # (day, secs, pass, rows, role)
        nulls = [x for x in pool if x.lastmod is None]
        valued = [x for x in pool if x.lastmod is not None]

        def take(n: int, prefer_valued: bool = False) -> list[MpsRow]:
            out: list[MpsRow] = []
            for _ in range(n):
                src = valued if (prefer_valued and valued) or not nulls else nulls
                if not src:
                    break
                out.append(src.pop())
            return out

        late: list[tuple[MpsRow, str, int]] = []
        if st.max_lastmod:
            pm_day, pm_secs = split_dt(st.max_lastmod)
            for behind in (0, r.randrange(1, LATE_WRITER_MAX_SECONDS + 1)):
                stamp_s = pm_day * 86400 + pm_secs - behind
                stamp = clock.dt(stamp_s // 86400, stamp_s % 86400)
                cand = [x for x in nulls + valued if x.reported < stamp]
                if not cand:
                    cand = self.late_candidates(stamp, taken)
                if cand:
                    row = cand[r.randrange(len(cand))]
                    for lst in (nulls, valued):
                        if row in lst:
                            lst.remove(row)
                    taken.add(row.recid)
                    late.append((row, stamp, behind))
        autumn = [d for d in clock.autumn_between(self.first, self.last)]
        dst: list[tuple[MpsRow, str, str]] = []
        for d in autumn:  # the night job runs in both passes of the repeated hour
            firsts = sorted(r.randrange(1200, 3600) for _ in range(3))
            seconds = sorted(r.randrange(0, firsts[-1]) for _ in range(3))
            for label, offsets in (("first", firsts), ("second", seconds)):
                rows = take(len(offsets), prefer_valued=label == "second")
                for row, off in zip(rows, offsets, strict=False):
                    dst.append((row, clock.dt(d, 3600 + off), label))
                    events.append((d, 3600 + off, 1 if label == "first" else 2, [row], "dst"))
        n_total = max(12, stochastic(MPS_REVISED_SHARE * self.per_day("MPS") * self.days, r))
        n_regular = max(4, n_total - len(late) - len(dst) - 3)
        regular = take(n_regular)
        valued_one = take(1, prefer_valued=True)  # at least one row revised a second time
        regular = valued_one + regular
        n_bulk = (len(regular) * 3) // 5
        bulk, single = regular[:n_bulk], regular[n_bulk:]
        jobs = max(1, len(bulk) // 3)
        for j in range(jobs):
            part = bulk[j::jobs]
            if part:
                day = self.first + r.randrange(self.days)
                events.append((day, 7 * 3600 + r.randrange(1800), 0, part, "job"))
        for row in single:
            events.append((self.first + r.randrange(self.days), self.pick_time(8, 20), 0, [row], "edit"))
        final = take(3)
        if final:
            events.append((self.last, 20 * 3600 + r.randrange(1800), 0, final, "job"))
        self.mps_events = events
        self.mps_late = late
        self.mps_dst = dst
        self.mps_autumn = autumn

    def late_candidates(self, stamp: str, taken: set[int]) -> list[MpsRow]:
        """Rows reported before ``stamp`` (a late writer revises a row that existed then)."""
        db, q = self.db, self.db.q
        failed = {b for b, row in self.state.log.items() if row.status == "FAILED"}
        rows = db.rows(
            f"SELECT {db.cols('tblMPSCrime', ('RecID', 'CrimeRef', 'BatchID', 'ReportedDT', 'LastModified', 'Outcome'))} "
            f"FROM {q('tblMPSCrime')} WHERE {q('ReportedDT')} < :s ORDER BY {q('RecID')} DESC LIMIT 200", {"s": stamp})
        return [MpsRow(int(x[0]), x[1], int(x[2]), dt_text(x[3]) or "", dt_text(x[4]), x[5]) for x in rows
                if int(x[0]) not in taken and int(x[2]) not in failed]

    # ------------------------------------------------------------------ LAS and users
    def plan_las(self) -> None:
        db, q, r = self.db, self.db.q, self.rng
        w = int(min(max(self.per_day("LAS") * WINDOW_DAYS * 3, WINDOW_ROWS[0]), WINDOW_ROWS[1]))
        rows = sorted((tuple(x) for x in db.rows(
            f"SELECT {db.cols('tblLASAssault', ('LASRef', 'UpdatedOn', 'AlcoholFlag', 'Category', 'BatchID'))} "
            f"FROM {q('tblLASAssault')} ORDER BY {q('LASRef')} DESC LIMIT {w}")), key=lambda x: str(x[0]))
        top = rows[-1][0] if rows else None
        self.las_batch = {str(x[0]): int(x[4]) for x in rows}
        pool = [x for x in rows if x[0] != top]
        r.shuffle(pool)
        n_del = max(1, stochastic(LAS_DELETED_SHARE * self.per_day("LAS") * self.days, r))
        self.las_deletes = [str(x[0]) for x in pool[:n_del]]
        pool = pool[n_del:]
        n_rev = max(4, stochastic(LAS_REVISED_SHARE * self.per_day("LAS") * self.days, r))
        cats = [c for _, c, _ in vocab.LAS_CATEGORIES]
        events = []
        for x in pool[:n_rev]:
            day, secs = self.first + r.randrange(self.days), self.pick_time(9, 18)
            change: dict[str, Any] = {"UpdatedOn": self.clock.dt(day, secs)}
            flag = x[2]
            if (flag is None or flag.strip() in ("", "U")) and r.random() < 0.6:
                change["AlcoholFlag"] = "Y" if r.random() < 0.4 else "N"
            elif r.random() < 0.3:
                change["Category"] = r.choice([c for c in cats if c != x[3]])
            events.append((day, secs, str(x[0]), dt_text(x[1]), flag, change))
        self.las_events = events

    def plan_users(self) -> None:
        r = self.rng
        users = self.state.users
        officials = set(self.ctx.speller.official.values())
        enabled = [u for u in users if not u[5]]
        r.shuffle(enabled)
        chosen: set[int] = set()

        def pick(cond: Callable[[tuple[Any, ...]], bool]) -> tuple[Any, ...] | None:
            for u in enabled:
                if int(u[0]) not in chosen and cond(u):
                    chosen.add(int(u[0]))
                    return u
            return None

        def removable(u: tuple[Any, ...]) -> bool:
            toks = [x.strip() for x in str(u[2] or "").split(",")]
            return len(toks) >= 2 and any(x in officials for x in toks)

        events: list[tuple[int, int, str, Any]] = []
        grant = pick(removable)
        if grant is not None:
            raw = str(grant[2])
            toks = raw.split(",")
            idx = [i for i, x in enumerate(toks) if x.strip() in officials]
            drop = idx[r.randrange(len(idx))]
            rest = [x.strip() for i, x in enumerate(toks) if i != drop]
            after = (", " if ", " in raw else ",").join(rest)
            events.append((self.first + r.randrange(self.days), self.pick_time(9, 17), "allowed",
                           (int(grant[0]), raw, after, toks[drop].strip())))
        off = pick(lambda u: True)
        if off is not None:
            events.append((self.first + r.randrange(self.days), self.pick_time(9, 17), "disabled", int(off[0])))
        pw = pick(lambda u: u[3] is not None)
        if pw is not None:
            md5 = bool(re.fullmatch(r"[0-9a-f]{32}", str(pw[3])))
            new = password(r, md5=md5)
            while new == pw[3]:
                new = password(r, md5=md5)
            events.append((self.first + r.randrange(self.days), self.pick_time(9, 17), "password", (int(pw[0]), new)))
        uid = max((int(u[0]) for u in users), default=0) + 1
        maker = UserMaker(self.orgs, self.ctx.speller, self.ctx.geo, self.clock, {str(u[1]) for u in users})
        new_user = maker.make(r, uid)  # a new account: a real organisation, never logged in yet
        created = self.first + r.randrange(self.days)
        events.append((created, self.pick_time(9, 12), "new", new_user))
        can_login = [int(u[0]) for u in enabled if off is None or int(u[0]) != int(off[0])]
        for day in range(self.first, self.last + 1):
            for _ in range(1 + r.randrange(4)):
                who = can_login[r.randrange(len(can_login))] if can_login else uid
                if who == uid and day <= created:
                    continue
                events.append((day, self.pick_time(7, 20), "login", who))
        if not any(e[0] == self.last and e[2] == "login" for e in events) and can_login:
            events.append((self.last, self.pick_time(7, 20), "login", can_login[0]))
        self.user_events = events

    # ------------------------------------------------------------------ in-place changes, day by day
    def write_events(self) -> None:
        clock, s = self.clock, self.sink
        events: list[tuple[int, int, Callable[[], None]]] = []
        self.las_old: dict[str, tuple[str | None, Any]] = {}
        self.user_what: dict[str, list[int]] = {}

        def true_time(day: int, secs: int, second_pass: bool = False) -> int:
            k = day * 86400 + secs
            if day in clock.autumn and (second_pass or secs >= 7200):
                k += 3600
            return k

        self.mps_set: dict[int, dict[str, Any]] = {}
        self.mps_old: dict[int, MpsRow] = {}
        seq = 0
        for day, secs, pss, rows, _role in self.mps_events:
            stamp = clock.dt(day, secs)
            events.append((true_time(day, secs, pss == 2), seq, self._mps_update(rows, stamp)))
            seq += 1
        for row, stamp, _behind in self.mps_late:  # committed during the run, stamped at/before the old maximum
            day = self.first + self.rng.randrange(self.days)
            events.append((true_time(day, self.pick_time(8, 20)), seq, self._mps_update([row], stamp)))
            seq += 1
        for recid in self.mps_deletes:
            day = self.first + self.rng.randrange(self.days)
            events.append((true_time(day, self.pick_time(8, 20)), seq, self._delete("tblMPSCrime", "RecID", recid)))
            seq += 1
        for day, secs, ref, old, flag, change in self.las_events:
            events.append((true_time(day, secs), seq, self._las_update(ref, old, flag, change)))
            seq += 1
        for ref in self.las_deletes:
            day = self.first + self.rng.randrange(self.days)
            events.append((true_time(day, self.pick_time(8, 20)), seq, self._delete("tblLASAssault", "LASRef", ref)))
            seq += 1
        for day, secs, what, payload in self.user_events:
            events.append((true_time(day, secs), seq, self._user(day, secs, what, payload)))
            seq += 1
        events.sort(key=lambda e: (e[0], e[1]))
        current = None
        for when, _, action in events:
            day = when // 86400
            if current is not None and day != current:
                s.commit()
            current = day
            action()
        s.commit()

    def _mps_update(self, rows: list[MpsRow], stamp: str) -> Callable[[], None]:
        def go() -> None:
            r = self.rng.random
            s = self.sink
            for row in rows:
                change: dict[str, Any] = {"LastModified": stamp}
                if r() < 0.5 and not _no_value(row.outcome):
                    new = vocab.OUTCOMES[int(r() * len(vocab.OUTCOMES))]
                    if new != row.outcome:
                        change["Outcome"] = new
                sets = ", ".join(f"{s.quote(c)} = ?" for c in change)
                s.execute(f"UPDATE {s.quote('tblMPSCrime')} SET {sets} WHERE {s.quote('RecID')} = ?",
                          (*change.values(), row.recid))
                self.mps_set[row.recid] = change
                self.mps_old[row.recid] = row
        return go

    def _las_update(self, ref: str, old: str | None, flag: Any, change: dict[str, Any]) -> Callable[[], None]:
        def go() -> None:
            s = self.sink
            sets = ", ".join(f"{s.quote(c)} = ?" for c in change)
            s.execute(f"UPDATE {s.quote('tblLASAssault')} SET {sets} WHERE {s.quote('LASRef')} = ?",
                      (*change.values(), ref))
            self.revised["tblLASAssault"][ref] = dict(change)
            self.las_old[ref] = (old, flag)
        return go

    def _delete(self, table: str, key: str, value: Any) -> Callable[[], None]:
        def go() -> None:
            s = self.sink
            n = s.execute(f"DELETE FROM {s.quote(table)} WHERE {s.quote(key)} = ?", (value,))
            if n != 1:
                raise GeneratorError(f"deleting {table} {key} {value!r} removed {n} rows",
                                     hint="is another process changing the legacy database?")
            self.deleted[table].append(value)
        return go

    def _user(self, day: int, secs: int, what: str, payload: Any) -> Callable[[], None]:
        def go() -> None:
            s = self.sink
            q = s.quote
            if what == "new":
                s.insert(t.tblUser, [payload.values])
                self.inserted["tblUser"].append(payload.key)
                self.new_user = payload
                return
            change: dict[str, Any]
            if what == "login":
                uid, change = payload, {"LastLogin": self.clock.dt(day, secs)}
            elif what == "allowed":
                uid, change = payload[0], {"AllowedBoroughs": payload[2]}
                self.allowed_change = payload
            elif what == "disabled":
                uid, change = payload, {"Disabled": True}
            else:
                uid, change = payload[0], {"Password": payload[1]}
            sets = ", ".join(f"{q(c)} = ?" for c in change)
            s.execute(f"UPDATE {q('tblUser')} SET {sets} WHERE {q('UserID')} = ?", (*change.values(), uid))
            if uid in self.inserted["tblUser"]:
                return  # the new account's own logins: it is listed as inserted
            entry: dict[str, Any] = self.revised["tblUser"].setdefault(uid, {})
            entry.update(change)
            self.user_what.setdefault(what, []).append(uid)
        return go
