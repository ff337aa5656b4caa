#!/usr/bin/env bash
# The main job's never-enrolled frames: every one is counted in its group and
# --max-false-accept bounds the worst group.  DEMO WORK_DIR.
#  - threshold 0: nearly everything scores above it, so the never-enrolled
#    groups are accepted and the bound must fail the run (exit status 3);
#  - threshold 0.999: nothing but a copy of an enrolled image reaches it, so
#    no never-enrolled frame is accepted and the run passes the bound 0.
set -euo pipefail
demo=$1 work=$2
mkdir -p "$work"
run() { "$demo" --frames 30 --never-enrolled 60 --quiet --output "$work/out" "$@"; }

status=0
run --threshold 0 --max-false-accept 0.5 >"$work/open.txt" 2>&1 || status=$?
if [ "$status" != 3 ]; then
  echo "threshold 0: expected exit status 3 (bound not met), got $status"; cat "$work/open.txt"; exit 1
fi
grep -q "false-accept rate .* is above --max-false-accept 0.500" "$work/open.txt" ||
  { echo "threshold 0: no message naming the bound"; cat "$work/open.txt"; exit 1; }

run --threshold 0.999 --max-false-accept 0 --min-accuracy 0 >"$work/strict.txt"
# 30 generated frames (10 each of digits, noise, flat grey) and 30 seen-class items.
for group in "digits +10 +0 " "noise +10 +0 " "flat grey +10 +0 " "seen classes +30 +0 " "all +60 +0 "; do
  grep -Eq "^  $group" "$work/strict.txt" ||
    { echo "threshold 0.999: no line \"$group\""; cat "$work/strict.txt"; exit 1; }
done
echo "ok"
