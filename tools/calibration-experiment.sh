#!/usr/bin/env bash
# The calibration measurement of issue 12 on photographers held out from both
# training and calibration:
#   1. the 1,997 Im2GPS3k dev photos split by AUTHOR (SPLIT_SEED): 75 % of the
#      authors to fit, 25 % to test (`geoloc train --val-fraction 0.25`: the
#      validation photos are the test photos);
#   2. `geoloc train` (heads mode, the default model's recipe: 6 views) trains
#      the heads on the fit authors and calibrates them on the out-of-fold
#      answers of the same photos (--calibration-folds K, default 5: heads
#      trained on K-1 author-grouped folds answer the K-th);
#   3. at the end it measures the calibrated model on the test authors (in
#      neither): how often the 50 % and 90 % radii hold the truth, their
#      medians, the share answered, and the single constant radius that would
#      hold 90 % of them (an oracle) to compare with the median 90 % radius.
#
#   tools/calibration-experiment.sh [BUILD_DIR]     (default: build)
#
# VAL_FOLD=K/N instead tests on fold K of N author-grouped folds of all the
# dev photos (`geoloc train --val-fold`: the largest photographers spread
# over the folds first), so that K = 0..N-1 tests every photographer once.
# SPLIT_SEED (default 7) chooses the fit/test author split (and the folds);
# FOLDS the number of folds. FOLDS=0 measures the former method instead, split
# conformal on held-out authors: the fit photos (`geoloc dataset split`, the
# same author split) trained on 70 % of their authors with 3 views and
# calibrated on the other 30 % (--calibration-folds 0), the test photos
# through `geoloc evaluate` (their features are not cached: 10-15 minutes). The features of all dev photos (6 views) are
# extracted once (10-17 minutes on 2 cores) into FEATURES (default
# BUILD_DIR/default-model/features6.safetensors, the cache of
# tools/train-default-model.sh): the same cache serves every split, so each
# further split takes about a minute per fold.
#
# Reading the 50 % coverage: the test side is not a random sample of the
# photos. The split fills it with the authors that fit under 25 %, so the
# largest ones stay on the fit side (on seeds 7-11 the three with 235, 117 and
# 114 photos are never in test), and their out-of-fold answers are harder
# (heads without them lack their regions: mean score 0.51-0.56 against
# 0.40-0.46 for authors of at most 40 photos). Hence q50 is high for the small
# authors that make up the test side, which over-covers (mean 58 %; the fold
# heads answering the test photos over-cover as much, so the final heads are
# not the cause). The test side also has only 32-53 authors: an
# author-bootstrap of its coverage has a standard deviation of 3.4-5.3 points
# at 50 % and 1.6-4.0 at 90 %.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build;; esac
data=${GEOLOC_SHARED_DATA:-$repo/../shared/data}/im2gps3k-dev
seed=${SPLIT_SEED:-7}
folds=${FOLDS:-5}
work=${WORK:-$build/calibration-experiment-$seed}
features=${FEATURES:-$build/default-model/features6.safetensors}
mkdir -p "$work" "$(dirname "$features")"
if [ "$folds" = 0 ]; then
  "$build/geoloc" dataset split "$data/im2gps3k_dev.csv" --val-fraction 0.25 --seed "$seed" \
    --out-train "$work/fitA.csv" --out-val "$work/testB.csv"
  "$build/geoloc" train --images "$data/images" --val-fraction 0.3 --seed 1 --tau-min 5 --tau-max 200,100,50 \
    --views 3 --calibration-folds 0 --features "$work/featuresA.safetensors" --out "$work/modelA.safetensors" \
    "$work/fitA.csv" 2>&1 | grep -E 'split by author|calibrat'
  "$build/geoloc" evaluate --model "$work/modelA.safetensors" --meta "$work/testB.csv" --images "$data/images" \
    --out "$work/resultsB.csv" | grep -E '^(photos|radius|answered)' | tee "$work/evaluateB.txt"
  # the oracle: the smallest constant radius holding the truth of 90 % of testB's photos
  awk -F, 'NR > 1 && /^\r?$/ { exit } NR > 1 { print $6 + 0 }' "$work/resultsB.csv" | sort -g |
    awk '{ v[NR] = $1 } END { k = int(0.9 * NR + 0.999999); printf "constant radius holding 90 %% of the %d test photos: %.0f km\n", NR, v[k] }' |
    tee -a "$work/evaluateB.txt"
  exit 0
fi
held_out=(--val-fraction 0.25)
[ -n "${VAL_FOLD:-}" ] && held_out=(--val-fold "$VAL_FOLD")
"$build/geoloc" train --images "$data/images" "${held_out[@]}" --seed "$seed" --tau-min 5 --tau-max 200,100,50 \
  --calibration-folds "$folds" --features "$features" --out "$work/model.safetensors" "$data/im2gps3k_dev.csv" 2>&1 |
  grep -E 'split by author|validation: fold|calibrat' | tee "$work/calibration.txt"
