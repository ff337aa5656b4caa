#!/usr/bin/env bash
# Installs the Debian packages the project needs (only those missing),
# configures the Meson build in ./build and builds it.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

wanted=$(grep -v '^#' scripts/packages.txt)
if [[ "${SIAMESE_BENCH_PEERS:-0}" == 1 ]]; then
  wanted+=$'\npython3-torch\npython3-opencv\npython3-numpy'
fi
missing=()
for package in $wanted; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [[ ! -f build/build.ninja ]]; then
  meson setup build >/dev/null
fi
# LibTorch translation units need ~1.5 GiB each: one job per core.
ninja -C build -j "$(nproc)"
