"""`safestats-migrate quarantine list|show|export`: what was quarantined, never the payload."""

from __future__ import annotations

from pathlib import Path

import typer

from migration.cli.state import state


def register(app: typer.Typer) -> None:
    qa = typer.Typer(no_args_is_help=True, help="Quarantined rows (keys, reasons, fields — never payload).")
    app.add_typer(qa, name="quarantine")

    def _engine(ctx: typer.Context):  # type: ignore[no-untyped-def]
        from migration.db.engines import check_connect, target_engine

        eng = target_engine(state(ctx).settings.require_target())
        check_connect(eng, role="target")
        return eng

    @qa.command("list")
    def list_(ctx: typer.Context, stage: str | None = typer.Option(None, "--stage"),
              all_: bool = typer.Option(False, "--all", help="Include redriven and rolled-back records.")) -> None:
        """Quarantined rows per stage, table and reason."""
        from migration import quarantine

        groups = quarantine.summary(_engine(ctx), stage=stage, include_closed=all_)
        state(ctx).console.table("Quarantine", ["stage", "table", "reason", "rows", "blank business key", "runs"],
                                 [(g.stage, g.source_table, g.reason_code, f"{g.rows:,}", f"{g.blank_keys:,}", g.runs)
                                  for g in groups])

    @qa.command("show")
    def show(ctx: typer.Context, what: str = typer.Argument(
                 ..., help="A quarantine id, or a key: the legacy primary key (RecID 2855) or the business key "
                           "(CrimeRef MP10SD0002442)."),
             stage: str | None = typer.Option(None, "--stage"),
             reason: str | None = typer.Option(None, "--reason"),
             limit: int = typer.Option(50, "--limit")) -> None:
        """Records by quarantine id, legacy key or business key (or all of a stage/reason with `show all`)."""
        from migration import quarantine

        qid = int(what) if what.isdigit() and len(what) < 12 else None
        key = None if qid is not None or what == "all" else what
        recs = quarantine.records(_engine(ctx), stage=stage, reason=reason, key=key, quarantine_id=qid,
                                  limit=limit)
        if not recs and qid is not None:
            recs = quarantine.records(_engine(ctx), stage=stage, key=what, limit=limit)
        state(ctx).console.table("Quarantine records", ["id", "run", "stage", "table", "legacy key", "business key",
                                                        "reason", "fields", "at", "status"],
                                 [(r.quarantine_id, r.run_id, r.stage, r.source_table, r.source_key,
                                   "(blank)" if r.business_key is None else r.business_key, r.reason_code,
                                   ", ".join(r.fields), f"{r.created_at:%Y-%m-%d %H:%M}",
                                   "rolled back" if r.rolled_back_at else
                                   (f"redriven by run {r.redriven_by_run_id}" if r.redriven_by_run_id else "open"))
                                  for r in recs])

    @qa.command("export")
    def export(ctx: typer.Context, out: Path = typer.Option(..., "--out", help="File to write."),
               fmt: str = typer.Option("csv", "--format", help="csv or json"),
               stage: str | None = typer.Option(None, "--stage"),
               all_: bool = typer.Option(False, "--all", help="Include redriven and rolled-back records.")) -> None:
        """Write the quarantine records (legacy and business keys, reasons, fields) to CSV or JSON for a ticket."""
        from migration import quarantine

        n = quarantine.export(_engine(ctx), out, stage=stage, fmt=fmt, include_closed=all_)
        state(ctx).console.info(f"wrote {n:,} quarantine records to {out}")
