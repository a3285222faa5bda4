#!/usr/bin/env bash
# geoloc dataset import-msgpack on synthetic GeoEstimation msgpack shards
# (tests/msgpack_shards.py: three dozen real photos, an extra key, a record
# without an image, one not a map, an id not in the meta, a duplicate, a
# photo that is not one, a cut-off last record): the summary's counts, every
# photo read back byte for byte by an independent reader of the pack and by
# `dataset info --verify`, a second run importing nothing and changing
# nothing, a run killed while blocked on a FIFO shard then continued, a
# small list then a larger one, a second importer locked out, bad arguments
# refused with a clear message, and training on the imported pack.
# Photos: the shared Im2GPS3k dev set, else copies of share/geoloc/example.jpg.
# Args: GEOLOC_BIN SHARED_DATA TEST_DATA [TRAIN_FIXTURE].
. "$(dirname "$0")/lib.sh"
test_setup cli_dataset_import "$@"
fixture=${4:-}
here=$(cd "$(dirname "$0")" && pwd)

py=
for p in python3 /usr/bin/python3; do
  if "$p" -c "import msgpack" 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || skip_rest "SKIP: no python3 with the msgpack module (python3-msgpack)"

if [ -f "$shared/im2gps3k-dev/im2gps3k_dev.csv" ]; then
  meta="$shared/im2gps3k-dev/im2gps3k_dev.csv"
  images="$shared/im2gps3k-dev/images"
  count=36
else
  example="$here/../share/geoloc/example.jpg"
  [ -f "$example" ] || skip_rest "SKIP: no photos (neither $shared/im2gps3k-dev nor $example)"
  echo "note: $shared/im2gps3k-dev not found: copies of example.jpg"
  meta="$tmp/meta.csv"
  images="$tmp/images"
  count=12
  mkdir -p "$images/ex"
  echo "IMG_ID,AUTHOR,LAT,LON,S3_Label,S16_Label,S365_Label" > "$meta"
  for k in $(seq 10 21); do
    cp "$example" "$images/ex/$k.jpg"
    echo "ex/$k.jpg,author$((k % 3)),$k.5,-$k.25,$((k % 3)),$((k % 16)),$k" >> "$meta"
  done
fi
mkdir -p "$tmp/in"
expected=$("$py" "$here/msgpack_shards.py" write "$meta" "$images" "$count" "$tmp/in") || { fail "msgpack_shards.py write"; finish; }
read -r _ n_imported _ n_not_in_meta _ n_corrupt _ n_dup _ n_cut <<< "$expected"
a="$tmp/in/a.msgpack" b="$tmp/in/b.msgpack" c="$tmp/in/c.msgpack"
readback() { "$py" "$here/msgpack_shards.py" check "$1" "$meta" "$images" "$tmp/in/imported.txt"; }
summary="imported $n_imported, skipped $n_not_in_meta not in meta, $n_corrupt corrupt, $n_dup duplicates; 3 shards read \\($n_cut cut off\\), 0 already imported"

# --- usage -----------------------------------------------------------------------------
run_geoloc dataset import-msgpack --help
check "--help" '[ $rc -eq 0 ] && [[ $out == *"usage: geoloc dataset import-msgpack"* ]]'
run_geoloc dataset import-msgpack --meta "$meta" --out-dir "$tmp/x"
check "no shard: exit 2 ($err)" '[ $rc -eq 2 ] && [ ! -e "$tmp/x" ]'
run_geoloc dataset import-msgpack "$a" --out-dir "$tmp/x"
check "no --meta: exit 2 ($err)" '[ $rc -eq 2 ] && [[ $err == *"--meta is required"* ]]'
run_geoloc dataset import-msgpack "$a" --meta "$tmp/nope.csv" --out-dir "$tmp/x"
check "missing meta named ($err)" '[ $rc -eq 1 ] && [[ $err == *"$tmp/nope.csv"* ]] && [ ! -e "$tmp/x/index.bin" ]'
run_geoloc dataset import-msgpack "$a" "$tmp/in/missing.msgpack" --meta "$meta" --out-dir "$tmp/x"
check "missing shard named, nothing written ($err)" '[ $rc -eq 1 ] && [[ $err == *"$tmp/in/missing.msgpack: cannot open"* ]] && [ -z "$(ls "$tmp/x" | grep -v import-state)" ]'
run_geoloc dataset import-msgpack "$a" "$tmp/in" --meta "$meta" --out-dir "$tmp/x"
check "a folder as shard, refused before any work ($err)" '[ $rc -eq 1 ] && [[ $err == *"$tmp/in: a folder, not a msgpack shard"* ]] && [ -z "$(ls "$tmp/x" | grep -v import-state)" ]'
cp "$a" "$tmp/x/a.msgpack"
run_geoloc dataset import-msgpack "$tmp/x/a.msgpack" --meta "$meta" --out-dir "$tmp/x"
check "a shard inside the output folder is refused ($err)" '[ $rc -eq 1 ] && [[ $err == *"inside the output folder"* ]] && cmp -s "$a" "$tmp/x/a.msgpack"'
printf 'IMG_ID,LAT,LON\nnothing/here.jpg,1,2\n' > "$tmp/other.csv"
run_geoloc dataset import-msgpack "$a" --meta "$tmp/other.csv" --out-dir "$tmp/none"
check "nothing in the meta: exit 1, no index ($err)" '[ $rc -eq 1 ] && [[ $err == *"no photo imported"* ]] && [ ! -e "$tmp/none/index.bin" ]'

# --- a whole import --------------------------------------------------------------------
run_geoloc dataset import-msgpack "$a" "$b" "$c" --meta "$meta" --out-dir "$tmp/p"
check "exit 3 (corrupt records) and the summary ($err)" '[ $rc -eq 3 ] && grep -qE "$summary" <<< "$err" && [[ $err == *"holds $n_imported photos in 3 shards"* ]]'
check "corrupt records named by shard, record and byte" '[[ $err == *"$a: record 2 at byte "*": no \"image\" key"* ]] && [[ $err == *"$a: record "*" at byte "*": not a map (a msgpack array)"* ]] && [[ $err == *"$b: record 1 at byte 0: "*"not a readable photo"* ]]'
check "the cut-off end reported" '[[ $err == *"$c: record "*" at byte "*": cut off: the last "*" bytes are an incomplete record; the rest of the shard is skipped"* ]]'
check "read back byte for byte" 'readback "$tmp/p" > "$tmp/rb" && grep -qx "ok $n_imported" "$tmp/rb"'
run_geoloc dataset info "$tmp/p" --verify
check "info --verify ($err)" '[ $rc -eq 0 ] && [[ $out == *"original files"* ]] && [[ $out == *"verified:      $n_imported photos, 0 with a bad checksum"* ]]'
check "no temporary files left" '[ -z "$(find "$tmp/p" -name "*.tmp.*")" ]'
cp -r "$tmp/p" "$tmp/p_copy" && cp "$tmp/p/shard-00001.bin" "$tmp/flip.bin"
printf 'X' | dd of="$tmp/p_copy/shard-00001.bin" bs=1 seek=200 conv=notrunc 2>/dev/null
check "the reader catches a changed byte" '! readback "$tmp/p_copy" > /dev/null'

# --- the same command again: nothing new, nothing changed -------------------------------
cp -r "$tmp/p" "$tmp/p_before"
run_geoloc dataset import-msgpack "$a" "$b" "$c" --meta "$meta" --out-dir "$tmp/p"
check "second run imports nothing ($err)" '[ $rc -eq 0 ] && [[ $err == *"imported 0, skipped 0 not in meta, 0 corrupt, 0 duplicates; 0 shards read (0 cut off), 3 already imported"* ]]'
check "second run changes nothing" 'diff -r "$tmp/p" "$tmp/p_before" > /dev/null'

# --- a small list, then a larger one ------------------------------------------------------
run_geoloc dataset import-msgpack "$a" --meta "$meta" --out-dir "$tmp/s"
check "first shard alone ($err)" '[ $rc -eq 3 ] && [[ $err == *"1 shards read"* ]] && [[ $err == *"in 1 shards"* ]] && [ -f "$tmp/s/index.bin" ]'
run_geoloc dataset import-msgpack "$a" "$b" "$c" --meta "$meta" --out-dir "$tmp/s"
check "then all three: the first skipped ($err)" '[[ $err == *"2 shards read (1 cut off), 1 already imported"* ]] && [[ $err == *"holds $n_imported photos in 3 shards"* ]]'
check "... the same photos as a single run" 'readback "$tmp/s" | grep -qx "ok $n_imported"'

# --- killed while blocked on a FIFO, then continued; a second importer locked out ----------
mkfifo "$tmp/in/fifo.msgpack"
"$geoloc" dataset import-msgpack "$a" "$tmp/in/fifo.msgpack" "$c" --meta "$meta" --out-dir "$tmp/k" 2> "$tmp/k.err" &
pid=$!
disown "$pid" # no "Killed" notice from the shell
for _ in $(seq 500); do [ "$(ls "$tmp/k/import-state" 2>/dev/null | grep -c '\.part$')" -eq 1 ] && break; sleep 0.02; done
run_geoloc dataset import-msgpack "$a" --meta "$meta" --out-dir "$tmp/k"
check "a second importer of the same folder is refused ($err)" '[ $rc -eq 1 ] && [[ $err == *"$tmp/k/import-state: another process is writing it"* ]]'
kill -0 "$pid" 2>/dev/null && running=1 || running=0
kill -9 "$pid" 2>/dev/null
for _ in $(seq 500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
check "the first run was blocked on the FIFO after its first shard" '[ $running -eq 1 ] && [ "$(ls "$tmp/k/import-state" | grep -c "\.part$")" -eq 1 ] && [ ! -e "$tmp/k/index.bin" ]'
rm "$tmp/in/fifo.msgpack" && cp "$b" "$tmp/in/fifo.msgpack"
run_geoloc dataset import-msgpack "$a" "$tmp/in/fifo.msgpack" "$c" --meta "$meta" --out-dir "$tmp/k"
check "the killed run continues ($err)" '[ $rc -eq 3 ] && [[ $err == *"2 shards read (1 cut off), 1 already imported"* ]] && [[ $err == *"holds $n_imported photos in 3 shards"* ]]'
check "... to the same photos" 'readback "$tmp/k" | grep -qx "ok $n_imported" && [ -z "$(find "$tmp/k" -name "*.tmp.*")" ]'

# --- a record header claiming millions of elements: refused before msgpack-c allocates them ---
"$py" - "$a" "$tmp/in/huge.msgpack" <<'PY'
import sys, msgpack
first = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))
with open(sys.argv[2], "wb") as f:
    f.write(msgpack.packb(first, use_bin_type=True) + b"\x81\xa2id\xdd\x10\x00\x00\x00" + b"\x00" * 64)
PY
run_geoloc dataset import-msgpack "$tmp/in/huge.msgpack" --meta "$meta" --out-dir "$tmp/h"
check "too many elements: reported, the record before imported ($err)" '[ $rc -eq 3 ] && [[ $err == *"huge.msgpack: record 2 at byte "*": a record whose maps and arrays declare more than 1048576 elements; the rest of the shard is skipped"* ]] && [[ $err == *"imported 1,"* ]]'

# --- an output folder holding another pack is refused ------------------------------------
mkdir -p "$tmp/packed" && cp "$tmp/p/index.bin" "$tmp/packed/"
run_geoloc dataset import-msgpack "$a" --meta "$meta" --out-dir "$tmp/packed"
check "a folder with a pack not made by the import ($err)" '[ $rc -eq 1 ] && [[ $err == *"holds a pack that import-msgpack did not write"* ]]'

# --- training on the imported pack -----------------------------------------------------------
if [ -n "$fixture" ] && [ -x "$fixture" ]; then
  "$fixture" "$tmp/rand18.safetensors" 18 3 > /dev/null || fail "train_fixture"
  head -1 "$meta" > "$tmp/train.csv"
  grep -F -f "$tmp/in/imported.txt" "$meta" | head -12 >> "$tmp/train.csv"
  run_geoloc train --shards "$tmp/p" --backbone "$tmp/rand18.safetensors" --image-size 96 --tau-min 0 \
    --tau-max 6,3 --epochs 1 --batch 8 --out "$tmp/t/model.safetensors" "$tmp/train.csv"
  check "geoloc train --shards on the import ($err)" '[ $rc -eq 0 ] && [ -f "$tmp/t/model.safetensors" ]'
else
  echo "note: no train fixture given: training on the pack not tried"
fi

finish
