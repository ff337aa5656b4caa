// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The ONNX export: OpenCV DNN computes the same embeddings as LibTorch at
// batch 1 and 8 with randomised BatchNorm statistics, the model contract
// travels in the metadata, and the parity check notices a wrong model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "export.h"
#include "model.h"
#include "onnx_model.h"

namespace siamese::trainer {
namespace {

// A non-square, colour input so that a swapped height / width or channel
// order cannot pass unnoticed.
constexpr int kChannels = 3;
constexpr int kHeight = 20;
constexpr int kWidth = 24;

template <typename BatchNorm>
void randomise_statistics(BatchNorm &norm) {
  norm.running_mean.uniform_(-1, 1);
  norm.running_var.uniform_(0.5, 2);
  norm.weight.uniform_(0.5, 1.5);
  norm.bias.uniform_(-0.5, 0.5);
}

EmbeddingNet make_net(uint64_t seed, EmbeddingOutput output = EmbeddingOutput::kProjection,
                      int64_t projector_hidden = 0) {
  torch::manual_seed(seed);
  EmbeddingNet net(EmbeddingNetOptions()
                       .in_channels(kChannels)
                       .channels({8, 12})
                       .convs_per_stage(2)
                       .embedding_dim(16)
                       .projector_hidden(projector_hidden)
                       .output(output));
  // Untrained BatchNorm layers are the identity (mean 0, variance 1, scale 1,
  // shift 0); random statistics make the export prove it carries them.
  torch::NoGradGuard no_grad;
  for (const auto &layer : *net->backbone())
    if (const auto norm = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(layer.ptr()))
      randomise_statistics(*norm);
  for (const auto &layer : *net->projector())
    if (const auto norm = std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(layer.ptr()))
      randomise_statistics(*norm);
  return net;
}

ModelContract make_contract() {
  ModelContract contract;
  contract.input.width = kWidth;
  contract.input.height = kHeight;
  contract.input.color = ColorOrder::kRgb;
  contract.input.mean = {120.f, 110.f, 100.f};
  contract.input.scale = {0.02f, 0.021f, 0.022f};
  contract.embedding_dim = 16;
  contract.thresholds[Metric::kCosine] = 0.5f;
  contract.training_summary = "{\"test\": true}";
  return contract;
}

TEST(Export, OpenCvMatchesLibTorchAtBatchOneAndEight) {
  EmbeddingNet net = make_net(1);
  const auto results = check_parity(net, to_onnx(net, make_contract()), kChannels, kHeight, kWidth);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].batch, 1);
  EXPECT_EQ(results[1].batch, 8);
  for (const ParityResult &result : results) EXPECT_LE(result.max_abs_difference, kParityTolerance);
}

// A net deploying its pooled features exports the backbone alone (then the
// square root): the 12 pooled channels, not the 16-wide projection, and
// OpenCV agrees with LibTorch.
TEST(Export, PooledOutputsStopBeforeTheProjection) {
  for (const EmbeddingOutput output : {EmbeddingOutput::kPooled, EmbeddingOutput::kPooledSqrt}) {
    SCOPED_TRACE(to_string(output));
    EmbeddingNet net = make_net(1, output);
    torch::NoGradGuard no_grad;
    net->projection()->weight.zero_();  // an exported projection would give its bias alone
    EXPECT_EQ(net->output_dim(), 12);
    EXPECT_EQ(net->forward(torch::randn({2, kChannels, kHeight, kWidth})).size(1), 12);
    ModelContract contract = make_contract();
    contract.embedding_dim = 12;
    const auto results = check_parity(net, to_onnx(net, contract), kChannels, kHeight, kWidth);
    for (const ParityResult &result : results)
      EXPECT_LE(result.max_abs_difference, kParityTolerance);
  }
  // The two differ: the square root is in the graph.
  const auto input = torch::rand({2, kChannels, kHeight, kWidth});
  EXPECT_FALSE(torch::allclose(make_net(1, EmbeddingOutput::kPooled)->embed(input),
                               make_net(1, EmbeddingOutput::kPooledSqrt)->embed(input)));
}

// A hidden projector layer (Linear -> BatchNorm1d -> ReLU) travels with the
// projection it feeds, and OpenCV runs its BatchNorm on [N, C] rows.
TEST(Export, ProjectorLayerIsExportedWithTheProjection) {
  EmbeddingNet net = make_net(1, EmbeddingOutput::kProjection, 10);
  ASSERT_EQ(net->projector()->size(), 3u);
  for (const ParityResult &result :
       check_parity(net, to_onnx(net, make_contract()), kChannels, kHeight, kWidth))
    EXPECT_LE(result.max_abs_difference, kParityTolerance);
  // The projector is in the graph: the plain net's export gives other values.
  const std::string without = to_onnx(make_net(1), make_contract());
  for (const ParityResult &result : check_parity(net, without, kChannels, kHeight, kWidth))
    EXPECT_GT(result.max_abs_difference, 100 * kParityTolerance);
}

// A centred net subtracts its centre in the graph too.
TEST(Export, CentreIsSubtractedInTheGraph) {
  EmbeddingNet net = make_net(1, EmbeddingOutput::kPooledSqrt);
  const std::string uncentred = to_onnx(net, make_contract());
  net->set_centre(torch::rand({12}));
  for (const ParityResult &result :
       check_parity(net, to_onnx(net, make_contract()), kChannels, kHeight, kWidth))
    EXPECT_LE(result.max_abs_difference, kParityTolerance);
  for (const ParityResult &result : check_parity(net, uncentred, kChannels, kHeight, kWidth))
    EXPECT_GT(result.max_abs_difference, 100 * kParityTolerance);
  EXPECT_THROW(net->set_centre(torch::zeros({16})), std::invalid_argument);
}

// The check can fail: a model exported from other weights is caught.
TEST(Export, ParityCheckNoticesAnotherModel) {
  EmbeddingNet net = make_net(1);
  const std::string other = to_onnx(make_net(2), make_contract());
  for (const ParityResult &result : check_parity(net, other, kChannels, kHeight, kWidth))
    EXPECT_GT(result.max_abs_difference, 100 * kParityTolerance);
}

// Evaluation mode is restored as it was: the parity check must not switch a
// training run's BatchNorm layers to running statistics.
TEST(Export, ParityCheckKeepsTrainingMode) {
  EmbeddingNet net = make_net(1);
  net->train();
  check_parity(net, to_onnx(net, make_contract()), kChannels, kHeight, kWidth);
  EXPECT_TRUE(net->is_training());
}

TEST(Export, WritesTheContractAndTheHeadWeights) {
  EmbeddingNet net = make_net(3);
  PairHead head(PairHeadOptions().embedding_dim(16).hidden({4}));
  ModelContract contract = make_contract();
  contract.metric = Metric::kLearned;
  contract.head = head_weights(head);
  const std::string path = ::testing::TempDir() + "/export-test.onnx";
  std::remove(path.c_str());
  export_onnx(net, contract, path);

  const ModelContract read = ModelContract::from_metadata(read_onnx_metadata(path));
  EXPECT_EQ(read.input.width, kWidth);
  EXPECT_EQ(read.input.height, kHeight);
  EXPECT_EQ(read.input.color, ColorOrder::kRgb);
  EXPECT_EQ(read.input.mean, contract.input.mean);
  EXPECT_EQ(read.input.scale, contract.input.scale);
  EXPECT_EQ(read.embedding_dim, 16);
  EXPECT_EQ(read.metric, Metric::kLearned);
  EXPECT_EQ(read.thresholds, contract.thresholds);
  EXPECT_EQ(read.training_summary, contract.training_summary);
  ASSERT_EQ(read.head.layers.size(), 2u);
  EXPECT_EQ(read.head.layers[0].in, 16);
  EXPECT_EQ(read.head.layers[0].out, 4);
  EXPECT_EQ(read.head.layers[1].out, 1);
  const auto dense = head->dense_layers();
  EXPECT_FLOAT_EQ(read.head.layers[0].weight[5], dense[0]->weight.flatten()[5].item<float>());
  EXPECT_FLOAT_EQ(read.head.layers[1].bias[0], dense[1]->bias[0].item<float>());
  EXPECT_NO_THROW(read.head.validate(16));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace siamese::trainer
