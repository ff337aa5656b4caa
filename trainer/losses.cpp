// SPDX-License-Identifier: LGPL-2.1-or-later
#include "losses.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/normalization.h>

#include <stdexcept>

namespace siamese::trainer {
namespace {

// Keeps sqrt() differentiable where two embeddings coincide.
constexpr double kDistanceEpsilon = 1e-12;

torch::Tensor squared_distance(const torch::Tensor &a, const torch::Tensor &b) {
  return (a - b).pow(2).sum(1);
}

// [N, N] squared L2 distances between all rows.
torch::Tensor pairwise_squared_distances(const torch::Tensor &embeddings) {
  return (embeddings.unsqueeze(1) - embeddings.unsqueeze(0)).pow(2).sum(2);
}

MinedTriplets batch_hard(const torch::Tensor &distances, const torch::Tensor &same,
                         const torch::Tensor &different) {
  const auto big = distances.max() + 1;
  // Masked-out entries are pushed to the wrong end of each row's search.
  const auto positive = distances.masked_fill(same.logical_not(), -1).argmax(1);
  const auto negative = distances.masked_fill(different.logical_not(), big).argmin(1);
  const auto usable = same.any(1).logical_and(different.any(1));
  const auto anchor = torch::arange(distances.size(0)).masked_select(usable);
  return {anchor, positive.masked_select(usable), negative.masked_select(usable)};
}

MinedTriplets semi_hard(const torch::Tensor &distances, const torch::Tensor &same,
                        const torch::Tensor &different) {
  const auto pairs = same.nonzero();  // [M, 2] anchor-positive pairs
  const auto anchor = pairs.select(1, 0);
  const auto positive = pairs.select(1, 1);
  const auto to_negatives = distances.index_select(0, anchor);   // [M, N]
  const auto negative_mask = different.index_select(0, anchor);  // [M, N]
  const auto positive_distance = to_negatives.gather(1, positive.unsqueeze(1));
  const auto big = distances.max() + 1;
  const auto farther = negative_mask.logical_and(to_negatives > positive_distance);
  const auto nearest_farther = to_negatives.masked_fill(farther.logical_not(), big).argmin(1);
  const auto farthest = to_negatives.masked_fill(negative_mask.logical_not(), -1).argmax(1);
  const auto negative = torch::where(farther.any(1), nearest_farther, farthest);
  const auto usable = negative_mask.any(1);
  return {anchor.masked_select(usable), positive.masked_select(usable),
          negative.masked_select(usable)};
}

}  // namespace

torch::Tensor pair_bce_loss(const torch::Tensor &logits, const torch::Tensor &same) {
  return torch::nn::functional::binary_cross_entropy_with_logits(logits, same.to(logits.dtype()));
}

torch::Tensor contrastive_loss(const torch::Tensor &h1, const torch::Tensor &h2,
                               const torch::Tensor &same, const ContrastiveLossOptions &options) {
  const auto squared = squared_distance(h1, h2);
  const auto distance = (squared + kDistanceEpsilon).sqrt();
  const auto pushed = (options.margin() - distance).clamp_min(0).pow(2);
  const auto y = same.to(h1.dtype());
  return (0.5 * (y * squared + (1 - y) * pushed)).mean();
}

torch::Tensor triplet_loss(const torch::Tensor &anchor, const torch::Tensor &positive,
                           const torch::Tensor &negative, const TripletLossOptions &options) {
  return (squared_distance(anchor, positive) - squared_distance(anchor, negative) +
          options.margin())
      .clamp_min(0)
      .mean();
}

MinedTriplets mine_triplets(const torch::Tensor &embeddings, const torch::Tensor &labels,
                            Mining mining) {
  torch::NoGradGuard no_grad;
  const auto distances = pairwise_squared_distances(embeddings.detach());
  const auto equal = labels.unsqueeze(1) == labels.unsqueeze(0);
  const auto same = equal.logical_and(torch::eye(labels.size(0), torch::kBool).logical_not());
  const auto different = equal.logical_not();
  switch (mining) {
    case Mining::kBatchHard: return batch_hard(distances, same, different);
    case Mining::kSemiHard: return semi_hard(distances, same, different);
    case Mining::kNone: break;
  }
  throw std::invalid_argument("mine_triplets() needs batch-hard or semi-hard mining");
}

torch::Tensor mined_triplet_loss(const torch::Tensor &embeddings, const torch::Tensor &labels,
                                 const MinedTripletLossOptions &options) {
  const MinedTriplets triplets = mine_triplets(embeddings, labels, options.mining());
  if (triplets.anchor.numel() == 0) return (embeddings * 0).sum();
  return triplet_loss(
      embeddings.index_select(0, triplets.anchor), embeddings.index_select(0, triplets.positive),
      embeddings.index_select(0, triplets.negative), TripletLossOptions().margin(options.margin()));
}

torch::Tensor proxy_softmax_loss(const torch::Tensor &embeddings, const torch::Tensor &proxies,
                                 const torch::Tensor &classes,
                                 const ProxySoftmaxLossOptions &options) {
  namespace F = torch::nn::functional;
  const auto unit_proxies = F::normalize(proxies, F::NormalizeFuncOptions().dim(1));
  const auto logits = embeddings.matmul(unit_proxies.t()) / options.temperature();
  return F::cross_entropy(logits, classes);
}

}  // namespace siamese::trainer
