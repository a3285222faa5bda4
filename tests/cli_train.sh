#!/usr/bin/env bash
# geoloc train on a dozen shared Im2GPS3k photos with a random ResNet-18 at
# 96x96 (written by train_fixture): usage errors (named options, --opt=value,
# an output that is an input refused), heads mode with baselines
# (log, partitions, features cache reused), full mode killed with SIGKILL
# mid-run and resumed gives the same model file as an uninterrupted run,
# a feature extraction stopped after a chunk resumes to the same bits, a
# finished run's resume keeps the model and its metadata, a diverging run
# (--lr 1e30) stops with exit 1 and writes nothing non-finite, a second run
# on the same outputs is refused while the first goes on, and bad inputs
# (missing photo, empty manifest, no backbone, --resume without a
# checkpoint) are refused with a clear message and leave nothing behind;
# scene heads at every level with ISN heads, geoloc scene train and S16
# labels propagated from its model, and their usage errors.
. "$(dirname "$0")/lib.sh"
test_setup cli_train "$@"
fixture=${4:?usage: cli_train.sh GEOLOC SHARED_DATA TEST_DATA TRAIN_FIXTURE}

run_geoloc train --help
check "--help" '[ $rc -eq 0 ] && [[ $out == *--mode* ]] && [[ $out == *--resume* ]] && [[ $out == *--baselines* ]]'
run_geoloc train
check "no arguments" '[ $rc -eq 2 ] && [[ $err == *"--out is required"* ]]'
run_geoloc train --out "$tmp/m.safetensors" --images "$tmp" "$tmp/x.csv"
check "no partitions" '[ $rc -eq 2 ] && [[ $err == *"--partitions"* ]]'
run_geoloc train --out "$tmp/m.safetensors" --images "$tmp" --tau-min 1 --tau-max 5 --val x.csv --val-fraction 0.2 "$tmp/x.csv"
check "--val and --val-fraction" '[ $rc -eq 2 ] && [[ $err == *"exclude"* ]]'
run_geoloc train --mode fast "$tmp/x.csv"
check "bad mode" '[ $rc -eq 2 ] && [[ $err == *"--mode must be one of heads, full, not"*fast* ]]'
run_geoloc train --out "$tmp/m.safetensors" --images "$tmp" --tau-min 1 --tau-max 5 --bogus 1 "$tmp/x.csv"
check "unknown option" '[ $rc -eq 2 ] && [[ $err == *"unknown option"*--bogus* ]]'
run_geoloc train --out="$tmp/m.safetensors" --images="$tmp" --tau-min=1 --tau-max=5 --epochs=-1 "$tmp/x.csv"
check "--opt=value, a bad value named" '[ $rc -eq 2 ] && [[ $err == *"--epochs must be an integer from 0"* ]]'
run_geoloc train --out "$tmp/m.safetensors" --images "$tmp" --shards "$tmp" --tau-min 1 --tau-max 5 "$tmp/x.csv"
check "--images and --shards" '[ $rc -eq 2 ] && [[ $err == *"one of --images DIR and --shards DIR"* ]]'
echo "IMG_ID,LAT,LON" > "$tmp/x.csv"
run_geoloc train --out "$tmp/m.safetensors" --log "$tmp/x.csv" --images "$tmp" --tau-min 1 --tau-max 5 "$tmp/x.csv"
check "--log is the manifest: refused, the manifest kept" '[ $rc -eq 2 ] && [[ $err == *"--log"*"is the input TRAIN.csv"* ]] && [ "$(cat "$tmp/x.csv")" = "IMG_ID,LAT,LON" ]'
run_geoloc train --out "$tmp/m.safetensors" --images "$tmp" --tau-min 1 --tau-max 5 --val - -
check "standard input as two manifests" '[ $rc -eq 2 ] && [[ $err == *"standard input"* ]]'

dev=$shared/im2gps3k-dev
[ -f "$dev/im2gps3k_dev.csv" ] || skip_rest "no $dev/im2gps3k_dev.csv (shared data absent)"
images=$dev/images
# a dozen photos from all over the list
awk 'NR == 1 || (NR - 2) % 166 == 0' "$dev/im2gps3k_dev.csv" | head -13 > "$tmp/train.csv"
"$fixture" "$tmp/rand18.safetensors" 18 3 || { fail "train_fixture"; finish; }
common=(--images "$images" --backbone "$tmp/rand18.safetensors" --image-size 96 --tau-min 0 --tau-max 6,3
        --val-fraction 0.34)

# heads mode with the baselines
run_geoloc train "${common[@]}" --epochs 3 --batch 8 --baselines --out "$tmp/h/model.safetensors" "$tmp/train.csv"
check "heads: runs ($err)" '[ $rc -eq 0 ] && [ -f "$tmp/h/model.safetensors" ]'
check "heads: one line per epoch" '[ "$(grep -c "^epoch " <<< "$out")" -eq 3 ] && [[ $out == *"2500km"* ]]'
check "heads: baselines" '[[ $out == *"baseline most populated cell"* ]] && [[ $out == *"baseline nearest training photo"* ]]'
check "heads: log of 3 epochs" '[ "$(grep -c "^epoch," "$tmp/h/model.log.csv")" -eq 3 ] && head -1 "$tmp/h/model.log.csv" | grep -q "^kind,epoch,step,lr,loss,loss_cells_0_6,loss_cells_0_3,loss_scene_S3,val_n,acc_1km"'
check "heads: partitions next to the model" '[ -f "$tmp/h/model.cells_0_6.csv" ] && [ -f "$tmp/h/model.cells_0_3.csv" ]'
check "heads: plain progress lines without a terminal" '[[ $err == *"features 12/12 photos"* ]] && ! grep -q $'"'"'\r'"'"' "$tmp/err"'
run_geoloc train "${common[@]}" --epochs 1 --batch 8 --out "$tmp/h/model.safetensors" "$tmp/train.csv"
check "heads: the features cache is reused" '[ $rc -eq 0 ] && [[ $err == *"features: cache"* ]]'

# scene heads at every level with loss weights and ISN heads (the same features cache), a
# scene classifier (geoloc scene train), and S16 labels from it for photos without one
feat=(--features "$tmp/h/model.features.safetensors")
run_geoloc train "${common[@]}" "${feat[@]}" --epochs 2 --batch 8 --scene S3,S16,S365 --scene-weight S16=0.5 \
  --geo-weight 2 --isn --out "$tmp/mtn/model.safetensors" "$tmp/train.csv"
check "levels + ISN: runs ($err)" '[ $rc -eq 0 ] && [[ $out == *"S3 "*"S16 "*"S365 "* ]] && [[ $err == *"ISN of S3 scene"* ]]'
check "levels + ISN: the log's heads and scene accuracy" 'head -1 "$tmp/mtn/model.log.csv" | grep -q "loss_scene_S3,loss_scene_S16,loss_scene_S365,loss_isn0_geo0,loss_isn0_geo1,.*,median_km,acc_S3,acc_S16,acc_S365,images_per_s"'
run_geoloc scene train --images "$images" --backbone "$tmp/rand18.safetensors" --image-size 96 --val-fraction 0.34 \
  "${feat[@]}" --epochs 2 --batch 8 --scene S3,S16 --out "$tmp/helper/model.safetensors" "$tmp/train.csv"
check "scene train: runs, scene accuracy and no distances ($err)" '[ $rc -eq 0 ] && [[ $out == *"| scenes  S3 "*"S16 "* ]] && [[ $out != *2500km* ]]'
awk -F, -v OFS=, 'NR > 1 && NR % 2 == 0 { $6 = "" } { print }' "$tmp/train.csv" > "$tmp/half16.csv"
GEOLOC_DATA_DIR=$tmp run_geoloc train "${common[@]}" "${feat[@]}" --epochs 1 --batch 8 --scene S16 \
  --scene-labels "helper:$tmp/helper/model.safetensors" --out "$tmp/prop/model.safetensors" "$tmp/half16.csv"
check "labels from the scene classifier ($out)" '[ $rc -eq 0 ] && [[ $out == *"scene labels S16: 6 from"* ]]'
GEOLOC_DATA_DIR=$tmp run_geoloc train "${common[@]}" "${feat[@]}" --epochs 1 --batch 8 --scene S16 \
  --scene-labels "helper:$tmp/h/model.safetensors" --out "$tmp/prop/model.safetensors" "$tmp/half16.csv"
check "a geo model is no scene classifier" '[ $rc -eq 1 ] && [[ $err == *"not a scene classifier"* ]]'
for bad in "--scene S3,S99" "--scene S16 --isn" "--scene-weight S16=-1" "--scene-labels model.safetensors"; do
  run_geoloc train "${common[@]}" $bad --out "$tmp/bad/model.safetensors" "$tmp/train.csv"
  check "usage error: $bad" '[ $rc -eq 2 ] && [ ! -e "$tmp/bad" ]'
done
run_geoloc scene train "${common[@]}" --scene S3 --out "$tmp/bad/model.safetensors" "$tmp/train.csv"
check "scene train takes no partitions" '[ $rc -eq 2 ] && [[ $err == *"no partitions"* ]]'

# stopped by the test hook after 2 steps (as if killed), then resumed
GEOLOC_TRAIN_STOP_AFTER=2 run_geoloc train "${common[@]}" --epochs 2 --batch 8 --out "$tmp/st/model.safetensors" "$tmp/train.csv"
check "GEOLOC_TRAIN_STOP_AFTER" '[ $rc -eq 0 ] && [[ $err == *"stopped after step 2"* ]] && [ ! -f "$tmp/st/model.safetensors" ]'
run_geoloc train "${common[@]}" --epochs 2 --batch 8 --out "$tmp/st/model.safetensors" --resume "$tmp/train.csv"
check "resumed after the stop" '[ $rc -eq 0 ] && [ -f "$tmp/st/model.safetensors" ] && [ "$(grep -c "^epoch " <<< "$out")" -eq 2 ]'
# a finished run resumed again: nothing to do, the model (and its metadata) untouched
cp "$tmp/st/model.safetensors" "$tmp/st/finished.safetensors"
run_geoloc train "${common[@]}" --epochs 2 --batch 8 --out "$tmp/st/model.safetensors" --resume "$tmp/train.csv"
check "finished run resumed: nothing to do ($err)" '[ $rc -eq 0 ] && [[ $err == *"nothing to do: training finished at epoch 2"* ]] && cmp -s "$tmp/st/model.safetensors" "$tmp/st/finished.safetensors"'
# ... and with the model gone (killed between the last checkpoint and the save): written again, same metadata
rm "$tmp/st/model.safetensors"
run_geoloc train "${common[@]}" --epochs 2 --batch 8 --out "$tmp/st/model.safetensors" --resume "$tmp/train.csv"
run_geoloc model info "$tmp/st/model.safetensors"
val_meta=$(grep "^geoloc.train.val " <<< "$out")
run_geoloc model info "$tmp/st/finished.safetensors"
check "finished run resumed without its model: the same metadata (${val_meta:-no geoloc.train.val})" '[ -n "$val_meta" ] && [ "$val_meta" = "$(grep "^geoloc.train.val " <<< "$out")" ]'
check "... and the same weights" 'cmp -s "$tmp/st/model.safetensors" "$tmp/st/finished.safetensors"'

# --resume without a checkpoint is an error, found before any work
run_geoloc train "${common[@]}" --epochs 2 --batch 8 --out "$tmp/nc/model.safetensors" --resume "$tmp/train.csv"
check "--resume without a checkpoint" '[ $rc -eq 1 ] && [[ $err == *"--resume: no checkpoint at $tmp/nc/model.ckpt.safetensors"* ]] && [[ $err != *features* ]]'

# feature extraction stopped after its first chunk of 4 photos, then resumed: the same features
GEOLOC_TRAIN_FEATURES_CHUNK=4 run_geoloc train "${common[@]}" --epochs 1 --batch 8 --out "$tmp/fu/model.safetensors" "$tmp/train.csv"
check "features in chunks, uninterrupted ($err)" '[ $rc -eq 0 ] && [ -f "$tmp/fu/model.features.safetensors" ] && [ -z "$(ls "$tmp/fu" | grep chunk)" ]'
GEOLOC_TRAIN_FEATURES_CHUNK=4 GEOLOC_TRAIN_STOP_AFTER_CHUNKS=1 run_geoloc train "${common[@]}" --epochs 1 --batch 8 --out "$tmp/fr/model.safetensors" "$tmp/train.csv"
check "features stopped after a chunk ($err)" '[ $rc -eq 0 ] && [ -f "$tmp/fr/model.features.safetensors.chunk0" ] && [ ! -f "$tmp/fr/model.features.safetensors" ] && [ ! -f "$tmp/fr/model.safetensors" ]'
GEOLOC_TRAIN_FEATURES_CHUNK=4 run_geoloc train "${common[@]}" --epochs 1 --batch 8 --out "$tmp/fr/model.safetensors" --resume "$tmp/train.csv"
check "features resumed ($err)" '[ $rc -eq 0 ] && [[ $err == *"resuming feature extraction at photo 4 of 12"* ]] && [ -z "$(ls "$tmp/fr" | grep chunk)" ]'
check "resumed features are the uninterrupted ones, byte for byte" 'cmp -s "$tmp/fu/model.features.safetensors" "$tmp/fr/model.features.safetensors"'
check "... and so is the model" 'cmp -s "$tmp/fu/model.safetensors" "$tmp/fr/model.safetensors"'

# divergence: stopped with a clear error, the last good checkpoint kept, nothing non-finite written
run_geoloc train "${common[@]}" --epochs 3 --batch 8 --lr 1e30 --checkpoint-every 1 --out "$tmp/d/model.safetensors" "$tmp/train.csv"
check "--lr 1e30 diverges ($err)" '[ $rc -eq 1 ] && [[ $err == *"training diverged at epoch 1 step "* ]] && [[ $err == *"try a lower --lr"* ]] && [ ! -f "$tmp/d/model.safetensors" ]'
check "divergence: the last good checkpoint named and kept" '[[ $err == *"last good checkpoint kept: $tmp/d/model.ckpt.safetensors"* ]] && [ -f "$tmp/d/model.ckpt.safetensors" ]'
run_geoloc train "${common[@]}" --epochs 3 --batch 8 --lr 1e30 --checkpoint-every 1 --out "$tmp/d/model.safetensors" --resume "$tmp/train.csv"
check "divergence: resuming from the kept checkpoint diverges again, cleanly" '[ $rc -eq 1 ] && [[ $err == *"resumed from"* ]] && [[ $err == *"training diverged"* ]]'

# two runs on the same outputs: the second is refused at once, the first goes on undisturbed
mkdir -p "$tmp/two"
GEOLOC_TRAIN_FEATURES_CHUNK=1 "$geoloc" train "${common[@]}" --epochs 2 --batch 8 --out "$tmp/two/model.safetensors" "$tmp/train.csv" > "$tmp/two/first.out" 2>&1 &
pid=$!
for _ in $(seq 1000); do [ -e "$tmp/two/.model.safetensors.run.lock" ] && break; sleep 0.01; done
run_geoloc train "${common[@]}" --epochs 2 --batch 8 --out "$tmp/two/model.safetensors" "$tmp/train.csv"
kill -0 "$pid" 2>/dev/null && first_running=1 || first_running=0
wait "$pid"
first_rc=$?
check "a second run on the same outputs is refused ($err)" '[ $first_running -eq 1 ] && [ $rc -eq 1 ] && [[ $err == *"$tmp/two/model.safetensors is in use by another geoloc train run"* ]]'
check "the first run went on undisturbed" '[ $first_rc -eq 0 ] && [ -f "$tmp/two/model.safetensors" ] && [ "$(grep -c "^epoch," "$tmp/two/model.log.csv")" -eq 2 ] && ! tr -d "[:print:]\n" < "$tmp/two/model.log.csv" | grep -q .'

# photos from shards, and a validation manifest of its own
run_geoloc dataset pack "$tmp/train.csv" --images "$images" --out-dir "$tmp/shards" --shorter-side 128
check "pack shards" '[ $rc -eq 0 ]'
head -9 "$tmp/train.csv" > "$tmp/t8.csv"
{ head -1 "$tmp/train.csv"; tail -4 "$tmp/train.csv"; } > "$tmp/v4.csv"
run_geoloc train --shards "$tmp/shards" --backbone "$tmp/rand18.safetensors" --image-size 96 --tau-min 0 \
  --tau-max 6,3 --val "$tmp/v4.csv" --epochs 1 --batch 8 --out "$tmp/s/model.safetensors" "$tmp/t8.csv"
check "shards and --val ($err)" '[ $rc -eq 0 ] && [[ $out == *"(n=4)"* ]] && [ -f "$tmp/s/model.safetensors" ]'

# full mode: straight, and killed with SIGKILL after its first checkpoints, then resumed
full=("${common[@]}" --mode full --epochs 3 --batch 4 --micro-batch 2 --checkpoint-every 1)
run_geoloc train "${full[@]}" --out "$tmp/f1/model.safetensors" "$tmp/train.csv"
check "full: runs ($err)" '[ $rc -eq 0 ] && [ -f "$tmp/f1/model.safetensors" ]'
mkdir -p "$tmp/f2"
"$geoloc" train "${full[@]}" --out "$tmp/f2/model.safetensors" "$tmp/train.csv" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ -f "$tmp/f2/model.ckpt.safetensors" ] && [ "$(grep -c "^step," "$tmp/f2/model.log.csv" 2>/dev/null)" -ge 3 ] && break
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
steps=$(grep -c "^step," "$tmp/f2/model.log.csv")
check "full: killed mid-run (after $steps of 6 steps), no model yet" '[ "$steps" -lt 6 ] && [ ! -f "$tmp/f2/model.safetensors" ]'
run_geoloc train "${full[@]}" --out "$tmp/f2/model.safetensors" --resume "$tmp/train.csv"
check "full: resumed ($err)" '[ $rc -eq 0 ] && [[ $err == *"resumed from"* ]]'
check "full: the resumed model is the uninterrupted one, byte for byte" 'cmp -s "$tmp/f1/model.safetensors" "$tmp/f2/model.safetensors"'
check "full: the same log lines" 'diff <(cut -d, -f1-14 "$tmp/f1/model.log.csv") <(cut -d, -f1-14 "$tmp/f2/model.log.csv") >/dev/null'
check "no temporary files left" '[ -z "$(find "$tmp" -name "*.tmp.*")" ]'

# refused inputs leave nothing behind
{ cat "$tmp/train.csv"; echo "no_such_photo.jpg,someone,10,10,0,0,0,0.1,0.2,0.7"; } > "$tmp/missing.csv"
run_geoloc train "${common[@]}" --out "$tmp/e/model.safetensors" "$tmp/missing.csv"
check "missing photo named" '[ $rc -eq 1 ] && [[ $err == *no_such_photo.jpg* ]] && [[ $err == *"1 of the 13 photos are missing"* ]]'
check "missing photo: nothing written" '[ -z "$(ls -A "$tmp/e" 2>/dev/null)" ]'
head -1 "$tmp/train.csv" > "$tmp/empty.csv"
run_geoloc train "${common[@]}" --out "$tmp/e/model.safetensors" "$tmp/empty.csv"
check "empty manifest" '[ $rc -eq 1 ] && [[ $err == *"no photos"* ]]'
if [ ! -f "$(dirname "$geoloc")/../models/resnet50-imagenet.safetensors" ]; then
GEOLOC_DATA_DIR=$tmp/none run_geoloc train --images "$images" --image-size 96 --tau-min 0 --tau-max 6 \
  --val-fraction 0.34 --out "$tmp/e/model.safetensors" "$tmp/train.csv"
check "no backbone: says how to get it" '[ $rc -eq 1 ] && [[ $err == *fetch-backbone.sh* ]]'
fi
finish
