#!/usr/bin/env bash
# Tests of what every geoloc command shares: the option tables, the help made
# from them, the dispatch of subcommands, exit codes, outputs that would
# overwrite an input or each other, and errors writing standard output.
# usage: cli_options.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - geoloc --help lists every command and subcommand (bench nn included), and
#   each listed one answers --help with its own usage (exit 0);
# - --opt=value and --opt value give the same result; -x short options;
#   '-' and a file name are stdin and a file for s2 token;
# - '-' is standard input for CSV inputs: cells build, dataset split, evaluate
#   --truth, cells assign read from a pipe give what the file gives; an empty
#   standard input is an error; '-' given for two inputs: exit 2, named;
# - unknown option, missing value, bad number (named), missing required
#   option, extra argument: exit 2 and the option's name in the message;
# - dataset split with --out-train = --out-val, or an output that is the input
#   (same name, ./name, a hard link), cells assign/hierarchy/sample --out = an
#   input: exit 2 before any work, message naming both, files untouched;
#   predict --out = a photo or --model, evaluate --out = --meta or --model:
#   the same refusal; predict --top=x, evaluate --bogus: exit 2, named;
# - predict --format=csv --top=2 with the default model (when installed);
# - standard output on /dev/full: "geoloc: standard output: No space left on
#   device", exit 1; a closed pipe ends quietly (SIGPIPE, no message);
# - dataset scan: exit 3 when a file could not be read (a broken link);
# - shared data: photo info > /dev/full; dataset pack progress with ETA on a
#   terminal (script(1)) and none when stderr is a file; skipped at exit 77
#   when the shared data is absent, after everything else has run.
. "$(dirname "$0")/lib.sh"
test_setup cli_options "$@"

# ---- help lists every command, each answers --help ------------------------------
run_geoloc --help
expect_match 0 "^  bench nn " out "geoloc --help lists bench nn"
commands=$(sed -n 's/^  \([a-z0-9-]\+\( [a-z0-9-]\+\)\?\)  .*/\1/p' <<<"$out")
for want in demo "s2 token" "s2 cell" "cells build" "cells hierarchy" "cells assign" "cells sample" \
    predict evaluate "model info" "model init" "bench cells" "bench loader" "bench nn" "photo info" \
    "dataset scan" "dataset split" "dataset pack" "dataset info" "weights import-keras" train \
    classify-imagenet; do
    check "geoloc --help lists '$want'" 'grep -qx "$want" <<<"$commands"'
done
for c in $(tr ' ' '+' <<<"$commands"); do
    c=${c//+/ }
    # shellcheck disable=SC2086
    run_geoloc $c --help
    check "geoloc $c --help: exit 0, its own usage (exit $rc)" '[ $rc -eq 0 ] && [[ $out == "usage: geoloc $c"* ]] && [ -z "$err" ]'
done
for group in s2 cells model bench photo dataset weights; do
    run_geoloc $group --help
    listed=$(sed -n 's/^  \([a-z0-9-]\+\)  .*/\1/p' <<<"$out")
    check "geoloc $group --help lists its subcommands" \
        '[ $rc -eq 0 ] && [ "$listed" = "$(sed -n "s/^$group //p" <<<"$commands")" ]'
done
run_geoloc bench
expect_match 2 "^usage: geoloc bench <command>" err "bench without a subcommand"
run_geoloc bench nothing
expect_match 2 "geoloc bench: unknown command 'nothing'" err "bench: unknown subcommand"
run_geoloc nothing
expect_match 2 "geoloc: unknown command 'nothing'" err "unknown command"

# ---- option forms -------------------------------------------------------------------
p="48.8584,2.2945"
printf '%s\n' "$p" >"$tmp/p.csv"
want=$("$geoloc" s2 token --level 13 <"$tmp/p.csv")
for form in "--level=13" "-l 13" "-l13"; do
    # shellcheck disable=SC2086
    got=$("$geoloc" s2 token $form <"$tmp/p.csv")
    check "s2 token $form = --level 13" '[ $? -eq 0 ] && [ "$got" = "$want" ] && [ -n "$want" ]'
done
got=$("$geoloc" s2 token --level 13 - <"$tmp/p.csv")
check "s2 token -: standard input" '[ $? -eq 0 ] && [ "$got" = "$want" ]'
got=$("$geoloc" s2 token --level 13 "$tmp/p.csv" </dev/null)
check "s2 token FILE" '[ $? -eq 0 ] && [ "$got" = "$want" ]'
printf '%s\n1,2,3\n' "$p" >"$tmp/bad.csv"
run_geoloc s2 token "$tmp/bad.csv"
expect_match 1 "bad.csv:2: expected 2 fields" err "s2 token FILE: errors name the file"
got=$("$geoloc" s2 cell -- 89c259)
check "-- ends the options" '[ $? -eq 0 ] && [[ $got == token:*89c259* ]]'

# ---- usage errors: exit 2, named ------------------------------------------------------
usage_error() { # NAME PATTERN ARGS...
    local name=$1 pattern=$2
    shift 2
    run_geoloc "$@" </dev/null
    if [ "$rc" -eq 2 ] && [ -z "$out" ] && grep -qE -- "$pattern" <<<"$(head -n 1 <<<"$err")"; then pass
    else fail "$name: exit $rc, stderr '$err' (want /$pattern/)"; fi
}
usage_error "unknown long option" "^geoloc cells build: unknown option '--tau'$" cells build --tau=3 x.csv
usage_error "unknown short option" "^geoloc dataset split: unknown option '-z'$" dataset split -z x.csv
usage_error "flag with a value" "^geoloc photo info: --json takes no value$" photo info --json=1 x.jpg
usage_error "missing value" "^geoloc cells assign: --out needs a value \(FILE\)$" cells assign x.csv --cells a.csv --out
usage_error "bad integer" "^geoloc cells build: --tau-min must be an integer from 0 to .*, not '5x'$" \
    cells build --tau-min 5x --tau-max 10 --out-dir d x.csv
usage_error "bad number" "^geoloc dataset split: --val-fraction must be a number from 0 to 1, not 'abc'$" \
    dataset split --val-fraction abc --out-train a --out-val b x.csv
usage_error "val-fraction 1" "^geoloc dataset split: --val-fraction must be a number between 0 and 1" \
    dataset split --val-fraction 1 --out-train a --out-val b x.csv
usage_error "negative seed" "^geoloc dataset split: --seed must be a non-negative integer, not '-1'$" \
    dataset split --seed -1 --out-train a --out-val b x.csv
usage_error "out of range" "^geoloc dataset pack: --quality must be an integer from 1 to 100, not '101'$" \
    dataset pack --quality 101 --images i --out-dir o m.csv
usage_error "bad choice" "^geoloc bench nn: --mode must be one of infer, train, not 'fast'$" bench nn --mode=fast
usage_error "missing required option" "^geoloc dataset scan: --out is required$" dataset scan dir
usage_error "missing argument" "^geoloc cells assign: missing DATA.csv$" cells assign --cells a.csv
usage_error "extra argument" "^geoloc model info: unexpected argument 'b'$" model info a b
usage_error "too many list items" "^geoloc model init: --cells: too many items \(at most 6\)$" \
    model init --cells a,b,c,d,e,f,g --arch resnet18 out.safetensors
usage_error "empty list item" "^geoloc cells assign: --cells must be a comma-separated list, not 'a,,b'$" \
    cells assign --cells a,,b x.csv
usage_error "predict: bad --top=" "^geoloc predict: --top must be an integer from 1 to 64, not 'x'$" \
    predict --top=x x.jpg
usage_error "predict: bad --crops" "^geoloc predict: --crops must be one of three, five, center, not 'four'$" \
    predict --crops four x.jpg
usage_error "predict: no photo" "^geoloc predict: missing IMAGE\\|FOLDER\\.\\.\\.$" predict --format=csv
usage_error "evaluate: unknown option" "^geoloc evaluate: unknown option '--bogus'$" evaluate --bogus
usage_error "evaluate --meta: unknown option" "^geoloc evaluate: unknown option '--bogus'$" \
    evaluate --meta=m.csv --images=d --bogus
usage_error "evaluate --meta=: --images required" "^geoloc evaluate: --images is required$" evaluate --meta=m.csv
usage_error "evaluate: bad --batch=" "^geoloc evaluate: --batch must be an integer from 1 to 256, not '0'$" \
    evaluate --meta m.csv --images d --batch=0
run_geoloc cells build --tau-min x --tau-max 10 --out-dir d x.csv
check "usage errors end with the usage line and a hint" \
    '[[ $err == *"usage: geoloc cells build --tau-min N --tau-max LIST --out-dir DIR [options] DATA.csv"* ]] && [[ $err == *"geoloc cells build --help"* ]]'

# ---- outputs that are inputs or each other ----------------------------------------------
printf 'IMG_ID,AUTHOR,LAT,LON\na.jpg,x,1,2\nb.jpg,y,3,4\nc.jpg,z,5,6\n' >"$tmp/t.csv"
cp "$tmp/t.csv" "$tmp/t.orig"
run_geoloc dataset split "$tmp/t.csv" --out-train "$tmp/o.csv" --out-val "$tmp/o.csv"
expect_match 2 "outputs --out-train '.*o.csv' and --out-val '.*o.csv' are the same file" err "split: out-train = out-val"
check "split: nothing written" '[ ! -e "$tmp/o.csv" ]'
run_geoloc dataset split "$tmp/t.csv" --out-train "$tmp/./t.csv" --out-val "$tmp/v.csv"
expect_match 2 "output --out-train '.*t.csv' is the input MANIFEST '.*t.csv'" err "split: out-train = input (./name)"
ln "$tmp/t.csv" "$tmp/hard.csv"
run_geoloc dataset split "$tmp/t.csv" --out-train "$tmp/tr.csv" --out-val "$tmp/hard.csv"
expect_match 2 "output --out-val '.*hard.csv' is the input MANIFEST '.*t.csv'" err "split: out-val = input (hard link)"
check "split: input untouched, nothing written" 'cmp -s "$tmp/t.csv" "$tmp/t.orig" && [ ! -e "$tmp/tr.csv" ] && [ ! -e "$tmp/v.csv" ]'
run_geoloc dataset split "$tmp/t.csv" --out-train "$tmp/tr.csv" --out-val "$tmp/v.csv"
check "split: distinct outputs work" '[ $rc -eq 0 ] && [ -s "$tmp/tr.csv" ] && [ -s "$tmp/v.csv" ]'

printf 'LAT,LON\n' >"$tmp/pts.csv"
for i in $(seq 1 40); do echo "$((i % 7)).5,$((i % 5)).25"; done >>"$tmp/pts.csv"
"$geoloc" cells build --tau-min 1 --tau-max 10,20 --out-dir "$tmp/cells" "$tmp/pts.csv" 2>/dev/null
check "cells build for the next checks" '[ $? -eq 0 ] && [ -s "$tmp/cells/cells_1_10.csv" ]'
cp "$tmp/pts.csv" "$tmp/pts.orig"
run_geoloc cells assign --cells "$tmp/cells/cells_1_10.csv" "$tmp/pts.csv" --out "$tmp/pts.csv"
expect_match 2 "output --out '.*pts.csv' is the input DATA.csv '.*pts.csv'" err "assign: --out = input"
run_geoloc cells assign --cells "$tmp/cells/cells_1_10.csv" "$tmp/pts.csv" --out "$tmp/cells/cells_1_10.csv"
expect_match 2 "output --out .* is the input --cells" err "assign: --out = a partition"
check "assign: inputs untouched" 'cmp -s "$tmp/pts.csv" "$tmp/pts.orig"'
run_geoloc cells hierarchy "$tmp/cells/cells_1_20.csv" "$tmp/cells/cells_1_10.csv" -o "$tmp/cells/cells_1_20.csv"
expect_match 2 "output --out .* is the input partition" err "hierarchy: --out = a partition"
run_geoloc cells sample --from "$tmp/cells/cells_1_10.csv" --out "$tmp/cells/cells_1_10.csv"
expect_match 2 "output --out .* is the input --from" err "sample: --out = --from"
run_geoloc cells build --tau-min 1 --tau-max 10 --out-dir "$tmp/cells" "$tmp/cells/cells_1_10.csv"
expect_match 2 "output file .*cells_1_10.csv' is the input DATA.csv" err "build: an output file = the input"
printf 'not a photo' >"$tmp/p.jpg"
cp "$tmp/p.jpg" "$tmp/p.orig"
run_geoloc predict --out "$tmp/./p.jpg" "$tmp/p.jpg"
expect_match 2 "output --out '.*p.jpg' is the input photo '.*p.jpg'" err "predict: --out = a photo"
run_geoloc predict --model "$tmp/p.jpg" --out="$tmp/p.jpg" "$tmp/pts.csv"
expect_match 2 "output --out '.*p.jpg' is the input --model '.*p.jpg'" err "predict: --out = --model"
run_geoloc evaluate --meta "$tmp/t.csv" --images "$tmp" --out "$tmp/hard.csv"
expect_match 2 "output --out '.*hard.csv' is the input --meta '.*t.csv'" err "evaluate: --out = --meta (hard link)"
run_geoloc evaluate --model "$tmp/p.jpg" --meta "$tmp/t.csv" --images "$tmp" --out "$tmp/p.jpg"
expect_match 2 "output --out '.*p.jpg' is the input --model '.*p.jpg'" err "evaluate: --out = --model"
check "predict, evaluate: inputs untouched" 'cmp -s "$tmp/p.jpg" "$tmp/p.orig" && cmp -s "$tmp/t.csv" "$tmp/t.orig"'
run_geoloc dataset scan "$tmp" --out "$tmp/s.csv" --report "$tmp/s.csv"
expect_match 2 "outputs --out .* and --report .* are the same file" err "scan: --out = --report"

# ---- '-': standard input for the CSV inputs -----------------------------------------------
"$geoloc" cells build --tau-min 1 --tau-max 10,20 --out-dir "$tmp/stdin_cells" - <"$tmp/pts.csv" 2>"$tmp/err"
rc=$?
check "cells build - < DATA.csv: the partitions of the file ($(cat "$tmp/err"))" \
    '[ $rc -eq 0 ] && diff -r "$tmp/cells" "$tmp/stdin_cells" >/dev/null'
"$geoloc" dataset split --val-fraction 0.4 --seed 3 "$tmp/t.csv" --out-train "$tmp/f_tr.csv" --out-val "$tmp/f_va.csv" 2>/dev/null
cat "$tmp/t.csv" | "$geoloc" dataset split --val-fraction 0.4 --seed 3 - --out-train "$tmp/p_tr.csv" \
    --out-val "$tmp/p_va.csv" 2>"$tmp/err"
rc=$?
check "dataset split - from a pipe: the split of the file ($(cat "$tmp/err"))" \
    '[ $rc -eq 0 ] && [ -s "$tmp/f_tr.csv" ] && cmp -s "$tmp/f_tr.csv" "$tmp/p_tr.csv" && cmp -s "$tmp/f_va.csv" "$tmp/p_va.csv"'
printf 'file,lat,lon\na.jpg,1.1,2\nb.jpg,3,4.5\nc.jpg,40,6\n' >"$tmp/pred.csv"
run_geoloc evaluate "$tmp/pred.csv" --truth "$tmp/t.csv"
from_file=$(tail -n +2 <<<"$out")
cat "$tmp/pred.csv" | "$geoloc" evaluate - --truth "$tmp/t.csv" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "evaluate - --truth M.csv from a pipe: the report of the file ($(cat "$tmp/err"))" \
    '[ $rc -eq 0 ] && [[ $from_file == *"photos:      3"* ]] && [ "$(tail -n +2 "$tmp/out")" = "$from_file" ]'
"$geoloc" cells assign --cells "$tmp/cells/cells_1_10.csv" "$tmp/pts.csv" --out "$tmp/as_f.csv" 2>/dev/null
"$geoloc" cells assign --cells "$tmp/cells/cells_1_10.csv" - --out "$tmp/as_p.csv" <"$tmp/pts.csv" 2>/dev/null
check "cells assign - < DATA.csv: the rows of the file" '[ -s "$tmp/as_f.csv" ] && cmp -s "$tmp/as_f.csv" "$tmp/as_p.csv"'
"$geoloc" dataset split - --out-train "$tmp/e_tr.csv" --out-val "$tmp/e_va.csv" </dev/null 2>"$tmp/err"
rc=$?
check "dataset split - < /dev/null: an empty input is an error about the header, not a hang" \
    '[ $rc -eq 1 ] && [ -s "$tmp/err" ] && [ ! -e "$tmp/e_tr.csv" ]'
run_geoloc evaluate - --truth - </dev/null
expect_match 2 "FILE.csv and --truth are both '-': only one input can be standard input" err "evaluate - --truth -: refused"
run_geoloc cells assign --cells - - --out "$tmp/x.csv" </dev/null
expect_match 2 "DATA.csv and --cells are both '-'" err "cells assign --cells - -: refused"

# ---- standard output errors -------------------------------------------------------------
if [ -w /dev/full ]; then
    "$geoloc" s2 cell 89c259 >/dev/full 2>"$tmp/err"
    check "s2 cell > /dev/full: exit 1, named" '[ $? -eq 1 ] && [ "$(cat "$tmp/err")" = "geoloc: standard output: No space left on device" ]'
    "$geoloc" --help >/dev/full 2>"$tmp/err"
    check "--help > /dev/full: exit 1" '[ $? -eq 1 ] && grep -q "standard output: No space left on device" "$tmp/err"'
    "$geoloc" dataset info "$tmp/t.csv" >/dev/full 2>"$tmp/err"
    check "dataset info > /dev/full: exit 1" '[ $? -eq 1 ] && grep -q "^geoloc: standard output: No space left on device$" "$tmp/err"'
    seq 1 200000 | awk '{ print ($1 % 180) - 89.5 "," ($1 % 360) - 179.5 }' >"$tmp/many.csv"
    "$geoloc" s2 token "$tmp/many.csv" >/dev/full 2>"$tmp/err"
    check "s2 token (200000 lines) > /dev/full: exit 1" '[ $? -eq 1 ] && grep -q "No space left on device" "$tmp/err"'
    "$geoloc" s2 token "$tmp/many.csv" 2>"$tmp/err" | head -n 1 >/dev/null
    status=${PIPESTATUS[0]}
    check "closed pipe: SIGPIPE (141), no message (exit $status)" '[ "$status" -eq 141 ] && [ ! -s "$tmp/err" ]'
else
    echo "SKIP part: /dev/full not writable"
fi

# ---- exit 3: some inputs skipped ------------------------------------------------------------
mkdir -p "$tmp/tree"
ln -s "$tmp/nowhere.jpg" "$tmp/tree/broken.jpg"
run_geoloc dataset scan "$tmp/tree" --out "$tmp/tree.csv"
expect_match 3 "1 broken_link" err "scan: a file that cannot be read: exit 3"

# ---- predict with the default model: --opt=value forms -------------------------------------
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -e "$root/models/resnet50-imagenet.safetensors" ] && [ -e "$root/share/geoloc/geoloc-default.safetensors" ]; then
    GEOLOC_MODEL= run_geoloc predict --model="$root/share/geoloc/geoloc-default.safetensors" --format=csv --top=2 \
        --crops=center "$root/share/geoloc/example.jpg"
    check "predict --format=csv --top=2: a CSV header with top2 columns, one row (exit $rc)" \
        '[ $rc -eq 0 ] && [[ $(head -n 1 <<<"$out") == file,lat,lon,*,top2_prob ]] && [ "$(wc -l <<<"$out")" -eq 2 ] && [[ $(sed -n 2p <<<"$out") == "$root/share/geoloc/example.jpg,"* ]]'
else
    echo "SKIP part: default model or ImageNet backbone absent (predict --format=csv); run ./setup.sh"
fi

# ---- shared data -----------------------------------------------------------------------------
if [ -z "$shared" ] || [ ! -d "$shared/exif-photos" ] || [ ! -f "$shared/im2gps3k-dev/im2gps3k_dev.csv" ]; then
    skip_rest "SKIP (shared-data part): exif-photos or im2gps3k-dev not found under '$shared'"
fi
if [ -w /dev/full ]; then
    "$geoloc" photo info "$shared"/exif-photos/mx-*.jpg >/dev/full 2>"$tmp/err"
    check "photo info *.jpg > /dev/full: exit 1" '[ $? -eq 1 ] && [ "$(cat "$tmp/err")" = "geoloc: standard output: No space left on device" ]'
fi
head -n 41 "$shared/im2gps3k-dev/im2gps3k_dev.csv" >"$tmp/m.csv"
"$geoloc" dataset pack "$tmp/m.csv" --images "$shared/im2gps3k-dev/images" --out-dir "$tmp/sh1" 2>"$tmp/err"
check "pack, stderr not a terminal: no progress line" '[ $? -eq 0 ] && ! grep -q $'"'"'\r'"'"' "$tmp/err" && ! grep -q ETA "$tmp/err"'
if command -v script >/dev/null; then
    TERM=dumb script -qec "'$geoloc' dataset pack '$tmp/m.csv' --images '$shared/im2gps3k-dev/images' --out-dir '$tmp/sh2'" \
        /dev/null >"$tmp/tty" </dev/null
    check "pack on a terminal: \\r-updated progress with ETA" \
        '[ $? -eq 0 ] && grep -q $'"'"'\r'"'"'"pack: [0-9]*/40 ([0-9]*%), [0-9.]*/s, ETA [0-9]*:[0-9][0-9]" "$tmp/tty"'
else
    echo "SKIP part: script(1) not found (progress on a terminal)"
fi

finish
