"""The cutover: the go/no-go checklist (``cutover``) and the freeze (``cutover freeze``).

``cutover`` evaluates and records nothing; each item carries its evidence.  The items:

1. every planned stage reconciled — the one verdict (PASS or PASS_WITH_ACCEPTED; accepted
   failures listed with who and why);
2. a freeze recorded (``cutover freeze``);
3. the legacy unchanged since the freeze — its rows, highest keys and watermarks, and a
   digest of every key set, read again and compared with the freeze's;
4. a final delta after the freeze for every stage (its checks are item 1: a delta newer
   than a stage's checks makes the stage stale, so the verdict is no longer PASS);
5. no undecided open quarantine (``quarantine decide``);
6. preflight green;
7. a report generated after the last run, check or decision (the newest ``report.json``
   under the reports folder).

The freeze reads the legacy the same way (:func:`legacy_snapshot`), under the migration
lock, and appends it to the ledger.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from migration.errors import SourceError
from migration.ledger import cutover as books
from migration.ledger import decisions
from migration.ops.items import Item
from migration.ops.postcutover import post_cutover_checks
from migration.settings import Settings


@dataclass(frozen=True)
class Checklist:
    items: tuple[Item, ...]
    #: the freeze and report the checklist looked at (``cutover go`` records them)
    freeze: dict[str, Any] | None = None
    report: dict[str, Any] | None = None

    @property
    def green(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def exit_code(self) -> int:
        return 0 if self.green else 1

    def to_dict(self) -> dict[str, Any]:
        return {"go": self.green, "items": [i.to_dict() for i in self.items]}


@dataclass(frozen=True)
class FreezeResult:
    run_id: int
    event_id: int
    at: datetime
    actor: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)


def legacy_snapshot(settings: Settings) -> dict[str, dict[str, Any]]:
    """Per legacy table of the mapping set: rows, highest key, highest watermark, and the
    SHA-256 of its sorted key set (keyless tables: rows only).  Raises SourceError (exit 3)."""
    from migration.db.engines import check_connect, source_engine
    from migration.db.source import SourceReader
    from migration.mapping.order import parsed_specs

    tables: dict[str, tuple[str | None, str | None]] = {}
    for spec in parsed_specs(settings.mappings_dir):
        for tm in spec.tables:
            d = tm.source.delta
            tables.setdefault(tm.source.table, (tm.source.key, d.watermark_column if d is not None else None))
    eng = source_engine(settings.require_source())
    try:
        check_connect(eng, role="source")
        reader = SourceReader(eng)
        out: dict[str, dict[str, Any]] = {}
        for table, (key, column) in sorted(tables.items()):
            snap: dict[str, Any] = {"rows": reader.count(table)}
            if key is not None:
                keys = sorted(reader.keys_where(table, key, key, None))
                snap["max_key"] = str(reader.max_key(table, key))
                snap["keys_sha256"] = hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()
            if column is not None:
                mark = reader.max_value(table, column)
                snap["watermark"] = None if mark is None else str(mark)
            out[table] = snap
        return out
    finally:
        eng.dispose()


def compare(frozen: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    """What changed, one line per table and measure (empty: nothing)."""
    out = []
    for table in sorted(set(frozen) | set(now)):
        a, b = frozen.get(table, {}), now.get(table, {})
        for what in ("rows", "max_key", "watermark", "keys_sha256"):
            if a.get(what) != b.get(what):
                short = (lambda v: str(v)[:12]) if what == "keys_sha256" else str
                out.append(f"{table} {what.replace('_', ' ')}: {short(a.get(what))} → {short(b.get(what))}")
    return out


def freeze(settings: Settings) -> FreezeResult:
    """Record the legacy's state as the freeze (under the migration lock)."""
    from migration.db.engines import check_connect, target_engine
    from migration.ledger import Ledger, MigrationLock

    target = target_engine(settings.require_target())
    try:
        check_connect(target, role="target")
        Ledger(target).require_installed()
        with MigrationLock(target, "cutover freeze"):
            tables = legacy_snapshot(settings)
            with target.begin() as conn:
                run_id, ev = books.record(conn, Ledger(target), kind=books.FREEZE, detail={"tables": tables},
                                          options={"command": "cutover freeze"})
    finally:
        target.dispose()
    return FreezeResult(run_id, int(ev["event_id"]), ev["at"], ev["actor"], tables)


def latest_report(reports_dir: Path) -> dict[str, Any] | None:
    """The newest ``report.json`` under the reports folder: path, generated_at, sha256."""
    found = []
    for path in reports_dir.glob("**/report.json") if reports_dir.is_dir() else []:
        try:
            raw = path.read_bytes()
            at = datetime.fromisoformat(json.loads(raw)["generated_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a report this tool wrote
        found.append({"path": str(path), "generated_at": at, "sha256": hashlib.sha256(raw).hexdigest()})
    return max(found, key=lambda r: cast(datetime, r["generated_at"])) if found else None


def preflight_item(settings: Settings) -> Item:
    from migration.audit.preflight import preflight

    pf = preflight(settings)
    bad = [ln for ln in pf.lines if ln.status == "FAIL"]
    return Item("preflight green", pf.exit_code == 0,
                f"preflight {pf.verdict}" + (f": {bad[0].check}: {bad[0].message}" if bad else ""))


def checklist(settings: Settings, *, preflight: Item | None = None) -> Checklist:
    """Every go/no-go item with its evidence; records nothing.  ``preflight``: its item, already
    evaluated (``cutover go`` runs preflight before it takes the lock preflight itself probes)."""
    from migration.db.engines import check_connect, target_engine
    from migration.ledger import Ledger
    from migration.ledger.verdict import migration_verdict
    from migration.mapping.order import parsed_specs

    planned = [s.stage for s in parsed_specs(settings.mappings_dir)]
    target = target_engine(settings.require_target())
    try:
        check_connect(target, role="target")
        Ledger(target).require_installed()
        with target.connect() as conn:
            verdict = migration_verdict(conn, planned)
            frozen = books.latest(conn, books.FREEZE)
            deltas = books.deltas_after(conn, int(frozen["event_id"])) if frozen else {}
            undecided = decisions.undecided_open(conn)
            activity = books.last_activity(conn)
    finally:
        target.dispose()
    items = []
    evidence = verdict.summary
    if verdict.accepted:
        evidence += "; accepted: " + "; ".join(f"{a.stage} by {a.by} at {a.at:%Y-%m-%d %H:%M}: {a.reason}"
                                                for a in verdict.accepted)
    items.append(Item("every stage loaded and reconciled", verdict.exit_code == 0, evidence))
    if frozen is None:
        items.append(Item("freeze recorded", False, "no freeze recorded: `safestats-migrate cutover freeze`"))
        items.append(Item("legacy unchanged since the freeze", False, "no freeze to compare with"))
        items.append(Item("final delta after the freeze", False, "no freeze recorded"))
    else:
        items.append(Item("freeze recorded", True,
                          f"run {frozen['run_id']} by {frozen['actor']} at {frozen['at']:%Y-%m-%d %H:%M:%S%z}"))
        try:
            changes = compare(frozen["detail"].get("tables", {}), legacy_snapshot(settings))
            items.append(Item("legacy unchanged since the freeze", not changes,
                              "rows, highest keys, watermarks and key sets of "
                              f"{len(frozen['detail'].get('tables', {}))} legacy tables as frozen" if not changes
                              else f"the legacy moved: {'; '.join(changes[:5])}"
                                   + (f" (+{len(changes) - 5} more)" if len(changes) > 5 else "")))
        except SourceError as exc:
            items.append(Item("legacy unchanged since the freeze", False, f"cannot read the legacy: {exc.one_line()}"))
        missing = [s for s in planned if s not in deltas]
        runs = sorted({d["run_id"] for d in deltas.values()})
        items.append(Item("final delta after the freeze", not missing,
                          f"delta run(s) {', '.join(map(str, runs))} after the freeze" if not missing
                          else f"no delta after the freeze for {', '.join(missing)}: "
                               "`safestats-migrate run --delta --all`"))
    items.append(Item("no undecided quarantine", undecided == 0,
                      "every open quarantined row has a decision" if undecided == 0
                      else f"{undecided:,} open quarantined row(s) undecided: `safestats-migrate quarantine decide`"))
    items.append(preflight if preflight is not None else preflight_item(settings))
    rep = latest_report(settings.reports_dir)
    if rep is None:
        items.append(Item("report after the last run, check or decision", False,
                          f"no report.json under {settings.reports_dir}: `safestats-migrate report`"))
    else:
        fresh = activity is None or rep["generated_at"] > activity
        items.append(Item("report after the last run, check or decision", fresh,
                          f"{rep['path']} generated {rep['generated_at']:%Y-%m-%d %H:%M:%S%z}"
                          + ("" if fresh else f", before the ledger's last entry at {activity:%Y-%m-%d %H:%M:%S%z}: "
                                              "`safestats-migrate report`")))
    return Checklist(tuple(items), frozen, rep)


@dataclass(frozen=True)
class GoResult:
    run_id: int
    at: datetime
    actor: str
    report: dict[str, Any]
    checklist: Checklist
    post: tuple[Item, ...]

    @property
    def post_ok(self) -> bool:
        return all(i.ok for i in self.post)


def go(settings: Settings) -> GoResult:
    """Check and record the go decision under one hold of the lock, then run the post-cutover
    checks.  Raises CheckFailed (exit 1) on a no-go, recording nothing."""
    from migration.db.engines import check_connect, target_engine
    from migration.errors import CheckFailed
    from migration.ledger import Ledger, MigrationLock
    pf = preflight_item(settings)  # before the lock: preflight probes the lock itself
    target = target_engine(settings.require_target())
    try:
        check_connect(target, role="target")
        Ledger(target).require_installed()
        with MigrationLock(target, "cutover go"):
            with target.connect() as conn:
                books.refuse_after_go(conn, "cutover go")
            # the whole checklist again under the lock: the legacy's key sets and watermarks are
            # read now and compared with the freeze, nothing can run or decide in between
            cl = checklist(settings, preflight=pf)
            if not cl.green:
                first = next(i for i in cl.items if not i.ok)
                raise CheckFailed(f"no-go: {sum(not i.ok for i in cl.items)} item(s) not met; first: {first.name}: "
                                  f"{first.evidence}", hint="`safestats-migrate cutover` lists every item")
            assert cl.report is not None and cl.freeze is not None
            detail = {"report": cl.report["path"], "report_sha256": cl.report["sha256"],
                      "report_generated_at": cl.report["generated_at"].isoformat(),
                      "freeze_run_id": cl.freeze["run_id"], "checklist": cl.to_dict()["items"]}
            with target.begin() as conn:
                run_id, ev = books.record(conn, Ledger(target), kind=books.GO, detail=detail,
                                          options={"command": "cutover go"})
        post = post_cutover_checks(target, cl.report["path"])
    finally:
        target.dispose()
    return GoResult(run_id, ev["at"], ev["actor"], cl.report, cl, tuple(post))


def post_checks(settings: Settings) -> tuple[dict[str, Any], list[Item]]:
    """The post-cutover checks again, against the report the go decision names (``cutover
    post-checks``: after a fix, or when ``go`` was interrupted after recording)."""
    from migration.db.engines import check_connect, target_engine
    from migration.errors import TargetError
    target = target_engine(settings.require_target())
    try:
        check_connect(target, role="target")
        with target.connect() as conn:
            go_event = books.latest(conn, books.GO)
        if go_event is None:
            raise TargetError("no cutover decision is recorded", hint="`safestats-migrate cutover` first, then "
                                                                      "`cutover go`")
        return go_event, post_cutover_checks(target, go_event["detail"]["report"])
    finally:
        target.dispose()
