#!/usr/bin/env bash
# Installs the system packages this project needs, only those that are missing:
# PostGIS for the running PostgreSQL major version, unixODBC and the MariaDB ODBC driver.
# Safe to run again; does nothing when everything is present.
set -euo pipefail

need=()
pg_major=""
if [ -d /etc/postgresql ]; then
  pg_major=$(ls /etc/postgresql | sort -V | tail -n 1)
fi
if [ -z "$pg_major" ] && command -v pg_config >/dev/null; then
  pg_major=$(pg_config --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')
fi
if [ -n "$pg_major" ] && ! dpkg -s "postgresql-${pg_major}-postgis-3" >/dev/null 2>&1; then
  need+=("postgresql-${pg_major}-postgis-3")
fi
dpkg -s unixodbc >/dev/null 2>&1 || need+=(unixodbc)
dpkg -s odbc-mariadb >/dev/null 2>&1 || need+=(odbc-mariadb)

if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present (PostGIS for PostgreSQL ${pg_major:-?}, unixodbc, odbc-mariadb)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "system packages: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q "${need[@]}" >/tmp/safestats-apt.log 2>&1; then
  $SUDO apt-get update -q >>/tmp/safestats-apt.log 2>&1
  $SUDO apt-get install -y -q "${need[@]}" >>/tmp/safestats-apt.log 2>&1 || {
    echo "could not install ${need[*]} (see /tmp/safestats-apt.log)" >&2; exit 1; }
fi
odbcinst -q -d | grep -q "MariaDB Unicode" || {
  echo "the MariaDB ODBC driver is installed but not registered as 'MariaDB Unicode' (odbcinst -q -d)" >&2; exit 1; }
echo "system packages: done"
