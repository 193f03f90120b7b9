"""Per-invocation state shared by the commands (settings are loaded lazily)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration.console import RichConsole
from migration.settings import Settings, load_settings


@dataclass
class AppState:
    cli_options: dict[str, Any] = field(default_factory=dict)
    config_path: Path | None = None
    debug: bool = False
    log_json: bool = False
    _settings: Settings | None = None
    _console: RichConsole | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(cli=self.cli_options, config_path=self.config_path)
        return self._settings

    @property
    def console(self) -> RichConsole:
        if self._console is None:
            self._console = RichConsole(log_json=self.log_json)
        return self._console


def state(ctx: Any) -> AppState:
    obj = ctx.find_root().obj
    if obj is None:  # invoked without the root callback (should not happen)
        obj = AppState()
        ctx.find_root().obj = obj
    return obj  # type: ignore[no-any-return]
