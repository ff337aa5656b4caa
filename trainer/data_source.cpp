// SPDX-License-Identifier: LGPL-2.1-or-later
#include "data_source.h"

#include <filesystem>

namespace siamese::trainer {
namespace {

// The share of an image folder's images kept apart as its test set.
constexpr double kFolderTestFraction = 0.2;

bool is_idx_directory(const std::string &path) {
  const std::filesystem::path images = std::filesystem::path(path) / "train-images-idx3-ubyte";
  return std::filesystem::exists(images) || std::filesystem::exists(images.string() + ".gz");
}

}  // namespace

TrainTestSets load_source(const DataOptions &data, uint64_t seed) {
  if (is_idx_directory(data.path)) return load_fashion_mnist(data.path);
  const ImageSet all =
      load_image_folder(data.path, data.image_size, data.image_size, data.grayscale ? 1 : 3);
  TrainValidationSplit split = split_train_validation(all, kFolderTestFraction, seed);
  return {std::move(split.train), std::move(split.validation)};
}

TrainValidationSplit training_split(const TrainTestSets &source, const DataOptions &data,
                                    uint64_t seed) {
  ImageSet seen = split_holdout_classes(source.train, data.holdout_classes).seen;
  if (data.max_per_class > 0)
    seen = limit_per_class(seen, static_cast<std::size_t>(data.max_per_class), seed);
  check_trainable(seen, data.path);
  return split_train_validation(seen, data.validation_fraction, seed);
}

}  // namespace siamese::trainer
