#!/usr/bin/env bash
# Smoke test of `geoloc bench loader`: usage errors, then (shared data only)
# a short run over Im2GPS3k photos and one over the EXIF photos, all 30 of
# them delivered (the damaged es-corrupted.jpg decodes with libjpeg's warning,
# as djpeg renders it).
# usage: cli_bench_loader.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
. "$(dirname "$0")/lib.sh"
test_setup cli_bench_loader "$@"

"$geoloc" bench loader >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "missing DIR" "$tmp/err" && pass || fail "no DIR: exit 2 with a message"
"$geoloc" bench loader "$tmp" --mode sideways >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--mode" "$tmp/err" && pass || fail "bad --mode: exit 2"
"$geoloc" bench loader "$tmp" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "no photos" "$tmp/err" && pass || fail "empty folder: exit 1, 'no photos'"
"$geoloc" bench loader --help | grep -q "photos/s" && pass || fail "--help"

if [ -z "$shared" ] || [ ! -d "$shared/im2gps3k-dev/images" ]; then
    skip_rest "SKIP: shared data not found at ${shared:-(none)}"
fi

if "$geoloc" bench loader "$shared/im2gps3k-dev/images" --limit 40 --epochs 2 --threads 2 \
    >"$tmp/out" 2>"$tmp/err"; then
    grep -q "^epoch 2: 40 photos (0 skipped)" "$tmp/out" && pass || fail "im2gps3k run: $(cat "$tmp/out")"
else
    fail "im2gps3k run failed: $(cat "$tmp/err")"
fi
for mode in train eval five three; do
    if "$geoloc" bench loader "$shared/exif-photos" --epochs 1 --threads 2 --mode "$mode" \
        >"$tmp/out" 2>"$tmp/err"; then
        grep -q "^epoch 1: 30 photos (0 skipped)" "$tmp/out" && pass || fail "exif photos ($mode): $(cat "$tmp/out")"
    else
        fail "exif photos run ($mode) failed: $(cat "$tmp/err")"
    fi
done

finish
