#!/usr/bin/env bash
# The mutation check: builds the library with one deliberate bug at a time
# (a GEOLOC_MUTANT_X switch in the sources) and requires that the tests meant
# to guard against that bug FAIL. Exits non-zero, naming the mutant, when one
# survives (all its tests pass or skip), when its switch is in no source, or
# when its build fails.
#
#     tools/mutants.sh [MUTANT...]        (default: every mutant of the table)
#
# One cached build folder ($GEOLOC_MUTANT_DIR, default build-mutants): CMake's
# GEOLOC_MUTANT=X defines GEOLOC_MUTANT_X only in the sources that mention it
# (CMakeLists.txt), so after the first run switching mutants recompiles those
# few files and relinks the listed tests; only the listed tests are built.
#
# mutant        define                      the bug                                  tests that must catch it
# NO_UPDATE     GEOLOC_MUTANT_NO_UPDATE     src/nn/sgd.c: geoloc_sgd_step changes    test_trajectory test_learn
#                                           no weight
# CUT_GRADIENT  GEOLOC_MUTANT_CUT_GRADIENT  the engine's backward drops one          test_trajectory test_nn_reference
#                                           gradient path                            test_nn_gradcheck
# NO_ANCESTORS  GEOLOC_MUTANT_NO_ANCESTORS  the answer module: hierarchical scores   test_model
#                                           ignore the ancestor partitions
# ONE_CROP      GEOLOC_MUTANT_ONE_CROP      the answer module: crop averaging        test_model
#                                           uses one crop
set -uo pipefail
cd "$(dirname "$0")/.."

declare -A catchers=(
  [NO_UPDATE]="test_trajectory test_learn"
  [CUT_GRADIENT]="test_trajectory test_nn_reference test_nn_gradcheck"
  [NO_ANCESTORS]="test_model"
  [ONE_CROP]="test_model"
)
order=(NO_UPDATE CUT_GRADIENT NO_ANCESTORS ONE_CROP)
dir=${GEOLOC_MUTANT_DIR:-build-mutants}
case "$(basename "$dir")" in
  build | build-asan | build-fuzz) echo "mutants.sh: $dir is a normal build folder; use its own" >&2; exit 2 ;;
esac
jobs=$(nproc)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
mutants=("$@")
[ ${#mutants[@]} -gt 0 ] || mutants=("${order[@]}")

failed=()
start=$SECONDS
for m in "${mutants[@]}"; do
  tests=${catchers[$m]:-}
  if [ -z "$tests" ]; then
    echo "mutants.sh: unknown mutant $m (known: ${order[*]})" >&2
    exit 2
  fi
  t0=$SECONDS
  if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DGEOLOC_S2_REFERENCE=OFF -DGEOLOC_MUTANT="$m" \
       >"$log" 2>&1; then
    echo "mutant $m: configuration failed (is GEOLOC_MUTANT_$m in the sources?):"
    grep -A2 "CMake Error" "$log" | head -5
    failed+=("$m (no switch)")
    continue
  fi
  # shellcheck disable=SC2086 # one target per word
  if ! cmake --build "$dir" -j"$jobs" --target $tests >"$log" 2>&1; then
    echo "mutant $m: build failed:"
    grep -E "error|Error" "$log" | head -5
    failed+=("$m (build failed)")
    continue
  fi
  regex="^($(echo "$tests" | tr ' ' '|'))\$"
  known=$(ctest --test-dir "$dir" -N -R "$regex" | sed -n 's/^Total Tests: //p')
  if [ "${known:-0}" -ne "$(echo "$tests" | wc -w)" ]; then
    echo "mutant $m: only ${known:-0} of the tests $tests exist"
    failed+=("$m (tests missing)")
    continue
  fi
  # passive OpenMP waits: spinning threads slow the engine tests tenfold on a loaded machine
  OMP_WAIT_POLICY=passive ctest --test-dir "$dir" -R "$regex" --stop-on-failure >"$log" 2>&1
  bad=$(sed -n 's/.* tests passed, \([0-9]*\) tests failed out of .*/\1/p' "$log")
  if [ "${bad:-0}" -gt 0 ]; then
    caught=$(grep -E 'Test +#[0-9]+: .*\*\*\*(Failed|Exception|Timeout)' "$log" | awk '{print $4}' | paste -sd' ')
    echo "mutant $m: caught by $caught ($((SECONDS - t0)) s)"
  else
    echo "mutant $m: SURVIVED: $tests all passed or skipped ($((SECONDS - t0)) s)"
    grep -E "Test +#" "$log" | sed 's/^/  /'
    failed+=("$m (survived)")
  fi
done
echo "mutants.sh: ${#mutants[@]} mutants, $((${#mutants[@]} - ${#failed[@]})) caught, $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "mutants.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
