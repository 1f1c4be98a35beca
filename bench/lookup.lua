-- wrk script for bench/lookup.py.
--   wrk ... http://127.0.0.1:PORT -s bench/lookup.lua -- PATH_PREFIX [LINES_FILE]
-- Each request is PATH_PREFIX followed by a random line of LINES_FILE (already URL-encoded),
-- or PATH_PREFIX alone. The Authorization header comes from wrk's -H option.
-- done() prints one machine-readable line: BENCH_JSON {...} (latencies in microseconds).

local lines = {}
local prefix = "/"

function init(args)
  prefix = args[1] or "/"
  if args[2] ~= nil then
    for line in io.lines(args[2]) do
      if #line > 0 then
        lines[#lines + 1] = line
      end
    end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000) + #lines)
end

function request()
  if #lines > 0 then
    return wrk.format(nil, prefix .. lines[math.random(#lines)])
  end
  return wrk.format(nil, prefix)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
