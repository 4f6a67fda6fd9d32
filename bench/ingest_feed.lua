-- The wrk script of bench.ingest (bench/ingest_wrk.py): each request a pre-signed Standard
-- Webhooks delivery of a fresh event, read from a file of lines "id<TAB>timestamp<TAB>signature
-- <TAB>body" made before the clock starts (wrk's Lua has no HMAC). Arguments: the path to POST
-- to and the file. done() prints one JSON line; "wrapped" counts the times a thread ran out of
-- the file and began it again (repeating its events, which a durable receiver answers as
-- duplicates: the bench refuses such a run). Each thread has a Lua state of its own and done()
-- another, so the counts are read from the threads setup() kept.
local deliveries = {}
local n = 0
wrapped = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  for line in io.lines(args[2]) do
    local id, stamp, signature, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    deliveries[#deliveries + 1] = wrk.format("POST", path, {
      ["webhook-id"] = id,
      ["webhook-timestamp"] = stamp,
      ["webhook-signature"] = signature,
      ["content-type"] = "application/json",
    }, body)
  end
end

function request()
  n = n + 1
  if n > #deliveries then
    n = 1
    wrapped = wrapped + 1
  end
  return deliveries[n]
end

function done(summary, latency, requests)
  local wrapped = 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + (thread:get("wrapped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), wrapped))
end
