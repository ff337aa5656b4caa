// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The embedder owns an OpenCV DNN network and the preprocessing its model
// contract describes; frames and reference images go through the same
// embed() so enrolment and matching can never disagree.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "model_contract.h"

namespace siamese {

// Property values that replace what the model's metadata says (or supply it
// for third-party models that carry none).
struct ContractOverrides {
  std::optional<int> width;
  std::optional<int> height;
  std::optional<ColorOrder> color;
  std::optional<std::array<float, 3>> mean;
  std::optional<std::array<float, 3>> scale;
};

// The resize embed() applies: area averaging when shrinking (every source
// pixel counts, so thin details are not aliased away), bilinear when
// enlarging.  Callers that shrink frames themselves before embed() (e.g. to
// convert colours on fewer pixels) use it to get exactly the same pixels.
void resize_to_input(const cv::Mat &image, cv::Mat &resized, cv::Size size);

// `image` brought to the model's input `size` as embed() would bring it
// (resize_to_input, or a copy when already that size), in pixels of its
// own: what a caller keeps to embed later, once the frame it came from is
// gone (the element's async mode).  embed() of the result gives exactly
// embed(image), at the cost of copying only the small input.
cv::Mat detached_input(const cv::Mat &image, cv::Size size);

// The largest input width and height a model may declare (docs/limits.md):
// enrolment embeds in batches of 32, so an input this size already needs
// about 400 MB for the input blob alone, before the network's activations.
inline constexpr int kMaxInputSide = 1024;

class Embedder {
 public:
  // Reads the model contract from the file's metadata, applies the overrides,
  // loads the network with OpenCV DNN and runs one forward pass to learn (or
  // check) the embedding dimension.  Throws siamese::Error:
  //   kNotFound (no such file), kOpenRead (unreadable, not a regular file,
  //   larger than kMaxModelFileBytes), kModel (not ONNX, not one input,
  //   OpenCV cannot import or run it, output is not a vector per image),
  //   kSettings (input size unknown: no metadata, no fixed input shape, no
  //   override; or larger than kMaxInputSide).
  static Embedder load(const std::string &onnx_path, const ContractOverrides &overrides = {});
  // The same from a model already in memory; `onnx_path` only names it in
  // messages (the fuzz target of the loader uses this).
  static Embedder from_bytes(std::string bytes, const std::string &onnx_path,
                             const ContractOverrides &overrides = {});

  // The fingerprint load() would give (model_fingerprint.h), without
  // importing or running the network; throws as load() does for a file that
  // cannot be read or carries no usable contract.
  static std::string fingerprint_of(const std::string &onnx_path,
                                    const ContractOverrides &overrides = {});

  const ModelContract &contract() const;
  int dimension() const;
  const std::string &fingerprint() const;

  // Embeds 8-bit images (CV_8UC1 grey, CV_8UC3 BGR, CV_8UC4 BGRA) of any
  // size.  Returns an images.size() x dimension() CV_32F matrix whose rows
  // are L2-normalised; it owns its data (not aliased to the network).
  cv::Mat embed(const std::vector<cv::Mat> &images);
  cv::Mat embed(const cv::Mat &image);

  // The preprocessing alone: resize, colour conversion, (v - mean) * scale,
  // as an N x C x H x W CV_32F blob.  Exposed for tests and benchmarks.
  cv::Mat make_blob(const std::vector<cv::Mat> &images) const;

  Embedder(Embedder &&) noexcept;
  Embedder &operator=(Embedder &&) noexcept;
  ~Embedder();

 private:
  struct Impl;
  explicit Embedder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamese
