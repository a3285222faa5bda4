#!/usr/bin/env bash
# predict's GeoJSON in a real browser: `geoloc predict --format geojson` on
# share/geoloc/example.jpg and on a copy of it (two photos in one
# FeatureCollection), then tests/browser/geojson.mjs loads it with Leaflet in
# headless Chromium (playwright-core): L.geoJSON(...).getLayers().length
# equals the features count, every polygon drawn, no console errors.
# Screenshot: BUILD/geojson-page.png.
# usage: browser_geojson.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
# Skipped (exit 77) without /usr/bin/chromium, node, tools/fetch-web.sh's
# files or the backbone of tools/fetch-backbone.sh.
. "$(dirname "$0")/lib.sh"
test_setup browser_geojson "$@"
repo=$(cd "$(dirname "$0")/.." && pwd)
browser_setup

unset GEOLOC_MODEL GEOLOC_DATA_DIR
cp "$repo/share/geoloc/example.jpg" "$tmp/copy.jpg"
run_geoloc predict --format geojson "$repo/share/geoloc/example.jpg" "$tmp/copy.jpg"
expect_match 0 '"FeatureCollection"' out "predict --format geojson"
cp "$tmp/out" "$tmp/answer.geojson"
node "$repo/tests/browser/geojson.mjs" "$pw" "$web" "$tmp/answer.geojson" "$build/geojson-page.png" >"$tmp/page.log" 2>&1
rc=$?
cat "$tmp/page.log"
check "the GeoJSON in Leaflet in Chromium (tests/browser/geojson.mjs)" '[ "$rc" -eq 0 ]'
finish
