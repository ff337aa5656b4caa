// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Siamese losses and the online triplet mining against values computed
// by hand.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "losses.h"
#include "model.h"

namespace siamese::trainer {
namespace {

constexpr double kTolerance = 1e-5;

torch::Tensor rows(const std::vector<std::vector<float>> &values) {
  std::vector<torch::Tensor> list;
  for (const auto &row : values) list.push_back(torch::tensor(row));
  return torch::stack(list);
}

std::vector<int64_t> as_vector(const torch::Tensor &indices) {
  const auto dense = indices.to(torch::kLong).contiguous();
  return {dense.data_ptr<int64_t>(), dense.data_ptr<int64_t>() + dense.numel()};
}

// A 1-D embedding batch of two classes whose hardest and semi-hard partners
// are worked out in the comments below (squared distances in brackets).
// Class 0 sits at x = 0, 1, 5 (indices 0-2); class 1 at x = 2, 6, 9 (3-5).
struct MiningBatch {
  torch::Tensor embeddings = torch::tensor({0.f, 1.f, 5.f, 2.f, 6.f, 9.f}).unsqueeze(1);
  torch::Tensor labels = torch::tensor({0, 0, 0, 1, 1, 1});
};

// BCE on the head's logits: -log(sigmoid(0)) = ln 2 and -log(1 - sigmoid(2)) = ln(1 + e^2).
TEST(Losses, PairBceMatchesHandValues) {
  const auto loss = pair_bce_loss(torch::tensor({0.f, 2.f}), torch::tensor({1, 0}));
  EXPECT_NEAR(loss.item<double>(), (std::log(2.0) + std::log(1 + std::exp(2.0))) / 2, kTolerance);
}

// The pair head scores |h1 - h2|: with W = [1, -1] and b = 0.5, h1 = (0.6, 0.8)
// and h2 = (0.8, 0.6) give z = (0.2, 0.2), logit 0.5, BCE ln(1 + e^-0.5) for a positive.
TEST(Losses, PairHeadScoresAbsoluteDifference) {
  PairHead head(PairHeadOptions().embedding_dim(2).hidden({}));
  {
    torch::NoGradGuard no_grad;
    auto dense = head->dense_layers();
    ASSERT_EQ(dense.size(), 1u);
    dense[0]->weight.copy_(torch::tensor({{1.f, -1.f}}));
    dense[0]->bias.fill_(0.5);
  }
  const auto logits = head->forward(rows({{0.6f, 0.8f}}), rows({{0.8f, 0.6f}}));
  ASSERT_EQ(logits.sizes(), torch::IntArrayRef({1}));
  EXPECT_NEAR(logits.item<double>(), 0.5, kTolerance);
  EXPECT_NEAR(pair_bce_loss(logits, torch::tensor({1})).item<double>(),
              std::log(1 + std::exp(-0.5)), kTolerance);
}

// Contrastive, margin 1: a positive at d = 0.5 costs d^2 / 2 = 0.125, a
// negative at d = 0.5 costs (1 - 0.5)^2 / 2 = 0.125, a negative at d = 2 costs 0.
TEST(Losses, ContrastiveMatchesHandValues) {
  const auto h1 = rows({{0, 0}, {0, 0}, {0, 0}});
  const auto h2 = rows({{0.3f, 0.4f}, {0.3f, 0.4f}, {2, 0}});
  const auto loss =
      contrastive_loss(h1, h2, torch::tensor({1, 0, 0}), ContrastiveLossOptions().margin(1.0));
  EXPECT_NEAR(loss.item<double>(), 0.25 / 3, kTolerance);
}

// Normalised softmax at temperature 1: the embedding (1, 0) against proxies
// along (1, 0) and (0, 1) has logits (1, 0), so its loss as class 0 is
// ln(1 + e^-1) and as class 1 ln(1 + e); the proxies' lengths do not count.
TEST(Losses, ProxySoftmaxMatchesHandValues) {
  const auto embeddings = rows({{1, 0}, {1, 0}});
  const auto proxies = rows({{3, 0}, {0, 0.5f}});
  const auto options = ProxySoftmaxLossOptions().temperature(1.0);
  const auto loss = proxy_softmax_loss(embeddings, proxies, torch::tensor({0, 1}), options);
  EXPECT_NEAR(loss.item<double>(), (std::log(1 + std::exp(-1.0)) + std::log(1 + std::exp(1.0))) / 2,
              kTolerance);
  // A lower temperature sharpens the softmax: the right class costs less.
  const auto sharp = proxy_softmax_loss(rows({{1, 0}}), proxies, torch::tensor({0}),
                                        ProxySoftmaxLossOptions().temperature(0.1));
  EXPECT_NEAR(sharp.item<double>(), std::log(1 + std::exp(-10.0)), kTolerance);
}

// The loss trains the proxies as well as the embeddings: a step against its
// gradient moves the right proxy towards the embedding.
TEST(Losses, ProxySoftmaxMovesTheProxyTowardsItsClass) {
  const auto embeddings = rows({{0.6f, 0.8f}});
  const auto proxies = rows({{1, 0}, {0, 1}}).requires_grad_();
  proxy_softmax_loss(embeddings, proxies, torch::tensor({0})).backward();
  ASSERT_TRUE(proxies.grad().defined());
  const auto moved = torch::nn::functional::normalize(
      proxies.detach() - 0.01 * proxies.grad(), torch::nn::functional::NormalizeFuncOptions().dim(1));
  EXPECT_GT((moved[0] * embeddings[0]).sum().item<double>(), 0.6);
}

// No violation: d+ = 1, d- = 4, margin 0.2 gives 0.  A violation: d+ = 4,
// d- = 1 gives 4 - 1 + 0.2 = 3.2.  The batch mean of both is 1.6.
TEST(Losses, TripletWithAndWithoutViolation) {
  const TripletLossOptions options = TripletLossOptions().margin(0.2);
  EXPECT_NEAR(triplet_loss(rows({{0, 0}}), rows({{1, 0}}), rows({{0, 2}}), options).item<double>(),
              0.0, kTolerance);
  EXPECT_NEAR(triplet_loss(rows({{0, 0}}), rows({{2, 0}}), rows({{1, 0}}), options).item<double>(),
              3.2, kTolerance);
  EXPECT_NEAR(
      triplet_loss(rows({{0, 0}, {0, 0}}), rows({{1, 0}, {2, 0}}), rows({{0, 2}, {1, 0}}), options)
          .item<double>(),
      1.6, kTolerance);
}

// Batch-hard: each anchor's farthest positive and nearest negative, e.g.
// anchor 2 (x = 5): positives 0 [25], 1 [16] -> 0; negatives 2 [9], 6 [1], 9 [16] -> index 4.
TEST(Losses, BatchHardPicksFarthestPositiveAndNearestNegative) {
  const MiningBatch batch;
  const MinedTriplets mined = mine_triplets(batch.embeddings, batch.labels, Mining::kBatchHard);
  EXPECT_EQ(as_vector(mined.anchor), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(as_vector(mined.positive), (std::vector<int64_t>{2, 2, 0, 5, 3, 3}));
  EXPECT_EQ(as_vector(mined.negative), (std::vector<int64_t>{3, 3, 4, 1, 2, 2}));
  // Mean of (d+ - d- + 0.2): 21.2, 15.2, 24.2, 48.2, 15.2, 33.2.
  const auto loss =
      mined_triplet_loss(batch.embeddings, batch.labels,
                         MinedTripletLossOptions().mining(Mining::kBatchHard).margin(0.2));
  EXPECT_NEAR(loss.item<double>(), 157.2 / 6, 1e-4);
}

// Semi-hard: per anchor-positive pair the nearest negative farther than the
// positive, else the farthest negative.  E.g. (0, 2): d+ = 25, negatives at
// [4, 36, 81] -> index 4; (2, 0): d+ = 25, negatives at [9, 1, 16], none
// farther -> the farthest, index 5; (3, 4): d+ = 16, negatives at [4, 1, 9],
// none farther -> index 2; (1, 0): d+ = 1, negative index 3 is at exactly [1],
// not farther -> index 4.
TEST(Losses, SemiHardPicksNearestNegativeBeyondThePositive) {
  const MiningBatch batch;
  const MinedTriplets mined = mine_triplets(batch.embeddings, batch.labels, Mining::kSemiHard);
  EXPECT_EQ(as_vector(mined.anchor), (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}));
  EXPECT_EQ(as_vector(mined.positive), (std::vector<int64_t>{1, 2, 0, 2, 0, 1, 4, 5, 3, 5, 3, 4}));
  EXPECT_EQ(as_vector(mined.negative), (std::vector<int64_t>{3, 4, 4, 4, 5, 5, 2, 2, 1, 1, 1, 2}));
}

// A batch of one class has no negatives: no triplets, a zero loss that
// still backpropagates (so a training step does not fail).
TEST(Losses, MinedLossWithoutTripletsIsZero) {
  const auto embeddings = torch::rand({4, 3}, torch::requires_grad());
  const auto loss = mined_triplet_loss(embeddings, torch::tensor({1, 1, 1, 1}));
  EXPECT_EQ(loss.item<double>(), 0.0);
  loss.backward();
  EXPECT_TRUE(embeddings.grad().defined());
}

// Mining only chooses indices; the loss still backpropagates into the embeddings.
TEST(Losses, MinedLossBackpropagatesIntoTheEmbeddings) {
  const MiningBatch batch;
  const auto embeddings = batch.embeddings.clone().requires_grad_(true);
  mined_triplet_loss(embeddings, batch.labels).backward();
  EXPECT_GT(embeddings.grad().abs().sum().item<double>(), 0.0);
}

TEST(Losses, MiningRefusesNone) {
  const MiningBatch batch;
  EXPECT_THROW(mine_triplets(batch.embeddings, batch.labels, Mining::kNone), std::invalid_argument);
}

}  // namespace
}  // namespace siamese::trainer
