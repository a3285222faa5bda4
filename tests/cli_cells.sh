#!/usr/bin/env bash
# geoloc cells build / assign / hierarchy / sample from the command line:
# outputs, bad input (message naming file and line, non-zero exit, nothing
# written), --skip-invalid. Args: GEOLOC_BIN SHARED_DATA TEST_DATA.
. "$(dirname "$0")/lib.sh"
test_setup cli_cells "$@"

# --- build on a small data set -------------------------------------------------
{
  echo "IMG_ID,LAT,LON"
  for i in $(seq 1 60); do echo "paris$i,48.8584,2.2945"; done
  for i in $(seq 1 30); do echo "london$i,51.5007,-0.1246"; done
  for i in $(seq 1 3); do echo "lonely$i,-33.86,151.2"; done
} > "$tmp/photos.csv"
"$geoloc" cells build --tau-min 5 --tau-max 50,20 --out-dir "$tmp/out" "$tmp/photos.csv" 2> "$tmp/err"
check "build exit code" '[ $? -eq 0 ]'
check "build writes one file per tau-max" '[ -f "$tmp/out/cells_5_50.csv" ] && [ -f "$tmp/out/cells_5_20.csv" ]'
check "preamble" '[ "$(head -n 2 "$tmp/out/cells_5_50.csv" | tr -d "\r")" = "$(printf "num_images: 93\nmin_concept_probability: ---")" ]'
check "CRLF like the published files" 'head -n 1 "$tmp/out/cells_5_50.csv" | grep -q $'"'"'\r$'"'"''
# 60 identical Paris photos > 50 split down to one leaf cell; London's 30 stay in
# a level-2 cell (<= 50); Sydney's 3 <= tau_min are dropped.
check "cells of tau 50" '[ "$(tail -n +4 "$tmp/out/cells_5_50.csv" | wc -l)" -eq 2 ]'
check "leaf cell for the duplicates" 'tail -n +4 "$tmp/out/cells_5_50.csv" | tr -d "\r" | grep -q ",16,\?" || tail -n +4 "$tmp/out/cells_5_50.csv" | tr -d "\r" | awk -F, '"'"'length($2)==16 && $3==60'"'"' | grep -q .'
check "mean of the photos" 'tail -n +4 "$tmp/out/cells_5_50.csv" | tr -d "\r" | awk -F, "\$3==30 && \$4-51.5007<1e-12 && 51.5007-\$4<1e-12 && \$5+0.1246<1e-12" | grep -q .'
check "summary on stderr" 'grep -q "2 cells, 90 of 93 photos kept" "$tmp/err"'

# the CLI s2 token of the Paris photo at level 30 is the leaf cell of the file
if "$geoloc" s2 token --level 30 <<< "48.8584,2.2945" > "$tmp/tok" 2>/dev/null; then
  check "leaf token matches s2 token" 'grep -q ",$(cat "$tmp/tok"),60," "$tmp/out/cells_5_50.csv"'
fi

# --- assign and hierarchy ------------------------------------------------------
"$geoloc" cells assign --cells "$tmp/out/cells_5_50.csv,$tmp/out/cells_5_20.csv" --out "$tmp/assign.csv" "$tmp/photos.csv" 2> "$tmp/err"
check "assign exit code" '[ $? -eq 0 ]'
check "assign header" '[ "$(head -n 1 "$tmp/assign.csv")" = "IMG_ID,LAT,LON,cells_5_50,cells_5_20" ]'
check "assign rows" '[ "$(wc -l < "$tmp/assign.csv")" -eq 94 ]'
check "dropped photos have no class" 'grep -q "^lonely1,-33.86,151.2,,$" "$tmp/assign.csv"'
check "unassigned reported" 'grep -q "3 of 93 photos fall in no cell" "$tmp/err"'
"$geoloc" cells hierarchy --out "$tmp/h.csv" "$tmp/out/cells_5_50.csv" "$tmp/out/cells_5_20.csv"
check "hierarchy exit code" '[ $? -eq 0 ]'
check "hierarchy rows" '[ "$(wc -l < "$tmp/h.csv")" -eq 3 ] && head -n 1 "$tmp/h.csv" | grep -q "^class_label,hex_id,cells_5_50$"'

# --- bad input ---------------------------------------------------------------------
bad() { # name, file content, expected message part
  printf "%b" "$2" > "$tmp/bad.csv"
  rm -rf "$tmp/badout"
  "$geoloc" cells build --tau-min 1 --tau-max 10 --out-dir "$tmp/badout" "$tmp/bad.csv" 2> "$tmp/err"
  local rc=$?
  if [ $rc -ne 0 ] && grep -qF "$tmp/bad.csv" "$tmp/err" && grep -qF -- "$3" "$tmp/err" && [ ! -e "$tmp/badout/cells_1_10.csv" ]; then pass
  else fail "$1 (rc $rc): $(cat "$tmp/err")"; fi
}
bad "missing coordinate" "LAT,LON\n1,2\n,3\n" ":3: LAT: missing value"
bad "non-numeric" "LAT,LON\n1,2\n1,east\n" ":3: LON: 'east' is not a number"
bad "latitude > 90" "lat,lng\n91,2\n" ":2: lat: 91 is outside [-90, 90]"
bad "longitude < -180" "latitude,longitude\n1,-181\n" ":2: longitude: -181 is outside [-180, 180]"
bad "NaN" "LAT,LON\nNaN,1\n" ":2: LAT: 'NaN' is not a finite number"
bad "inf" "LAT,LON\n1,inf\n" ":2: LON: 'inf' is not a finite number"
bad "overflow" "LAT,LON\n1,1e400\n" ":2: LON: 1e400 is outside [-180, 180]"
bad "empty file" "" "empty file"
bad "no coordinate column" "a,b\n1,2\n" "no latitude column"
bad "short row" "LAT,LON\n1\n" ":2: expected at least 2 fields"
bad "CRLF row numbers" "LAT,LON\r\n1,2\r\n1,x\r\n" ":3: LON: 'x' is not a number"
"$geoloc" cells build --tau-min 1 --tau-max 10 --out-dir "$tmp/nofile" "$tmp/does-not-exist.csv" 2> "$tmp/err"
check "missing file" '[ $? -ne 0 ] && grep -q "does-not-exist.csv: cannot open" "$tmp/err"'
"$geoloc" cells build --tau-min 10 --tau-max 5 --out-dir "$tmp/x" "$tmp/photos.csv" 2> "$tmp/err"
check "tau-max <= tau-min refused" '[ $? -eq 2 ] && grep -q "must be larger" "$tmp/err"'
"$geoloc" cells build --tau-min 1 --tau-max 10,abc --out-dir "$tmp/x" "$tmp/photos.csv" 2> "$tmp/err"
check "bad tau list refused" '[ $? -eq 2 ] && grep -q "tau-max must be a comma-separated list of non-negative integers from 1" "$tmp/err"'

# --skip-invalid: counted, reported, the rest goes on
printf "LAT,LON\n1,2\n95,1\n1,2\nx,y\n1,2\n" > "$tmp/skip.csv"
"$geoloc" cells build --skip-invalid --tau-min 1 --tau-max 10 --out-dir "$tmp/skipout" "$tmp/skip.csv" 2> "$tmp/err"
check "skip-invalid exit" '[ $? -eq 0 ]'
check "skip-invalid count" 'grep -q "skipped 2 invalid rows" "$tmp/err" && grep -q "skip.csv:3: LAT" "$tmp/err"'
check "skip-invalid result" 'grep -q "^num_images: 3" "$tmp/skipout/cells_1_10.csv"'

# an existing output survives a failed run untouched (atomic writes)
cp "$tmp/out/cells_5_50.csv" "$tmp/before.csv"
printf "LAT,LON\n1,x\n" > "$tmp/bad2.csv"
"$geoloc" cells build --tau-min 5 --tau-max 50 --out-dir "$tmp/out" "$tmp/bad2.csv" 2>/dev/null
check "failed run leaves the old output" 'cmp -s "$tmp/before.csv" "$tmp/out/cells_5_50.csv" && [ -z "$(ls "$tmp/out" | grep tmp)" ]'

# bad partition files for assign
printf "class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean\n0,zz,3,1,1\n" > "$tmp/badcells.csv"
"$geoloc" cells assign --cells "$tmp/badcells.csv" "$tmp/photos.csv" > /dev/null 2> "$tmp/err"
check "malformed token in a partition" '[ $? -ne 0 ] && grep -q "badcells.csv:2: hex_id: not a valid S2 cell token" "$tmp/err"'

# --help everywhere
for sub in "" build assign hierarchy sample; do
  "$geoloc" cells $sub --help > "$tmp/help" 2>&1
  check "cells $sub --help" '[ $? -eq 0 ] && grep -q usage "$tmp/help"'
done

# --- the published partitions --------------------------------------------------------
if [ -d "$shared/geoestimation" ]; then
  g=$shared/geoestimation
  "$geoloc" cells hierarchy --out "$tmp/ph.csv" "$g/cells_50_5000.csv" "$g/cells_50_2000.csv" "$g/cells_50_1000.csv"
  check "published hierarchy complete" '[ $? -eq 0 ] && [ "$(wc -l < "$tmp/ph.csv")" -eq 12894 ] && ! grep -q ",$" "$tmp/ph.csv"'
  "$geoloc" cells sample --from "$g/cells_50_5000.csv" --scale 0.01 --out "$tmp/sample.csv" 2>/dev/null
  "$geoloc" cells assign --cells "$g/cells_50_5000.csv" --out "$tmp/sa.csv" "$tmp/sample.csv" 2>/dev/null
  check "sampled points fall in their cells" '[ "$(awk -F, "NR>1 && \$4==\"\"" "$tmp/sa.csv" | wc -l)" -lt 5 ]'
else
  echo "SKIP: published partitions: shared data not found at $shared"
fi

finish
