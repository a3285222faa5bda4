#!/usr/bin/env bash
# Trains the shipped helper network, share/geoloc/geoloc-scene.safetensors: a
# scene classifier (Müller-Budack et al., ECCV 2018) with heads for S3, S16 and
# S365 on the frozen ImageNet ResNet-50 (tools/fetch-backbone.sh), trained on
# cached backbone features (6 views) of the 1,598 training photos of the
# Im2GPS3k dev photos' seed-1 author split (--val-fraction 0.2 --seed 1, the
# default model's split) with their Places365 labels, and measured every epoch
# on the 399 validation photos, whose photographers it never saw: the last
# line prints each level's agreement with the Places365 ResNet-152 labels.
#
#   tools/train-scene-helper.sh [BUILD_DIR]      (default: build)
#
# Feature extraction takes 10-17 minutes on 2 cores unless WORK (default
# BUILD_DIR/default-model, shared with tools/train-default-model.sh) holds the
# cache; the training about 1.5 minutes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build;; esac
data=${GEOLOC_SHARED_DATA:-$repo/../shared/data}
work=${WORK:-$build/default-model}
mkdir -p "$work"
"$build/geoloc" scene train --scene S3,S16,S365 --images "$data/im2gps3k-dev/images" --val-fraction 0.2 --seed 1 \
  --features "$work/features6.safetensors" --out "$work/geoloc-scene.safetensors" \
  "$data/im2gps3k-dev/im2gps3k_dev.csv"
cp "$work/geoloc-scene.safetensors" "$repo/share/geoloc/geoloc-scene.safetensors.tmp"
mv "$repo/share/geoloc/geoloc-scene.safetensors.tmp" "$repo/share/geoloc/geoloc-scene.safetensors"
echo "train-scene-helper: wrote share/geoloc/geoloc-scene.safetensors"
