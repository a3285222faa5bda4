#!/usr/bin/env bash
# Inference on several ranks (mpirun -np 2 and 3, one thread each) against one
# process, on 16 shared Im2GPS3k photos and an unreadable one, with the
# default model: evaluate's results CSV and printed summary, predict's CSV
# (with distributions, batches of 5) and JSON, and heads-mode features (a random
# ResNet-18 from train_fixture, chunks of 7 photos) are the same bytes; more
# ranks than photos works; a second run reuses the features cache on every
# rank; the images folder missing on one rank (an MPMD job, the other rank in
# another working directory) stops every rank within seconds with a message
# naming the rank; photo lists that differ between ranks are refused.
# Skipped (exit 77) without mpirun, without MPI in geoloc, without the shared
# data or the default model.
. "$(dirname "$0")/lib.sh"
test_setup cli_dist_infer "$@"
fixture=${4:?usage: cli_dist_infer.sh GEOLOC SHARED_DATA TEST_DATA TRAIN_FIXTURE}
need_mpi
dev=$shared/im2gps3k-dev
[ -f "$dev/im2gps3k_dev.csv" ] || skip_rest "SKIP: shared data absent ($shared)"
bindir=$(dirname "$geoloc")
[ -e "$bindir/../share/geoloc/geoloc-default.safetensors" ] || [ -e "$bindir/../models/geoloc-default.safetensors" ] ||
    [ -n "${GEOLOC_MODEL:-}" ] || skip_rest "SKIP: no default model"
export OMP_NUM_THREADS=1 GEOLOC_DIST_TIMEOUT=60

# 16 photos from all over the list, and an unreadable one in the middle
mkdir -p "$tmp/img" "$tmp/two" "$tmp/elsewhere"
awk 'NR == 1 || (NR - 2) % 120 == 0' "$dev/im2gps3k_dev.csv" | head -17 > "$tmp/m.csv"
tail -n +2 "$tmp/m.csv" | cut -d, -f1 | while read -r id; do ln -s "$dev/images/$id" "$tmp/img/$id"; done
echo "not a photo" > "$tmp/img/broken.jpg"
{ head -9 "$tmp/m.csv"; echo "broken.jpg,,0,0,1,,,,,"; tail -n +10 "$tmp/m.csv"; } > "$tmp/mb.csv"
head -3 "$tmp/m.csv" > "$tmp/m2.csv"
tail -n +2 "$tmp/m2.csv" | cut -d, -f1 | while read -r id; do ln -s "$dev/images/$id" "$tmp/two/$id"; done
[ "$(ls "$tmp/img" | wc -l)" -eq 17 ] || { fail "setup: $(ls "$tmp/img" | wc -l) photos"; finish; }


# same NAME NP ARGS...: geoloc ARGS alone and on NP ranks give the same exit
# code, standard output (the speed aside) and file @OUT@ (when an argument:
# $tmp/NAME.1.file and $tmp/NAME.n.file); the outputs in $tmp/NAME.{1,n}.*
same() {
    local name=$1 np=$2
    shift 2
    local args1=("${@//@OUT@/$tmp/$name.1.file}") argsn=("${@//@OUT@/$tmp/$name.n.file}")
    "$geoloc" "${args1[@]}" >"$tmp/$name.1.out" 2>"$tmp/$name.1.err"
    local rc1=$?
    mpi_run "$np" "$geoloc" "${argsn[@]}" >"$tmp/$name.n.out" 2>"$tmp/$name.n.err"
    local rcn=$?
    local speed='/^speed:/d; s/"images_per_second": [0-9.]*//'
    if [ "$rc1" -ne "$rcn" ]; then
        fail "$name: exit $rcn on $np ranks, $rc1 alone: $(cat "$tmp/$name.n.err")"
    elif ! cmp -s <(sed "$speed" "$tmp/$name.1.out") <(sed "$speed" "$tmp/$name.n.out"); then
        fail "$name: the output on $np ranks differs: $(diff "$tmp/$name.1.out" "$tmp/$name.n.out" | head -5)"
    elif [ -f "$tmp/$name.1.file" ] && ! cmp -s "$tmp/$name.1.file" "$tmp/$name.n.file"; then
        fail "$name: @OUT@ on $np ranks differs: $(diff "$tmp/$name.1.file" "$tmp/$name.n.file" | head -5)"
    else
        pass
    fi
}

# ---- evaluate ----
same evaluate 2 evaluate --meta "$tmp/mb.csv" --images "$tmp/img" --out @OUT@
check "evaluate: 16 photos, 1 skipped and named" 'grep -q "^photos: *16 (17 listed, 1 skipped" "$tmp/evaluate.n.out" && grep -q "broken.jpg" "$tmp/evaluate.n.err"'
check "evaluate: 16 results" '[ "$(grep -c "\.jpg," "$tmp/evaluate.n.file")" -eq 16 ]'

# ---- predict ----
same predict_csv 2 predict --format csv --distribution --batch 5 --out @OUT@ "$tmp/img"
check "predict: the unreadable photo named" 'grep -q "broken.jpg" "$tmp/predict_csv.n.err"'
check "predict --out: 16 rows in input order, nothing on stdout" '[ "$(grep -c "\.jpg," "$tmp/predict_csv.n.file")" -eq 16 ] && [ ! -s "$tmp/predict_csv.n.out" ] && cmp -s <(cut -d, -f1 "$tmp/predict_csv.n.file" | tail -n +2) <(ls "$tmp/img"/*.jpg | grep -v broken)'
same predict_3_on_2 3 predict --format json --batch 1 "$tmp/two"

# ---- heads-mode features ----
"$fixture" "$tmp/rand18.safetensors" 18 3 || { fail "train_fixture"; finish; }
common=(--images "$tmp/img" --backbone "$tmp/rand18.safetensors" --image-size 96 --tau-min 0 --tau-max 6,3
        --val-fraction 0.34 --epochs 0)
GEOLOC_TRAIN_FEATURES_CHUNK=7 "$geoloc" train "${common[@]}" --out "$tmp/f1/model.safetensors" "$tmp/mb.csv" \
    >/dev/null 2>"$tmp/err"
check "features alone ($(tail -1 "$tmp/err"))" '[ -f "$tmp/f1/model.features.safetensors" ]'
GEOLOC_TRAIN_FEATURES_CHUNK=7 mpi_run 3 "$geoloc" train "${common[@]}" --out "$tmp/f3/model.safetensors" \
    "$tmp/mb.csv" >/dev/null 2>"$tmp/err"
check "features on 3 ranks: the same bytes ($(tail -1 "$tmp/err"))" \
    'cmp -s "$tmp/f1/model.features.safetensors" "$tmp/f3/model.features.safetensors" && [ -z "$(ls "$tmp/f3" | grep chunk)" ]'
GEOLOC_TRAIN_FEATURES_CHUNK=7 mpi_run 2 "$geoloc" train "${common[@]}" --out "$tmp/f3/model.safetensors" \
    "$tmp/mb.csv" >/dev/null 2>"$tmp/err"
rc=$?
check "features cache reused on 2 ranks (exit $rc, $(tail -1 "$tmp/err"))" '[ $rc -eq 0 ] && grep -q "features: cache" "$tmp/err"'

# ---- a rank that cannot go on stops them all ----
cp "$tmp/m.csv" "$tmp/elsewhere/"
ln -s "$tmp/img" "$tmp/images"
t0=$(date +%s)
(cd "$tmp" && mpi_run 1 "$geoloc" evaluate --meta m.csv --images images : \
    -np 1 -wdir "$tmp/elsewhere" "$geoloc" evaluate --meta m.csv --images images) >"$tmp/out" 2>"$tmp/err"
rc=$?
check "images folder missing on rank 1: all stop, rank named (exit $rc, $(($(date +%s) - t0)) s)" \
    '[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $(($(date +%s) - t0)) -lt 20 ] && grep -q "rank 1: --images images: not a folder" "$tmp/err" && [ ! -s "$tmp/out" ]'
(cd "$tmp" && mpi_run 1 "$geoloc" predict images : \
    -np 1 -wdir "$tmp/elsewhere" "$geoloc" predict images) >"$tmp/out" 2>"$tmp/err"
rc=$?
check "predict: photos that differ between ranks refused (exit $rc)" \
    '[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "the list of photos differs between ranks (rank 1" "$tmp/err" && [ ! -s "$tmp/out" ]'
finish
