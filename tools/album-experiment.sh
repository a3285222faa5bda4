#!/usr/bin/env bash
# The album measurement of issue 13 on photographers held out from training:
#   1. the 1,997 Im2GPS3k dev photos in FOLDS (default 5) folds grouped by
#      AUTHOR (`geoloc dataset split --fold K/N`, the folds of `geoloc train
#      --val-fold K/N`; the largest photographers spread over the folds), so
#      that every photographer is tested once, by heads that never saw them;
#   2. for each fold, `geoloc train` (heads mode, the default model's recipe:
#      6 views, 5 calibration folds) on the other folds, from the features
#      cache of tools/train-default-model.sh (FEATURES);
#   3. `geoloc evaluate --model --album-by column:AUTHOR --album-method
#      METHODS` on the held-out fold: single-photo and album-fused answers from
#      one pass over its photos; no photo's position is used as evidence;
#   4. the figures pooled over the folds (each share weighted by its photos).
#
#   tools/album-experiment.sh [BUILD_DIR]     (default: build)
#
# SPLIT_SEED (default 7) draws the folds; WORK (default
# BUILD_DIR/album-experiment-SEED) keeps the models, so a rerun only
# evaluates; METHODS (default mean,logsum); LSTM=1 also trains PlaNet's
# LSTM and BLSTM on each fold's training authors (`geoloc album train
# --val-fold`, which prints their held-out accuracy); RETRIEVAL=1 also measures the
# knn and hybrid answers (`geoloc evaluate --answer`, an index of the
# training folds' photos from the features cache). Each fold's training takes 1-6
# minutes and its evaluation (about 400 photos, three crops) 1-3 minutes on
# 2 cores.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build;; esac
data=${GEOLOC_SHARED_DATA:-$repo/../shared/data}/im2gps3k-dev
seed=${SPLIT_SEED:-7}
folds=${FOLDS:-5}
methods=${METHODS:-mean,logsum}
work=${WORK:-$build/album-experiment-$seed}
features=${FEATURES:-$build/default-model/features6.safetensors}
mkdir -p "$work" "$(dirname "$features")"
for ((k = 0; k < folds; k++)); do
  "$build/geoloc" dataset split --fold "$k/$folds" --seed "$seed" --out-train "$work/train$k.csv" \
    --out-val "$work/test$k.csv" "$data/im2gps3k_dev.csv" 2>/dev/null
  [ -f "$work/model$k.safetensors" ] ||
    "$build/geoloc" train --images "$data/images" --val-fold "$k/$folds" --seed "$seed" --tau-min 5 \
      --tau-max 200,100,50 --features "$features" --out "$work/model$k.safetensors" "$data/im2gps3k_dev.csv" \
      >"$work/train$k.log" 2>&1
  "$build/geoloc" evaluate --model "$work/model$k.safetensors" --meta "$work/test$k.csv" --images "$data/images" \
    --album-by column:AUTHOR --album-method "$methods" --json >"$work/evaluate$k.json"
  if [ -n "${LSTM:-}" ]; then # PlaNet's LSTM and BLSTM, trained on the training folds' authors
    for dir in uni bi; do
      [ -f "$work/lstm-$dir$k.txt" ] ||
        "$build/geoloc" album train --model "$work/model$k.safetensors" --features "$features" \
          --meta "$data/im2gps3k_dev.csv" --val-fold "$k/$folds" --seed "$seed" $([ $dir = bi ] && echo --bidirectional) \
          --out "$work/lstm-$dir$k.safetensors" >"$work/lstm-$dir$k.txt" 2>"$work/lstm-$dir$k.log"
    done
  fi
  if [ -n "${RETRIEVAL:-}" ]; then # knn and hybrid: an index of the training folds' photos, k = 50
    "$build/geoloc" index build --meta "$work/train$k.csv" --features "$features" \
      --features-meta "$data/im2gps3k_dev.csv" --model "$work/model$k.safetensors" --out "$work/train$k.idx"
    for answer in knn hybrid; do
      "$build/geoloc" evaluate --model "$work/model$k.safetensors" --meta "$work/test$k.csv" \
        --images "$data/images" --answer "$answer" --index "$work/train$k.idx" --json >"$work/$answer$k.json"
    done
  fi
  echo "album-experiment: fold $k of $folds evaluated" >&2
done
python3 - "$work" "$folds" <<'EOF'
import json, os, sys
work, folds = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{work}/evaluate{k}.json")) for k in range(folds)]
keys = ["1km", "25km", "200km", "750km", "2500km"]

def pooled(parts):
    n = sum(p["n"] for p in parts)
    acc = [sum(p["n"] * p["accuracy"][key] for p in parts) / n for key in keys]
    radii = all(p["radius_km"] for p in parts)
    cover = [sum(p["n"] * p["radius_km"][c]["coverage"] for p in parts) / n for c in ("50", "90")] if radii else None
    return n, acc, cover

rows = [("single photo", [r for r in runs])]
for answer in ("knn", "hybrid"):
    if os.path.exists(f"{work}/{answer}0.json"):
        rows.append((f"single photo, {answer}", [json.load(open(f"{work}/{answer}{k}.json")) for k in range(folds)]))
for i, a in enumerate(runs[0]["albums"]):
    rows.append((f"album, {a['method']}", [r["albums"][i] for r in runs]))
for direction, name in (("uni", "LSTM"), ("bi", "BLSTM")):
    if os.path.exists(f"{work}/lstm-{direction}0.txt"):
        parts = []
        for k in range(folds): # album train's held-out table: "held-out: N photos ...", then rows of shares
            lines = open(f"{work}/lstm-{direction}{k}.txt").read().splitlines()
            n = int(next(l for l in lines if l.startswith("held-out:")).split()[1])
            row = next(l for l in lines if l[:14].strip() == name)
            shares = [float(v) / 100 for v in row[14:].replace("%", " ").split()]
            parts.append({"n": n, "accuracy": dict(zip(keys, shares)), "radius_km": None})
        rows.append((f"album, {name.lower()} (album train, {direction}directional)", parts))
print(f"{sum(r['n'] for r in runs)} photos of {folds} author-grouped folds, albums by AUTHOR "
      f"({sum(r['albums'][0]['albums'] for r in runs)} albums)")
print("| answers | " + " | ".join(k.replace("km", " km") for k in keys) + " | 50 % / 90 % radius holds |")
print("|---|" + "---|" * (len(keys) + 1))
for name, parts in rows:
    n, acc, cover = pooled(parts)
    held = f"{100 * cover[0]:.1f} % / {100 * cover[1]:.1f} %" if cover else "-"
    print(f"| {name} | " + " | ".join(f"{100 * v:.1f} %" for v in acc) + f" | {held} |")
EOF
