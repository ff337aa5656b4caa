// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The project's single ONNX writer (used by the trainer's export and by the
// test fixture generator) and the reader of a model's metadata_props.
//
// The builder only offers what OpenCV 4.6's importer runs correctly (see
// docs/platform.md): Conv always carries kernel_shape, Gemm is always
// transB=1 with W = [out, in], BatchNormalization has its five inputs.
// The ONNX protobuf types stay inside onnx_model.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace siamese {

// A float tensor, row-major.
struct Tensor {
  std::vector<int64_t> dims;
  std::vector<float> values;
};

class OnnxGraphBuilder {
 public:
  // A dimension of kDynamic in an input/output shape is the symbolic batch "N".
  static constexpr int64_t kDynamic = -1;
  static constexpr int64_t kOpset = 11;

  explicit OnnxGraphBuilder(const std::string &graph_name);
  ~OnnxGraphBuilder();
  OnnxGraphBuilder(const OnnxGraphBuilder &) = delete;
  OnnxGraphBuilder &operator=(const OnnxGraphBuilder &) = delete;

  // Graph inputs and outputs (float tensors).  Returns the name.
  std::string input(const std::string &name, const std::vector<int64_t> &dims);
  void output(const std::string &value, const std::vector<int64_t> &dims);

  // Layers.  Each returns the name of its output value.  Weights are copied.
  // weight: [out_channels, in_channels, k, k]; bias may be empty.
  std::string conv(const std::string &x, const Tensor &weight, const Tensor &bias, int stride = 1,
                   int padding = 0);
  std::string batch_norm(const std::string &x, const Tensor &gamma, const Tensor &beta,
                         const Tensor &running_mean, const Tensor &running_var, float epsilon);
  std::string relu(const std::string &x);
  // Element-wise square root (of non-negative values).
  std::string sqrt(const std::string &x);
  std::string max_pool(const std::string &x, int kernel, int stride);
  std::string global_average_pool(const std::string &x);
  std::string flatten(const std::string &x);
  // y = x W^T + b with W = [out, in] (written with transB = 1).
  std::string gemm(const std::string &x, const Tensor &weight, const Tensor &bias);
  // y = x + constant, element-wise with a broadcast constant.
  std::string add(const std::string &x, const Tensor &constant);
  // y = x * scale + shift, element-wise with broadcast constants (Mul, Add).
  std::string affine(const std::string &x, const Tensor &scale, const Tensor &shift);
  // Any other operator with integer attributes, for graphs the typed methods
  // do not cover (the test fixtures use it for operators OpenCV rejects).
  std::string node(const std::string &op, const std::vector<std::string> &inputs,
                   const std::map<std::string, int64_t> &int_attributes = {});

  // Builds the model with `metadata` in metadata_props, runs onnx::checker and
  // returns the serialised bytes.  Throws std::runtime_error on a checker failure.
  std::string serialize(const std::map<std::string, std::string> &metadata) const;
  // serialize(), then write_file_atomically(path).
  void save(const std::string &path, const std::map<std::string, std::string> &metadata) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The largest model file read (docs/limits.md).  Protobuf cannot parse a
// message above 2 GiB anyway; an embedding network for a video element is
// a few MB, so 1 GiB leaves room while bounding what a wrong path can cost.
inline constexpr std::size_t kMaxModelFileBytes = std::size_t{1} << 30;

// Reads a model file whole.  Only a regular file is opened for reading (a
// FIFO would block for ever, /dev/zero never ends), and only up to
// kMaxModelFileBytes.  Throws siamese::Error naming the path: kNotFound (no
// such file), kOpenRead (a folder, not a regular file, unreadable, too large).
std::string read_model_file(const std::string &path);

// What a reader needs to know about a model before OpenCV loads it.
struct OnnxModelInfo {
  std::map<std::string, std::string> metadata;  // metadata_props
  // Names of the graph inputs that are not initializers (the tensors a
  // caller must feed), in graph order.
  std::vector<std::string> input_names;
  // Dimensions of the first graph input that is not an initializer;
  // OnnxGraphBuilder::kDynamic where a dimension is symbolic or unknown.
  std::vector<int64_t> input_dims;
  // The distinct operator types of the graph's nodes, sorted (for messages
  // about a model OpenCV cannot import or run).
  std::vector<std::string> operators;
  // SHA-256 (hex) of the model serialised without its metadata_props: the
  // graph and weights alone (see model_fingerprint.h).
  std::string network_digest;
};

// Parses a serialised model already read into memory (so a file is read once
// and then handed to OpenCV from the same bytes).  Throws std::runtime_error
// naming `source` when the bytes are not an ONNX model.
OnnxModelInfo parse_onnx_model(const std::string &bytes, const std::string &source);

// Reads an ONNX file's metadata_props.  Throws siamese::Error as
// read_model_file() does, or std::runtime_error naming the path when it is
// not an ONNX model.
std::map<std::string, std::string> read_onnx_metadata(const std::string &path);

// Writes the model at `input_path` to `output_path` (atomically; it may be
// the same path) with its metadata_props replaced by `metadata`, the graph
// and weights untouched: how the trainer adds a cohort and calibrated
// thresholds to an existing model.  Throws std::runtime_error naming the
// path: the file cannot be opened, it is not an ONNX model, or the output
// cannot be written.
void rewrite_onnx_metadata(const std::string &input_path, const std::string &output_path,
                           const std::map<std::string, std::string> &metadata);

}  // namespace siamese
