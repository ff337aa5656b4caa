#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs the whole test suite.
# Extra arguments go to `meson test`, e.g. `scripts/test.sh --suite element`.
# `scripts/test.sh --sanitize` runs the sanitizer build instead (./build-sanitize:
# clang with AddressSanitizer and UndefinedBehaviorSanitizer): the unit,
# element and LibTorch-free trainer suites, and the fuzz targets over their
# seeds plus a bounded number of mutations (docs/sanitizers.md).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
log=testlog.json
suites=()
if [[ "${1:-}" == --sanitize ]]; then
  shift
  build=build-sanitize
  scripts/setup.sh --sanitize
  # The test setup "sanitize" (tests/meson.build) sets the sanitizers'
  # options, the leak suppressions and GST_REGISTRY_FORK=no.
  suites=(--setup sanitize --suite unit --suite element --suite trainer --suite fuzz)
  log=testlog-sanitize.json
else
  scripts/setup.sh
fi
status=0
meson test -C "$build" --print-errorlogs --num-processes 2 "${suites[@]}" "$@" || status=$?
# One closing line in the plain "N passed, N failed" form, counted from
# Meson's own log of this run.
python3 - "$build/meson-logs/$log" <<'PY'
import json, sys
results = [json.loads(line)["result"] for line in open(sys.argv[1]) if line.strip()]
passed = sum(r in ("OK", "EXPECTEDFAIL") for r in results)
skipped = sum(r == "SKIP" for r in results)
print(f"tests: {passed} passed, {len(results) - passed - skipped} failed, {skipped} skipped")
PY
exit "$status"
