#!/usr/bin/env bash
# record-orders.sh - recordOrder + loyalty points throughput on PostgreSQL: N concurrent clients
# each record new orders (every order earns points, enrolling customers on their first) for 1,000
# customers, then checks that every order earned exactly once and every balance equals its ledger.
# Usage: scripts/bench/record-orders.sh [CONNECTIONS=32] [SECONDS=20]   (needs wrk and a release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
conns="${1:-32}"; secs="${2:-20}"
db=vafa_bench_orders; port=8391
export VAFA_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
export VAFA_JWT_SECRET="$(head -c 48 /dev/urandom | base64)" VAFA_ACCESS_TOKEN_TTL=3600
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
bin=target/release/vafa
$bin migrate >/dev/null
$bin create-workspace --slug bench --name Bench --currency EUR >/dev/null
head -c 24 /dev/urandom | base64 | $bin create-user --workspace bench --email bench@example.com --role admin >/dev/null
tmp="$(mktemp -d)"; trap 'kill $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
target/release/vafa-gen customers --rows 1000 > "$tmp/customers.csv"
$bin import customers "$tmp/customers.csv" --workspace bench >/dev/null
psql -qAt -h 127.0.0.1 -U postgres -d $db -c "SELECT id FROM customer" > "$tmp/customers.txt"
export GQL_AUTH="$($bin issue-token --workspace bench --email bench@example.com)"
VAFA_LOG=warn $bin serve --bind 127.0.0.1:$port >"$tmp/server.log" 2>&1 & server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
cpu() { awk '{print $14+$15}' /proc/$server/stat; }
before=$(cpu)
CUSTOMERS_FILE="$tmp/customers.txt" wrk -t 2 -c "$conns" -d "${secs}s" --timeout 10s \
  -s scripts/bench/record-order.lua "http://127.0.0.1:$port/graphql"
after=$(cpu)
orders=$(psql -qAt -h 127.0.0.1 -U postgres -d $db -c "SELECT count(*) FROM orders")
echo "server CPU: $(( (after - before) * 10 )) ms for $orders orders"
psql -qAt -h 127.0.0.1 -U postgres -d $db -c "
  SELECT 'orders without exactly one earning: ' || count(*) FROM orders o
    WHERE (SELECT count(*) FROM points_transaction t WHERE t.order_id = o.id AND t.kind = 'EARN_PURCHASE') <> 1;
  SELECT 'accounts whose balance differs from the ledger: ' || count(*) FROM loyalty_account a
    WHERE a.points_balance <> (SELECT coalesce(sum(points), 0) FROM points_transaction t WHERE t.account_id = a.id AND NOT t.pending);"
