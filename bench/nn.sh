#!/usr/bin/env bash
# bench/nn.sh: the CNN engine against PyTorch, ResNet-50 in float32 on the CPU.
#
# usage: bench/nn.sh [BUILD_DIR]      (default ./build; nothing is built here)
#
# For each shape it runs `BUILD_DIR/geoloc bench nn ...` and then
# bench/nn_torch.py (PyTorch + torchvision through /usr/bin/python3, two
# threads, channels_last, tcmalloc preloaded when installed) on the same job,
# and prints both result lines and a table of images/s, the ratio
# geoloc / pytorch and both peak RSS. Each side runs in its own process.
#
# Shapes:  resnet50 infer batch 32, 1000 classes
#          resnet50 infer batch 1,  1000 classes
#          resnet50 train batch 32, 13000 classes (SGD momentum step)
# Both sides get the same --iters, --warmup and --size, and OMP_NUM_THREADS=2.
# Environment:
#   INFER32_WARMUP=2 INFER32_ITERS=5  INFER1_WARMUP=3 INFER1_ITERS=20
#   TRAIN_WARMUP=1 TRAIN_ITERS=3      SIZE=224
#   SHAPES="infer32 infer1 train32"   (a subset to run)
#   IMPL="geoloc pytorch"             (a subset of the two sides)
#   PYTHON=/usr/bin/python3           TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
# Until `geoloc bench nn` exists the geoloc column says "n/a" and the script
# prints "geoloc bench nn not available".
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-./build}
geoloc=$build/geoloc
python=${PYTHON:-/usr/bin/python3}
tcmalloc=${TCMALLOC:-/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4}
size=${SIZE:-224}
shapes=${SHAPES:-infer32 infer1 train32}
impl=${IMPL:-geoloc pytorch}

want() { case " $impl " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# field KEY LINE: the value of KEY=... in a result line
field() { printf '%s\n' "$2" | awk -v k="$1=" '{ for (i = 1; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }'; }

preload=
if want pytorch; then
    if ! "$python" -c 'import torch, torchvision' 2>/dev/null; then
        echo "bench/nn.sh: $python has no torch/torchvision (apt-get install python3-torchvision)" >&2
        exit 1
    fi
    if [ -f "$tcmalloc" ]; then
        preload=$tcmalloc
    else
        echo "note: $tcmalloc not found (Debian package libgoogle-perftools4): PyTorch runs with glibc malloc"
    fi
fi

isa=avx2; grep -qw avx512f /proc/cpuinfo && isa=avx512
grep -qw avx2 /proc/cpuinfo || isa="no avx2"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), widest vector ISA exposed: $isa"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if want pytorch; then
    echo "pytorch: $("$python" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'), OMP_NUM_THREADS=2, LD_PRELOAD=${preload:-none}"
fi

geoloc_ok=1
if want geoloc && [ ! -x "$geoloc" ]; then
    echo "bench/nn.sh: no geoloc binary in $build: geoloc bench nn not available"
    geoloc_ok=0
fi

rows=()
for shape in $shapes; do
    case $shape in
        infer32) mode=infer; batch=32; classes=1000
                 warm=${INFER32_WARMUP:-2}; iters=${INFER32_ITERS:-5} ;;
        infer1)  mode=infer; batch=1; classes=1000
                 warm=${INFER1_WARMUP:-3}; iters=${INFER1_ITERS:-20} ;;
        train32) mode=train; batch=32; classes=13000
                 warm=${TRAIN_WARMUP:-1}; iters=${TRAIN_ITERS:-3} ;;
        *) echo "bench/nn.sh: unknown shape $shape (infer32, infer1, train32)" >&2; exit 2 ;;
    esac
    echo
    echo "== resnet50 $mode batch $batch, $classes classes, ${size}x$size: $warm warm-up + $iters timed iterations"

    gline=
    if want geoloc && [ "$geoloc_ok" = 1 ]; then
        OMP_NUM_THREADS=2 "$geoloc" bench nn --arch resnet50 --batch "$batch" --mode "$mode" \
            --classes "$classes" --iters "$iters" --warmup "$warm" --size "$size" \
            >"$tmp/g.out" 2>"$tmp/g.err"
        rc=$?
        gline=$(grep -m 1 '^bench nn: ' "$tmp/g.out")
        if [ -n "$gline" ] && [ $rc = 0 ]; then
            echo "$gline"
        else
            why=$(cat "$tmp/g.err" "$tmp/g.out" | grep -m 1 .)
            echo "geoloc bench nn not available (exit $rc${why:+: $why})"
            gline=
            # an unknown subcommand (usage without "bench nn") fails for every shape
            if [ $rc = 2 ] && ! grep -q 'bench nn' "$tmp/g.out" "$tmp/g.err"; then geoloc_ok=0; fi
        fi
    fi

    pline=
    if want pytorch; then
        OMP_NUM_THREADS=2 LD_PRELOAD=$preload "$python" "$root/bench/nn_torch.py" \
            --arch resnet50 --batch "$batch" --mode "$mode" --classes "$classes" \
            --iters "$iters" --warmup "$warm" --size "$size" >"$tmp/p.out" 2>"$tmp/p.err"
        rc=$?
        pline=$(grep -m 1 '^bench nn: ' "$tmp/p.out")
        if [ -n "$pline" ] && [ $rc = 0 ]; then
            echo "$pline"
        else
            echo "pytorch run failed (exit $rc):"; tail -n 5 "$tmp/p.err"
            pline=
        fi
    fi

    gips=n/a; prss=n/a; grss=n/a; pips=n/a; ratio=n/a
    if [ -n "$gline" ]; then gips=$(field 'images/s' "$gline"); grss=$(field peak_rss_mib "$gline"); fi
    if [ -n "$pline" ]; then pips=$(field 'images/s' "$pline"); prss=$(field peak_rss_mib "$pline"); fi
    if [ -n "$gline" ] && [ -n "$pline" ]; then
        ratio=$(awk -v g="$gips" -v p="$pips" 'BEGIN { if (p > 0) printf "%.2f", g / p; else print "n/a" }')
    fi
    rows+=("$(printf '%-24s %12s %13s %15s %15s %16s' "resnet50 $mode b$batch" "$gips" "$pips" "$ratio" "$grss" "$prss")")
done

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-24s %12s %13s %15s %15s %16s\n' "shape" "geoloc img/s" "pytorch img/s" "geoloc/pytorch" "geoloc RSS MiB" "pytorch RSS MiB"
for r in "${rows[@]}"; do printf '%s\n' "$r"; done
