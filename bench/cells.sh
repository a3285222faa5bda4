#!/usr/bin/env bash
# bench/cells.sh: building the three partitions of an MP-16-sized photo set.
#
# usage: bench/cells.sh [BUILD_DIR]      (default ./build; nothing is built here)
#
# Target (from the issue): `geoloc cells build --tau-min 50 --tau-max
# 5000,2000,1000` on 4.7 million photos, CSV parsing included, in at most 3 s
# wall on the 2-core machine, peak memory under 1 GiB. For scale it also runs
# partition_ref (tools/s2ref/partition_ref.cpp: the reference algorithm on
# Google's libs2, built only when libs2 is found) for ONE partition
# (tau_max 1000) and prints the speed ratio
#   reference time for one partition / geoloc median time for all three.
#
# The data set: `geoloc cells sample` draws imgs_per_cell points uniformly
# inside every cell of the published fine partition (CELLS, default
# ../shared/data/geoestimation/cells_50_1000.csv), shuffled: ~4.66 million
# IMG_ID,LAT,LON rows, generated once into a temporary folder. The file is
# read once before timing so every run reads it from the page cache.
# Environment: CELLS=file, RUNS=n (geoloc runs, default 3), SEED=s.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-./build}
cells=${CELLS:-$root/../shared/data/geoestimation/cells_50_1000.csv}
runs=${RUNS:-3}
seed=${SEED:-1}

geoloc=$build/geoloc
[ -x "$geoloc" ] || { echo "bench/cells.sh: no geoloc binary in $build (build it first)" >&2; exit 1; }
ref=
for f in "$build/partition_ref" "$build/tools/partition_ref"; do
    if [ -x "$f" ]; then ref=$f; break; fi
done
[ -f "$cells" ] || { echo "bench/cells.sh: published partition not found: $cells" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

timer=/usr/bin/time
if [ ! -x "$timer" ]; then
    timer=
    echo "note: /usr/bin/time is missing (package 'time'): using bash's time, memory NOT measured"
fi

# measure OUT_PREFIX cmd...: writes wall seconds and peak RSS (KiB, or "-")
measure() {
    local prefix=$1
    shift
    if [ -n "$timer" ]; then
        "$timer" -f '%e %M' -o "$prefix.time" "$@" >"$prefix.out" 2>"$prefix.err"
        local rc=$?
        read -r wall rss <"$prefix.time"
    else
        local TIMEFORMAT=%R
        { time "$@" >"$prefix.out" 2>"$prefix.err"; } 2>"$prefix.time"
        local rc=$?
        wall=$(tail -n 1 "$prefix.time")
        rss=-
    fi
    if [ $rc -ne 0 ]; then
        echo "bench/cells.sh: failed: $*" >&2
        sed 's/^/  /' "$prefix.err" >&2
        exit 1
    fi
}

mib() {
    if [ "$1" = - ]; then echo n/a; else awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; fi
}

echo "generating the data set from $cells ..."
"$geoloc" cells sample --from "$cells" --seed "$seed" --out "$tmp/data.csv" >/dev/null 2>"$tmp/sample.err" ||
    { cat "$tmp/sample.err" >&2; exit 1; }
n=$(($(wc -l <"$tmp/data.csv") - 1))
size=$(du -m "$tmp/data.csv" | cut -f1)
cat "$tmp/data.csv" >/dev/null
echo "data: $n photos, $size MB CSV; machine: $(nproc) cores"
echo

walls=()
peak=0
for ((r = 1; r <= runs; r++)); do
    rm -rf "$tmp/out"
    measure "$tmp/geoloc$r" "$geoloc" cells build --tau-min 50 --tau-max 5000,2000,1000 \
        --out-dir "$tmp/out" "$tmp/data.csv"
    walls+=("$wall")
    if [ "$rss" != - ] && [ "$rss" -gt "$peak" ]; then peak=$rss; fi
    [ "$rss" = - ] && peak=-
done
sorted=$(printf '%s\n' "${walls[@]}" | sort -g)
best=$(echo "$sorted" | head -n 1)
median=$(echo "$sorted" | sed -n "$(((runs + 1) / 2))p")

printf '%-44s %8s %8s %10s\n' "command" "best s" "median s" "peak MiB"
printf '%-44s %8s %8s %10s\n' "geoloc cells build, 3 partitions ($runs runs)" "$best" "$median" "$(mib "$peak")"

if [ -n "$ref" ]; then
    measure "$tmp/ref" "$ref" --tau-min 50 --tau-max 1000 "$tmp/data.csv" "$tmp/ref_50_1000.csv"
    ref_wall=$wall
    printf '%-44s %8s %8s %10s\n' "partition_ref (libs2), 1 partition (1 run)" "$ref_wall" "-" "$(mib "$rss")"
    # same cells, counts and means for tau_max 1000? (class order differs by design)
    rows() { tail -n +4 "$1" | tr -d '\r' | cut -d, -f2- | sort; }
    if cmp -s <(rows "$tmp/out/cells_50_1000.csv") <(rows "$tmp/ref_50_1000.csv"); then
        same=yes
    else
        same="NO (see tests/cells_vs_reference.sh)"
    fi
else
    echo "partition_ref not built in $build (needs libs2): no reference time"
fi
echo
if [ -n "$ref" ]; then
    awk -v r="$ref_wall" -v g="$median" 'BEGIN { printf "speed ratio (reference 1 partition / geoloc 3 partitions, median): %.1fx\n", r / g }'
    echo "tau_max 1000 partition identical to the reference's: $same"
fi
awk -v m="$median" -v b="$best" 'BEGIN {
    printf "target wall <= 3 s: %s (median %.2f s, best %.2f s)\n", (m <= 3 ? "met" : "NOT met"), m, b }'
if [ "$peak" = - ]; then
    echo "target memory < 1 GiB: not measured"
else
    awk -v k="$peak" 'BEGIN {
        printf "target memory < 1 GiB: %s (peak %.0f MiB)\n", (k < 1048576 ? "met" : "NOT met"), k / 1024 }'
fi
