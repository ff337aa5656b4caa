// SPDX-License-Identifier: LGPL-2.1-or-later
#include "data_source.h"

#include <algorithm>
#include <filesystem>

#include "errors.h"
#include "impostors.h"

namespace siamese::trainer {
namespace {

// The share of an image folder's images kept apart as its test set.
constexpr double kFolderTestFraction = 0.2;
// Validation impostors are drawn from another seed than test ones, so no
// generated image serves both to choose settings and to report figures.
constexpr uint64_t kValidationImpostorSeed = 1000003;

bool is_idx_directory(const std::string &path) {
  const std::filesystem::path images = std::filesystem::path(path) / "train-images-idx3-ubyte";
  return std::filesystem::exists(images) || std::filesystem::exists(images.string() + ".gz");
}

// The classes the validation split enrols (--validation-classes, else the
// held-out ones), and the data options whose training split holds the seen
// classes: neither held out nor enrolled.
struct ValidationClasses {
  std::vector<int> enrolled;
  DataOptions seen;
};

ValidationClasses validation_classes(const DataOptions &data, const OpenSetSource &open_set) {
  ValidationClasses classes{
      open_set.validation_classes.empty() ? data.holdout_classes : open_set.validation_classes,
      data};
  for (int label : classes.enrolled) {
    std::vector<int> &held = classes.seen.holdout_classes;
    if (std::find(held.begin(), held.end(), label) == held.end()) held.push_back(label);
  }
  return classes;
}

// `first` followed by `second`'s images (same image shape and class names).
ImageSet concatenated(ImageSet first, const ImageSet &second) {
  first.pixels.insert(first.pixels.end(), second.pixels.begin(), second.pixels.end());
  first.labels.insert(first.labels.end(), second.labels.begin(), second.labels.end());
  return first;
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
  std::vector<int> kept_out = data.holdout_classes;
  kept_out.insert(kept_out.end(), data.validation_classes.begin(), data.validation_classes.end());
  ImageSet seen = split_holdout_classes(source.train, kept_out).seen;
  if (data.max_per_class > 0)
    seen = limit_per_class(seen, static_cast<std::size_t>(data.max_per_class), seed);
  check_trainable(seen, data.path);
  return split_train_validation(seen, data.validation_fraction, seed);
}

ClosedSetImages closed_set_images(const TrainTestSets &source, const DataOptions &data,
                                  const OpenSetSource &open_set, uint64_t seed) {
  if (open_set.split == OpenSetSplit::kTest) return {source, data.holdout_classes};
  const ValidationClasses classes = validation_classes(data, open_set);
  TrainValidationSplit seen = training_split(source, classes.seen, seed);
  ImageSet test = concatenated(std::move(seen.validation),
                               split_holdout_classes(source.train, classes.enrolled).held_out);
  return {{std::move(seen.train), std::move(test)}, classes.enrolled};
}

OpenSetImages open_set_images(const TrainTestSets &source, const DataOptions &data,
                              const OpenSetSource &open_set, uint64_t seed) {
  OpenSetImages images;
  images.frame_size = open_set.frame_size;
  ImageSet others;
  if (open_set.split == OpenSetSplit::kTest) {
    HoldoutSplit split = split_holdout_classes(source.test, data.holdout_classes);
    images.enrolled = std::move(split.held_out);
    others = std::move(split.seen);
  } else {
    const ValidationClasses classes = validation_classes(data, open_set);
    images.enrolled = split_holdout_classes(source.train, classes.enrolled).held_out;
    others = training_split(source, classes.seen, seed).validation;
  }
  if (images.enrolled.size() == 0)
    throw Error(ErrorKind::kSettings,
                "The open-set evaluation needs enrolled classes: give --holdout-classes (or "
                "--validation-classes with --split validation).");
  const ImageSet &shape = images.enrolled;
  images.non_mated.emplace_back("other classes", std::move(others));
  if (open_set.generated_impostors > 0) {
    const uint64_t impostor_seed =
        open_set.split == OpenSetSplit::kTest ? seed : seed + kValidationImpostorSeed;
    const ImageSet generated = generate_impostors(open_set.generated_impostors, shape.width,
                                                  shape.height, shape.channels, impostor_seed);
    for (std::size_t kind = 0; kind < generated.class_names.size(); ++kind)
      images.non_mated.emplace_back(generated.class_names[kind],
                                    split_holdout_classes(generated, {static_cast<int>(kind)})
                                        .held_out);
  }
  if (!open_set.impostors_dir.empty())
    images.non_mated.emplace_back(
        "impostor folder", load_image_files(open_set.impostors_dir, shape.width, shape.height,
                                            shape.channels, "impostors"));
  return images;
}

void check_split_seed(const std::string &model_path, const DataOptions &data, OpenSetSplit split,
                      uint64_t seed) {
  if (is_idx_directory(data.path) && split == OpenSetSplit::kTest) return;  // files of their own
  const std::optional<uint64_t> trained = training_seed(model_path);
  if (!trained || *trained == seed) return;
  const uint64_t trained_seed = *trained;
  throw Error(ErrorKind::kSettings,
              model_path + " was trained with --seed " + std::to_string(trained_seed) +
                  ", which split " + data.path + " into the images it trained on and the rest; " +
                  "--seed " + std::to_string(seed) + " would split it otherwise and evaluate on " +
                  "images the model trained on: give --seed " + std::to_string(trained_seed) + ".");
}

}  // namespace siamese::trainer
