"""``diagnose``: the bundle to send when you call someone — versions, redacted settings, the
plan, the lock holder, the latest runs and the last 200 events; never a password, never row data.

Each part is gathered on its own and a part that cannot be read says why in its place: the
bundle is most needed when something is broken (the target down, the ledger missing), so
no single failure may stop it.  The whole document passes through :func:`~migration.secrets.scrub`
before it is written, on top of every URL being rendered without its password.

Events keep their numbers (rows, chunks, seconds, ids) and drop their text values: an error
text or a key in an event's detail may quote a legacy row (``Key (crime_ref)=(…)``), and the
bundle leaves the organisation.  The names of the dropped fields stay, so the reader knows
what to ask for.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from migration.secrets import redact_url, scrub
from migration.settings import Settings

#: ``diagnose`` changes this when the bundle's keys change
SCHEMA_VERSION = 1
#: how many of the latest events the bundle holds
EVENTS = 200


def _part(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # a part that cannot be read is reported, the bundle goes on
        return {"unavailable": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}


def _no_payload(detail: Any) -> dict[str, Any]:
    """An event's detail with numbers and flags only (nested ones too); the names of the other
    fields listed under ``omitted``."""
    if not isinstance(detail, Mapping):
        return {}
    kept: dict[str, Any] = {}
    for k, v in detail.items():
        if isinstance(v, (bool, int, float)) or v is None:
            kept[k] = v
        elif isinstance(v, Mapping):
            inner = _no_payload(v)
            if inner:
                kept[k] = inner
    dropped = sorted(k for k in detail if k not in kept)
    return {**kept, **({"omitted": dropped} if dropped else {})}


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    """The SAFESTATS_* variables: passwords only as "(set)", URLs without their password."""
    out = {}
    for name in sorted(n for n in env if n.startswith("SAFESTATS_")):
        if "PASSWORD" in name or "SECRET" in name or "TOKEN" in name:
            out[name] = "(set)"
        elif name.endswith("_URL"):
            out[name] = redact_url(env[name])
        else:
            out[name] = scrub(env[name])
    return out


def _versions(settings: Settings) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from migration.version import __version__

    libs = {}
    for lib in ("sqlalchemy", "alembic", "psycopg2-binary", "psycopg2", "pyodbc", "typer", "rich"):
        try:
            libs[lib] = version(lib)
        except PackageNotFoundError:
            continue
    return {"safestats-migration": __version__, "python": sys.version.split()[0],
            "platform": platform.platform(), "libraries": libs}


def _target(settings: Settings) -> dict[str, Any]:
    from sqlalchemy import text

    from migration.db.engines import target_engine
    from migration.schema.api import current

    engine = target_engine(settings.require_target())
    try:
        with engine.connect() as conn:
            server = conn.execute(text("SELECT version()")).scalar_one()
    finally:
        engine.dispose()
    schema = current(settings.require_target())
    return {"url": redact_url(settings.target_url), "server": server,
            "schema": {"applied": [r.revision for r in schema.applied], "heads": list(schema.heads),
                       "up_to_date": schema.up_to_date}}


def _ledger(settings: Settings) -> dict[str, Any]:
    from migration.db.engines import target_engine
    from migration.ledger import Ledger
    from migration.ledger import diagnose as reads
    from migration.ledger import status as status_reads

    engine = target_engine(settings.require_target())
    try:
        Ledger(engine).require_installed()
        with engine.connect() as conn:
            holder = status_reads.lock_holder(conn)
            runs = reads.recent_runs(conn)
            events = reads.recent_events(conn, EVENTS)
    finally:
        engine.dispose()
    return {"lock_holder": holder, "runs": runs,
            "events": [{**e, "detail": _no_payload(e["detail"])} for e in events]}


def _plan(settings: Settings) -> Any:
    from migration.plan import prepare_plan
    from migration.plan.explain import plan_to_dict

    # no source: the plan comes from the mapping files and the ledger (the legacy may be down)
    return plan_to_dict(prepare_plan(settings.mappings_dir, target_url=settings.target_url))


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def diagnose_bundle(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Everything the bundle holds, each part or why it could not be read."""
    ledger = _part(lambda: _ledger(settings))
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "versions": _part(lambda: _versions(settings)),
        "settings": _part(settings.describe),
        "environment": _environment(os.environ if env is None else env),
        "target": _part(lambda: _target(settings)),
        "plan": _part(lambda: _plan(settings)),
        "lock_holder": ledger.get("lock_holder") if "unavailable" not in ledger else ledger,
        "runs": ledger.get("runs", []),
        "events": ledger.get("events", []),
    }


def write_bundle(settings: Settings, path: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Write the bundle as JSON to ``path``; returns it (as written, scrubbed)."""
    bundle = diagnose_bundle(settings, env)
    body = scrub(json.dumps(bundle, indent=2, ensure_ascii=False, default=_json))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body + "\n", encoding="utf-8")
    return json.loads(body)  # type: ignore[no-any-return]
