#!/usr/bin/env bash
# geoloc place: CSV rows in input order from stdin and arguments, the header,
# --min-population, bad lines named by number with exit 1 and nothing written
# to --out, a missing place file naming tools/fetch-places.sh, place build's
# errors. Args: GEOLOC_BIN SHARED_DATA TEST_DATA. Skips (77) without
# models/places.bin (tools/fetch-places.sh).
set -u
bin=$1
data=$(cd "$(dirname "$0")/.." && pwd)/models/places.bin
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# a missing place file: a clear message naming the setup command
GEOLOC_DATA_DIR=$tmp "$bin" place --data "$tmp/none.bin" 1,2 >"$tmp/o" 2>"$tmp/e"; rc=$?
check "missing file: exit 1" '[ $rc -eq 1 ]'
check "missing file: names tools/fetch-places.sh" 'grep -q "tools/fetch-places.sh" "$tmp/e"'
"$bin" place build --countries "$tmp/none.txt" --cities "$tmp/none.csv" --out "$tmp/x.bin" 2>"$tmp/e"; rc=$?
check "build: missing input fails" '[ $rc -eq 1 ] && grep -q none.txt "$tmp/e" && [ ! -e "$tmp/x.bin" ]'
"$bin" place --min-population -5 1,2 2>/dev/null; rc=$?
check "bad option value: usage error" '[ $rc -eq 2 ]'

if [ ! -s "$data" ]; then
  echo "skip: $data absent (run tools/fetch-places.sh)"
  [ $fail -eq 0 ] && exit 77 || exit 1
fi
G() { "$bin" place --data "$data" "$@"; }

printf 'lat,lon\n48.8566,2.3522\n0,0\n -29.5 , 28.2 \n38.7,-9.615\n' | G >"$tmp/o"; rc=$?
check "stdin: exit 0" '[ $rc -eq 0 ]'
check "header row" '[ "$(head -1 "$tmp/o")" = "lat,lon,country_code,country,region,city,city_population,city_km" ]'
check "one row per line, in order" '[ "$(tail -n +2 "$tmp/o" | cut -d, -f1-4 | tr "\n" " ")" = "48.8566,2.3522,FR,France 0.0,0.0,, -29.5,28.2,LS,Lesotho 38.7,-9.615,PT,Portugal " ]'
check "Paris names Paris" 'sed -n 2p "$tmp/o" | grep -q "^48.8566,2.3522,FR,France,,Paris,[0-9]*,0\.[0-9]$"'
G -- 48.8566,2.3522 -29.5,28.2 >"$tmp/a"
check "arguments give the same rows" '[ "$(cat "$tmp/a")" = "$(head -2 "$tmp/o"; sed -n 4p "$tmp/o")" ]'
G --min-population 3000000 48.80,2.13 | tail -1 >"$tmp/b"
check "--min-population: a larger place" 'cut -d, -f6 "$tmp/b" | grep -qv "^Paris$" && [ "$(cut -d, -f7 "$tmp/b")" -ge 3000000 ]'
G --min-population 0 48.80,2.13 | tail -1 | cut -d, -f6 >"$tmp/c"
check "--min-population 0: a nearer place" '[ "$(cat "$tmp/c")" != Paris ]'

for bad in '91,0' '0,181' 'nan,0' '1' '' '1,2,3' 'abc,2'; do
  printf '48.8566,2.3522\n%s\n1,1\n' "$bad" | G --out "$tmp/out.csv" 2>"$tmp/e"; rc=$?
  check "bad line '$bad': exit 1, line 2 named, --out not written" \
    '[ $rc -eq 1 ] && grep -q "<stdin>:2: " "$tmp/e" && [ ! -e "$tmp/out.csv" ]'
done
G -- 1,2 'inf,3' 2>"$tmp/e" >/dev/null; rc=$?
check "bad argument: named" '[ $rc -eq 1 ] && grep -q "argument:2: lat" "$tmp/e"'
printf '1,2\n3,4\n' | G --out "$tmp/out.csv"; rc=$?
check "--out: written whole" '[ $rc -eq 0 ] && [ "$(wc -l < "$tmp/out.csv")" -eq 3 ]'
G 1,2 > /dev/full 2>"$tmp/e"; rc=$?
check "/dev/full: exit 1" '[ $rc -eq 1 ]'
exit $fail
