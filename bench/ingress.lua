-- wrk script: replays pre-signed requests, one line each: delivery \t timestamp \t sig \t body.
-- Threads take disjoint slices so every request is a new event (a real ledger insert).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local i = 0

function init(args)
  local file, path, nthreads = args[1], args[2], tonumber(args[3])
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == tid then
      local d, ts, sig, body = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["X-MLflow-Delivery-Id"] = d,
        ["X-MLflow-Timestamp"] = ts,
        ["X-MLflow-Signature"] = sig,
      }, body)
    end
    n = n + 1
  end
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
