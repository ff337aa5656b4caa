// SPDX-License-Identifier: LGPL-2.1-or-later
// The metric implementation on Debian's real Fashion-MNIST: the raw-pixel
// baseline reproduces the figures issue 4 quotes (classes 2, 5, 8 held out).
#include <gtest/gtest.h>

#include "dataset.h"
#include "metrics.h"

namespace siamese::trainer {
namespace {

const std::vector<int> kHeldOut{2, 5, 8};

class FashionMnist : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { sets_ = new TrainTestSets(load_fashion_mnist()); }
  static void TearDownTestSuite() { delete sets_; }
  static TrainTestSets *sets_;
};
TrainTestSets *FashionMnist::sets_ = nullptr;

TEST_F(FashionMnist, LoadsBothSplits) {
  // 60,000 + 10,000 grey 28x28 images, 10 named classes.
  EXPECT_EQ(sets_->train.size(), 60000u);
  EXPECT_EQ(sets_->test.size(), 10000u);
  EXPECT_EQ(sets_->test.height, 28);
  EXPECT_EQ(sets_->test.width, 28);
  EXPECT_EQ(sets_->test.class_names.at(8), "Bag");
  EXPECT_EQ(sets_->train.labels.front(), 9);  // the first training image is an ankle boot
}

TEST_F(FashionMnist, RawPixelFewShotOnHeldOutClasses) {
  // 2,000 episodes of 3-way K-shot, 5 queries per class: 0.667 (1-shot,
  // either rule); 5-shot 0.860 by each class's best image, 0.826 by class
  // prototypes (models/README.md, seed 1).
  const ImageSet held_out = split_holdout_classes(sets_->test, kHeldOut).held_out;
  const cv::Mat embeddings = raw_pixel_embeddings(held_out);
  EXPECT_NEAR(few_shot_accuracy(embeddings, held_out.labels, {3, 1, 5, 2000, 0}).accuracy, 0.667,
              0.015);
  FewShotOptions five_shot{3, 5, 5, 2000, 0};
  five_shot.aggregate = Aggregate::kBest;
  EXPECT_NEAR(few_shot_accuracy(embeddings, held_out.labels, five_shot).accuracy, 0.860, 0.015);
  five_shot.aggregate = Aggregate::kPrototype;
  EXPECT_NEAR(few_shot_accuracy(embeddings, held_out.labels, five_shot).accuracy, 0.826, 0.015);
}

TEST_F(FashionMnist, RawPixelPrecisionAt1OnSeenClasses) {
  // 0.884 for all 7,000 seen test images against the 42,000 training images;
  // here 70 per class (fixed seed) keep the test fast: the same figure
  // within its sampling error.
  const ImageSet references = split_holdout_classes(sets_->train, kHeldOut).seen;
  const ImageSet queries =
      limit_per_class(split_holdout_classes(sets_->test, kHeldOut).seen, 70, 0);
  ASSERT_EQ(queries.size(), 490u);
  const double p1 = precision_at_1(raw_pixel_embeddings(queries), queries.labels,
                                   raw_pixel_embeddings(references), references.labels);
  EXPECT_NEAR(p1, 0.884, 0.04);
}

}  // namespace
}  // namespace siamese::trainer
