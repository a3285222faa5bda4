#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh BUILD_DIR [SECONDS].
# Each target starts from its seed corpus (fuzz/seeds/<target>, plus the
# shared data files when present) and fails the run on any crash.
set -euo pipefail
build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS]}
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
shared="$here/../../shared/data"
status=0
for target in fuzz_csv fuzz_s2_token fuzz_points fuzz_partition \
              fuzz_decode_jpeg fuzz_decode_png fuzz_decode_webp fuzz_decode_heif \
              fuzz_shard_index fuzz_manifest fuzz_safetensors fuzz_keras_model \
              fuzz_model fuzz_multipart fuzz_locate fuzz_place fuzz_index fuzz_msgpack fuzz_album_lstm \
              fuzz_torch_ckpt fuzz_scene_names; do
  bin="$build/fuzz/$target"
  [ -x "$bin" ] || { echo "missing $bin (build target fuzz_targets)"; exit 1; }
  corpus=$(mktemp -d)
  [ -d "$here/seeds/$target" ] && cp "$here/seeds/$target"/* "$corpus"/ 2>/dev/null || true
  max_len=4096
  case $target in fuzz_decode_*|fuzz_keras_model|fuzz_locate|fuzz_album_lstm) max_len=16384;; fuzz_model) max_len=32768;; fuzz_place) max_len=65536;; esac
  # the real Keras ResNet-50 model.json (tools/fetch-backbone.sh) when present
  keras_json="$here/../models/npm/package/ResNet50/model.json"
  if [ "$target" = fuzz_keras_model ] && [ -f "$keras_json" ]; then
    head -c 16000 "$keras_json" > "$corpus/keras_model_head.json"
  fi
  if [ -d "$shared" ]; then
    case $target in
      fuzz_csv|fuzz_points|fuzz_partition|fuzz_manifest)
        head -c 4000 "$shared/geoestimation/cells_50_5000.csv" > "$corpus/cells_head.csv"
        head -c 4000 "$shared/im2gps3k-dev/im2gps3k_dev.csv" > "$corpus/im2gps3k_head.csv"
        head -c 4000 "$shared/geoestimation/results-im2gps/base_M-m.csv" > "$corpus/results_head.csv";;
      fuzz_decode_jpeg)
        # the real photos' first 16 KB (markers, EXIF, FLIR, start of the scan)
        for f in "$shared"/exif-photos/*.jpg; do
          head -c 16384 "$f" > "$corpus/head-$(basename "$f")"
        done;;
      fuzz_decode_webp)
        head -c 16384 "$shared/exif-photos/mx-htc-desire.webp" > "$corpus/head-mx-htc-desire.webp";;
    esac
  fi
  echo "-- $target: ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=0 "$corpus" > "$corpus.log" 2>&1; then
    tail -n 40 "$corpus.log"
    echo "FAILED: $target (crash input saved in the current folder)"
    status=1
  else
    grep -E "^#[0-9]+.*DONE" "$corpus.log" | tail -n 1 || tail -n 1 "$corpus.log"
  fi
  rm -rf "$corpus" "$corpus.log"
done
exit $status
