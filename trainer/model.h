// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The networks.  One embedding network f(x) is shared by every branch of a
// Siamese (pair) or triplet network; the pair head scores |f(x1) - f(x2)|.
// Only layers the ONNX export and OpenCV 4.6's importer support appear here:
// Conv3x3 (no bias: BatchNorm follows), BatchNorm (2-D and 1-D), ReLU,
// MaxPool, global average pooling, Flatten, Linear, an element-wise square
// root and the subtraction of a constant centre.
#pragma once

#include <torch/nn.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "options.h"

namespace siamese::trainer {

struct EmbeddingNetOptions {
  TORCH_ARG(int64_t, in_channels) = 1;
  // One stage per entry: convs_per_stage x (Conv3x3 -> BatchNorm -> ReLU),
  // then a 2x2 max-pool between stages.
  TORCH_ARG(std::vector<int64_t>, channels) = std::vector<int64_t>{32, 64, 128};
  TORCH_ARG(int64_t, convs_per_stage) = 1;
  // The size of the projection (the last Linear layer) the losses see.
  TORCH_ARG(int64_t, embedding_dim) = 64;
  // > 0: Linear -> BatchNorm -> ReLU of this width before the projection.
  TORCH_ARG(int64_t, projector_hidden) = 0;
  // What forward() returns and the ONNX graph computes.
  TORCH_ARG(EmbeddingOutput, output) = EmbeddingOutput::kProjection;
};

// backbone (conv stages -> global average pooling -> flatten) -> projector
// (empty, or one hidden layer) -> projection.  The losses always train the
// projection; the network deploys either it or
// the pooled features under it (optionally square-rooted), which measure
// better on classes the losses never saw: the projection specialises to the
// training classes (models/README.md).
class EmbeddingNetImpl : public torch::nn::Module {
 public:
  explicit EmbeddingNetImpl(const EmbeddingNetOptions &options = {});

  // The deployed embedding, not normalised: exactly what the exported ONNX
  // graph computes.
  torch::Tensor forward(const torch::Tensor &images);
  // forward(), L2-normalised: what the metrics and thresholds measure (the
  // element normalises the ONNX output the same way).
  torch::Tensor embed(const torch::Tensor &images);
  // The L2-normalised projection, which the losses and the pair head see;
  // equal to embed() when the projection is deployed.
  torch::Tensor project(const torch::Tensor &images);

  // From now on forward() subtracts `centre` (output_dim() values) from its
  // rows, and the export writes the subtraction into the graph.
  void set_centre(const torch::Tensor &centre);
  // The subtracted centre; undefined when there is none.
  const torch::Tensor &centre() const { return centre_; }

  // The size of forward()'s rows.
  int64_t output_dim() const;
  const EmbeddingNetOptions &options() const { return options_; }
  // The layers before the projection, in order, for the export to walk.
  const torch::nn::Sequential &backbone() const { return backbone_; }
  // The layers from the pooled features to the projection, in order.
  const torch::nn::Sequential &projector() const { return projector_; }
  const torch::nn::Linear &projection() const { return projection_; }

 private:
  torch::Tensor head_of(const torch::Tensor &pooled);
  torch::Tensor uncentred(const torch::Tensor &pooled);

  EmbeddingNetOptions options_;
  torch::nn::Sequential backbone_;
  torch::nn::Sequential projector_;
  torch::nn::Linear projection_{nullptr};
  torch::Tensor centre_;  // a buffer once set
};
TORCH_MODULE(EmbeddingNet);

struct PairHeadOptions {
  TORCH_ARG(int64_t, embedding_dim) = 64;
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{32};
};

// z = |h1 - h2| -> Linear -> ReLU -> ... -> Linear(1): the match logit; the
// sigmoid of it is the match probability.
class PairHeadImpl : public torch::nn::Module {
 public:
  explicit PairHeadImpl(const PairHeadOptions &options = {});

  // h1, h2: [N, D] normalised embeddings.  Returns [N] logits.
  torch::Tensor forward(const torch::Tensor &h1, const torch::Tensor &h2);
  // The Linear layers in order (ReLU between them), for the export.
  std::vector<torch::nn::Linear> dense_layers() const;

 private:
  torch::nn::Sequential layers_;
};
TORCH_MODULE(PairHead);

// The pair network: both images go through the one embedding net (as one
// batch, so BatchNorm sees them together); an optional head scores the pair.
class SiameseNetImpl : public torch::nn::Module {
 public:
  SiameseNetImpl(EmbeddingNet embedding, PairHead head);

  // Normalised embeddings of x1 and x2.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor &x1, const torch::Tensor &x2);
  // The head's match logits for x1, x2 ([N]); needs a head.
  torch::Tensor match_logits(const torch::Tensor &x1, const torch::Tensor &x2);

 private:
  EmbeddingNet embedding_;
  PairHead head_{nullptr};
};
TORCH_MODULE(SiameseNet);

struct TripletEmbeddings {
  torch::Tensor anchor, positive, negative;
};

// The triplet network: anchor, positive and negative through the one
// embedding net, as one batch.
class TripletNetImpl : public torch::nn::Module {
 public:
  explicit TripletNetImpl(EmbeddingNet embedding);
  TripletEmbeddings forward(const torch::Tensor &anchor, const torch::Tensor &positive,
                            const torch::Tensor &negative);

 private:
  EmbeddingNet embedding_;
};
TORCH_MODULE(TripletNet);

// Stores the module's 4-D weights channels-last (NHWC), the layout in which
// oneDNN's CPU convolutions run fastest; inputs should be channels-last too.
// Values, names and serialisation are unchanged.
void use_channels_last(torch::nn::Module &module);

// Puts modules in eval mode for a scope (BatchNorm then uses its running
// statistics) and gives each its previous mode back afterwards.
class EvalScope {
 public:
  explicit EvalScope(std::vector<torch::nn::Module *> modules);
  ~EvalScope();
  EvalScope(const EvalScope &) = delete;
  EvalScope &operator=(const EvalScope &) = delete;

 private:
  std::vector<std::pair<torch::nn::Module *, bool>> modes_;
};

}  // namespace siamese::trainer
