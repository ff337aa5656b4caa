# Sourced by the end-to-end scripts.  enrolled_frames MODEL DEMO WORK_DIR:
# the demo (siamese-fashion-demo) enrols Fashion-MNIST images into a
# reference folder, the kind a user makes from their photos ($refs), and
# every image of it is copied to WORK_DIR/frames/%05d.png to be streamed
# as video ($frames of them).
enrolled_frames() {
  local model=$1 demo=$2 work=$3 image
  mkdir -p "$work/frames"
  "$demo" --model "$model" --output "$work/demo" --frames 3 --shots 4 --quiet >/dev/null
  refs="$work/demo/references"
  frames=0
  for image in "$refs"/*/*.png; do
    cp "$image" "$work/frames/$(printf '%05d' $frames).png"
    frames=$((frames + 1))
  done
}
