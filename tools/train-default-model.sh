#!/usr/bin/env bash
# Trains the default model's geo heads, share/geoloc/geoloc-default.safetensors:
# the ImageNet ResNet-50 (tools/fetch-backbone.sh) kept frozen, linear heads for
# three partitions built on the training photos and scene heads at S3, S16 and
# S365 (Places365 names from share/geoloc/scenes), trained on
# cached backbone features of the 1,997 Im2GPS3k dev photos with a validation
# split grouped by AUTHOR (seed 1, 20 %). Prints the two baselines and the
# validation accuracy after every epoch (the README's table). The model is
# calibrated at the end of training (confidence radii and "unknown":
# include/geoloc/calibration.h) on the out-of-fold answers of the 1,598
# training photos (5 folds grouped by author, --calibration-folds), then
# measured on the 399 validation photos, which are in neither.
# The model then gets its int8 ranges (geoloc model quantize on 256 photos of
# the training split). Then, on the same split, the helper network
# share/geoloc/geoloc-scene.safetensors: a scene classifier (S3, S16, S365
# heads, no partitions; geoloc scene train) whose last line prints each
# level's agreement with the Places365 labels of the 399 held-out photos; last,
# WORK/geoloc-scene-tuned.safetensors, the same with ResNet layer 4 fine-tuned.
#
#   tools/train-default-model.sh [BUILD_DIR]     (default: build)
#
# Feature extraction (6 views of each photo) takes 10-17 minutes on 2 cores,
# the training with its 5 calibration folds about a minute;
# the features are cached in WORK (default build/default-model), so reruns
# with other head settings take seconds. The same command trains on MP-16
# (or any manifest + photos) with its own paths.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build;; esac
data=${GEOLOC_SHARED_DATA:-$repo/../shared/data}
work=${WORK:-$build/default-model}
mkdir -p "$work"
ship() { # copies WORK/NAME to share/geoloc/NAME (complete or not at all)
  cp "$work/$1" "$repo/share/geoloc/$1.tmp"
  mv "$repo/share/geoloc/$1.tmp" "$repo/share/geoloc/$1"
  echo "train-default-model: wrote share/geoloc/$1"
}
"$build/geoloc" train --images "$data/im2gps3k-dev/images" --val-fraction 0.2 --seed 1 \
  --tau-min 5 --tau-max 200,100,50 --scene S3,S16,S365 --baselines \
  --features "$work/features6.safetensors" --out "$work/geoloc-default.safetensors" \
  "$data/im2gps3k-dev/im2gps3k_dev.csv"
# int8 ranges (predict --precision int8) from 256 photos of the same training split
"$build/geoloc" dataset split --val-fraction 0.2 --seed 1 --out-train "$work/im2gps3k_dev-train-split-seed1.csv" --out-val "$work/im2gps3k_dev-val-split-seed1.csv" \
  "$data/im2gps3k-dev/im2gps3k_dev.csv"
"$build/geoloc" model quantize --model "$work/geoloc-default.safetensors" --calib "$work/im2gps3k_dev-train-split-seed1.csv" \
  --images "$data/im2gps3k-dev/images" --photos 256 --out "$work/geoloc-default-int8.safetensors" --overwrite
mv "$work/geoloc-default-int8.safetensors" "$work/geoloc-default.safetensors"
ship geoloc-default.safetensors
"$build/geoloc" scene train --scene S3,S16,S365 --images "$data/im2gps3k-dev/images" --val-fraction 0.2 --seed 1 \
  --features "$work/features6.safetensors" --out "$work/geoloc-scene.safetensors" \
  "$data/im2gps3k-dev/im2gps3k_dev.csv"
ship geoloc-scene.safetensors
# the better helper fine-tunes ResNet layer 4 with its scene heads (8 epochs, about 16 minutes on
# 2 cores): heads and layer 4 in float16 over the backbone file, 33 MB, so it stays in WORK
# (too large to commit): geoloc scene label --model "$work/geoloc-scene-tuned.safetensors" ...
"$build/geoloc" scene train --scene S3,S16,S365 --images "$data/im2gps3k-dev/images" --val-fraction 0.2 --seed 1 \
  --mode full --tune-from 4 --epochs 8 --lr 0.01 --batch 32 --micro-batch 32 --lr-schedule cosine:8 \
  --out "$work/geoloc-scene-tuned.safetensors" "$data/im2gps3k-dev/im2gps3k_dev.csv"
