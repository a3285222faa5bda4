#!/usr/bin/env bash
# Tests of `geoloc explain`.
# usage: cli_explain.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage errors: no --out, no photo, an output folder that does not exist,
#   --out equal to the photo, a --cell that is no token: exit 2, nothing written;
# - with the default model (share/geoloc + the ImageNet backbone) on the
#   example photo, a coarse 4x4 grid (--stride 56): the overlay PNG (size:
#   the 384x256 view enlarged to 768x512, plus the 64-pixel legend), the CSV
#   grid (16 rows, drop = p_full - p_occluded in [-1, 1]), the answer equal to
#   `geoloc predict --crops center` (cell and probability), the count of
#   network images printed; --cell of predict's second cell explains that
#   cell; a cell outside the partition and an unreadable photo refused with
#   nothing written.
# Skipped (exit 77) without the default model.
. "$(dirname "$0")/lib.sh"
test_setup cli_explain "$@"
unset GEOLOC_MODEL GEOLOC_DATA_DIR
here=$(cd "$(dirname "$0")/.." && pwd)
example=$here/share/geoloc/example.jpg

# ---- usage (no model needed) -----------------------------------------------------
run_geoloc explain --help
for opt in model out csv patch stride cell partition batch; do
    check "--help documents --$opt" '[ $rc -eq 0 ] && [[ $out == *"--$opt"* ]]'
done
run_geoloc explain "$example"
expect_match 2 "--out is required" err "no --out"
run_geoloc explain --out "$tmp/a.png"
expect_match 2 "missing PHOTO" err "no photo"
run_geoloc explain --out "$tmp/no/such/a.png" "$example"
expect_match 2 "the folder $tmp/no/such does not exist" err "missing output folder"
run_geoloc explain --out "$tmp/a.png" --csv "$tmp/none/g.csv" "$example"
expect_match 2 "--csv $tmp/none/g.csv: the folder" err "missing --csv folder"
check "nothing written after a usage error" '[ ! -e "$tmp/a.png" ]'
cp "$example" "$tmp/photo.jpg"
run_geoloc explain --out "$tmp/photo.jpg" "$tmp/photo.jpg"
expect_match 2 "photo.jpg" err "--out is the photo"
check "the photo kept" 'cmp -s "$example" "$tmp/photo.jpg"'
run_geoloc explain --patch 0 --out "$tmp/a.png" "$example"
expect_match 2 "--patch must be an integer from 1" err "--patch 0"

if [ ! -e "$here/models/resnet50-imagenet.safetensors" ] || [ ! -e "$here/share/geoloc/geoloc-default.safetensors" ]; then
    skip_rest "default model or ImageNet backbone absent (./setup.sh): the model checks are skipped"
fi
run_geoloc explain --cell zz --out "$tmp/a.png" "$example"
expect_match 2 "--cell zz: not an S2 cell token" err "a bad token"
leaf=$(echo "48.8584,2.2945" | "$geoloc" s2 token --level=30)
run_geoloc explain --cell "$leaf" --stride 112 --out "$tmp/a.png" "$example"
expect_match 2 "cell $leaf is not a cell of partition" err "a cell outside the partition"
check "nothing written for a bad cell" '[ ! -e "$tmp/a.png" ]'
echo "not a photo" >"$tmp/bad.jpg"
run_geoloc explain --out "$tmp/a.png" "$tmp/bad.jpg"
expect_match 1 "bad.jpg" err "an unreadable photo"
run_geoloc explain --out "$tmp/a.png" "$tmp/missing.jpg"
expect_match 1 "missing.jpg" err "a missing photo"
check "nothing written for a bad photo (no temporary file either)" '! ls -a "$tmp" | grep -q "a\.png"'

# ---- the example photo -----------------------------------------------------------------
"$geoloc" predict --crops center --top 2 --format csv "$example" >"$tmp/pred.csv"
# column NAME: predict's CSV field by its header name (place names hold no commas here)
column() { awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) k = i } NR == 2 { print $k }' "$tmp/pred.csv"; }
cell1=$(column cell)
prob1=$(printf "%.4f" "$(column prob)")
cell2=$(column top2_cell)
run_geoloc explain --stride 56 --out "$tmp/ex.png" --csv "$tmp/ex.csv" "$example"
expect_match 0 "cell $cell1 \\(cells_[0-9_]+\\) p=$prob1 on the center crop; 4x4 grid, patch 32 px, stride 56 px of 224" out \
    "explains predict's center-crop answer"
expect_match 0 "^17 network images in 2 batches, [0-9.]+ s" out "images counted"
check "overlay: a PNG of 768x576" 'python3 - "$tmp/ex.png" <<EOF
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", d[:8]
assert struct.unpack(">II", d[16:24]) == (768, 576), struct.unpack(">II", d[16:24])
EOF'
run_geoloc photo info --decode "$tmp/ex.png"
expect_match 0 "PNG 768x576" out "overlay decodes"
check "grid CSV: 16 cells with drops in [-1, 1]" 'python3 - "$tmp/ex.csv" <<EOF
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 16 and list(rows[0]) == ["row", "col", "x", "y", "width", "height", "drop"]
assert all(-1 <= float(r["drop"]) <= 1 for r in rows)
assert (rows[0]["x"], rows[0]["width"], rows[15]["x"], rows[15]["width"]) == ("12", "32", "180", "32"), rows[15]
assert any(abs(float(r["drop"])) > 1e-3 for r in rows)
EOF'
run_geoloc explain --cell "$cell2" --stride 112 --batch 5 --out "$tmp/ex2.png" "$example"
expect_match 0 "cell $cell2 \\(" out "--cell explains another cell"
expect_match 0 "^5 network images in 1 batch," out "--batch"
finish
