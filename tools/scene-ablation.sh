#!/usr/bin/env bash
# The scene tables of Müller-Budack et al. (ECCV 2018) on the data here: the
# base model, the multi-task network (MTN) with scene heads at S3, S16, S365
# and all three, Individual Scene Networks (ISN) routed hard, soft, by the
# common heads (none) and by the true scene (oracle), and scene labels
# propagated by a helper network against true labels. Every variant is heads
# on the frozen ImageNet ResNet-50 (cached features, 6 views), trained on the
# 1,598 training photos of the seed-1 author split (--val-fraction 0.2
# --seed 1) and measured by `geoloc evaluate --model` on its 399 validation
# photos, whose photographers none of the training photos have: accuracy at
# 1/25/200/750/2500 km, by S3 scene, and each model's scene agreement.
#
# Label propagation: the training photos of half of the training authors
# (geoloc dataset split --val-fraction 0.5 --seed 3 of the training manifest)
# lose their scene labels; a helper (geoloc scene train) learns the three
# levels from the other half, and the MTN is trained with the true labels of
# one half plus the helper's labels for the other (--scene-labels
# helper:MODEL), with the true labels of one half only, and with all true labels.
#
#   tools/scene-ablation.sh [BUILD_DIR]        (default: build)
#
# Prints a markdown table (also in WORK/ablation.md). Feature extraction takes
# 10-17 minutes on 2 cores when WORK (default BUILD_DIR/scene-ablation) has no
# cache yet; each evaluation then about 1.5 minutes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build;; esac
data=${GEOLOC_SHARED_DATA:-$repo/../shared/data}
work=${WORK:-$build/scene-ablation}
geoloc=$build/geoloc
manifest=$data/im2gps3k-dev/im2gps3k_dev.csv
images=$data/im2gps3k-dev/images
mkdir -p "$work"
cd "$work"
start=$SECONDS
step() { echo "scene-ablation: $* ($((SECONDS - start)) s)" >&2; }

"$geoloc" dataset split --val-fraction 0.2 --seed 1 --out-train train.csv --out-val val.csv "$manifest" >&2
"$geoloc" dataset split --val-fraction 0.5 --seed 3 --out-train known.csv --out-val hidden.csv train.csv >&2
# the manifest with the hidden half's scene labels (and S3 probabilities) blanked
/usr/bin/env python3 - "$manifest" hidden.csv half.csv <<'EOF'
import csv, sys
hidden = {r["IMG_ID"] for r in csv.DictReader(open(sys.argv[2], newline=""))}
rows = list(csv.reader(open(sys.argv[1], newline="")))
head = rows[0]
blank = [head.index(c) for c in ("S3_Label", "S16_Label", "S365_Label", "Prob_indoor", "Prob_natural", "Prob_urban")]
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(head)
    for r in rows[1:]:
        if r[head.index("IMG_ID")] in hidden:
            for c in blank:
                r[c] = ""
        w.writerow(r)
EOF

common=(--images "$images" --val-fraction 0.2 --seed 1 --tau-min 5 --tau-max 200,100,50
        --features "$work/features6.safetensors" --calibration-folds 0)
train() { # NAME MANIFEST OPTIONS...
  local name=$1 m=$2
  shift 2
  [[ -s $name.safetensors ]] || "$geoloc" train "${common[@]}" "$@" --out "$name.safetensors" "$m" > "$name.train.log" 2>&1
  step "trained $name"
}
evaluate() { # NAME MODEL OPTIONS...
  local name=$1 model=$2
  shift 2
  [[ -s $name.json ]] || "$geoloc" evaluate --model "$model" --meta val.csv --images "$images" --json "$@" > "$name.json"
  step "evaluated $name"
}

train base "$manifest" --scene none
train mtn-s3 "$manifest" --scene S3
train mtn-s16 "$manifest" --scene S16
train mtn-s365 "$manifest" --scene S365
train mtn-all "$manifest" --scene S3,S16,S365
train isn "$manifest" --scene S3 --isn
train half-true half.csv --scene S3,S16,S365
[[ -s helper.safetensors ]] || "$geoloc" scene train --scene S3,S16,S365 --images "$images" --val-fraction 0.2 \
  --seed 1 --features "$work/features6.safetensors" --out helper.safetensors half.csv > helper.train.log 2>&1
step "trained the helper"
train propagated half.csv --scene S3,S16,S365 --scene-labels helper:"$work/helper.safetensors"

for v in base mtn-s3 mtn-s16 mtn-s365 mtn-all half-true propagated; do evaluate "$v" "$v.safetensors"; done
for r in none hard soft oracle; do evaluate "isn-$r" isn.safetensors --isn "$r"; done

/usr/bin/env python3 - > ablation.md <<'EOF'
import json
rows = [("base (geo heads only)", "base"), ("MTN, S3", "mtn-s3"), ("MTN, S16", "mtn-s16"), ("MTN, S365", "mtn-s365"),
        ("MTN, S3 + S16 + S365", "mtn-all"), ("ISN (S3), common heads", "isn-none"), ("ISN, hard routing", "isn-hard"),
        ("ISN, soft routing", "isn-soft"), ("ISN, oracle routing (true S3)", "isn-oracle"),
        ("MTN, all three, true labels of half the training authors only", "half-true"),
        ("MTN, all three, true + helper-propagated labels", "propagated")]
keys = ["1km", "25km", "200km", "750km", "2500km"]
print("| variant | " + " | ".join(k.replace("km", " km") for k in keys) + " | median | 2500 km indoor / natural / urban | scene agreement S3 / S16 / S365 |")
print("|---|" + "---|" * (len(keys) + 3))
for label, name in rows:
    d = json.load(open(name + ".json"))
    acc = " | ".join("%.1f %%" % (100 * d["accuracy"][k]) for k in keys)
    sc = d.get("scenes") or {}
    by = " / ".join("%.1f" % (100 * sc[s]["accuracy"]["2500km"]) if s in sc else "-" for s in ("indoor", "natural", "urban"))
    ag = d.get("scene_agreement") or {}
    agree = " / ".join("%.1f" % (100 * ag[l]["agreement"]) if l in ag else "-" for l in ("S3", "S16", "S365"))
    print("| %s | %s | %.0f km | %s | %s |" % (label, acc, d["median_km"], by, agree))
EOF
cat ablation.md
grep -h -i "scene" helper.train.log | tail -3
step done
