#!/bin/sh
# siamese-train as a user runs it: --version prints the project's version; the
# defaults train on the 7 classes the README's holdout leaves (P adapts, with a
# note); --log leaves the run's plots beside the log; and `export` of the final
# checkpoint writes the very model the run itself exported.
# Usage: export_cli.sh SIAMESE_TRAIN VERSION FASHION_MNIST_DIR WORK_DIR
set -eu
train=$1 version=$2 data=$3 work=$4
rm -rf "$work"
mkdir -p "$work"

test "$("$train" --version)" = "siamese-train $version"

"$train" train --data "$data" --holdout-classes 2,5,8 --max-per-class 40 --channels 8,16 \
  --embedding-dim 16 --steps-per-epoch 3 --epochs 2 --centre --threads 1 \
  --checkpoint "$work/run.ckpt" --log "$work/run.csv" --output "$work/trained.onnx" \
  2> "$work/train.log"
grep -q "P = 7 instead of 8" "$work/train.log"
test "$(grep -c '^[0-9]' "$work/run.csv")" -eq 2
for figure in loss validation roc; do
  head -c 8 "$work/run-$figure.png" | od -An -c | grep -q 'P   N   G'
done

"$train" export --checkpoint "$work/run.ckpt" --output "$work/exported.onnx" 2> "$work/export.log"
cmp "$work/trained.onnx" "$work/exported.onnx"

# Export errors name the file: no checkpoint there.
if "$train" export --checkpoint "$work/missing.ckpt" --output "$work/x.onnx" 2> "$work/err.log"
then exit 1; fi
grep -q "missing.ckpt" "$work/err.log"
test ! -e "$work/x.onnx"
echo "export reproduced the trained model; plots and note present"
