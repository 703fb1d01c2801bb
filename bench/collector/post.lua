-- wrk script: POST the bodies of WRK_BODIES (one JSON document per line) in turn to WRK_PATH,
-- with the write key WRK_KEY. Used by bench/collector/load.py.
local bodies = {}
for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
local path = os.getenv("WRK_PATH")
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_KEY")

request = function()
  i = i % #bodies + 1
  return wrk.format(nil, path, nil, bodies[i])
end

done = function(summary, latency, requests)
  io.write(string.format("STATUS non2xx=%d errors=%d\n", summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in pairs({50, 90, 99, 99.9}) do
    io.write(string.format("LATENCY p%s=%.3f\n", p, latency:percentile(p) / 1000.0))
  end
  io.write(string.format("TOTAL requests=%d seconds=%.3f\n", summary.requests, summary.duration / 1e6))
end
