#!/usr/bin/env bash
# Tests of `geoloc predict`, `geoloc evaluate --model` and `geoloc model`.
# usage: cli_predict.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage errors; a missing model, no model at all (names what was searched);
# - with the shared data: a small untrained model (`geoloc model init`,
#   ResNet-18, 64-pixel crops, partitions of im2gps3k-dev), its info; text, CSV
#   and JSON output parsed; EXIF GPS printed beside the prediction with the
#   distance, and the same prediction for a copy without its EXIF segment;
#   unreadable photos reported and skipped (evaluate --model: exit 3, and 1
#   when none could be read); folders walked in order;
#   --partition, --crops, --distribution; the answer's place (JSON, CSV, text)
#   equal to `geoloc place` at the answer, a missing --places file, no place
#   file found (a notice, place null); evaluate --model on a few
#   im2gps3k-dev photos (accuracy, scenes, the GeoEstimation results file read
#   back by `geoloc evaluate`), missing photos and an empty manifest refused
#   with nothing written; a heads-only model over the ImageNet backbone when
#   tools/fetch-backbone.sh has fetched it;
# - trustworthy output: JSON always valid (a file name with byte 0xFF, python's
#   strict json module), text --top with coordinates, a NaN model refused,
#   stdout on a full disk (exit 1) and a closed pipe (quiet), --out written
#   atomically and --resume equal to one uninterrupted run, a folder with an
#   unreadable subfolder (as user nobody when root: exit 3, the rest
#   predicted), predict's CSV evaluated against a manifest (--truth), an
#   evaluate --out that is its own --meta refused; a damaged photo answered
#   with its warning (skipped with --strict), --max-pixels.
# The shared-data part is skipped (exit 77) when SHARED_DATA_DIR is absent.
. "$(dirname "$0")/lib.sh"
test_setup cli_predict "$@"
unset GEOLOC_MODEL
export GEOLOC_DATA_DIR=$tmp/data
mkdir -p "$GEOLOC_DATA_DIR"

# old_format IN OUT [nan]: IN as a file written before checksums (the
# geoloc.crc32c entry dropped), with its geo head weights set to NaN if asked
# (an edit the checksum would otherwise catch first)
old_format() {
    python3 - "$@" <<'EOF2'
import json, struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
assert header["__metadata__"].pop("geoloc.crc32c")
for name, t in header.items():
    if len(sys.argv) > 3 and name.startswith("geo") and t["dtype"] == "F32":
        a, b = t["data_offsets"]
        data[8 + n + a:8 + n + b] = struct.pack("<f", float("nan")) * ((b - a) // 4)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + data[8 + n:])
EOF2
}

# py CODE ARGS...: runs python3 code (stdin: $out); passes when it exits 0.
py() { python3 -c "$1" "${@:2}" <<<"$out"; }

run_geoloc predict --help
expect_match 0 "--partition" out "--help"
run_geoloc predict
expect_match 2 "^geoloc predict: missing IMAGE\\|FOLDER" err "no arguments"
run_geoloc predict --colour x.jpg
expect_match 2 "unknown option '--colour'" err "unknown option"
run_geoloc predict --format xml x.jpg
expect_match 2 "--format must be one of text, csv, json, geojson, not 'xml'" err "bad format"
run_geoloc predict --top 0 x.jpg
expect_match 2 "--top must be an integer from 1 to 64, not '0'" err "top 0"
run_geoloc predict --distribution x.jpg
expect_match 2 "needs --format csv or json" err "distribution as text"
run_geoloc predict --model "$tmp/none.safetensors" x.jpg
expect_match 1 "none.safetensors" err "missing model file"
bindir=$(dirname "$geoloc")
if [ ! -e "$bindir/../share/geoloc/geoloc-default.safetensors" ] && [ ! -e "$bindir/../models/geoloc-default.safetensors" ]; then
    run_geoloc predict x.jpg
    expect_match 1 "setup.sh installs the default model" err "no default model"
    check "no default model: the searched folders are named" '[[ $err == *"$GEOLOC_DATA_DIR"* ]]'
fi
mkdir "$tmp/empty"
run_geoloc predict --model "$tmp/none.safetensors" "$tmp/empty"
expect_match 1 "no photos" err "a folder without photos"
run_geoloc model info "$tmp/none.safetensors"
expect_match 1 "none.safetensors" err "model info: missing file"
run_geoloc evaluate --meta "$tmp/none.csv"
expect_match 2 "--images is required" err "evaluate --meta without --images"

dev=$shared/im2gps3k-dev
exif=$shared/exif-photos
[ -f "$dev/im2gps3k_dev.csv" ] && [ -d "$exif" ] || skip_rest "shared data absent ($shared): model tests skipped"

# ---- a small untrained model --------------------------------------------------
"$geoloc" cells build --tau-min 5 --tau-max 400,100,30 --out-dir "$tmp/cells" "$dev/im2gps3k_dev.csv" >/dev/null 2>&1
model=$tmp/m18.safetensors
run_geoloc model init --cells "$tmp/cells/cells_5_400.csv,$tmp/cells/cells_5_100.csv,$tmp/cells/cells_5_30.csv" \
    --arch resnet18 --scenes indoor,natural,urban --image-size 64 --seed 3 "$model"
expect_match 0 "ResNet-18, 3 partitions" out "model init"
run_geoloc model info "$model"
expect_match 0 "cells_5_30 +[0-9]+ cells" out "model info"
check "model info: hierarchy and scenes" '[[ $out == *"hierarchy:   complete"* && $out == *"indoor; natural; urban"* ]]'
run_geoloc model info --json "$model"
check "model info --json" 'py "import json,sys; d=json.loads(sys.stdin.read()); assert d[\"arch\"]==\"resnet18\" and len(d[\"partitions\"])==3 and d[\"image_size\"]==64"'
run_geoloc model info "$dev/im2gps3k_dev.csv"
expect_match 1 "im2gps3k_dev.csv" err "model info: not a model"
run_geoloc model info --json "$model"
classes=$(py 'import json,sys; print(json.loads(sys.stdin.read())["partitions"][2]["classes"])')

# ---- EXIF GPS beside, never used ------------------------------------------------
photo=$exif/es-gps-DSCN0010.jpg
run_geoloc predict --model "$model" "$photo"
expect_match 0 "EXIF GPS: 43\.467448, 11\.885127, [0-9.]+ km from the prediction" out "EXIF GPS printed beside"
check "one line, with cell, level and p" '[ "$(wc -l <<<"$out")" -eq 1 ] && [[ $out == *"cell "*"(level "*"p="* ]]'
python3 - "$photo" "$tmp/noexif.jpg" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
out, i = bytearray(data[:2]), 2
while data[i] == 0xFF and data[i + 1] not in (0xDA, 0xD9):   # up to the start of scan
    n = int.from_bytes(data[i + 2:i + 4], "big")
    if data[i + 1] != 0xE1:                                   # drop APP1 (EXIF, XMP)
        out += data[i:i + 2 + n]
    i += 2 + n
out += data[i:]
open(sys.argv[2], "wb").write(out)
EOF
run_geoloc photo info "$tmp/noexif.jpg"
check "the copy has no GPS" '[ $rc -eq 0 ] && [[ $out != *GPS* ]]'
run_geoloc predict --model "$model" --format csv --top 5 "$photo" "$tmp/noexif.jpg"
expect_match 0 "^file,lat,lon,cell,level,prob" out "csv"
check "csv: same prediction with and without EXIF, EXIF only beside" 'py "
import csv, sys
rows = list(csv.DictReader(sys.stdin))
assert len(rows) == 2, rows
a, b = rows
keys = [k for k in a if k not in (\"file\", \"exif_lat\", \"exif_lon\", \"exif_km\")]
assert all(a[k] == b[k] for k in keys), [(k, a[k], b[k]) for k in keys if a[k] != b[k]]
assert a[\"exif_lat\"] == \"43.467448\" and float(a[\"exif_km\"]) >= 0 and b[\"exif_lat\"] == \"\"
assert a[\"top5_cell\"] and float(a[\"prob\"]) >= float(a[\"top2_prob\"]) >= float(a[\"top5_prob\"])
"'

# ---- JSON, distribution, partitions, crops ---------------------------------------
run_geoloc predict --model "$model" --format json --distribution --top 3 "$photo" "$exif/mx-nikon-d5000-no-gps.jpg"
check "json with the distribution" 'py "
import json, sys
d = json.loads(sys.stdin.read())
p = d[\"predictions\"]
assert d[\"schema\"] == 2 and d[\"partition\"] == \"hierarchical\" and d[\"predicted\"] == 2 and len(p) == 2
assert abs(p[0][\"exif\"][\"lat\"] - 43.467448) < 1e-6 and p[1][\"exif\"] is None
for q in p:
    assert q[\"schema\"] == 2
    dist = {c[\"cell\"]: c[\"p\"] for c in q[\"distribution\"]}
    assert len(dist) == $classes and abs(sum(dist.values()) - 1) < 1e-3
    assert [t[\"prob\"] for t in q[\"top\"]] == sorted((t[\"prob\"] for t in q[\"top\"]), reverse=True)
    assert all(dist[t[\"cell\"]] == t[\"prob\"] for t in q[\"top\"]), \"top cells labelled with their own p\"
    assert q[\"top\"][0][\"prob\"] == max(dist.values())
    assert q[\"scene\"][\"S3\"][\"name\"] in (\"indoor\", \"natural\", \"urban\") and list(q[\"scene\"]) == [\"S3\"]
"'
run_geoloc predict --model "$model" --format json --partition cells_5_100 --crops five "$photo"
check "--partition by name, five crops" 'py "
import json, sys
d = json.loads(sys.stdin.read())
assert d[\"partition\"] == \"cells_5_100\" and d[\"crops\"] == \"five\" and d[\"predictions\"][0][\"partition\"] == \"cells_5_100\"
"'
run_geoloc predict --model "$model" --partition 0 --crops center "$photo"
expect_match 0 "level" out "--partition by number, center crop"
run_geoloc predict --model "$model" --partition nowhere "$photo"
expect_match 2 "cells_5_400 \(0\), cells_5_100 \(1\), cells_5_30 \(2\)" err "unknown partition"

# ---- place names: the answer's country and city as `geoloc place` gives them ----
places=$(dirname "$geoloc")/../models/places.bin
[ -f "$places" ] || places=$(cd "$(dirname "$0")/.." && pwd)/models/places.bin
if [ -f "$places" ]; then
    run_geoloc predict --model "$model" --places "$places" --min-population 100000 --format json "$photo" \
        "$exif/mx-nikon-d5000-no-gps.jpg"
    json=$out
    coords=$(py 'import json,sys; [print("%r,%r" % (q["lat"], q["lon"])) for q in json.loads(sys.stdin.read())["predictions"]]')
    run_geoloc place --data "$places" --min-population 100000 $coords
    check "json place = geoloc place at the answer" 'python3 -c "
import csv, io, json, sys
answers = json.loads(sys.argv[1])[\"predictions\"]
rows = list(csv.DictReader(io.StringIO(sys.argv[2])))
assert len(rows) == len(answers) == 2
for q, r in zip(answers, rows):
    p = q[\"place\"]
    assert p[\"country_code\"] == r[\"country_code\"] and p[\"country\"] == r[\"country\"], (p, r)
    assert p[\"city\"] == r[\"city\"] and abs((p[\"city_km\"] or 0) - float(r[\"city_km\"] or 0)) < 0.06, (p, r)
    assert p[\"region\"] == \"\" and p[\"name\"].startswith(r[\"city\"] if float(r[\"city_km\"] or 0) <= 50 else \"\")
" "$json" "$out"'
    run_geoloc predict --model "$model" --places "$places" --format csv "$photo"
    check "csv: the place columns" 'python3 -c "
import csv, io, sys
r = list(csv.DictReader(io.StringIO(sys.argv[1])))[0]
assert r[\"country\"] and (r[\"city\"] == \"\") == (r[\"city_km\"] == \"\")
" "$out"'
    run_geoloc predict --model "$model" --places "$places" --min-population 100000 "$photo"
    name=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["predictions"][0]["place"]["name"])' "$json")
    check "text: the place name first" '[[ $out == "$photo: $name  "* ]]'
fi
run_geoloc predict --model "$model" --places "$tmp/none.bin" "$photo"
expect_match 1 "none.bin" err "a missing --places file"
mkdir -p "$tmp/bin"
cp "$geoloc" "$tmp/bin/geoloc" # beside no data folders: no place file to find
out=$("$tmp/bin/geoloc" predict --model "$model" --format json "$photo" 2>"$tmp/err.txt")
check "no place file: a notice, place null" '[[ $(cat "$tmp/err.txt") == *"no place names"*"fetch-places.sh"* ]] &&
    py "import json,sys; assert json.loads(sys.stdin.read())[\"predictions\"][0][\"place\"] is None"'

# ---- unreadable photos, folders ---------------------------------------------------
printf 'not a photo' >"$tmp/bad.jpg"
run_geoloc predict --model "$model" "$tmp/bad.jpg" "$photo" "$tmp/missing.jpg"
expect_match 3 "2 skipped" err "unreadable photos skipped: exit 3"
check "unreadable photos named on stderr, the good one predicted" \
    '[[ $err == *bad.jpg*"(skipped)"* && $err == *missing.jpg* ]] && [ "$(wc -l <<<"$out")" -eq 1 ] && [[ $out == "$photo"* ]]'
run_geoloc predict --model "$model" "$tmp/bad.jpg"
expect_match 1 "0 photos predicted, 1 skipped" err "nothing readable: exit 1"
mkdir -p "$tmp/folder/b" "$tmp/folder/.hidden"
cp "$photo" "$tmp/folder/b/z.JPG"
cp "$photo" "$tmp/folder/a.jpg"
cp "$photo" "$tmp/folder/.hidden/x.jpg"
cp "$photo" "$tmp/folder/c.jpeg"
printf 'x' >"$tmp/folder/notes.txt"
run_geoloc predict --model "$model" --batch 2 "$tmp/folder"
expect_match 0 "3 photos predicted, 0 skipped.*photos/s" err "folder: photos/s"
check "folder walked in order, other files left out" \
    '[ "$(cut -d: -f1 <<<"$out" | tr "\n" " ")" = "$tmp/folder/a.jpg $tmp/folder/b/z.JPG $tmp/folder/c.jpeg " ]'
check "the same photo gives the same answer in any batch" '[ "$(cut -d: -f2- <<<"$out" | sort -u | wc -l)" -eq 1 ]'
# a HEIC photo (phones' default) in a folder is walked and answered like the others
mkdir "$tmp/heic"
if command -v heif-enc >/dev/null && heif-enc -q 90 -o "$tmp/heic/d.heic" "$photo" >/dev/null 2>&1 &&
   [ -s "$tmp/heic/d.heic" ]; then
    run_geoloc predict --model "$model" --format csv "$tmp/heic"
    check "a HEIC photo in a folder is predicted" '[ $rc -eq 0 ] && [[ $out == *"$tmp/heic/d.heic,"* ]]'
else
    echo "heif-enc (libheif-examples) cannot encode here: HEIC folder check skipped"
fi

# ---- trustworthy output ----------------------------------------------------------------
mkdir "$tmp/ff"
cp "$photo" "$tmp/ff/$(printf 'photo\xff.jpg')"
run_geoloc predict --model "$model" --format json --top 2 "$tmp/ff"
check "json: a file name with byte 0xFF gives valid JSON (strict UTF-8)" '[ $rc -eq 0 ] && python3 -c "
import json, sys
d = json.loads(open(sys.argv[1], \"rb\").read().decode(\"utf-8\"))
assert d[\"predictions\"][0][\"file\"].endswith(\"photo\u00ff.jpg\"), d[\"predictions\"][0][\"file\"]
assert d[\"schema\"] == 2 and d[\"predicted\"] == 1
" "$tmp/out"'
run_geoloc predict --model "$model" --top 3 "$photo"
check "text --top 3: every guess with its coordinates" \
    '[[ $out =~ top:\ [0-9a-f]+\ \(-?[0-9]+\.[0-9]+,\ -?[0-9]+\.[0-9]+\)\ [0-9.]+,\ [0-9a-f]+\ \(-?[0-9.]+,\ -?[0-9.]+\)\ [0-9.]+ ]]'
# a model written before checksums: loads with a notice; `model upgrade`
# rewrites it with its checksum, and it answers exactly as before
old_format "$model" "$tmp/old.safetensors"
run_geoloc predict --model "$tmp/old.safetensors" --format csv "$photo"
expect_match 0 "notice: .*old.safetensors: written before checksums; not verified" err "an old model loads with a notice"
old_out=$out
run_geoloc model upgrade "$tmp/old.safetensors" --out "$tmp/old.safetensors"
expect_match 2 "refusing to overwrite" err "model upgrade: not over its input"
run_geoloc model upgrade "$tmp/old.safetensors" --out "$tmp/upgraded.safetensors"
expect_match 0 "rewritten with a data checksum" out "model upgrade"
run_geoloc predict --model "$tmp/upgraded.safetensors" --format csv "$photo"
check "the upgraded model: no notice, the same answer" '[ -z "$err" ] && [ "$out" = "$old_out" ]'
run_geoloc model info "$tmp/upgraded.safetensors"
expect_match 0 "upgraded.safetensors: data verified \\(CRC-32C\\)" out "model info: verified"

# a damaged photo (its last 30 % cut off) is answered with the decoder's
# warning; --strict skips it; a small --max-pixels reduces a photo, never refuses it
head -c $(( $(stat -c %s "$photo") * 7 / 10 )) "$photo" >"$tmp/cut.jpg"
run_geoloc predict --model "$model" "$tmp/cut.jpg"
expect_match 0 "cut.jpg: warning: JPEG: .*answered from what could be decoded" err "damaged photo: answered with a warning"
run_geoloc predict --model "$model" --format json "$tmp/cut.jpg"
check "damaged photo: a warnings list in JSON" \
    'py "import json,sys; d=json.loads(sys.stdin.read()); assert d[\"predictions\"][0][\"warnings\"][0].startswith(\"JPEG: \")"'
run_geoloc predict --model "$model" --strict "$tmp/cut.jpg"
expect_match 1 "cut.jpg.*strict" err "--strict skips a damaged photo"
run_geoloc predict --model "$model" --max-pixels=20000 "$photo"
expect_match 0 "EXIF GPS" out "--max-pixels: a large photo reduced, not refused"
run_geoloc predict --model "$model" --max-pixels=lots "$photo"
expect_match 2 "max-pixels" err "--max-pixels needs a number"
# a model whose geo head weights are NaN: refused, never p=-nan
old_format "$model" "$tmp/nan.safetensors" nan
run_geoloc predict --model "$tmp/nan.safetensors" --format csv "$photo"
expect_match 1 "finite" err "a NaN model is refused"
check "a NaN model prints no prediction (the CSV header only)" '[[ $out != *nan* ]] && [ "$(wc -l <<<"$out")" -eq 1 ] && [[ $out == file,lat,lon* ]]'
run_geoloc predict --model "$tmp/nan.safetensors" --format json "$photo"
check "a NaN model in JSON: exit 1, a valid document without predictions" \
    '[ $rc -eq 1 ] && py "import json,sys; d=json.loads(sys.stdin.read()); assert d[\"predictions\"] == [] and d[\"predicted\"] == 0"'
"$geoloc" predict --model "$model" "$photo" >/dev/full 2>"$tmp/err"
rc=$?
check "stdout on a full disk: exit 1 with a message" '[ $rc -eq 1 ] && grep -q "cannot write the output" "$tmp/err"'
"$geoloc" predict --model "$model" --batch 1 "$tmp/folder" "$tmp/folder" 2>"$tmp/err" | head -c 1 >/dev/null
rc=${PIPESTATUS[0]}
check "a closed pipe ends quietly (exit $rc)" '{ [ $rc -eq 0 ] || [ $rc -eq 141 ]; } && ! grep -q "cannot write" "$tmp/err"'
(trap '' PIPE; "$geoloc" predict --model "$model" --batch 1 "$tmp/folder" "$tmp/folder" 2>"$tmp/err" | head -c 1 >/dev/null
 exit "${PIPESTATUS[0]}")
rc=$?
check "a closed pipe with SIGPIPE ignored ends quietly too (exit $rc)" '[ $rc -eq 0 ] && ! grep -q "cannot write" "$tmp/err"'
# progress with an ETA on a terminal only
check "no progress line when stderr is not a terminal" '[[ $(cat "$tmp/err") != *ETA* ]]'
if command -v script >/dev/null; then
    script -qec "'$geoloc' predict --model '$model' --batch 1 '$tmp/folder' >/dev/null" "$tmp/typescript" >/dev/null 2>&1
    check "progress on a terminal: N/M photos, photos/s, ETA mm:ss" \
        'tr "\r" "\n" <"$tmp/typescript" | grep -qE "^predict: 3/3 photos, [0-9.]+ photos/s, ETA 00:00"'
fi
# --out: whole or nothing; --resume: the same file as one uninterrupted run
run_geoloc predict --model "$model" --format csv --top 2 --out "$tmp/all.csv" "$tmp/folder" "$photo"
check "--out: the file written, nothing on stdout" '[ $rc -eq 0 ] && [ -z "$out" ] && [ "$(wc -l <"$tmp/all.csv")" -eq 5 ] && [ ! -e "$tmp/all.csv.partial" ]'
{ head -n 2 "$tmp/all.csv"; sed -n 3p "$tmp/all.csv" | head -c 20; } >"$tmp/cut.csv.partial"
run_geoloc predict --model "$model" --format csv --top 2 --out "$tmp/cut.csv" --resume "$tmp/folder" "$photo"
check "--resume after an interruption: identical to one run" '[ $rc -eq 0 ] && cmp -s "$tmp/all.csv" "$tmp/cut.csv" && [ ! -e "$tmp/cut.csv.partial" ]'
check "--resume: the rows kept are counted" '[[ $err == *"3 photos predicted (+1 already in the output)"* ]]'
run_geoloc predict --model "$model" --format csv --top 2 --out "$tmp/cut.csv" --resume "$tmp/folder" "$photo"
check "--resume of a finished file: nothing predicted, file unchanged" '[ $rc -eq 0 ] && cmp -s "$tmp/all.csv" "$tmp/cut.csv"'
run_geoloc predict --model "$model" --format csv --top 3 --out "$tmp/cut.csv" --resume "$photo"
expect_match 2 "other options" err "--resume with other options refused"
run_geoloc predict --model "$model" --resume "$photo"
expect_match 2 "--resume needs --out FILE and --format csv" err "--resume without --out"
# predict's CSV evaluated against a manifest
head -n 4 "$dev/im2gps3k_dev.csv" >"$tmp/three_truth.csv"
mkdir -p "$tmp/dev3/sub"
for id in $(sed -n '3,5p' "$dev/im2gps3k_dev.csv" | cut -d, -f1); do cp "$dev/images/$id" "$tmp/dev3/"; done
run_geoloc predict --model "$model" --format csv --out "$tmp/pred3.csv" "$tmp/dev3"
run_geoloc evaluate "$tmp/pred3.csv" --truth "$tmp/three_truth.csv" --json
check "evaluate PRED.csv --truth: the photos on both sides" '[ $rc -eq 0 ] && py "import json,sys; d=json.loads(sys.stdin.read()); assert d[\"n\"] == 2, d"'
check "evaluate --truth: missing on either side counted and named" \
    '[[ $err == *"1 of the 3 photos of $tmp/three_truth.csv have no prediction"* && $err == *"1 prediction of $tmp/pred3.csv has no truth"* ]]'
# an output that is an input is refused before any work
cp "$tmp/six.csv" "$tmp/v.csv" 2>/dev/null || head -n 7 "$dev/im2gps3k_dev.csv" >"$tmp/v.csv"
ln "$tmp/v.csv" "$tmp/v-link.csv"
for target in "$tmp/v.csv" "$tmp/v-link.csv"; do
    run_geoloc evaluate --model "$model" --meta "$tmp/v.csv" --images "$dev/images" --out "$target"
    expect_match 2 "--out '.*v(-link)?\.csv' is the input --meta '.*v\.csv'" err "evaluate --out equal to --meta refused ($(basename "$target"))"
done
check "the manifest is intact" 'cmp -s "$tmp/v.csv" <(head -n 7 "$dev/im2gps3k_dev.csv")'
# a folder with an unreadable subfolder: the rest is predicted (as nobody when root)
mkdir -p "$tmp/locked/open" "$tmp/locked/shut"
cp "$photo" "$tmp/locked/open/a.jpg"
cp "$photo" "$tmp/locked/shut/b.jpg"
mkfifo "$tmp/locked/pipe.jpg"
chmod 000 "$tmp/locked/shut"
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    chmod 755 "$tmp" && chmod -R a+rX "$tmp/locked/open" "$model" "$tmp/locked" 2>/dev/null
    chmod 000 "$tmp/locked/shut"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
"${as_user[@]}" "$geoloc" predict --model "$model" "$tmp/locked" >"$tmp/out" 2>"$tmp/err"
rc=$?
out=$(cat "$tmp/out")
err=$(cat "$tmp/err")
expect_match 3 "skipped .*locked/shut: cannot open the folder" err "an unreadable subfolder is named; exit 3"
check "the readable photo is predicted" '[[ $out == "$tmp/locked/open/a.jpg: "* ]]'
check "the fifo is named and counted" '[[ $err == *"locked/pipe.jpg: not a regular file"* && $err == *"2 left out of folders"* ]]'
chmod 755 "$tmp/locked/shut"

# ---- evaluate --model ----------------------------------------------------------------
head -n 7 "$dev/im2gps3k_dev.csv" >"$tmp/six.csv"
run_geoloc evaluate --model "$model" --meta "$tmp/six.csv" --images "$dev/images" --json --out "$tmp/results.csv"
check "evaluate --json" 'py "
import json, sys
d = json.loads(sys.stdin.read())
assert d[\"n\"] == 6 and d[\"skipped\"] == 0 and set(d[\"accuracy\"]) == {\"1km\", \"25km\", \"200km\", \"750km\", \"2500km\"}
assert set(d[\"scenes\"]) == {\"indoor\", \"natural\", \"urban\"} and sum(s[\"n\"] for s in d[\"scenes\"].values()) == 6
assert d[\"images_per_second\"] > 0
"'
want_median=$(py 'import json,sys; print("%.2f" % json.loads(sys.stdin.read())["median_km"])')
check "results file: the GeoEstimation header" \
    '[ "$(head -n 1 "$tmp/results.csv")" = "$(printf "img_id,gt_lat,predicted_lat,gt_long,predicted_long,great_circle_distance\r")" ]'
check "results file: 6 rows, a blank line, the summary" '[ "$(wc -l <"$tmp/results.csv")" -eq 10 ]'
run_geoloc evaluate "$tmp/results.csv" --json
check "the results file reads back with the same median" \
    '[ "$(py "import json,sys; print(\"%.2f\" % json.loads(sys.stdin.read())[\"median_km\"])")" = "$want_median" ]'
GEOLOC_MODEL=$model run_geoloc evaluate --meta "$tmp/six.csv" --images "$dev/images" --crops center
expect_match 0 "by scene \(S3_Label\)" out "evaluate with \$GEOLOC_MODEL, text"
check "evaluate text: accuracy and speed" '[[ $out == *"street (1 km)"* && $out == *"images/s"* ]]'
{ cat "$tmp/six.csv"; echo "nothere.jpg,x,1,2,0,0,0,0.1,0.2,0.7"; } >"$tmp/missing.csv"
run_geoloc evaluate --model "$model" --meta "$tmp/missing.csv" --images "$dev/images" --out "$tmp/r2.csv"
expect_match 1 "nothere.jpg.*no such photo" err "a missing photo stops evaluate"
check "nothing written after a missing photo" '[ ! -e "$tmp/r2.csv" ] && [ -z "$out" ]'
run_geoloc evaluate --model "$model" --meta "$tmp/six.csv" --images "$tmp/nowhere"
expect_match 1 "--images .*nowhere: not a folder" err "evaluate: no images folder"
head -n 1 "$dev/im2gps3k_dev.csv" >"$tmp/empty.csv"
run_geoloc evaluate --model "$model" --meta "$tmp/empty.csv" --images "$dev/images" --out "$tmp/r2.csv"
expect_match 1 "no photos listed" err "empty manifest"
check "nothing written for an empty manifest" '[ ! -e "$tmp/r2.csv" ]'
mkdir "$tmp/images"
for id in $(tail -n +2 "$tmp/six.csv" | cut -d, -f1); do cp "$dev/images/$id" "$tmp/images/"; done
first=$(sed -n 2p "$tmp/six.csv" | cut -d, -f1)
printf 'broken' >"$tmp/images/$first"
run_geoloc evaluate --model "$model" --meta "$tmp/six.csv" --images "$tmp/images" --json
check "an unreadable photo is named, counted and skipped: exit 3" \
    '[ $rc -eq 3 ] && [[ $err == *"$first"* ]] && py "import json,sys; d=json.loads(sys.stdin.read()); assert d[\"n\"]==5 and d[\"skipped\"]==1"'
head -n 2 "$tmp/six.csv" >"$tmp/broken-only.csv"
run_geoloc evaluate --model "$model" --meta "$tmp/broken-only.csv" --images "$tmp/images" --json
expect_match 1 "none of the 1 photos could be read" err "evaluate: no photo readable: exit 1"
check "evaluate: nothing printed when no photo was read" '[ -z "$out" ] && [[ $err == *"$first"* ]]'

# ---- heads-only over the ImageNet backbone (when fetched) ------------------------------
here=$(cd "$(dirname "$0")" && pwd)
backbone=${GEOLOC_BACKBONE:-$here/../models/resnet50-imagenet.safetensors}
[ -f "$backbone" ] || skip_rest "no ImageNet backbone at $backbone (tools/fetch-backbone.sh): heads-only test skipped"
# under a name of its own, so that removing it leaves no other copy to find
cp "$backbone" "$GEOLOC_DATA_DIR/test-backbone.safetensors"
run_geoloc model init --cells "$tmp/cells/cells_5_400.csv,$tmp/cells/cells_5_30.csv" \
    --backbone "$GEOLOC_DATA_DIR/test-backbone.safetensors" --heads-only "$tmp/heads.safetensors"
expect_match 0 "heads only" out "model init --heads-only"
check "heads-only file is small" '[ "$(stat -c %s "$tmp/heads.safetensors")" -lt 2000000 ]'
run_geoloc model info "$tmp/heads.safetensors"
expect_match 0 "backbone: +test-backbone.safetensors \($GEOLOC_DATA_DIR" out "model info: backbone found"
check "model info: Keras input" '[[ $out == *caffe_bgr* ]]'
run_geoloc predict --model "$tmp/heads.safetensors" "$photo"
expect_match 0 "EXIF GPS" out "predict with the heads-only model"
rm "$GEOLOC_DATA_DIR/test-backbone.safetensors"
run_geoloc model info "$tmp/heads.safetensors"
expect_match 0 "NOT FOUND: tools/fetch-backbone.sh" out "model info: backbone missing"
run_geoloc predict --model "$tmp/heads.safetensors" "$photo"
expect_match 1 "test-backbone.safetensors.*fetch-backbone.sh" err "a missing backbone says how to fetch it"

# ---- the default model (share/geoloc + the ImageNet backbone of setup.sh) --------
unset GEOLOC_DATA_DIR GEOLOC_MODEL
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -e "$here/models/resnet50-imagenet.safetensors" ] && [ -e "$here/share/geoloc/geoloc-default.safetensors" ]; then
    # the README's main command: the example photo, taken on the Champ de Mars
    run_geoloc predict "$here/share/geoloc/example.jpg"
    expect_match 0 "EXIF GPS: 48.857833, 2.297000" out "predict the example with the default model"
    km=$(sed -n 's/.*, \([0-9.]*\) km from the prediction.*/\1/p' <<< "$out")
    check "the example is placed in Paris ($km km off)" '[ -n "$km" ] && python3 -c "import sys; sys.exit(not float(sys.argv[1]) < 50)" "$km"'
    run_geoloc predict --format json "$here/share/geoloc/example.jpg"
    check "default model, JSON" '[ $rc -eq 0 ] && python3 -c "import json,sys; json.loads(sys.argv[1])" "$out"'
    head -4 "$dev/im2gps3k_dev.csv" > "$tmp/three.csv"
    run_geoloc evaluate --meta "$tmp/three.csv" --images "$dev/images" --out "$tmp/three_results.csv"
    expect_match 0 "2500 km" out "evaluate with the default model"
    check "evaluate wrote the results file" '[ "$(grep -c . "$tmp/three_results.csv")" -ge 4 ]'
else
    echo "default model or ImageNet backbone absent: run ./setup.sh (default-model checks skipped)"
fi
finish
