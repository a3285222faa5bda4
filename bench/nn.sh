#!/usr/bin/env bash
# bench/nn.sh: the CNN engine against ONNX Runtime and PyTorch, ResNet-50 on the CPU.
#
# usage: bench/nn.sh [BUILD_DIR]      (default ./build; geoloc is not built here)
#
# Peers, each run in its own process with the same --iters, --warmup, --size
# and THREADS threads (OMP_NUM_THREADS, and intra-op threads for ONNX Runtime):
#   geoloc       BUILD_DIR/geoloc bench nn (float32)
#   geoloc-int8  BUILD_DIR/geoloc bench nn --precision int8 (infer shapes only;
#                "geoloc-int8 not available" and n/a while geoloc refuses it)
#   onnxruntime  bench/nn_ort.js: onnxruntime-node (CPU EP) on a float32 ResNet-50
#                exported by bench/onnx_export.py (infer shapes only: n/a for train)
#   pytorch      bench/nn_torch.py: PyTorch + torchvision through /usr/bin/python3,
#                channels_last, tcmalloc preloaded when installed
# The peers alternate: ROUNDS rounds, each runs every shape once on every peer,
# the order of the peers rotated by one each round, so a slow spell of the
# machine hits all of them. Every result line is printed; at the end, per shape
# and peer, the median images/s over the rounds with its min-max and the
# largest peak RSS, then per shape the median (min-max) of the per-round ratios
# geoloc/onnxruntime, geoloc/pytorch, geoloc-int8/geoloc, geoloc-int8/onnxruntime.
#
# Shapes:  infer32  resnet50 infer batch 32, 1000 classes
#          infer1   resnet50 infer batch 1,  1000 classes
#          train32  resnet50 train batch 32, 13000 classes (SGD momentum step)
# Environment:
#   ROUNDS=4  THREADS=2  SIZE=224
#   INFER32_WARMUP=2 INFER32_ITERS=5  INFER1_WARMUP=3 INFER1_ITERS=20
#   TRAIN_WARMUP=1 TRAIN_ITERS=3
#   SHAPES="infer32 infer1 train32"                    (a subset to run)
#   IMPL="geoloc geoloc-int8 onnxruntime pytorch"      (a subset of the peers)
#   GEOLOC_ISA=AVX2   ONEDNN_MAX_CPU_ISA for the geoloc runs only (figures for an
#                     AVX2-only machine on a wider one); the other peers are not limited
#   ORT_DIR=BUILD_DIR/bench-ort   where onnxruntime-node is installed (npm, on the
#                     first run, without its install script) and resnet50.onnx exported
#   PYTHON=/usr/bin/python3   TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
# A peer that cannot run (no binary, no node/npm, no torch) says why and shows n/a.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-./build}
geoloc=$build/geoloc
python=${PYTHON:-/usr/bin/python3}
tcmalloc=${TCMALLOC:-/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4}
size=${SIZE:-224}
rounds=${ROUNDS:-4}
threads=${THREADS:-2}
shapes=${SHAPES:-infer32 infer1 train32}
impl=${IMPL:-geoloc geoloc-int8 onnxruntime pytorch}
geoloc_isa=${GEOLOC_ISA:-}
ort_dir=${ORT_DIR:-$build/bench-ort}
ort_version=1.30.0
ort_model=$ort_dir/resnet50.onnx

want() { case " $impl " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for p in $impl; do
    case $p in geoloc|geoloc-int8|onnxruntime|pytorch) ;;
        *) echo "bench/nn.sh: unknown peer $p in IMPL (geoloc, geoloc-int8, onnxruntime, pytorch)" >&2; exit 2 ;; esac
done
case $rounds in ''|*[!0-9]*|0) echo "bench/nn.sh: ROUNDS must be a whole number >= 1, not '$rounds'" >&2; exit 2 ;; esac
for s in $shapes; do
    case $s in infer32|infer1|train32) ;; *) echo "bench/nn.sh: unknown shape $s in SHAPES (infer32, infer1, train32)" >&2; exit 2 ;; esac
done
[ -n "${impl// /}" ] && [ -n "${shapes// /}" ] || { echo "bench/nn.sh: IMPL and SHAPES must name at least one peer and shape" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# field KEY LINE: the value of KEY=... in a result line
field() { printf '%s\n' "$2" | awk -v k="$1=" '{ for (i = 1; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }'; }
# first_line FILE...: the first non-empty line of the files (why a run failed)
first_line() { cat "$@" 2>/dev/null | grep -m 1 .; }

isa=avx2; grep -qw avx512f /proc/cpuinfo && isa=avx512
grep -qw avx2 /proc/cpuinfo || isa="no avx2"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), widest vector ISA exposed: $isa"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rounds: $rounds, threads per peer: $threads, peers: $impl"

geoloc_ok=0; int8_ok=0
if want geoloc || want geoloc-int8; then
    if [ ! -x "$geoloc" ]; then
        echo "no geoloc binary in $build: geoloc bench nn not available"
    else
        geoloc_ok=1; int8_ok=1
        # oneDNN ignores an ISA name it does not know, so ask it which one it runs
        probe=$(env ONEDNN_VERBOSE=1 OMP_NUM_THREADS="$threads" ${geoloc_isa:+ONEDNN_MAX_CPU_ISA=$geoloc_isa} \
                "$geoloc" bench nn --batch 1 --iters 1 --warmup 0 --size 64 2>&1 | sed -n 's/^onednn_verbose,info,cpu,isa://p' | head -n 1)
        echo "geoloc: $geoloc, OMP_NUM_THREADS=$threads, ISA: ${geoloc_isa:+ONEDNN_MAX_CPU_ISA=$geoloc_isa (GEOLOC_ISA) -> }oneDNN runs ${probe:-?}"
    fi
fi

ort_ok=0
if want onnxruntime; then
    why=
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        why="no node/npm (Debian packages nodejs npm)"
    elif [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
        echo "installing onnxruntime-node@$ort_version into $ort_dir (npm, no install script; once)"
        mkdir -p "$ort_dir" && timeout 600 npm install --ignore-scripts --no-save --no-audit --no-fund \
            --prefix "$ort_dir" "onnxruntime-node@$ort_version" >"$tmp/npm.log" 2>&1 ||
            { why="npm install failed: $(grep -m 1 -i 'err' "$tmp/npm.log")"; rm -rf "$ort_dir/node_modules"; }
    fi
    if [ -z "$why" ]; then
        ortv=$(cd "$ort_dir" && node -e 'console.log(require("onnxruntime-node").env.versions.node)' 2>"$tmp/err") ||
            why="cannot load onnxruntime-node from $ort_dir: $(first_line "$tmp/err")"
    fi
    if [ -z "$why" ] && [ ! -f "$ort_model" ]; then
        echo "exporting ResNet-50 to $ort_model (bench/onnx_export.py; once)"
        "$python" "$root/bench/onnx_export.py" "$ort_dir" --arch resnet50 --classes 1000 >/dev/null 2>"$tmp/err" ||
            why="bench/onnx_export.py failed: $(tail -n 1 "$tmp/err")"
    fi
    if [ -n "$why" ]; then
        echo "onnxruntime not available: $why"
    else
        ort_ok=1
        echo "onnxruntime: onnxruntime-node $ortv, CPU EP, intra-op threads $threads, inter-op 1, graph optimisation all," \
             "sequential; model $ort_model; ISA: MLAS picks its kernels by CPUID and has no knob to limit them," \
             "so it runs the widest the machine exposes ($isa) whatever GEOLOC_ISA says; inference only (train: n/a)"
    fi
fi

preload=; torch_ok=0
if want pytorch; then
    if ! "$python" -c 'import torch, torchvision' 2>/dev/null; then
        echo "pytorch not available: $python has no torch/torchvision (apt-get install python3-torchvision)"
    else
        torch_ok=1
        if [ -f "$tcmalloc" ]; then preload=$tcmalloc
        else echo "note: $tcmalloc not found (Debian package libgoogle-perftools4): PyTorch runs with glibc malloc"; fi
        echo "pytorch: $("$python" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'), OMP_NUM_THREADS=$threads, LD_PRELOAD=${preload:-none}, ISA not limited"
    fi
fi

# run PEER ROUND: one run of PEER on the current shape; prints its result line
# and adds "shape peer round images/s rss" to $tmp/res
run() {
    local peer=$1 round=$2 rc line why
    local args=(--arch resnet50 --batch "$batch" --mode "$mode" --classes "$classes" --iters "$iters" --warmup "$warm" --size "$size")
    case $peer in
        geoloc)      [ "$geoloc_ok" = 1 ] || return 0
                     env OMP_NUM_THREADS="$threads" ${geoloc_isa:+ONEDNN_MAX_CPU_ISA=$geoloc_isa} \
                         "$geoloc" bench nn "${args[@]}" ;;
        geoloc-int8) [ "$int8_ok" = 1 ] && [ "$mode" = infer ] || return 0
                     env OMP_NUM_THREADS="$threads" ${geoloc_isa:+ONEDNN_MAX_CPU_ISA=$geoloc_isa} \
                         "$geoloc" bench nn "${args[@]}" --precision int8 ;;
        onnxruntime) [ "$ort_ok" = 1 ] && [ "$mode" = infer ] || return 0
                     OMP_NUM_THREADS=$threads ORT_DIR=$ort_dir node "$root/bench/nn_ort.js" \
                         --model "$ort_model" --threads "$threads" "${args[@]}" ;;
        pytorch)     [ "$torch_ok" = 1 ] || return 0
                     OMP_NUM_THREADS=$threads LD_PRELOAD=$preload "$python" "$root/bench/nn_torch.py" \
                         --threads "$threads" "${args[@]}" ;;
    esac >"$tmp/out" 2>"$tmp/err"
    rc=$?
    line=$(grep -m 1 '^bench nn: ' "$tmp/out")
    if [ -n "$line" ] && [ $rc = 0 ]; then
        echo "$line"
        echo "$shape $peer $round $(field 'images/s' "$line") $(field peak_rss_mib "$line")" >>"$tmp/res"
        return 0
    fi
    why=$(first_line "$tmp/err" "$tmp/out")
    case $peer in
        geoloc) echo "geoloc bench nn not available (exit $rc${why:+: $why})"
                # an unknown subcommand (usage without "bench nn") fails for every shape
                if [ $rc = 2 ] && ! grep -q 'bench nn' "$tmp/out" "$tmp/err"; then geoloc_ok=0; fi ;;
        geoloc-int8) if [ $rc = 2 ]; then echo "geoloc-int8 not available (exit 2${why:+: $why})"; int8_ok=0
                     else echo "geoloc-int8 run failed (exit $rc${why:+: $why})"; fi ;;
        *) echo "$peer run failed (exit $rc):"; tail -n 5 "$tmp/err" ;;
    esac
}

peers=()
for p in geoloc geoloc-int8 onnxruntime pytorch; do want "$p" && peers+=("$p"); done
: >"$tmp/res"
for ((r = 1; r <= rounds; r++)); do
    order=("${peers[@]:$(((r - 1) % ${#peers[@]}))}" "${peers[@]:0:$(((r - 1) % ${#peers[@]}))}")
    for shape in $shapes; do
        case $shape in
            infer32) mode=infer; batch=32; classes=1000
                     warm=${INFER32_WARMUP:-2}; iters=${INFER32_ITERS:-5} ;;
            infer1)  mode=infer; batch=1; classes=1000
                     warm=${INFER1_WARMUP:-3}; iters=${INFER1_ITERS:-20} ;;
            train32) mode=train; batch=32; classes=13000
                     warm=${TRAIN_WARMUP:-1}; iters=${TRAIN_ITERS:-3} ;;
        esac
        echo
        echo "== round $r/$rounds: $shape (resnet50 $mode batch $batch, $classes classes, ${size}x$size," \
             "$warm warm-up + $iters timed iterations), order: ${order[*]}"
        for p in "${order[@]}"; do run "$p" "$r"; done
    done
done

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# the summary tables, from the lines "shape peer round images/s rss" of $tmp/res
awk -v shapes="$shapes" -v peers="${peers[*]}" -v rounds="$rounds" '
function median(v, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function row(s, name, v, n, fmt) {
    if (n == 0) { printf "%-8s %-24s %6d %10s %17s", s, name, 0, "n/a", "n/a"; return }
    m = median(v, n)
    printf "%-8s %-24s %6d %10" fmt " %17s", s, name, n, m, sprintf("%" fmt "-%" fmt, v[1], v[n])
}
{ ips[$1, $2, $3] = $4; if ($5 + 0 > rss[$1, $2]) rss[$1, $2] = $5 + 0 }
END {
    ns = split(shapes, S, " "); np = split(peers, P, " ")
    split("geoloc/onnxruntime geoloc/pytorch geoloc-int8/geoloc geoloc-int8/onnxruntime", Q, " ")
    print "images/s per peer over the rounds: median, min-max; largest peak RSS"
    printf "%-8s %-24s %6s %10s %17s %8s\n", "shape", "peer", "runs", "images/s", "min-max", "RSS_MiB"
    for (i = 1; i <= ns; i++) for (j = 1; j <= np; j++) {
        n = 0; delete v
        for (r = 1; r <= rounds; r++) if ((S[i], P[j], r) in ips) v[++n] = ips[S[i], P[j], r]
        row(S[i], P[j], v, n, ".1f"); printf " %8s\n", n ? rss[S[i], P[j]] : "n/a"
    }
    print ""
    print "ratios of images/s: median of the per-round ratios, min-max"
    printf "%-8s %-24s %6s %10s %17s\n", "shape", "ratio", "rounds", "median", "min-max"
    for (i = 1; i <= ns; i++) for (q = 1; q <= 4; q++) {
        split(Q[q], ab, "/")
        if (index(" " peers " ", " " ab[1] " ") == 0 || index(" " peers " ", " " ab[2] " ") == 0) continue
        n = 0; delete v
        for (r = 1; r <= rounds; r++)
            if ((S[i], ab[1], r) in ips && (S[i], ab[2], r) in ips && ips[S[i], ab[2], r] > 0)
                v[++n] = ips[S[i], ab[1], r] / ips[S[i], ab[2], r]
        row(S[i], Q[q], v, n, ".2f"); printf "\n"
    }
}' "$tmp/res"
