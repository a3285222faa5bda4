#!/usr/bin/env bash
# geoloc train on several ranks (mpirun) on a dozen shared photos. Full
# mode (the ImageNet ResNet-50 at 64x64, two steps of two micro-batches) on
# 2 ranks with --sync-bn gives the weights of 1 process with the same
# options within 1e-5 relative, and without --sync-bn does not (each rank's
# batch-norm statistics are its own); a 2-rank checkpoint resumes on 1 rank
# and the reverse, to the same weights. With a random ResNet-18 (fast):
# heads mode gives the same model file byte for byte; a killed rank ends the
# job within seconds and the checkpoint resumes; a hung rank ends it after
# GEOLOC_DIST_TIMEOUT; a micro-batch that does not split over the ranks,
# ranks with other options and a photo folder missing on one rank are
# refused with the rank named; more ranks than photos in a micro-batch work.
. "$(dirname "$0")/lib.sh"
test_setup cli_train_dist "$@"
fixture=${4:?usage: cli_train_dist.sh GEOLOC SHARED_DATA TEST_DATA TRAIN_FIXTURE}
close="python3 $(dirname "$0")/safetensors_close.py"
need_mpi
dev=$shared/im2gps3k-dev
[ -f "$dev/im2gps3k_dev.csv" ] || skip_rest "no $dev/im2gps3k_dev.csv (shared data absent)"
awk 'NR == 1 || (NR - 2) % 166 == 0' "$dev/im2gps3k_dev.csv" | head -13 > "$tmp/train.csv"
"$fixture" "$tmp/rand18.safetensors" 18 3 || { fail "train_fixture"; finish; }
export OMP_NUM_THREADS=1 GEOLOC_DIST_TIMEOUT=120
common=(--images "$dev/images" --backbone "$tmp/rand18.safetensors" --image-size 96 --tau-min 0 --tau-max 6,3
        --val-fraction 0.34 -j 1)
backbone=$(dirname "$0")/../models/resnet50-imagenet.safetensors
[ -f "$backbone" ] || skip_rest "no $backbone (tools/fetch-backbone.sh)"
full=(--images "$dev/images" --backbone "$backbone" --image-size 64 --tau-min 0 --tau-max 6,3 --val-fraction 0.34
      -j 1 --mode full --epochs 2 --batch 8 --micro-batch 4)

# the ResNet-50 runs are long in a sanitizer build, whose suite skips them (the
# Release suite runs them; test_sync_bn covers bn_sync.c under the sanitizers)
if [ -z "${GEOLOC_TEST_SANITIZED:-}" ]; then
  # full mode: 1 process, 2 ranks with --sync-bn, 2 ranks without
  run_geoloc train "${full[@]}" --sync-bn --out "$tmp/one/m.safetensors" "$tmp/train.csv"
  check "full, 1 process ($err)" '[ $rc -eq 0 ] && [ -f "$tmp/one/m.safetensors" ]'
  one_val=$(grep "^validation" <<< "$out")
  mpi 2 train "${full[@]}" --sync-bn --check-every 1 --out "$tmp/two/m.safetensors" "$tmp/train.csv"
  check "full, 2 ranks --sync-bn ($err)" '[ $rc -eq 0 ] && [[ $out == *"ranks: 2;"* ]] && [ "$(grep -c "^validation" <<< "$out")" -eq 1 ]'
  check "full, 2 ranks: rank 0 alone wrote the log" '[ "$(grep -c "^epoch," "$tmp/two/m.log.csv")" -eq 2 ]'
  same=$($close "$tmp/two/m.safetensors" "$tmp/one/m.safetensors" 1e-5); crc=$?
  check "full, 2 ranks --sync-bn = 1 process within 1e-5 ($same)" '[ $crc -eq 0 ]'
  check "full, 2 ranks: the same validation ($one_val)" '[ -n "$one_val" ] && [[ $out == *"$one_val"* ]]'
  mpi 2 train "${full[@]}" --out "$tmp/nosync/m.safetensors" "$tmp/train.csv"
  differ=$($close "$tmp/nosync/m.safetensors" "$tmp/one/m.safetensors" 1e-5); crc=$?
  check "full, 2 ranks without --sync-bn: each rank's statistics, other weights ($differ)" '[ $rc -eq 0 ] && [ $crc -eq 1 ]'
fi

# heads mode: rank 0 trains; the same model file
run_geoloc train "${common[@]}" --epochs 3 --batch 8 --out "$tmp/h1/m.safetensors" "$tmp/train.csv"
check "heads, 1 process ($err)" '[ $rc -eq 0 ]'
mpi 2 train "${common[@]}" --epochs 3 --batch 8 --out "$tmp/h2/m.safetensors" "$tmp/train.csv"
check "heads, 2 ranks ($err)" '[ $rc -eq 0 ] && cmp -s "$tmp/h1/m.safetensors" "$tmp/h2/m.safetensors"'

if [ -z "${GEOLOC_TEST_SANITIZED:-}" ]; then
  # resume across rank counts: stopped after step 1 (as if killed), resumed on the other count
  GEOLOC_TRAIN_STOP_AFTER=1 mpi 2 train "${full[@]}" --sync-bn --out "$tmp/r21/m.safetensors" "$tmp/train.csv"
  check "2 ranks stopped after step 1 ($err)" '[ $rc -eq 0 ] && [ -f "$tmp/r21/m.ckpt.safetensors" ] && [ ! -f "$tmp/r21/m.safetensors" ]'
  run_geoloc train "${full[@]}" --sync-bn --resume --out "$tmp/r21/m.safetensors" "$tmp/train.csv"
  same=$($close "$tmp/r21/m.safetensors" "$tmp/one/m.safetensors" 1e-5); crc=$?
  check "... resumed on 1 process: the uninterrupted weights ($same; $err)" '[ $crc -eq 0 ] && [[ $err == *"resumed from"* ]]'
  GEOLOC_TRAIN_STOP_AFTER=1 run_geoloc train "${full[@]}" --sync-bn --out "$tmp/r12/m.safetensors" "$tmp/train.csv"
  mpi 2 train "${full[@]}" --sync-bn --resume --out "$tmp/r12/m.safetensors" "$tmp/train.csv"
  same=$($close "$tmp/r12/m.safetensors" "$tmp/one/m.safetensors" 1e-5); crc=$?
  check "1 process stopped, resumed on 2 ranks: the uninterrupted weights ($same; $err)" '[ $crc -eq 0 ] && [ $rc -eq 0 ]'
fi

# start_job NAME: a long 2-rank training into $tmp/NAME in the background (job: its
# PID) once its log has a step row; victim: the PID of its rank 1
long=("${common[@]}" --mode full --epochs 40 --batch 4 --micro-batch 4 --checkpoint-every 1)
start_job() {
  mpi_run 2 "$geoloc" train "${long[@]}" --out "$tmp/$1/m.safetensors" "$tmp/train.csv" >"$tmp/$1.out" 2>"$tmp/$1.err" &
  job=$!
  for _ in $(seq 600); do
    [ -f "$tmp/$1/m.log.csv" ] && [ "$(grep -c "^step," "$tmp/$1/m.log.csv")" -ge 2 ] && break
    sleep 0.05
  done
  victim=$(pgrep -P "$(pgrep -f "^mpirun -np 2 .*$tmp/$1/")" | tail -1)
}

# a rank killed mid-run: the job ends within seconds, the checkpoint resumes
start_job k
t0=$(date +%s%N)
kill -9 "$victim"
wait "$job"
krc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "killed rank: the job ends (exit $krc) within 10 s ($ms ms)" '[ $krc -ne 0 ] && [ $ms -lt 10000 ]'
check "killed rank: no model, a checkpoint" '[ ! -f "$tmp/k/m.safetensors" ] && [ -f "$tmp/k/m.ckpt.safetensors" ]'
run_geoloc train "${long[@]}" --epochs 3 --resume --out "$tmp/k/m.safetensors" "$tmp/train.csv"
check "killed rank: the checkpoint resumes ($err)" '[ $rc -eq 0 ] && [[ $err == *"resumed from"* ]] && [ -f "$tmp/k/m.safetensors" ]'

# a rank that hangs (stopped): with GEOLOC_DIST_TIMEOUT the others give up and end the job
GEOLOC_DIST_TIMEOUT=3 start_job hang
kill -STOP "$victim"
t0=$(date +%s)
for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
secs=$(( $(date +%s) - t0 ))
kill -9 "$victim" 2>/dev/null; kill -CONT "$victim" 2>/dev/null
wait "$job"
hrc=$?
check "hung rank: the job ends (exit $hrc) in ${secs} s, naming the wait" '[ $hrc -ne 0 ] && [ $secs -lt 25 ] && grep -q "one of them hangs" "$tmp/hang.err"'

# refused: a micro-batch that does not split, other options on one rank, a folder missing on one rank
mpi 3 train "${full[@]}" --out "$tmp/x/m.safetensors" "$tmp/train.csv"
check "micro-batch 4 over 3 ranks refused" '[ $rc -ne 0 ] && [[ $err == *"--micro-batch 4 does not split evenly over 3 ranks"* ]]'
mpi_run 1 "$geoloc" train "${full[@]}" --out "$tmp/x/m.safetensors" "$tmp/train.csv" : \
       -np 1 "$geoloc" train "${full[@]}" --lr 0.5 --out "$tmp/x/m.safetensors" "$tmp/train.csv" >"$tmp/out" 2>"$tmp/err"
rc=$?; err=$(cat "$tmp/err")
check "other options on rank 1 refused" '[ $rc -ne 0 ] && [[ $err == *"the command line differs between ranks (rank 1"* ]]'
mkdir -p "$tmp/elsewhere"
"$geoloc" dataset pack "$tmp/train.csv" --images "$dev/images" --out-dir "$tmp/pack" --shorter-side 80 >/dev/null 2>&1
rel=("${full[@]/#--images/--shards}")
rel=("${rel[@]/#$dev\/images/pack}")
(cd "$tmp" && mpi_run 1 "$geoloc" train "${rel[@]}" --out "$tmp/x/m.safetensors" "$tmp/train.csv" : \
       -np 1 -wdir "$tmp/elsewhere" "$geoloc" train "${rel[@]}" --out "$tmp/x/m.safetensors" "$tmp/train.csv") >"$tmp/out" 2>"$tmp/err"
rc=$?; err=$(cat "$tmp/err")
check "shard folder missing on rank 1: every rank stops, rank 1 named ($err)" '[ $rc -ne 0 ] && [ $rc -ne 124 ] && [[ $err == *"rank 1: "*pack* ]]'
check "nothing written" '[ ! -e "$tmp/x/m.safetensors" ]'

# more ranks than photos in a micro-batch: 2 training photos on 4 ranks
awk 'NR <= 4' "$tmp/train.csv" > "$tmp/three.csv"
mpi 4 train "${common[@]}" --val-fraction 0.34 --mode full --epochs 1 --batch 4 --micro-batch 4 --out "$tmp/few/m.safetensors" "$tmp/three.csv"
check "4 ranks, 2 training photos ($err)" '[ $rc -eq 0 ] && [ -f "$tmp/few/m.safetensors" ]'
finish
