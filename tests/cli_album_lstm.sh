#!/usr/bin/env bash
# Tests of `geoloc album train` (PlaNet's LSTM over albums).
# usage: cli_album_lstm.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage errors: no --out, a bad --val-fold, --val-fold with --val-fraction;
# - with the dev photos' features cache ($GEOLOC_FEATURES_CACHE, default
#   <build>/default-model/features6.safetensors, made by
#   tools/train-default-model.sh) and the default model: a bidirectional run on
#   fold 0 of 5: the training loss falls from the first epoch to the last, the
#   file is written, the held-out table has the single-photo and BLSTM rows.
# The data part is skipped (exit 77) when the cache or the shared data is absent.
. "$(dirname "$0")/lib.sh"
test_setup cli_album_lstm "$@"
build=$(cd "$(dirname "$geoloc")" && pwd)

run_geoloc album train --model m --features f --meta x.csv
expect_match 2 "out" err "no --out"
run_geoloc album train --model m --features f --meta x.csv --out o --val-fold 5/5
expect_match 2 "K/N" err "fold 5 of 5"
run_geoloc album train --model m --features f --meta x.csv --out o --val-fold 0/5 --val-fraction 0.2
expect_match 2 "excludes" err "--val-fold with --val-fraction"

cache=${GEOLOC_FEATURES_CACHE:-$build/default-model/features6.safetensors}
meta=$shared/im2gps3k-dev/im2gps3k_dev.csv
model=$build/../share/geoloc/geoloc-default.safetensors
[ -f "$meta" ] || skip_rest "SKIP: $meta not found (shared data)"
[ -f "$cache" ] || skip_rest "SKIP: no features cache at $cache (tools/train-default-model.sh makes it)"

run_geoloc album train --model "$model" --features "$cache" --meta "$meta" --val-fold 0/5 --bidirectional \
    --hidden 16 --epochs 4 --albums 400 --out "$tmp/blstm.safetensors"
expect_match 0 "BLSTM  " out "bidirectional run"
expect_match 0 "single photo  " out "single-photo row"
check "the LSTM file is written" '[ -s "$tmp/blstm.safetensors" ]'
first=$(sed -n 's/^epoch 1: loss //p' <<<"$err")
last=$(sed -n 's/^epoch 4: loss //p' <<<"$err")
check "training loss falls ($first -> $last)" \
    "[ -n \"$first\" ] && [ -n \"$last\" ] && awk -v a=\"$first\" -v b=\"$last\" 'BEGIN { exit !(b < a) }'"
finish
