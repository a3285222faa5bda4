#!/usr/bin/env bash
# Tests of `geoloc photo info`.
# usage: cli_photo.sh GEOLOC_BINARY SHARED_DATA_DIR TEST_DATA_DIR
#
# - usage: --help, no files, unknown option;
# - unreadable input: a text file named .jpg, a missing file: exit 1 (none
#   read) and a message naming the file; with some files read, exit 3 and the
#   other files still reported;
# - shared data: text and JSON output for photos with GPS, orientation and
#   altitude (values as exiftool reads them), a WebP, --decode sizes, and
#   the damaged es-corrupted.jpg decoded by --decode with libjpeg's warning.
# The shared-data part is skipped (exit 77) when SHARED_DATA_DIR is absent,
# after everything else has run.
. "$(dirname "$0")/lib.sh"
test_setup cli_photo "$@"

# run ARGS...: runs geoloc photo; sets rc, out, err.
run() { run_geoloc photo "$@"; }

run --help
expect_match 0 "info" out "photo --help"
run info --help
expect_match 0 "usage: geoloc photo info" out "info --help"
run info
expect_match 2 "missing FILE" err "no files"
run info --bogus x.jpg
expect_match 2 "unknown option '--bogus'" err "unknown option"
run frobnicate
expect_match 2 "unknown command" err "unknown subcommand"

printf 'not a photo\n' >"$tmp/note.jpg"
run info "$tmp/note.jpg" "$tmp/missing.jpg"
expect_match 1 "note.jpg: not a JPEG, PNG, WebP or HEIF" err "text file named .jpg"
expect_match 1 "missing.jpg: cannot open" err "missing file"
run info --json "$tmp/note.jpg"
expect_match 1 "\"error\": \".*note.jpg: not a JPEG" out "JSON error member"
mkfifo "$tmp/fifo.jpg"
run info "$tmp/fifo.jpg" "$tmp"
expect_match 1 "fifo.jpg: not a regular file \\(a FIFO\\)" err "FIFO refused, not waited on"
expect_match 1 ": not a regular file \\(a directory\\)" err "folder refused"

if [ -z "$shared" ] || [ ! -d "$shared/exif-photos" ]; then
    skip_rest "SKIP (shared-data part): exif-photos not found under '$shared'"
fi
photos=$shared/exif-photos

run info "$photos/mx-apple-iphone-5.jpg"
expect_match 0 "JPEG 3264x2448, orientation 3" out "iPhone 5 size and orientation"
expect_match 0 "GPS 47.6271667, -122.3373333" out "iPhone 5 GPS"
run info --json "$photos/mx-leica-t-no-gps.jpg" "$photos/mx-apple-iphone-6-plus.jpg" \
    "$photos/mx-htc-desire.webp"
expect_match 0 "\"width\": 4928, \"height\": 3264, \"orientation\": 8, \"display_width\": 3264, \"display_height\": 4928, \"lat\": null" out "Leica JSON"
expect_match 0 "\"lat\": 51.482995, \"lng\": -3.18533666666666[0-9]*, \"altitude_m\": -166.309012875536[0-9]*" out "iPhone 6 Plus JSON"
expect_match 0 "\"format\": \"WebP\", \"width\": 776, \"height\": 909" out "WebP JSON"
expect_match 0 "\"gps_time\": \"2011-05-06T07:59:48Z\", \"datetime_original\": \"2011:05:06 09:59:48\"" out "WebP times"
run info --decode "$photos/mx-leica-t-no-gps.jpg" "$photos/es-corrupted.jpg"
expect_match 0 "displayed 3264x4928\\), decoded 3264x4928" out "Leica decoded rotated"
expect_match 0 "decoder warning: JPEG: Corrupt JPEG data: premature end of data segment" out "damaged JPEG"
run info --decode --json "$photos/es-corrupted.jpg"
expect_match 0 "\"warnings\": \\[\"JPEG: Corrupt JPEG data: premature end of data segment\"" out "damaged JPEG JSON"

finish
