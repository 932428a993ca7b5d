#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests (loopback only) and
# prints the TEST_POSTGRES_DSN to use. Usage:
#   eval "$(scripts/start-test-postgres.sh)"     # exports TEST_POSTGRES_DSN
# Needs Debian's postgresql package. Data lives under ${PGTEST_DIR:-/tmp/parley-pgtest}.
set -euo pipefail
dir=${PGTEST_DIR:-/tmp/parley-pgtest}
port=${PGTEST_PORT:-55432}
bin=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[[ -n $bin && -x $bin/initdb ]] || { echo "start-test-postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if ! as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  rm -rf "$dir"
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown postgres:postgres "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
fi
echo "export TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
