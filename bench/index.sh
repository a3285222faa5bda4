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
# FAISS from Debian (libfaiss-dev, with its BLAS) on the same vectors, when installed
if [ -f /usr/include/faiss/IndexFlat.h ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  g++ -O2 -fopenmp "$repo/bench/index_faiss.cpp" -o "$tmp/index_faiss" -lfaiss -lblas -llapack
  for n in 2000 100000 1000000; do
    # flat float32 at 1M is 8 GB: only the quantised indexes there
    for kind in flat sq8 fp16; do
      [ "$n" = 1000000 ] && [ "$kind" != sq8 ] && continue
      for threads in 1 2; do
        printf 'threads %s  ' "$threads"
        OMP_NUM_THREADS=$threads "$tmp/index_faiss" "$n" "$kind"
      done
    done
  done
fi
