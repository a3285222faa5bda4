#!/usr/bin/env bash
# Tests of calibrated confidence through the command line: `geoloc model
# calibrate` (usage errors, --out equal to the model refused and the model
# left as it was, a new file written), the calibrated answer (JSON
# "radius_km" and "unknown", the text "unknown (best guess: ...)",
# --max-radius), `geoloc evaluate`'s confidence figures and country accuracy
# (against `geoloc place` on its results CSV), and the issue's
# check at the default setting: a grey, a black and a noise picture get
# "unknown": true from the default model while the example photo is answered,
# in France. And the calibration at the end of `geoloc train` (a random
# ResNet-18 at 96x96 from train_fixture): cross-fitted on the out-of-fold
# answers of every training photo, one fold after the other, then measured on
# the validation photos; with --calibration-folds 0 on the validation photos.
# usage: cli_calibrate.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR TRAIN_FIXTURE
# Skipped (exit 77) without the shared data or the ImageNet backbone.
. "$(dirname "$0")/lib.sh"
test_setup cli_calibrate "$@"
fixture=${4:?usage: cli_calibrate.sh GEOLOC SHARED_DATA TEST_DATA TRAIN_FIXTURE}
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
expect_match 0 "^.*example.jpg: unknown \(best guess: ([^0-9]+  )?[-0-9.]+, [-0-9.]+ .*\)  radius 50%: [0-9]+ km, 90%: [0-9]+ km" \
    out "predict: text of an unknown answer (50 % radius above --max-radius 1)"
run_geoloc evaluate --model "$tmp/cal.safetensors" --meta "$tmp/cal.csv" --images "$dev/images" --json \
    --out "$tmp/results.csv"
cp "$tmp/out" "$tmp/evaluate.json"
places=$here/../models/places.bin
if [ -f "$places" ]; then # country accuracy = the share of `geoloc place` rows that agree, truth in a country
    tr -d '\r' <"$tmp/results.csv" | awk -F, 'NR > 1 && $0 == "" { exit } NR > 1 { print $2 "," $4 > "'"$tmp/truth.txt"'"; print $3 "," $5 }' \
        >"$tmp/answers.txt"
    "$geoloc" place --data "$places" <"$tmp/truth.txt" >"$tmp/truth_places.csv"
    "$geoloc" place --data "$places" <"$tmp/answers.txt" >"$tmp/answer_places.csv"
    check "evaluate: country accuracy as geoloc place counts it" "python3 - '$tmp' <<'EOF2'
import csv, json, sys
t = list(csv.DictReader(open(sys.argv[1] + '/truth_places.csv')))
a = list(csv.DictReader(open(sys.argv[1] + '/answer_places.csv')))
assert len(t) == len(a) > 0
pairs = [(x, y) for x, y in zip(t, a) if x['country']]
same = sum(x['country_code'] == y['country_code'] and x['country'] == y['country'] for x, y in pairs)
c = json.load(open(sys.argv[1] + '/evaluate.json'))['country']
assert c['n'] == len(pairs) and abs(c['accuracy'] - same / len(pairs)) < 1e-9, (c, same, len(pairs))
EOF2"
fi
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
if [ -f "$places" ]; then
    expect_match 0 "country:      [0-9.]+ % answered in the true country \([0-9]+ photos" out "evaluate: country"
fi

# calibration at the end of heads training: 60 dev photos, half of their authors held out
awk 'NR == 1 || (NR - 2) % 33 == 0' "$dev/im2gps3k_dev.csv" | head -61 >"$tmp/train.csv"
"$fixture" "$tmp/rand18.safetensors" 18 3 || fail "train_fixture"
common=(--images "$dev/images" --backbone "$tmp/rand18.safetensors" --image-size 96 --tau-min 0 --tau-max 8,4
        --val-fraction 0.5 --epochs 2 --batch 16 --features "$tmp/train.features.safetensors")
run_geoloc train "${common[@]}" --calibration-folds 4 --out "$tmp/t4.safetensors" "$tmp/train.csv"
n_train=$(sed -n 's/.*split by author (seed 1): \([0-9]*\) training photos.*/\1/p' "$tmp/err")
check "train: cross-fitted on the out-of-fold answers of all ${n_train:-?} training photos ($rc)" \
    '[ $rc -eq 0 ] && [ -n "$n_train" ] && grep -q "calibrated on $n_train out-of-fold answers of the training photos" "$tmp/err"'
check "train: the 4 folds one after the other" \
    '[ "$(grep -o "calibration: fold [0-9] of 4" "$tmp/err" | tr -d "\n")" = "calibration: fold 1 of 4calibration: fold 2 of 4calibration: fold 3 of 4calibration: fold 4 of 4" ]'
expect_match 0 "calibration on the [0-9]+ validation photos: the 50 % radius holds the truth for [0-9.]+ %" err \
    "train: the calibration measured on the validation photos"
run_geoloc model info "$tmp/t4.safetensors"
check "train: the calibration in the model file" '[ -n "$n_train" ] && grep -q "^calibration: $n_train photos: temperature" "$tmp/out"'
run_geoloc train "${common[@]}" --calibration-folds 0 --out "$tmp/t0.safetensors" "$tmp/train.csv"
n_val=$(sed -n 's/.*training photos of [0-9]* groups, \([0-9]*\) validation photos.*/\1/p' "$tmp/err")
check "train --calibration-folds 0: on the ${n_val:-?} validation photos ($rc)" \
    '[ $rc -eq 0 ] && [ -n "$n_val" ] && grep -q "calibrated on $n_val validation photos" "$tmp/err" && ! grep -q "fold 1" "$tmp/err"'
# --val-fold K/N: the validation photos are fold K of N author-grouped folds; the
# folds together hold every photo once (authors never split: test_calibration)
unsplit=()
for ((i = 0; i < ${#common[@]}; i++)); do # common without its --val-fraction 0.5
    if [ "${common[i]}" = --val-fraction ]; then i=$((i + 1)); else unsplit+=("${common[i]}"); fi
done
val_total=0
for k in 0 1 2; do
    run_geoloc train "${unsplit[@]}" --val-fold "$k/3" --calibration-folds 0 --out "$tmp/f$k.safetensors" \
        "$tmp/train.csv"
    line=$(grep "validation: fold $k of 3 author-grouped folds" "$tmp/err")
    tr_n=$(sed -n 's/.*: \([0-9]*\) training photos, \([0-9]*\) validation photos.*/\1/p' <<<"$line")
    va_n=$(sed -n 's/.*: \([0-9]*\) training photos, \([0-9]*\) validation photos.*/\2/p' <<<"$line")
    check "train --val-fold $k/3 ($rc): $tr_n + $va_n photos" '[ $rc -eq 0 ] && [ $((tr_n + va_n)) -eq 60 ] && [ "$va_n" -gt 0 ]'
    val_total=$((val_total + ${va_n:-0}))
done
check "train --val-fold: the 3 folds hold the 60 photos once ($val_total)" '[ "$val_total" -eq 60 ]'
run_geoloc train "${unsplit[@]}" --val-fold 3/3 --out "$tmp/f9.safetensors" "$tmp/train.csv"
expect_match 2 "--val-fold must be K/N" err "train --val-fold 3/3: a usage error"
run_geoloc train "${common[@]}" --val-fold 0/3 --out "$tmp/f9.safetensors" "$tmp/train.csv"
expect_match 2 "--val-fold excludes --val and --val-fraction" err "train --val-fold with --val-fraction: a usage error"

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
