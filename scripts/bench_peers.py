"""`make bench-peers`: the tools people would pick instead of this migration, timed on the
same legacy file in the same run as `make bench` (issue 15).

Each peer copies ``tblMPSCrime`` from the legacy SQLite file into a fresh PostgreSQL database
of its own, with the tool's defaults and no transforms:

* **pgloader** (Debian package): a ``LOAD DATABASE`` command file limited to the one table
  (its defaults: create the table, copy, create its indexes, reset sequences);
* **dlt** (PyPI, in its own virtualenv ``$PEERS_VENV``, never the project's): ``sql_database``
  source → ``postgres`` destination, ``backend="pyarrow"``;
* **Sling**, when its PyPI binary package is installed (``sling-linux-amd64``: the ``sling``
  package itself only downloads its binary at first use, which these machines cannot do).

A peer's seconds are the wall time of its whole process, start-up included (what a person
running the tool waits for); the rows it wrote are counted in the target afterwards and must
equal the legacy rows, or the peer counts as failed.  The 1-minute load average before, at most
during and after each peer is kept beside its figure: the machines have two cores shared with
whatever else runs.

Imported by scripts/bench.py only when ``--peers`` is given, so `make bench` needs none of this.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PEERS_VENV = Path(os.environ.get("PEERS_VENV", str(REPO / ".venv-peers")))
#: the issue's target: the police stage, all transforms, ≥ 0.75 × pgloader in the same run
TARGET_OURS_VS_PGLOADER = 0.75
TABLE = "tblMPSCrime"

# run inside $PEERS_VENV's Python: the dlt pipeline with every default but the backend
DLT_SCRIPT = r'''
import json, sys, time
import dlt
from dlt.sources.sql_database import sql_database

source_url, pg_url, pipelines_dir, result = sys.argv[1:5]
# dlt insists on a password; the project machines' PostgreSQL trusts loopback connections and
# ignores one, so a placeholder stands in when the URL has none
if "@" in pg_url and ":" not in pg_url.split("//", 1)[1].split("@", 1)[0]:
    pg_url = pg_url.replace("@", ":unused@", 1)
t0 = time.perf_counter()
source = sql_database(credentials=source_url, table_names=["tblMPSCrime"], backend="pyarrow")
pipeline = dlt.pipeline(pipeline_name="bench_peer_dlt", pipelines_dir=pipelines_dir,
                        destination=dlt.destinations.postgres(credentials=pg_url), dataset_name="peer")
info = pipeline.run(source)
seconds = time.perf_counter() - t0
info.raise_on_failed_jobs()
with open(result, "w") as f:
    json.dump({"pipeline_seconds": seconds, "dlt": dlt.__version__}, f)
'''


def log(msg: str) -> None:
    print(f"[bench-peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class PeerError(Exception):
    """A peer could not run (not installed, failed, or wrote the wrong number of rows)."""


def sling_binary() -> Path | None:
    """The Sling binary shipped inside the ``sling-linux-amd64`` wheel, when installed."""
    if os.environ.get("SLING_BINARY"):
        return Path(os.environ["SLING_BINARY"])
    found = sorted(PEERS_VENV.glob("lib/python*/site-packages/sling_linux_amd64/bin/sling-linux-amd64"))
    return found[0] if found else None


def peer_commands(source: Path, pg_url: str, workdir: Path) -> dict[str, Any]:
    """The command each peer runs: (argv, env additions), or a reason it cannot run."""
    peers: dict[str, Any] = {}
    pgloader = shutil.which("pgloader")
    if pgloader:
        load = workdir / "pgloader.load"
        load.write_text(f"LOAD DATABASE\n  FROM sqlite://{source}\n  INTO {pg_url}\n"
                        f"  INCLUDING ONLY TABLE NAMES LIKE '{TABLE}';\n", encoding="utf-8")
        peers["pgloader"] = ([pgloader, "--root-dir", str(workdir / "pgloader"), str(load)], {})
    else:
        peers["pgloader"] = "pgloader is not installed (scripts/install-peers.sh)"
    py = PEERS_VENV / "bin" / "python"
    if py.exists():
        script = workdir / "dlt_peer.py"
        script.write_text(DLT_SCRIPT, encoding="utf-8")
        # telemetry off: these machines have no network but the package registries, and a
        # pipeline must not wait on a connection that cannot be made
        peers["dlt"] = ([str(py), str(script), f"sqlite:///{source}", pg_url,
                         str(workdir / "dlt-pipelines"), str(workdir / "dlt-result.json")],
                        {"RUNTIME__DLTHUB_TELEMETRY": "false"})
    else:
        peers["dlt"] = f"no virtualenv {PEERS_VENV} with dlt (scripts/install-peers.sh)"
    sling = sling_binary()
    if sling and sling.exists():
        peers["sling"] = ([str(sling), "run", "--src-conn", "LEGACY", "--src-stream", f"main.{TABLE}",
                           "--tgt-conn", "PEER", "--tgt-object", "public.tblmpscrime", "--mode", "full-refresh"],
                          {"LEGACY": f"sqlite://{source}", "PEER": pg_url,
                           "SLING_HOME_DIR": str(workdir / "sling-home"),
                           "SLING_DISABLE_TELEMETRY": "true"})
    # Sling is optional by the issue ("if its PyPI package brings its binary"): absent = not a peer
    return peers


def count_loaded(dsn: str) -> tuple[str, int]:
    """The table the peer created and its row count (each tool names it its own way:
    pgloader ``tblmpscrime``, dlt ``peer.tbl_mps_crime``)."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
                        "AND replace(lower(c.relname), '_', '') = 'tblmpscrime'")
            names = [r[0] for r in cur.fetchall()]
            if len(names) != 1:
                raise PeerError(f"expected one table named like {TABLE}, found {names or 'none'}")
            cur.execute(f"SELECT count(*) FROM {names[0]}")
            return names[0], int(cur.fetchone()[0])
    finally:
        conn.close()


def run_peer(name: str, argv: list[str], env_add: dict[str, str], workdir: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(env_add)
    logfile = workdir / f"{name}.log"
    load_before = os.getloadavg()
    peak = {"load1": load_before[0]}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak["load1"] = max(peak["load1"], os.getloadavg()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    with open(logfile, "wb") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir, check=False)
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    tail = logfile.read_text(encoding="utf-8", errors="replace")[-2500:]
    if proc.returncode != 0:
        raise PeerError(f"{name} exited {proc.returncode}:\n{tail}")
    return {"seconds": seconds, "loadavg_before": load_before, "load1_max_during": peak["load1"],
            "loadavg_after": os.getloadavg(), "log_tail": tail}


def run_peers(source: Path, copy: dict[str, Any], ours_rows_per_s: float, *, fresh_db: Any, drop_db: Any,
              dsn_of: Any, keep: bool, out_dir: Path) -> tuple[dict[str, Any], list[str], bool]:
    """Every peer in turn, each into a fresh database; returns (figures, printed lines, all ran)."""
    results: dict[str, Any] = {}
    lines: list[str] = []
    ok = True
    workroot = Path(tempfile.mkdtemp(prefix="peers-", dir=out_dir))
    rows_expected = copy["rows"]
    sling = sling_binary()
    names = ["pgloader", "dlt"] + (["sling"] if sling and sling.exists() else [])
    for name in names:
        db = f"safestats_peer_{name}"
        url = fresh_db(db)
        dsn = dsn_of(url)
        pg_url = (f"postgresql://{url.username or 'postgres'}@{url.host or '127.0.0.1'}:{url.port or 5432}/"
                  f"{db}?sslmode=disable")
        workdir = workroot / name
        workdir.mkdir()
        cmd = peer_commands(source, pg_url, workdir)[name]
        try:
            if isinstance(cmd, str):
                raise PeerError(cmd)
            log(f"{name}: loading {TABLE} into {db} (log {workdir / (name + '.log')})")
            r = run_peer(name, cmd[0], cmd[1], workdir)
            table, rows = count_loaded(dsn)
            if rows != rows_expected:
                raise PeerError(f"{name} wrote {rows:,} rows into {table}, the legacy table has {rows_expected:,}")
            rate = rows / r["seconds"]
            r.update(table=table, rows=rows, rows_per_s=rate, ratio_to_copy=rate / copy["rows_per_s"],
                     ours_over_peer=ours_rows_per_s / rate)
            if name == "dlt" and (workdir / "dlt-result.json").exists():
                import json

                r["tool"] = json.loads((workdir / "dlt-result.json").read_text(encoding="utf-8"))
            results[name] = r
            lines.append(f"peer {name} {rate:,.0f} rows/s {r['ratio_to_copy']:.2f} × raw COPY "
                         f"ours÷peer {r['ours_over_peer']:.2f}   ({rows:,} rows in {r['seconds']:,.1f} s, "
                         f"process start-up included; load average {r['loadavg_before'][0]:.2f} before, "
                         f"{r['load1_max_during']:.2f} max during, {r['loadavg_after'][0]:.2f} after)")
            log(lines[-1])
        except PeerError as exc:
            ok = False
            results[name] = {"error": str(exc)}
            lines.append(f"peer {name} FAILED: {str(exc).splitlines()[0]}")
            log(str(exc))
        finally:
            if not keep:
                drop_db(db)
    if "pgloader" in results and "rows_per_s" in results["pgloader"]:
        ratio = ours_rows_per_s / results["pgloader"]["rows_per_s"]
        verdict = "meets" if ratio >= TARGET_OURS_VS_PGLOADER else "MISSES"
        lines.append(f"ours (mps_crime, all transforms) ÷ pgloader (no transforms) = {ratio:.2f} — {verdict} the "
                     f"target of ≥ {TARGET_OURS_VS_PGLOADER}")
    if "sling" not in names:
        lines.append("peer sling not run: no Sling binary (the sling-linux-amd64 wheel) in " + str(PEERS_VENV))
    lines.append(f"(peer logs under {workroot.relative_to(REPO) if workroot.is_relative_to(REPO) else workroot}; "
                 f"{os.cpu_count()} cores shared with whatever else runs on the machine)")
    return results, lines, ok
