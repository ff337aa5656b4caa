// SPDX-License-Identifier: LGPL-2.1-or-later
//
// area_shrink() (core/area_resize.h) gives OpenCV's INTER_AREA pixels to
// within one grey level, and the embeddings the element computes through it
// stay within a small bound of the reference path (cv::resize INTER_AREA,
// cvtColor, the blob, OpenCV DNN, L2 normalisation).
#include <gtest/gtest.h>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "area_resize.h"
#include "embedder.h"

namespace siamese {
namespace {

// Smooth random texture, like a camera picture (not per-pixel noise).
cv::Mat picture(cv::Size size, int type, uint64_t seed) {
  cv::Mat image(size, type);
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(image, image, cv::Size(15, 15), 0);
  return image;
}

struct Case {
  cv::Size from, to;
};

TEST(AreaShrink, MatchesOpenCvInterAreaWithinOneLevel) {
  const Case cases[] = {{{640, 480}, {28, 28}}, {{640, 480}, {64, 64}}, {{641, 479}, {30, 17}},
                        {{1280, 720}, {224, 224}}, {{100, 100}, {99, 33}}, {{37, 5}, {1, 1}},
                        {{320, 240}, {320, 239}}};
  for (const Case &c : cases)
    for (const int channels : {1, 2, 3, 4}) {
      const cv::Mat image = picture(c.from, CV_8UC(channels), 11 * channels + c.to.width);
      cv::Mat ours, opencv;
      area_shrink(image, ours, c.to);
      cv::resize(image, opencv, c.to, 0, 0, cv::INTER_AREA);
      ASSERT_EQ(ours.size(), c.to);
      ASSERT_EQ(ours.type(), image.type());
      cv::Mat difference;
      cv::absdiff(ours.reshape(1), opencv.reshape(1), difference);
      double largest = 0;
      cv::minMaxLoc(difference, nullptr, &largest);
      EXPECT_LE(largest, 1.0) << c.from << " -> " << c.to << ", " << channels << " channels";
      // Rounding ties only: few values differ at all.
      EXPECT_LE(cv::countNonZero(difference), std::max(2, static_cast<int>(difference.total() / 50)))
          << c.from << " -> " << c.to << ", " << channels << " channels";
    }
}

TEST(AreaShrink, ReadsStridedRegionsAndShrinksInPlace) {
  const cv::Mat frame = picture({200, 100}, CV_8UC3, 3);
  const cv::Mat region = frame(cv::Rect(13, 7, 101, 61));  // not continuous
  cv::Mat ours, opencv;
  area_shrink(region, ours, {9, 7});
  cv::resize(region, opencv, {9, 7}, 0, 0, cv::INTER_AREA);
  EXPECT_LE(cv::norm(ours, opencv, cv::NORM_INF), 1.0);
  cv::Mat same = region.clone();
  area_shrink(same, same, {9, 7});
  EXPECT_EQ(cv::norm(same, ours, cv::NORM_INF), 0.0);
}

TEST(AreaShrink, RefusesWhatItCannotShrink) {
  cv::Mat out;
  EXPECT_THROW(area_shrink(cv::Mat(), out, {2, 2}), std::invalid_argument);
  EXPECT_THROW(area_shrink(cv::Mat(4, 4, CV_8UC1), out, {5, 2}), std::invalid_argument);
  EXPECT_THROW(area_shrink(cv::Mat(4, 4, CV_8UC1), out, {0, 2}), std::invalid_argument);
  EXPECT_THROW(area_shrink(cv::Mat(4, 4, CV_32FC1), out, {2, 2}), std::invalid_argument);
}

// The reference path, written against OpenCV alone.
cv::Mat reference_embedding(cv::dnn::Net &net, const Preprocessing &input, const cv::Mat &bgr) {
  cv::Mat small, grey;
  cv::resize(bgr, small, cv::Size(input.width, input.height), 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  cv::Mat blob({1, 1, input.height, input.width}, CV_32F);
  cv::Mat plane(input.height, input.width, CV_32F, blob.ptr<float>());
  grey.convertTo(plane, CV_32F, input.scale[0], -input.mean[0] * input.scale[0]);
  net.setInput(blob);
  cv::Mat embedding;
  cv::normalize(net.forward().reshape(1, 1), embedding, 1.0, 0.0, cv::NORM_L2);
  return embedding;
}

TEST(AreaShrink, EmbeddingsOfFramesStayCloseToTheReferencePath) {
  Embedder embedder = Embedder::load(SIAMESE_BUNDLED_MODEL);
  const Preprocessing &input = embedder.contract().input;
  ASSERT_EQ(input.color, ColorOrder::kGray);
  cv::dnn::Net net = cv::dnn::readNetFromONNX(SIAMESE_BUNDLED_MODEL);
  double worst_cosine = 1.0, worst_difference = 0.0;
  for (int i = 0; i < 12; ++i) {
    const cv::Size frame = i % 2 ? cv::Size(640, 480) : cv::Size(1280, 720);
    const cv::Mat bgr = picture(frame, CV_8UC3, 100 + i);
    const cv::Mat ours = embedder.embed(bgr);
    const cv::Mat reference = reference_embedding(net, input, bgr);
    worst_cosine = std::min(worst_cosine, ours.dot(reference));
    worst_difference = std::max(worst_difference, cv::norm(ours, reference, cv::NORM_INF));
  }
  // One grey level on a few of 784 pixels moves a unit embedding by a few 1e-4.
  EXPECT_GE(worst_cosine, 0.99999);
  EXPECT_LE(worst_difference, 5e-3);
  std::printf("worst cosine %.7f, worst component difference %.2g\n", worst_cosine,
              worst_difference);
}

}  // namespace
}  // namespace siamese
