#!/usr/bin/env bash
# Tests of the Individual Scene Network routing at the command line on a tiny
# ISN model (`geoloc model init --isn`: ResNet-18, 64-pixel crops, a partition
# of synthetic points, an S3 head, a set of geo heads per S3 scene) and photos
# made with cjpeg from generated pixels:
# - predict --isn soft, hard and none give different distributions;
# - evaluate --isn oracle with S3_Label = each photo's predicted S3 scene
#   answers as --isn hard (the same per-photo results file); without S3
#   labels it answers as soft and counts every photo as routed soft;
#   labels differing from the predicted scenes count as routed by the label;
# - evaluate's scene agreement and S3 confusion matrix (JSON and text) equal to
#   their direct computation from predict's scenes and the manifest;
# - --isn oracle on a model without ISNs refused, a bad --isn value refused,
#   model init --isn without an S3 head refused.
# Direct computations of each routing are in test_scene_predict.
. "$(dirname "$0")/lib.sh"
test_setup cli_isn "$@"
cd "$tmp" || exit 1
command -v cjpeg >/dev/null || skip_rest "SKIP: cjpeg not found (libjpeg-turbo-progs)"

mkdir img
python3 - <<'EOF'
import math
for s in range(6):
    w, h = 96, 80
    px = bytearray()
    for y in range(h):
        for x in range(w):
            for c in range(3):
                px.append(int(127 + 120 * math.sin(0.07 * (x + 1) * (c + 1 + s) + 0.05 * y * (s + 2) + s)) & 255)
    open(f"img/p{s}.ppm", "wb").write(b"P6 %d %d 255\n" % (w, h) + bytes(px))
EOF
for s in 0 1 2 3 4 5; do cjpeg -quality 92 "img/p$s.ppm" >"img/p$s.jpg" && rm "img/p$s.ppm"; done

for i in $(seq 0 299); do echo "q$i.jpg,$(( i % 9 )).$((i % 10)),$(( i % 7 )).$(( i % 3 ))"; done |
    sed '1i IMG_ID,LAT,LON' >points.csv
"$geoloc" cells build --tau-min 1 --tau-max 40 --out-dir cells points.csv >/dev/null 2>&1
cellfile=$(ls cells/*.csv 2>/dev/null | head -1)
run_geoloc model init --arch resnet18 --image-size 64 --seed 11 --cells "$cellfile" \
    --scenes indoor,natural,urban --isn isn.safetensors
expect_match 0 "1 partition, 3 scene classes" out "model init --isn"
run_geoloc model info isn.safetensors
expect_match 0 "ISNs: +one set of geo heads per S3 scene \(3\)" out "model info: ISNs"
run_geoloc model init --arch resnet18 --image-size 64 --cells "$cellfile" --isn noscene.safetensors
expect_match 1 "S3|scene" err "model init --isn without scenes refused"
run_geoloc model init --arch resnet18 --image-size 64 --cells "$cellfile" plain.safetensors
expect_match 0 "0 scene classes" out "model init: no ISNs"

for r in soft hard none; do
    "$geoloc" predict --model isn.safetensors --isn $r --format json --distribution img/*.jpg >"pred_$r.json" 2>/dev/null
    check "predict --isn $r" '[ -s "pred_$r.json" ]'
done
check "predict: routings differ" 'python3 - <<"EOF"
import json
def load(r):
    text = open(f"pred_{r}.json").read()
    d = json.loads(text)
    items = d if isinstance(d, list) else d.get("predictions", d.get("photos", [d]))
    return [[c["p"] for c in x["distribution"]] for x in items]
soft, hard, none = load("soft"), load("hard"), load("none")
assert len(soft) == 6 and len(soft[0]) > 1
for a, b in ((soft, hard), (soft, none), (hard, none)):
    assert max(abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v)) > 1e-6
EOF'
run_geoloc predict --model isn.safetensors --isn sideways img/p0.jpg
expect_match 2 "--isn" err "a bad --isn value refused"

# manifests: S3_Label = the predicted scene, shifted, absent
python3 - <<'EOF'
import json
text = open("pred_hard.json").read()
d = json.loads(text)
items = d if isinstance(d, list) else d.get("predictions", d.get("photos", [d]))
order = ["indoor", "natural", "urban"]
with open("m_pred.csv", "w") as a, open("m_shift.csv", "w") as b, open("m_none.csv", "w") as c:
    a.write("IMG_ID,LAT,LON,S3_Label\n"); b.write("IMG_ID,LAT,LON,S3_Label\n"); c.write("IMG_ID,LAT,LON\n")
    for k, x in enumerate(items):
        name = x["file"].split("/")[-1] if "file" in x else x["name"].split("/")[-1]
        s3 = order.index(x["scene"]["S3"]["name"])
        lat, lon = 1.0 + k, 2.0 + k
        a.write(f"{name},{lat},{lon},{s3}\n")
        b.write(f"{name},{lat},{lon},{(s3 + 1) % 3 if k % 2 else ''}\n")
        c.write(f"{name},{lat},{lon}\n")
EOF
ev() { "$geoloc" evaluate --model "$1" --meta "$2" --images img --isn "$3" --out "$4" >/dev/null 2>"$4.err"; }
ev isn.safetensors m_pred.csv oracle o_pred.csv
check "oracle by the predicted scenes: exit 0" '[ $? -eq 0 ]'
check "oracle by the predicted scenes: counted" 'grep -q "6 photos routed by their S3_Label, 0 without one" o_pred.csv.err'
ev isn.safetensors m_pred.csv hard o_hard.csv
check "oracle by the predicted scenes = hard" 'cmp -s o_pred.csv o_hard.csv'
ev isn.safetensors m_none.csv oracle o_none.csv
check "oracle without labels: all soft, counted" 'grep -q "0 photos routed by their S3_Label, 6 without one routed soft" o_none.csv.err'
ev isn.safetensors m_none.csv soft o_soft.csv
check "oracle without labels = soft" 'cmp -s o_none.csv o_soft.csv'
ev isn.safetensors m_shift.csv oracle o_shift.csv
check "oracle, half labelled: counted" 'grep -q "3 photos routed by their S3_Label, 3 without one" o_shift.csv.err'
ev plain.safetensors m_pred.csv oracle o_plain.csv
check "oracle without ISNs refused" '[ $? -eq 1 ] && grep -q "no Individual Scene Networks" o_plain.csv.err && [ ! -e o_plain.csv ]'

# scene agreement and the S3 confusion matrix against the predicted scenes
"$geoloc" evaluate --model isn.safetensors --meta m_shift.csv --images img --json >agree.json 2>/dev/null
check "scene agreement: JSON" 'python3 - <<"EOF"
import csv, json
order = ["indoor", "natural", "urban"]
d = json.load(open("pred_hard.json"))
items = d if isinstance(d, list) else d.get("predictions", d.get("photos", [d]))
pred = {(x["file"] if "file" in x else x["name"]).split("/")[-1]: order.index(x["scene"]["S3"]["name"]) for x in items}
rows = [r for r in csv.DictReader(open("m_shift.csv")) if r["S3_Label"] != ""]
conf = [[0] * 3 for _ in range(3)]
for r in rows:
    conf[int(r["S3_Label"])][pred[r["IMG_ID"]]] += 1
same = sum(conf[i][i] for i in range(3))
got = json.load(open("agree.json"))["scene_agreement"]
assert set(got) == {"S3"}, got
assert got["S3"]["photos"] == len(rows) == 3 and got["S3"]["confusion"] == conf, (got, conf)
assert abs(got["S3"]["agreement"] - same / len(rows)) < 1e-6 and same == 0, got
EOF'
run_geoloc evaluate --model isn.safetensors --meta m_pred.csv --images img
expect_match 0 "S3 +6 photos +100.00%" out "scene agreement: text, all agree"
expect_match 0 "S3 confusion \(rows: S3_Label, columns: predicted\)" out "scene agreement: confusion matrix"
"$geoloc" evaluate --model isn.safetensors --meta m_none.csv --images img --json >none.json 2>/dev/null
check "scene agreement: null without labels" 'python3 -c "import json; assert json.load(open(\"none.json\"))[\"scene_agreement\"] is None"'
"$geoloc" evaluate --model plain.safetensors --meta m_pred.csv --images img --json >plain.json 2>/dev/null
check "scene agreement: null without scene heads" 'python3 -c "import json; assert json.load(open(\"plain.json\"))[\"scene_agreement\"] is None"'
finish
