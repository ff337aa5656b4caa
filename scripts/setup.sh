#!/usr/bin/env bash
# Installs the Debian packages the project needs (only those missing),
# configures the Meson build in ./build and builds it.  Safe to run again.
# With --sanitize: configures the sanitizer build in ./build-sanitize instead
# (clang, AddressSanitizer + UndefinedBehaviorSanitizer, the libFuzzer
# targets; the LibTorch trainer, examples and benchmarks left out) and builds
# nothing: `scripts/test.sh --sanitize` builds only what its suites run
# (docs/sanitizers.md).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
options=()
if [[ "${1:-}" == --sanitize ]]; then
  build=build-sanitize
  # b_lundef=false: the plugin module leaves the sanitizer runtime's symbols
  # to the program that loads it (clang links the runtime into programs only).
  options=(-Db_sanitize=address,undefined -Db_lundef=false -Dfuzzers=enabled
           -Dlibtorch=disabled -Dexamples=disabled -Dbenchmarks=disabled)
  export CXX=clang++
fi

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

if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" "${options[@]}" >/dev/null
fi
if [[ $build == build-sanitize ]]; then
  exit 0
fi
# LibTorch translation units need ~1.5 GiB each: one job per core.
ninja -C build -j "$(nproc)"
