#!/bin/bash
# Fine-tunes the whole ResNet-50 on MP-16 (4.7 M Flickr photos) on a Slurm
# cluster: data-parallel, one MPI rank per node, its cores as network threads.
# Every rank holds the whole network, runs micro-batch / ranks photos per
# network call and sums its gradients with the others after each step (see
# bench/dist.sh for what 2 ranks gain on one machine).
#
# Before (once, on a login or data node), pack the photos into shards on a
# filesystem every node reads (or copy the pack to node-local disk, see
# STAGE below). The validation photos must be in the same pack: either
#   geoloc dataset import-msgpack --meta meta.csv --out-dir $PACK \
#       mp16/shard_*.msg yfcc25600/shard_*.msg
# from GeoEstimation's msgpack shards, meta.csv = mp16_places365.csv plus
# the data rows of yfcc25600_places365.csv (import-msgpack keeps the records
# named in --meta; rerun it to continue an interrupted import), or
#   geoloc dataset pack --images PHOTOS --out-dir $PACK -j 0 meta.csv
# from a folder of photos (resized to a 320 px shorter side).
#
# Submit:   sbatch tools/slurm-train-mp16.sh
#           sbatch --nodes=64 --export=ALL,SYNC_BN=1 tools/slurm-train-mp16.sh
# The same command continues a run: the checkpoint (OUT.ckpt.safetensors,
# written by rank 0 every CKPT_EVERY steps and every epoch, atomically) is
# resumed with --resume; a finished run says "nothing to do". A failed or
# timed-out job requeues itself (at most MAX_RESTARTS times) and resumes;
# keep the node count of the first job (the global batch follows from it).
#
#SBATCH --job-name=geoloc-mp16
#SBATCH --nodes=8
#SBATCH --ntasks-per-node=1       # one rank per node; 2-4 can beat 1 when threads scale poorly (bench/dist.sh)
#SBATCH --cpus-per-task=32        # the node's cores: network threads + photo decoding threads
#SBATCH --mem=0                   # the whole node's memory (a rank needs a few GB)
#SBATCH --time=24:00:00           # per job; the requeues continue the run
#SBATCH --requeue                 # also requeued by Slurm after a node failure or preemption
#SBATCH --signal=B:USR1@300       # 5 minutes before the time limit: requeue (trap below)
#SBATCH --open-mode=append        # a requeued job appends to the same log
#SBATCH --output=geoloc-mp16-%j.log
set -u

GEOLOC=${GEOLOC:-geoloc}                       # geoloc built with MPI (`geoloc --version` says "(MPI)")
PACK=${PACK:-/shared/mp16/pack}                # the shards (index.bin, shard-*.bin)
TRAIN_CSV=${TRAIN_CSV:-/shared/mp16/mp16_places365.csv}
VAL_CSV=${VAL_CSV:-/shared/mp16/yfcc25600_places365.csv}
OUT=${OUT:-/shared/runs/mp16-resnet50/model.safetensors}   # on a shared filesystem
STAGE=${STAGE:-}                               # e.g. /local/scratch: copy the pack to each node's disk first
SYNC_BN=${SYNC_BN:-0}                          # 1: batch-norm statistics over the whole micro-batch (slower: a sum per BN layer)
PER_RANK=${PER_RANK:-32}                       # photos per rank per network call (below ~16 consider SYNC_BN=1)
LOADERS=${LOADERS:-4}                          # photo decoding threads per rank (-j)
CKPT_EVERY=${CKPT_EVERY:-1000}                 # steps between checkpoints (plus one per epoch)
MAX_RESTARTS=${MAX_RESTARTS:-5}

ranks=$SLURM_NTASKS
# Weak scaling: the per-rank batch stays fixed, the global batch grows with
# the ranks; the learning rate grows with it (linear rule, from the paper's
# 0.01 at 128 photos, full mode's defaults) with one epoch of linear warm-up, halved every 5 epochs.
micro=$((PER_RANK * ranks))
lr=$(awk -v b="$micro" 'BEGIN { printf "%.4g", 0.01 * b / 128 }')
# the network's threads leave the decoding threads a core each
export OMP_NUM_THREADS=$((SLURM_CPUS_PER_TASK > LOADERS + 1 ? SLURM_CPUS_PER_TASK - LOADERS : 1))
export OMP_PROC_BIND=close OMP_PLACES=cores
export GEOLOC_DIST_TIMEOUT=${GEOLOC_DIST_TIMEOUT:-1800}   # a hung rank ends the job (and the requeue resumes)

requeue() {
    echo "geoloc-mp16: $1; requeueing job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0} of $MAX_RESTARTS)"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
}
trap 'requeue "time limit near"' USR1

mkdir -p "$(dirname "$OUT")"
pack=$PACK
if [ -n "$STAGE" ]; then
    # one copy per node (ntasks-per-node=1 here), then every rank reads its local disk
    pack=$STAGE/mp16-pack
    srun --ntasks-per-node=1 --ntasks="$SLURM_NNODES" rsync -a "$PACK/" "$pack/" || requeue "staging failed"
fi

args=(train --mode full --shards "$pack" --val "$VAL_CSV"
      --tau-min 50 --tau-max 5000,2000,1000        # GeoEstimation's three partitions (built once, by the first job)
      --scene S3 --image-size 224 --epochs 15
      --batch "$micro" --micro-batch "$micro" --lr "$lr" --lr-schedule "step:5:0.5+warmup:1"
      --checkpoint-every "$CKPT_EVERY" --log-every 100 --check-every 500 -j "$LOADERS"
      --out "$OUT")
[ "$SYNC_BN" = 1 ] && args+=(--sync-bn)
# a checkpoint from an earlier job: continue it (--resume without one is an error)
[ -f "${OUT%.safetensors}.ckpt.safetensors" ] && args+=(--resume)

echo "geoloc-mp16: job $SLURM_JOB_ID, $SLURM_NNODES nodes, $ranks ranks x $OMP_NUM_THREADS threads" \
     "(+$LOADERS decoders), batch $micro ($PER_RANK per rank), lr $lr, sync-bn $SYNC_BN, restart ${SLURM_RESTART_COUNT:-0}"
# srun starts the ranks through PMIx (OpenMPI 4 built with it; else --mpi=pmi2, or mpirun in the allocation).
# Run in the background so that the USR1 trap fires while training.
srun --mpi=pmix --cpu-bind=cores "$GEOLOC" "${args[@]}" "$TRAIN_CSV" &
wait $!    # USR1 interrupts this wait; the trap requeues and exits
rc=$?
# 2 is a usage error, which a rerun repeats; 1 may be a node or a rank lost
if [ $rc -ne 0 ] && [ $rc -ne 2 ] && [ "${SLURM_RESTART_COUNT:-0}" -lt "$MAX_RESTARTS" ]; then
    requeue "geoloc exited with $rc"
fi
[ $rc -ne 0 ] && echo "geoloc-mp16: geoloc exited with $rc (restart ${SLURM_RESTART_COUNT:-0}); not requeued"
exit $rc
