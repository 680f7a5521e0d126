#!/usr/bin/env bash
# Start a PostgreSQL server for the governed hub's tests, from Debian's postgresql package, and
# print the URL of a role that may create databases (each test creates and drops its own).
# Needs root or passwordless sudo and the Debian archive; exits non-zero if it cannot.
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
    as_postgres() { su postgres -s /bin/sh -c "$*"; }
else
    as_root() { sudo -n "$@"; }
    as_postgres() { sudo -n -u postgres sh -c "$*"; }
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version  *main "; then
    as_root pg_createcluster "$version" main >&2
fi
as_root pg_ctlcluster "$version" main start >&2 || true # "already running" is fine
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
done
as_postgres "psql -q -v ON_ERROR_STOP=1 -d postgres" >&2 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'modeltrust') THEN
    CREATE ROLE modeltrust LOGIN PASSWORD 'modeltrust' CREATEDB;
  END IF;
END $$;
SQL
echo "postgresql+psycopg://modeltrust:modeltrust@127.0.0.1:5432/postgres"
