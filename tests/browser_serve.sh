#!/usr/bin/env bash
# The map page of `geoloc serve` in a real browser: starts the server on a
# free port (default model, ImageNet backbone), opens the page in headless
# Chromium through playwright-core (tests/browser/page.mjs), uploads
# share/geoloc/example.jpg through the file input and checks the answer in
# France, the shaded top cells on the Leaflet map, the top-k list and no
# console errors, on a desktop and a phone-sized screen, then an unreadable
# upload shown as an error; the server then stops on SIGTERM with status 0.
# Screenshots: BUILD/serve-page-desktop.png and BUILD/serve-page-phone.png
# (and the desktop one at $GEOLOC_README_SCREENSHOT when set, e.g.
# docs/serve-page.png).
# usage: browser_serve.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
# Skipped (exit 77) without /usr/bin/chromium, node, tools/fetch-web.sh's
# files or the backbone of tools/fetch-backbone.sh.
. "$(dirname "$0")/lib.sh"
test_setup browser_serve "$@"
repo=$(cd "$(dirname "$0")/.." && pwd)
browser_setup countries.geojson
if ! "$geoloc" serve --help >/dev/null 2>&1; then
  skip_rest "SKIP: this geoloc has no serve command"
fi

unset GEOLOC_MODEL GEOLOC_DATA_DIR
"$geoloc" serve --port 0 --ready-file "$tmp/ready" >"$tmp/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 600); do
  [ -s "$tmp/ready" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
port=$(tr -dc 0-9 <"$tmp/ready" 2>/dev/null)
if [ -z "$port" ]; then
  fail "geoloc serve did not start: $(cat "$tmp/serve.log")"
  finish
fi
pass

node "$repo/tests/browser/page.mjs" "$pw" "http://127.0.0.1:$port" "$repo/share/geoloc/example.jpg" \
  "$build" ${GEOLOC_README_SCREENSHOT:+"$GEOLOC_README_SCREENSHOT"} >"$tmp/page.log" 2>&1
rc=$?
cat "$tmp/page.log"
check "the page in Chromium (tests/browser/page.mjs)" '[ "$rc" -eq 0 ]'
for shot in desktop phone; do
  check "screenshot $build/serve-page-$shot.png" '[ -s "$build/serve-page-$shot.png" ]'
done

kill -TERM "$server"
wait "$server"
rc=$?
check "geoloc serve exits 0 on SIGTERM (status $rc; $(tail -n 3 "$tmp/serve.log"))" '[ "$rc" -eq 0 ]'
finish
