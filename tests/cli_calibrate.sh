#!/usr/bin/env bash
# Tests of calibrated confidence through the command line: `geoloc model
# calibrate` (usage errors, --out equal to the model refused and the model
# left as it was, a new file written), the calibrated answer (JSON
# "radius_km" and "unknown", the text "unknown (best guess: ...)",
# --max-radius), `geoloc evaluate`'s confidence figures, and the issue's
# check at the default setting: a grey, a black and a noise picture get
# "unknown": true from the default model while the example photo is answered,
# in France.
# usage: cli_calibrate.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
# Skipped (exit 77) without the shared data or the ImageNet backbone.
. "$(dirname "$0")/lib.sh"
test_setup cli_calibrate "$@"
unset GEOLOC_MODEL GEOLOC_DATA_DIR
here=$(cd "$(dirname "$0")" && pwd)
default=$here/../share/geoloc/geoloc-default.safetensors
example=$here/../share/geoloc/example.jpg

run_geoloc model calibrate --images "$tmp" --out "$tmp/x.safetensors"
expect_match 2 "--meta is required" err "calibrate: --meta required"
cp "$default" "$tmp/model.safetensors"
sum_before=$(sha256sum <"$tmp/model.safetensors")
run_geoloc model calibrate --model "$tmp/model.safetensors" --meta "$tmp/none.csv" --images "$tmp" \
    --out "$tmp/./model.safetensors"
expect_match 2 "refusing to overwrite" err "calibrate: --out equal to the model refused"
check "calibrate: the model left as it was" '[ "$(sha256sum <"$tmp/model.safetensors")" = "$sum_before" ]'

dev=$shared/im2gps3k-dev
[ -f "$dev/im2gps3k_dev.csv" ] || skip_rest "shared data absent ($shared): calibration tests skipped"
[ -f "$here/../models/resnet50-imagenet.safetensors" ] ||
    skip_rest "no ImageNet backbone (tools/fetch-backbone.sh): calibration tests skipped"

# flat grey, black and noise pictures (PNG written by python's zlib)
python3 - "$tmp" <<'EOF2'
import random, struct, sys, zlib
def png(path, pixel):
    raw = b"".join(b"\0" + bytes(v for x in range(320) for v in pixel(x, y)) for y in range(320))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 320, 320, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
rng = random.Random(1)
png(sys.argv[1] + "/grey.png", lambda x, y: (128, 128, 128))
png(sys.argv[1] + "/black.png", lambda x, y: (0, 0, 0))
png(sys.argv[1] + "/noise.png", lambda x, y: (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
EOF2

# calibrate on 24 photos of the dev set (not a measurement: the tool's plumbing)
head -25 "$dev/im2gps3k_dev.csv" >"$tmp/cal.csv"
run_geoloc model calibrate --model "$tmp/model.safetensors" --meta "$tmp/cal.csv" --images "$dev/images" \
    --out "$tmp/cal.safetensors"
expect_match 0 "calibrated on 24 photos: temperature [0-9.]+" out "calibrate: 24 photos"
check "calibrate: the model left as it was" '[ "$(sha256sum <"$tmp/model.safetensors")" = "$sum_before" ]'
run_geoloc predict --model "$tmp/cal.safetensors" --format json --max-radius 20000 \
    "$tmp/grey.png" "$tmp/black.png" "$tmp/noise.png" "$example"
check "predict: calibrated JSON ($err)" "python3 - '$tmp/out' <<'EOF2'
import json, sys
p = json.load(open(sys.argv[1]))['predictions']
assert [a['unknown'] for a in p] == [True, True, True, False], [a['unknown'] for a in p]
for a in p:
    r = a['radius_km']
    assert 0 <= r['50'] <= r['90'], r
EOF2"
run_geoloc predict --model "$tmp/cal.safetensors" --max-radius 1 "$example"
expect_match 0 "^.*example.jpg: unknown \(best guess: [-0-9.]+, [-0-9.]+ .*\)  radius 50%: [0-9]+ km, 90%: [0-9]+ km" \
    out "predict: text of an unknown answer (50 % radius above --max-radius 1)"
run_geoloc evaluate --model "$tmp/cal.safetensors" --meta "$tmp/cal.csv" --images "$dev/images" --json
check "evaluate: confidence figures in JSON ($err)" "python3 - '$tmp/out' <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
for s in [d] + list(d['scenes'].values()):
    if s['n'] == 0: continue
    assert 0 <= s['radius_km']['50']['coverage'] <= s['radius_km']['90']['coverage'] <= 1, s
    assert 0 < s['geoscore']['mean'] <= 5000 and 0 < s['geoscore']['median'] <= 5000, s
    assert 0 <= s['answered']['share'] <= 1, s
EOF2"
run_geoloc evaluate --model "$tmp/cal.safetensors" --meta "$tmp/cal.csv" --images "$dev/images"
expect_match 0 "radius 90 %:  truth inside for [0-9.]+ %, median [0-9.]+ km" out "evaluate: text"
expect_match 0 "GeoScore:     mean [0-9.]+, median [0-9.]+" out "evaluate: GeoScore"

# the issue's check at the default setting, with the default model
run_geoloc predict --format json "$tmp/grey.png" "$tmp/black.png" "$tmp/noise.png" "$example"
check "default model: grey, black, noise unknown; the example answered in France ($err)" "python3 - '$tmp/out' <<'EOF2'
import json, sys
p = json.load(open(sys.argv[1]))['predictions']
assert [a['unknown'] for a in p] == [True, True, True, False], [a['unknown'] for a in p]
ex = p[3]
assert 41.3 <= ex['lat'] <= 51.1 and -5.2 <= ex['lon'] <= 9.6, (ex['lat'], ex['lon'])
assert ex['radius_km'] is not None
EOF2"
finish
