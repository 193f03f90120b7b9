"""Generate a synthetic legacy SafeStats database and its ground-truth manifest.

The run is: context (clock, geography, reference rows; all from the seed) → plan (the
batches of every dataset, i.e. ``tblImportLog``) → reference tables → fact tables, one
batch at a time → import log → manifest.  Each part draws from its own random stream
(``Context.rng(name)``), so adding a table or a kind changes nothing elsewhere.

Built to be extended by a later ``legacy advance --days N --seed S``: that command can
rebuild the same :class:`~migration.legacy.context.Context` from the manifest's seed, plan
new batches after the last ``LoadedOn``, run the same fact generators with
``first_index``/``first_recid`` continuing after the existing rows, apply in-place
revisions (MPS ``LastModified``, LAS ``UpdatedOn``, ``tblUser``) and hard deletes, and
add its changes to the manifest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

import migration.schema.legacy as t
from migration.console import Console
from migration.db.engines import sqlite_path, writable_engine
from migration.errors import GeneratorError, GeneratorUsageError, SafeStatsError, SourceError
from migration.legacy.context import Context, build_context
from migration.legacy.facts_istv import IstvGenerator
from migration.legacy.facts_mps import MpsGenerator
from migration.legacy.facts_other import LasGenerator, LfbGenerator, TransportGenerator
from migration.legacy.manifest import Manifest
from migration.legacy.plan import SPECS, Batch, Plan, build_plan, fact_rows
from migration.legacy.reference import (
    RefRow,
    borough_rows,
    crime_type_rows,
    hospital_rows,
    lookup_rows,
    lsoa_rows,
    organisation_rows,
    organisations,
    user_rows,
    ward_rows,
)
from migration.legacy.timeutil import Clock
from migration.legacy.writer import Sink, TableWriter, sink_for
from migration.secrets import redact_url, scrub

GENERATOR_VERSION = "1.1.0"
MAX_SCALE = 10.0
KEYS_UP_TO_SCALE = 0.02


@dataclass(frozen=True)
class GenerateResult:
    """What was generated, for the CLI to render."""

    url: str                      # redacted
    engine: str
    manifest_path: Path
    seed: int
    scale: float
    keys_recorded: bool
    rows: dict[str, int]
    rows_with_anomalies: dict[str, int]
    anomaly_kinds: dict[str, int]  # kinds present per table
    seconds: float


def default_manifest_path(url: URL) -> Path | None:
    """``<name>.manifest.json`` next to a SQLite file; None for server databases."""
    path = sqlite_path(url)
    if path is None:
        return None
    return path.with_name(path.stem + ".manifest.json")


def engine_label(engine: Engine) -> str:
    name = engine.dialect.name
    if name == "mysql" and getattr(engine.dialect, "is_mariadb", False):
        return "mariadb"
    return name


def legacy_url(url: str | URL) -> URL:
    """The legacy database's URL, or a clear error naming it (password hidden)."""
    try:
        return make_url(url) if isinstance(url, str) else url
    except (ArgumentError, ValueError) as exc:
        raise GeneratorUsageError(f"cannot parse the database URL {redact_url(str(url))}",
                             hint="write it as sqlite:///FILE, mysql+pyodbc://…, or postgresql+psycopg2://…") from exc


def generate(
    url: str | URL,
    scale: float,
    seed: int,
    manifest_path: str | Path | None = None,
    *,
    console: Console,
    keys: bool | None = None,
    replace: bool = False,
) -> GenerateResult:
    """Create the 14 legacy tables in ``url``, fill them, and write the manifest.

    ``keys`` records the primary keys of every anomalous row in the manifest (default:
    only when ``scale <= 0.02``, where there are few).  ``replace`` drops existing legacy
    tables first; without it a database that already has them is refused.
    """
    started = time.monotonic()
    if not (0 < scale <= MAX_SCALE):
        raise GeneratorUsageError(f"scale {scale} is out of range", hint=f"use a scale above 0 and at most {MAX_SCALE:g} "
                             "(1.0 is the real volume, about 10 million rows; tests use 0.001–0.005)")
    if seed < 0:
        raise GeneratorUsageError(f"seed {seed} is negative", hint="use a seed of 0 or more")
    u = legacy_url(url)
    shown = redact_url(u)
    if manifest_path is not None:
        manifest_path = Path(manifest_path)
    else:
        manifest_path = default_manifest_path(u)
        if manifest_path is None:
            raise GeneratorUsageError(f"no manifest path for {shown}",
                                 hint="pass --manifest PATH (only a SQLite file gets a default next to it)")
    keep_keys = scale <= KEYS_UP_TO_SCALE if keys is None else keys
    db_file = sqlite_path(u)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)

    engine = writable_engine(u)
    try:
        try:
            with engine.connect():
                pass
        except DBAPIError as exc:
            raise SourceError(
                f"cannot connect to the legacy database {shown}: {scrub(getattr(exc, 'orig', exc))}".strip(),
                hint="check the server is running and the URL (driver, host, database) is right",
            ) from exc
        sink = sink_for(engine, shown)
        label = engine_label(engine)
        console.info(f"generating a synthetic legacy SafeStats database: scale {scale:g}, seed {seed}, "
                     f"{label} at {shown}")
        try:
            sink.create(replace=replace)
        except SafeStatsError:
            raise
        except DBAPIError as exc:
            raise GeneratorError(f"cannot create the legacy tables in {shown}: {scrub(getattr(exc, 'orig', exc))}",
                                 hint="check the login may create tables in that database") from exc
        manifest = Manifest(seed=seed, scale=scale, engine=label, keys_recorded=keep_keys,
                            generator_version=GENERATOR_VERSION)
        ctx = build_context(seed, scale)
        plan = build_plan(seed, scale, ctx.clock)
        sink.open()
        try:
            not_placed = _fill(sink, ctx, plan, manifest, console)
        except BaseException:
            sink.abort()
            raise
        sink.close()
        _manifest_extras(manifest, ctx, plan, not_placed)
        manifest.write(manifest_path)
    finally:
        engine.dispose()

    rows = {name: manifest.tally(name).rows for name in t.TABLE_NAMES}
    seconds = time.monotonic() - started
    console.info(f"generated {sum(rows.values()):,} rows in {seconds:,.1f} s; manifest {manifest_path}")
    return GenerateResult(
        url=shown, engine=label, manifest_path=manifest_path, seed=seed, scale=scale, keys_recorded=keep_keys,
        rows=rows,
        rows_with_anomalies={name: manifest.tally(name).anomalous_rows for name in t.TABLE_NAMES},
        anomaly_kinds={name: sum(1 for v in manifest.tally(name).counts.values() if v) for name in t.TABLE_NAMES},
        seconds=seconds,
    )


def _write_ref(sink: Sink, table: Any, rows: list[RefRow], manifest: Manifest) -> None:
    w = TableWriter(sink, table)
    tally = manifest.tally(table.name)
    for r in rows:
        w.add(r.values)
        tally.add(r.kinds, r.key)
    w.flush()
    tally.rows = w.rows


def _fill(sink: Sink, ctx: Context, plan: Plan, manifest: Manifest, console: Console) -> dict[str, list[str]]:
    geo, speller, clock = ctx.geo, ctx.speller, ctx.clock
    rng = ctx.rng
    _write_ref(sink, t.tblBorough, borough_rows(rng("borough"), geo), manifest)
    _write_ref(sink, t.tblWard, ward_rows(rng("ward"), geo, speller), manifest)
    _write_ref(sink, t.tblLSOA, lsoa_rows(rng("lsoa"), geo), manifest)
    _write_ref(sink, t.tblCrimeType, crime_type_rows(ctx.types), manifest)
    _write_ref(sink, t.tblHospital, hospital_rows(ctx.hospitals, clock), manifest)
    _write_ref(sink, t.tblLookupCode, lookup_rows(geo, ctx.types), manifest)
    orgs = organisations(rng("orgs"), geo)
    _write_ref(sink, t.tblOrganisation, organisation_rows(rng("orgrows"), orgs, speller), manifest)
    _write_ref(sink, t.tblUser, user_rows(rng("users"), orgs, speller, geo, clock), manifest)
    sink.commit()
    not_placed: dict[str, list[str]] = {}
    generators = (
        ("MPS", t.tblMPSCrime, MpsGenerator),
        ("ISTV", t.tblISTVAssault, IstvGenerator),
        ("LFB", t.tblLFBIncident, LfbGenerator),
        ("LAS", t.tblLASAssault, LasGenerator),
        ("TRANSPORT", t.tblTransportCrime, TransportGenerator),
    )
    for dataset, table, cls in generators:
        expected = fact_rows(dataset, ctx.scale)
        with console.progress(f"{table.name}", expected) as bar:
            writer = TableWriter(sink, table, on_flush=bar.advance)
            gen = cls(ctx, plan, manifest, writer)
            gen.run()
        manifest.tally(table.name).rows = writer.rows
        left = gen.pending_kinds()
        if left:
            not_placed[table.name] = left
        sink.commit()
    _write_import_log(sink, plan, manifest, clock)
    return not_placed


def _write_import_log(sink: Sink, plan: Plan, manifest: Manifest, clock: Any) -> None:
    w = TableWriter(sink, t.tblImportLog)
    tally = manifest.tally("tblImportLog")
    for b in sorted(plan.batches, key=lambda x: x.batch_id):
        row, kinds = import_log_row(b, clock)
        w.add(row)
        tally.add(kinds, b.batch_id)
    w.flush()
    tally.rows = w.rows


def import_log_row(b: Batch, clock: Clock) -> tuple[tuple[Any, ...], list[str]]:
    """The ``tblImportLog`` row of a batch (after its rows were written) and its kinds."""
    kinds = []
    claimed = b.claimed_rows if b.claimed_rows is not None else b.rows_in_table
    if b.status == "OK":
        claimed += b.rowcount_off
    if claimed != b.rows_in_table:
        kinds.append("importlog.rowcount_mismatch")
    if b.status == "FAILED":
        kinds.append("importlog.failed")
    elif b.status == "RELOADED":
        kinds.append("importlog.reloaded")
    if clock.in_gap(b.loaded_day, b.loaded_secs):
        kinds.append("importlog.loadedon_dst_gap")
    elif clock.in_repeat(b.loaded_day, b.loaded_secs):
        kinds.append("importlog.loadedon_dst_repeated")
    return (b.batch_id, b.dataset, b.file_name, clock.dt(b.loaded_day, b.loaded_secs), claimed, b.status), kinds


def _manifest_extras(manifest: Manifest, ctx: Context, plan: Plan, not_placed: dict[str, list[str]]) -> None:
    clock = ctx.clock
    statuses: dict[str, dict[str, int]] = {}
    for b in plan.batches:
        statuses.setdefault(b.dataset, {"OK": 0, "FAILED": 0, "RELOADED": 0})[b.status] += 1
    resub: list[dict[str, Any]] = []
    for b in plan.batches:
        if b.role == "resubmission" and b.source is not None:
            resub.append({"hospital": b.hospital, "period_start": clock.d_dmy(b.first_day),
                          "period_end": clock.d_dmy(b.last_day), "superseded_batch": b.source.batch_id,
                          "batch": b.batch_id, "rows": b.rows_in_table})
    manifest.extras.update({
        "data_span": {ds: [s.first.isoformat(), s.last.isoformat()] for ds, s in sorted(SPECS.items())},
        "batches": statuses,
        "hospital_closures": {str(h.id): {"closed_on": h.closed_on.isoformat(), "active": h.active}
                              for h in ctx.hospitals if h.closed_on is not None},
        "istv_missing_months": [[hid, ym] for hid, ym in plan.istv_gaps],
        "istv_block_months": plan.istv_month_blocks,
        "istv_resubmissions": sorted(resub, key=lambda x: x["batch"]),
        "not_placed": not_placed,
    })
