#!/usr/bin/env bash
# Look-ups per second of `geoloc place` on one core (geoloc_place_lookup:
# country and nearest place of >= 15,000 inhabitants): 20 runs alternating
# points uniform on the sphere (fixed seed) and the Im2GPS3k dev photos'
# coordinates, best and median of each. Needs models/places.bin
# (tools/fetch-places.sh) and the shared data.
#   bench/place.sh [BUILD_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
geoloc=${1:-$repo/build}/geoloc
manifest=$repo/../shared/data/im2gps3k-dev/im2gps3k_dev.csv
for i in $(seq 10); do
  taskset -c 0 "$geoloc" place bench --n 300000 --meta "$manifest"
done | sort -k1,1 -k7,7n | awk '{ v[$1, ++n[$1]] = $7 }
  END { for (k in n) printf "%-8s best %d look-ups/s, median %d look-ups/s (%d runs of 300000)\n",
                            k, v[k, n[k]], v[k, int((n[k] + 1) / 2)], n[k] }'
