-- wrk script: POST a small Pod with generateName, so every request creates a new object.
-- Used by create-throughput.sh; counts non-201 answers so a benchmark never hides errors.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"bench-","labels":{"app":"bench"}},' ..
  '"spec":{"containers":[{"name":"app","image":"registry.k8s.io/pause:3.9",' ..
  '"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}'

local failures = 0
function response(status, headers, body)
  if status ~= 201 then
    failures = failures + 1
    if failures <= 3 then io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  io.write(string.format("creates/s: %.0f  p50: %.2f ms  p99: %.2f ms  non-2xx: %d  errors: %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
