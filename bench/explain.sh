#!/usr/bin/env bash
# bench/explain.sh: time of `geoloc explain` (occlusion sensitivity) on the
# default model and the example photo, a 14x14 grid (the default: 32-pixel
# patches every 16 pixels of the 224-pixel crop, 197 network images).
#
# usage: bench/explain.sh [BUILD_DIR]      (default ./build; nothing is built here)
# Environment: BATCHES="8 16 32" (the --batch values timed), RUNS=1 (runs per
#   value; the best is kept), OMP_NUM_THREADS (default 2).
# Prints, per batch size, the explain time (network and drawing excluded from
# model loading) and the total, and the machine's load average (the time is
# only comparable on an idle machine).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-./build}
geoloc=$build/geoloc
photo=$root/share/geoloc/example.jpg
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
[ -x "$geoloc" ] || { echo "bench/explain.sh: $geoloc not built" >&2; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, OMP_NUM_THREADS=$OMP_NUM_THREADS"
printf "%-6s %-8s %-10s %-10s %s\n" batch images explain_s total_s images/s
for b in ${BATCHES:-8 16 32}; do
    best=
    for _ in $(seq "${RUNS:-1}"); do
        out=$("$geoloc" explain --batch "$b" --out "$tmp/x.png" "$photo") || exit 1
        line=$(grep "network images" <<<"$out")
        s=$(sed -E 's/.* ([0-9.]+) s \(.*/\1/' <<<"$line")
        if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a<b)}'; then
            best=$s
            images=${line%% *}
            total=$(sed -E 's/^total ([0-9.]+) s.*/\1/' <<<"$(grep '^total' <<<"$out")")
        fi
    done
    printf "%-6s %-8s %-10s %-10s %.1f\n" "$b" "$images" "$best" "$total" "$(awk -v n="$images" -v s="$best" 'BEGIN{print n/s}')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
