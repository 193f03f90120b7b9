"""`safestats-migrate legacy …`: the synthetic legacy SafeStats database."""

from __future__ import annotations

from pathlib import Path

import typer

from migration import api
from migration.cli.state import state

app = typer.Typer(no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="legacy", help="The synthetic legacy SafeStats database.")


@app.command("generate")
def generate_cmd(
    ctx: typer.Context,
    url: str = typer.Option(..., "--url", help="Where to create the legacy tables: sqlite:///FILE, "
                            "mysql+pyodbc://root@host:3306/DB?driver=MariaDB+Unicode&charset=utf8mb4, "
                            "or postgresql+psycopg2://user@host/DB (no password: use the environment)."),
    scale: float = typer.Option(..., "--scale", help="1.0 is the real volume (about 10 million rows)."),
    seed: int = typer.Option(..., "--seed", help="Same seed and scale give the same database and manifest."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Manifest JSON path (default for SQLite: "
                                            "<name>.manifest.json next to the file; required otherwise)."),
    keys: bool | None = typer.Option(None, "--keys/--no-keys", help="List the keys of anomalous rows in the "
                                        "manifest (default: only at scale <= 0.02)."),
    replace: bool = typer.Option(False, "--replace", help="Drop existing legacy tables in the database first."),
) -> None:
    """Generate a synthetic legacy SafeStats database and its ground-truth manifest."""
    st = state(ctx)
    result = api.generate_legacy(url, scale, seed, manifest, console=st.console, keys=keys, replace=replace)
    st.console.table(
        f"legacy database {result.url} ({result.engine}, scale {result.scale:g}, seed {result.seed})",
        ["table", "rows", "rows with anomalies", "anomaly kinds present"],
        [[name, f"{n:,}", f"{result.rows_with_anomalies[name]:,}", str(result.anomaly_kinds[name])]
         for name, n in result.rows.items()]
        + [["total", f"{sum(result.rows.values()):,}", f"{sum(result.rows_with_anomalies.values()):,}", ""]],
    )
    keys_note = "with the keys of anomalous rows" if result.keys_recorded else "counts only"
    st.console.info(f"manifest ({keys_note}): {result.manifest_path}")


@app.command("advance")
def advance_cmd(
    ctx: typer.Context,
    url: str = typer.Option(..., "--url", help="The legacy database to move on (as for generate; no password in "
                            "the URL: use the environment)."),
    days: int = typer.Option(..., "--days", help="Days of legacy activity to simulate after the latest data."),
    seed: int = typer.Option(..., "--seed", help="Same database state, seed and days give the same changes."),
    manifest: Path | None = typer.Option(None, "--manifest", help="The manifest of this database (default for "
                                            "SQLite: <name>.manifest.json next to the file; required otherwise)."),
) -> None:
    """Simulate days of legacy activity (new batches, revisions, deletes, users) and record them in the manifest."""
    st = state(ctx)
    result = api.advance_legacy(url, days, seed, manifest, console=st.console)
    rows = [[name, f"{c['inserted']:,}", f"{c['revised']:,}", f"{c['deleted']:,}"]
            for name, c in result.changes.items() if any(c.values())]
    st.console.table(
        f"legacy database {result.url} ({result.engine}) advanced {result.first_day} – {result.last_day} "
        f"(seed {result.seed})",
        ["table", "inserted", "revised in place", "deleted"],
        rows + [["total", *(f"{sum(c[k] for c in result.changes.values()):,}"
                            for k in ("inserted", "revised", "deleted"))]],
    )
    notes = [f"{result.batches} new import batches"]
    if result.journal_mode:
        notes.append(f"SQLite journal mode {result.journal_mode}")
    if not result.anomalies_exact:
        notes.append("anomaly counts no longer exact (the manifest lists no keys)")
    st.console.info(f"manifest {result.manifest_path}: {'; '.join(notes)}")
