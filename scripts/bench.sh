#!/usr/bin/env bash
# make bench: time every stage of a full migration of a generated legacy database against
# a raw PostgreSQL COPY of the same number of rows, with the peak memory of the migration's
# own process tree.  BENCH_SCALE (default 0.1), BENCH_SEED (42); BENCH_MARIADB=1 adds the
# MariaDB-over-pyodbc figure (BENCH_MARIADB_SCALE, default 0.02); BENCH_MEMORY=1 compares
# the peak memory at scales 0.05 and 0.2.  Figures also go to bench-out/bench-<time>.json.
# See runbooks/benchmark.md.
set -euo pipefail
BIN=${BIN:-.venv/bin}
cd "$(dirname "$0")/.."
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
exec "$BIN/python" scripts/bench.py --scale "${BENCH_SCALE:-0.1}" --seed "${BENCH_SEED:-42}" "$@"
