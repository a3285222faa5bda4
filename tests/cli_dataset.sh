#!/usr/bin/env bash
# geoloc dataset scan / split / pack / info from the command line: usage and
# exit codes, scan of the shared exif-photos against exiftool's truth.csv,
# split of the real im2gps3k_dev.csv (no photographer on both sides, every
# row kept byte for byte, deterministic), pack + info --verify of its first
# photos with a report of the ones that cannot be read, bad input leaving no
# output. Parts that need ../shared/data say so and are skipped without it.
# Args: GEOLOC_BIN SHARED_DATA TEST_DATA.
. "$(dirname "$0")/lib.sh"
test_setup cli_dataset "$@"

# --- usage ------------------------------------------------------------------------
for sub in scan split pack info; do
  "$geoloc" dataset "$sub" --help > "$tmp/help" 2>&1
  check "$sub --help" '[ $? -eq 0 ] && grep -q "usage: geoloc dataset $sub" "$tmp/help"'
done
"$geoloc" dataset frobnicate 2> /dev/null
check "unknown subcommand exits 2" '[ $? -eq 2 ]'
"$geoloc" dataset scan 2> /dev/null
check "scan without arguments exits 2" '[ $? -eq 2 ]'
"$geoloc" dataset split x.csv --val-fraction 1.5 --out-train a --out-val b 2> "$tmp/err"
check "bad fraction exits 2" '[ $? -eq 2 ] && grep -q "val-fraction" "$tmp/err"'

# --- scan ---------------------------------------------------------------------------
"$geoloc" dataset scan "$tmp/nonexistent" --out "$tmp/none.csv" 2> "$tmp/err"
check "scan of a missing folder fails, writes nothing" '[ $? -eq 1 ] && [ ! -e "$tmp/none.csv" ] && grep -q nonexistent "$tmp/err"'

exif="$shared/exif-photos"
if [ -f "$exif/truth.csv" ]; then
  mkdir -p "$tmp/tree/deep/er"
  cp "$exif"/mx-*.jpg "$tmp/tree/"
  cp "$exif"/es-*.jpg "$exif"/mx-htc-desire.webp "$exif/truth.csv" "$tmp/tree/deep/er/"
  ln -s .. "$tmp/tree/deep/er/up"
  "$geoloc" dataset scan "$tmp/tree" --out "$tmp/scan.csv" --report "$tmp/skipped.csv" 2> "$tmp/err"
  check "scan exit code" '[ $? -eq 0 ]'
  check "scan summary" 'grep -q "geoloc dataset scan: 31 files, 27 photos with GPS, 5 skipped (3 no_gps, 1 not_image, 1 symlink_loop)" "$tmp/err"'
  check "manifest header" '[ "$(head -n 1 "$tmp/scan.csv")" = "IMG_ID,LAT,LON" ]'
  check "manifest sorted by path" '[ "$(tail -n +2 "$tmp/scan.csv" | cut -d, -f1)" = "$(tail -n +2 "$tmp/scan.csv" | cut -d, -f1 | LC_ALL=C sort)" ]'
  check "nested paths" 'grep -q "^deep/er/es-gps-DSCN0010.jpg," "$tmp/scan.csv"'
  check "report" 'grep -q "^deep/er/up/,symlink_loop,leads back to folder deep/" "$tmp/skipped.csv" && grep -q "^deep/er/truth.csv,not_image," "$tmp/skipped.csv" && grep -q "^mx-leica-t-no-gps.jpg,no_gps," "$tmp/skipped.csv"'
  # every position agrees with exiftool's to 1e-6 degree
  bad=$(awk -F, 'NR == FNR { if (FNR > 1 && $5 != "") { lat[$1] = $5; lon[$1] = $6 } next }
                 FNR > 1 { n = split($1, p, "/"); f = p[n];
                           if (!(f in lat) || (lat[f] - $2) ^ 2 > 1e-12 || (lon[f] - $3) ^ 2 > 1e-12) print f }' \
          "$exif/truth.csv" "$tmp/scan.csv")
  check "positions match truth.csv ($bad)" '[ -z "$bad" ]'
  check "all truth positions found" '[ "$(awk -F, "NR > 1 && \$5 != \"\"" "$exif/truth.csv" | wc -l)" -eq 27 ]'
else
  echo "SKIP part: $exif not found (scan of real photos)"
fi

# --- split ------------------------------------------------------------------------------
meta="$shared/im2gps3k-dev/im2gps3k_dev.csv"
if [ -f "$meta" ]; then
  "$geoloc" dataset split "$meta" --val-fraction 0.2 --seed 7 --out-train "$tmp/train.csv" --out-val "$tmp/val.csv" 2> "$tmp/err"
  check "split exit code" '[ $? -eq 0 ]'
  check "split summary" 'grep -q "validation share 0.[12][0-9]* (asked 0.2000)" "$tmp/err"'
  check "rows kept byte for byte" '[ "$( (tail -n +2 "$tmp/train.csv"; tail -n +2 "$tmp/val.csv") | LC_ALL=C sort | md5sum)" = "$(tail -n +2 "$meta" | LC_ALL=C sort | md5sum)" ]'
  check "same header" '[ "$(head -n 1 "$tmp/train.csv")" = "$(head -n 1 "$meta")" ] && [ "$(head -n 1 "$tmp/val.csv")" = "$(head -n 1 "$meta")" ]'
  both=$(comm -12 <(tail -n +2 "$tmp/train.csv" | cut -d, -f2 | LC_ALL=C sort -u) <(tail -n +2 "$tmp/val.csv" | cut -d, -f2 | LC_ALL=C sort -u) | wc -l)
  check "no photographer on both sides ($both)" '[ "$both" -eq 0 ]'
  vals=$(($(wc -l < "$tmp/val.csv") - 1))
  check "validation share near 0.2 ($vals of 1997)" '[ "$vals" -ge 380 ] && [ "$vals" -le 420 ]'
  "$geoloc" dataset split "$meta" --seed 7 --out-train "$tmp/train2.csv" --out-val "$tmp/val2.csv" 2> /dev/null
  check "deterministic" 'cmp -s "$tmp/train.csv" "$tmp/train2.csv" && cmp -s "$tmp/val.csv" "$tmp/val2.csv"'
  "$geoloc" dataset split "$meta" --seed 8 --out-train "$tmp/train3.csv" --out-val "$tmp/val3.csv" 2> /dev/null
  check "another seed, another split" '! cmp -s "$tmp/val.csv" "$tmp/val3.csv"'
  for k in 0 1 2; do
    "$geoloc" dataset split "$meta" --fold $k/3 --seed 7 --out-train "$tmp/ft$k.csv" --out-val "$tmp/fv$k.csv" 2> "$tmp/err$k"
  done
  check "--fold: the 3 validation folds hold every row once" '[ "$(tail -q -n +2 "$tmp"/fv[012].csv | LC_ALL=C sort | md5sum)" = "$(tail -n +2 "$meta" | LC_ALL=C sort | md5sum)" ]'
  both=$(comm -12 <(tail -n +2 "$tmp/ft1.csv" | cut -d, -f2 | LC_ALL=C sort -u) <(tail -n +2 "$tmp/fv1.csv" | cut -d, -f2 | LC_ALL=C sort -u) | wc -l)
  check "--fold: no photographer on both sides ($both)" '[ "$both" -eq 0 ]'
  check "--fold: folds as even as the photographers allow" '(for k in 0 1 2; do v=$(($(wc -l < "$tmp/fv$k.csv") - 1)); [ $v -ge 600 ] && [ $v -le 730 ] || exit 1; done)'
  "$geoloc" dataset split "$meta" --fold 3/3 --out-train "$tmp/ft.csv" --out-val "$tmp/fv.csv" 2> "$tmp/err"
  check "--fold out of range: usage error" '[ $? -eq 2 ] && grep -q "K/N with 0 <= K < N" "$tmp/err"'
  "$geoloc" dataset info "$meta" > "$tmp/info"
  check "manifest info" 'grep -q "^photos: *1997" "$tmp/info" && grep -q "^authors: *126 " "$tmp/info"'
else
  echo "SKIP part: $meta not found (split of the real data)"
fi

# bad manifests: message with file and line, no output
printf 'IMG_ID,AUTHOR,LAT,LON\na.jpg,x,1,2\nb.jpg,y,95,2\n' > "$tmp/bad.csv"
"$geoloc" dataset split "$tmp/bad.csv" --out-train "$tmp/bt.csv" --out-val "$tmp/bv.csv" 2> "$tmp/err"
check "bad manifest: exit 1, file:line:field, nothing written" '[ $? -eq 1 ] && grep -qF "$tmp/bad.csv:3: LAT: 95 is outside [-90, 90]" "$tmp/err" && [ ! -e "$tmp/bt.csv" ] && [ ! -e "$tmp/bv.csv" ]'
"$geoloc" dataset split "$tmp/bad.csv" --skip-invalid --val-fraction 0.5 --out-train "$tmp/bt.csv" --out-val "$tmp/bv.csv" 2> "$tmp/err"
check "--skip-invalid" '[ $? -eq 0 ] && grep -q "skipped 1 invalid rows" "$tmp/err" && [ $(( $(wc -l < "$tmp/bt.csv") + $(wc -l < "$tmp/bv.csv") )) -eq 3 ]'

# --- pack and info -------------------------------------------------------------------------
if [ -f "$meta" ]; then
  { head -n 31 "$meta"; echo "missing/photo.jpg,someone,1,2,0,0,0,0.5,0.25,0.25"; } > "$tmp/small.csv"
  "$geoloc" dataset pack "$tmp/small.csv" --images "$shared/im2gps3k-dev/images" --out-dir "$tmp/shards" \
    --shard-mb 1 --threads 2 --report "$tmp/pack_skipped.csv" 2> "$tmp/err"
  check "pack exit code: 3, a photo skipped" '[ $? -eq 3 ]'
  check "pack summary" 'grep -q "packed 30 photos into [0-9]* shards" "$tmp/err" && grep -q "skipped 1," "$tmp/err"'
  check "pack report" 'grep -q "^missing/photo.jpg," "$tmp/pack_skipped.csv"'
  check "shards and index" '[ -f "$tmp/shards/index.bin" ] && [ -f "$tmp/shards/shard-00000.bin" ] && [ -z "$(ls "$tmp/shards" | grep tmp)" ]'
  "$geoloc" dataset info "$tmp/shards" --verify > "$tmp/info" 2> "$tmp/err"
  check "info --verify" '[ $? -eq 0 ] && grep -q "^photos: *30$" "$tmp/info" && grep -q "shorter side 320 px" "$tmp/info" && grep -q "30 photos, 0 with a bad checksum" "$tmp/info"'
  head -c 100 "$tmp/shards/index.bin" > "$tmp/cut" && cp "$tmp/cut" "$tmp/shards/index.bin"
  "$geoloc" dataset info "$tmp/shards" 2> "$tmp/err"
  check "truncated index: clear error" '[ $? -eq 1 ] && grep -q "index.bin: .*truncated" "$tmp/err"'
  # nothing packable: an error and no pack
  printf 'IMG_ID,LAT,LON\nnope.jpg,1,2\n' > "$tmp/nothing.csv"
  "$geoloc" dataset pack "$tmp/nothing.csv" --images "$tmp" --out-dir "$tmp/empty_pack" 2> "$tmp/err"
  check "nothing packable: exit 1, folder left empty" '[ $? -eq 1 ] && [ -z "$(ls -A "$tmp/empty_pack")" ]'
else
  echo "SKIP part: $meta not found (pack)"
fi

finish
