-- bench/serve_post.lua: the wrk script of bench/serve.sh. Every request POSTs
-- one photo (GEOLOC_BENCH_PHOTO, default share/geoloc/example.jpg) as the
-- body, Content-Type image/jpeg (GEOLOC_BENCH_TYPE), to the URL wrk is given
-- (http://HOST:PORT/v1/locate?...). At the end it prints one line:
--   wrk-result requests=N duration_s=S p50_ms=X p99_ms=Y non2xx=A socket_errors=B
local path = os.getenv("GEOLOC_BENCH_PHOTO") or "share/geoloc/example.jpg"
local f = assert(io.open(path, "rb"), "cannot open " .. path)
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("GEOLOC_BENCH_TYPE") or "image/jpeg"

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "wrk-result requests=%d duration_s=%.3f p50_ms=%.1f p99_ms=%.1f non2xx=%d socket_errors=%d\n",
      summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
      latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
