#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs the whole test suite.
# Extra arguments go to `meson test`, e.g. `scripts/test.sh --suite element`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
status=0
meson test -C build --print-errorlogs --num-processes 2 "$@" || status=$?
# One closing line in the plain "N passed, N failed" form, counted from
# Meson's own log of this run.
python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
results = [json.loads(line)["result"] for line in open(sys.argv[1]) if line.strip()]
passed = sum(r in ("OK", "EXPECTEDFAIL") for r in results)
skipped = sum(r == "SKIP" for r in results)
print(f"tests: {passed} passed, {len(results) - passed - skipped} failed, {skipped} skipped")
PY
exit "$status"
