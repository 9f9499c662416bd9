-- Sends pre-generated, signed POSTs read from a record file (see bench/records.py).
-- Arguments: <file> <first> <last> <threads> [<close every>]. Records first..last-1 are dealt out
-- to the threads in turn, so no two requests of one run carry the same MsgId unless a thread runs
-- out and starts over. With <close every> N, one request in N asks the server to close its
-- connection ("Connection: close") and wrk opens a new one, as nginx does after an upstream
-- connection's keepalive_requests: each connection is accepted anew by whichever worker is free.
-- done() prints one line, "BENCH {json}", that bench/load.py reads.

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local requests = {}
local closing = {}
local close_every = 0
local sent = 0
local position = 0
local wrapped = 0

function init(args)
  local path, first, last = args[1], tonumber(args[2]), tonumber(args[3])
  local stride = tonumber(args[4])
  close_every = tonumber(args[5] or "0")
  local handle = assert(io.open(path, "rb"))
  local data = handle:read("*a")
  handle:close()
  local headers = { ["Content-Type"] = "text/xml" }
  local pos, index = 1, 0
  while pos <= #data and index < last do
    local newline = data:find("\n", pos, true)
    local target, length = data:sub(pos, newline - 1):match("^([^\t]+)\t(%d+)\t")
    length = tonumber(length)
    if index >= first and (index - first) % stride == thread_index then
      local body = data:sub(newline + 1, newline + length)
      requests[#requests + 1] = wrk.format("POST", target, headers, body)
      if close_every > 0 then
        local last_one = { ["Content-Type"] = "text/xml", ["Connection"] = "close" }
        closing[#closing + 1] = wrk.format("POST", target, last_one, body)
      end
    end
    pos = newline + length + 1
    index = index + 1
  end
  assert(#requests > 0, "no requests for this thread")
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
    wrapped = wrapped + 1
  end
  sent = sent + 1
  if close_every > 0 and sent % close_every == 0 then
    return closing[position]
  end
  return requests[position]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,'
      .. '"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
