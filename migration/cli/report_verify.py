"""`safestats-migrate report verify [DIR]`."""

from __future__ import annotations

from pathlib import Path

import typer

from migration import api
from migration.cli.state import state


def register(group: typer.Typer) -> None:
    @group.command("verify")
    def verify(
        ctx: typer.Context,
        folder: Path | None = typer.Argument(None, metavar="DIR",
                                             help="A report folder whose recorded chain head must be a link of "
                                                  "the chain (default: the newest report under the reports "
                                                  "folder, if any)."),
    ) -> None:
        """Recompute the ledger's digest chain: exit 1 naming the first row changed or deleted after its seal."""
        st = state(ctx)
        outcome = api.verify_ledger(st.settings, folder)
        r = outcome.result
        rows = [(f"seal {c.seal_id}", f"{c.rows:,} row(s) of run(s) "
                 f"{', '.join(map(str, c.runs)) or '-'} unsealed until seal {c.seal_id} (caught up)")
                for c in r.catch_ups]
        rows += [(f"ledger.{t}", f"{n:,} row(s) appended after the last seal") for t, n in sorted(r.appended.items())]
        if outcome.report is not None and outcome.report_head is not None:
            rows.append(("report", f"{outcome.report}: head seal {outcome.report_head[0]}"
                                   + (" is a link of the chain" if outcome.failure is None else "")))
        if rows:
            st.console.table("Ledger chain", ["what", "state"], rows)
        for note in outcome.notes:
            st.console.warn(note)
        if outcome.failure is not None:
            raise outcome.failure
        appended = sum(r.appended.values())
        st.console.info(f"PASS: ledger chain intact — {r.seals:,} seal(s), {r.rows:,} sealed row(s) checked"
                        + (f"; {appended:,} row(s) appended after the last seal" if appended else "")
                        + (f"; head seal {r.head[0]}" if r.head else ""))
