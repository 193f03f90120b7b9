"""Every command of the CLI has a runbook page that names it (operators read runbooks, not code)."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from migration.cli import app

RUNBOOKS = Path(__file__).resolve().parents[1] / "runbooks"


def _commands(group: object, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        path = f"{prefix} {name}".strip()
        if getattr(cmd, "commands", None):
            out += _commands(cmd, path)
        else:
            out.append(path)
    return out


def test_every_command_has_a_runbook_page() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in RUNBOOKS.glob("*.md"))
    commands = _commands(get_command(app))
    assert "run" in commands and "schema upgrade" in commands
    missing = [c for c in commands if f"safestats-migrate {c}" not in text]
    assert not missing, f"commands without a runbook page naming them: {missing}"


def test_runbook_index_lists_every_page() -> None:
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in RUNBOOKS.glob("*.md") if p.name != "README.md")
    assert [p for p in pages if f"({p})" not in index] == []

