#!/usr/bin/env bash
# Fetches the npm files of the map page served by `geoloc serve` into
# models/web/ (found at run time through the data directory, like the
# backbone):
#   leaflet.js, leaflet.css, LICENSE-leaflet      leaflet@1.9.4 (BSD-2-Clause)
#   countries.geojson, LICENSE-world-atlas        world-atlas@2.0.2 (ISC; the
#       outlines are Natural Earth's 1:110m countries, public domain), converted
#       once here from TopoJSON with topojson-client@3.1.0 (ISC)
#   node_modules/playwright-core                  playwright-core@1.65.2
#       (Apache-2.0), for the browser test only (tests/browser_serve.sh)
#
#   tools/fetch-web.sh
#
# Safe to run again: each package is downloaded only when its tarball is
# missing or does not match its SHA-256, unpacked through a temporary folder,
# and each output replaced by a rename.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
web=$repo/models/web
npmdir=$web/npm
leaflet=1.9.4 atlas=2.0.2 topojson=3.1.0 playwright=1.65.2
packages=(
  "leaflet $leaflet 84c65a256e50657896f54c33bd857b6849ebe94c817803be818bf32a3dde0b77"
  "world-atlas $atlas 032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97"
  "topojson-client $topojson 889fadb422f6236d0f8337a236ce6499f258b75e44b81733b13bd971067322bf"
  "playwright-core $playwright 7430e43aaff66666975cef27e2268c670d79ad35da50215e654d9cb7be53643e"
)
mkdir -p "$npmdir"
tmp=$(mktemp -d "$web/.unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

tool=fetch-web
# shellcheck source=tools/npm-pack.sh
. "$repo/tools/npm-pack.sh"

# install SRC DEST: copies SRC next to DEST and renames it into place
install_file() {
  cp "$1" "$2.tmp.$$"
  mv "$2.tmp.$$" "$2"
}

for p in "${packages[@]}"; do
  # shellcheck disable=SC2086
  fetch $p
done

unpack leaflet $leaflet
install_file "$tmp/leaflet/dist/leaflet.js" "$web/leaflet.js"
install_file "$tmp/leaflet/dist/leaflet.css" "$web/leaflet.css"
install_file "$tmp/leaflet/LICENSE" "$web/LICENSE-leaflet"

if [ ! -s "$web/countries.geojson" ]; then
  unpack world-atlas $atlas
  unpack topojson-client $topojson
  echo "fetch-web: converting world-atlas countries-110m.json to GeoJSON"
  node -e '
    const topojson = require(process.argv[1]);
    const topo = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
    const fc = topojson.feature(topo, topo.objects.countries);
    // 4 decimals (~10 m) are far finer than 1:110m outlines
    process.stdout.write(JSON.stringify(fc, (k, v) => typeof v === "number" ? Math.round(v * 1e4) / 1e4 : v));
  ' "$tmp/topojson-client/dist/topojson-client.js" "$tmp/world-atlas/countries-110m.json" \
    > "$tmp/countries.geojson"
  install_file "$tmp/countries.geojson" "$web/countries.geojson"
  install_file "$tmp/world-atlas/LICENSE" "$web/LICENSE-world-atlas"
  install_file "$tmp/world-atlas/README.md" "$web/README-world-atlas.md"  # names Natural Earth
fi

pw=$web/node_modules/playwright-core
if [ ! -f "$pw/.complete-$playwright" ]; then
  unpack playwright-core $playwright
  touch "$tmp/playwright-core/.complete-$playwright"
  mkdir -p "$web/node_modules"
  rm -rf "$pw"
  mv "$tmp/playwright-core" "$pw"
fi
echo "fetch-web: $web ready (leaflet.js, leaflet.css, countries.geojson, node_modules/playwright-core)"
