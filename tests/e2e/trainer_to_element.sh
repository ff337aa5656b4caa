#!/usr/bin/env bash
# The trainer -> ONNX -> element contract, end to end: train a tiny model on a
# Fashion-MNIST subset with siamese-train, export it, and run it in
# siamesematch through the demo pipeline with no preprocessing property set:
# everything the element needs must come from the model's metadata.
# Usage: trainer_to_element.sh SIAMESE_TRAIN FASHION_DEMO WORK_DIR
set -euo pipefail
train=$1 demo=$2 work=$3
rm -rf "$work" && mkdir -p "$work"

"$train" train --data /usr/share/datasets/fashion-mnist --holdout-classes 2,5,8 \
  --max-per-class 300 --channels 8,16,32 --embedding-dim 32 --epochs 2 \
  --mode triplet --mining semi-hard --classes-per-batch 7 --images-per-class 8 \
  --threads 2 --seed 3 --output "$work/tiny.onnx"

# Five enrolled images per class; threshold 0 accepts every nearest label, so
# the accuracy measures the embedding, not the calibration of a tiny model.
# Chance is 1/3; broken preprocessing (wrong size, colour or scale) lands there.
"$demo" --model "$work/tiny.onnx" --output "$work/demo" --frames 90 --shots 5 \
  --threshold 0 --quiet --min-accuracy 0.6

# The validation split is the one of the model's own training seed (3 here,
# not siamese-train's default 1), so no seen-class item it streams was
# trained on.
"$demo" --model "$work/tiny.onnx" --output "$work/validation" --frames 30 --never-enrolled 30 \
  --split validation --threshold 0 --quiet >"$work/validation.txt"
grep -q "the validation split of the model's training seed 3" "$work/validation.txt" ||
  { echo "the validation split does not follow the model's seed"; cat "$work/validation.txt"; exit 1; }
