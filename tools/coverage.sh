#!/usr/bin/env bash
# Line coverage of src/ after a ctest run of a build configured with
# -DGEOLOC_COVERAGE=ON (gcc --coverage): captures the counters with lcov
# (Debian lcov), counts every instrumented file of src/ (files no test ran
# count as 0 %), writes BUILD/coverage.info and the HTML report
# BUILD/coverage-html/index.html, and prints the total and one line per
# area (src/geo, src/io, ...).
# usage: tools/coverage.sh BUILD_DIR        (tools/coverage.sh --zero BUILD_DIR
#        clears the counters before a run)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --zero ]; then
    lcov --quiet --zerocounters --directory "${2:?usage: coverage.sh --zero BUILD_DIR}"
    exit 0
fi
build=$(cd "${1:?usage: coverage.sh BUILD_DIR}" && pwd)
info=$build/coverage.info
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --initial: zero counts for every instrumented line, so unrun code counts
lcov --quiet --capture --initial --directory "$build" --base-directory "$repo" \
     --output-file "$work/base.info" 2>"$work/lcov.err"
lcov --quiet --capture --directory "$build" --base-directory "$repo" \
     --output-file "$work/run.info" 2>>"$work/lcov.err"
lcov --quiet --add-tracefile "$work/base.info" --add-tracefile "$work/run.info" \
     --output-file "$work/all.info" 2>>"$work/lcov.err"
lcov --quiet --extract "$work/all.info" "$repo/src/*" --output-file "$info" 2>>"$work/lcov.err"
genhtml --quiet --output-directory "$build/coverage-html" "$info" >/dev/null 2>>"$work/lcov.err" ||
    echo "coverage: genhtml failed: $(tail -1 "$work/lcov.err")"

# per area: LF (lines found) and LH (lines hit) of each SF record
awk -v root="$repo/src/" '
    /^SF:/ { file = substr($0, 4); if (index(file, root) == 1) file = substr(file, length(root) + 1)
            split(file, p, "/"); area = p[1] }
    /^LF:/ { found[area] += substr($0, 4) }
    /^LH:/ { hit[area] += substr($0, 4) }
    END { for (a in found) print a, found[a], hit[a] }' "$info" | sort >"$work/areas"
awk '{ f += $2; h += $3 }
     END { printf "line coverage of src/: %.1f %% (%d of %d lines)\n", f ? 100 * h / f : 0, h, f }' \
    "$work/areas"
awk '{ printf "  src/%-8s %5.1f %%  (%d of %d lines)\n", $1, $2 ? 100 * $3 / $2 : 0, $3, $2 }' "$work/areas"
echo "  per file: $build/coverage-html/index.html"
