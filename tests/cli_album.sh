#!/usr/bin/env bash
# Tests of albums in `geoloc predict` (--album, --album-by folder|column:NAME,
# --album-method) and `geoloc evaluate --model --album-by column:NAME`.
# usage: cli_album.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage errors: --album with --album-by, a bad --album-by, column without
#   --meta, --meta without column, an unknown method, --resume;
# - with the shared data (a small untrained model on four dev photos of two
#   authors, copied into two folders): the JSON fields ("photo" = the photo
#   predicted alone, "album" = id, size, method), every photo of an album
#   given the same answer, photo order kept, the album answer independent of
#   the photos' order, a one-photo album equal to the photo alone, albums by
#   folder and by AUTHOR, logsum, text and CSV, an unknown column; evaluate's
#   fused table and its --out equal to predict's album answers.
# The shared-data part is skipped (exit 77) when SHARED_DATA_DIR is absent.
. "$(dirname "$0")/lib.sh"
test_setup cli_album "$@"
unset GEOLOC_MODEL
export GEOLOC_DATA_DIR=$tmp/data
mkdir -p "$GEOLOC_DATA_DIR"

py() { python3 -c "$1" <<<"$out"; }

# ---- usage errors (before any photo is read) ---------------------------------------
run_geoloc predict --album --album-by folder x.jpg
expect_match 2 "give one of them" err "--album with --album-by"
run_geoloc predict --album-by day x.jpg
expect_match 2 "folder or column:NAME" err "bad --album-by"
run_geoloc predict --album-by column: --meta m.csv x.jpg
expect_match 2 "folder or column:NAME" err "--album-by column: without a name"
run_geoloc predict --album-by column:AUTHOR x.jpg
expect_match 2 "needs --meta" err "column without --meta"
run_geoloc predict --album --meta m.csv x.jpg
expect_match 2 "--meta needs --album-by column:NAME" err "--meta without a column"
run_geoloc predict --album --album-method lstm x.jpg
expect_match 2 "album-method" err "unknown method"
run_geoloc predict --album --resume --out "$tmp/o.csv" --format csv x.jpg
expect_match 2 "resume" err "--resume with albums"
run_geoloc evaluate --meta m.csv --images . --album-by folder
expect_match 2 "column:NAME" err "evaluate --album-by folder"

dev=$shared/im2gps3k-dev
[ -f "$dev/im2gps3k_dev.csv" ] || skip_rest "shared data absent ($shared): album predictions skipped"

# ---- a small untrained model, four photos of two authors in two folders ----------------
"$geoloc" cells build --tau-min 5 --tau-max 400,100,30 --out-dir "$tmp/cells" "$dev/im2gps3k_dev.csv" >/dev/null 2>&1
model=$tmp/m18.safetensors
run_geoloc model init --cells "$tmp/cells/cells_5_400.csv,$tmp/cells/cells_5_100.csv,$tmp/cells/cells_5_30.csv" \
    --arch resnet18 --scenes indoor,natural,urban --image-size 64 --seed 3 "$model"
expect_match 0 "ResNet-18" out "model init"
# the first two photos of the first two authors with two or more (IMG_ID,AUTHOR)
mapfile -t rows < <(python3 -c "
import csv, sys
by = {}
for r in csv.DictReader(open(sys.argv[1])): by.setdefault(r['AUTHOR'], []).append(r['IMG_ID'])
two = [a for a in by if len(by[a]) >= 2][:2]
for a in two: print(by[a][0] + ',' + a); print(by[a][1] + ',' + a)
" "$dev/im2gps3k_dev.csv")
check "four photos of two authors" '[ ${#rows[@]} -eq 4 ]'
mkdir -p "$tmp/a" "$tmp/b"
photos=()
for k in 0 1 2 3; do
    id=${rows[$k]%%,*}
    folder=$tmp/a
    [ "${rows[$k]#*,}" = "${rows[0]#*,}" ] || folder=$tmp/b
    cp "$dev/images/$id" "$folder/$id"
    photos+=("$folder/$id")
done
{ head -1 "$dev/im2gps3k_dev.csv"; for r in "${rows[@]}"; do grep -F "${r%%,*}," "$dev/im2gps3k_dev.csv"; done; } >"$tmp/meta.csv"
P="--model $model --batch 3"

# each photo alone
run_geoloc predict $P --format json "${photos[@]}"
expect_match 0 '"predictions"' out "predict without albums"
cp "$tmp/out" "$tmp/alone.json"

# --album: one album of four; "photo" = the photo alone
run_geoloc predict $P --album --format json "${photos[@]}"
expect_match 0 '"album"' out "predict --album"
check "--album: fields, one answer, photo alone" "py \"
import json, sys
d = json.load(sys.stdin); a = json.load(open('$tmp/alone.json'))
p = d['predictions']; q = a['predictions']
assert [x['file'] for x in p] == [x['file'] for x in q], 'photo order'
assert all(x['album'] == {'id': 'all', 'size': 4, 'method': 'mean'} for x in p), p[0]['album']
assert len({(x['lat'], x['lon'], x['cell']) for x in p}) == 1, 'one album answer'
keys = ['lat', 'lon', 'cell', 'level', 'prob', 'partition', 'place', 'radius_km', 'unknown', 'top', 'scene']
for x, y in zip(p, q):
    assert list(x['photo'].keys()) == keys, list(x['photo'].keys())
    assert all(x['photo'][k] == y[k] for k in keys), (x['photo'], y)
\""
cp "$tmp/out" "$tmp/album_all.json"

# the photos' order does not change the album answer; the output keeps the order given
run_geoloc predict $P --album --format json "${photos[3]}" "${photos[1]}" "${photos[0]}" "${photos[2]}"
check "--album: order of the photos" "py \"
import json, sys
d = json.load(sys.stdin); a = json.load(open('$tmp/album_all.json'))
p = d['predictions']; q = a['predictions'][0]
assert p[0]['file'].endswith('${photos[3]##*/}') and p[1]['file'].endswith('${photos[1]##*/}')
assert all(abs(x['lat'] - q['lat']) < 1e-9 and abs(x['lon'] - q['lon']) < 1e-9 and x['cell'] == q['cell'] for x in p)
assert all(abs(x['top'][k]['prob'] - q['top'][k]['prob']) < 1e-5 for x in p for k in range(len(q['top'])))
\""

# a one-photo album: the photo's own answer
for method in mean logsum; do
    run_geoloc predict $P --album --album-method "$method" --format json "${photos[1]}"
    check "one-photo album ($method) = the photo" "py \"
import json, sys
x = json.load(sys.stdin)['predictions'][0]; y = json.load(open('$tmp/alone.json'))['predictions'][1]
assert x['album'] == {'id': 'all', 'size': 1, 'method': '$method'}
assert x['cell'] == y['cell'] and x['lat'] == y['lat'] and x['lon'] == y['lon'], (x['cell'], y['cell'])
assert [t['cell'] for t in x['top']] == [t['cell'] for t in y['top']]
assert all(abs(s['prob'] - t['prob']) < 1e-4 for s, t in zip(x['top'], y['top']))
\""
done

# by folder, by AUTHOR (logsum): two albums of two
run_geoloc predict $P --album-by folder --format json "${photos[@]}"
check "--album-by folder" "py \"
import json, sys
p = json.load(sys.stdin)['predictions']
assert [x['album']['id'] for x in p] == ['$tmp/a', '$tmp/a', '$tmp/b', '$tmp/b'], [x['album'] for x in p]
assert all(x['album']['size'] == 2 for x in p)
assert (p[0]['lat'], p[0]['lon']) == (p[1]['lat'], p[1]['lon']) and (p[2]['lat'], p[2]['lon']) == (p[3]['lat'], p[3]['lon'])
\""
run_geoloc predict $P --album-by column:AUTHOR --meta "$tmp/meta.csv" --album-method logsum --format json "${photos[@]}"
check "--album-by column:AUTHOR, logsum" "py \"
import json, sys
p = json.load(sys.stdin)['predictions']
assert [x['album']['id'] for x in p] == ['${rows[0]#*,}', '${rows[1]#*,}', '${rows[2]#*,}', '${rows[3]#*,}'], [x['album'] for x in p]
assert all(x['album']['method'] == 'logsum' and x['album']['size'] == 2 for x in p)
\""
cp "$tmp/out" "$tmp/by_author.json"
other=$(tail -1 "$dev/im2gps3k_dev.csv" | cut -d, -f1)
run_geoloc predict $P --album-by column:author --meta "$tmp/meta.csv" --format json "${photos[0]}" "$dev/images/$other"
expect_match 0 "1 photo not in" err "a photo not in --meta: named"
check "a photo not in --meta: an album of its own" '[ "$(py "import json,sys; p=json.load(sys.stdin)[\"predictions\"]; print(p[0][\"album\"][\"size\"], p[1][\"album\"][\"size\"], p[1][\"album\"][\"id\"])")" = "1 1 $other" ]'
run_geoloc predict $P --album-by column:TRIP --meta "$tmp/meta.csv" "${photos[0]}"
expect_match 2 "no column TRIP" err "unknown column"

# text and CSV
run_geoloc predict $P --album "${photos[0]}" "${photos[2]}"
expect_match 0 "album: all \\(2 photos, mean; the photo alone: " out "text"
run_geoloc predict $P --album-by folder --format csv "${photos[0]}" "${photos[2]}"
check "csv album columns" 'py "
import csv, sys
r = list(csv.DictReader(sys.stdin))
assert len(r) == 2 and r[0][\"album\"] == \"$tmp/a\" and r[1][\"album\"] == \"$tmp/b\" and r[0][\"album_size\"] == \"1\"
assert r[0][\"album_method\"] == \"mean\" and r[0][\"photo_lat\"] == r[0][\"lat\"]
"'

# ---- evaluate --album-by: the fused table; --out = predict's album answers ------------------
mkdir -p "$tmp/all"
cp "${photos[@]}" "$tmp/all/"
run_geoloc evaluate $P --meta "$tmp/meta.csv" --images "$tmp/all" --album-by column:AUTHOR --album-method logsum \
    --out "$tmp/results.csv"
expect_match 0 "album-fused answers \\(--album-by column:AUTHOR, logsum: 2 albums" out "evaluate --album-by"
check "evaluate: both tables" '[ "$(grep -c "continent (2500 km)" <<<"$out")" -eq 2 ]'
check "evaluate --out: the fused answers" "python3 -c \"
import csv, json, sys
d = json.load(open('$tmp/by_author.json'))['predictions']
rows = list(csv.reader(open('$tmp/results.csv', newline='')))[1:5]
want = {x['file'].rsplit('/', 1)[1]: (x['lat'], x['lon']) for x in d}
for r in rows:
    lat, lon = want[r[0]]
    assert abs(float(r[2]) - lat) < 1e-6 and abs(float(r[4]) - lon) < 1e-6, (r, lat, lon)
\""
# --album-method prior: each photo its own answer (its distribution times its album's others'
# average); predict and evaluate --out agree photo by photo; a photo alone is its own answer
run_geoloc predict $P --album-by column:AUTHOR --meta "$tmp/meta.csv" --album-method prior --format json "${photos[@]}"
check "predict --album-method prior ($rc)" '[ $rc -eq 0 ]'
echo "$out" > "$tmp/prior.json"
run_geoloc evaluate $P --meta "$tmp/meta.csv" --images "$tmp/all" --album-by column:AUTHOR --album-method prior \
    --out "$tmp/prior.csv"
check "prior: predict's answers are evaluate's, photo by photo" "python3 - '$tmp' <<'EOF2'
import csv, json, sys
t = sys.argv[1]
d = json.load(open(t + '/prior.json'))['predictions']
rows = {r[0]: r for r in list(csv.reader(open(t + '/prior.csv', newline='')))[1:] if r and r[0] and r[0][0] != 's'}
assert len(d) == 4 and all(x['album']['method'] == 'prior' for x in d), d
for x in d:
    r = rows[x['file'].rsplit('/', 1)[1]]
    assert abs(float(r[2]) - x['lat']) < 1e-6 and abs(float(r[4]) - x['lon']) < 1e-6, (r, x['lat'], x['lon'])
    if x['album']['size'] == 1:
        assert x['lat'] == x['photo']['lat'] and x['lon'] == x['photo']['lon'], x
EOF2"
run_geoloc evaluate $P --meta "$tmp/meta.csv" --images "$tmp/all" --album-by column:AUTHOR --album-method logsum --json
echo "$out" > "$tmp/logsum.json"
run_geoloc evaluate $P --meta "$tmp/meta.csv" --images "$tmp/all" --album-by column:AUTHOR --album-method mean,logsum \
    --json
check "evaluate --json albums: one entry per method, each as when run alone" 'py "
import json, sys
d = json.load(sys.stdin)
alone = json.load(open(\"$tmp/logsum.json\"))[\"albums\"]
assert [x[\"method\"] for x in d[\"albums\"]] == [\"mean\", \"logsum\"], d[\"albums\"]
assert all(x[\"albums\"] == 2 and x[\"n\"] == 4 and \"accuracy\" in x for x in d[\"albums\"])
assert len(alone) == 1 and alone[0] == d[\"albums\"][1], (alone, d[\"albums\"][1])
"'
run_geoloc evaluate $P --meta "$tmp/meta.csv" --images "$tmp/all" --album-by column:AUTHOR --album-method mean,median
expect_match 2 "album-method mean,median" err "evaluate: an unknown method in the list"
run_geoloc evaluate $P --meta "$tmp/meta.csv" --images "$tmp/all" --album-by column:TRIP
expect_match 2 "no column TRIP" err "evaluate: unknown column"
finish
