#!/usr/bin/env bash
# Tests of `geoloc predict --map/--map-dir/--map-extent` and `--format geojson`.
# usage: cli_map.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage errors before any work: --map with two photos, an empty or invalid
#   --map-extent, --map-extent or --min-prob alone, a --map naming the photo
#   or --out, a --map in a missing folder (exit 1, nothing written);
# - with the default model (ImageNet backbone of tools/fetch-backbone.sh,
#   else skipped): --map writes a 1200x640 PNG (and replaces an older one
#   whole, no temporary file left); --map-dir draws one map per photo named
#   STEM.map.png, STEM-2.map.png for a repeated name, skips an unreadable
#   photo (exit 3) and leaves the photos in the same folder untouched;
#   --map-extent world and a box across the antimeridian; --format geojson is
#   a FeatureCollection with the answer Point first and every cell of the
#   partition sorted by probability, --min-prob keeping only the cells at or
#   above it; the time to draw a map is printed.
. "$(dirname "$0")/lib.sh"
test_setup cli_map "$@"
unset GEOLOC_MODEL GEOLOC_DATA_DIR
repo=$(cd "$(dirname "$0")/.." && pwd)
example=$repo/share/geoloc/example.jpg
cp "$example" "$tmp/a.jpg"
cp "$example" "$tmp/b.jpg"

run_geoloc predict --map "$tmp/m.png" "$tmp/a.jpg" "$tmp/b.jpg"
expect_match 2 "--map draws one photo's map \(2 photos given\)" err "--map with two photos"
run_geoloc predict --map "$tmp/m.png" --map-extent 10,20,10,30 "$tmp/a.jpg"
expect_match 2 "--map-extent 10,20,10,30 is empty" err "an empty extent"
run_geoloc predict --map "$tmp/m.png" --map-extent 10,20,30,200 "$tmp/a.jpg"
expect_match 2 "and longitudes in \[-180, 180\]" err "an extent out of range"
run_geoloc predict --map "$tmp/m.png" --map-extent europe "$tmp/a.jpg"
expect_match 2 "give world, auto or SOUTH,WEST,NORTH,EAST" err "an unknown extent"
run_geoloc predict --map-extent world "$tmp/a.jpg"
expect_match 2 "--map-extent needs --map or --map-dir" err "--map-extent alone"
run_geoloc predict --min-prob 0.1 "$tmp/a.jpg"
expect_match 2 "--min-prob needs --format geojson" err "--min-prob without geojson"
run_geoloc predict --map "$tmp/a.jpg" "$tmp/a.jpg"
expect_match 2 "the output --map .* is the input photo" err "--map naming the photo"
run_geoloc predict --map "$tmp/o.txt" --out "$tmp/o.txt" "$tmp/a.jpg"
expect_match 2 "the outputs --out .* and --map .* are the same file" err "--map naming --out"
check "the photo untouched" 'cmp -s "$tmp/a.jpg" "$example"'
run_geoloc predict --map "$tmp/none/m.png" "$tmp/a.jpg"
expect_match 1 "the folder $tmp/none does not exist" err "a map in a missing folder"
check "nothing written for a missing folder" '[ ! -e "$tmp/none" ]'
[ -f "$repo/models/resnet50-imagenet.safetensors" ] ||
  skip_rest "SKIP: the ImageNet backbone is missing: tools/fetch-backbone.sh fetches it"

# png_size FILE: "WIDTHxHEIGHT" of a PNG (its IHDR), or nothing when it is not one
png_size() {
    python3 -c 'import struct,sys
d = open(sys.argv[1], "rb").read(24)
if d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR": print("%dx%d" % struct.unpack(">II", d[16:24]))' "$1"
}

echo old >"$tmp/m.png"
run_geoloc predict --map "$tmp/m.png" "$tmp/a.jpg"
expect_match 0 "1 map drawn in [0-9.]+ s" err "--map"
check "--map: a 1200x640 PNG ($(png_size "$tmp/m.png"))" '[ "$(png_size "$tmp/m.png")" = 1200x640 ]'
check "--map: no temporary file left ($(ls "$tmp"))" '[ "$(ls -A "$tmp" | grep -vc -e "^[ab].jpg$" -e "^m.png$" -e "^out$" -e "^err$")" -eq 0 ]'
echo "map timing: $(grep -o 'map drawn in [0-9.]* s' "$tmp/err")"

mkdir -p "$tmp/p1" "$tmp/p2"
cp "$example" "$tmp/p1/x.jpg"
cp "$example" "$tmp/p2/x.jpg"
echo "not a photo" >"$tmp/p2/y.jpg"
sum_before=$(cat "$tmp/p1/x.jpg" "$tmp/p2/x.jpg" "$tmp/p2/y.jpg" | md5sum)
run_geoloc predict --map-dir "$tmp/p2" --map-extent world "$tmp/p1/x.jpg" "$tmp/p2/x.jpg" "$tmp/p2/y.jpg"
expect_match 3 "2 maps drawn" err "--map-dir with an unreadable photo"
check "--map-dir: x.map.png and x-2.map.png" \
  '[ "$(png_size "$tmp/p2/x.map.png")" = 1200x640 ] && [ "$(png_size "$tmp/p2/x-2.map.png")" = 1200x640 ]'
check "--map-dir: no map for the unreadable photo" '[ ! -e "$tmp/p2/y.map.png" ]'
check "--map-dir: the photos untouched" '[ "$(cat "$tmp/p1/x.jpg" "$tmp/p2/x.jpg" "$tmp/p2/y.jpg" | md5sum)" = "$sum_before" ]'
run_geoloc predict --map-dir "$tmp/new/maps" --map-extent=-30,170,-10,-170 "$tmp/a.jpg"
expect_match 0 "1 map drawn" err "--map-dir created, a box across the antimeridian"
check "--map-dir created" '[ "$(png_size "$tmp/new/maps/a.map.png")" = 1200x640 ]'

# geojson_summary FILE [MIN]: checks the FeatureCollection; prints the cells' count
geojson_summary() {
    python3 - "$@" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
low = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
assert doc["type"] == "FeatureCollection", doc["type"]
f = doc["features"]
assert f[0]["properties"]["kind"] == "answer" and f[0]["geometry"]["type"] == "Point", f[0]
cells = [x["properties"] for x in f if x["properties"]["kind"] == "cell"]
probs = [c["prob"] for c in cells]
assert probs == sorted(probs, reverse=True), "cells not sorted"
assert all(p >= low for p in probs), "a cell below --min-prob"
assert cells[0]["token"] == f[0]["properties"]["cell"], "the first cell is not the answer's"
assert all(x["geometry"]["type"] in ("Polygon", "MultiPolygon") for x in f[1:])
print(len(cells))
EOF
}
run_geoloc predict --format geojson "$tmp/a.jpg"
expect_match 0 '"type": "FeatureCollection"' out "--format geojson"
all=$(geojson_summary "$tmp/out")
cells=$("$geoloc" model info --json "$repo/share/geoloc/geoloc-default.safetensors" 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["partitions"][-1]["classes"])' 2>/dev/null)
check "geojson: every cell of the partition ($all of $cells)" '[ -n "$all" ] && [ "$all" = "$cells" ]'
# the median cell probability as the cut: about half the cells stay, whatever the model's temperature
cut=$(python3 -c 'import json,sys; p = sorted(f["properties"]["prob"] for f in json.load(open(sys.argv[1]))["features"]
if f["properties"]["kind"] == "cell"); print(p[len(p) // 2])' "$tmp/out")
run_geoloc predict --format geojson --min-prob "$cut" "$tmp/a.jpg"
some=$(geojson_summary "$tmp/out" "$cut")
check "geojson --min-prob $cut: fewer cells ($some of $all), all above" '[ -n "$some" ] && [ "$some" -ge 1 ] && [ "$some" -lt "$all" ]'
finish
