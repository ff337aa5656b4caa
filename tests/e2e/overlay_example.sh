#!/bin/sh
# examples/overlay-faces.sh on the first 30 frames of OpenCV's sample video:
# it writes a playable AVI of (at least) 30 frames, and the faces in it were matched
# (siamesematch's messages name a face region and a label; the drawing itself
# is tested in tests/check/test_element_overlay.cpp), and it saves a picture.
# Usage: overlay_example.sh EXAMPLE WORK_DIR
set -eu
example=$1 work=$2
"$example" "$work" 30
test "$(grep -c 'siamesematch, .*matched=(boolean)true, label=(string)face-' "$work/matches.log")" -ge 10
grep -q 'roi-type=(string)face' "$work/matches.log"
test -s "$work/frame.png"
frames=$(gst-launch-1.0 -v filesrc location="$work/annotated.avi" ! avidemux ! jpegdec ! \
  fakesink silent=false 2>&1 | grep -c 'chain')
echo "annotated.avi: $frames frames"
test "$frames" -ge 30
