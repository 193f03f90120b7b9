"""`safestats-migrate quarantine list|show|export`: what was quarantined, never the payload."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from migration import api
from migration.cli.state import state


def _decision_text(d: tuple[str, str, datetime] | None) -> str:
    return "undecided" if d is None or d[0] == "undecided" else f"{d[0]} ({d[1]}, {d[2]:%Y-%m-%d %H:%M})"


def register(app: typer.Typer) -> None:
    qa = typer.Typer(no_args_is_help=True, help="Quarantined rows (keys, reasons, fields — never payload).")
    app.add_typer(qa, name="quarantine")

    @qa.command("list")
    def list_(ctx: typer.Context, stage: str | None = typer.Option(None, "--stage", help="Only this stage."),
              run: int | None = typer.Option(None, "--run", help="Only the records of this run."),
              all_: bool = typer.Option(False, "--all", help="Include redriven and rolled-back records.")) -> None:
        """Quarantined rows per stage, table and reason."""
        found = api.quarantine_summary(state(ctx).settings, stage=stage, run_id=run, include_closed=all_)
        groups, decided = found.groups, found.decided
        state(ctx).console.table("Quarantine", ["stage", "table", "reason", "rows", "blank business key", "runs"],
                                 [(g.stage, g.source_table, g.reason_code, f"{g.rows:,}", f"{g.blank_keys:,}", g.runs)
                                  for g in groups])
        if decided:
            state(ctx).console.table("Decisions", ["stage", "reason", "decision", "open", "settled"],
                                     [(d["stage"], d["reason_code"], d["decision"], f"{d['open']:,}",
                                       f"{d['settled']:,}") for d in decided])
        if not groups:
            state(ctx).console.info("nothing is quarantined" + (f" in stage {stage}" if stage else "")
                                    + (f" by run {run}" if run is not None else "")
                                    + ("" if all_ else " (open records; --all includes closed ones)"))

    @qa.command("show")
    def show(ctx: typer.Context, what: str = typer.Argument(
                 ..., help="A quarantine id, or a key: the legacy primary key (RecID 2855) or the business key "
                           "(CrimeRef MP10SD0002442)."),
             stage: str | None = typer.Option(None, "--stage", help="Only this stage."),
             reason: str | None = typer.Option(None, "--reason", help="Only this reason code."),
             run: int | None = typer.Option(None, "--run", help="Only the records of this run."),
             limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many records.")) -> None:
        """Records by quarantine id, legacy key or business key (or all of a stage/reason with `show all`)."""
        st = state(ctx)
        found = api.quarantine_records(st.settings, what, stage=stage, reason=reason, run_id=run, limit=limit)
        recs, total, decided = found.records, found.total, found.decisions
        st.console.table("Quarantine records", ["id", "run", "stage", "table", "legacy key", "business key",
                                                "reason", "fields", "at", "status", "decision"],
                         [(r.quarantine_id, r.run_id, r.stage, r.source_table, r.source_key,
                           "(blank)" if r.business_key is None else r.business_key, r.reason_code,
                           ", ".join(r.fields), f"{r.created_at:%Y-%m-%d %H:%M}",
                           "rolled back" if r.rolled_back_at else
                           (f"redriven by run {r.redriven_by_run_id}" if r.redriven_by_run_id else "open"),
                           _decision_text(decided.get(r.quarantine_id)))
                          for r in recs])
        if total > len(recs):
            st.console.warn(f"showing {len(recs):,} of {total:,} records; --limit {total} to see more "
                            "(or `quarantine export` for all of them)")
        elif not recs:
            st.console.info(f"no quarantine record matches {what!r}")

    @qa.command("decide")
    def decide_(ctx: typer.Context,
                keys: list[str] | None = typer.Argument(None, help="Legacy or business keys of the rows (or use "
                                                                   "--stage [--reason])."),
                as_: str = typer.Option(..., "--as", help="fix-and-redrive, accept-loss, corrected-at-source, or "
                                                          "undecided (revokes)."),
                note: str = typer.Option(..., "--note", help="Why (shown in the report and status)."),
                stage: str | None = typer.Option(None, "--stage", help="Every open record of this stage."),
                reason: str | None = typer.Option(None, "--reason", help="Only this reason code (with --stage)."),
                by: str | None = typer.Option(None, "--by", help="Who decides (default: OS user@host).")) -> None:
        """Record a decision about open quarantined rows: by key, or by stage and reason (rows open now)."""
        done = api.quarantine_decide(state(ctx).settings, decision=as_, note=note, keys=keys, stage=stage, reason=reason, by=by)
        d = done.decision
        state(ctx).console.info(f"decision {d.decision_id}: {d.record_count:,} open record(s) of {done.subject} "
                                f"marked {d.decision} by {d.actor} at {d.at:%Y-%m-%d %H:%M:%S%z}: {d.note}")

    @qa.command("export")
    def export(ctx: typer.Context, out: Path = typer.Option(..., "--out", help="File to write."),
               fmt: str = typer.Option("csv", "--format", help="csv or json"),
               stage: str | None = typer.Option(None, "--stage", help="Only this stage."),
               all_: bool = typer.Option(False, "--all", help="Include redriven and rolled-back records.")) -> None:
        """Write the quarantine records (legacy and business keys, reasons, fields) to CSV or JSON for a ticket."""
        n = api.quarantine_export(state(ctx).settings, out, fmt=fmt, stage=stage, include_closed=all_)
        state(ctx).console.info(f"wrote {n:,} quarantine records to {out}")
