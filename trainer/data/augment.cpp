// SPDX-License-Identifier: LGPL-2.1-or-later
#include "augment.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <string>

#include "errors.h"

namespace siamese::trainer {
namespace {

// out(x, y) = source(x - dx, y - dy), read mirrored when flipping; pixels
// shifted in from outside the image are 0 (the zero padding of the crop).
void shift(const ImageSet &set, const uint8_t *source, int dx, int dy, bool flip, uint8_t *out) {
  const int width = set.width;
  const int height = set.height;
  for (int c = 0; c < set.channels; ++c) {
    const uint8_t *plane = source + static_cast<std::size_t>(c) * height * width;
    for (int y = 0; y < height; ++y) {
      const int sy = y - dy;
      for (int x = 0; x < width; ++x) {
        const int sx = x - dx;
        const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        *out++ = inside ? plane[sy * width + (flip ? width - 1 - sx : sx)] : 0;
      }
    }
  }
}

// The mirrored image zoomed by `scale` and rotated by `degrees` about its
// centre, then shifted by (dx, dy).
void warp(const ImageSet &set, const uint8_t *source, int dx, int dy, bool flip, double scale,
          double degrees, uint8_t *out) {
  const cv::Point2f centre((set.width - 1) / 2.f, (set.height - 1) / 2.f);
  cv::Mat transform = cv::getRotationMatrix2D(centre, degrees, scale);
  transform.at<double>(0, 2) += dx;
  transform.at<double>(1, 2) += dy;
  const std::size_t plane_bytes = static_cast<std::size_t>(set.height) * set.width;
  cv::Mat mirrored;
  for (int c = 0; c < set.channels; ++c) {
    uint8_t *plane_start = const_cast<uint8_t *>(source) + c * plane_bytes;  // only read
    const cv::Mat plane(set.height, set.width, CV_8U, plane_start);
    if (flip) cv::flip(plane, mirrored, 1);
    cv::Mat target(set.height, set.width, CV_8U, out + c * plane_bytes);
    cv::warpAffine(flip ? mirrored : plane, target, transform, target.size(), cv::INTER_LINEAR,
                   cv::BORDER_CONSTANT, cv::Scalar(0));
  }
}

// Each plane of `image` enlarged by `factor` (bicubic) and shrunk back by
// pixel-area averaging, in place.
void soften(const ImageSet &set, double factor, uint8_t *image) {
  const std::size_t plane_bytes = static_cast<std::size_t>(set.height) * set.width;
  const cv::Size enlarged(static_cast<int>(std::lround(set.width * factor)),
                          static_cast<int>(std::lround(set.height * factor)));
  cv::Mat large;
  for (int c = 0; c < set.channels; ++c) {
    cv::Mat plane(set.height, set.width, CV_8U, image + c * plane_bytes);
    cv::resize(plane, large, enlarged, 0, 0, cv::INTER_CUBIC);
    cv::resize(large, plane, plane.size(), 0, 0, cv::INTER_AREA);
  }
}

}  // namespace

void augment_image(const ImageSet &set, std::size_t index, const AugmentOptions &options,
                   std::mt19937_64 &rng, uint8_t *out) {
  const uint8_t *source = set.image(index);
  if (!options.enabled) {
    std::copy(source, source + set.image_bytes(), out);
    return;
  }
  if (options.max_shift < 0 || !(options.max_scale >= 0.0 && options.max_scale < 1.0) ||
      !(options.max_rotation >= 0.0 && options.max_rotation <= 180.0) ||
      !(options.soften >= 0.0 && options.soften <= 1.0)) {
    throw Error(ErrorKind::kSettings,
                "Augmentation needs a shift >= 0, a scale in [0, 1), a rotation in [0, 180] and "
                "a softening probability in [0, 1], not " +
                    std::to_string(options.max_shift) + ", " + std::to_string(options.max_scale) +
                    ", " + std::to_string(options.max_rotation) + ", " +
                    std::to_string(options.soften) + ".");
  }
  std::uniform_int_distribution<int> shift_by(-options.max_shift, options.max_shift);
  const int dx = shift_by(rng);
  const int dy = shift_by(rng);
  const bool flip = options.horizontal_flip && std::bernoulli_distribution(0.5)(rng);
  if (options.max_scale == 0.0 && options.max_rotation == 0.0) {
    shift(set, source, dx, dy, flip, out);
  } else {
    const double scale = std::uniform_real_distribution<double>(1.0 - options.max_scale,
                                                                1.0 + options.max_scale)(rng);
    const double degrees =
        std::uniform_real_distribution<double>(-options.max_rotation, options.max_rotation)(rng);
    warp(set, source, dx, dy, flip, scale, degrees, out);
  }
  // Drawn only when asked for, so that runs without softening replay as before.
  if (options.soften > 0.0 && std::bernoulli_distribution(options.soften)(rng)) {
    std::uniform_real_distribution<double> factor(kMinSoftenFactor, kMaxSoftenFactor);
    soften(set, factor(rng), out);
  }
}

}  // namespace siamese::trainer
