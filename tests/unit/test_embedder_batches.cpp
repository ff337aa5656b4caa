// SPDX-License-Identifier: LGPL-2.1-or-later
// The bundled network embeds regions batched as it embeds them one by one:
// the element's batched path for N regions of interest gives each region the
// embedding a call of its own would (to float rounding: OpenCV's convolution
// may order its sums differently at another batch size).
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "embedder.h"

namespace siamese {
namespace {

TEST(EmbedderBatches, BatchedRegionsEqualOneByOne) {
  Embedder batched = Embedder::load(SIAMESE_BUNDLED_MODEL);
  Embedder single = Embedder::load(SIAMESE_BUNDLED_MODEL);
  cv::Mat frame(480, 640, CV_8UC3);
  cv::RNG rng(20261201);
  rng.fill(frame, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(frame, frame, cv::Size(9, 9), 0);  // structure, not just noise
  for (const int count : {1, 8, 32}) {
    std::vector<cv::Mat> crops;
    for (int i = 0; i < count; ++i) {
      const int width = rng.uniform(40, 200), height = rng.uniform(40, 200);
      crops.push_back(frame(cv::Rect(rng.uniform(0, 640 - width), rng.uniform(0, 480 - height),
                                     width, height)));  // views into the frame, as the element's
    }
    const cv::Mat all = batched.embed(crops);
    ASSERT_EQ(all.rows, count);
    for (int i = 0; i < count; ++i) {
      const cv::Mat alone = single.embed(crops[i]);
      EXPECT_LT(cv::norm(all.row(i), alone, cv::NORM_INF), 1e-5) << count << " regions, #" << i;
      EXPECT_GT(all.row(i).dot(alone), 1.0 - 1e-6);
    }
  }
}

}  // namespace
}  // namespace siamese
