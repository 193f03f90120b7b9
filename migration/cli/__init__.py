"""The ``safestats-migrate`` command line.

Commands parse their options, make one library call and render the result.  This module
holds the only error boundary: :func:`main` turns a :class:`SafeStatsError` into one
clear line on stderr and its exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from migration.cli.state import AppState
from migration.errors import SafeStatsError
from migration.secrets import scrub

#: the most problems (of mapping or check files) listed above an error line
MAX_PROBLEMS = 200

app = typer.Typer(
    name="safestats-migrate",
    help="Staged, reconciled, reversible migration of legacy SafeStats to PostgreSQL + PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold passwords
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    ctx.obj = AppState(
        cli_options={"source_url": source, "target_url": target, "mappings_dir": mappings_dir,
                     "checks_dir": checks_dir, "log_json": log_json},
        config_path=config,
        debug=debug,
        log_json=log_json,
    )


def _register() -> None:
    from migration.cli import config_cmd, legacy, schema

    app.add_typer(legacy.app, name="legacy", help="The synthetic legacy SafeStats database.")
    app.add_typer(schema.app, name="schema", help="The target schema (Alembic).")
    app.add_typer(config_cmd.app, name="config", help="Show the effective settings.")
    for extra in ("mappings", "plan", "run", "quarantine", "reconcile", "report", "rollback", "demo", "profile",
                  "preflight"):
        try:
            mod = __import__(f"migration.cli.{extra}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name == f"migration.cli.{extra}":
                continue
            raise
        mod.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns (and exits with) the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("SAFESTATS_DEBUG") == "1"
    try:
        app(args=args, prog_name="safestats-migrate", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if argv is None:
            raise
        return code
    except SafeStatsError as exc:
        if debug:
            raise
        problems = list(getattr(exc, "problems", None) or [])
        if len(problems) > 1:  # every problem, each with its file and line (one is in the error line)
            for p in problems[:MAX_PROBLEMS]:
                typer.echo(f"  {scrub(p)}", err=True)
            if len(problems) > MAX_PROBLEMS:
                typer.echo(f"  … and {len(problems) - MAX_PROBLEMS} more", err=True)
        typer.echo(f"error: {scrub(exc.one_line())}", err=True)
        if argv is None:
            sys.exit(exc.exit_code)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        if argv is None:
            sys.exit(130)
        return 130
    except Exception as exc:  # an internal error still gets one line, redacted, and exit 70
        if debug:
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {scrub(exc)} — this is a bug; rerun with --debug "
            "for the traceback and report it",
            err=True,
        )
        if argv is None:
            sys.exit(70)
        return 70
    return 0
