#!/usr/bin/env bash
# cli_s2: 'geoloc s2 token' and 'geoloc s2 cell' against values computed by
# Google's s2geometry (libs2): tests/data/s2_vectors.csv (from
# tools/gen_s2_vectors) and the published cells of the shared data (every
# row of cells_50_5000.csv was checked with libs2 0.10: the mean point lies
# in the row's hex_id cell). Then error messages, exit codes, --skip-invalid.
# usage: cli_s2.sh GEOLOC SHARED_DATA TEST_DATA
. "$(dirname "$0")/lib.sh"
test_setup cli_s2 "$@"
vectors=$data/s2_vectors.csv

# run NAME STDIN_TEXT ARGS...: runs geoloc with that stdin; sets $out,
# $err and $rc.
run() {
    local name=$1 input=$2
    shift 2
    printf '%s' "$input" >"$tmp/in"
    run_geoloc "$@" <"$tmp/in"
}

# expect NAME RC STDOUT STDERR: compares the last run (exact strings).
expect() {
    local name=$1 want_rc=$2 want_out=$3 want_err=$4
    if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ] && [ "$err" = "$want_err" ]; then
        pass
    else
        fail "$name: exit $rc (want $want_rc)"
        printf '  stdout: %s\n  want:   %s\n  stderr: %s\n  want:   %s\n' "$out" "$want_out" "$err" "$want_err" >&2
    fi
}

if [ ! -x "$geoloc" ] || [ ! -r "$vectors" ]; then
    echo "cli_s2: need the geoloc binary and $vectors" >&2
    exit 1
fi

# ---- tokens of the reference points, at every level ----------------------
# the points the CLI accepts (in range); field 3 = leaf token, 4 = level,
# 5 = token at that level
grep -v '^#' "$vectors" | tail -n +2 |
    awk -F, '$1 >= -90 && $1 <= 90 && $2 >= -180 && $2 <= 180' >"$tmp/vec"
rows=$(wc -l <"$tmp/vec")
if [ "$rows" -lt 1000 ]; then fail "only $rows usable rows in $vectors"; fi
cut -d, -f1,2 "$tmp/vec" | "$geoloc" s2 token >"$tmp/leaf" 2>"$tmp/err"
rc=$?
cut -d, -f3 "$tmp/vec" >"$tmp/leaf_ref"
if [ $rc = 0 ] && cmp -s "$tmp/leaf" "$tmp/leaf_ref"; then pass; else
    fail "leaf tokens of $rows reference points differ (exit $rc)"
    diff "$tmp/leaf" "$tmp/leaf_ref" | head -5 >&2
fi
bad_levels=0
for level in $(seq 0 30); do
    awk -F, -v L="$level" '$4 == L' "$tmp/vec" >"$tmp/vl"
    [ -s "$tmp/vl" ] || continue
    cut -d, -f1,2 "$tmp/vl" | "$geoloc" s2 token --level "$level" >"$tmp/got" 2>"$tmp/err" || bad_levels=$((bad_levels + 1))
    cut -d, -f5 "$tmp/vl" | cmp -s - "$tmp/got" || {
        bad_levels=$((bad_levels + 1))
        echo "level $level:" >&2
        cut -d, -f5 "$tmp/vl" | diff - "$tmp/got" | head -5 >&2
    }
done
if [ $bad_levels = 0 ]; then pass; else fail "tokens differ at $bad_levels levels"; fi

# ---- cell geometry, exact, from the JSON output ---------------------------
# expected: "token,level,center_lat,...,v3_lng" (numbers written as the
# shortest decimal that reads back to the same double, as --json does)
awk -F, '$6 != "" { print $5 "," $4 "," $6 "," $7 "," $8 "," $9 "," $10 "," $11 "," $12 "," $13 "," $14 "," $15 }' \
    "$tmp/vec" | sort -u -t, -k1,1 >"$tmp/geo_ref"
n_geo=$(wc -l <"$tmp/geo_ref")
# shellcheck disable=SC2046
"$geoloc" s2 cell --json $(cut -d, -f1 "$tmp/geo_ref") >"$tmp/json" 2>"$tmp/err"
rc=$?
# one object a line: drop the keys and punctuation, keep token, level, face, numbers
grep '"token"' "$tmp/json" | sed -E 's/"[a-z]+": //g; s/[][{}" ]//g; s/,$//' |
    awk -F, -v OFS=, '{ $3 = ""; sub(/,,/, ","); print }' >"$tmp/geo_got"
# numbers compared as doubles (awk reads them with strtod), tokens and levels as text
same_geometry() {
    [ "$(wc -l <"$tmp/geo_got")" = "$n_geo" ] &&
        paste -d, "$tmp/geo_got" "$tmp/geo_ref" | awk -F, '{
            n = NF / 2
            for (i = 1; i <= n; i++)
                if (i <= 2 ? $i != $(i + n) : $i + 0 != $(i + n) + 0) bad++
        } END { exit bad > 0 }'
}
if [ $rc = 0 ] && [ "$n_geo" -gt 500 ] && same_geometry; then pass; else
    fail "geometry of $n_geo reference cells differs (exit $rc)"
    diff "$tmp/geo_got" "$tmp/geo_ref" | head -6 >&2
fi
if command -v python3 >/dev/null; then
    if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d) == int(sys.argv[2])' \
        "$tmp/json" "$n_geo"; then pass; else fail "--json output is not a JSON array of $n_geo cells"; fi
fi

# human-readable output of one reference cell: %.15g of the same values
line=$(grep -m1 '^[0-9a-f]*,1[0-9],' "$tmp/geo_ref")
IFS=, read -r tok lvl clat clng v0a v0b v1a v1b v2a v2b v3a v3b <<<"$line"
want=$(awk -v t="$tok" -v l="$lvl" -v f="$(printf '%d' "0x${tok:0:1}")" \
    -v v="$clat,$clng,$v0a,$v0b,$v1a,$v1b,$v2a,$v2b,$v3a,$v3b" 'BEGIN {
    split(v, x, ",")
    printf "token:    %s\nlevel:    %d\nface:     %d\ncenter:   %.15g, %.15g\n", t, l, int(f / 2), x[1], x[2]
    for (k = 0; k < 4; k++) printf "vertex %d: %.15g, %.15g\n", k, x[3 + 2 * k], x[4 + 2 * k]
}')
run "cell text" "" s2 cell "$tok"
expect "cell $tok (text)" 0 "$want" ""
run "cell upper case" "" s2 cell "$(tr a-f A-F <<<"$tok")"
expect "cell $tok in upper case" 0 "$want" ""
run "two cells" "" s2 cell "$tok" "$tok"
expect "two cells" 0 "$want"$'\n\n'"$want" ""

# ---- published cells of the shared data -----------------------------------
cells=$shared/geoestimation/cells_50_5000.csv
if [ -r "$cells" ]; then
    # hex_id is a token; its level: 30 - (trailing zero bits) / 2
    tr -d '\r' <"$cells" | awk -F, 'NR > 3 && NF == 5 {
        t = $2; n = length(t); d = index("0123456789abcdef", substr(t, n, 1)) - 1
        tz = 4 * (16 - n); while (d % 2 == 0) { d /= 2; tz++ }
        print 30 - tz / 2 "," $4 "," $5 "," t
    }' >"$tmp/cells"
    n_cells=$(wc -l <"$tmp/cells")
    bad=0
    # shellcheck disable=SC2013
    for level in $(cut -d, -f1 "$tmp/cells" | sort -un); do
        awk -F, -v L="$level" '$1 == L' "$tmp/cells" >"$tmp/cl"
        cut -d, -f2,3 "$tmp/cl" | "$geoloc" s2 token --level "$level" >"$tmp/got" || bad=$((bad + 1))
        cut -d, -f4 "$tmp/cl" | cmp -s - "$tmp/got" || bad=$((bad + 1))
    done
    if [ "$n_cells" -gt 3000 ] && [ $bad = 0 ]; then pass; else
        fail "published cells: $bad levels differ ($n_cells cells)"
    fi
else
    echo "cli_s2: $cells not found; skipping the published-cells check" >&2
fi

# ---- input forms -----------------------------------------------------------
p='40.7128,-74.0060'
run "plain" "$p"$'\n' s2 token --level 10
tok10=$out
if [[ $tok10 =~ ^[0-9a-f]{1,16}$ ]] && [ $rc = 0 ]; then pass; else fail "plain point: '$out' exit $rc"; fi
run "header, spaces, CRLF, blank lines, no final newline" \
    $'lat,lng\r\n  40.7128 ,\t-74.0060 \r\n\n   \n40.7128,-74.0060' s2 token --level 10
expect "header, spaces, CRLF, blank lines" 0 "$tok10"$'\n'"$tok10" ""
run "byte order mark + header" $'\xef\xbb\xbflatitude,longitude\n40.7128,-74.0060\n' s2 token --level=10
expect "byte order mark + header" 0 "$tok10" ""
run "default level 30" '90,0'$'\n' s2 token
expect "north pole leaf" 0 "5000000000000001" ""
run "bounds" $'-90,-180\n90,180\n-0,-0\n0,0\n' s2 token --level 0
expect "bounds are accepted" 0 $'b\n5\n1\n1' ""
run "no input" "" s2 token
expect "no input" 0 "" ""
run "header only" $'lat,lng\n' s2 token
expect "header only" 0 "" ""

# ---- bad lines: message, exit 1, nothing after ----------------------------
bad_line() { # NAME LINE MESSAGE: LINE comes second, after a good point
    run "$1" "$p"$'\n'"$2"$'\n'"$p"$'\n' s2 token --level 10
    expect "$1" 1 "$tok10" "geoloc s2 token: <stdin>:2: $3"
}
bad_line "not a number" 'abc,1' "lat: 'abc' is not a number"
bad_line "trailing junk" '1,2x' "lng: '2x' is not a number"
bad_line "NaN" 'nan,0' "lat: 'nan' is not a finite number"
bad_line "inf" '0,-inf' "lng: '-inf' is not a finite number"
bad_line "overflow" '1e999,0' "lat: 1e999 is outside [-90, 90]"
bad_line "hex" '0x10,5' "lat: '0x10' is not a number"
bad_line "lat > 90" '90.0000001,0' "lat: 90.0000001 is outside [-90, 90]"
bad_line "lat < -90" '-91,0' "lat: -91 is outside [-90, 90]"
bad_line "lng > 180" '0,180.5' "lng: 180.5 is outside [-180, 180]"
bad_line "lng < -180" '0, -540 ' "lng: -540 is outside [-180, 180]"
bad_line "one field" '45.5' "expected 2 fields (lat,lng), found 1"
bad_line "three fields" '1,2,3' "expected 2 fields (lat,lng), found 3"
bad_line "empty lat" ',5' "lat: missing value"
bad_line "empty lng" '5, ' "lng: missing value"
bad_line "header not first" 'lat,lng' "lat: 'lat' is not a number"
run "bad first line" $'abc,1\n' s2 token
expect "half a header on line 1" 1 "" "geoloc s2 token: <stdin>:1: lat: 'abc' is not a number"
run "line numbers count blank lines" $'\n\n1,2\n\nx,y\n' s2 token --level 3
expect "line numbers count blank lines" 1 "$("$geoloc" s2 token --level 3 <<<'1,2')" \
    "geoloc s2 token: <stdin>:5: lat: 'x' is not a number"

# ---- --skip-invalid --------------------------------------------------------
run "skip invalid" "lat,lng"$'\n'"$p"$'\nnan,1\n'"$p"$'\n1,2,3\n\n91,0\n'"$p"$'\n' s2 token --level 10 --skip-invalid
expect "--skip-invalid" 0 "$tok10"$'\n'"$tok10"$'\n'"$tok10" \
    "geoloc s2 token: skipped 3 invalid rows (first: <stdin>:3: lat: 'nan' is not a finite number)"
run "skip none" "$p"$'\n' s2 token --skip-invalid --level 10
expect "--skip-invalid, nothing to skip" 0 "$tok10" "geoloc s2 token: skipped 0 invalid rows"

# ---- usage -----------------------------------------------------------------
for args in "s2 --help" "s2 -h" "s2 token --help" "s2 cell --help" "s2 cell -h"; do
    # shellcheck disable=SC2086
    run "help" "" $args
    if [ $rc = 0 ] && [[ $out == usage:* ]] && [ -z "$err" ]; then pass; else fail "geoloc $args: exit $rc"; fi
done
usage_error() { # NAME ERR_FIRST_LINE ARGS...
    local name=$1 want=$2
    shift 2
    run "$name" "$p"$'\n' "$@"
    if [ $rc = 2 ] && [ -z "$out" ] && [ "$(head -n1 <<<"$err")" = "$want" ]; then pass; else
        fail "$name: exit $rc, stdout '$out', stderr '$(head -n1 <<<"$err")' (want '$want')"
    fi
}
usage_error "no subcommand" "usage: geoloc s2 <command> [options]" s2
usage_error "unknown subcommand" "geoloc s2: unknown command 'tokens'" s2 tokens
usage_error "level 31" "geoloc s2 token: --level must be an integer from 0 to 30, not '31'" s2 token --level 31
usage_error "level -1" "geoloc s2 token: --level must be an integer from 0 to 30, not '-1'" s2 token --level -1
usage_error "level x" "geoloc s2 token: --level must be an integer from 0 to 30, not '1x'" s2 token --level=1x
usage_error "level missing" "geoloc s2 token: --level needs a value (an integer from 0 to 30)" s2 token --level
usage_error "unknown option" "geoloc s2 token: unknown option '--levels'" s2 token --levels 3
usage_error "stray argument" "geoloc s2 token: unexpected argument 'b.csv'" s2 token a.csv b.csv
usage_error "cell without token" "geoloc s2 cell: missing TOKEN..." s2 cell --json
usage_error "cell option" "geoloc s2 cell: unknown option '--xml'" s2 cell --xml 89c

# ---- bad tokens: named, exit 1, no output ----------------------------------
bad_token() { # TOKEN MESSAGE
    run "bad token" "" s2 cell 89c259 "$1"
    expect "token '$1'" 1 "" "geoloc s2 cell: $2"
}
bad_token zz "'zz' is not an S2 token (1 to 16 hex digits)"
bad_token X "'X' is not an S2 token (1 to 16 hex digits)"
bad_token 89c259c000000000c "'89c259c000000000c' is not an S2 token (1 to 16 hex digits)"
bad_token ' 89c' "' 89c' is not an S2 token (1 to 16 hex digits)"
bad_token '' "'' is not an S2 token (1 to 16 hex digits)"
bad_token d "'d' is not a valid S2 cell (no face 0-5 and level 0-30 fit its bits)"
bad_token 0 "'0' is not a valid S2 cell (no face 0-5 and level 0-30 fit its bits)"
bad_token 89c2 "'89c2' is not a valid S2 cell (no face 0-5 and level 0-30 fit its bits)"

finish
