# Common pieces of the shell tests, sourced as . "$(dirname "$0")/lib.sh".
# Counters: passed, failed. A script ends with finish (exit 0 or 1) or
# skip_rest (exit 77 when nothing failed so far: ctest's skip code).
# shellcheck shell=bash disable=SC2034  # the variables set here are the callers'
set -u

passed=0
failed=0

# test_setup NAME "$@": sets geoloc, shared and data from the arguments
# GEOLOC SHARED_DATA TEST_DATA (exit 1 when the binary is missing) and tmp.
test_setup() {
    local name=$1
    shift
    geoloc=${1:?usage: $name.sh GEOLOC SHARED_DATA TEST_DATA}
    shared=${2:-}
    data=${3:-}
    [ -x "$geoloc" ] || { echo "FAIL: geoloc binary not found: $geoloc"; exit 1; }
    make_tmp "$name"
}

# make_tmp NAME: sets tmp to a new folder, removed when the script exits.
make_tmp() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/geoloc_$1.XXXXXX") || exit 1
    trap 'rm -rf "$tmp"' EXIT
}

# pass: counts a passed check.
pass() { passed=$((passed + 1)); }

# fail MESSAGE...: counts a failed check and prints "FAIL: MESSAGE" on stderr.
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}

# check NAME CODE: evals CODE (which may test $? of the command before the
# call); passes when it succeeds, else fails with NAME.
check() { if eval "$2"; then pass; else fail "$1"; fi; }

# run_geoloc ARGS...: runs geoloc ARGS; sets rc, out and err.
run_geoloc() {
    "$geoloc" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# expect_match RC PATTERN WHERE CASE: the last run exited with RC and PATTERN
# (grep -E) is in $out (WHERE out) or $err (WHERE err); CASE names the check.
expect_match() {
    local want_rc=$1 pattern=$2 where=$3 name=$4 text
    if [ "$where" = out ]; then text=$out; else text=$err; fi
    if [ "$rc" -ne "$want_rc" ]; then
        fail "$name: exit $rc, expected $want_rc (stderr: $err)"
    elif ! grep -qE -- "$pattern" <<<"$text"; then
        fail "$name: '$pattern' not in std$where: $text"
    else
        pass
    fi
}

# summary: prints the "N passed, M failed" line.
summary() { echo "$passed passed, $failed failed"; }

# finish: prints the summary; exits 0 when nothing failed, 1 otherwise.
finish() {
    summary
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}

# skip_rest MESSAGE: prints the summary and MESSAGE, then exits 77 (skipped)
# when nothing failed so far, 1 otherwise.
skip_rest() {
    summary
    echo "$1"
    [ "$failed" -eq 0 ] && exit 77
    exit 1
}

# browser_setup [FILE...]: for the headless-browser tests, sets build (the
# binary's folder), web (models/web) and pw (playwright-core), and skips the
# rest without /usr/bin/chromium, node, Leaflet, playwright-core, the files
# web/FILE given, or the ImageNet backbone.
browser_setup() {
    build=$(cd "$(dirname "$geoloc")" && pwd)
    web=$build/../models/web
    pw=$web/node_modules/playwright-core
    [ -x /usr/bin/chromium ] || skip_rest "SKIP: /usr/bin/chromium not found (tools/install-deps.sh installs it)"
    command -v node >/dev/null || skip_rest "SKIP: node not found (tools/install-deps.sh installs it)"
    local f
    for f in "$pw/package.json" "$web/leaflet.js" "${@/#/$web/}"; do
        [ -f "$f" ] || skip_rest "SKIP: $f missing: tools/fetch-web.sh fetches Leaflet, the outlines and playwright-core"
    done
    [ -f "$build/../models/resnet50-imagenet.safetensors" ] ||
        skip_rest "SKIP: the ImageNet backbone is missing: tools/fetch-backbone.sh fetches it"
}

# need_mpi: skips the rest unless mpirun exists and geoloc was built with MPI
# (its --version says so); allows mpirun as root and more ranks than cores.
need_mpi() {
    command -v mpirun >/dev/null || skip_rest "no mpirun (install openmpi-bin)"
    [[ $("$geoloc" --version) == *"(MPI)"* ]] || skip_rest "geoloc was built without MPI"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
}

# mpi_run NP COMMAND...: COMMAND on NP ranks under mpirun (more programs after
# ":" as mpirun takes them), 300 s at most; OpenMPI's own allocations are not
# leak-checked under AddressSanitizer.
mpi_run() {
    local np=$1
    shift
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 timeout 300 mpirun -np "$np" "$@"
}

# mpi NP ARGS...: geoloc ARGS on NP ranks; sets rc, out and err as run_geoloc.
mpi() {
    local np=$1
    shift
    mpi_run "$np" "$geoloc" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}
