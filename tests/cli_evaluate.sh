#!/usr/bin/env bash
# Tests of `geoloc evaluate`.
# usage: cli_evaluate.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - hand-checked results on small CSVs in both accepted namings (LF, CRLF,
#   quoted fields, BOM, a summary after a blank line, the rows after it named
#   in a warning); predictions joined to a manifest (--truth); a full disk;
# - bad input: exit 1 and "geoloc evaluate: FILE:LINE: FIELD ..." on stderr;
# - --skip-invalid counting; usage errors;
# - shared data: every GeoEstimation Im2GPS results file reproduces its own
#   summary row (five accuracies as percentages and the mean, 2 decimals).
# The shared-data part is skipped (exit 77) when SHARED_DATA_DIR is absent,
# after everything else has run.
. "$(dirname "$0")/lib.sh"
test_setup cli_evaluate "$@"

# run ARGS...: runs geoloc evaluate; sets rc, out, err.
run() { run_geoloc evaluate "$@"; }

# json_num KEY: the number after "KEY": in $out.
json_num() { sed -n "s/.*\"$1\": \([-+0-9.eE]*\).*/\1/p" <<<"$out"; }

# expect_num KEY WANT TOLERANCE CASE
expect_num() {
    local got
    got=$(json_num "$1")
    if [ -n "$got" ] && awk -v g="$got" -v w="$2" -v t="$3" 'BEGIN { d = g - w; exit !(d <= t && -d <= t) }'; then
        pass
    else
        fail "$4: $1 is '${got}', expected $2 (+-$3); output: $out"
    fi
}

# write NAME CONTENT: writes $tmp/NAME with printf-style escapes (\n, \r).
write() { printf "$2" >"$tmp/$1"; }

# expect_bad NAME LINE FIELD [OPTIONS...]: evaluating $tmp/NAME fails with
# exit 1 and a message naming the file, the line and the field.
expect_bad() {
    local f=$tmp/$1 line=$2 field=$3
    shift 3
    run "$f" "$@"
    if [ "$rc" -ne 1 ]; then
        fail "$f: exit $rc, expected 1 (stderr: $err)"
    elif ! grep -qF -- "geoloc evaluate: $f:$line: $field" <<<"$err"; then
        fail "$f: message does not name '$f:$line: $field': $err"
    elif [ -n "$out" ]; then
        fail "$f: printed results despite the error: $out"
    else
        pass
    fi
}

# ---- usage ----
run --help
if [ "$rc" -eq 0 ] && grep -qF 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON' <<<"$out" &&
    grep -qF 'img_id,gt_lat,predicted_lat,gt_long,predicted_long' <<<"$out" &&
    grep -qF -- '--skip-invalid' <<<"$out" && grep -qF -- '--json' <<<"$out"; then pass; else fail "--help: exit $rc: $out"; fi
run
[ "$rc" -eq 2 ] && [ -n "$err" ] && pass || fail "no file: exit $rc"
run --bogus x.csv
[ "$rc" -eq 2 ] && grep -qF -- "--bogus" <<<"$err" && pass || fail "unknown option: exit $rc: $err"
run a.csv b.csv
[ "$rc" -eq 2 ] && pass || fail "two files: exit $rc"

# ---- hand-checked results ----
# 1 degree of arc = 6371 * pi / 180 = 111.19492664 km; 0.005 degree on the
# equator = 0.55597463 km; a quarter of the equator = 10007.54339801 km.
# Distances 0, 0.55597463, 111.19492664, 10007.54339801:
# accuracies 1km 2/4, 25km 2/4, 200km 3/4, 750km 3/4, 2500km 3/4;
# median (0.55597463 + 111.19492664) / 2 = 55.87545064;
# mean 10119.29429928 / 4 = 2529.82357482.
check_small() { # CASE: checks $out
    expect_num n 4 0 "$1"
    expect_num 1km 0.5 1e-9 "$1"
    expect_num 25km 0.5 1e-9 "$1"
    expect_num 200km 0.75 1e-9 "$1"
    expect_num 750km 0.75 1e-9 "$1"
    expect_num 2500km 0.75 1e-9 "$1"
    expect_num median_km 55.875451 2e-6 "$1"
    expect_num mean_km 2529.823575 2e-6 "$1"
    expect_num skipped 0 0 "$1"
}
write own.csv 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON\na.jpg,0,0,0,0\nb.jpg,0,0,1,0\nc.jpg,0,0,0,0.005\nd.jpg,0,0,0,90\n'
run "$tmp/own.csv" --json
[ "$rc" -eq 0 ] && pass || fail "own.csv: exit $rc: $err"
check_small "own format, LF"

# GeoEstimation naming, CRLF, columns in their order, a wrong
# great_circle_distance column (ignored), blank line, summary rows.
write ge.csv 'img_id,gt_lat,predicted_lat,gt_long,predicted_long,great_circle_distance\r\na.jpg,0,0,0,0,999\r\nb.jpg,0,1,0,0,999\r\nc.jpg,0,0,0,0.005,999\r\nd.jpg,0,0,0,90,999\r\n\r\nstreet acc (1km),city acc (25km),region acc (200km),country acc (750km),continent acc (2500km),mean deviation (km)\r\n0.1,0.2,0.3,0.4,0.5,1234.5\r\n'
run --json "$tmp/ge.csv"
[ "$rc" -eq 0 ] && pass || fail "ge.csv: exit $rc: $err"
check_small "GeoEstimation format, CRLF, summary after a blank line"

# Quoted fields, a byte order mark, reordered columns, no final newline.
write quoted.csv '\357\273\277PRED_LON,PRED_LAT,IMG_ID,LON,LAT\r\n"0",0,"a,1.jpg",0,0\r\n0,"1",b.jpg,0,"0"\r\n0.005,0,c.jpg,0,0\r\n90,0,d.jpg,"0",0'
run "$tmp/quoted.csv" --json
[ "$rc" -eq 0 ] && pass || fail "quoted.csv: exit $rc: $err"
check_small "quoted fields, BOM, no final newline"

# The readable table.
run "$tmp/own.csv"
if [ "$rc" -eq 0 ] && grep -q 'photos: *4' <<<"$out" && grep -q 'street (1 km) *50\.00 %' <<<"$out" &&
    grep -q 'city (25 km) *50\.00 %' <<<"$out" && grep -q 'region (200 km) *75\.00 %' <<<"$out" &&
    grep -q 'country (750 km) *75\.00 %' <<<"$out" && grep -q 'continent (2500 km) *75\.00 %' <<<"$out" &&
    grep -q 'median error: *55\.88 km' <<<"$out" && grep -q 'mean error: *2529\.82 km' <<<"$out"; then
    pass
else
    fail "table output (exit $rc): $out"
fi

# Range limits are valid values.
write limits.csv 'LAT,LON,PRED_LAT,PRED_LON\n90,180,-90,-180\n-90,-180,90,180\n0,180,0,-180\n'
run "$tmp/limits.csv" --json
[ "$rc" -eq 0 ] && pass || fail "limits.csv: exit $rc: $err"
expect_num n 3 0 "range limits"
expect_num median_km 20015.086796 1e-5 "range limits"

# Rows after the first blank line are not predictions, even invalid ones.
write tail.csv 'LAT,LON,PRED_LAT,PRED_LON\n0,0,0,0\n\nnot,a,prediction,row\nx\n'
run "$tmp/tail.csv" --json
[ "$rc" -eq 0 ] && pass || fail "tail.csv: exit $rc: $err"
expect_num n 1 0 "stop at the blank line"
grep -qF "warning: $tmp/tail.csv: reading stopped at the blank line 3; 2 rows after it ignored (lines 4, 5)" <<<"$err" &&
    pass || fail "the rows after the blank line are counted and named: $err"
write tail_many.csv 'LAT,LON,PRED_LAT,PRED_LON\n0,0,0,0\n\n1\n2\n\n3\n4\n5\n6\n'
run "$tmp/tail_many.csv" --json
grep -qF "blank line 3; 6 rows after it ignored (lines 4, 5, 7, 8, 9, ...)" <<<"$err" && pass ||
    fail "many ignored rows: the count and the first five lines: $err"
write tail_none.csv 'LAT,LON,PRED_LAT,PRED_LON\n0,0,0,0\n\n\n'
run "$tmp/tail_none.csv" --json
[ "$rc" -eq 0 ] && [ -z "$err" ] && pass || fail "blank lines at the end only: no warning: $err"

# --truth: predictions (geoloc predict's CSV) joined to a manifest by IMG_ID
write truth.csv 'IMG_ID,LAT,LON\na.jpg,0,0\nsub/b.jpg,10,10\nc.jpg,0,90\n'
write pred.csv 'file,lat,lon,cell\nphotos/a.jpg,0,1,x\n/data/photos/sub/b.jpg,10,10,x\nzz/b.jpg,5,5,x\nd.jpg,1,1,x\n'
run "$tmp/pred.csv" --truth "$tmp/truth.csv" --json
[ "$rc" -eq 0 ] && pass || fail "--truth: exit $rc: $err"
expect_num n 2 0 "--truth: a.jpg and sub/b.jpg joined (zz/b.jpg and d.jpg are not theirs)"
expect_num median_km 55.597463 1e-3 "--truth: distances from the manifest's positions"
grep -qF "c.jpg (line 4 of $tmp/truth.csv): no prediction" <<<"$err" && grep -qF "2 predictions of $tmp/pred.csv have no truth" <<<"$err" &&
    pass || fail "--truth: photos missing on either side named and counted: $err"
run "$tmp/pred.csv" --truth "$tmp/none.csv"
[ "$rc" -eq 1 ] && grep -qF "none.csv" <<<"$err" && pass || fail "--truth: a missing manifest: exit $rc: $err"

# standard output on a full disk
"$geoloc" evaluate "$tmp/tail.csv" >/dev/full 2>"$tmp/err"
[ $? -eq 1 ] && grep -qF "cannot write the output" "$tmp/err" && pass || fail "evaluate > /dev/full: $(cat "$tmp/err")"

# ---- bad input ----
run "$tmp/missing.csv"
[ "$rc" -eq 1 ] && grep -qF "geoloc evaluate: $tmp/missing.csv" <<<"$err" && pass ||
    fail "missing file: exit $rc: $err"
run "$tmp"
[ "$rc" -eq 1 ] && grep -qF "$tmp" <<<"$err" && pass || fail "directory: exit $rc: $err"
: >"$tmp/empty.csv"
expect_bad empty.csv 1 "empty file"
write header_only.csv 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON\r\n'
run "$tmp/header_only.csv"
[ "$rc" -eq 1 ] && grep -qF "geoloc evaluate: $tmp/header_only.csv: no prediction rows" <<<"$err" &&
    pass || fail "header only: exit $rc: $err"
write blank_first.csv 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON\n\n0,0,0,0\n'
run "$tmp/blank_first.csv"
[ "$rc" -eq 1 ] && grep -qF "no prediction rows" <<<"$err" && pass || fail "blank first row: exit $rc: $err"
write nocols.csv 'a,b,c\n1,2,3\n'
expect_bad nocols.csv 1 "header: no column for the true latitude (gt_lat or LAT)"
write halfcols.csv 'IMG_ID,LAT,LON\r\nx,1,2\r\n'
expect_bad halfcols.csv 1 "header: no column for the predicted latitude (predicted_lat or PRED_LAT)"
grep -qF "LAT" <<<"$err" && ! grep -qF "true latitude" <<<"$err" && pass ||
    fail "halfcols: lists present columns as missing: $err"
write lowercase.csv 'lat,lon,pred_lat,pred_lon\n1,2,3,4\n'
expect_bad lowercase.csv 1 "header: no column"

write empty_field.csv 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON\na,1,2,3,4\nb,1,2,,4\n'
expect_bad empty_field.csv 3 "PRED_LAT: missing value"
write short_row.csv 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON\r\na,1,2,3\r\n'
expect_bad short_row.csv 2 "PRED_LON: missing"
write word.csv 'img_id,gt_lat,predicted_lat,gt_long,predicted_long\r\na,1,2,3,4\r\nb,1,2,3,4\r\nc,1,2,abc,4\r\n'
expect_bad word.csv 4 "gt_long: 'abc' is not a number"
write spaces.csv 'LAT,LON,PRED_LAT,PRED_LON\n1, 2,3,4\n'
expect_bad spaces.csv 2 "LON: ' 2' is not a number"
write hex.csv 'LAT,LON,PRED_LAT,PRED_LON\n0x1,2,3,4\n'
expect_bad hex.csv 2 "LAT: '0x1' is not a number"
write nan.csv 'LAT,LON,PRED_LAT,PRED_LON\r\n1,2,3,4\r\n1,2,NaN,4\r\n'
expect_bad nan.csv 3 "PRED_LAT: 'NaN' is not a finite number"
write inf.csv 'LAT,LON,PRED_LAT,PRED_LON\n1,inf,3,4\n'
expect_bad inf.csv 2 "LON: 'inf' is not a finite number"
write minf.csv 'LAT,LON,PRED_LAT,PRED_LON\n1,2,3,-Infinity\n'
expect_bad minf.csv 2 "PRED_LON: '-Infinity' is not a finite number"
write overflow.csv 'LAT,LON,PRED_LAT,PRED_LON\n1e999,2,3,4\n'
expect_bad overflow.csv 2 "LAT: 1e999 is outside [-90, 90]"
write lat_high.csv 'LAT,LON,PRED_LAT,PRED_LON\r\n90.5,2,3,4\r\n'
expect_bad lat_high.csv 2 "LAT: 90.5 is outside [-90, 90]"
write lat_low.csv 'img_id,gt_lat,predicted_lat,gt_long,predicted_long\na,1,-90.000001,3,4\n'
expect_bad lat_low.csv 2 "predicted_lat: -90.000001 is outside [-90, 90]"
write lng_high.csv 'LAT,LON,PRED_LAT,PRED_LON\n1,180.5,3,4\n'
expect_bad lng_high.csv 2 "LON: 180.5 is outside [-180, 180]"
write lng_low.csv 'LAT,LON,PRED_LAT,PRED_LON\r\n1,2,3,4\r\n1,2,3,-181\r\n'
expect_bad lng_low.csv 3 "PRED_LON: -181 is outside [-180, 180]"
# A quoted field across lines: the next row's line number follows it.
write multiline.csv 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON\n"a\nb",1,2,3,4\nc,1,2,3,x\n'
expect_bad multiline.csv 4 "PRED_LON: 'x' is not a number"
write unterminated.csv 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON\na,1,2,3,4\n"b,1,2,3,4\n'
run "$tmp/unterminated.csv"
[ "$rc" -eq 1 ] && grep -qF "$tmp/unterminated.csv:3:" <<<"$err" && pass ||
    fail "unterminated quote: exit $rc: $err"

# ---- --skip-invalid ----
write mixed.csv 'IMG_ID,LAT,LON,PRED_LAT,PRED_LON\r\na,0,0,0,0\r\nb,0,0,1,0\r\nbad1,0,0,,0\r\nc,0,0,0,0.005\r\nbad2,95,0,0,0\r\nbad3,0,0,0,nan\r\nd,0,0,0,90\r\n'
run "$tmp/mixed.csv" --skip-invalid --json
[ "$rc" -eq 0 ] && pass || fail "mixed.csv --skip-invalid: exit $rc: $err"
expect_num n 4 0 "skip-invalid"
expect_num skipped 3 0 "skip-invalid"
expect_num median_km 55.875451 2e-6 "skip-invalid"
grep -qF "$tmp/mixed.csv: skipped 3 invalid rows" <<<"$err" && pass || fail "skip count not on stderr: $err"
grep -qF "$tmp/mixed.csv:4: PRED_LAT" <<<"$err" && grep -qF "$tmp/mixed.csv:6: LAT" <<<"$err" &&
    grep -qF "$tmp/mixed.csv:7: PRED_LON" <<<"$err" && pass || fail "skipped rows not named: $err"
run "$tmp/mixed.csv"
[ "$rc" -eq 1 ] && grep -qF "$tmp/mixed.csv:4: PRED_LAT: missing value" <<<"$err" && pass ||
    fail "mixed.csv without --skip-invalid: exit $rc: $err"
run "$tmp/mixed.csv" --skip-invalid
[ "$rc" -eq 0 ] && grep -q 'skipped: *3 invalid rows' <<<"$out" && grep -q 'photos: *4' <<<"$out" &&
    pass || fail "table with --skip-invalid: $out"
# Many invalid rows: each counted, the first ones named.
{
    printf 'LAT,LON,PRED_LAT,PRED_LON\n1,1,1,1\n'
    for i in $(seq 1 25); do printf '1,1,1,x%d\n' "$i"; done
} >"$tmp/many.csv"
run --skip-invalid --json "$tmp/many.csv"
[ "$rc" -eq 0 ] && pass || fail "many.csv: exit $rc: $err"
expect_num skipped 25 0 "25 invalid rows"
expect_num n 1 0 "25 invalid rows"
grep -qF "skipped 25 invalid rows" <<<"$err" && pass || fail "many.csv: count: $err"
# Zero valid rows is still an error.
write allbad.csv 'LAT,LON,PRED_LAT,PRED_LON\n1,2,3,\n100,2,3,4\n'
run "$tmp/allbad.csv" --skip-invalid --json
[ "$rc" -eq 1 ] && [ -z "$out" ] && grep -qF "$tmp/allbad.csv: no valid prediction rows" <<<"$err" &&
    pass || fail "all rows invalid with --skip-invalid: exit $rc: $err"
# A malformed row is skipped too (the reader resumes at the next line).
write afterquote.csv 'LAT,LON,PRED_LAT,PRED_LON\n"1"x,2,3,4\n0,0,0,0\n'
run "$tmp/afterquote.csv" --skip-invalid --json
[ "$rc" -eq 0 ] && pass || fail "afterquote.csv: exit $rc: $err"
expect_num skipped 1 0 "text after a closing quote"
expect_num n 1 0 "text after a closing quote"

# ---- shared data: GeoEstimation results reproduce their summary rows ----
results=$shared/geoestimation/results-im2gps
shared_done=0
if [ -n "$shared" ] && [ -d "$results" ]; then
    nfiles=0
    for f in "$results"/*.csv; do
        [ -e "$f" ] || continue
        nfiles=$((nfiles + 1))
        name=$(basename "$f")
        # The summary row: the second line after the first blank line.
        summary=$(tr -d '\r' <"$f" | awk 'state == 2 { print; exit } state == 1 { state = 2; next } /^$/ { state = 1 }')
        IFS=, read -r s1 s25 s200 s750 s2500 smean <<<"$summary"
        if [ -z "${smean:-}" ]; then
            fail "$name: no summary row found"
            continue
        fi
        run --json "$f"
        if [ "$rc" -ne 0 ]; then
            fail "$name: exit $rc: $err"
            continue
        fi
        line="$name: n=$(json_num n)"
        ok=1
        for pair in "1km $s1" "25km $s25" "200km $s200" "750km $s750" "2500km $s2500"; do
            set -- $pair
            got=$(json_num "$1")
            # Percentages to 2 decimals. The summary fractions have 6
            # decimals: round them as integers (0.64135 -> 64.14 %).
            cmp=$(awk -v g="$got" -v w="$2" 'BEGIN {
                gi = int(g * 1e4 + 0.5); wi = int((int(w * 1e6 + 0.5) + 50) / 100)
                printf "%.2f %.2f %d", gi / 100, wi / 100, gi == wi }')
            set -- $1 $cmp
            line="$line $1=$2%"
            if [ "$4" != 1 ]; then
                fail "$name: accuracy at $1 is $2 %, summary row says $3 %"
                ok=0
            fi
        done
        got=$(json_num mean_km)
        cmp=$(awk -v g="$got" -v w="$smean" 'BEGIN {
            gi = int(g * 100 + 0.5); wi = int(w * 100 + 0.5)
            printf "%.2f %.2f %d", gi / 100, wi / 100, gi == wi }')
        set -- $cmp
        line="$line mean=$1 km (summary $2)"
        [ "$3" = 1 ] || { fail "$name: mean $1 km, summary row says $2 km"; ok=0; }
        [ "$(json_num n)" = 237 ] || { fail "$name: n is $(json_num n), Im2GPS has 237"; ok=0; }
        [ "$ok" = 1 ] && pass
        echo "$line"
    done
    [ "$nfiles" -eq 6 ] && pass || fail "$nfiles results files in $results, expected 6"
    shared_done=1
fi

if [ "$shared_done" = 0 ]; then
    skip_rest "SKIP: shared data not found at '${shared}' (GeoEstimation results part not run)"
fi
finish
