#!/usr/bin/env bash
# Runs the gst-launch-1.0 examples of examples/README.md that need no camera,
# with the bundled model: a video file, and a folder of images as a stream.
# Usage: examples.sh MODEL DEMO WORK_DIR
#   DEMO (siamese-fashion-demo) writes the reference folder of enrolled
#   Fashion-MNIST images, the kind of folder a user makes from their photos.
set -euo pipefail
model=$1 demo=$2 work=$3
rm -rf "$work"
source "$(dirname "$0")/enrolled_frames.sh"

# A folder of the user's own images, streamed as video: every image of the
# reference folder, one per frame.
enrolled_frames "$model" "$demo" "$work"
i=$frames
gst-launch-1.0 -m multifilesrc location="$work/frames/%05d.png" index=0 stop-index=$((i - 1)) \
    caps=image/png,framerate=5/1 ! pngdec ! \
    siamesematch model="$model" reference="$refs" ! fakesink > "$work/images.log"
# An enrolled image matches its own label with similarity 1.
matched=$(grep -c 'siamesematch, .*matched=(boolean)true' "$work/images.log")
echo "images: $matched of $i frames matched"
test "$matched" -eq "$i"

# A video file: encode the frames as Motion-JPEG in AVI, then decode it in front
# of the element (decodebin picks the decoder, no videoconvert needed).
gst-launch-1.0 -q multifilesrc location="$work/frames/%05d.png" index=0 stop-index=$((i - 1)) \
    caps=image/png,framerate=5/1 ! pngdec ! videoconvert ! jpegenc ! avimux ! \
    filesink location="$work/clip.avi"
gst-launch-1.0 -m filesrc location="$work/clip.avi" ! decodebin ! \
    siamesematch model="$model" reference="$refs" messages=on-match ! fakesink > "$work/video.log"
matched=$(grep -c 'siamesematch, .*matched=(boolean)true' "$work/video.log")
echo "video: $matched of $i frames matched after JPEG compression"
test "$matched" -ge $((i * 2 / 3))
