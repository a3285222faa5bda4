#!/usr/bin/env bash
# Compares two geoloc binaries (e.g. a build of an earlier commit and the
# current one) on the engine, loader and partition benchmarks, alternating
# them round by round in one sitting so that machine noise hits both alike:
#
#   bash bench/compare.sh OLD/geoloc NEW/geoloc [ROUNDS]      (default 2 rounds)
#
# Prints per round: ResNet-50 inference images/s at batch 32, ms at batch 1,
# training images/s at batch 32 (geoloc bench nn, 1000 classes), the loader's
# photos/s on one thread (the shared Im2GPS3k photos), and then each binary's
# geoloc bench cells summary.
set -euo pipefail
old=${1:?usage: bench/compare.sh OLD_GEOLOC NEW_GEOLOC [ROUNDS]}
new=${2:?usage: bench/compare.sh OLD_GEOLOC NEW_GEOLOC [ROUNDS]}
rounds=${3:-2}
photos="$(cd "$(dirname "$0")/.." && pwd)/../shared/data/im2gps3k-dev/images"
field() { grep -o "$1=[0-9.]*" | head -1; }
for r in $(seq "$rounds"); do
  for b in old new; do
    bin=${!b}
    infer=$("$bin" bench nn --arch resnet50 --batch 32 --mode infer --iters 3 --warmup 1 | field images/s)
    latency=$("$bin" bench nn --arch resnet50 --batch 1 --mode infer --iters 10 --warmup 2 | field ms/batch)
    train=$("$bin" bench nn --arch resnet50 --batch 32 --mode train --iters 2 --warmup 1 | field images/s)
    loader="(no shared photos)"
    [ -d "$photos" ] && loader=$("$bin" bench loader "$photos" --threads 1 | grep -o "best: [0-9]* photos/s")
    echo "round $r $b: infer b32 $infer  b1 $latency  train b32 $train  loader $loader"
  done
done
for b in old new; do
  echo "$b: $("${!b}" bench cells --runs 2 | grep -o "best .*peak RSS [0-9]* MiB")"
done
