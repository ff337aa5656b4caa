#!/usr/bin/env bash
# Faces in OpenCV's sample video, boxed and labelled: facedetect
# (gstreamer1.0-opencv) finds the faces, siamesematch matches each face
# against a reference folder (regions=regions roi-types=face: frames without
# a face get no result), siameseoverlay draws each result's box, label and
# score, and the annotated video is written as Motion-JPEG in AVI, which any
# player opens.  The reference folder is made from the video itself: the two
# faces facedetect finds in its second frame, cropped, one label each
# (face-left, face-right).
#
# Usage (from the top of the repository, after building):
#   meson devenv -C build -w . examples/overlay-faces.sh [OUTPUT_DIR] [FRAMES]
# OUTPUT_DIR defaults to build/overlay-example; FRAMES (default: all 270)
# limits the frames processed.  Writes OUTPUT_DIR/annotated.avi,
# OUTPUT_DIR/references/ and OUTPUT_DIR/frame.png (one annotated frame).
#
# The bundled model was trained on Fashion-MNIST clothes, not on faces: it
# tells these two faces apart, but a face recogniser needs a model trained on
# faces (siamese-train on a folder of face crops, one sub-folder per person).
set -euo pipefail
video=${VIDEO:-/usr/share/doc/opencv-doc/examples/data/Megamind.avi}
model=${MODEL:-$(cd "$(dirname "$0")/.." && pwd)/models/fashion-triplet.onnx}
out=${1:-build/overlay-example}
frames=${2:--1}
for file in "$video" "$model"; do
  [ -r "$file" ] || { echo "overlay-faces: cannot read $file" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/references"

# The faces facedetect reports for the second frame, as "x y width height" lines.
gst-launch-1.0 -m filesrc location="$video" ! decodebin ! videoconvert ! \
  identity eos-after=2 ! facedetect display=false ! fakesink > "$out/faces.log"
faces=$(grep 'facedetect, timestamp' "$out/faces.log" | sed -n 2p |
  grep -o 'x\\=\\(uint\\)[0-9]*\\,\\ y\\=\\(uint\\)[0-9]*\\,\\ width\\=\\(uint\\)[0-9]*\\,\\ height\\=\\(uint\\)[0-9]*' |
  sed 's/[^0-9]\+/ /g; s/^ //')
[ "$(echo "$faces" | grep -c .)" -ge 2 ] || { echo "overlay-faces: facedetect found fewer than two faces" >&2; exit 1; }

# Crop each face, where facedetect found it, from the first frames:
# references/<label>/face<N>.png, a few images per label.
size=$(gst-launch-1.0 -v filesrc location="$video" ! decodebin ! identity eos-after=1 ! fakesink |
  grep -o 'width=(int)[0-9]*, height=(int)[0-9]*' | head -1 | sed 's/[^0-9]\+/ /g; s/^ //')
read -r frame_width frame_height <<< "$size"
labels=(face-left face-right)
i=0
while read -r x y w h; do
  label=${labels[$i]}
  mkdir -p "$out/references/$label"
  gst-launch-1.0 -q filesrc location="$video" ! decodebin ! videoconvert ! identity eos-after=2 ! \
    videocrop left="$x" top="$y" right=$((frame_width - x - w)) bottom=$((frame_height - y - h)) ! \
    pngenc ! multifilesink location="$out/references/$label/face%d.png"
  i=$((i + 1))
done < <(echo "$faces" | sort -n | head -2)

# The annotated video.
gst-launch-1.0 -m filesrc location="$video" ! decodebin ! videoconvert ! \
  identity eos-after="$frames" ! facedetect display=false ! \
  siamesematch model="$model" reference="$out/references" regions=regions roi-types=face \
    messages=on-match ! \
  siameseoverlay line-width=3 ! videoconvert ! jpegenc ! avimux ! \
  filesink location="$out/annotated.avi" > "$out/matches.log"
echo "overlay-faces: $(grep -c 'siamesematch, ' "$out/matches.log") faces matched; wrote $out/annotated.avi"

# One annotated frame as a picture: about the 40th (or the last of a shorter run).
mkdir "$out/frames"
gst-launch-1.0 -q filesrc location="$out/annotated.avi" ! avidemux ! jpegdec ! videoconvert ! \
  identity eos-after=40 ! videoscale ! video/x-raw,width=480,height=352 ! pngenc ! \
  multifilesink location="$out/frames/%03d.png"
mv "$(ls "$out"/frames/*.png | tail -1)" "$out/frame.png"
rm -r "$out/frames"
echo "overlay-faces: wrote $out/frame.png"
