-- record-order.lua - wrk script: each request records a new order (a unique external reference per
-- thread and request) for a random customer, with a bearer token. Env: GQL_AUTH (token),
-- CUSTOMERS_FILE (one customer id per line).
local threads = {}
local customers = {}
for line in io.lines(os.getenv("CUSTOMERS_FILE")) do
  if #line > 0 then table.insert(customers, line) end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("GQL_AUTH")

local query = "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { created order { id } } }"
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  math.randomseed(os.time() + id)
  errors = 0
end

function request()
  counter = counter + 1
  local customer = customers[math.random(#customers)]
  local body = string.format(
    '{"query":"%s","variables":{"input":{"customerId":"%s","externalRef":"bench-%d-%d-%d","amount":"%d.%02d","placedAt":"2026-11-01T10:00:00Z"}}}',
    query:gsub('"', '\\"'), customer, os.time(), thread_id, counter, math.random(5, 300), math.random(0, 99))
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then errors = errors + 1 end
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("errors") end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000, e))
end
