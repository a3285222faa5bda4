#!/usr/bin/env bash
# Tests of `geoloc model quantize`, `geoloc weights quantize` and --precision.
# usage: cli_quantize.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage errors: --precision other than f32 / int8, --out the model itself or
#   the manifest, an existing --out without --overwrite, a missing --calib;
# - with the shared data and the ImageNet backbone: the default model
#   quantised on 32 photos of im2gps3k-dev (plus a listed photo that is not
#   there: counted, not fatal) into a heads-only file naming the backbone;
#   predict --precision int8 on the example photo answers the same top cell as
#   float32 with probabilities within 0.005; the model without ranges refused
#   in int8 naming it and `geoloc model quantize` (predict, serve at start);
#   serve --precision int8 answering the example as predict does; the ImageNet weights
#   quantised on the imagenet-check images, classify-imagenet --precision int8
#   with them and refused with the plain weights.
# The shared-data part is skipped (exit 77) when the data or backbone are absent.
. "$(dirname "$0")/lib.sh"
test_setup cli_quantize "$@"
unset GEOLOC_MODEL GEOLOC_DATA_DIR
here=$(cd "$(dirname "$0")/.." && pwd)
model=$here/share/geoloc/geoloc-default.safetensors
backbone=$here/models/resnet50-imagenet.safetensors
photo=$here/share/geoloc/example.jpg
dev=$shared/im2gps3k-dev

run_geoloc predict --precision int4 "$photo"
expect_match 2 "precision" err "--precision int4 is a usage error"
run_geoloc model quantize --help
check "model quantize --help" '[ $rc -eq 0 ] && [[ $out == *--calib* ]] && [[ $out == *--overwrite* ]]'
printf 'IMG_ID,LAT,LON\n' > "$tmp/calib.csv"
run_geoloc model quantize --model "$model" --calib "$tmp/calib.csv" --images "$tmp" --out "$model"
expect_match 2 "--out" err "--out the model itself is refused"
run_geoloc model quantize --model "$model" --calib "$tmp/calib.csv" --images "$tmp" --out "$tmp/calib.csv"
expect_match 2 "--out" err "--out the manifest is refused"
touch "$tmp/exists.safetensors"
run_geoloc model quantize --model "$model" --calib "$tmp/calib.csv" --images "$tmp" --out "$tmp/exists.safetensors"
expect_match 2 "exists.*--overwrite" err "an existing --out without --overwrite is refused"
run_geoloc model quantize --model "$model" --calib "$tmp/none.csv" --images "$tmp" --out "$tmp/q.safetensors"
expect_match 1 "none.csv" err "a missing --calib is named"
check "nothing written" '[ ! -e "$tmp/q.safetensors" ]'

[ -f "$dev/im2gps3k_dev.csv" ] || skip_rest "SKIP: shared data absent ($shared): quantisation skipped"
[ -f "$backbone" ] && [ -f "$model" ] || skip_rest "SKIP: no ImageNet backbone ($backbone: tools/fetch-backbone.sh)"

# without_ranges IN OUT: IN without its int8 ranges (and without its data
# checksum: it loads as a file written before checksums)
without_ranges() {
    python3 - "$@" <<'EOF2'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header, body = json.loads(data[8:8 + n]), data[8 + n:]
meta = {k: v for k, v in header.pop("__metadata__", {}).items() if k not in ("geoloc.crc32c", "geoloc.int8.calibration")}
out, at = {"__metadata__": meta}, 0
parts = []
for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    if name == "geoloc.int8_range":
        continue
    a, b = t["data_offsets"]
    out[name] = dict(t, data_offsets=[at, at + b - a])
    parts.append(body[a:b])
    at += b - a
h = json.dumps(out).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + b"".join(parts))
EOF2
}
without_ranges "$model" "$tmp/plain.safetensors"

# 32 photos, then one the manifest lists that is not in the folder
{ head -33 "$dev/im2gps3k_dev.csv"; echo "not-there.jpg,,48.8,2.3,,,,,,"; } > "$tmp/calib.csv"
run_geoloc model quantize --model "$tmp/plain.safetensors" --calib "$tmp/calib.csv" --images "$dev/images" --photos 33 \
  --out "$tmp/exists.safetensors" --overwrite
expect_match 0 "32 photos of calib.csv, 3 crops" out "quantise the default model on 32 photos"
check "the unreadable photo counted and named" '[[ $err == *"1 of 33 photos"*not-there.jpg* ]]'
mv "$tmp/exists.safetensors" "$tmp/q.safetensors"
run_geoloc model info "$tmp/q.safetensors"
check "heads-only: still names the backbone, small" \
  '[ $rc -eq 0 ] && [[ $out == *resnet50-imagenet.safetensors* ]] && [ $(stat -c %s "$tmp/q.safetensors") -lt 10000000 ]'

for p in f32 int8; do
    run_geoloc predict --model "$tmp/q.safetensors" --precision $p --format json "$photo"
    check "predict --precision $p" '[ $rc -eq 0 ]'
    printf '%s' "$out" > "$tmp/$p.json"
done
check "int8: the same top cell as f32, probabilities within 0.005; the precision in the JSON" 'python3 - "$tmp/f32.json" "$tmp/int8.json" <<EOF
import json, sys
a, b = (json.load(open(f))["predictions"][0] for f in sys.argv[1:])
assert a["cell"] == b["cell"], (a["cell"], b["cell"])
assert [json.load(open(f))["precision"] for f in sys.argv[1:]] == ["f32", "int8"]
for x, y in zip(a["top"], b["top"]):
    assert abs(x["prob"] - y["prob"]) < 0.005, (x, y)
EOF'
run_geoloc predict --model "$tmp/plain.safetensors" --precision int8 "$photo"
expect_match 1 "plain.safetensors.*int8.*geoloc model quantize" err "int8 without ranges names the model and the command"
run_geoloc serve --model "$tmp/plain.safetensors" --precision int8 --port 0
expect_match 2 "plain.safetensors.*int8.*geoloc model quantize" err "serve: int8 without ranges refused at start"
if command -v curl >/dev/null; then
    rm -f "$tmp/port"
    "$geoloc" serve --model "$tmp/q.safetensors" --precision int8 --port 0 --ready-file "$tmp/port" 2>"$tmp/serve.err" &
    server=$!
    trap 'kill -9 $server 2>/dev/null; rm -rf "$tmp"' EXIT
    for _ in $(seq 600); do [ -s "$tmp/port" ] || ! kill -0 $server 2>/dev/null && break; sleep 0.2; done
    body=$(curl -s -H 'Content-Type: image/jpeg' --data-binary @"$photo" "http://127.0.0.1:$(cat "$tmp/port")/v1/locate")
    check "serve --precision int8 answers as predict does" 'python3 -c "import json,sys
a = json.load(open(sys.argv[1]))[\"predictions\"][0]
b = json.loads(sys.argv[2])
b = b[\"predictions\"][0] if \"predictions\" in b else b
sys.exit(a[\"cell\"] != b[\"cell\"] or abs(a[\"prob\"] - b[\"prob\"]) > 1e-6)" "$tmp/int8.json" "$body"'
    model=$(curl -s "http://127.0.0.1:$(cat "$tmp/port")/v1/model")
    check "serve --precision int8: /v1/model says int8" '[[ $model == *'"'"'"precision": "int8"'"'"'* || $model == *'"'"'"precision":"int8"'"'"'* ]]'
    kill -TERM $server
    wait $server
fi

# the ImageNet classifier: its own weights file with ranges
check_dir=$shared/imagenet-check
run_geoloc weights quantize "$backbone" --images "$check_dir" --out "$tmp/wq.safetensors"
expect_match 0 "6 photos of imagenet-check" out "weights quantize on the check images"
run_geoloc classify-imagenet --weights "$tmp/wq.safetensors" --precision int8 --top 1 "$check_dir/cat.png"
expect_match 0 "Egyptian.cat" out "classify-imagenet --precision int8"
run_geoloc classify-imagenet --weights "$backbone" --precision int8 "$check_dir/cat.png"
expect_match 1 "resnet50-imagenet.safetensors.*weights quantize" err "int8 with plain weights is refused"
finish
