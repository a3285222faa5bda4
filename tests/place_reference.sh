#!/usr/bin/env bash
# geoloc place against an independent point-in-polygon (tools/place_ref.py:
# shapely/GEOS on the same Natural Earth 1:10m TopoJSON): of the points the
# reference puts inside a country, >= 99 % must get the same country, on
# the Im2GPS3k dev photos' coordinates, on 20,000 points uniform on the
# sphere and on every 5th GeoNames place (many near borders and coasts).
# Args: GEOLOC_BIN SHARED_DATA TEST_DATA. Skips (77) without the shared data,
# models/places.bin (tools/fetch-places.sh) or python3-shapely.
set -u
bin=$1 shared=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
manifest=$shared/im2gps3k-dev/im2gps3k_dev.csv
atlas=$repo/models/places/world-atlas-countries-10m.json
i18n=$repo/models/places/npm/i18n-iso-countries-7.14.0.tgz
for f in "$manifest" "$repo/models/places.bin" "$atlas" "$i18n"; do
  [ -s "$f" ] || { echo "skip: $f absent (shared data, or run tools/fetch-places.sh)"; exit 77; }
done
# Debian's python3 (python3-shapely), even when another python3 comes first in PATH
py=/usr/bin/python3
"$py" -c 'import shapely' 2>/dev/null || { echo "skip: python3-shapely absent (tools/install-deps.sh)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$py" - "$manifest" "$repo/models/places/cities.csv" "$tmp" <<'PY'
import csv, math, random, sys
manifest, cities, tmp = sys.argv[1:4]
def write(name, pts):
    with open(f"{tmp}/{name}.csv", "w") as f:
        f.write("lat,lon\n" + "".join(f"{a},{b}\n" for a, b in pts))
write("photos", [(r["LAT"], r["LON"]) for r in csv.DictReader(open(manifest))])
rng = random.Random(12)
write("random", [(f"{math.degrees(math.asin(2 * rng.random() - 1)):.6f}", f"{360 * rng.random() - 180:.6f}")
                 for _ in range(20000)])
write("geonames", [(r["lat"], r["lon"]) for i, r in enumerate(csv.DictReader(open(cities))) if i % 5 == 0])
PY
status=0
for set in photos random geonames; do
  "$py" "$repo/tools/place_ref.py" "$atlas" "$i18n" "$tmp/$set.csv" "$tmp/$set.ref.csv" || exit 1
  "$bin" place --min-population 0 <"$tmp/$set.csv" >"$tmp/$set.geoloc.csv" || exit 1
  "$py" - "$tmp/$set.ref.csv" "$tmp/$set.geoloc.csv" "$set" <<'PY' || status=1
import csv, sys
ref = list(csv.DictReader(open(sys.argv[1])))
got = list(csv.DictReader(open(sys.argv[2])))
assert len(ref) == len(got), (len(ref), len(got))
inside = agree = 0
bad = []
for r, g in zip(ref, got):
    assert float(r["lat"]) == float(g["lat"]) and float(r["lon"]) == float(g["lon"])
    if not r["key"]:
        continue
    inside += 1
    key = g["country_code"] or g["country"]
    if key == r["key"]:
        agree += 1
    elif len(bad) < 5:
        bad.append(f'{r["lat"]},{r["lon"]}: reference {r["key"]}, geoloc {key or "none"}')
share = 100.0 * agree / max(inside, 1)
print(f"{sys.argv[3]}: {agree} of {inside} points inside a country agree ({share:.2f} %), "
      f"{len(ref)} points in all" + "".join("\n  " + b for b in bad))
sys.exit(0 if inside and share >= 99.0 else 1)
PY
done
exit $status
