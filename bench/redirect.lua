-- wrk script of bench/bench_redirect.py (see bench/loadgen.py run_wrk):
--
--   wrk -t1 -c16 -d3s -s bench/redirect.lua http://127.0.0.1:PORT -- PATHS_FILE THREADS CLIENTS
--
-- Cycles through the request paths in PATHS_FILE (one per line: a fixed, pre-generated list, e.g.
-- codes drawn from a Zipf distribution), each thread from its own offset, and prints one line of
-- JSON starting with "BENCH " at the end for the Python side to parse (latencies in microseconds).
-- The request for line i says X-Forwarded-For: one of CLIENTS addresses, the same one
-- bench/loadgen.py client_address(i) gives (198.18.x.y: a client behind our load balancer).

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

local requests = {}
local position = 0

function init(args)
  local clients = tonumber(args[3]) or 4096
  for line in io.lines(args[1]) do
    if line ~= "" then
      local n = #requests % clients
      local client = string.format("198.18.%d.%d", math.floor(n / 256), n % 256)
      -- formatted once here, not per request: wrk's own cost stays out of the measurement
      requests[#requests + 1] = wrk.format("GET", line, { ["X-Forwarded-For"] = client })
    end
  end
  local thread_count = tonumber(args[2]) or 1
  position = math.floor(#requests * thread_number / thread_count)
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "status_errors": %d, "connect": %d, '
      .. '"read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max
  ))
end
