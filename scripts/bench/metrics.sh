#!/usr/bin/env bash
# metrics.sh - timing of the metric queries over HTTP on 100,000 customers / 1,000,000 orders, and of
# an A/B test over all of them (start once, results RUNS times).
# Imports `vafa-gen orders --rows 1000000 --customers 100000` into a fresh database once (kept in
# $BENCH_DIR for later runs), starts a release server, and times each query RUNS times after one
# warm-up request: prints min, p50 and max in milliseconds (curl's total time, localhost).
# Usage: scripts/bench/metrics.sh sqlite|postgres [RUNS=20]   (needs a release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
backend="${1:?sqlite or postgres}"; runs="${2:-20}"
dir="${BENCH_DIR:-/tmp/vafa-bench-metrics}/$backend"; port=8392
bin=target/release/vafa
export VAFA_DATA_DIR="$dir" VAFA_ACCESS_TOKEN_TTL=3600 VAFA_JOB_INTERVAL_SECS=0 VAFA_SLA_INTERVAL_SECS=0
if [ "$backend" = postgres ]; then
  db=vafa_bench_metrics
  export VAFA_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
  mkdir -p "$dir"; [ -f "$dir/jwt-secret" ] || head -c 48 /dev/urandom | base64 > "$dir/jwt-secret"
  export VAFA_JWT_SECRET="$(cat "$dir/jwt-secret")"
fi
if [ ! -f "$dir/imported" ]; then
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$backend" = postgres ]; then
    head -c 48 /dev/urandom | base64 > "$dir/jwt-secret"; export VAFA_JWT_SECRET="$(cat "$dir/jwt-secret")"
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  fi
  $bin migrate >/dev/null
  $bin create-workspace --slug bench --name Bench --currency EUR --timezone Europe/Berlin >/dev/null
  head -c 24 /dev/urandom | base64 | $bin create-user --workspace bench --email bench@example.com --role admin >/dev/null
  target/release/vafa-gen orders --rows 1000000 --customers 100000 > "$dir/orders.csv"
  /usr/bin/time -f "import: %e s, max RSS %M KiB" $bin import orders "$dir/orders.csv" --workspace bench
  rm "$dir/orders.csv"; touch "$dir/imported"
fi
token="$($bin issue-token --workspace bench --email bench@example.com)"
VAFA_LOG=warn $bin serve --bind 127.0.0.1:$port >"$dir/server.log" 2>&1 & server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done

time_query() {
  local name="$1" body="$2" times=()
  curl -fs -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
    --data "$body" "http://127.0.0.1:$port/graphql"
  for _ in $(seq "$runs"); do
    times+=("$(curl -fs -o /dev/null -w '%{time_total}' -H "authorization: Bearer $token" \
      -H 'content-type: application/json' --data "$body" "http://127.0.0.1:$port/graphql")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" -v backend="$backend" '
    { t[NR] = $1 * 1000 }
    END { printf "%-18s %-8s runs %d  min %.1f ms  p50 %.1f ms  max %.1f ms\n", name, backend, NR, t[1], (NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2), t[NR] }'
}

span='"from": "2024-01-01", "to": "2026-01-01", "granularity": "MONTH"'
time_query retentionMetrics "{\"query\": \"query(\$i: RetentionMetricsInput!) { retentionMetrics(input: \$i) { buckets { startCustomers endCustomers newCustomers retained churned reactivated retention churn crrTextbook orders revenue averageOrderValue purchaseFrequency repeatPurchaseRate } total { retention orders revenue } } }\", \"variables\": {\"i\": {$span}}}"
time_query retention+segment "{\"query\": \"query(\$i: RetentionMetricsInput!) { retentionMetrics(input: \$i) { total { retention orders revenue } } }\", \"variables\": {\"i\": {$span, \"filter\": {\"orderCount\": {\"gte\": 12}}}}}"
time_query cohortRetention "{\"query\": \"query(\$i: CohortRetentionInput!) { cohortRetention(input: \$i) { periodStart size cells { offset customers share revenue } } }\", \"variables\": {\"i\": {$span}}}"
time_query customerValue '{"query": "{ customerValue { customers top20RevenueShare historicalClv annualChurn } }"}'
time_query retention-daily "{\"query\": \"query(\$i: RetentionMetricsInput!) { retentionMetrics(input: \$i) { buckets { retention orders } } }\", \"variables\": {\"i\": {\"from\": \"2024-01-01\", \"to\": \"2026-01-01\", \"granularity\": \"DAY\"}}}"
time_query atRiskCustomers '{"query": "{ atRiskCustomers(first: 50) { totalCount edges { node { customer { name lifecycleStage } score reasons { reason detail } valueAtRisk } } } }"}'

# An A/B test over the whole customer base. The start (one mutation writing 100,000 assignments) is
# timed once; the test and its assignments are then moved back to the generated history's last 30 days
# (2025-11-01 to 2025-12-01) so the results count real orders, and the results query is timed.
gql() {
  curl -fs -w "${2:-}" -H "authorization: Bearer $token" -H 'content-type: application/json' --data "$1" \
    "http://127.0.0.1:$port/graphql"
}
name="bench $(date +%s)"
experiment="$(gql "{\"query\": \"mutation { createExperiment(input: {name: \\\"$name\\\", variants: [{name: \\\"control\\\"}, {name: \\\"offer\\\"}], windowDays: 30}) { experiment { id } } }\"}" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["createExperiment"]["experiment"]["id"])')"
started="$(gql "{\"query\": \"mutation { startExperiment(input: {experimentId: \\\"$experiment\\\", exclusive: false}) { experiment { audienceSize } } }\"}" '\n%{time_total}')"
printf '%-18s %-8s once  %.1f ms  (%s)\n' startExperiment "$backend" "$(echo "$started" | tail -1 | awk '{ print $1 * 1000 }')" "$(echo "$started" | head -1)"
if [ "$backend" = postgres ]; then
  psql -q -h 127.0.0.1 -U postgres -d "$db" -c "UPDATE experiment_assignment SET assigned_at = '2025-11-01T00:00:00Z',
    window_ends_at = '2025-12-01T00:00:00Z' WHERE experiment_id = (SELECT id FROM experiment WHERE name = '$name')" \
    -c "UPDATE experiment SET started_at = '2025-11-01T00:00:00Z' WHERE name = '$name'"
else
  python3 - "$dir/vafa.db" "$name" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ids = "SELECT id FROM experiment WHERE name = ?"
(stamp,) = db.execute(f"SELECT assigned_at FROM experiment_assignment WHERE experiment_id IN ({ids}) LIMIT 1", (sys.argv[2],)).fetchone()
# Keep the stored text format: only the date part changes.
db.execute(f"UPDATE experiment_assignment SET assigned_at = ?, window_ends_at = ? WHERE experiment_id IN ({ids})",
           ("2025-11-01" + stamp[10:], "2025-12-01" + stamp[10:], sys.argv[2]))
db.execute("UPDATE experiment SET started_at = ? WHERE name = ?", ("2025-11-01" + stamp[10:], sys.argv[2]))
db.commit()
PY
fi
time_query experimentResults "{\"query\": \"{ experiment(id: \\\"$experiment\\\") { results { complete variants { customers purchasers orders revenue purchaseRateVsControl { pValue } revenuePerCustomerVsControl { pValue } } } } }\"}"
gql "{\"query\": \"{ experiment(id: \\\"$experiment\\\") { results { variants { name customers purchasers orders revenue } } } }\"}"; echo
