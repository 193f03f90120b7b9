"""`safestats-migrate status [--json] [--check]`: where the migration stands, from the ledger."""

from __future__ import annotations

import json
from datetime import timedelta

import typer

from migration import api
from migration.cli.state import state
from migration.errors import CheckFailed, MigrationIncomplete


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(ctx: typer.Context,
               as_json: bool = typer.Option(False, "--json", help="Print the status as JSON (alone on stdout)."),
               check: bool = typer.Option(False, "--check", help="Exit with the verdict's code (0 PASS, 1 FAIL, "
                                                                 "3 INCOMPLETE)."),
               no_lag: bool = typer.Option(False, "--no-lag", help="Do not ask the legacy how far the target lags."),
               stalled_after: int = typer.Option(15, "--stalled-after", min=1,
                                                 help="Minutes without a committed chunk before a load is stalled.")
               ) -> None:
        """Each planned stage's state, checks, last delta and lag; quarantine by decision; the lock; the verdict.

        Reads only the ledger (the legacy only for the lag, 5 s at most). Exit 0 whenever the
        ledger was read; with --check, the verdict's code."""
        st = state(ctx)
        s = api.migration_status(st.settings, lag=not no_lag, stalled_after=timedelta(minutes=stalled_after))
        if as_json:
            typer.echo(json.dumps(s.to_dict(), indent=2, ensure_ascii=False, default=str))
        else:
            rows = []
            for line in s.stages:
                state_txt = line.state
                if line.loading:
                    ld = line.loading
                    state_txt = (f"loading ({ld['holder']}, last chunk {_age(ld['age_seconds'])} ago"
                                 + (", stalled" if ld["stalled"] else "") + ")")
                delta = (f"run {line.last_delta['run_id']} {line.last_delta['at']:%Y-%m-%d %H:%M}"
                         if line.last_delta else "—")
                if line.lag is None:
                    lag = "—"
                elif line.lag.rows_changed is None:
                    lag = f"since {line.lag.watermark}: {line.lag.note}"
                else:
                    lag = (f"{line.lag.rows_changed:,} row(s) changed since {line.lag.watermark}" if line.lag.rows_changed
                           else f"up to date with {line.lag.watermark}")
                checked = f"{line.checked_at:%Y-%m-%d %H:%M}" if line.checked_at else "—"
                rows.append((line.plan.stage, state_txt, line.verdict_state.replace("_", " "), checked, delta, lag))
            st.console.table("Stages", ["stage", "state", "verdict", "last check", "last delta", "lag"], rows)
            if s.quarantine:
                st.console.table("Quarantine by decision", ["stage", "reason", "decision", "open", "settled"],
                                 [(q["stage"], q["reason_code"], q["decision"], f"{q['open']:,}", f"{q['settled']:,}")
                                  for q in s.quarantine])
            st.console.info(f"undecided open quarantine: {s.undecided:,}"
                            + (" (blocks `cutover go`; `safestats-migrate quarantine decide`)" if s.undecided else ""))
            lk = s.lock
            st.console.info("lock: free" if lk is None else
                            f"lock: held by {lk['holder']} (pid {lk['pid']} on {lk['host']}) running "
                            f"`{lk['command']}` since {lk['acquired_at']:%Y-%m-%d %H:%M:%S%z}")
            for note in s.notes:
                st.console.warn(note)
            st.console.info(f"verdict: {s.verdict.summary}")
        if check and s.exit_code:

            err = CheckFailed if s.exit_code == CheckFailed.exit_code else MigrationIncomplete
            raise err(f"status --check: {s.verdict.summary}", hint="see each stage's verdict above "
                      "(`safestats-migrate status`)")
