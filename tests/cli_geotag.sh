#!/usr/bin/env bash
# Tests of `geoloc geotag` (placing the photos of a library that lack GPS).
# usage: cli_geotag.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
# ($EXIF_TIME_FIXTURE: the test helper that gives a JPEG copy EXIF times/GPS)
#
# - usage errors;
# - with the shared data and the default model: a library of two folders (three
#   dev photos with two GPS photos of ../shared/data/exif-photos as anchors; one
#   dev photo alone): the CSV (methods anchor and single, album sizes, anchor
#   counts), anchors pulling the answers to their region, the dry run (nothing
#   written), --write xmp (one sidecar per placed photo, read back by exiftool when
#   installed, else skipped with a message), existing sidecars kept, replaced with
#   --overwrite-xmp, darktable names, a read-only folder (a message naming the
#   file, exit 1, no sidecar anywhere), the photos' checksums unchanged; --meta
#   with blank LAT/LON and --album-by column:AUTHOR, a missing photo (exit 3);
#   --album-by time:HOURS on dev photos given EXIF times and GPS by libexif (and
#   predict --album-by time:HOURS on them), and on a manifest's DATETIME column.
. "$(dirname "$0")/lib.sh"
test_setup cli_geotag "$@"
unset GEOLOC_MODEL

# ---- usage errors ------------------------------------------------------------------
run_geoloc geotag
expect_match 2 "give folders or photos" err "no photos"
run_geoloc geotag --meta m.csv
expect_match 2 "--meta and --images go together" err "--meta without --images"
run_geoloc geotag --meta m.csv --images . x.jpg
expect_match 2 "takes no folders" err "--meta with folders"
run_geoloc geotag --write json x.jpg
expect_match 2 "only xmp" err "--write json"
run_geoloc geotag --album-by day x.jpg
expect_match 2 "folder, column:NAME, time:HOURS" err "bad --album-by"
run_geoloc geotag --album-by time:-3 x.jpg
expect_match 2 "time:HOURS" err "negative hours"
run_geoloc geotag --album-by column:AUTHOR x.jpg
expect_match 2 "needs --meta" err "column without --meta"

dev=$shared/im2gps3k-dev
exif=$shared/exif-photos
[ -f "$dev/im2gps3k_dev.csv" ] && [ -f "$exif/truth.csv" ] || skip_rest "shared data absent ($shared): geotag runs skipped"

mapfile -t ids < <(sed -n '2,6p' "$dev/im2gps3k_dev.csv" | cut -d, -f1)
lib=$tmp/lib
mkdir -p "$lib/trip" "$lib/other"
for k in 0 1 2; do cp "$dev/images/${ids[$k]}" "$lib/trip/p$k.jpg"; done
cp "$dev/images/${ids[3]}" "$lib/other/alone.jpg"
cp "$exif/es-gps-DSCN0010.jpg" "$exif/es-gps-DSCN0042.jpg" "$lib/trip/" # Tuscany, 43.47 N 11.88 E
sums() { find "$lib" -name '*.jpg' -print0 | sort -z | xargs -0 sha256sum; }
sums >"$tmp/before"
xmps() { find "$lib" -name '*.xmp' | sort; }

# ---- dry run: the CSV, nothing written -----------------------------------------------
run_geoloc geotag "$lib"
expect_match 0 "dry run: 4 XMP sidecars would be written" err "dry run"
cp "$tmp/out" "$tmp/dry.csv"
check "dry run: CSV rows" "python3 - '$tmp/dry.csv' <<'PY'
import csv, sys
rows = {r['id'].rsplit('/', 1)[1]: r for r in csv.DictReader(open(sys.argv[1]))}
assert sorted(rows) == ['alone.jpg', 'p0.jpg', 'p1.jpg', 'p2.jpg'], rows
for k in ('p0.jpg', 'p1.jpg', 'p2.jpg'):
    r = rows[k]
    assert (r['method'], r['album_size'], r['anchors']) == ('anchor', '3', '2'), r
    assert r['album'].endswith('/trip') and r['radius50_km'] and r['radius90_km'], r
a = rows['alone.jpg']
assert (a['method'], a['album_size'], a['anchors']) == ('single', '1', '0'), a
assert (a['lat'], a['lon']) == (a['photo_lat'], a['photo_lon']) == (a['fused_lat'], a['fused_lon']), a
PY"
check "dry run: no sidecar" '[ -z "$(xmps)" ]'
grep -q 'anchors 2' <<<"$err" || grep -q '2 anchors' <<<"$err" && pass || fail "summary counts the anchors: $err"

# anchors pull the answers to their region (floor near 0: the anchors decide among the
# cells); an answer within --anchor-snap of an anchor takes that anchor's position
run_geoloc geotag --anchor-floor 1e-9 --anchor-snap 2000 "$lib/trip"
check "anchored answers snapped to the anchors" "python3 - <<'PY'
import csv, io, math
rows = list(csv.DictReader(io.StringIO('''$out''')))
def km(a, b, c, d):
    p1, p2 = math.radians(a), math.radians(c)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(d - b) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))
assert len(rows) == 3
for r in rows:
    assert km(float(r['lat']), float(r['lon']), 43.467, 11.885) < 1000, r
    assert r['snapped'] == '1' and (r['lat'], r['lon']) in (('43.467448', '11.885127'), ('43.464455', '11.881478')), r
PY"
run_geoloc geotag --anchor-floor 1e-9 --anchor-snap 0 "$lib/trip"
check "--anchor-snap 0: the cells' locations" "python3 - <<'PY'
import csv, io
rows = list(csv.DictReader(io.StringIO('''$out''')))
assert len(rows) == 3 and all(r['snapped'] == '0' and r['lat'] not in ('43.467448', '43.464455') for r in rows), rows
PY"

# ---- --write xmp ---------------------------------------------------------------------
run_geoloc geotag --write xmp --out "$tmp/geo.csv" "$lib"
expect_match 0 "4 XMP sidecars written" err "--write xmp"
check "--out: the dry run's CSV" 'cmp -s "$tmp/geo.csv" "$tmp/dry.csv"'
check "one sidecar per placed photo, Adobe names" \
    '[ "$(xmps | tr "\n" " ")" = "$lib/other/alone.xmp $lib/trip/p0.xmp $lib/trip/p1.xmp $lib/trip/p2.xmp " ]'
check "sidecar: XMP elements" "grep -q '<rdf:Description' '$lib/trip/p0.xmp' && grep -q 'exif:GPSLatitude=\"[0-9]*,[0-9][0-9]\.[0-9]\{6\}[NS]\"' '$lib/trip/p0.xmp' && grep -q 'geoloc:method=\"anchor\"' '$lib/trip/p0.xmp'"
if command -v exiftool >/dev/null; then
    check "exiftool reads the sidecars' GPS back" "python3 - '$tmp/geo.csv' '$lib' <<'PY'
import csv, subprocess, sys, json
for r in csv.DictReader(open(sys.argv[1])):
    xmp = r['id'].rsplit('.', 1)[0] + '.xmp'
    got = json.loads(subprocess.run(['exiftool', '-j', '-n', '-GPSLatitude', '-GPSLongitude', '-GPSVersionID',
                                     xmp], capture_output=True, text=True, check=True).stdout)[0]
    assert abs(got['GPSLatitude'] - float(r['lat'])) < 2e-6 and abs(got['GPSLongitude'] - float(r['lon'])) < 2e-6, (got, r)
    assert str(got['GPSVersionID']) == '2.3.0.0', got
PY"
    check "exiftool: no warning or error on a sidecar" '! exiftool -validate -warning -a "$lib/trip/p0.xmp" | grep -qi "error"'
else
    echo "exiftool not installed (Debian libimage-exiftool-perl): read-back check skipped"
fi

# existing sidecars kept; --overwrite-xmp replaces them; darktable names
echo "mine" >"$lib/trip/p1.xmp"
run_geoloc geotag --write xmp "$lib"
expect_match 0 "p1.xmp exists: kept" err "existing sidecar kept"
check "kept sidecar untouched" '[ "$(cat "$lib/trip/p1.xmp")" = mine ]'
run_geoloc geotag --write xmp --overwrite-xmp "$lib"
expect_match 0 "4 XMP sidecars written" err "--overwrite-xmp"
check "sidecar replaced" 'grep -q "exif:GPSLatitude" "$lib/trip/p1.xmp"'
run_geoloc geotag --write xmp --xmp-name full "$lib/other"
expect_match 0 "1 XMP sidecar written" err "--xmp-name full"
check "darktable name" '[ -f "$lib/other/alone.jpg.xmp" ]'
find "$lib" -name '*.xmp' -delete

# a read-only folder: a message naming the file, exit 1, no sidecar anywhere
mkdir -p "$tmp/ro/open" "$tmp/ro/locked"
cp "$dev/images/${ids[0]}" "$tmp/ro/open/a.jpg"
cp "$dev/images/${ids[1]}" "$tmp/ro/locked/b.jpg"
chmod 755 "$tmp"
chmod 555 "$tmp/ro/locked"
as_user=()
[ "$(id -u)" -eq 0 ] && as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups) # root ignores permissions
"${as_user[@]}" "$geoloc" geotag --write xmp "$tmp/ro" >"$tmp/out" 2>"$tmp/err"
rc=$?
err=$(cat "$tmp/err")
expect_match 1 "cannot write $tmp/ro/locked/b.xmp" err "read-only folder"
check "read-only folder: nothing written" '[ -z "$(find "$tmp/ro" -name "*.xmp*" -o -name ".*lock")" ]'
chmod 755 "$tmp/ro/locked"
sums >"$tmp/after"
check "photos never modified" 'cmp -s "$tmp/before" "$tmp/after"'

# ---- --meta: blank LAT/LON placed, the others anchor their author's album ------------------
{
    echo "IMG_ID,AUTHOR,LAT,LON"
    echo "${ids[0]},ann,,"
    echo "${ids[1]},ann,,"
    echo "anchor1.jpg,ann,43.4674,11.8851"
    echo "${ids[2]},bob,,"
    echo "missing.jpg,bob,,"
} >"$tmp/m.csv"
run_geoloc geotag --meta "$tmp/m.csv" --images "$dev/images" --album-by column:AUTHOR
expect_match 3 "missing.jpg" err "--meta: a missing photo named, exit 3"
check "--meta: methods" "python3 - <<'PY'
import csv, io
rows = {r['id']: r for r in csv.DictReader(io.StringIO('''$out'''))}
assert sorted(rows) == sorted(['${ids[0]}', '${ids[1]}', '${ids[2]}']), rows
assert rows['${ids[0]}']['method'] == 'anchor' and rows['${ids[0]}']['album'] == 'ann', rows
assert rows['${ids[0]}']['anchors'] == '1' and rows['${ids[0]}']['album_size'] == '2'
assert rows['${ids[2]}']['method'] == 'single' and rows['${ids[2]}']['album'] == 'bob'
PY"
run_geoloc geotag --meta "$tmp/m.csv" --images "$dev/images"
expect_match 3 "no --album-by: every photo alone" err "--meta without --album-by"
check "--meta alone: single" '[ "$(grep -c ",single," <<<"$out")" -eq 3 ]'

# ---- --album-by time:HOURS ---------------------------------------------------------------
if [ -x "${EXIF_TIME_FIXTURE:-}" ]; then
    mkdir -p "$tmp/t"
    "$EXIF_TIME_FIXTURE" "$dev/images/${ids[0]}" "$tmp/t/a.jpg" "2019:07:01 10:00:00"
    "$EXIF_TIME_FIXTURE" "$dev/images/${ids[1]}" "$tmp/t/b.jpg" "2019:07:01 11:30:00"
    "$EXIF_TIME_FIXTURE" "$dev/images/${ids[2]}" "$tmp/t/g.jpg" "2019:07:01 11:00:00" 48.8584 2.2945
    "$EXIF_TIME_FIXTURE" "$dev/images/${ids[3]}" "$tmp/t/c.jpg" "2019:07:03 09:00:00"
    "$EXIF_TIME_FIXTURE" "$dev/images/${ids[4]}" "$tmp/t/d.jpg" -
    run_geoloc geotag --album-by time:2 "$tmp/t"
    expect_match 0 "1 photo without a capture time: each an album of its own" err "time: the untimed photo stated"
    check "time: albums and methods" "python3 - <<'PY'
import csv, io
rows = {r['id'].rsplit('/', 1)[1]: r for r in csv.DictReader(io.StringIO('''$out'''))}
assert sorted(rows) == ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'], rows
assert rows['a.jpg']['album'] == rows['b.jpg']['album'] == 'time-1' and rows['a.jpg']['method'] == 'anchor', rows
assert rows['c.jpg']['album'] == 'time-2' and rows['c.jpg']['method'] == 'single', rows
assert rows['d.jpg']['album'] == 'd.jpg' and rows['d.jpg']['method'] == 'single', rows
PY"
    run_geoloc geotag --album-by time:2,folder "$tmp/t"
    expect_match 0 "without a capture time: albums by folder" err "time:HOURS,folder"
    # predict --album-by time:HOURS: the same albums (no GPS used there)
    run_geoloc predict --album-by time:2 --format csv "$tmp/t"
    check "predict --album-by time:2" "python3 - <<'PY'
import csv, io
rows = {r['file'].rsplit('/', 1)[1]: r for r in csv.DictReader(io.StringIO('''$out'''))}
got = [(rows[k]['album'], rows[k]['album_size']) for k in ('a.jpg', 'b.jpg', 'g.jpg', 'c.jpg', 'd.jpg')]
assert got == [('time-1', '3')] * 3 + [('time-2', '1'), ('d.jpg', '1')], got
assert rows['a.jpg']['lat'] == rows['g.jpg']['lat'], rows
PY"
else
    fail "EXIF_TIME_FIXTURE not set: the time tests cannot run"
fi
{
    echo "IMG_ID,AUTHOR,LAT,LON,DATETIME"
    echo "${ids[0]},x,,,2019-07-01T10:00:00"
    echo "${ids[1]},x,,,2019:07:01 10:30:00"
    echo "${ids[2]},x,,,2019-07-05T10:00:00"
} >"$tmp/tm.csv"
run_geoloc geotag --meta "$tmp/tm.csv" --images "$dev/images" --album-by time:1
expect_match 0 "${ids[1]},.*,album,time-1,2,0" out "--meta DATETIME: the first two one album"
run_geoloc geotag --meta "$tmp/m.csv" --images "$dev/images" --album-by time:1
expect_match 2 "no column DATETIME" err "time: without DATETIME"
finish
