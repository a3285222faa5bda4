#!/usr/bin/env bash
# bench/dist.sh: data-parallel training, 2 MPI ranks against 1 process.
#
# usage: bench/dist.sh [--sync-bn] [--bind-to none|core] [BUILD_DIR]
#        (default ./build; nothing is built here)
#
# One job: `geoloc train --mode full` on the ImageNet ResNet-50 at 224 px,
# PHOTOS dev photos (every 31st of im2gps3k_dev.csv), 4 other photos as
# validation, --batch 16 --micro-batch 8, EPOCHS epochs, -j 1 (one loader
# thread per process), run in three shapes:
#   1x1  1 process, OMP_NUM_THREADS=1
#   1x2  1 process, OMP_NUM_THREADS=2
#   2x1  mpirun -np 2 (--bind-to none, or as given), OMP_NUM_THREADS=1 each
# ROUNDS rounds, the shapes alternating within each. Per shape it prints the
# median of: the wall time of the training (geoloc's "training: X s" line:
# weights shared, steps, validation, checkpoints), the time of one step (the
# median gap between two steps of one epoch in the log, so without start-up,
# validation and checkpoint), images/s from that, the gradient-sum time per
# step and the MB each rank sums per step; then the medians of the per-round
# ratios 1x1/2x1 and 1x2/2x1 (>1: 2 ranks faster). The bar: 2x1 finishes
# at least 1.3x faster than 1x1. Before every round the share of the cores
# other jobs use (2 s of /proc/stat) is printed, and a note when it exceeds
# 10 %: a busy machine makes the ratios meaningless.
# Environment:
#   ROUNDS=3 PHOTOS=64 EPOCHS=2 BATCH=16 MICRO=8 SIZE=224 JOBS=1
#   SHAPES="1x1 1x2 2x1"  (a subset to run)
#   DEV=../shared/data/im2gps3k-dev  BACKBONE=models/resnet50-imagenet.safetensors
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
sync_bn=() bind=none
while [ $# -gt 0 ]; do
    case $1 in
        --sync-bn) sync_bn=(--sync-bn); shift ;;
        --bind-to) bind=${2:?--bind-to needs none or core}; shift 2 ;;
        -*) echo "usage: bench/dist.sh [--sync-bn] [--bind-to none|core] [BUILD_DIR]" >&2; exit 2 ;;
        *) break ;;
    esac
done
build=${1:-./build}
geoloc=$build/geoloc
rounds=${ROUNDS:-3} photos=${PHOTOS:-64} epochs=${EPOCHS:-2} batch=${BATCH:-16} micro=${MICRO:-8}
size=${SIZE:-224} jobs=${JOBS:-1} shapes=${SHAPES:-1x1 1x2 2x1}
dev=${DEV:-$root/../shared/data/im2gps3k-dev}
backbone=${BACKBONE:-$root/models/resnet50-imagenet.safetensors}

die() { echo "bench/dist.sh: $*" >&2; exit 1; }
[ -x "$geoloc" ] || die "no geoloc binary in $build"
[ -f "$dev/im2gps3k_dev.csv" ] || die "no $dev/im2gps3k_dev.csv (shared data absent)"
[ -f "$backbone" ] || die "no $backbone (tools/fetch-backbone.sh)"
case " $shapes " in *" 2x1 "*)
    command -v mpirun >/dev/null || die "no mpirun (install openmpi-bin)"
    [[ $("$geoloc" --version) == *"(MPI)"* ]] || die "geoloc was built without MPI" ;;
esac
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'NR == 1 || (NR - 2) % 31 == 0' "$dev/im2gps3k_dev.csv" | head -n $((photos + 1)) >"$tmp/train.csv"
awk 'NR == 1 || (NR - 17) % 97 == 0' "$dev/im2gps3k_dev.csv" | head -n 5 >"$tmp/val.csv"
n=$(($(wc -l <"$tmp/train.csv") - 1))
args=(train --mode full --images "$dev/images" --backbone "$backbone" --image-size "$size" --tau-min 0
      --tau-max 16,8 --val "$tmp/val.csv" -j "$jobs" --epochs "$epochs" --batch "$batch" --micro-batch "$micro"
      --check-every 0 "${sync_bn[@]}")

load() { cut -d' ' -f1-3 /proc/loadavg; }
# busy: the share of all cores in use over 2 s (other jobs: nothing of ours runs then)
busy() {
    local a b
    read -r -a a < <(head -n 1 /proc/stat); sleep 2; read -r -a b < <(head -n 1 /proc/stat)
    awk -v u=$((b[1] + b[2] + b[3] + b[6] + b[7] + b[8] - a[1] - a[2] - a[3] - a[6] - a[7] - a[8])) \
        -v i=$((b[4] + b[5] - a[4] - a[5])) 'BEGIN { printf "%.0f", (u + i > 0 ? 100 * u / (u + i) : 0) }'
}
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "job: ResNet-50 ${size}px, $n photos, $epochs epochs, --batch $batch --micro-batch $micro -j $jobs" \
     "${sync_bn[*]:---sync-bn off}; 2x1: mpirun --bind-to $bind; $rounds rounds"

# run SHAPE ROUND: one training job; appends "SHAPE ROUND train_s step_s sum_s_per_step mb" to $tmp/rows
run() {
    local shape=$1 out=$tmp/$1.$2 ranks=${1%x*} threads=${1#*x}
    rm -rf "$out"
    if [ "$ranks" = 1 ]; then
        OMP_NUM_THREADS=$threads "$geoloc" "${args[@]}" --out "$out/m.safetensors" "$tmp/train.csv" \
            >"$out.out" 2>"$out.err"
    else
        OMP_NUM_THREADS=$threads mpirun --bind-to "$bind" -np "$ranks" -x OMP_NUM_THREADS "$geoloc" "${args[@]}" \
            --out "$out/m.safetensors" "$tmp/train.csv" >"$out.out" 2>"$out.err"
    fi
    local rc=$? line
    line=$(grep -m 1 '^ranks: ' "$out.out")
    if [ $rc != 0 ] || [ -z "$line" ]; then
        echo "  $shape: failed (exit $rc): $(grep -m 1 . "$out.err")"
        return
    fi
    # ranks: N; training: X s (E epochs)[; gradient sums: Y s, Z MB per rank per step]
    local train_s sum_s mb steps step_s
    train_s=$(sed -n 's/.*training: \([0-9.]*\) s.*/\1/p' <<<"$line")
    sum_s=$(sed -n 's/.*gradient sums: \([0-9.]*\) s.*/\1/p' <<<"$line")
    mb=$(sed -n 's/.*, \([0-9.]*\) MB per rank.*/\1/p' <<<"$line")
    # the log's step rows: kind,epoch,step,...,elapsed_s (last column)
    steps=$(grep -c '^step,' "$out/m.log.csv")
    step_s=$(awk -F, '$1 == "step" { if ($2 == e) print $NF - t; e = $2; t = $NF }' "$out/m.log.csv" | sort -g |
             awk '{ d[NR] = $1 } END { if (!NR) print 0; else printf "%.2f", NR % 2 ? d[(NR + 1) / 2] : (d[NR / 2] + d[NR / 2 + 1]) / 2 }')
    echo "$shape $2 $train_s $step_s $(awk -v s="${sum_s:-0}" -v n="$steps" 'BEGIN { printf "%.3f", s / n }') ${mb:-0}" \
        >>"$tmp/rows"
    printf '  %-4s training %6.1f s, %s s per step (%d steps)%s\n' "$shape" "$train_s" "$step_s" "$steps" \
        "${sum_s:+, gradient sums $sum_s s}"
}

load0=$(load) worst=0
for r in $(seq "$rounds"); do
    b=$(busy)
    [ "$b" -gt "$worst" ] && worst=$b
    echo "round $r (cores busy with other jobs: $b %; load average $(load))"
    for shape in $shapes; do run "$shape" "$r"; done
done
echo "load average before: $load0; after: $(load)"
[ "$worst" -gt 10 ] &&
    echo "note: the machine was busy (other jobs used up to $worst % of the cores before a round): figures are not clean"

# the table: per shape the medians; per round the ratios
awk -v batch="$batch" -v shapes="$shapes" '
    function med(arr, n,   i, j, t, c) {
        for (i = 1; i <= n; i++) c[i] = arr[i]
        for (i = 2; i <= n; i++) for (j = i; j > 1 && c[j - 1] > c[j]; j--) { t = c[j]; c[j] = c[j - 1]; c[j - 1] = t }
        return n % 2 ? c[(n + 1) / 2] : (c[n / 2] + c[n / 2 + 1]) / 2
    }
    { k = ++cnt[$1]; tr[$1, k] = $3; st[$1, k] = $4; gs[$1, k] = $5; mb[$1] = $6; at[$1, $2] = $3; rounds[$2] = 1 }
    END {
        printf "\n%-6s %10s %10s %9s %16s %12s\n", "shape", "training s", "s/step", "images/s", "grad sums s/step", "MB/rank/step"
        ns = split(shapes, S, " ")
        for (i = 1; i <= ns; i++) {
            s = S[i]; if (!cnt[s]) continue
            for (k = 1; k <= cnt[s]; k++) { a[k] = tr[s, k]; b[k] = st[s, k]; c[k] = gs[s, k] }
            t = med(a, cnt[s]); p = med(b, cnt[s])
            printf "%-6s %10.1f %10.2f %9.2f %16.3f %12.1f\n", s, t, p, (p > 0 ? batch / p : 0), med(c, cnt[s]), mb[s]
        }
        for (pair = 1; pair <= 2; pair++) {
            base = pair == 1 ? "1x1" : "1x2"; n = 0
            for (r in rounds) if (at[base, r] > 0 && at["2x1", r] > 0) q[++n] = at[base, r] / at["2x1", r]
            if (n) printf "2x1 vs %s: %.2fx the speed (%s training time / 2x1 training time, median of %d rounds%s)\n",
                          base, med(q, n), base, n,
                          base == "1x1" ? (med(q, n) >= 1.3 ? "; bar 1.3x: met" : "; bar 1.3x: NOT met") : ""
        }
    }' "$tmp/rows"
