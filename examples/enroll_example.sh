#!/usr/bin/env bash
# siamese-enroll on the fixtures: a white test pattern is unknown, is enrolled
# from the stream at its 3rd frame, matches from then on, and the saved
# gallery matches it from the first frame at the next start.
# Usage: enroll_example.sh SIAMESE_ENROLL MODEL REFERENCES WORK_DIR
set -euo pipefail
app=$1 model=$2 refs=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
source="videotestsrc pattern=white num-buffers=8"

"$app" --model "$model" --gallery "$work/g.gallery" --reference "$refs" --enroll white:3 \
    "$source" < /dev/null > "$work/first.log"
cat "$work/first.log"
grep -q '^frame 1: unknown' "$work/first.log"
grep -q '^enroll-frame white: 5 labels, 10 templates' "$work/first.log"
grep -q '^frame 8: white (score 1.000)' "$work/first.log"
grep -q "^saved $work/g.gallery" "$work/first.log"

"$app" --model "$model" --gallery "$work/g.gallery" "$source" < /dev/null > "$work/second.log"
grep -q '^frame 1: white (score 1.000)' "$work/second.log"
echo "siamese-enroll: enrolled from the stream and restarted from the gallery"
