// SPDX-License-Identifier: LGPL-2.1-or-later
// OnnxGraphBuilder: each layer it writes runs in OpenCV DNN and agrees with a
// direct computation in this file; the metadata and input shape read back.
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <opencv2/dnn.hpp>

#include "atomic_file.h"
#include "onnx_model.h"

namespace siamese {
namespace {

constexpr int64_t kN = OnnxGraphBuilder::kDynamic;
constexpr double kTolerance = 1e-5;

// A deterministic tensor with values in [-1, 1).
Tensor tensor(const std::vector<int64_t> &dims, uint64_t seed) {
  Tensor t{dims, {}};
  std::size_t count = 1;
  for (const int64_t d : dims) count *= static_cast<std::size_t>(d);
  cv::RNG rng(seed);
  for (std::size_t i = 0; i < count; ++i) t.values.push_back(rng.uniform(-1.f, 1.f));
  return t;
}

// A CV_32F Mat over a tensor's values (shares them).
cv::Mat as_mat(Tensor &t) {
  const std::vector<int> dims(t.dims.begin(), t.dims.end());
  return cv::Mat(static_cast<int>(dims.size()), dims.data(), CV_32F, t.values.data());
}

cv::Mat run(const OnnxGraphBuilder &graph, const cv::Mat &input) {
  const std::string bytes = graph.serialize({});
  cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
  net.setInput(input);
  return net.forward().clone();
}

void expect_close(const cv::Mat &actual, const cv::Mat &expected) {
  ASSERT_EQ(actual.total(), expected.total());
  const cv::Mat a(1, static_cast<int>(actual.total()), CV_32F, const_cast<uchar *>(actual.data));
  const cv::Mat e(1, static_cast<int>(expected.total()), CV_32F, const_cast<uchar *>(expected.data));
  EXPECT_LT(cv::norm(a, e, cv::NORM_INF), kTolerance);
}

// Direct convolution of x [N, C, H, W] with w [O, C, K, K], zero padding.
cv::Mat direct_conv(const cv::Mat &x, const cv::Mat &w, const std::vector<float> &bias, int stride,
                    int pad) {
  const int n_count = x.size[0], channels = x.size[1], height = x.size[2], width = x.size[3];
  const int outs = w.size[0], k = w.size[2];
  const int out_h = (height + 2 * pad - k) / stride + 1, out_w = (width + 2 * pad - k) / stride + 1;
  const int dims[] = {n_count, outs, out_h, out_w};
  cv::Mat y(4, dims, CV_32F);
  for (int n = 0; n < n_count; ++n)
    for (int o = 0; o < outs; ++o)
      for (int oy = 0; oy < out_h; ++oy)
        for (int ox = 0; ox < out_w; ++ox) {
          float sum = bias[o];
          for (int c = 0; c < channels; ++c)
            for (int ky = 0; ky < k; ++ky)
              for (int kx = 0; kx < k; ++kx) {
                const int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                if (iy < 0 || ix < 0 || iy >= height || ix >= width) continue;
                const int xi[] = {n, c, iy, ix}, wi[] = {o, c, ky, kx};
                sum += x.at<float>(xi) * w.at<float>(wi);
              }
          const int yi[] = {n, o, oy, ox};
          y.at<float>(yi) = sum;
        }
  return y;
}

TEST(OnnxWriter, ConvMatchesDirectComputation) {
  // Conv with stride 2, padding 1 and a bias, on a batch of two.
  OnnxGraphBuilder graph("conv");
  Tensor weight = tensor({3, 2, 3, 3}, 1);
  const Tensor bias = tensor({3}, 2);
  graph.output(graph.conv(graph.input("x", {kN, 2, 5, 5}), weight, bias, 2, 1), {kN, 3, 3, 3});
  Tensor x = tensor({2, 2, 5, 5}, 3);
  expect_close(run(graph, as_mat(x)), direct_conv(as_mat(x), as_mat(weight), bias.values, 2, 1));
}

TEST(OnnxWriter, BatchNormAndReluMatchDirectComputation) {
  // y = relu(gamma (x - mean) / sqrt(var + eps) + beta), per channel.
  OnnxGraphBuilder graph("bn");
  const Tensor gamma = tensor({3}, 4), beta = tensor({3}, 5), mean = tensor({3}, 6);
  Tensor var{{3}, {0.5f, 1.f, 2.f}};
  const float epsilon = 1e-3f;
  const std::string x_name = graph.input("x", {kN, 3, 2, 2});
  graph.output(graph.relu(graph.batch_norm(x_name, gamma, beta, mean, var, epsilon)), {kN, 3, 2, 2});
  Tensor x = tensor({1, 3, 2, 2}, 7);
  Tensor expected = x;
  for (std::size_t i = 0; i < expected.values.size(); ++i) {
    const std::size_t c = i / 4;
    const float y = gamma.values[c] * (x.values[i] - mean.values[c]) /
                        std::sqrt(var.values[c] + epsilon) + beta.values[c];
    expected.values[i] = std::max(y, 0.f);
  }
  expect_close(run(graph, as_mat(x)), as_mat(expected));
}

TEST(OnnxWriter, PoolingFlattenAndGemmMatchDirectComputation) {
  // MaxPool 2/2 -> GlobalAveragePool -> Flatten -> Gemm (y = x W^T + b).
  OnnxGraphBuilder graph("head");
  Tensor weight = tensor({3, 2}, 8);
  const Tensor bias = tensor({3}, 9);
  const std::string pooled = graph.max_pool(graph.input("x", {kN, 2, 4, 4}), 2, 2);
  const std::string flat = graph.flatten(graph.global_average_pool(pooled));
  graph.output(graph.gemm(flat, weight, bias), {kN, 3});
  Tensor x = tensor({1, 2, 4, 4}, 10);

  float features[2];
  for (int c = 0; c < 2; ++c) {
    float sum = 0;
    for (int by = 0; by < 2; ++by)
      for (int bx = 0; bx < 2; ++bx) {
        float best = -INFINITY;
        for (int y = 0; y < 2; ++y)
          for (int xx = 0; xx < 2; ++xx)
            best = std::max(best, x.values[c * 16 + (by * 2 + y) * 4 + bx * 2 + xx]);
        sum += best;
      }
    features[c] = sum / 4;
  }
  Tensor expected{{1, 3}, {}};
  for (int o = 0; o < 3; ++o)
    expected.values.push_back(bias.values[o] + features[0] * weight.values[o * 2] +
                              features[1] * weight.values[o * 2 + 1]);
  expect_close(run(graph, as_mat(x)), as_mat(expected));
}

TEST(OnnxWriter, AffineMatchesDirectComputation) {
  // y = x * scale + shift with per-channel constants.
  OnnxGraphBuilder graph("affine");
  const Tensor scale{{1, 2, 1, 1}, {2.f, -0.5f}}, shift{{1, 2, 1, 1}, {0.25f, 1.f}};
  graph.output(graph.affine(graph.input("x", {kN, 2, 2, 2}), scale, shift), {kN, 2, 2, 2});
  Tensor x = tensor({1, 2, 2, 2}, 11);
  Tensor expected = x;
  for (std::size_t i = 0; i < x.values.size(); ++i)
    expected.values[i] = x.values[i] * scale.values[i / 4] + shift.values[i / 4];
  expect_close(run(graph, as_mat(x)), as_mat(expected));
}

TEST(OnnxWriter, GenericNode) {
  // node() writes any operator: Sigmoid runs; LpNormalization is refused by OpenCV 4.6.
  OnnxGraphBuilder sigmoid("sigmoid");
  sigmoid.output(sigmoid.node("Sigmoid", {sigmoid.input("x", {kN, 3})}), {kN, 3});
  Tensor x = tensor({1, 3}, 12);
  Tensor expected = x;
  for (float &v : expected.values) v = 1.f / (1.f + std::exp(-v));
  expect_close(run(sigmoid, as_mat(x)), as_mat(expected));

  OnnxGraphBuilder normalise("lp");
  normalise.output(normalise.node("LpNormalization", {normalise.input("x", {kN, 3})},
                                  {{"axis", 1}, {"p", 2}}),
                   {kN, 3});
  EXPECT_THROW(run(normalise, as_mat(x)), cv::Exception);
}

TEST(OnnxWriter, CheckerRejectsBrokenGraphs) {
  // An operator ONNX does not define fails onnx::checker at serialisation.
  OnnxGraphBuilder graph("broken");
  graph.output(graph.node("NoSuchOperator", {graph.input("x", {kN, 3})}), {kN, 3});
  EXPECT_THROW(graph.serialize({}), std::runtime_error);
}

TEST(OnnxWriter, MetadataAndInputShapeReadBack) {
  // metadata_props and the input shape (symbolic batch) come back from bytes and files.
  OnnxGraphBuilder graph("meta");
  graph.output(graph.relu(graph.input("x", {kN, 3, 16, 12})), {kN, 3, 16, 12});
  const std::map<std::string, std::string> metadata{{"a", "1"}, {"b", "two"}};
  const std::string bytes = graph.serialize(metadata);
  const OnnxModelInfo info = parse_onnx_model(bytes, "meta");
  EXPECT_EQ(info.metadata, metadata);
  EXPECT_EQ(info.input_dims, (std::vector<int64_t>{kN, 3, 16, 12}));

  const std::string path = (std::filesystem::path(testing::TempDir()) / "siamese-meta.onnx").string();
  graph.save(path, metadata);
  EXPECT_EQ(read_onnx_metadata(path), metadata);
  std::filesystem::remove(path);
}

TEST(OnnxWriter, ReadersRefuseWhatIsNotOnnx) {
  // Text, an empty string, half a model and a missing file are errors naming the source.
  OnnxGraphBuilder graph("half");
  graph.output(graph.relu(graph.input("x", {kN, 3})), {kN, 3});
  const std::string bytes = graph.serialize({{"key", std::string(200, 'v')}});
  for (const std::string &bad : {std::string("plain text"), std::string(), bytes.substr(0, bytes.size() / 2)})
    EXPECT_THROW(parse_onnx_model(bad, "source"), std::runtime_error);
  EXPECT_THROW(read_onnx_metadata("/nonexistent/model.onnx"), std::runtime_error);
}

}  // namespace
}  // namespace siamese
