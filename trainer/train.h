// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The training loop: batches built straight from the 8-bit image buffer, the
// pair or triplet objective, Adam or SGD with a learning-rate schedule,
// validation after every epoch, checkpoints of model and optimizer written
// atomically, and the model contract the export writes.
//
// Determinism: the weights start from torch::manual_seed(seed); epoch e's
// samplers and augmentation are seeded from (seed, e), so the same seed and
// thread count give the same run, and a run resumed from an epoch's
// checkpoint continues exactly as the uninterrupted run would have.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "dataset.h"
#include "metrics.h"
#include "model.h"
#include "model_contract.h"
#include "options.h"

namespace siamese::trainer {

// Per-channel input normalisation, v in [0, 255] -> (v - mean[c]) * scale[c],
// from the training images' mean and standard deviation.  The export writes
// the same values into the model contract.
struct Normalisation {
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> scale{1.f, 1.f, 1.f};
};
Normalisation compute_normalisation(const ImageSet &set);

struct ValidationMetrics {
  double precision_at_1 = 0.0;       // validation images against training references
  Verification cosine;               // fixed-seed validation pairs, cosine similarity
  std::optional<Verification> head;  // the same pairs through the pair head
  // 3-way (2-way with two) 1-shot accuracy on the validation classes'
  // training-file images (Trainer::set_validation_classes), the model's
  // own output as the element sees it; absent without validation classes.
  std::optional<FewShotResult> validation_classes_1shot;
};

struct EpochMetrics {
  int64_t epoch = 0;           // 1-based
  int64_t step = 0;            // steps done after this epoch
  double loss = 0.0;           // mean over the epoch's steps
  double learning_rate = 0.0;  // at the epoch's last step
  double seconds = 0.0;
  double images_per_second = 0.0;               // training steps only, validation excluded
  std::optional<ValidationMetrics> validation;  // absent without validation images
};

class Trainer {
 public:
  // Builds the model for `train`'s image shape (seeded).  `validation` may
  // be empty: then no validation metrics and no calibrated thresholds.
  // Throws siamese::Error when the data cannot form the batches asked for.
  Trainer(const TrainOptions &options, ImageSet train, ImageSet validation);
  ~Trainer();
  Trainer(const Trainer &) = delete;
  Trainer &operator=(const Trainer &) = delete;
  Trainer(Trainer &&) noexcept;

  // Trains the remaining epochs (all of them, or those after a loaded
  // checkpoint), writing progress to `progress`, one log row per epoch, and a
  // checkpoint after each epoch when the options name one; with --centre it
  // then centres the net's output on the training images.  Throws
  // std::runtime_error when the loss stops being finite.
  std::vector<EpochMetrics> train(std::ostream &progress);
  // What follows the last epoch (train() calls it): with --centre, centring
  // the output on the training images.  Exporting a checkpoint calls it on
  // the weights the checkpoint holds.
  void finish();

  // Model and optimizer state, the epoch count and the train command line
  // (TrainOptions::arguments).
  void save_checkpoint(const std::string &path) const;
  // Throws siamese::Error naming the path when it is missing, unreadable or
  // was written for another architecture or objective.
  void load_checkpoint(const std::string &path);
  int64_t epochs_done() const;
  int64_t total_epochs() const;

  // Images of classes kept out of training (TrainOptions' validation
  // classes) whose few-shot accuracy validate() adds, to choose settings on
  // classes never trained on without touching the held-out ones.  Throws
  // siamese::Error (kSettings) unless two classes have enough images.
  void set_validation_classes(const ImageSet &images);

  // Absent without validation images.
  std::optional<ValidationMetrics> validate();
  // L2-normalised embeddings (eval mode, no gradient), N x D CV_32F.
  cv::Mat embed(const ImageSet &set);
  // The same before normalisation: what the exported model outputs.
  cv::Mat outputs(const ImageSet &set);

  // Preprocessing, dimension, thresholds calibrated at the validation EER
  // (cosine, the equivalent L2 distance, the head's probability), the head's
  // weights and a JSON summary of the run.
  ModelContract contract(const std::optional<ValidationMetrics> &calibration) const;

  EmbeddingNet embedding_net() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The train command line a checkpoint was written by (without "train").
// Throws siamese::Error naming the path when it cannot be read or predates
// the option list.
std::vector<std::string> checkpoint_arguments(const std::string &path);

}  // namespace siamese::trainer
