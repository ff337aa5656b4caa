// SPDX-License-Identifier: LGPL-2.1-or-later
#include "export.h"

#include <algorithm>
#include <cmath>
#include <opencv2/dnn.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "atomic_file.h"
#include "onnx_model.h"

namespace siamese::trainer {
namespace {

constexpr const char *kInputName = "input";
// The parity inputs: normalised pixels are roughly standard normal.
constexpr uint64_t kParitySeed = 2024;

Tensor to_onnx_tensor(const torch::Tensor &tensor) {
  // contiguous() also undoes a channels-last layout: ONNX wants NCHW order.
  const torch::Tensor dense = tensor.detach().to(torch::kFloat).contiguous();
  Tensor out;
  out.dims.assign(dense.sizes().begin(), dense.sizes().end());
  out.values.assign(dense.data_ptr<float>(), dense.data_ptr<float>() + dense.numel());
  return out;
}

int single(const torch::ExpandingArray<2> &pair, const char *what) {
  if ((*pair)[0] != (*pair)[1])
    throw std::logic_error(std::string("cannot export a non-square ") + what);
  return static_cast<int>((*pair)[0]);
}

template <typename BatchNorm>
std::string batch_norm(OnnxGraphBuilder &graph, const std::string &x, const BatchNorm &norm) {
  return graph.batch_norm(x, to_onnx_tensor(norm.weight), to_onnx_tensor(norm.bias),
                          to_onnx_tensor(norm.running_mean), to_onnx_tensor(norm.running_var),
                          static_cast<float>(norm.options.eps()));
}

// Writes one layer of the embedding net; returns the name of its output.
std::string write_layer(OnnxGraphBuilder &graph, const std::string &x,
                        const std::shared_ptr<torch::nn::Module> &layer) {
  if (const auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(layer)) {
    const auto &o = conv->options;
    const auto *padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
    if (!padding || o.groups() != 1 || single(o.dilation(), "dilation") != 1)
      throw std::logic_error("cannot export a Conv2d with symbolic padding, groups or dilation");
    return graph.conv(x, to_onnx_tensor(conv->weight),
                      o.bias() ? to_onnx_tensor(conv->bias) : Tensor{},
                      single(o.stride(), "stride"), single(*padding, "padding"));
  }
  if (const auto norm = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(layer))
    return batch_norm(graph, x, *norm);
  if (const auto norm = std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(layer))
    return batch_norm(graph, x, *norm);
  if (std::dynamic_pointer_cast<torch::nn::ReLUImpl>(layer)) return graph.relu(x);
  if (const auto pool = std::dynamic_pointer_cast<torch::nn::MaxPool2dImpl>(layer)) {
    const auto &o = pool->options;
    if (single(o.padding(), "padding") != 0 || single(o.dilation(), "dilation") != 1 ||
        o.ceil_mode())
      throw std::logic_error("cannot export a MaxPool2d with padding, dilation or ceil mode");
    return graph.max_pool(x, single(o.kernel_size(), "kernel"), single(o.stride(), "stride"));
  }
  if (const auto pool = std::dynamic_pointer_cast<torch::nn::AdaptiveAvgPool2dImpl>(layer)) {
    const auto size = *pool->options.output_size();
    if (size[0] != 1 || size[1] != 1)
      throw std::logic_error("cannot export an adaptive pooling to more than 1 x 1");
    return graph.global_average_pool(x);
  }
  if (std::dynamic_pointer_cast<torch::nn::FlattenImpl>(layer)) return graph.flatten(x);
  if (const auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer))
    return graph.gemm(x, to_onnx_tensor(linear->weight), to_onnx_tensor(linear->bias));
  throw std::logic_error("cannot export layer " + layer->name());
}

std::vector<float> flat_values(const torch::Tensor &tensor) {
  const torch::Tensor dense = tensor.detach().to(torch::kFloat).contiguous();
  return {dense.data_ptr<float>(), dense.data_ptr<float>() + dense.numel()};
}

}  // namespace

siamese::PairHead head_weights(const PairHead &head) {
  siamese::PairHead weights;
  for (const torch::nn::Linear &linear : head->dense_layers()) {
    DenseLayer layer;
    layer.in = static_cast<int>(linear->options.in_features());
    layer.out = static_cast<int>(linear->options.out_features());
    layer.weight = flat_values(linear->weight);
    layer.bias = flat_values(linear->bias);
    weights.layers.push_back(std::move(layer));
  }
  return weights;
}

std::string to_onnx(EmbeddingNet net, const ModelContract &contract) {
  const Preprocessing &input = contract.input;
  OnnxGraphBuilder graph("siamese_embedding");
  std::string value = graph.input(
      kInputName, {OnnxGraphBuilder::kDynamic, input.channels(), input.height, input.width});
  for (const auto &layer : *net->backbone()) value = write_layer(graph, value, layer.ptr());
  switch (net->options().output()) {
    case EmbeddingOutput::kProjection:
      for (const auto &layer : *net->projector()) value = write_layer(graph, value, layer.ptr());
      value = write_layer(graph, value, net->projection().ptr());
      break;
    case EmbeddingOutput::kPooled: break;
    case EmbeddingOutput::kPooledSqrt: value = graph.sqrt(value); break;
  }
  if (net->centre().defined()) value = graph.add(value, to_onnx_tensor(-net->centre()));
  graph.output(value, {OnnxGraphBuilder::kDynamic, net->output_dim()});
  return graph.serialize(contract.to_metadata());
}

std::vector<ParityResult> check_parity(EmbeddingNet net, const std::string &onnx_bytes,
                                       int channels, int height, int width) {
  const int largest = *std::max_element(kParityBatches.begin(), kParityBatches.end());
  std::mt19937_64 rng(kParitySeed);
  std::normal_distribution<float> normal;
  std::vector<float> pixels(static_cast<std::size_t>(largest) * channels * height * width);
  for (float &v : pixels) v = normal(rng);

  cv::dnn::Net dnn;
  try {
    dnn = cv::dnn::readNetFromONNX(onnx_bytes.data(), onnx_bytes.size());
  } catch (const cv::Exception &e) {
    throw std::runtime_error(std::string("OpenCV DNN cannot load the exported model: ") + e.what());
  }
  EvalScope eval({net.ptr().get()});
  torch::NoGradGuard no_grad;
  std::vector<ParityResult> results;
  for (const int batch : kParityBatches) {
    const auto input = torch::from_blob(pixels.data(), {batch, channels, height, width}).clone();
    const torch::Tensor expected = net->embed(input).contiguous();

    const int shape[] = {batch, channels, height, width};
    const cv::Mat blob(4, shape, CV_32F, pixels.data());
    cv::Mat actual;
    try {
      dnn.setInput(blob, kInputName);
      actual = dnn.forward().reshape(1, batch).clone();
    } catch (const cv::Exception &e) {
      throw std::runtime_error(std::string("OpenCV DNN cannot run the exported model: ") +
                               e.what());
    }
    if (actual.cols != expected.size(1))
      throw std::runtime_error("OpenCV DNN gives " + std::to_string(actual.cols) +
                               " values per image, LibTorch " + std::to_string(expected.size(1)));
    for (int row = 0; row < actual.rows; ++row) cv::normalize(actual.row(row), actual.row(row));
    const cv::Mat reference(batch, static_cast<int>(expected.size(1)), CV_32F,
                            expected.data_ptr<float>());
    results.push_back({batch, cv::norm(actual, reference, cv::NORM_INF)});
  }
  return results;
}

std::vector<ParityResult> export_onnx(EmbeddingNet net, const ModelContract &contract,
                                      const std::string &path) {
  const std::string bytes = to_onnx(net, contract);
  const auto results = check_parity(net, bytes, contract.input.channels(), contract.input.height,
                                    contract.input.width);
  for (const ParityResult &result : results) {
    if (!(result.max_abs_difference <= kParityTolerance)) {
      std::ostringstream message;
      message << "export to " << path << " failed the parity check: at batch " << result.batch
              << " OpenCV DNN and LibTorch embeddings differ by " << result.max_abs_difference
              << " (limit " << kParityTolerance << "); nothing was written";
      throw std::runtime_error(message.str());
    }
  }
  write_file_atomically(path, bytes);
  return results;
}

}  // namespace siamese::trainer
