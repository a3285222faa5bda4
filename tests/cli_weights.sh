#!/usr/bin/env bash
# geoloc weights: help, usage errors, clear failures; the real Keras ResNet-50
# import when $GEOLOC_KERAS_DIR or models/npm/package/ResNet50 holds it.
. "$(dirname "$0")/lib.sh"
test_setup cli_weights "$@"

run_geoloc weights --help
check "weights --help" '[ $rc -eq 0 ] && [[ $out == *import-keras* ]]'
run_geoloc weights
check "weights without command" '[ $rc -eq 2 ] && [[ $err == *usage* ]]'
run_geoloc weights frobnicate
check "unknown subcommand" '[ $rc -eq 2 ] && [[ $err == *"unknown command"* ]]'
run_geoloc weights import-keras --help
check "import-keras --help" '[ $rc -eq 0 ] && [[ $out == *stride_in_bottleneck* ]] && [[ $out == *--labels* ]]'
run_geoloc weights import-keras "$tmp"
check "one argument" '[ $rc -eq 2 ] && [[ $err == *"missing DIR OUT.safetensors"* ]]'
run_geoloc weights import-keras a b c
check "three arguments" '[ $rc -eq 2 ] && [[ $err == *"unexpected argument "?c?* ]]'
run_geoloc weights import-keras --bogus a b
check "unknown option" '[ $rc -eq 2 ] && [[ $err == *"unknown option "?--bogus?* ]]'
run_geoloc weights import-keras a b --labels
check "--labels without value" '[ $rc -eq 2 ] && [[ $err == *"needs a value"* ]]'
run_geoloc weights import-keras "$tmp/none" "$tmp/out.safetensors"
check "missing folder" '[ $rc -eq 1 ] && [[ $err == *"$tmp/none/model.json"* ]] && [ ! -e "$tmp/out.safetensors" ]'
mkdir -p "$tmp/m"
echo '{"modelTopology": {"class_name": "Model", "config": {"layers": [' > "$tmp/m/model.json"
run_geoloc weights import-keras "$tmp/m" "$tmp/out.safetensors"
check "truncated model.json" '[ $rc -eq 1 ] && [[ $err == *"model.json: not valid JSON"* ]] && [ ! -e "$tmp/out.safetensors" ]'

here=$(cd "$(dirname "$0")" && pwd)
keras=${GEOLOC_KERAS_DIR:-$here/../models/npm/package/ResNet50}
[ -f "$keras/model.json" ] || skip_rest "SKIP: the Keras ResNet-50 is not at $keras (tools/fetch-backbone.sh, or GEOLOC_KERAS_DIR)"
run_geoloc weights import-keras "$keras" "$tmp/r.safetensors"
check "real import" '[ $rc -eq 0 ] && [[ $out == *"320 tensors, 25636712 parameters from 25 shards"* ]] && [ -s "$tmp/r.safetensors" ]'
run_geoloc weights import-keras "$keras" "$tmp/r2.safetensors" --no-labels --source "test source"
check "real import, options" '[ $rc -eq 0 ] && [[ $out == *"source \"test source\""* ]] && [[ $out == *"no class names"* ]]'
check "same tensors" '[ "$(tail -c 102546848 "$tmp/r.safetensors" | md5sum)" = "$(tail -c 102546848 "$tmp/r2.safetensors" | md5sum)" ]'
finish
