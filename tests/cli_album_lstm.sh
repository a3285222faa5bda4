#!/usr/bin/env bash
# Tests of `geoloc album train` (PlaNet's LSTM over albums).
# usage: cli_album_lstm.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR TRAIN_FIXTURE
#
# - usage errors: no --out, a bad --val-fold, --val-fold with --val-fraction;
# - albums of 8 dev photographers (8 photos each), a heads model and its
#   features cache on a random ResNet-18 made here (seconds): a bidirectional
#   run on fold 0 of 4: the training loss falls by 10 % from the first epoch to
#   the last, the file is written, the held-out table has the single-photo and
#   BLSTM rows; `geoloc evaluate --album-method mean,lstm --album-lstm` on the
#   held-out photos gives the figures album train printed; a file that is no
#   features cache is refused by name.
# The data part is skipped (exit 77) when the shared data is absent.
. "$(dirname "$0")/lib.sh"
test_setup cli_album_lstm "$@"
fixture=${4:-}

run_geoloc album train --model m --features f --meta x.csv
expect_match 2 "out" err "no --out"
run_geoloc album train --model m --features f --meta x.csv --out o --val-fold 5/5
expect_match 2 "K/N" err "fold 5 of 5"
run_geoloc album train --model m --features f --meta x.csv --out o --val-fold 0/5 --val-fraction 0.2
expect_match 2 "excludes" err "--val-fold with --val-fraction"

meta=$shared/im2gps3k-dev/im2gps3k_dev.csv
[ -f "$meta" ] || skip_rest "SKIP: $meta not found (shared data)"
[ -x "$fixture" ] || skip_rest "SKIP: no train_fixture"

# albums: 8 photos of each of the first 8 photographers with at least 8 photos
python3 - "$meta" "$tmp/albums.csv" <<'EOF2'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
head, body = rows[0], rows[1:]
author = head.index('AUTHOR')
count = {}
for r in body: count[r[author]] = count.get(r[author], 0) + 1
keep = [a for a in dict.fromkeys(r[author] for r in body) if count[a] >= 8][:8]
out = [r for a in keep for r in [x for x in body if x[author] == a][:8]]
csv.writer(open(sys.argv[2], 'w', newline=''), lineterminator='\n').writerows([head] + out)
EOF2
# a heads model and its features cache on a random ResNet-18 (96 px: seconds)
"$fixture" "$tmp/rand18.safetensors" 18 3 || fail "train_fixture"
run_geoloc train --images "$shared/im2gps3k-dev/images" --backbone "$tmp/rand18.safetensors" --image-size 96 \
    --tau-min 0 --tau-max 8,4 --epochs 3 --batch 16 --calibration-folds 0 --views 3 \
    --features "$tmp/cache.safetensors" --out "$tmp/geo.safetensors" "$tmp/albums.csv"
check "heads model and cache ($rc)" '[ $rc -eq 0 ] && [ -s "$tmp/cache.safetensors" ] && [ -s "$tmp/geo.safetensors" ]'

export GEOLOC_DATA_DIR=$tmp # the heads model names its backbone, rand18.safetensors, found here
run_geoloc album train --model "$tmp/geo.safetensors" --features "$tmp/cache.safetensors" --meta "$tmp/albums.csv" \
    --val-fold 0/4 --bidirectional --hidden 16 --epochs 6 --albums 200 --out "$tmp/blstm.safetensors"
expect_match 0 "BLSTM  " out "bidirectional run"
expect_match 0 "single photo  " out "single-photo row"
check "the LSTM file is written" '[ -s "$tmp/blstm.safetensors" ]'
first=$(sed -n 's/^epoch 1: loss //p' <<<"$err")
last=$(sed -n 's/^epoch 6: loss //p' <<<"$err")
check "training loss falls ($first -> $last)" \
    "[ -n \"$first\" ] && [ -n \"$last\" ] && awk -v a=\"$first\" -v b=\"$last\" 'BEGIN { exit !(b < 0.9 * a) }'"
# evaluate --album-method lstm: the held-out fold (the same folds: seed 1) answered from
# its photos by the saved BLSTM, as album train measured it from the cache
echo "$out" > "$tmp/train_table.txt"
"$geoloc" dataset split --fold 0/4 --seed 1 --out-train "$tmp/ft.csv" --out-val "$tmp/fv.csv" "$tmp/albums.csv" 2>/dev/null
run_geoloc evaluate --model "$tmp/geo.safetensors" --meta "$tmp/fv.csv" --images "$shared/im2gps3k-dev/images" \
    --album-by column:AUTHOR --album-method mean,lstm --album-lstm "$tmp/blstm.safetensors" --json
echo "$out" > "$tmp/evaluate.json"
check "evaluate --album-method mean,lstm: each as album train measured it ($rc)" "python3 - '$tmp/train_table.txt' '$tmp/evaluate.json' <<'EOF2'
import json, sys
table = {l[:14].strip(): [float(v) for v in l[14:].replace('%', ' ').split()] for l in open(sys.argv[1]) if '%' in l}
got = {a['method']: a for a in json.load(open(sys.argv[2]))['albums']}
assert set(got) == {'mean', 'blstm'}, got.keys()
for name, row in (('mean', 'mean'), ('blstm', 'BLSTM')):
    want = table[row]
    have = [100 * got[name]['accuracy'][k] for k in ('1km', '25km', '200km', '750km', '2500km')]
    assert all(abs(w - h) < 0.051 for w, h in zip(want, have)), (name, want, have)
EOF2"
run_geoloc evaluate --model "$tmp/geo.safetensors" --meta "$tmp/fv.csv" --images "$shared/im2gps3k-dev/images" \
    --album-by column:AUTHOR --album-method lstm
expect_match 2 "needs --album-lstm" err "evaluate: lstm without --album-lstm"
run_geoloc album train --model "$tmp/geo.safetensors" --features "$tmp/rand18.safetensors" --meta "$tmp/albums.csv" \
    --val-fold 0/4 --out "$tmp/x.safetensors"
check "a file that is no features cache: refused, named ($rc)" '[ $rc -ne 0 ] && [ $rc -ne 2 ] && grep -q "rand18.safetensors" <<<"$err"'
finish
