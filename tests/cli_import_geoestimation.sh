#!/usr/bin/env bash
# geoloc weights import-geoestimation: a synthetic checkpoint of GeoEstimation's
# released structure (tools/gen_geoestimation_ckpt.py, PyTorch) is imported and
# the model's five-crop probabilities of every head equal PyTorch's (relative
# 1e-4); damaged or mismatched inputs are refused with the name of what is wrong
# and nothing written; with ../shared/data, the real partitions' head sizes too.
# Skips without torch in /usr/bin/python3.
. "$(dirname "$0")/lib.sh"
test_setup cli_import_geoestimation "$@"
here=$(cd "$(dirname "$0")" && pwd)
gen="$here/../tools/gen_geoestimation_ckpt.py"
py=/usr/bin/python3

run_geoloc weights --help
check "weights --help lists it" '[ $rc -eq 0 ] && [[ $out == *import-geoestimation* ]]'
run_geoloc weights import-geoestimation --help
check "--help" '[ $rc -eq 0 ] && [[ $out == *"--crops five"* ]] && [[ $out == *classifier.2* ]] && [[ $out == *--partitions* ]]'
run_geoloc weights import-geoestimation a.ckpt --out "$tmp/o.safetensors"
check "--partitions required" '[ $rc -eq 2 ] && [[ $err == *--partitions* ]]'
run_geoloc weights import-geoestimation a.ckpt --partitions "$tmp" --out a.ckpt
check "output = checkpoint refused" '[ $rc -eq 2 ] && [[ $err == *a.ckpt* ]]'
run_geoloc weights import-geoestimation "$tmp/none.ckpt" --partitions "$tmp" --out "$tmp/o.safetensors"
check "missing partitions" '[ $rc -eq 1 ] && [[ $err == *"$tmp/cells_50_5000.csv"* ]] && [ ! -e "$tmp/o.safetensors" ]'

$py -c 'import importlib.util as u, sys; sys.exit(any(not u.find_spec(m) for m in ("torch", "torchvision", "numpy", "PIL")))' 2>/dev/null ||
    skip_rest "SKIP: /usr/bin/python3 lacks torch, torchvision, numpy or PIL (the synthetic checkpoint)"

# small partitions of synthetic photo locations, named as the paper's three
$py - "$tmp/points.csv" <<'EOF'
import random, sys
random.seed(3)
centers = [(48.85, 2.35), (40.7, -74.0), (35.68, 139.7), (-33.9, 151.2), (51.5, -0.12),
           (-23.5, -46.6), (55.75, 37.6), (19.4, -99.1), (30.0, 31.2), (1.35, 103.8)]
with open(sys.argv[1], "w") as f:
    f.write("IMG_ID,LAT,LON\n")
    for i in range(4000):
        c, s = random.choice(centers), random.choice([0.05, 0.5, 3])
        f.write("p%d,%.6f,%.6f\n" % (i, c[0] + random.gauss(0, s), c[1] + random.gauss(0, s)))
EOF
run_geoloc cells build --tau-min 5 --tau-max 400,150,60 --out-dir "$tmp/cells" "$tmp/points.csv"
check "cells build" '[ $rc -eq 0 ]'
mkdir -p "$tmp/parts" "$tmp/wrong"
cp "$tmp/cells/cells_5_400.csv" "$tmp/parts/cells_50_5000.csv"
cp "$tmp/cells/cells_5_150.csv" "$tmp/parts/cells_50_2000.csv"
cp "$tmp/cells/cells_5_60.csv" "$tmp/parts/cells_50_1000.csv"
cp "$tmp/parts/cells_50_5000.csv" "$tmp/parts/cells_50_2000.csv" "$tmp/wrong/"
cp "$tmp/parts/cells_50_2000.csv" "$tmp/wrong/cells_50_1000.csv"   # 124 cells instead of 198

"$py" "$gen" --out "$tmp/ge.ckpt" --partitions "$tmp/parts" --photos "$tmp/photos" --n-photos 2 \
    --probs "$tmp/probs.json" --variants "$tmp/bad" > "$tmp/gen.log" 2>&1
gen_rc=$?
check "synthetic checkpoint written ($(tail -n 3 "$tmp/gen.log"))" '[ $gen_rc -eq 0 ] && [ -s "$tmp/ge.ckpt" ]'

run_geoloc weights import-geoestimation "$tmp/ge.ckpt" --partitions "$tmp/parts" --out "$tmp/ge.safetensors"
check "import ($err)" '[ $rc -eq 0 ] && [[ $out == *"271 tensors, 24268057 parameters (53 num_batches_tracked ignored); heads of 23, 124, 198 cells"* ]] && [[ $out == *"ge.ckpt (epoch 14, step 123456)"* ]]'
run_geoloc model info "$tmp/ge.safetensors"
check "model info" '[ $rc -eq 0 ] && [[ $out == *"ResNet-50"* ]] && [[ $out == *"cells_50_1000"*" 198 cells"* ]] && [[ $out == *"geoloc.crops five"* ]] && [[ $out == *"backbone:    in the file"* ]]'

# compare_probs MODEL REF.json PARTITION NAME: geoloc's five-crop distribution of every
# photo against PyTorch's (relative 1e-4 where PyTorch's probability exceeds 1e-6)
compare_probs() {
    "$geoloc" predict --model "$1" --format json --distribution --partition "$3" --crops five \
        "$tmp"/photos/*.png > "$tmp/pred.json" 2> "$tmp/pred.err"
    local msg cmp_rc
    msg=$("$py" - "$2" "$3" "$tmp/pred.json" <<'EOF'
import json, sys
ref, head = json.load(open(sys.argv[1])), int(sys.argv[2])
worst, n = 0.0, 0
for p in json.load(open(sys.argv[3]))["predictions"]:
    want = ref[p["file"].rsplit("/", 1)[-1]][head]
    got = [d["p"] for d in p["distribution"]]
    if len(got) != len(want):
        sys.exit("%d probabilities, PyTorch has %d" % (len(got), len(want)))
    for a, b in zip(got, want):
        err = abs(a - b) / b if b > 1e-6 else (0.0 if abs(a - b) <= 1e-10 else 1.0)
        worst, n = max(worst, err), n + (b > 1e-6)
print("%d probabilities, max relative difference %.2g" % (n, worst))
sys.exit(0 if worst <= 1e-4 and n > 0 else 1)
EOF
)
    cmp_rc=$?
    check "$4: $msg $(tail -n 1 "$tmp/pred.err")" '[ $cmp_rc -eq 0 ]'
    echo "$4: $msg"
}
for k in 0 1 2; do compare_probs "$tmp/ge.safetensors" "$tmp/probs.json" $k "head $k vs PyTorch"; done
run_geoloc predict --model "$tmp/ge.safetensors" --crops five "$tmp/photos/photo0.png"
check "hierarchical predict" '[ $rc -eq 0 ] && [[ $out == *"photo0.png: "* ]]'

# the same weights as a plain state_dict of Parameters in pickle protocol 4 (FRAME,
# MEMOIZE, STACK_GLOBAL, _rebuild_parameter): the same tensors
run_geoloc weights import-geoestimation "$tmp/bad/plain.ckpt" --partitions "$tmp/parts" --out "$tmp/plain.safetensors"
check "plain state_dict, protocol 4 ($err)" '[ $rc -eq 0 ] && [[ $out == *"plain.ckpt\""* ]] &&
    [ "$(tail -c 97072228 "$tmp/plain.safetensors" | md5sum)" = "$(tail -c 97072228 "$tmp/ge.safetensors" | md5sum)" ]'
rm -f "$tmp/plain.safetensors"

# refused inputs: a message naming the problem, nothing written, an existing output kept
echo keep > "$tmp/kept.safetensors"
refused() { # NAME CKPT PARTITIONS PATTERN
    pattern=$4
    run_geoloc weights import-geoestimation "$2" --partitions "$3" --out "$tmp/kept.safetensors"
    check "$1 ($err)" '[ $rc -eq 1 ] && [[ $err == *"$pattern"* ]] && [ "$(cat "$tmp/kept.safetensors")" = keep ] && [ -z "$(ls -A "$tmp" | grep -v "^kept.safetensors$" | grep kept)" ]'
    echo "$1: $err"
}
refused "missing tensor" "$tmp/bad/missing.ckpt" "$tmp/parts" "state_dict has no tensor model.7.2.bn3.running_var (layer4.2.bn3.running_var"
refused "wrong shape" "$tmp/bad/shape.ckpt" "$tmp/parts" "tensor model.4.0.conv1.weight has shape [64,64,1,2], [64,64,1,1] expected"
refused "unexpected tensor" "$tmp/bad/extra.ckpt" "$tmp/parts" "unexpected tensor extra.weight [3]"
refused "channels_last" "$tmp/bad/strided.ckpt" "$tmp/parts" "tensor model.0.weight: strides (147,1,21,3) are not contiguous"
refused "float64" "$tmp/bad/double.ckpt" "$tmp/parts" "tensor model.1.weight is torch.DoubleStorage, float32 expected"
refused "wrong partition size" "$tmp/ge.ckpt" "$tmp/wrong" \
    "tensor classifier.2.weight has shape [198,2048], [124,2048] expected: the partition $tmp/wrong/cells_50_1000.csv has 124 cells"
head -c 60000000 "$tmp/ge.ckpt" > "$tmp/trunc.ckpt"
refused "truncated" "$tmp/trunc.ckpt" "$tmp/parts" "trunc.ckpt: no zip end of central directory"
printf 'not a zip' > "$tmp/text.ckpt"
refused "not a zip" "$tmp/text.ckpt" "$tmp/parts" "text.ckpt: 9 bytes: not a zip file"
cp "$tmp/ge.ckpt" "$tmp/flip.ckpt"
"$py" -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(50000000); b = f.read(1); f.seek(50000000); f.write(bytes([b[0] ^ 1]))' "$tmp/flip.ckpt"
refused "flipped byte" "$tmp/flip.ckpt" "$tmp/parts" "CRC-32 mismatch (file damaged)"
"$py" -c '
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as a, zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as b:
    for i in a.infolist():
        b.writestr(i.filename, a.read(i) if i.filename.endswith(".pkl") or "/data/" not in i.filename else b"")
' "$tmp/bad/missing.ckpt" "$tmp/deflated.ckpt"
refused "compressed zip" "$tmp/deflated.ckpt" "$tmp/parts" "/data.pkl is compressed (method 8)"
# a one-tensor checkpoint with zip64 records is read through: the first missing tensor
refused "zip64 read through" "$tmp/bad/zip64.ckpt" "$tmp/parts" "zip64.ckpt: state_dict has no tensor model.0.weight"
rm -rf "$tmp/bad" "$tmp/flip.ckpt" "$tmp/trunc.ckpt"

# the real partitions' sizes (3298, 7202, 12893 cells); the values were compared above
real="$shared/geoestimation"
[ -f "$real/cells_50_1000.csv" ] || skip_rest "SKIP: the real partitions are not in $real"
"$py" "$gen" --out "$tmp/real.ckpt" --partitions "$real" > "$tmp/gen.log" 2>&1
gen_rc=$?
check "real-size checkpoint written ($(tail -n 3 "$tmp/gen.log"))" '[ $gen_rc -eq 0 ]'
run_geoloc weights import-geoestimation "$tmp/real.ckpt" --partitions "$real" --out "$tmp/real.safetensors" --source "test source"
check "real-size import ($err)" '[ $rc -eq 0 ] && [[ $out == *"71493409 parameters (53 num_batches_tracked ignored); heads of 3298, 7202, 12893 cells; source \"test source\""* ]]'
rm -f "$tmp/real.ckpt"
run_geoloc model info "$tmp/real.safetensors"
check "real-size model info" '[ $rc -eq 0 ] && [[ $out == *"hierarchy:   complete"* ]] && [[ $out == *"geoloc.source test source"* ]]'
finish
