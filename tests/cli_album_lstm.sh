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
#   held-out photos gives the figures album train printed; `geoloc predict
#   --album-by column:AUTHOR --album-method lstm --album-lstm` answers each
#   held-out photo as evaluate's --out does (its "photo" as evaluate without
#   albums), and refuses lstm without --album-lstm, --album-lstm without lstm,
#   lstm with --distribution, and an album LSTM of another model (by name); a
#   file that is no features cache is refused by name.
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
# predict --album-method lstm: every held-out photo (given in manifest order) answered as
# evaluate --album-method lstm answers it (--out: its per-photo answers), "photo" as
# evaluate without albums, the album named blstm with its photographer's photos
run_geoloc evaluate --model "$tmp/geo.safetensors" --meta "$tmp/fv.csv" --images "$shared/im2gps3k-dev/images" \
    --album-by column:AUTHOR --album-method lstm --album-lstm "$tmp/blstm.safetensors" --out "$tmp/eval_lstm.csv"
check "evaluate --album-method lstm --out ($rc)" '[ $rc -eq 0 ] && [ -s "$tmp/eval_lstm.csv" ]'
run_geoloc evaluate --model "$tmp/geo.safetensors" --meta "$tmp/fv.csv" --images "$shared/im2gps3k-dev/images" \
    --out "$tmp/eval_single.csv"
check "evaluate single photos --out ($rc)" '[ $rc -eq 0 ] && [ -s "$tmp/eval_single.csv" ]'
mapfile -t held < <(python3 -c "import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')): print(sys.argv[2] + '/' + r['IMG_ID'])" \
    "$tmp/fv.csv" "$shared/im2gps3k-dev/images")
run_geoloc predict --model "$tmp/geo.safetensors" --album-by column:AUTHOR --meta "$tmp/fv.csv" \
    --album-method lstm --album-lstm "$tmp/blstm.safetensors" --format json "${held[@]}"
echo "$out" > "$tmp/predict_lstm.json"
check "predict --album-method lstm: evaluate's answers (${#held[@]} photos, $rc)" "python3 - '$tmp/predict_lstm.json' \
    '$tmp/eval_lstm.csv' '$tmp/eval_single.csv' '$tmp/fv.csv' <<'EOF2'
import csv, json, os, sys
def answers(path):
    rows = list(csv.reader(open(path, newline='')))
    rows = rows[1:rows.index([])] # the photos' rows, up to the blank line before the summary
    return {r[0]: (float(r[2]), float(r[4])) for r in rows}
album, single = answers(sys.argv[2]), answers(sys.argv[3])
author = {r['IMG_ID']: r['AUTHOR'] for r in csv.DictReader(open(sys.argv[4], newline=''))}
got = json.load(open(sys.argv[1]))['predictions']
assert len(got) == len(author) == len(album) == len(single) > 0, (len(got), len(author), len(album))
near = lambda a, b: abs(a[0] - b[0]) < 2e-6 and abs(a[1] - b[1]) < 2e-6
moved = 0
for p in got:
    name = os.path.basename(p['file'])
    assert p['album']['method'] == 'blstm' and p['album']['id'] == author[name], p['album']
    assert p['album']['size'] == sum(a == author[name] for a in author.values()), p['album']
    assert near((p['lat'], p['lon']), album[name]), (name, p['lat'], p['lon'], album[name])
    assert near((p['photo']['lat'], p['photo']['lon']), single[name]), (name, p['photo'], single[name])
    moved += not near(album[name], single[name])
assert moved > 0, 'the album LSTM moved no answer: the check would not tell it from the photo alone'
EOF2"
run_geoloc predict --model "$tmp/geo.safetensors" --album --album-method lstm "${held[0]}"
expect_match 2 "needs --album-lstm" err "predict: lstm without --album-lstm"
run_geoloc predict --model "$tmp/geo.safetensors" --album --album-lstm "$tmp/blstm.safetensors" "${held[0]}"
expect_match 2 "needs --album-method lstm" err "predict: --album-lstm without lstm"
run_geoloc predict --model "$tmp/geo.safetensors" --album --album-method lstm --album-lstm "$tmp/blstm.safetensors" \
    --format csv --distribution "${held[0]}"
expect_match 2 "no distribution" err "predict: lstm with --distribution"
# a heads model of other partitions (the same cache): its album LSTM file is refused by name
run_geoloc train --images "$shared/im2gps3k-dev/images" --backbone "$tmp/rand18.safetensors" --image-size 96 \
    --tau-min 0 --tau-max 6 --epochs 1 --batch 16 --calibration-folds 0 --views 3 \
    --features "$tmp/cache.safetensors" --out "$tmp/geo1.safetensors" "$tmp/albums.csv"
check "a second heads model ($rc)" '[ $rc -eq 0 ] && [ -s "$tmp/geo1.safetensors" ]'
run_geoloc predict --model "$tmp/geo1.safetensors" --album --album-method lstm --album-lstm "$tmp/blstm.safetensors" \
    "${held[0]}"
check "predict: an album LSTM of another model refused, named ($rc)" \
    '[ $rc -eq 2 ] && grep -q "blstm.safetensors.*partitions" <<<"$err"'
run_geoloc evaluate --model "$tmp/geo.safetensors" --meta "$tmp/fv.csv" --images "$shared/im2gps3k-dev/images" \
    --album-by column:AUTHOR --album-method lstm
expect_match 2 "needs --album-lstm" err "evaluate: lstm without --album-lstm"
run_geoloc album train --model "$tmp/geo.safetensors" --features "$tmp/rand18.safetensors" --meta "$tmp/albums.csv" \
    --val-fold 0/4 --out "$tmp/x.safetensors"
check "a file that is no features cache: refused, named ($rc)" '[ $rc -ne 0 ] && [ $rc -ne 2 ] && grep -q "rand18.safetensors" <<<"$err"'
finish
