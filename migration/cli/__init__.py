"""The ``safestats-migrate`` command line.

Commands parse their options, make one library call and render the result.  This module
holds the only error boundary: :func:`main` turns every outcome into one exit code of the
table in runbooks/README.md (0 done, 1 failed/refused for a data reason, 2 usage or
settings, 3 a database unreachable or not ready, 4 the lock held, 70 a bug, 130
interrupted) and one clear line on stderr (one JSON object with ``--log-json``);
``--debug`` adds the traceback and never changes the code.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperOption

from migration import interrupt
from migration.cli import (
    config_cmd,
    cutover,
    diagnose,
    legacy,
    mappings,
    plan,
    preflight,
    profile,
    quarantine,
    reconcile,
    report,
    rollback,
    run,
    runs,
    schema,
    status,
)
from migration.cli.state import AppState
from migration.errors import (
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_NOT_READY,
    EXIT_USAGE,
    SafeStatsError,
    TargetFull,
    out_of_resources,
)
from migration.secrets import scrub
from migration.version import __version__

#: the most problems (of mapping or check files) listed above an error line
MAX_PROBLEMS = 200

_display_type_rich = TyperOption.display_type_rich


def _no_flag_placeholder(self: TyperOption, ctx: Any) -> str | None:
    """A flag takes no value: show no ``<bool>`` placeholder in --help (Typer 0.2x shows one)."""
    return None if self.is_flag else _display_type_rich(self, ctx)


TyperOption.display_type_rich = _no_flag_placeholder  # type: ignore[method-assign]

app = typer.Typer(
    name="safestats-migrate",
    help="Staged, reconciled, reversible migration of legacy SafeStats to PostgreSQL + PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold passwords
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"safestats-migrate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", help="Config file (default ./safestats-migrate.toml)."),
    source: str | None = typer.Option(None, "--source", help="Legacy database URL, without password."),
    target: str | None = typer.Option(None, "--target", help="Target PostgreSQL URL, without password."),
    mappings_dir: Path | None = typer.Option(
        None, "--mappings", help="Mapping files folder (default: SAFESTATS_MAPPINGS_DIR, the config file, or the "
                                 "files shipped with the package)."),
    checks_dir: Path | None = typer.Option(
        None, "--checks", help="Check files folder (default: SAFESTATS_CHECKS_DIR, the config file, or the files "
                               "shipped with the package)."),
    log_json: bool = typer.Option(False, "--log-json", help="Machine-readable JSON log lines on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback too (the exit code stays the same)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    ctx.obj = AppState(
        cli_options={"source_url": source, "target_url": target, "mappings_dir": mappings_dir,
                     "checks_dir": checks_dir, "log_json": log_json},
        config_path=config,
        debug=debug,
        log_json=log_json,
    )


#: every command group, in the order --help lists them; each module's ``register(app)`` adds
#: its commands (the one way a command is registered)
COMMANDS = (legacy, schema, config_cmd, mappings, plan, run, quarantine, reconcile, report, rollback, profile,
            preflight, runs, status, cutover, diagnose)
for _module in COMMANDS:
    _module.register(app)


def _connection_lost(exc: BaseException) -> bool:
    """A database error that means the server or its connection went away (not a bug)."""
    from sqlalchemy.exc import DBAPIError

    from migration.db.source import is_transient

    return isinstance(exc, DBAPIError) and is_transient(exc)


def _one_line(message: str) -> str:
    """Redacted, on one line (a driver's message may span several: "…failed\n\tIs the server running…")."""
    return " ".join(scrub(message).split())


def _traceback() -> None:
    """--debug: the traceback of the error being handled, redacted (never locals: they hold passwords)."""
    sys.stderr.write(scrub(traceback.format_exc()))
    sys.stderr.flush()


def _emit(message: str, *, log_json: bool, code: int, kind: str, hint: str | None = None,
          problems: list[str] | None = None) -> None:
    """The one error line on stderr: plain text, or one JSON object with --log-json."""
    if log_json:
        rec: dict[str, Any] = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "level": "error",
                               "message": _one_line(message), "error": kind, "exit_code": code}
        if hint:
            rec["hint"] = scrub(hint)
        if problems:
            rec["problems"] = [scrub(p) for p in problems[:MAX_PROBLEMS]]
        sys.stderr.write(json.dumps(rec, ensure_ascii=False) + "\n")
        sys.stderr.flush()
        return
    for p in (problems or [])[:MAX_PROBLEMS] if problems and len(problems) > 1 else []:
        typer.echo(f"  {scrub(p)}", err=True)  # every problem, each with its file and line
    if problems and len(problems) > MAX_PROBLEMS:
        typer.echo(f"  … and {len(problems) - MAX_PROBLEMS} more", err=True)
    typer.echo(_one_line(message), err=True)


def _error(exc: SafeStatsError, log_json: bool) -> int:
    """A tool error's one line (with its hint and problems) and its exit code."""
    _emit(f"error: {exc.one_line()}", log_json=log_json, code=exc.exit_code, kind=type(exc).__name__,
          hint=exc.hint, problems=list(getattr(exc, "problems", None) or []))
    return exc.exit_code


def _outcome(args: list[str], *, debug: bool, log_json: bool) -> int:
    """Run the command; every way it can end becomes (prints once and returns) its exit code."""
    try:
        with interrupt.handlers():
            rv = app(args=args, prog_name="safestats-migrate", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
        if code == EXIT_INTERRUPTED:  # Typer turns a KeyboardInterrupt into Exit(130) silently
            sig = interrupt.requested() or "SIGINT"
            _emit(f"interrupted ({sig}): stopped before the command finished — run it again to finish (a "
                  "load resumes from its last committed chunk)",
                  log_json=log_json, code=code, kind="Interrupted")
        return code
    except SafeStatsError as exc:
        if debug:
            _traceback()
        return _error(exc, log_json)
    except typer.Exit as exc:  # raised outside a command (e.g. --version)
        return int(exc.exit_code)
    except SystemExit as exc:  # Typer's completion options exit by themselves
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except typer.TyperException as exc:  # usage: unknown command or option, bad value (exit 2)
        if debug:
            _traceback()
        if log_json:
            _emit(f"error: {exc.format_message()}", log_json=True, code=exc.exit_code, kind=type(exc).__name__)
        else:
            from typer import rich_utils

            rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
        return exc.exit_code if exc.exit_code else EXIT_USAGE
    except typer.Abort:
        _emit("aborted", log_json=log_json, code=1, kind="Abort")
        return 1
    except Exception as exc:  # an internal error still gets one line, redacted, and exit 70
        if debug:
            _traceback()
        if out_of_resources(exc):  # disk full (SQLSTATE class 53) outside a stage's own handling: exit 3
            return _error(TargetFull(f"the target ran out of room: {_one_line(str(getattr(exc, 'orig', exc)))}",
                                     hint=TargetFull.hint_then("run the same command again: nothing half-written "
                                                               "is kept")), log_json)
        if _connection_lost(exc):  # a server gone mid-command is no bug: exit 3 (unreachable)
            _emit(f"error: a database connection was lost: {_one_line(str(getattr(exc, 'orig', exc)))} — "
                  "run the same command again when the database is back: a load resumes from its last "
                  "committed chunk, nothing half-written is kept",
                  log_json=log_json, code=EXIT_NOT_READY, kind="ConnectionLost")
            return EXIT_NOT_READY
        _emit(f"internal error: {type(exc).__name__}: {exc} — this is a bug; rerun with --debug for the traceback "
              "and report it", log_json=log_json, code=EXIT_BUG, kind="InternalError")
        return EXIT_BUG


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns (and, from the console script, exits with) the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("SAFESTATS_DEBUG") == "1"
    log_json = "--log-json" in args or os.environ.get("SAFESTATS_LOG_JSON", "").lower() in ("1", "true")
    code = _outcome(args, debug=debug, log_json=log_json)
    if argv is None:
        sys.exit(code)
    return code
