#!/usr/bin/env bash
# Runs the whole test suite, every database test on SQLite and on PostgreSQL.
#
# PostgreSQL comes from, in order: $VAFA_TEST_POSTGRES_URL; the server on 127.0.0.1:5432 when
# it answers; else a throwaway cluster started here from the machine's PostgreSQL binaries
# (installed from Debian's packages if missing) and removed on exit.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

start_throwaway_cluster() {
  local bin port=55432
  bin="$(pg_bin)"
  if [ -z "$bin" ]; then
    echo "test.sh: no PostgreSQL binaries; installing them" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin="$(pg_bin)"
  fi
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vafa-test-pg.XXXXXX")"
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PG_DIR -c fsync=off -c max_connections=200" >/dev/null
  trap '"${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"' EXIT
  VAFA_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "test.sh: started a throwaway PostgreSQL on 127.0.0.1:$port" >&2
}

if [ -z "${VAFA_TEST_POSTGRES_URL:-}" ]; then
  bin="$(pg_bin)"
  if [ -n "$bin" ] && "$bin/pg_isready" -h 127.0.0.1 -p 5432 -U postgres -q; then
    VAFA_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    start_throwaway_cluster
  fi
fi
export VAFA_TEST_POSTGRES_URL

# The CDNOW sample (Fader & Hardie's 2,357 customers) as the lifetimes package ships it on PyPI, for
# the test that reproduces the published BG/NBD and Gamma-Gamma estimates: fetched once, not committed.
cdnow="target/test-data/cdnow_customers_summary_with_transactions.csv"
if [ ! -s "$cdnow" ]; then
  mkdir -p "$(dirname "$cdnow")"
  wheel_dir="$(mktemp -d)"
  if python3 -m pip download lifetimes==0.11.3 --no-deps --quiet --dest "$wheel_dir" >/dev/null 2>&1; then
    python3 - "$wheel_dir" "$cdnow" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("lifetimes/datasets/cdnow_customers_summary_with_transactions.csv"))
PY
  else
    echo "test.sh: could not fetch the CDNOW sample from PyPI; the CDNOW test will fail" >&2
  fi
  rm -rf "$wheel_dir"
fi
export CDNOW_SUMMARY_CSV="$PWD/$cdnow"

cargo test --workspace "$@"
