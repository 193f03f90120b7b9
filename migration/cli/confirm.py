"""Confirmation of an irreversible command: a question on a terminal, ``--yes`` elsewhere.

A script or CI job has no one to answer, so without ``--yes`` the command is a usage error
(exit 2) rather than a silent go-ahead or a hang on a closed stdin."""

from __future__ import annotations

import sys

import typer

from migration.errors import UsageError


def confirm(what: str, *, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"not on a terminal: pass --yes to {what}", hint="add --yes to the command")
    if not typer.confirm(f"{what[0].upper()}{what[1:]}?", default=False, err=True):
        raise typer.Abort()
