#!/usr/bin/env bash
# Tests of retrieval on the command line: `geoloc index build|query|info`,
# `predict` and `evaluate --model` with --answer knn|hybrid, and
# `geoloc dataset dedup`.
# usage: cli_retrieval.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage errors: --answer knn without --index, --index with --answer class,
#   albums with --answer, build without --images or --features;
# - with the shared data (a small untrained model, four dev photos and a copy
#   of the first under another name): the index holds the five photos with
#   their coordinates; a photo of the index is never its own neighbour; the
#   copy's nearest photo is the original (similarity 1: the index's
#   embeddings are the ones predict computes); knn with k 1 answers the
#   original's coordinates; hybrid answers; evaluate --answer knn excludes
#   the photo itself; an altered index and an index of another model are
#   refused by name; dedup finds the copy (similarity 1, hash distance 0)
#   and nothing else among these photos; train --exclude-near drops the
#   pair's training photo.
# The shared-data part is skipped (exit 77) when SHARED_DATA_DIR is absent.
. "$(dirname "$0")/lib.sh"
test_setup cli_retrieval "$@"
unset GEOLOC_MODEL
export GEOLOC_DATA_DIR=$tmp/data
mkdir -p "$GEOLOC_DATA_DIR"

run_geoloc predict --answer knn x.jpg
expect_match 2 "needs --index" err "--answer knn without --index"
run_geoloc predict --index x.idx x.jpg
expect_match 2 "need --answer knn or hybrid" err "--index with --answer class"
run_geoloc predict --album --answer hybrid --index x.idx x.jpg
expect_match 2 "not with albums" err "--answer with --album"
run_geoloc index build --meta m.csv --out x.idx
expect_match 2 "--images DIR or --features CACHE" err "index build without a source"

dev=$shared/im2gps3k-dev
[ -f "$dev/im2gps3k_dev.csv" ] || skip_rest "shared data absent ($shared): retrieval on photos skipped"

"$geoloc" cells build --tau-min 5 --tau-max 400,100 --out-dir "$tmp/cells" "$dev/im2gps3k_dev.csv" >/dev/null 2>&1
model=$tmp/m18.safetensors
run_geoloc model init --cells "$tmp/cells/cells_5_400.csv,$tmp/cells/cells_5_100.csv" --arch resnet18 \
    --image-size 64 --seed 3 "$model"
expect_match 0 "ResNet-18" out "model init"
mkdir -p "$tmp/img"
head -1 "$dev/im2gps3k_dev.csv" >"$tmp/meta.csv"
sed -n 2,5p "$dev/im2gps3k_dev.csv" >>"$tmp/meta.csv"
while IFS=, read -r id _; do cp "$dev/images/$id" "$tmp/img/$id"; done < <(tail -n +2 "$tmp/meta.csv")
first=$(sed -n 2p "$tmp/meta.csv" | cut -d, -f1)
cp "$tmp/img/$first" "$tmp/img/copy.jpg"
# the copy listed at the other end of the world, so answers tell which was taken
sed -n 2p "$tmp/meta.csv" | awk -F, -v OFS=, '{ $1 = "copy.jpg"; $3 = -33.5; $4 = 151.25; print }' >>"$tmp/meta.csv"
lat0=$(sed -n 2p "$tmp/meta.csv" | cut -d, -f3)
P="--model $model --batch 3"

run_geoloc index build $P --meta "$tmp/meta.csv" --images "$tmp/img" --out "$tmp/i.idx" --precision i8
expect_match 0 "5 photos \(0 left out\), width 512, i8, backbone resnet18:embedded:m18.safetensors" err "index build"
run_geoloc index info "$tmp/i.idx"
expect_match 0 "photos: +5" out "index info"

run_geoloc index query $P --index "$tmp/i.idx" --k 4 "$tmp/img/$first" "$tmp/img/copy.jpg"
expect_match 0 "^photo,rank,img_id,similarity,lat,lon" out "index query"
check "a photo is never its own neighbour" "! grep -q '$first,[0-9]*,$first,' <<<\"\$out\""
check "the copy's nearest photo is the original, similarity 1" \
    "grep -qE '/copy.jpg,1,$first,(1.0000|0.999[0-9]),' <<<\"\$out\""
check "four neighbours each" "[ \$(grep -c '/copy.jpg,' <<<\"\$out\") -eq 4 ]"

run_geoloc predict $P --answer knn --index "$tmp/i.idx" --k 1 --format csv "$tmp/img/copy.jpg"
expect_match 0 "copy.jpg,$lat0," out "knn with k 1: the original's coordinates"
run_geoloc predict $P --answer hybrid --index "$tmp/i.idx" --format csv "$tmp/img/copy.jpg"
expect_match 0 "copy.jpg,-?[0-9.]+,-?[0-9.]+," out "hybrid answers"
run_geoloc evaluate $P --meta "$tmp/meta.csv" --images "$tmp/img" --answer knn --index "$tmp/i.idx" --k 1 \
    --out "$tmp/res.csv"
expect_match 0 "5 answers placed by the neighbours" err "evaluate --answer knn"
check "evaluate: the copy is answered by the original, not by itself" \
    "grep -q '^copy.jpg,-33.5,$lat0,' '$tmp/res.csv'"

# an altered index, an index of another model
cp "$tmp/i.idx" "$tmp/bad.idx"
printf 'X' | dd of="$tmp/bad.idx" bs=1 seek=400 conv=notrunc 2>/dev/null
run_geoloc predict $P --answer knn --index "$tmp/bad.idx" "$tmp/img/copy.jpg"
expect_match 1 "bad.idx: checksum mismatch" err "altered index refused"
other=$tmp/other.safetensors
"$geoloc" model init --cells "$tmp/cells/cells_5_400.csv" --arch resnet18 --image-size 64 --seed 4 "$other" >/dev/null
run_geoloc predict --model "$other" --answer knn --index "$tmp/i.idx" "$tmp/img/copy.jpg"
expect_match 1 "i.idx: built with backbone resnet18:embedded:m18.safetensors, but the model's is" err \
    "index of another backbone refused"

# near-duplicates: by hash, the copy and nothing else (the untrained model's
# embeddings are all alike: by embedding, the copy among others)
run_geoloc dataset dedup --index "$tmp/i.idx" --images "$tmp/img" --min-similarity 2 --out "$tmp/pairs.csv"
expect_match 0 "1 pairs among 5 photos \(0 by embedding >= 2.00, 1 by hash <= 4 bits\)" err "dedup by hash"
check "dedup: the copy, similarity 1, hash distance 0" \
    "grep -qE '^($first,copy.jpg|copy.jpg,$first),(1.0000|0.99[0-9]+),0,' '$tmp/pairs.csv'"
run_geoloc dataset dedup --index "$tmp/i.idx" --out "$tmp/pairs-emb.csv"
expect_match 0 "pairs among 5 photos" err "dedup by embedding"
check "dedup by embedding: the copy among the pairs, no hash" \
    "grep -qE '^($first,copy.jpg|copy.jpg,$first),(1.0000|0.99[0-9]+),-1,' '$tmp/pairs-emb.csv'"

# train --exclude-near: the pair's first photo is left out of the training photos
"$geoloc" cells build --tau-min 1 --tau-max 400 --out-dir "$tmp/tc" "$tmp/meta.csv" >/dev/null 2>&1
run_geoloc train --images "$tmp/img" --exclude-near "$tmp/pairs.csv" --epochs 0 --views 3 \
    --partitions "$tmp/tc/cells_1_400.csv" --out "$tmp/t.safetensors" "$tmp/meta.csv"
expect_match 0 "--exclude-near .*: 1 of 5 training photos dropped" err "train --exclude-near"
finish
