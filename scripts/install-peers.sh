#!/usr/bin/env bash
# make bench-peers: install the tools the police stage is compared with (issue 15), OUTSIDE the
# project's dependencies: pgloader from Debian's packages; dlt, and Sling's binary wheel, into a
# virtualenv of their own, $PEERS_VENV (default .venv-peers).  Nothing here touches .venv or
# pyproject.toml, so `make bench` never needs any of it.  A tool already in place is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PEERS_VENV=${PEERS_VENV:-.venv-peers}
# pinned so that the figures in runbooks/benchmark.md stay comparable from run to run
DLT_VERSION=${DLT_VERSION:-1.31.0}
SLING_VERSION=${SLING_VERSION:-1.4.11}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "install-peers: root or sudo is needed for: $*" >&2; return 1; fi
}
# pip's warnings about the machine's unreachable extra indexes are noise; its errors are not
pip_quiet() { "$PEERS_VENV/bin/python" -m pip install -q "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }

if ! command -v pgloader >/dev/null; then
  echo "install-peers: pgloader (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgloader >/dev/null
fi
# sed reads to the end: `head` would close the pipe and SBCL dies of SIGPIPE (seen under make)
pgloader --version 2>&1 | sed -n 1p

[ -x "$PEERS_VENV/bin/python" ] || "$PYTHON" -m venv "$PEERS_VENV"
if ! "$PEERS_VENV/bin/python" -c "import dlt, pyarrow, psycopg2, sqlalchemy" 2>/dev/null; then
  echo "install-peers: dlt $DLT_VERSION into $PEERS_VENV"
  pip_quiet --upgrade pip
  pip_quiet "dlt[postgres,sql_database,parquet]==$DLT_VERSION" pyarrow sqlalchemy psycopg2-binary
fi
"$PEERS_VENV/bin/python" -c "import dlt; print('dlt', dlt.__version__)"

# Sling: the `sling` package only downloads its binary at first use, which these machines
# cannot do; its per-platform wheel carries the binary.  Only x86-64 Linux has one recent enough;
# elsewhere Sling is left out (bench_peers.py says so in its output) rather than failing the bench.
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
  if ! ls "$PEERS_VENV"/lib/python*/site-packages/sling_linux_amd64/bin/sling-linux-amd64 >/dev/null 2>&1; then
    echo "install-peers: Sling $SLING_VERSION (binary wheel) into $PEERS_VENV"
    pip_quiet "sling-linux-amd64==$SLING_VERSION"
  fi
  "$PEERS_VENV"/lib/python*/site-packages/sling_linux_amd64/bin/sling-linux-amd64 --version | sed 's/^/sling /'
else
  echo "install-peers: no Sling binary wheel for $(uname -s)-$(uname -m); Sling is left out"
fi
