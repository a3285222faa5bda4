#!/usr/bin/env bash
# Queries per second of the feature index's exact scan (geoloc bench index) on
# synthetic unit vectors of width 2048, k = 50, at 2k, 100k and 1M vectors,
# f16 and i8, with one OpenMP thread and with two; single queries (what
# predict does) and batches of 64 (what evaluate could do). A benchmark, not
# a test: the figures depend on the machine and on what else runs on it.
#   bench/index.sh [BUILD_DIR]     (default: build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
for n in 2000 100000 1000000; do
  queries=$(( n >= 1000000 ? 10 : n >= 100000 ? 20 : 200 ))
  for precision in i8 f16; do
    for threads in 1 2; do
      printf 'threads %s  ' "$threads"
      OMP_NUM_THREADS=$threads "$build/geoloc" bench index --n "$n" --dim 2048 --k 50 --queries "$queries" \
        --batch 64 --precision "$precision"
    done
  done
done
