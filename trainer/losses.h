// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Siamese losses, on L2-normalised embeddings, with options in the
// TORCH_ARG style of LibTorch's own losses.  Every loss is the batch mean.
#pragma once

#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "options.h"

namespace siamese::trainer {

// The founding pair loss: binary cross-entropy of the head's match logits
// against same (1: same class, 0: different), computed from logits for
// numerical stability (the sigmoid is part of the loss).
torch::Tensor pair_bce_loss(const torch::Tensor &logits, const torch::Tensor &same);

struct ContrastiveLossOptions {
  // Different-class pairs closer than this L2 distance are pushed apart.
  TORCH_ARG(double, margin) = 1.0;
};

// Hadsell, Chopra & LeCun (2006): same * d^2 / 2 + (1 - same) * max(margin - d, 0)^2 / 2
// with d the L2 distance of the embeddings.
torch::Tensor contrastive_loss(const torch::Tensor &h1, const torch::Tensor &h2,
                               const torch::Tensor &same,
                               const ContrastiveLossOptions &options = {});

struct TripletLossOptions {
  // On squared L2 distances; > 0, or all embeddings may collapse together.
  TORCH_ARG(double, margin) = 0.2;
};

// max(d+ - d- + margin, 0) with d+ = ||a - p||^2 and d- = ||a - n||^2.
torch::Tensor triplet_loss(const torch::Tensor &anchor, const torch::Tensor &positive,
                           const torch::Tensor &negative, const TripletLossOptions &options = {});

// Triplets mined inside one P x K batch, as index tensors into it.
struct MinedTriplets {
  torch::Tensor anchor, positive, negative;
};

struct MinedTripletLossOptions {
  TORCH_ARG(Mining, mining) = Mining::kBatchHard;
  TORCH_ARG(double, margin) = 0.2;
};

// Picks the triplets of a batch (no gradient flows through the choice):
//   kBatchHard (Hermans et al. 2017): per anchor, its farthest positive and
//     nearest negative; anchors without either are skipped.
//   kSemiHard (Schroff et al. 2015): per anchor-positive pair, the nearest
//     negative that is still farther than the positive (d- > d+); when there
//     is none, the farthest negative.
// Throws std::invalid_argument for Mining::kNone.
MinedTriplets mine_triplets(const torch::Tensor &embeddings, const torch::Tensor &labels,
                            Mining mining);

// triplet_loss() over the mined triplets; zero when the batch has none.
torch::Tensor mined_triplet_loss(const torch::Tensor &embeddings, const torch::Tensor &labels,
                                 const MinedTripletLossOptions &options = {});

struct ProxySoftmaxLossOptions {
  // Logits are cosine / temperature: a low temperature keeps the softmax
  // from saturating before the classes are apart (cosines span only [-1, 1]).
  TORCH_ARG(double, temperature) = 0.05;
};

// Normalised softmax, a proxy-based loss (Zhai & Wu 2019): one learned
// proxy per training class, and the cross-entropy of each embedding's
// cosines to the proxies, divided by the temperature.  `embeddings` are
// L2-normalised rows, `proxies` [C, D] (normalised here), `classes` each
// row's proxy index.  Where the triplet loss compares only the images a
// batch holds, every step here pulls each image to its class and away from
// every other class at once.
torch::Tensor proxy_softmax_loss(const torch::Tensor &embeddings, const torch::Tensor &proxies,
                                 const torch::Tensor &classes,
                                 const ProxySoftmaxLossOptions &options = {});

}  // namespace siamese::trainer
