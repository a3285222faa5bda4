#!/usr/bin/env bash
# cmake --install into a temporary prefix: the files are where the README
# says; the installed geoloc runs from there and finds the default model in
# PREFIX/share/geoloc; a C program compiled with only the installed headers
# and `pkg-config --static geoloc` links libgeoloc.a and runs.
# usage: install.sh BUILD_DIR CMAKE CC SOURCE_DIR [CFLAGS]
# (CFLAGS: the instrumentation the build has, e.g. -fsanitize=address,undefined)
. "$(dirname "$0")/lib.sh"
build=${1:?usage: install.sh BUILD_DIR CMAKE CC SOURCE_DIR}
cmake=${2:?}
cc=${3:?}
src=$(cd "${4:?}" && pwd)
read -r -a build_flags <<<"${5:-}"
make_tmp install
prefix=$tmp/prefix

"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1
rc=$?
check "cmake --install failed: $(tail -3 "$tmp/install.log")" '[ $rc -eq 0 ]'
for f in bin/geoloc lib/libgeoloc.a lib/pkgconfig/geoloc.pc share/geoloc/example.jpg \
         share/geoloc/geoloc-default.safetensors share/geoloc/scenes/S365.txt \
         share/geoloc/scenes/hierarchy.csv share/geoloc/scenes/README.md; do
    check "$f not installed" '[ -s "$prefix/$f" ]'
done
check "bin/geoloc not executable" '[ -x "$prefix/bin/geoloc" ]'
for h in "$src"/include/geoloc/*.h; do
    check "include/geoloc/${h##*/} not installed" 'cmp -s "$h" "$prefix/include/geoloc/${h##*/}"'
done
check "the internal archive was installed" '[ ! -e "$prefix/lib/libgeoloc_internal.a" ]'

# a program on the installed library, built the way a user would
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs --static geoloc 2>"$tmp/pc.err")
check "pkg-config geoloc: $(cat "$tmp/pc.err")" '[ -n "$flags" ]'
libdir=$(pkg-config --variable=libdir geoloc)
check "pkg-config's libdir $libdir is not $prefix/lib" '[ "$(cd "$libdir" && pwd -P)" = "$(cd "$prefix/lib" && pwd -P)" ]'
# shellcheck disable=SC2086  # the flags are words
"$cc" -std=c17 -Wall -Wextra -Werror "${build_flags[@]}" -o "$tmp/use" "$src/tests/install_use.c" \
    $flags 2>"$tmp/cc.err"
rc=$?
check "compiling and linking with the installed geoloc: $(head -5 "$tmp/cc.err")" '[ $rc -eq 0 ]'
if [ -x "$tmp/use" ]; then
    out=$(cd "$tmp" && ./use "$tmp/places.csv")
    rc=$?
    check "program run: $out" '[ $rc -eq 0 ]'
    # the token of the README's example, and the same token from the installed CLI
    cli_token=$(echo "48.8584,2.2945" | "$prefix/bin/geoloc" s2 token --level 13 | tr -dc '0-9a-f\n' | tail -1)
    check "S2 token: '$out' vs the CLI's $cli_token" '[[ $out == *"token $cli_token"* ]] && [ ${#cli_token} -ge 6 ]'
    km=$(sed -n 's/^paris-london \([0-9.]*\) km$/\1/p' <<<"$out")
    check "Paris-London haversine $km km, expected 343.5-343.6 (R = 6371 km)" \
          'awk -v k="$km" "BEGIN { exit !(k > 343.5 && k < 343.6) }"'
    check "CSV written and read back: $out" '[[ $out == *"rows 2, last Paris, France"* ]]'
    check "the program's own csv_open/array_grow: $out" '[[ $out == *"own helpers 3 42"* ]]'
    check "no temporary or lock file left: $(ls -A "$tmp")" \
          '[ -z "$(ls -A "$tmp" | grep -E "tmp\\.|\\.lock")" ]'
fi

# the installed command, run from elsewhere: the default model from
# PREFIX/share/geoloc, the ImageNet backbone from GEOLOC_DATA_DIR
run_geoloc() {
    (cd "$tmp" && "$prefix/bin/geoloc" "$@") >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}
run_geoloc --version
expect_match 0 "[0-9]+\.[0-9]+" out "installed geoloc --version"
unset GEOLOC_MODEL
if [ ! -e "$src/models/resnet50-imagenet.safetensors" ]; then
    skip_rest "models/resnet50-imagenet.safetensors absent (tools/fetch-backbone.sh): prediction skipped"
fi
export GEOLOC_DATA_DIR=$src/models
run_geoloc predict "$prefix/share/geoloc/example.jpg"
expect_match 0 "example.jpg: .*cell .*EXIF GPS: 48.857833, 2.297000" out "installed geoloc predict on the example"
km=$(sed -n 's/.*, \([0-9.]*\) km from the prediction.*/\1/p' <<<"$out")
check "the example is placed in Paris ($km km off)" 'awk -v k="$km" "BEGIN { exit !(k != \"\" && k < 50) }"'
finish
