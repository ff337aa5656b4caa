// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Labelled image sets for the trainer, with no LibTorch dependency: IDX files
// (MNIST / Fashion-MNIST layout, gzip or plain) and image folders, the splits
// the trainer needs (stratified validation split, held-out classes, a per-class
// limit for quick runs).
//
// This folder (trainer/data/) is built as `trainer_data_dep` (trainer/data/meson.build):
// dataset.h, augment.h, samplers.h, metrics.h, evaluate_onnx.h.  Include them
// by their bare names.  Every loader throws siamese::Error (core/errors.h) with
// a message that names the file and the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace siamese::trainer {

// Debian's dataset-fashion-mnist package installs the IDX .gz files here.
inline constexpr const char *kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// N images of one size, stored channel-first (C x H x W per image, 8-bit),
// colour images in RGB order.  labels[i] indexes class_names.  Splits keep
// the original label values, so a set may have classes without images.
struct ImageSet {
  int channels = 1;
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // size() * image_bytes() values
  std::vector<int> labels;
  std::vector<std::string> class_names;

  std::size_t size() const { return labels.size(); }
  std::size_t image_bytes() const { return static_cast<std::size_t>(channels) * height * width; }
  const uint8_t *image(std::size_t index) const { return pixels.data() + index * image_bytes(); }
  uint8_t *image(std::size_t index) { return pixels.data() + index * image_bytes(); }

  // The image as an interleaved 8-bit cv::Mat the way OpenCV expects it:
  // CV_8UC1 for grey, CV_8UC3 in BGR order for colour.  A copy.
  cv::Mat to_mat(std::size_t index) const;
  // The image as a `size` x `size` video frame (to_mat() enlarged with cubic
  // interpolation), the way the demo shows an item to the element and
  // evaluate --frame-size shows it to the model, so the two agree.
  cv::Mat to_frame(std::size_t index, int size) const;
  // Appends an image given as an interleaved cv::Mat (CV_8UC1 grey or CV_8UC3
  // BGR) of exactly width x height and channels channels.
  void append(const cv::Mat &image, int label);
};

// Reads an IDX image file (magic 0x00000803, N x rows x cols, 8-bit) and an
// IDX label file (magic 0x00000801), each gzip-compressed or plain.  Class
// names are the label values as text ("0", "1", ...).  Throws for a missing or
// unreadable file, a wrong magic number, a header whose dimensions do not
// match the file size, and label / image counts that differ.
ImageSet load_idx(const std::string &images_path, const std::string &labels_path);

// The 10 class names of Fashion-MNIST, in label order.
const std::vector<std::string> &fashion_mnist_class_names();

struct TrainTestSets {
  ImageSet train;
  ImageSet test;
};

// Fashion-MNIST's 60,000 training and 10,000 test images from `directory`
// (train-/t10k-{images-idx3,labels-idx1}-ubyte[.gz]), with the class names.
TrainTestSets load_fashion_mnist(const std::string &directory = kFashionMnistDir);

// Reads <root>/<class>/*.{png,jpg,jpeg,bmp} (extensions case-insensitive;
// classes and files in sorted order).  Images of any size are resized to
// width x height; channels is 1 (grey) or 3 (colour, stored RGB).  Throws for
// a missing root, an image that does not decode (naming it) and a set that
// fails check_trainable().
ImageSet load_image_folder(const std::string &root, int width, int height, int channels);

// Every image anywhere under `root` (sub-folders included, sorted by path),
// resized as load_image_folder() does, as one class named `class_name`: a
// folder of anything, such as the impostors of the open-set evaluation.
// Throws for a missing root, an image that does not decode (naming it) and a
// folder without images.
ImageSet load_image_files(const std::string &root, int width, int height, int channels,
                          const std::string &class_name);

// Throws siamese::Error (kFormat) unless the set has at least two classes
// with images and every class with images has at least two (so a positive
// pair exists).  `source` names the data in the message.
void check_trainable(const ImageSet &set, const std::string &source);

// The images at `indices`, in that order, with the same class names.
ImageSet subset(const ImageSet &set, const std::vector<std::size_t> &indices);

struct TrainValidationSplit {
  ImageSet train;
  ImageSet validation;
};

// Stratified split: each class contributes round(fraction * its count)
// images (at least one when it has two or more and fraction > 0) to the
// validation set.  Same set and seed, same split.
TrainValidationSplit split_train_validation(const ImageSet &set, double validation_fraction,
                                            uint64_t seed);

struct HoldoutSplit {
  ImageSet seen;      // images of every class not listed
  ImageSet held_out;  // images of the listed classes, for few-shot evaluation
};

// Separates whole classes.  Throws for a label outside [0, class_names.size()).
HoldoutSplit split_holdout_classes(const ImageSet &set, const std::vector<int> &holdout_classes);

// At most `max_per_class` images of each class, chosen at random with `seed`,
// kept in their original order.
ImageSet limit_per_class(const ImageSet &set, std::size_t max_per_class, uint64_t seed);

// Which turned copies with_turned_classes() adds.
struct TurnedClasses {
  bool right_angles = true;  // upside down; on its side (by 90 and by 270 degrees)
  bool tilts = false;        // tilted by 45 degrees; tilted upside down (by 135)
};

// The set followed by turned copies of it, each group a class of its own:
// with right angles, class c upside down is class c + class_names.size(), on
// its side c + 2 * class_names.size(); tilts follow as the next groups
// (class names get " tilted" and " tilted upside down").  More classes for a
// metric to tell apart, for data whose classes are upright (a sandal on its
// side is no sandal).  A turn and its left-right mirror (by 90 and by 270
// degrees; by 45 and by -45) share a class because mirroring, an
// augmentation the trainer may apply, takes one into the other; tilted
// copies are shrunk to keep their corners in the frame.  Images must be
// square.
ImageSet with_turned_classes(const ImageSet &set, const TurnedClasses &which = {});

}  // namespace siamese::trainer
