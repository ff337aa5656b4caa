// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Turns the --data options into image sets: an IDX directory (Fashion-MNIST
// layout, with its own test set) or an image folder (split into a training
// and a test part with a fixed seed).
#pragma once

#include <cstdint>

#include "dataset.h"
#include "evaluate_onnx.h"
#include "options.h"

namespace siamese::trainer {

// All images of the source, held-out classes included.
TrainTestSets load_source(const DataOptions &data, uint64_t seed);

// What training sees: the training images minus the held-out and the
// validation classes, limited per class if asked, split into training and
// validation images.
TrainValidationSplit training_split(const TrainTestSets &source, const DataOptions &data,
                                    uint64_t seed);

// The training and test images of the closed-set protocol (evaluate_onnx.h)
// for `open_set.split` (see OpenSetSplit), and the classes it holds out:
// on kTest the source's own files and --holdout-classes; on kValidation,
// as "training" images the training part of the seen classes, as "test"
// images their validation part followed by the training-file images of the
// enrolled classes, which are held out: no test image at all.
struct ClosedSetImages {
  TrainTestSets sets;
  std::vector<int> holdout_classes;
};
ClosedSetImages closed_set_images(const TrainTestSets &source, const DataOptions &data,
                                  const OpenSetSource &open_set, uint64_t seed);

// The images of an open-set evaluation or calibration (see OpenSetSplit):
// enrolled classes, then the non-mated groups "other classes", "digits",
// "noise", "flat grey" (generated) and "impostor folder" (when given).
OpenSetImages open_set_images(const TrainTestSets &source, const DataOptions &data,
                              const OpenSetSource &open_set, uint64_t seed);

// An image folder's train/test split and the seen classes' validation split
// are drawn by seed: only the seed the model was trained with keeps its
// training images out of them.  Throws Error(kSettings), naming both seeds,
// when `split` depends on the seed and the model's training summary records
// another one; a model without a summary (not from siamese-train) passes.
void check_split_seed(const std::string &model_path, const DataOptions &data, OpenSetSplit split,
                      uint64_t seed);

}  // namespace siamese::trainer
