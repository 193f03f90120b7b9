"""Undo data, not schema: any run of a stage, exactly, last-in-first-out.

Every row a run writes carries its ``load_run_id``; before a run changes or deletes a row
written by another run it stores the old row in ``ledger.before_image``.  Undoing run R
of a stage, in ONE transaction per run:

1. rows R updated get their old values back (op ``U`` images) — in place, so rows of
   other runs that hang off them (detail rows) are untouched;
2. rows R inserted (``load_run_id = R`` and no image) are deleted, children first;
3. rows R deleted come back with their original surrogate keys (op ``D`` images),
   parents first;
4. R's quarantine and disposition records are marked rolled back; the event log says
   who undid what, when, and what it did to each table (the same numbers ``--dry-run``
   shows beforehand).

For a bulk delete the detail tables' ``ON DELETE CASCADE`` keys are suspended within the
transaction and re-validated before it commits (:meth:`Rollback._suspend_cascades`), and
keys an interrupted bulk load had dropped are re-created (:meth:`Rollback._repair_keys`).

A rollback killed halfway changed nothing and can simply be run again.  Nothing is ever
TRUNCATEd: rows of other stages in the same tables (police incidents beside fire ones)
are never touched.  See runbooks/rollback.md; proven by tests/rollback/.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, PrimaryKeyConstraint, UniqueConstraint, text
from sqlalchemy.engine import Connection, Engine

from migration import faults
from migration.console import Console
from migration.errors import SafeStatsError, UnknownNameError
from migration.ledger import Ledger, history, images, records
from migration.ledger.history import active_runs, run_groups
from migration.mapping.order import stage_order
from migration.mapping.spec import StageSpec
from migration.schema import models
from migration.schema.sql import qident, staging_table


class RollbackError(SafeStatsError):
    """A rollback was refused (unknown run, dependants loaded, …)."""


@dataclass
class RunUndo:
    stage: str
    run_id: int
    tables: dict[str, dict[str, int]] = field(default_factory=dict)  # table → {deleted, restored, reverted}
    seconds: float = 0.0
    dry_run: bool = False


def stage_tables(spec: StageSpec) -> list[str]:
    """The stage's target tables, parents before children (the model's dependency order)."""
    mine = {t for tm in spec.tables for t in tm.targets} | {s.target for s in spec.seeds}
    return [t.fullname for t in models.metadata.sorted_tables if t.fullname in mine]


class Rollback:
    """The mechanics of undoing one run (:meth:`undo`, :meth:`count`) and the ledger reads a
    rollback plan is built from.  Which runs of which stages, in which order, is the plan's to
    say (:func:`migration.plan.builder.build_rollback_plan`); :mod:`migration.plan.undo` takes
    the lock and walks it."""

    def __init__(self, engine: Engine, specs: list[StageSpec], console: Console) -> None:
        self.engine = engine
        self.specs = {s.stage: s for s in specs}
        #: load (dependency) order; its reverse is a safe order to undo stages in
        self.order = [s.stage for s in stage_order(specs)]
        self.console = console
        self.ledger = Ledger(engine)

    def groups(self) -> dict[str, list[int]]:
        """Every stage's runs not undone yet (group ids, oldest first): what a rollback plan is built from."""
        with self.engine.connect() as conn:
            return {s: active_runs(conn, s) for s in self.order}

    def resolve(self, stage: str, run_id: int) -> int | None:
        """The group id of ``run_id`` among the stage's runs not undone, or None when it was
        already rolled back (said on the console: not an error); an unknown run, or one that did
        not load the stage, is an :class:`UnknownNameError`."""
        if stage not in self.specs:
            raise UnknownNameError(f"unknown stage {stage}", hint=f"stages are: {', '.join(self.order)}")
        with self.engine.connect() as conn:
            groups = run_groups(conn, stage)
            group = next((g for g, members in groups.items() if run_id in members), run_id)
            if not history.run_exists(conn, group):
                raise UnknownNameError(f"there is no run {group}", hint="`safestats-migrate runs` lists the runs")
            if group in groups:
                return group
            undone = history.rollback_of(conn, stage, group)
        if undone:
            self.console.info(f"run {group} of {stage} was already rolled back by {undone.actor} "
                              f"at {undone.at:%Y-%m-%d %H:%M:%S}; nothing to do")
            return None
        raise UnknownNameError(f"run {group} did not load stage {stage}", hint="name the stage the run belongs to")

    # ------------------------------------------------------------------ one run
    def count(self, stage: str, run_id: int) -> RunUndo:
        """What undoing the run would do to each table (``--dry-run``); changes nothing."""
        res = RunUndo(stage, run_id, dry_run=True)
        with self.engine.connect() as conn:
            members = run_groups(conn, stage).get(run_id, [run_id])
            for t in stage_tables(self.specs[stage]):
                effect = self._effect(conn, t, members)
                if any(effect.values()):
                    res.tables[t] = effect
        return res

    def _effect(self, conn: Connection, table: str, members: list[int]) -> dict[str, int]:
        """What undoing the group does to a table, from where it stands now: rows removed (the
        group wrote them and no image says they were there before), rows given their old
        values back (those that differ from their image), rows restored.  The state before
        the group is each row's oldest image taken by a member, when that image is of a row
        no member wrote; an image of a row a member wrote (a stage run updating its own seed
        rows) is the group's own doing."""
        t = models.table(table)
        pk = [c.name for c in t.primary_key.columns]
        k = ", ".join(qident(c) for c in pk)
        match = " AND ".join(f"x.{qident(c)} = b.{qident(c)}" for c in pk)
        row = conn.execute(text(
            f"WITH b AS MATERIALIZED (SELECT * FROM (SELECT DISTINCT ON ({k}) {k}, load_run_id AS old_run, "
            f"_image FROM {images.rows_sql(table, runs='ANY(:m)', table_param=':t')} q "
            f"ORDER BY {k}, image_id) f WHERE old_run <> ALL(:m)) "
            f"SELECT (SELECT count(*) FROM {table} x WHERE x.load_run_id = ANY(:m) "
            f"AND NOT EXISTS (SELECT 1 FROM b WHERE {match})), "
            # an upsert images every row it matches; rows it found identical are not reverted
            f"(SELECT count(*) FROM b JOIN {table} x ON {match} WHERE to_jsonb(x) <> b._image), "
            f"(SELECT count(*) FROM b WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {match}))"),
            dict(m=members, t=table)).one()
        return {"deleted": int(row[0]), "reverted": int(row[1]), "restored": int(row[2])}

    def undo(self, stage: str, run_id: int) -> RunUndo:
        """Undo a stage run and the seed runs of its group, newest write first, in one transaction."""
        started = time.monotonic()
        spec = self.specs[stage]
        tables = stage_tables(spec)
        res = RunUndo(stage, run_id)
        with self.engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '30s'"))
            members = run_groups(conn, stage).get(run_id, [run_id])
            # the effect on each table, counted before anything changes (what --dry-run shows)
            effect = {t: self._effect(conn, t, members) for t in tables}
            suspended = self._suspend_cascades(conn, tables, {t: e["deleted"] for t, e in effect.items()})
            done = {t: {"deleted": 0, "reverted": 0, "restored": 0} for t in tables}  # statement row counts
            for member in reversed(members):
                for t in tables:  # 1. updated rows get their old values, in place
                    done[t]["reverted"] += self._revert_updates(conn, t, member)
                for t in reversed(tables):  # 2. inserted rows go, children first
                    n = conn.execute(text(f"DELETE FROM {t} WHERE load_run_id = :r"), dict(r=member)).rowcount
                    done[t]["deleted"] += int(n)
                for t in tables:  # 3. deleted rows come back with their keys, parents first
                    done[t]["restored"] += self._restore_deletes(conn, t, member)
                records.mark_rolled_back(conn, member)
            self._restore_cascades(conn, suspended, stage, run_id)
            self._repair_keys(conn, tables, stage, run_id)
            for tm in spec.tables:
                for member in members:
                    for suffix in (f"keys_r{member}", f"losers_r{member}"):
                        conn.execute(text(f"DROP TABLE IF EXISTS {staging_table(stage, tm.source.table, suffix)}"))
            # quarantine records a later run re-evaluated are current again once that run is undone
            for member in members:
                records.undo_redrive(conn, member)
            res.tables = {t: c for t, c in effect.items() if any(c.values())}
            self.ledger.event(conn, run_id=None, stage=stage, kind="run_rolled_back",
                              detail={"run_id": run_id, "members": members, "tables": res.tables,
                                      "statements": {t: c for t, c in done.items() if any(c.values())},
                                      "seconds": round(time.monotonic() - started, 3)})
            if not active_runs(conn, stage):
                self.ledger.event(conn, run_id=run_id, stage=stage, kind="stage_rolled_back",
                                  detail={"run_id": run_id})
            faults.at("undo", 0, stage)  # kill matrix: everything done, nothing committed
        faults.at("undo_committed", 0, stage)
        res.seconds = time.monotonic() - started
        return res

    def _suspend_cascades(self, conn: Connection, tables: list[str], doomed: dict[str, int]
                          ) -> list[ForeignKeyConstraint]:
        """Drop, for this transaction only, the foreign keys whose per-row triggers would cost
        more than checking the key again set-based afterwards.

        Deleting a parent row fires one trigger call per referencing foreign key (an
        ``ON DELETE CASCADE`` probe into each detail table), even for detail tables that
        hold no row of the run: undoing 800,000 incidents of ``tblMPSCrime`` spent 40 of its
        43 seconds in the five detail tables' triggers (≈9 µs a call), while
        re-validating such a key is one join (≈1.5 µs a child row).  A key is suspended
        when the rows deleted under it times six outnumber the child rows left to check,
        and only for bulk deletes (≥ 1,000 rows).  The run's own child rows are deleted
        explicitly before their parents anyway; rows of other runs pointing at deleted
        rows make the re-validation fail and the whole rollback with it, instead of being
        cascaded away unrecorded."""
        suspended: list[ForeignKeyConstraint] = []
        for parent in tables:
            if doomed[parent] < 1_000:
                continue
            for child in models.metadata.sorted_tables:
                for fk in child.foreign_key_constraints:
                    if fk.referred_table.fullname != parent or not fk.name:
                        continue
                    exists = conn.execute(text(
                        "SELECT 1 FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND conname = :n"),
                        dict(t=child.fullname, n=str(fk.name))).first()
                    if not exists:
                        continue
                    left = max(self._estimate_rows(conn, child.fullname) - doomed.get(child.fullname, 0), 0)
                    if doomed[parent] * 6 < left:
                        continue
                    conn.execute(text(f"ALTER TABLE {child.fullname} DROP CONSTRAINT {qident(str(fk.name))}"))
                    suspended.append(fk)
        return suspended

    @staticmethod
    def _estimate_rows(conn: Connection, table: str) -> int:
        n = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                         dict(t=table)).scalar_one()
        if n is None or n < 0:  # never analysed: count it
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        return int(n)

    def _restore_cascades(self, conn: Connection, suspended: list[ForeignKeyConstraint], stage: str,
                          run_id: int) -> None:
        """Put the suspended foreign keys back, validated (set-based) against what is left."""
        from sqlalchemy.exc import DBAPIError
        from sqlalchemy.schema import AddConstraint

        for fk in suspended:
            try:
                with conn.begin_nested():
                    conn.execute(AddConstraint(fk, isolate_from_table=False))
            except DBAPIError as exc:
                child, parent = fk.table.fullname, fk.referred_table.fullname
                raise RollbackError(
                    f"undoing run {run_id} of {stage} would leave rows of {child} without their {parent} row "
                    f"({str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}); nothing was changed",
                    hint="another run wrote rows that depend on this run's: roll that run back first") from exc

    def _repair_keys(self, conn: Connection, tables: list[str], stage: str, run_id: int) -> None:
        """Re-create the keys, indexes and foreign keys the model has and the database lacks, for
        the stage's tables and every table referring to them.

        A fresh bulk load drops them while it loads and re-creates them at its end; a load
        that was interrupted and is now undone never got there — and ``core.incident`` is
        shared, so the other agencies' rows would be left without their primary key, unique
        key and detail foreign keys.  Before the run they were there: the rollback puts them
        back (validated against the rows left), in the same transaction."""
        from sqlalchemy.exc import DBAPIError
        from sqlalchemy.schema import AddConstraint

        mine = set(tables)

        def existing(tname: str) -> set[str]:
            return {r[0] for r in conn.execute(text(
                "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)"), dict(t=tname))}

        def add(tname: str, what: Any, name: str) -> None:
            try:
                with conn.begin_nested():
                    if isinstance(what, Index):
                        what.create(conn, checkfirst=True)
                    else:
                        conn.execute(AddConstraint(what, isolate_from_table=False))
            except DBAPIError as exc:
                raise RollbackError(
                    f"undoing run {run_id} of {stage}: {tname} cannot get its {name} back "
                    f"({str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}); nothing was changed",
                    hint="the rows left break the model's keys: see runbooks/rollback.md") from exc

        for tname in tables:
            t = models.table(tname)
            have = existing(tname)
            for cons in t.constraints:
                if isinstance(cons, PrimaryKeyConstraint | UniqueConstraint) and cons.name \
                        and cons.name not in have:
                    add(tname, cons, str(cons.name))
            for idx in t.indexes:
                add(tname, idx, str(idx.name))
        for t in models.metadata.sorted_tables:
            if t.fullname in mine or {fk.referred_table.fullname for fk in t.foreign_key_constraints} & mine:
                have = existing(t.fullname)
                for fk in t.foreign_key_constraints:
                    if fk.name and fk.name not in have:
                        add(t.fullname, fk, str(fk.name))

    def _revert_updates(self, conn: Connection, table: str, run_id: int) -> int:
        t = models.table(table)
        pk = [c.name for c in t.primary_key.columns]
        cols = [c.name for c in t.columns if c.name not in pk]
        sets = ", ".join(f"{qident(c)} = r.{qident(c)}" for c in cols)
        match = " AND ".join(f"x.{qident(c)} = r.{qident(c)}" for c in pk)
        # rows the run's upsert matched but found identical were imaged too: left alone (no dead tuple)
        differs = (f" AND ({', '.join('x.' + qident(c) for c in cols)}) IS DISTINCT FROM "
                   f"({', '.join('r.' + qident(c) for c in cols)})") if cols else ""
        # the oldest image of a row is its state before the run (a run images a row once)
        n = conn.execute(text(
            f"UPDATE {table} AS x SET {sets} FROM (SELECT DISTINCT ON ({', '.join('q.' + qident(c) for c in pk)}) "
            f"q.* FROM {images.rows_sql(table, runs=':r', table_param=':t', op='U')} q "
            f"ORDER BY {', '.join('q.' + qident(c) for c in pk)}, q.image_id) r WHERE {match}{differs}"),
            dict(r=run_id, t=table)).rowcount
        return int(n)

    def _restore_deletes(self, conn: Connection, table: str, run_id: int) -> int:
        t = models.table(table)
        cols = ", ".join(qident(c.name) for c in t.columns)
        overriding = " OVERRIDING SYSTEM VALUE" if any(c.identity is not None for c in t.columns) else ""
        n = conn.execute(text(
            f"INSERT INTO {table} ({cols}){overriding} SELECT {cols} FROM "
            f"{images.rows_sql(table, runs=':r', table_param=':t', op='D')} q"), dict(r=run_id, t=table)).rowcount
        return int(n)

