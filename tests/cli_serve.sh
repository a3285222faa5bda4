#!/usr/bin/env bash
# Tests of `geoloc serve` through its HTTP API, with curl.
# usage: cli_serve.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage: --help names every option; --bind beyond loopback without
#   --token-file, --tls-cert without --tls-key, a bad port: exit 2;
# - with the default model (share/geoloc + the ImageNet backbone), a server on
#   --port 0 (port read from --ready-file): the example photo placed in Paris
#   (and named in France when models/places.bin is there),
#   its EXIF position echoed only with exif=1; multipart with 2 files (an array
#   of 2); /v1/model, /v1/cells/TOKEN (a GeoJSON Feature), /healthz, /, /metrics
#   (request counters); errors: empty body 400, truncated JPEG 400, text 415,
#   a PNG claiming 30000x30000 pixels 422, a body over --max-body 413 (a
#   chunked one: its connection closed, libmicrohttpd cannot answer mid-body), 65
#   files 413, 10,000 parts 413 quickly, a 100 KB header 431, unknown path
#   404, wrong method 405; memory (VmRSS) flat over 200 requests (not under
#   ASan, whose quarantine grows by design: its leak check at exit covers it);
#   8 concurrent requests answered in fewer network batches than photos;
#   SIGTERM: a request being uploaded is still answered, a new one gets 503,
#   exit 0;
# - a port in use: exit 1, named;
# - a server on ::1 with --max-connections 4 (a 5th waits for a free one), a
#   2 s --idle-timeout (silent connections closed), --token-file, --rate, a 5 s
#   --request-timeout and --threads 1: 401 without or with a wrong token,
#   /healthz and the page open, a client trickling a byte a second cut off
#   near 5 s, one thread busy with the network, 429 past the burst (6
#   requests, wrong tokens included: guessing the token is rate-limited too);
# - HTTPS with a self-signed certificate (openssl) and curl -k.
# Skipped (exit 77) without curl or the default model.
. "$(dirname "$0")/lib.sh"
test_setup cli_serve "$@"
unset GEOLOC_MODEL GEOLOC_DATA_DIR
here=$(cd "$(dirname "$0")/.." && pwd)
example=$here/share/geoloc/example.jpg

servers=()
trap 'kill -9 "${servers[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT

# ---- usage (no model needed) -----------------------------------------------------
run_geoloc serve --help
for opt in model bind port token-file tls-cert tls-key threads batch batch-wait queue max-connections \
           max-body max-files max-pixels idle-timeout request-timeout rate burst ready-file; do
    check "--help documents --$opt" '[ $rc -eq 0 ] && [[ $out == *"--$opt"* ]]'
done
run_geoloc serve --bind 0.0.0.0
expect_match 2 "--bind 0.0.0.0 reaches beyond this machine: give a --token-file" err "--bind 0.0.0.0 without a token"
run_geoloc serve --bind ::
expect_match 2 "give a --token-file" err "--bind :: without a token"
run_geoloc serve --tls-cert "$tmp/c.pem"
expect_match 2 "--tls-cert and --tls-key go together" err "--tls-cert alone"
mkfifo "$tmp/token.fifo"
run_geoloc serve --port 0 --token-file "$tmp/token.fifo"
expect_match 1 "token.fifo: not a regular file \\(a FIFO\\)" err "a FIFO as --token-file (refused, not waited on)"
run_geoloc serve --port 70000
expect_match 2 "--port must be an integer from 0 to 65535" err "bad port"
run_geoloc serve --bind not-a-host.invalid
expect_match 2 "--bind not-a-host.invalid: not an address" err "a host name is no bind address"

command -v curl >/dev/null || skip_rest "curl not found: the API checks are skipped"
if [ ! -e "$here/models/resnet50-imagenet.safetensors" ] || [ ! -e "$here/share/geoloc/geoloc-default.safetensors" ]; then
    skip_rest "default model or ImageNet backbone absent (./setup.sh): the API checks are skipped"
fi

# start_server NAME ARGS...: starts geoloc serve --port 0 in the background
# (stderr in $tmp/NAME.err); sets pid and port once it listens.
start_server() {
    local name=$1
    shift
    rm -f "$tmp/$name.port"
    "$geoloc" serve --port 0 --ready-file "$tmp/$name.port" "$@" 2>"$tmp/$name.err" &
    pid=$!
    servers+=("$pid")
    for _ in $(seq 600); do
        [ -s "$tmp/$name.port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    port=$(cat "$tmp/$name.port" 2>/dev/null)
    if [ -z "$port" ]; then
        fail "$name: the server did not start: $(cat "$tmp/$name.err")"
        finish
    fi
}

# stop_server PID: SIGTERM, then its exit status in stop_rc.
stop_server() {
    kill -TERM "$1"
    wait "$1"
    stop_rc=$?
}

# req ARGS...: curl ARGS; sets code (HTTP status) and body.
req() {
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$@")
    body=$(cat "$tmp/body" 2>/dev/null)
}

# expect_status NAME CODE [PATTERN]: the last req answered CODE (and PATTERN,
# grep -E, is in its body).
expect_status() {
    if [ "$code" != "$2" ]; then
        fail "$1: HTTP $code, expected $2 (body: ${body:0:300})"
    elif [ -n "${3:-}" ] && ! grep -qE -- "$3" <<<"$body"; then
        fail "$1: '$3' not in the body: ${body:0:300}"
    else
        pass
    fi
}

# py CODE ARGS...: python3 CODE with $body on stdin; passes when it exits 0.
py() { python3 -c "$1" "${@:2}" <<<"$body"; }

# ---- server A: the API and its errors ------------------------------------------------
start_server a --max-body 4000000
url=http://127.0.0.1:$port

req -H 'Content-Type: image/jpeg' --data-binary @"$example" "$url/v1/locate"
expect_status "POST the example" 200
check "the example is placed in Paris" 'py "
import json, math, sys
a = json.load(sys.stdin)
assert abs(a[\"lat\"] - 48.857833) < 0.5 and abs(a[\"lon\"] - 2.297) < 0.7, a
assert a.get(\"exif\") is None, \"EXIF echoed without exif=1\"
"'
if [ -f "$here/models/places.bin" ]; then
    check "the answer's place: France" 'py "
import json, sys
p = json.load(sys.stdin)[\"place\"]
assert p[\"country_code\"] == \"FR\" and p[\"country\"] == \"France\" and p[\"city\"] and p[\"city_km\"] < 50, p
"'
fi
check "no EXIF position without exif=1" '! grep -q "48.857833" <<<"$body"'
cell=$(py 'import json, sys; print(json.load(sys.stdin)["cell"])')
req -H 'Content-Type: image/jpeg' --data-binary @"$example" "$url/v1/locate?exif=1&top=3"
expect_status "POST the example with exif=1&top=3" 200
check "exif=1 echoes the EXIF position, top=3 gives 3 cells" 'py "
import json, sys
a = json.load(sys.stdin)
assert abs(a[\"exif\"][\"lat\"] - 48.857833) < 1e-5 and len(a[\"top\"]) == 3, a
"'
req -F "a=@$example;type=image/jpeg" -F "b=@$example;type=image/jpeg" "$url/v1/locate"
expect_status "multipart with 2 files" 200
check "multipart: an array of 2 answers" 'py "
import json, sys
a = json.load(sys.stdin)
assert isinstance(a, list) and len(a) == 2 and all(abs(x[\"lat\"] - 48.86) < 0.5 for x in a), a
"'
req "$url/v1/locate?album=1" --data-binary @"$example" -H 'Content-Type: image/jpeg'
expect_status "album=1" 400 'albums are not available'

req "$url/v1/model"
expect_status "GET /v1/model" 200
check "/v1/model: backbone, image size, partitions" 'py "
import json, sys
m = json.load(sys.stdin)
assert m[\"image_size\"] == 224 and m[\"partitions\"] and m[\"partitions\"][0][\"cells\"] > 0, m
"'
req "$url/v1/cells/$cell"
expect_status "GET /v1/cells/$cell" 200
check "/v1/cells: a GeoJSON Feature around its center" 'py "
import json, sys
f = json.load(sys.stdin)
assert f[\"type\"] == \"Feature\" and f[\"geometry\"][\"type\"] in (\"Polygon\", \"MultiPolygon\"), f
p = f[\"properties\"]
assert p[\"token\"] == sys.argv[1] and p[\"level\"] == 9 and abs(p[\"lat\"] - 48.9) < 0.5, p
ring = f[\"geometry\"][\"coordinates\"][0]
assert ring[0] == ring[-1] and len(ring) >= 5
" "$cell"'
req "$url/v1/cells/zzz"
expect_status "a cell token that is none" 404 '"error"'
req "$url/healthz"
expect_status "GET /healthz" 200 '^\{"status": ?"ok"\}$'
req "$url/"
expect_status "GET / (the map page)" 200 '<html'
check "GET /: HTML" '[ "$(curl -s -o /dev/null -w "%{content_type}" "$url/")" = "text/html; charset=utf-8" ]'

# errors
req -H 'Content-Type: image/jpeg' --data-binary @/dev/null "$url/v1/locate"
expect_status "empty body" 400 '"error"'
head -c 300 "$example" >"$tmp/truncated.jpg"
req -H 'Content-Type: image/jpeg' --data-binary @"$tmp/truncated.jpg" "$url/v1/locate"
expect_status "truncated JPEG" 400 '"error"'
req -H 'Content-Type: text/plain' --data-binary 'hello, this is no photo' "$url/v1/locate"
expect_status "text" 415 '"error"'
python3 - "$tmp/bomb.png" <<'EOF'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
idat = zlib.compress(b"\0" * (1 + 3 * 30000) * 4)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
EOF
req -H 'Content-Type: image/png' --data-binary @"$tmp/bomb.png" "$url/v1/locate"
expect_status "PNG claiming 30000x30000" 422 '"error"'
head -c 5000000 /dev/zero >"$tmp/big.bin"
req -H 'Content-Type: image/jpeg' --data-binary @"$tmp/big.bin" "$url/v1/locate"
expect_status "body over --max-body" 413 'over the limit of 4000000 bytes'
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' -H 'Content-Type: image/jpeg' \
       --data-binary @"$tmp/big.bin" "$url/v1/locate")
check "a chunked body over --max-body: its connection closed unanswered (HTTP $code)" '[ "$code" = 000 ] || [ "$code" = 100 ]'
# multipart bodies made by hand: N parts of a file
multipart() {
    python3 - "$@" <<'EOF'
import sys
n, src, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = open(src, "rb").read() if src != "-" else b"x"
parts = [b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"f%d\"; filename=\"p%d.jpg\"\r\n"
         b"Content-Type: image/jpeg\r\n\r\n" % (k, k) + data + b"\r\n" for k in range(n)]
open(out, "wb").write(b"".join(parts) + b"--BOUNDARY--\r\n")
EOF
}
multipart 65 "$example" "$tmp/65.body"
req -H 'Content-Type: multipart/form-data; boundary=BOUNDARY' --data-binary @"$tmp/65.body" "$url/v1/locate"
expect_status "65 files" 413 '"error"'
multipart 10000 - "$tmp/10000.body"
t0=$(date +%s%N)
req -H 'Content-Type: multipart/form-data; boundary=BOUNDARY' --data-binary @"$tmp/10000.body" "$url/v1/locate"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "10,000-part body refused in $ms ms"
expect_status "10,000 parts" 413 '"error"'
check "10,000 parts refused quickly ($ms ms)" '[ $ms -lt 5000 ]'
req -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' x)" "$url/healthz"
check "a 100 KB header: 431 (HTTP $code)" '[ "$code" = 431 ]'
req "$url/v2/nothing"
expect_status "unknown path" 404 '"error"'
req -X POST --data-binary x "$url/nothing"
expect_status "POST to an unknown path" 404 '"error"'
req "$url/v1/locate"
expect_status "GET /v1/locate" 405 '"error"'
req -X DELETE "$url/v1/model"
expect_status "DELETE /v1/model" 405 '"error"'
req "$url/metrics"
expect_status "GET /metrics" 200
check "/metrics counts the requests by status" 'grep -qE "^geoloc_requests_total\{.*code=\"413\".*\} [1-9]" <<<"$body" && grep -qE "^geoloc_requests_total\{.*code=\"200\".*\} [1-9]" <<<"$body"'
check "the access log names method, path, status (never the query)" 'grep -q "^POST /v1/locate 413 " "$tmp/a.err" && ! grep -q "exif=1" "$tmp/a.err"'

run_geoloc serve --port "$port"
expect_match 1 "cannot listen on 127.0.0.1:$port \(the port in use" err "a port in use"

# memory flat: VmRSS after a warm-up, then after 200 more requests
if ldd "$geoloc" 2>/dev/null | grep -q libasan; then
    echo "ASan build: VmRSS check skipped (its quarantine grows by design; LeakSanitizer checks at exit)"
else
    rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
    for _ in $(seq 20); do curl -s -o /dev/null -H 'Content-Type: image/jpeg' --data-binary @"$example" "$url/v1/locate"; done
    before=$(rss)
    for _ in $(seq 100); do
        curl -s -o /dev/null -H 'Content-Type: image/jpeg' --data-binary @"$example" "$url/v1/locate"
        curl -s -o /dev/null "$url/v1/cells/$cell"
    done
    after=$(rss)
    echo "VmRSS after a warm-up of 20 requests: $before kB; after 200 more: $after kB"
    check "VmRSS flat over 200 requests (${before} kB -> ${after} kB)" '[ $((after - before)) -lt 20000 ]'
fi

# concurrent requests share network batches: 8 at once, fewer batches than photos
batches() { curl -s "$url/metrics" | awk '/^geoloc_batch_photos_(sum|count) / {printf "%s ", $2}'; }
read -r sum0 count0 <<<"$(batches)"
clients=()
for k in 1 2 3 4 5 6 7 8; do
    curl -s -o "$tmp/concurrent$k.json" -w '%{http_code}' -H 'Content-Type: image/jpeg' --data-binary @"$example" \
         "$url/v1/locate" >"$tmp/concurrent$k.code" &
    clients+=($!)
done
wait "${clients[@]}"
read -r sum1 count1 <<<"$(batches)"
echo "8 concurrent requests: $((${sum1%.*} - ${sum0%.*})) photos in $((count1 - count0)) network batches"
check "8 concurrent requests all answered" '[ "$(cat "$tmp"/concurrent*.code)" = "$(printf "200%.0s" 1 2 3 4 5 6 7 8)" ]'
check "8 concurrent photos in fewer network batches ($((${sum1%.*} - ${sum0%.*})) photos, $((count1 - count0)) batches)" \
      '[ $((${sum1%.*} - ${sum0%.*})) -eq 8 ] && [ $((count1 - count0)) -lt 8 ]'

# SIGTERM: an upload in progress is answered, a new request gets 503, exit 0
curl -s -o "$tmp/slow.json" -w '%{http_code}' --limit-rate 20K -H 'Content-Type: image/jpeg' \
     --data-binary @"$example" "$url/v1/locate" >"$tmp/slow.code" &
slow=$!
sleep 1
kill -TERM "$pid"
sleep 0.3
req "$url/healthz"
expect_status "a new request while stopping" 503 'shutting down'
wait "$slow"
check "the request in flight at SIGTERM is answered ($(cat "$tmp/slow.code"))" \
      '[ "$(cat "$tmp/slow.code")" = 200 ] && python3 -c "import json,sys; json.load(open(sys.argv[1]))[\"lat\"]" "$tmp/slow.json"'
wait "$pid"
stop_rc=$?
check "server A: exit 0 after SIGTERM ($stop_rc)" '[ $stop_rc -eq 0 ]'

# ---- server B: token, rate limit, whole-request time limit ----------------------------
echo "s3cr3t-token" >"$tmp/token"
start_server b --token-file "$tmp/token" --rate 0.2 --burst 6 --request-timeout 5 --idle-timeout 2 \
             --max-connections 4 --bind ::1 --threads 1
url="http://[::1]:$port"
# 4 silent connections: a 5th waits (libmicrohttpd accepts no more) until the
# 2 s idle limit has closed them, then is answered
python3 - "$port" >"$tmp/limits.out" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
t0 = time.time()
silent = [socket.create_connection(("::1", port)) for _ in range(4)]
time.sleep(0.3)
fifth = socket.create_connection(("::1", port))
fifth.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
fifth.settimeout(1.0)
try:
    print("fifth at once:", fifth.recv(100).split(b"\r\n")[0].decode() or "closed")
except socket.timeout:
    print("fifth at once: waiting")
fifth.settimeout(10)
print("fifth later:", fifth.recv(100).split(b"\r\n")[0].decode() or "closed")
silent[0].settimeout(10)
try:
    gone = silent[0].recv(100) == b""
except OSError:
    gone = True
print("idle:", round(time.time() - t0, 1) if gone else "open")
EOF
check "--max-connections 4: a 5th connection waits ($(head -1 "$tmp/limits.out"))" \
      'grep -qx "fifth at once: waiting" "$tmp/limits.out"'
check "... and is answered once the idle ones are closed ($(sed -n 2p "$tmp/limits.out"))" \
      'grep -qx "fifth later: HTTP/1.1 200 OK" "$tmp/limits.out"'
idle=$(sed -n 's/^idle: //p' "$tmp/limits.out")
echo "silent connections: closed after $idle s (--idle-timeout 2)"
check "--idle-timeout 2: silent connections closed after ${idle} s" \
      'python3 -c "import sys; sys.exit(not 1.5 <= float(sys.argv[1]) <= 5)" "$idle" 2>/dev/null'
req "$url/v1/model"
expect_status "no token" 401 'bearer token'
req -H 'Authorization: Bearer wrong' "$url/v1/model"
expect_status "a wrong token" 401 'bearer token'
req -H 'Authorization: Bearer s3cr3t-toke' "$url/v1/model"
expect_status "a token's prefix" 401
req "$url/healthz"
expect_status "/healthz needs no token" 200
req "$url/"
expect_status "the page needs no token" 200 '<html'
python3 - "$port" >"$tmp/trickle.out" <<'EOF'
import socket, sys, time
s = socket.create_connection(("::1", int(sys.argv[1])))
t0 = time.time()
s.sendall(b"POST /v1/locate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cr3t-token\r\n"
          b"Content-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n")
s.settimeout(1.0)
for _ in range(30):
    try:
        s.sendall(b"x")
        answer = s.recv(4096)
        if answer:
            print("answered:", answer.split(b"\r\n")[0].decode())
            sys.exit()
        break
    except socket.timeout:
        continue
    except OSError:
        break
print(round(time.time() - t0, 1))
EOF
cut=$(cat "$tmp/trickle.out")
echo "a client trickling a byte a second: cut off after $cut s (--request-timeout 5)"
check "a client trickling a byte a second is cut off near the 5 s limit (${cut} s)" \
      'python3 -c "import sys; sys.exit(not 4.5 <= float(sys.argv[1]) <= 8)" "$cut" 2>/dev/null'
# two photos: well within the 5 s request limit even on a loaded machine
req -H 'Authorization: Bearer s3cr3t-token' -F "a=@$example" -F "a=@$example" "$url/v1/locate"
expect_status "--threads 1: 2 photos answered" 200
# threads busy with the network: those but the main one (which loaded the
# model) whose CPU time is at least a third of the busiest one's (a request's
# thread decoding the photos takes far less)
busy=$(cat /proc/"$pid"/task/*/stat | awk -v pid="$pid" '$1 != pid {t[NR] = $14 + $15; if (t[NR] > max) max = t[NR]}
       END {for (k in t) n += t[k] >= max / 3; print n}')
check "--threads 1: one thread runs the network ($busy threads busy)" '[ "$busy" -eq 1 ]'
codes=""
for _ in 1 2 3 4; do
    req -H 'Authorization: Bearer s3cr3t-token' "$url/v1/model"
    codes="$codes $code"
done
check "the right token answered, then 429 past the burst ($codes)" '[[ $codes == " 200 "* ]] && [[ $codes == *429* ]]'
stop_server "$pid"
check "server B: exit 0 after SIGTERM ($stop_rc)" '[ $stop_rc -eq 0 ]'

# ---- server C: HTTPS --------------------------------------------------------------
if command -v openssl >/dev/null && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
       -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null; then
    start_server c --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
    req -k -H 'Content-Type: image/jpeg' --data-binary @"$example" "https://127.0.0.1:$port/v1/locate"
    expect_status "HTTPS: POST the example" 200 '"lat"'
    req "http://127.0.0.1:$port/healthz"
    check "HTTPS: plain HTTP is not answered (HTTP $code)" '[ "$code" != 200 ]'
    stop_server "$pid"
    check "server C: exit 0 after SIGTERM ($stop_rc)" '[ $stop_rc -eq 0 ]'
else
    echo "openssl cannot make a certificate here: HTTPS checks skipped"
fi
finish
