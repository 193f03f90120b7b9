"""`safestats-migrate diagnose --out FILE`: the bundle to send when you call someone."""

from __future__ import annotations

from pathlib import Path

import typer

from migration import api
from migration.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command("diagnose")
    def diagnose(ctx: typer.Context,
                 out: Path = typer.Option(..., "--out", help="The JSON file to write (send it with your call).")
                 ) -> None:
        """Versions, redacted settings, the plan, the lock holder, the latest runs and the last 200
        events — no password, no row data. Exit 0 once written, whatever it found."""
        st = state(ctx)
        bundle = api.diagnose(st.settings, out)
        missing = sorted(k for k, v in bundle.items() if isinstance(v, dict) and "unavailable" in v)
        st.console.info(f"diagnostic bundle written to {out}: {len(bundle['events'])} event(s), "
                        f"{len(bundle['runs'])} run(s)"
                        + (f"; could not read: {', '.join(missing)}" if missing else ""))
