// SPDX-License-Identifier: LGPL-2.1-or-later
#include "onnx_model.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "atomic_file.h"
#include "digest.h"
#include "errors.h"

namespace siamese {
namespace {

// IR version 6 is the one that goes with opset 11.
constexpr int64_t kIrVersion = onnx::IR_VERSION_2019_9_19;
constexpr const char *kDynamicBatchName = "N";

void set_shape(onnx::ValueInfoProto &info, const std::string &name,
               const std::vector<int64_t> &dims) {
  info.set_name(name);
  auto *tensor_type = info.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(onnx::TensorProto::FLOAT);
  auto *shape = tensor_type->mutable_shape();
  for (const int64_t dim : dims) {
    auto *d = shape->add_dim();
    if (dim == OnnxGraphBuilder::kDynamic)
      d->set_dim_param(kDynamicBatchName);
    else
      d->set_dim_value(dim);
  }
}

onnx::AttributeProto &add_ints(onnx::NodeProto &node, const std::string &name,
                               const std::vector<int64_t> &values) {
  auto *attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INTS);
  for (const int64_t v : values) attribute->add_ints(v);
  return *attribute;
}

void add_int(onnx::NodeProto &node, const std::string &name, int64_t value) {
  auto *attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

void add_float(onnx::NodeProto &node, const std::string &name, float value) {
  auto *attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::FLOAT);
  attribute->set_f(value);
}

void check_tensor(const Tensor &tensor, const std::string &what) {
  std::size_t count = 1;
  for (const int64_t d : tensor.dims) count *= static_cast<std::size_t>(d);
  if (tensor.dims.empty() || count != tensor.values.size())
    throw std::invalid_argument(what + ": tensor dimensions do not match its " +
                                std::to_string(tensor.values.size()) + " values");
}

}  // namespace

struct OnnxGraphBuilder::Impl {
  onnx::GraphProto graph;
  int next_id = 0;

  std::string fresh_name(const std::string &op) { return op + "_" + std::to_string(next_id++); }

  std::string initializer(const std::string &base, const Tensor &tensor) {
    check_tensor(tensor, base);
    const std::string name = fresh_name(base);
    auto *proto = graph.add_initializer();
    proto->set_name(name);
    proto->set_data_type(onnx::TensorProto::FLOAT);
    for (const int64_t d : tensor.dims) proto->add_dims(d);
    proto->mutable_float_data()->Add(tensor.values.begin(), tensor.values.end());
    return name;
  }

  onnx::NodeProto &node(const std::string &op, const std::vector<std::string> &inputs,
                        std::string &output) {
    output = fresh_name(op);
    auto *proto = graph.add_node();
    proto->set_op_type(op);
    proto->set_name(output);
    for (const auto &input : inputs) proto->add_input(input);
    proto->add_output(output);
    return *proto;
  }
};

OnnxGraphBuilder::OnnxGraphBuilder(const std::string &graph_name) : impl_(std::make_unique<Impl>()) {
  impl_->graph.set_name(graph_name);
}

OnnxGraphBuilder::~OnnxGraphBuilder() = default;

std::string OnnxGraphBuilder::input(const std::string &name, const std::vector<int64_t> &dims) {
  set_shape(*impl_->graph.add_input(), name, dims);
  return name;
}

void OnnxGraphBuilder::output(const std::string &value, const std::vector<int64_t> &dims) {
  set_shape(*impl_->graph.add_output(), value, dims);
}

std::string OnnxGraphBuilder::conv(const std::string &x, const Tensor &weight, const Tensor &bias,
                                   int stride, int padding) {
  if (weight.dims.size() != 4) throw std::invalid_argument("Conv weight must be 4-D");
  std::vector<std::string> inputs{x, impl_->initializer("conv_weight", weight)};
  if (!bias.values.empty()) inputs.push_back(impl_->initializer("conv_bias", bias));
  std::string y;
  auto &node = impl_->node("Conv", inputs, y);
  // OpenCV 4.6 needs kernel_shape even though ONNX can infer it.
  add_ints(node, "kernel_shape", {weight.dims[2], weight.dims[3]});
  add_ints(node, "strides", {stride, stride});
  add_ints(node, "pads", {padding, padding, padding, padding});
  return y;
}

std::string OnnxGraphBuilder::batch_norm(const std::string &x, const Tensor &gamma,
                                         const Tensor &beta, const Tensor &running_mean,
                                         const Tensor &running_var, float epsilon) {
  std::string y;
  auto &node = impl_->node("BatchNormalization",
                           {x, impl_->initializer("bn_scale", gamma),
                            impl_->initializer("bn_bias", beta),
                            impl_->initializer("bn_mean", running_mean),
                            impl_->initializer("bn_var", running_var)},
                           y);
  add_float(node, "epsilon", epsilon);
  return y;
}

std::string OnnxGraphBuilder::relu(const std::string &x) {
  std::string y;
  impl_->node("Relu", {x}, y);
  return y;
}

std::string OnnxGraphBuilder::sqrt(const std::string &x) {
  std::string y;
  impl_->node("Sqrt", {x}, y);
  return y;
}

std::string OnnxGraphBuilder::max_pool(const std::string &x, int kernel, int stride) {
  std::string y;
  auto &node = impl_->node("MaxPool", {x}, y);
  add_ints(node, "kernel_shape", {kernel, kernel});
  add_ints(node, "strides", {stride, stride});
  return y;
}

std::string OnnxGraphBuilder::global_average_pool(const std::string &x) {
  std::string y;
  impl_->node("GlobalAveragePool", {x}, y);
  return y;
}

std::string OnnxGraphBuilder::flatten(const std::string &x) {
  std::string y;
  add_int(impl_->node("Flatten", {x}, y), "axis", 1);
  return y;
}

std::string OnnxGraphBuilder::gemm(const std::string &x, const Tensor &weight, const Tensor &bias) {
  if (weight.dims.size() != 2) throw std::invalid_argument("Gemm weight must be [out, in]");
  std::string y;
  // OpenCV 4.6 silently computes X W^T whatever transB says; writing W as
  // [out, in] with transB = 1 makes ONNX and OpenCV agree.
  auto &node = impl_->node("Gemm",
                           {x, impl_->initializer("fc_weight", weight),
                            impl_->initializer("fc_bias", bias)},
                           y);
  add_int(node, "transB", 1);
  return y;
}

std::string OnnxGraphBuilder::affine(const std::string &x, const Tensor &scale,
                                     const Tensor &shift) {
  std::string scaled;
  impl_->node("Mul", {x, impl_->initializer("scale", scale)}, scaled);
  return add(scaled, shift);
}

std::string OnnxGraphBuilder::add(const std::string &x, const Tensor &constant) {
  std::string y;
  impl_->node("Add", {x, impl_->initializer("shift", constant)}, y);
  return y;
}

std::string OnnxGraphBuilder::node(const std::string &op, const std::vector<std::string> &inputs,
                                   const std::map<std::string, int64_t> &int_attributes) {
  std::string y;
  auto &proto = impl_->node(op, inputs, y);
  for (const auto &[name, value] : int_attributes) add_int(proto, name, value);
  return y;
}

std::string OnnxGraphBuilder::serialize(const std::map<std::string, std::string> &metadata) const {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("siamesematch");
  model.set_producer_version("1");
  auto *opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  *model.mutable_graph() = impl_->graph;
  for (const auto &[key, value] : metadata) {
    auto *prop = model.add_metadata_props();
    prop->set_key(key);
    prop->set_value(value);
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception &error) {
    throw std::runtime_error(std::string("the ONNX checker rejected the model: ") + error.what());
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw std::runtime_error("cannot serialise the ONNX model");
  return bytes;
}

void OnnxGraphBuilder::save(const std::string &path,
                            const std::map<std::string, std::string> &metadata) const {
  write_file_atomically(path, serialize(metadata));
}

namespace {

// Closes a file descriptor on every way out.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string megabytes(std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Bytes per element of a tensor stored in raw_data; 0 for a type that cannot
// be (strings) or that this ONNX version does not define.
std::size_t raw_element_bytes(int data_type) {
  switch (data_type) {
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::BOOL:
      return 1;
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      return 2;
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::UINT32:
      return 4;
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::UINT64:
    case onnx::TensorProto::COMPLEX64:
      return 8;
    case onnx::TensorProto::COMPLEX128:
      return 16;
    default:
      return 0;
  }
}

// How many values a tensor holds in the typed field its type uses (ONNX's
// rules: small integer and half-precision types live in int32_data).
std::size_t typed_values(const onnx::TensorProto &tensor) {
  switch (tensor.data_type()) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::COMPLEX64:
      return static_cast<std::size_t>(tensor.float_data_size());
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::COMPLEX128:
      return static_cast<std::size_t>(tensor.double_data_size());
    case onnx::TensorProto::INT64:
      return static_cast<std::size_t>(tensor.int64_data_size());
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64:
      return static_cast<std::size_t>(tensor.uint64_data_size());
    case onnx::TensorProto::STRING:
      return static_cast<std::size_t>(tensor.string_data_size());
    default:
      return static_cast<std::size_t>(tensor.int32_data_size());
  }
}

// A complex number is stored as two reals, in typed fields and raw bytes.
std::size_t values_per_element(int data_type) {
  return data_type == onnx::TensorProto::COMPLEX64 || data_type == onnx::TensorProto::COMPLEX128
             ? 2
             : 1;
}

// OpenCV's importer copies product(dims) elements out of a tensor's data
// without comparing the two (OpenCV 4.6 reads past the end of a short
// float_data: found by tests/fuzz), and the ONNX checker does not compare
// them either, so every constant tensor is measured against its dims here.
void check_tensor_size(const onnx::TensorProto &tensor) {
  const std::string name = "tensor '" + tensor.name() + "'";
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
    throw std::runtime_error(name +
                             " is kept in an external file; save the model with its weights inside");
  std::size_t declared = 1;
  for (const int64_t dim : tensor.dims()) {
    if (dim < 0)
      throw std::runtime_error(name + " has a negative dimension (" + std::to_string(dim) + ")");
    if (dim != 0 && declared > kMaxModelFileBytes / static_cast<std::size_t>(dim))
      throw std::runtime_error(name + " declares more elements than a " +
                               megabytes(kMaxModelFileBytes) + " model can hold");
    declared *= static_cast<std::size_t>(dim);
  }
  const std::size_t per_element = values_per_element(tensor.data_type());
  const std::size_t declared_values = declared * per_element;
  std::size_t held_values = 0;
  if (tensor.has_raw_data()) {
    const std::size_t element = raw_element_bytes(tensor.data_type());
    if (element == 0)
      throw std::runtime_error(name + " of type " + std::to_string(tensor.data_type()) +
                               " is stored as raw bytes, which ONNX does not allow for it");
    const std::size_t value = element / per_element;
    if (tensor.raw_data().size() % value != 0)
      throw std::runtime_error(name + " holds " + std::to_string(tensor.raw_data().size()) +
                               " bytes, not a whole number of " + std::to_string(value) +
                               "-byte values");
    held_values = tensor.raw_data().size() / value;
  } else {
    held_values = typed_values(tensor);
  }
  if (held_values != declared_values)
    throw std::runtime_error(name + " declares " + std::to_string(declared_values) +
                             " values in its dims but holds " + std::to_string(held_values));
}

// Every constant tensor the importer reads: the initializers and tensor
// attributes (Constant, ConstantOfShape), in subgraphs too.
void check_tensor_sizes(const onnx::GraphProto &graph) {
  for (const auto &tensor : graph.initializer()) check_tensor_size(tensor);
  for (const auto &node : graph.node())
    for (const auto &attribute : node.attribute()) {
      if (attribute.has_t()) check_tensor_size(attribute.t());
      for (const auto &tensor : attribute.tensors()) check_tensor_size(tensor);
      if (attribute.has_g()) check_tensor_sizes(attribute.g());
      for (const auto &subgraph : attribute.graphs()) check_tensor_sizes(subgraph);
    }
}

}  // namespace

std::string read_model_file(const std::string &path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
  // before fstat() could say what it is.
  const FileDescriptor file(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (file.get() < 0) {
    const int error = errno;
    if (error == ENOENT)
      throw Error(ErrorKind::kNotFound, "The model file " + path + " does not exist.");
    throw Error(ErrorKind::kOpenRead, "The model file " + path + " cannot be opened: " +
                                          std::strerror(error) + " (check its permissions).");
  }
  struct stat status {};
  if (fstat(file.get(), &status) != 0)
    throw Error(ErrorKind::kOpenRead, "The model file " + path + " cannot be read: " +
                                          std::strerror(errno) + ".");
  if (S_ISDIR(status.st_mode))
    throw Error(ErrorKind::kOpenRead, "The model path " + path + " is a folder, not an ONNX file.");
  if (!S_ISREG(status.st_mode))
    throw Error(ErrorKind::kOpenRead,
                "The model path " + path +
                    " is not a regular file (a pipe, device or socket): give an ONNX file.");
  if (static_cast<std::size_t>(status.st_size) > kMaxModelFileBytes)
    throw Error(ErrorKind::kOpenRead, "The model file " + path + " is " +
                                          megabytes(static_cast<std::size_t>(status.st_size)) +
                                          ", more than the " + megabytes(kMaxModelFileBytes) +
                                          " a model may have.");
  // Read to the end, not st_size bytes (a file may change while it is
  // read), but never past the limit.
  std::string bytes(static_cast<std::size_t>(status.st_size), '\0');
  std::size_t filled = 0;
  for (;;) {
    if (filled == bytes.size()) {
      if (bytes.size() > kMaxModelFileBytes)
        throw Error(ErrorKind::kOpenRead, "The model file " + path + " grew past the " +
                                              megabytes(kMaxModelFileBytes) +
                                              " a model may have while it was read.");
      bytes.resize(std::max<std::size_t>(bytes.size() * 2, 4096));
    }
    const ssize_t got = read(file.get(), &bytes[filled], bytes.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      throw Error(ErrorKind::kOpenRead, "The model file " + path + " cannot be read: " +
                                            std::strerror(errno) + ".");
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  bytes.resize(filled);
  return bytes;
}

OnnxModelInfo parse_onnx_model(const std::string &bytes, const std::string &source) {
  onnx::ModelProto model;
  // A valid ONNX file always has a graph; an arbitrary byte string can parse
  // as an empty protobuf, so require one.
  if (!model.ParseFromString(bytes) || !model.has_graph() || model.graph().node_size() == 0)
    throw std::runtime_error(source + " is not an ONNX model");
  // OpenCV's importer trusts the graph's structure (OpenCV 4.6 crashes on a
  // node reading a tensor nothing defines, or a tensor shorter than its dims:
  // found by tests/fuzz), so the ONNX checker and check_tensor_sizes see it
  // first.  Debian's checker knows every IR and opset version this OpenCV
  // imports.
  try {
    onnx::checker::check_model(model);
    check_tensor_sizes(model.graph());
  } catch (const std::exception &error) {
    throw std::runtime_error(source + " is not a valid ONNX model (" + error.what() + ")");
  }
  OnnxModelInfo info;
  for (const auto &prop : model.metadata_props()) info.metadata[prop.key()] = prop.value();
  // Models written by older exporters also list their initializers as inputs.
  std::set<std::string> initializers;
  for (const auto &initializer : model.graph().initializer()) initializers.insert(initializer.name());
  for (const auto &input : model.graph().input()) {
    if (initializers.count(input.name())) continue;
    if (info.input_names.empty())
      for (const auto &dim : input.type().tensor_type().shape().dim())
        info.input_dims.push_back(dim.has_dim_value() ? dim.dim_value()
                                                      : OnnxGraphBuilder::kDynamic);
    info.input_names.push_back(input.name());
  }
  std::set<std::string> operators;
  for (const auto &node : model.graph().node()) operators.insert(node.op_type());
  info.operators.assign(operators.begin(), operators.end());
  model.clear_metadata_props();
  std::string network;
  {
    google::protobuf::io::StringOutputStream stream(&network);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    model.SerializeToCodedStream(&coded);
  }
  info.network_digest = sha256_hex(network);
  return info;
}

std::map<std::string, std::string> read_onnx_metadata(const std::string &path) {
  return parse_onnx_model(read_model_file(path), path).metadata;
}

void rewrite_onnx_metadata(const std::string &input_path, const std::string &output_path,
                           const std::map<std::string, std::string> &metadata) {
  onnx::ModelProto model;
  if (!model.ParseFromString(read_model_file(input_path)) || !model.has_graph() ||
      model.graph().node_size() == 0)
    throw std::runtime_error(input_path + " is not an ONNX model");
  model.clear_metadata_props();
  for (const auto &[key, value] : metadata) {
    auto *prop = model.add_metadata_props();
    prop->set_key(key);
    prop->set_value(value);
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw std::runtime_error("cannot serialise the model read from " + input_path);
  write_file_atomically(output_path, bytes);
}

}  // namespace siamese
