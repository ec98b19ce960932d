-- wrk script used for every server the harness measures, so every server sees the same client.
--
-- Environment (set by bench/run.py):
--   BENCH_COOKIE    Cookie header value to send; empty or unset sends no cookie
--   BENCH_COOKIES   newline-separated Cookie header values; when set, requests take them in
--                   turn (many sessions instead of one; only with BENCH_CHANGING)
--   BENCH_CHANGING  "1": append ?user=<changing value> to the path on every request, so that a
--                   write route really writes (stores that skip unchanged values still save)
-- The path comes from the URL given to wrk.
-- On exit it prints one line `BENCH_JSON {...}` that the harness parses.

local cookie = os.getenv("BENCH_COOKIE")
local changing = os.getenv("BENCH_CHANGING") == "1"

if cookie ~= nil and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local many = {}
for c in string.gmatch(os.getenv("BENCH_COOKIES") or "", "[^\n]+") do
  table.insert(many, c)
end

if changing then
  local counter = 0
  function request()
    counter = counter + 1
    if #many > 0 then
      wrk.headers["Cookie"] = many[counter % #many + 1]
    end
    return wrk.format(nil, wrk.path .. "?user=u" .. tostring(tid) .. "x" .. tostring(counter))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
