#!/usr/bin/env bash
# The main job's never-enrolled frames: every one is counted in its group and
# --max-false-accept bounds the worst group; and the stream of runs that
# measures confirm-frames.  DEMO WORK_DIR.
#  - threshold 0 on the raw cosine alone (normalise=off, no background rule:
#    the bundled model's calibrated rules would stop most frames): nearly
#    everything scores above it, so the never-enrolled groups are accepted and
#    the bound must fail the run (exit status 3);
#  - threshold 0.999: nothing but a copy of an enrolled image reaches it, so
#    no never-enrolled frame is accepted and the run passes the bound 0.
set -euo pipefail
demo=$1 work=$2
mkdir -p "$work"
run() { "$demo" --frames 30 --never-enrolled 60 --quiet --output "$work/out" "$@"; }
raw_cosine=(--property normalise=off --property background-margin=-2)

status=0
run --threshold 0 "${raw_cosine[@]}" --max-false-accept 0.5 >"$work/open.txt" 2>&1 || status=$?
if [ "$status" != 3 ]; then
  echo "threshold 0: expected exit status 3 (bound not met), got $status"; cat "$work/open.txt"; exit 1
fi
grep -q "false-accept rate .* is above --max-false-accept 0.500" "$work/open.txt" ||
  { echo "threshold 0: no message naming the bound"; cat "$work/open.txt"; exit 1; }

run --threshold 0.999 "${raw_cosine[@]}" --max-false-accept 0 --min-accuracy 0 >"$work/strict.txt"
# 30 generated frames (10 each of digits, noise, flat grey) and 30 seen-class items.
for group in "digits +10 +0 " "noise +10 +0 " "flat grey +10 +0 " "seen classes +30 +0 " "all +60 +0 "; do
  grep -Eq "^  $group" "$work/strict.txt" ||
    { echo "threshold 0.999: no line \"$group\""; cat "$work/strict.txt"; exit 1; }
done
# Runs of 4 jittered frames per item from the validation split, confirmed
# over 3 frames: an item's first two frames keep the label declared for the
# item before it (right only when that was the same label), so the confirmed
# right-label rate falls below the frames' own and the right label comes
# after a delay.
run --split validation --run-length 4 --property confirm-frames=3 >"$work/runs.txt"
python3 - "$work/runs.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
own = re.search(r"own decision, before confirm-frames: right label ([0-9.]+)", text)
declared = re.search(r"correct, \d+ unknown: accuracy ([0-9.]+)", text)
delay = re.search(r"Enrolled items: 30, right label declared .* after ([0-9.]+) frames", text)
assert own and declared and delay, text
assert float(declared.group(1)) < float(own.group(1)), text
assert float(delay.group(1)) > 0.5, text
assert re.search(r"^  all +240 ", text, re.M), text  # 60 items x 4 frames
PY
# --background: generated images of another seed enrolled as _background,
# never declared (the per-frame lines name no such match).
"$demo" --frames 10 --never-enrolled 30 --background 12 --output "$work/bg" >"$work/bg.txt"
test "$(ls "$work/bg/references/_background" | wc -l)" = 12 ||
  { echo "--background 12: not 12 images in _background"; ls -R "$work/bg/references"; exit 1; }
if grep -q "match _background" "$work/bg.txt"; then
  echo "--background: _background was declared"; cat "$work/bg.txt"; exit 1
fi
echo "ok"
