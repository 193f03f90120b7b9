"""`safestats-migrate run STAGE… | --all [--dry-run]`: load stages into the target."""

from __future__ import annotations

from typing import Any

import typer

from migration import api
from migration.cli.plan import show_plan
from migration.cli.state import AppState, state


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        stages: list[str] | None = typer.Argument(None, help="Stages to run (default with --all: every stage)."),
        all_: bool = typer.Option(False, "--all", help="Run every stage in dependency order."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan `run` would execute; change nothing."),
        as_json: bool = typer.Option(False, "--json", help="With --dry-run: print the plan as JSON (as `plan --json`)."),
        chunk_rows: int | None = typer.Option(None, "--chunk-rows", help="Rows per committed chunk."),
        delta: bool = typer.Option(False, "--delta", help="Bring loaded stages up to date with the legacy."),
        accept_mapping_change: bool = typer.Option(
            False, "--accept-mapping-change", help="With --delta: go on although the mapping files changed."),
        redrive: bool = typer.Option(False, "--redrive-quarantine",
                                     help="Re-process exactly the quarantined rows (after a mapping fix)."),
        no_reconcile: bool = typer.Option(False, "--no-reconcile",
                                          help="Do not reconcile each stage after loading it (recorded)."),
        stop_at: str | None = typer.Option(
            None, "--stop-at", metavar="HH:MM",
            help="Stop at the first chunk boundary after this London time (or YYYY-MM-DDTHH:MM), like Ctrl-C: "
                 "what is done stays committed, exit 130, the same command resumes."),
        max_rows_per_second: float | None = typer.Option(
            None, "--max-rows-per-second", metavar="N",
            help="Read the live legacy at most N rows per second on average (short queries, one per chunk)."),
        strict: bool = typer.Option(
            False, "--strict", help="Refuse (instead of warn) when this package version is not the one that "
                                    "loaded the stage."),
    ) -> None:
        """Load stages: streamed extract, Polars transforms, COPY, one transaction per chunk with its checkpoint."""
        st = state(ctx)
        if not stages and not all_ and not (delta or redrive):
            raise typer.BadParameter("name the stages to run, or pass --all")
        if as_json and not dry_run:
            raise typer.BadParameter("--json goes with --dry-run (the plan); a run reports on stderr")
        mode = "redrive" if redrive else "delta" if delta else "load"
        names = list(stages or [])
        if dry_run and (mode == "load" or as_json):
            # the explainer: the plan `plan` shows, from the same builder
            plan = api.make_plan(st.settings, st.console, None if all_ or not names else names, mode=mode,
                                 gate=not no_reconcile)
            show_plan(st, plan, as_json=as_json, title="What `run` would do (nothing changed)")
            return
        if delta or redrive:
            _delta(st, api.delta(st.settings, st.console, names, all_=all_ or not stages, dry_run=dry_run,
                                 accept_mapping_change=accept_mapping_change, redrive=redrive,
                                 chunk_rows=chunk_rows, reconcile=not no_reconcile, stop_at=stop_at,
                                 max_rows_per_second=max_rows_per_second, strict=strict),
                   dry_run=dry_run, redrive=redrive)
            return
        results = api.run(st.settings, st.console, names, all_=all_, chunk_rows=chunk_rows,
                          reconcile=not no_reconcile, stop_at=stop_at, max_rows_per_second=max_rows_per_second,
                          strict=strict)
        rows = []
        for r in results:
            if not r.counts:
                rows.append((r.stage, str(r.run_id or ""), r.action, "", "", "", "", "", "", f"{r.seconds:.1f}"))
            for c in r.counts:
                rate = f"{c.rows_read / r.seconds:,.0f}" if r.seconds else ""
                loaded = f"{c.rows_loaded:,}" + (f" (+{c.rows_unchanged:,} unchanged)" if c.rows_unchanged else "")
                rows.append((r.stage, str(r.run_id), r.action, c.source_table, f"{c.rows_read:,}", loaded,
                             f"{c.rows_merged:,}", f"{c.rows_quarantined:,}", f"{c.rows_filtered:,}",
                             f"{r.seconds:.1f} ({rate}/s)"))
        st.console.table("Stage summary", ["stage", "run", "action", "table", "read", "loaded", "merged",
                                            "quarantined", "filtered", "seconds"], rows)


def _delta(st: AppState, results: list[Any], *, dry_run: bool, redrive: bool) -> None:
    """The delta's (or redrive's) results as a table; with ``dry_run`` what it would do (``Any``:
    the executor's results are a union, and only a delta's carry ``plans``)."""
    if dry_run:
        plan_rows = [(r.stage, p.source_table, p.strategy, p.watermark_from or "", f"{p.new_keys:,}", f"{p.gone_keys:,}",
                 f"{p.changed_rows:,}", f"{p.groups:,}", f"{p.target_rows:,}")
                for r in results for p in r.plans] or [(r.stage, "", r.message, "", "", "", "", "", "")
                                                       for r in results]
        st.console.table("What the delta would do (nothing changed)",
                         ["stage", "table", "strategy", "re-read since", "new keys", "deleted keys",
                          "changed rows", "groups to re-derive (lag)", "legacy rows to re-read"], plan_rows)
        return
    rows: list[tuple[str, ...]] = []
    for r in results:
        if not r.counts:
            rows.append((r.stage, str(r.run_id or ""), r.action, "", "", "", "", "", "", r.message))
        for c in r.counts:
            rows.append((r.stage, str(r.run_id), r.action, c.source_table, f"{c.rows_read:,}", f"{c.rows_loaded:,}",
                         f"{c.rows_unchanged:,}", f"{c.rows_merged:,}", f"{c.rows_quarantined:,}",
                         f"{c.rows_filtered:,}"))
    st.console.table("Delta summary" if not redrive else "Redrive summary",
                     ["stage", "run", "action", "table", "re-read", "written", "unchanged", "merged", "quarantined",
                      "filtered"], rows)
