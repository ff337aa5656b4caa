// SPDX-License-Identifier: LGPL-2.1-or-later
#include "impostors.h"

#include <algorithm>
#include <array>
#include <random>

#include <opencv2/imgproc.hpp>

#include "errors.h"

namespace siamese::trainer {
namespace {

// Digits are drawn this many times larger than the output and shrunk with
// area averaging, which softens the strokes the way a scanned pen stroke is.
constexpr int kDrawScale = 4;
// Hershey fonts: plain, serif, script (each optionally slanted).
constexpr std::array<int, 8> kFonts{
    cv::FONT_HERSHEY_SIMPLEX, cv::FONT_HERSHEY_PLAIN,         cv::FONT_HERSHEY_DUPLEX,
    cv::FONT_HERSHEY_COMPLEX, cv::FONT_HERSHEY_TRIPLEX,       cv::FONT_HERSHEY_COMPLEX_SMALL,
    cv::FONT_HERSHEY_SCRIPT_SIMPLEX, cv::FONT_HERSHEY_SCRIPT_COMPLEX};
// MNIST digits fill about 20 of 28 rows; vary around that.
constexpr double kMinDigitHeight = 0.55, kMaxDigitHeight = 0.8;
constexpr double kMaxSlantDegrees = 15.0;
constexpr double kMaxShift = 0.1;  // of the image size, either way

double uniform(std::mt19937_64 &rng, double low, double high) {
  return std::uniform_real_distribution<double>(low, high)(rng);
}

cv::Mat draw_digit(std::mt19937_64 &rng, int width, int height) {
  const cv::Size canvas(width * kDrawScale, height * kDrawScale);
  cv::Mat big = cv::Mat::zeros(canvas, CV_8UC1);
  const std::string digit(1, static_cast<char>('0' + rng() % 10));
  int font = kFonts[rng() % kFonts.size()];
  if (rng() % 2) font |= cv::FONT_ITALIC;
  const int thickness = 2 + static_cast<int>(rng() % (3 * kDrawScale));
  int baseline = 0;
  const cv::Size unit = cv::getTextSize(digit, font, 1.0, thickness, &baseline);
  const double target = uniform(rng, kMinDigitHeight, kMaxDigitHeight) * canvas.height;
  const double scale = target / std::max(unit.height, 1);
  const cv::Size text = cv::getTextSize(digit, font, scale, thickness, &baseline);
  const cv::Point origin((canvas.width - text.width) / 2, (canvas.height + text.height) / 2);
  const int grey = 170 + static_cast<int>(rng() % 86);  // bright ink, as on MNIST
  cv::putText(big, digit, origin, font, scale, cv::Scalar(grey), thickness, cv::LINE_AA);
  // Slant and shift it, as a hand would.
  const cv::Point2f centre(canvas.width / 2.f, canvas.height / 2.f);
  cv::Mat transform =
      cv::getRotationMatrix2D(centre, uniform(rng, -kMaxSlantDegrees, kMaxSlantDegrees), 1.0);
  transform.at<double>(0, 2) += uniform(rng, -kMaxShift, kMaxShift) * canvas.width;
  transform.at<double>(1, 2) += uniform(rng, -kMaxShift, kMaxShift) * canvas.height;
  cv::warpAffine(big, big, transform, canvas);
  cv::Mat small;
  cv::resize(big, small, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  return small;
}

// Half of them independent pixels, half smooth blobs (noise blurred and
// stretched back to the full range).
cv::Mat draw_noise(std::mt19937_64 &rng, int width, int height) {
  cv::Mat noise(height, width, CV_8UC1);
  cv::RNG pixels(rng());
  pixels.fill(noise, cv::RNG::UNIFORM, 0, 256);
  if (rng() % 2) {
    const double sigma = uniform(rng, 1.0, 3.0);
    cv::GaussianBlur(noise, noise, cv::Size(), sigma);
    cv::normalize(noise, noise, 0, 255, cv::NORM_MINMAX);
  }
  return noise;
}

cv::Mat draw_flat(std::mt19937_64 &rng, int width, int height) {
  return cv::Mat(height, width, CV_8UC1, cv::Scalar(static_cast<double>(rng() % 256)));
}

}  // namespace

ImageSet generate_impostors(std::size_t count, int width, int height, int channels,
                            uint64_t seed) {
  if (width < 8 || height < 8)
    throw Error(ErrorKind::kSettings, "Generated impostors need at least 8 x 8 pixels, not " +
                                          std::to_string(width) + " x " + std::to_string(height) +
                                          ".");
  if (channels != 1 && channels != 3)
    throw Error(ErrorKind::kSettings,
                "Generated impostors have 1 or 3 channels, not " + std::to_string(channels) + ".");
  ImageSet set;
  set.channels = channels;
  set.width = width;
  set.height = height;
  set.class_names = {kGeneratedDigits, kGeneratedNoise, kGeneratedFlat};
  std::mt19937_64 rng(seed);
  const std::size_t others = count / 3;
  const std::size_t per_kind[] = {count - 2 * others, others, others};
  for (int kind = 0; kind < 3; ++kind) {
    for (std::size_t i = 0; i < per_kind[kind]; ++i) {
      cv::Mat grey = kind == 0   ? draw_digit(rng, width, height)
                     : kind == 1 ? draw_noise(rng, width, height)
                                 : draw_flat(rng, width, height);
      if (channels == 3) cv::cvtColor(grey, grey, cv::COLOR_GRAY2BGR);
      set.append(grey, kind);
    }
  }
  return set;
}

}  // namespace siamese::trainer
