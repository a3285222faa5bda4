#!/usr/bin/env bash
# Tests of `geoloc scene label` on a tiny scene classifier (`geoloc model init
# --scenes` without --cells: ResNet-18, 64-pixel crops, an S3 head) and photos
# made from share/geoloc/example.jpg:
# - usage errors, --out equal to --meta refused (the input untouched), a
#   geolocation model without scene heads refused, a bad manifest refused,
#   geoloc predict refusing the scene classifier;
# - blank labels filled (label = argmax of the Prob_* written, which sum to 1),
#   labels present kept with their Prob_*, the model's absent levels (S16)
#   kept as in the input, every other column (quoted ones included) kept in
#   order, missing columns added; --overwrite relabels every row with the
#   same answers; an unreadable photo named, counted, its row unchanged
#   (exit 3); the summary line's counts;
# - the shipped helper (share/geoloc/geoloc-scene.safetensors): a scene classifier
#   by model info, labels of a photo and of its copy equal;
# - atomic output: a failure leaves no file and no temporary, an existing
#   --out untouched; a second writer of --out refused while the lock is held.
. "$(dirname "$0")/lib.sh"
test_setup cli_scene_label "$@"
src=$(cd "$(dirname "$0")/.." && pwd)
example=$src/share/geoloc/example.jpg
[ -f "$example" ] || { fail "missing $example"; finish; }
cd "$tmp" || exit 1

run_geoloc scene label
expect_match 2 "missing --model|required" err "no options"
run_geoloc scene label --model m --meta a.csv --images . --out a.csv
expect_match 2 "a.csv" err "--out equal to --meta refused"

run_geoloc model init --arch resnet18 --image-size 64 --seed 3 --scenes indoor,natural,urban scene.safetensors
expect_match 0 "0 partitions, 3 scene classes" out "model init: a scene classifier"
run_geoloc model init --arch resnet18 scene2.safetensors
expect_match 2 "needs --cells, or --scenes" err "model init: neither cells nor scenes"

mkdir -p img/sub
cp "$example" img/a.jpg
cp "$example" "img/sub/b c.jpg"
# mirrored and negated copies when ImageMagick works, else plain copies
convert "$example" -flop img/d.jpg 2>/dev/null || cp "$example" img/d.jpg
convert "$example" -negate img/e.jpg 2>/dev/null || cp "$example" img/e.jpg
echo "not a photo" >img/bad.jpg
cat >meta.csv <<'EOF'
IMG_ID,AUTHOR,LAT,LON,note,S3_Label,S16_Label,Prob_indoor,Prob_natural,Prob_urban,tail
a.jpg,ann,48.1,2.5,"one, two",,,,,,x
sub/b c.jpg,bob,40.5,-74.25,"say ""hi""",1,7,0.25,0.5,0.25,y
d.jpg,,-33.9,151.2,plain,,3,,,,
e.jpg,eve,35.7,139.7,,2,,0.1,0.2,0.7,z
bad.jpg,bad,10,10,,,,,,,w
EOF
cp meta.csv meta.orig

run_geoloc predict --model scene.safetensors img/a.jpg
expect_match 1 "scene classifier" err "predict refuses a scene classifier"

run_geoloc scene label --model scene.safetensors --meta meta.csv --images img --out out.csv
expect_match 3 "2 rows labelled, 2 kept \(already labelled\), 1 failed" err "labels: summary"
expect_match 3 "bad.jpg" err "the unreadable photo named"
check "input untouched" 'cmp -s meta.csv meta.orig'
check "labels: rows and columns" 'python3 - out.csv meta.csv <<"EOF"
import csv, sys
out = list(csv.reader(open(sys.argv[1], newline="")))
inp = list(csv.reader(open(sys.argv[2], newline="")))
assert out[0] == inp[0], out[0]
assert len(out) == len(inp), len(out)
h = out[0]
col = {n: h.index(n) for n in h}
keep = [n for n in h if n not in ("S3_Label", "Prob_indoor", "Prob_natural", "Prob_urban")]
for o, i in zip(out[1:], inp[1:]):
    for n in keep:
        assert o[col[n]] == i[col[n]], (n, o, i)
for r in (1, 3):  # blank labels filled
    o = out[r]
    p = [float(o[col[n]]) for n in ("Prob_indoor", "Prob_natural", "Prob_urban")]
    assert abs(sum(p) - 1) < 1e-4 and min(p) > 0, p
    assert int(o[col["S3_Label"]]) == p.index(max(p)), o
for r in (2, 4, 5):  # labelled rows and the unreadable photo unchanged
    assert out[r] == inp[r], (out[r], inp[r])
EOF'
cp out.csv first.csv

# --overwrite: every readable row relabelled, the blank ones as before
run_geoloc scene label --model scene.safetensors --meta meta.csv --images img --out over.csv --overwrite --batch 2
expect_match 3 "4 rows labelled, 0 kept \(already labelled\), 1 failed" err "--overwrite: summary"
check "--overwrite: labels" 'python3 - over.csv first.csv meta.csv <<"EOF"
import csv, sys
over, first, inp = (list(csv.reader(open(f, newline=""))) for f in sys.argv[1:])
h = over[0]
s3, pu = h.index("S3_Label"), h.index("Prob_urban")
assert over[1] == first[1] and over[3] == first[3], "same answers as the first run"
assert over[5] == inp[5], "unreadable photo unchanged"
# b c.jpg and a.jpg are the same photo: the same label and probabilities now
same = [s3] + list(range(h.index("Prob_indoor"), pu + 1))
assert [over[2][c] for c in same] == [over[1][c] for c in same], (over[2], over[1])
assert over[2][h.index("S16_Label")] == "7", "a level the model lacks is kept"
assert over[4][s3] != "2" or over[4][h.index("Prob_indoor")] != "0.1", "e.jpg relabelled"
EOF'

# missing columns are added at the end; center crops
printf 'IMG_ID,LAT,LON\na.jpg,1,2\n' >plain.csv
run_geoloc scene label --model scene.safetensors --meta plain.csv --images img --out plain_out.csv --crops center
expect_match 0 "1 rows labelled" err "no scene columns: labelled"
check "no scene columns: added" 'python3 - plain_out.csv <<"EOF"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["IMG_ID", "LAT", "LON", "S3_Label", "Prob_indoor", "Prob_natural", "Prob_urban"], rows[0]
assert rows[1][:3] == ["a.jpg", "1", "2"] and rows[1][3] in "012" and len(rows[1]) == 7, rows[1]
EOF'

# every row labelled already: nothing predicted, the file as it was
head -1 meta.csv >done.csv && sed -n '3p;5p' meta.csv >>done.csv
run_geoloc scene label --model scene.safetensors --meta done.csv --images img --out done_out.csv
expect_match 0 "0 rows labelled, 2 kept" err "all labelled: kept"
check "all labelled: same rows" 'python3 -c "
import csv,sys
a=list(csv.reader(open(\"done.csv\",newline=\"\"))); b=list(csv.reader(open(\"done_out.csv\",newline=\"\")))
assert a==b, (a,b)"'

# bad inputs: nothing written, no temporary left
echo "old" >keep.csv
printf 'IMG_ID,LAT,LON,S3_Label\na.jpg,1,2,7\n' >badlabel.csv
run_geoloc scene label --model scene.safetensors --meta badlabel.csv --images img --out keep.csv
expect_match 1 "S3_Label" err "an S3 label out of range refused"
check "bad manifest: --out untouched" '[ "$(cat keep.csv)" = old ] && [ -z "$(ls -A | grep -E "^\.?keep\.csv.+")" ]'
run_geoloc scene label --model scene.safetensors --meta missing.csv --images img --out new.csv
expect_match 1 "missing.csv" err "a missing manifest"
run_geoloc scene label --model scene.safetensors --meta meta.csv --images nodir --out new.csv
expect_match 1 "not a folder" err "a missing images folder"
run_geoloc scene label --model nomodel.safetensors --meta meta.csv --images img --out new.csv
expect_match 1 "nomodel" err "a missing model"
check "failures: no output" '[ ! -e new.csv ] && [ -z "$(ls -A | grep -E "new\.csv")" ]'

# a geolocation model without scene heads
for i in $(seq 0 199); do echo "p$i.jpg,$(( i % 7 )).$((i % 10)),$(( i % 5 )).$(( i % 3 ))"; done |
    sed '1i IMG_ID,LAT,LON' >points.csv
"$geoloc" cells build --tau-min 1 --tau-max 60 --out-dir cells points.csv >/dev/null 2>&1
cellfile=$(ls cells/*.csv 2>/dev/null | head -1)
run_geoloc model init --arch resnet18 --image-size 64 --cells "$cellfile" geo.safetensors
expect_match 0 "1 partition, 0 scene classes" out "model init: a geo model"
run_geoloc scene label --model geo.safetensors --meta meta.csv --images img --out new.csv
expect_match 1 "no scene head" err "a geolocation model without scenes refused"

# the shipped helper: scene heads over the ImageNet backbone file
helper=$src/share/geoloc/geoloc-scene.safetensors
run_geoloc model info "$helper"
expect_match 0 "none: a scene classifier" out "the shipped helper is a scene classifier"
run_geoloc scene label --model "$helper" --meta meta.csv --images img --overwrite --out shipped.csv
expect_match 3 "4 rows labelled, 0 kept \(already labelled\), 1 failed" err "the shipped helper labels every readable photo"
check "shipped helper: the same photo, the same labels" 'python3 - shipped.csv <<"EOF"
import csv, sys
rows = {r["IMG_ID"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
cols = ["S3_Label", "S16_Label", "S365_Label", "Prob_indoor", "Prob_natural", "Prob_urban"]
a, b = rows["a.jpg"], rows["sub/b c.jpg"]
assert all(a[c] == b[c] and a[c] != "" for c in cols), (a, b)
assert abs(sum(float(a[c]) for c in cols[3:]) - 1) < 1e-3
EOF'

# a second writer of --out is refused while the first holds the lock
if command -v flock >/dev/null; then
    touch .locked.csv.lock
    flock -n .locked.csv.lock sleep 5 &
    holder=$!
    sleep 0.5
    run_geoloc scene label --model scene.safetensors --meta meta.csv --images img --out locked.csv
    expect_match 1 "locked.csv" err "a second writer refused"
    check "locked: nothing written" '[ ! -e locked.csv ]'
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
fi
finish
