#!/usr/bin/env bash
# bench/serve.sh: load benchmark of `geoloc serve` with wrk.
#
# usage: bench/serve.sh [BUILD_DIR]      (default ./build; nothing is built here)
#
# Starts BUILD_DIR/geoloc serve --port 0 --ready-file F (plus $SERVE_ARGS),
# then runs wrk (Debian package wrk) with bench/serve_post.lua, which POSTs
# share/geoloc/example.jpg to /v1/locate (three crops, the server's default),
# for DURATION seconds at each number of connections in CONNECTIONS, with
# --timeout 60s. For each it prints photos/s (2xx answers per second), p50 and
# p99 latency, errors (non-2xx answers + socket errors) and the server's RSS
# after the run (RSS before the first run too); then the mean batch size from
# GET /metrics. After stopping the server (SIGTERM) it runs
# `geoloc bench nn --arch resnet50 --batch 32 --mode infer` and prints the
# target: photos/s at three crops >= 80% of (batch-32 images/s) / 3.
#
# Environment:
#   DURATION=60  CONNECTIONS="1 8 64"  SERVE_ARGS=""  (e.g. "--batch 16 --threads 2")
#   QUERY=""     (added to /v1/locate, e.g. "crops=center")
#   PHOTO=share/geoloc/example.jpg   NN_ITERS=5 NN_WARMUP=1   READY_TIMEOUT=180
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-./build}
geoloc=$build/geoloc
duration=${DURATION:-60}
connections=${CONNECTIONS:-1 8 64}
photo=${PHOTO:-$root/share/geoloc/example.jpg}
ready_timeout=${READY_TIMEOUT:-180}

die() { echo "bench/serve.sh: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
[ -x "$geoloc" ] || die "no geoloc binary in $build"
"$geoloc" serve --help >/dev/null 2>&1 || die "$geoloc has no 'serve' command"
[ -r "$photo" ] || die "cannot read $photo"

tmp=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -TERM "$server"; wait "$server"; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# field KEY LINE: the value of KEY=... in a result line
field() { printf '%s\n' "$2" | awk -v k="$1=" '{ for (i = 1; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }'; }
# rss_mib PID: the process's resident set (VmRSS) in MiB
rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo n/a; }

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# shellcheck disable=SC2086  # SERVE_ARGS is a list of options
"$geoloc" serve --port 0 --ready-file "$tmp/ready" ${SERVE_ARGS:-} >"$tmp/server.out" 2>"$tmp/server.err" &
server=$!
for _ in $(seq $((ready_timeout * 10))); do
    [ -s "$tmp/ready" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$tmp/server.err" >&2; server=; die "the server exited before it was ready"; }
    sleep 0.1
done
port=$(grep -o -m 1 '[0-9]\+' "$tmp/ready")
[ -n "$port" ] || die "the server was not ready after ${ready_timeout}s"
url="http://127.0.0.1:$port/v1/locate${QUERY:+?$QUERY}"
code=$(curl -s -o "$tmp/first.json" -w '%{http_code}' -H 'Content-Type: image/jpeg' --data-binary "@$photo" "$url")
[ "$code" = 200 ] || die "POST $url answered $code: $(head -c 300 "$tmp/first.json")"
echo "server: pid $server, port $port, ${SERVE_ARGS:-default options}; first answer: $(head -c 160 "$tmp/first.json")"
rss_before=$(rss_mib "$server")

rows=()
best=0
for c in $connections; do
    threads=$((c < 2 ? c : 2))
    echo "== $c connection(s), ${duration}s"
    GEOLOC_BENCH_PHOTO=$photo wrk -t "$threads" -c "$c" -d "${duration}s" --timeout 60s \
        -s "$root/bench/serve_post.lua" "$url" >"$tmp/wrk.out" 2>&1
    line=$(grep -m 1 '^wrk-result ' "$tmp/wrk.out")
    [ -n "$line" ] || { cat "$tmp/wrk.out" >&2; die "wrk printed no result"; }
    echo "$line"
    req=$(field requests "$line"); secs=$(field duration_s "$line")
    non2xx=$(field non2xx "$line"); sock=$(field socket_errors "$line")
    pps=$(awk -v r="$req" -v e="$non2xx" -v s="$secs" 'BEGIN { printf "%.2f", (s > 0 ? (r - e) / s : 0) }')
    best=$(awk -v a="$pps" -v b="$best" 'BEGIN { print (a > b ? a : b) }')
    rows+=("| $c | $pps | $(field p50_ms "$line") | $(field p99_ms "$line") | $((non2xx + sock)) | $(rss_mib "$server") |")
done

curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics"
mean_batch=$(awk '/^geoloc_batch_photos_sum / { s = $2 } /^geoloc_batch_photos_count / { n = $2 }
                  END { if (n > 0) printf "%.2f", s / n; else print "n/a" }' "$tmp/metrics")
kill -TERM "$server"
wait "$server"
rc=$?
server=
echo "server stopped by SIGTERM: exit $rc"

nn=$(OMP_NUM_THREADS=$(nproc) "$geoloc" bench nn --arch resnet50 --batch 32 --mode infer \
        --iters "${NN_ITERS:-5}" --warmup "${NN_WARMUP:-1}" 2>&1 | grep -m 1 '^bench nn: ')
echo "${nn:-geoloc bench nn failed}"
ips=$(field 'images/s' "$nn")
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "| connections | photos/s | p50 ms | p99 ms | errors | server RSS MiB after |"
echo "|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do printf '%s\n' "$r"; done
echo
echo "server RSS before the runs: $rss_before MiB; mean network batch: $mean_batch photos"
if [ -n "$ips" ]; then
    awk -v b="$best" -v i="$ips" 'BEGIN {
        ceiling = i / 3; target = 0.8 * ceiling
        printf "batch-32 images/s: %.2f -> ceiling at three crops %.2f photos/s, target (80%%) %.2f\n", i, ceiling, target
        printf "best photos/s: %.2f = %.0f%% of the ceiling: %s\n", b, 100 * b / ceiling, (b >= target ? "target met" : "target NOT met")
    }'
fi
