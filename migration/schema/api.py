"""The target schema's life cycle: upgrade, downgrade, current, history, check.

Alembic runs from the files shipped inside this package (``env.py``, ``versions/``),
configured in code, so an installed wheel needs no ``alembic.ini`` and no checkout.

Every online operation is one transaction on one connection: a failure anywhere leaves
the database as it was.  Errors come back as :class:`~migration.errors.SchemaError`
(what, where — the URL redacted —, what to do next); nothing here prints.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from migration.errors import SchemaError, SchemaUsageError
from migration.schema import ddl
from migration.schema.compare import differences, exposed_locations
from migration.schema.roles import MIGRATOR_ROLE
from migration.secrets import redact_url, scrub

#: the lowest server version the revisions run on (NULLS NOT DISTINCT, security_invoker views)
MIN_SERVER_VERSION = 150000
BRANCHES = ("ledger", "data")

_HINTS = {
    ddl.SQLSTATE_POSTGIS_MISSING: "install postgresql-<major>-postgis-3 on the database server, then rerun",
    ddl.SQLSTATE_POSTGIS_PRIVILEGE: "have a superuser run CREATE EXTENSION postgis in that database, then rerun",
    ddl.SQLSTATE_ROLE: "have a DBA create or fix the role as the message says, then rerun",
    ddl.SQLSTATE_DATA_LOADED: "run `safestats-migrate rollback --all` first, or repeat the downgrade with --force",
    ddl.SQLSTATE_LEDGER_IN_USE: "archive the ledger first; repeat the downgrade with --force only if it may be lost",
}


@dataclass(frozen=True)
class RevisionInfo:
    """One revision of the schema history."""

    revision: str
    branch: str
    down_revision: str | None
    message: str
    is_head: bool


@dataclass(frozen=True)
class SchemaStatus:
    """Which revisions a database is at (``schema current``)."""

    target: str
    applied: tuple[RevisionInfo, ...]
    heads: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        return sorted(r.revision for r in self.applied) == sorted(self.heads)


@dataclass(frozen=True)
class SchemaChange:
    """What an upgrade or downgrade did, or (``sql``) the DDL it would run."""

    target: str
    revision: str
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    sql: str | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class SchemaCheck:
    """The differences between the model and a database (empty: they agree)."""

    target: str
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


# --------------------------------------------------------------------------- configuration
def script_location() -> Path:
    """The directory holding ``env.py`` and ``versions/`` — inside the installed package."""
    return Path(str(resources.files("migration.schema")))


def alembic_config(**attributes: Any) -> Config:
    """An Alembic configuration built in code (no ini file); ``attributes`` go to env.py."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes.update(attributes)
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _branch_of(script: Script) -> str:
    labels = set(script.branch_labels)
    for branch in BRANCHES:
        if branch in labels:
            return branch
    return ",".join(sorted(labels)) or "?"


def _info(script: Script, heads: set[str]) -> RevisionInfo:
    down = script.down_revision
    if isinstance(down, (tuple, list)):
        down = ",".join(down)
    return RevisionInfo(
        revision=script.revision,
        branch=_branch_of(script),
        down_revision=down,
        message=(script.doc or "").strip(),
        is_head=script.revision in heads,
    )


def history() -> list[RevisionInfo]:
    """Every revision, base first, branch by branch (no database needed)."""
    script = _script()
    heads = set(script.get_heads())
    revisions = list(script.walk_revisions())  # newest first
    revisions.reverse()
    infos = [_info(s, heads) for s in revisions]
    order = {b: i for i, b in enumerate(BRANCHES)}
    return sorted(infos, key=lambda r: order.get(r.branch, len(order)))  # stable: keeps base→head


# --------------------------------------------------------------------------- connecting
def _target(url: URL | str) -> URL:
    try:
        u = make_url(url) if isinstance(url, str) else url
    except (ArgumentError, ValueError) as exc:
        raise SchemaUsageError(f"cannot parse the target URL {redact_url(str(url))}",
                          hint="write it as postgresql+psycopg2://user@host:5432/database") from exc
    if u.get_backend_name() != "postgresql":
        raise SchemaUsageError(
            f"the target must be PostgreSQL, not {u.get_backend_name()}",
            where=redact_url(u),
            hint="set SAFESTATS_TARGET_URL (or --target) to postgresql+psycopg2://user@host:5432/database",
        )
    return u


@contextmanager
def _transaction(url: URL | str) -> Iterator[Connection]:
    """One connection in one transaction; connection problems become a SchemaError."""
    u = _target(url)
    try:
        engine = create_engine(u, poolclass=NullPool)
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise SchemaError(f"cannot use the target URL: {scrub(exc)}", where=redact_url(u),
                          hint="use the postgresql+psycopg2 driver") from exc
    try:
        try:
            conn = engine.connect()
        except DBAPIError as exc:
            raise SchemaError(
                f"cannot connect to the target database: {_first_line(exc)}",
                where=redact_url(u),
                hint="check the server is running and the database exists (createdb NAME), "
                "or fix SAFESTATS_TARGET_URL / --target and the password variable",
            ) from exc
        with conn, conn.begin():
            version = conn.execute(text("SELECT current_setting('server_version_num')::int")).scalar_one()
            if version < MIN_SERVER_VERSION:
                raise SchemaError(
                    f"the target runs PostgreSQL {version // 10000}; the schema needs 15 or later",
                    where=redact_url(u), hint="upgrade the server or point the target at a newer one")
            yield conn
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return scrub(lines[0] if lines else type(orig).__name__)


def _translate(exc: Exception, u: URL | None, action: str) -> SchemaError:
    where = redact_url(u) if u is not None else "offline --sql"
    if isinstance(exc, CommandError):
        return SchemaUsageError(f"{action} refused by Alembic: {scrub(exc)}", where=where,
                           hint="see `safestats-migrate schema history` for the revisions and branches")
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)  # psycopg2 / psycopg 3
    diag = getattr(orig, "diag", None)
    message = scrub(getattr(diag, "message_primary", None) or _first_line(exc))
    if code in _HINTS:
        hint = getattr(diag, "message_hint", None) or _HINTS[code]
        return SchemaError(message, where=where, hint=scrub(hint))
    if code == "42501" and MIGRATOR_ROLE in message and "set role" in message.lower():
        login = u.username if u is not None and u.username else "the migration login"
        return SchemaError(
            f"{action} failed, nothing was changed: {message}",
            where=where,
            hint=f"have a DBA run GRANT {MIGRATOR_ROLE} TO {login}; the migration creates every object "
            "as that role so that it owns them",
        )
    return SchemaError(
        f"{action} failed, nothing was changed: {message}",
        where=where,
        hint="fix the cause and rerun (the whole operation is one transaction); --debug shows the traceback",
    )


def _heads(conn: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def _run(url: URL | str, action: str, revision: str, fn: Any, **attributes: Any) -> SchemaChange:
    """Run one Alembic command online, in one transaction, and report the heads before and after."""
    u = _target(url)
    with _transaction(u) as conn:
        before = _heads(conn)
        try:
            fn(alembic_config(connection=conn, **attributes))
        except (CommandError, SQLAlchemyError) as exc:
            raise _translate(exc, u, action) from exc
        after = _heads(conn)
        if not after and before:
            # At base nothing of ours may remain; Alembic would leave its empty table.
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    return SchemaChange(target=redact_url(u), revision=revision, before=before, after=after)


def _offline(action: str, fn: Any, **attributes: Any) -> str:
    """Run one Alembic command in offline mode and return the SQL it wrote."""
    buffer = io.StringIO()
    try:
        fn(alembic_config(sql_buffer=buffer, **attributes))
    except CommandError as exc:
        raise _translate(exc, None, action) from exc
    return buffer.getvalue()


# --------------------------------------------------------------------------- operations
def _upgrade_target(revision: str | None) -> str:
    """``None``, ``""`` and ``head`` → ``heads`` (every branch); anything else as given."""
    wanted = (revision or "").strip()
    return "heads" if wanted.lower() in ("", "head", "heads") else wanted


def upgrade(url: URL | str | None, revision: str | None = "heads", *, sql: bool = False) -> SchemaChange:
    """Upgrade the target to ``revision`` (default: every branch to its head).

    ``head`` (what every Alembic user types) and nothing mean every branch to its head too:
    the ledger and the data are two branches, and nobody should need to know that to
    upgrade.  ``data@head``, ``ledger@head`` or a revision upgrade one branch.  With
    ``sql=True`` nothing is connected to: the DDL is returned for review (``url`` may be
    None then).
    """
    revision = _upgrade_target(revision)
    if sql:
        text_ = _offline("upgrade", lambda cfg: command.upgrade(cfg, revision, sql=True))
        return SchemaChange(target=redact_url(url) if url else "(offline)", revision=revision, sql=text_)
    if url is None:
        raise SchemaUsageError("no target database given for the upgrade", hint="set SAFESTATS_TARGET_URL or --target")
    return _run(url, "upgrade", revision, lambda cfg: command.upgrade(cfg, revision))


def downgrade(url: URL | str | None, revision: str, *, sql: bool = False, force: bool = False) -> SchemaChange:
    """Downgrade the target to ``revision`` (e.g. ``data@base``, ``ledger@base``, ``base``).

    Dropping the data tables is refused while any of them holds a row, and dropping the
    ledger while it records a run, unless ``force``.  With ``sql=True`` the revision
    must be a range ``FROM:TO`` (nothing is connected to, so the start must be named).
    """
    attrs = {ddl.FORCE_ATTRIBUTE: force}
    if sql:
        if ":" not in revision:
            raise SchemaUsageError(
                f"an offline downgrade needs the starting revision, not only {revision!r}",
                hint="give FROM:TO, e.g. `schema downgrade --sql d0003:base`",
            )
        text_ = _offline("downgrade", lambda cfg: command.downgrade(cfg, revision, sql=True), **attrs)
        return SchemaChange(target=redact_url(url) if url else "(offline)", revision=revision, sql=text_)
    if url is None:
        raise SchemaUsageError("no target database given for the downgrade", hint="set SAFESTATS_TARGET_URL or --target")
    return _run(url, "downgrade", revision, lambda cfg: command.downgrade(cfg, revision), **attrs)


def current(url: URL | str) -> SchemaStatus:
    """The revisions the target database is at (none: nothing of ours is installed)."""
    u = _target(url)
    script = _script()
    heads = set(script.get_heads())
    with _transaction(u) as conn:
        applied = _heads(conn)
    infos = []
    for rev in applied:
        try:
            sc = script.get_revision(rev)
        except CommandError as exc:
            raise SchemaError(
                f"the target is at revision {rev}, which this version of the tool does not know",
                where=redact_url(u), hint="use the tool version that upgraded it (pip install the matching release)",
            ) from exc
        if sc is not None:
            infos.append(_info(sc, heads))
    return SchemaStatus(target=redact_url(u), applied=tuple(infos), heads=tuple(sorted(heads)))


def check(url: URL | str) -> SchemaCheck:
    """Compare the model (:mod:`migration.schema.models`) with the target, like ``alembic check``,
    and report any exact location the application role could read."""
    u = _target(url)
    with _transaction(u) as conn:
        diffs = differences(conn)
        exposed = exposed_locations(conn)
    return SchemaCheck(target=redact_url(u), differences=tuple(_describe(d) for d in diffs) + tuple(exposed))


def _describe(diff: Any) -> str:
    """One readable line per difference Alembic reports."""
    if isinstance(diff, list):  # the changes of one column come grouped
        return "; ".join(_describe(d) for d in diff)
    if not isinstance(diff, tuple) or not diff:
        return str(diff)
    op = diff[0]
    if str(op).startswith("modify_") and len(diff) >= 7:
        _, schema, table, column, _existing, in_db, in_model = diff[:7]
        return f"{op}: {schema}.{table}.{column}: database has {_show(in_db)}, model has {_show(in_model)}"
    return f"{op}: " + ", ".join(_name(item) for item in diff[1:] if item is not None)


def _show(value: Any) -> str:
    arg = getattr(value, "arg", None)  # a server default
    if arg is not None:
        return str(getattr(arg, "text", arg))
    return str(value)


def _name(item: Any) -> str:
    table = getattr(item, "table", None)
    name = getattr(item, "name", None)
    if table is not None and name is not None:
        return f"{table.fullname}.{name}"
    return str(getattr(item, "fullname", None) or name or item)
