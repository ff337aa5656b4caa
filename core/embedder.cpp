// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Preprocessing, chosen for a per-frame cost close to a bare OpenCV loop:
//  1. Resize first (resize_to_input), in the frame's own channel layout, so
//     the colour conversion below runs on the (small) model-sized image, not
//     the frame.  An image already at the model size is not touched.  Area
//     averaging by a fractional factor (640x480 -> 28x28) is area_shrink(),
//     about 3x cheaper than OpenCV's INTER_AREA for the same pixels.
//  2. Convert grey / BGR / BGRA to the contract's GRAY / RGB / BGR.
//  3. Write each channel straight into its plane of the N x C x H x W blob
//     as (v - mean[c]) * scale[c] (one convertTo per channel, no temporary
//     float image).
// After forward() the output is copied out of the network's buffers and each
// row is L2-normalised here, because OpenCV 4.6 cannot import LpNormalization.
#include "embedder.h"

#include <algorithm>
#include <cctype>
#include <mutex>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "area_resize.h"
#include "errors.h"
#include "model_fingerprint.h"
#include "onnx_model.h"

namespace siamese {
namespace {

// Images per forward pass when embedding many (reference enrolment): large
// enough to amortise the per-call overhead, small enough to bound memory.
constexpr std::size_t kBatchSize = 32;
// The probe forward at load time uses two images, so a model that silently
// collapses its batch (e.g. Reshape to [1, -1]) is caught before it is used.
constexpr int kProbeBatch = 2;

// OpenCV's ONNX importer is not safe to run from two threads at once.
std::mutex &loading_mutex() {
  static std::mutex mutex;
  return mutex;
}

// An exception's message; for OpenCV's, the bare message (what() adds the
// source location) without the trailing newline its importer adds.
std::string describe(const std::exception &error) {
  const auto *opencv_error = dynamic_cast<const cv::Exception *>(&error);
  std::string text = opencv_error ? opencv_error->err : error.what();
  while (!text.empty() && (std::isspace(static_cast<unsigned char>(text.back())) || text.back() == '>'))
    text.pop_back();
  return text;
}

// Fills a size the metadata left open from a fixed [N, C, H, W] input shape.
void complete_from_input_shape(Preprocessing &input, const std::vector<int64_t> &dims) {
  if (dims.size() != 4) return;
  if (input.height <= 0 && dims[2] > 0) input.height = static_cast<int>(dims[2]);
  if (input.width <= 0 && dims[3] > 0) input.width = static_cast<int>(dims[3]);
}

ModelContract read_contract(const std::string &path, const OnnxModelInfo &info,
                            const ContractOverrides &overrides) {
  ModelContract contract;
  try {
    contract = ModelContract::from_metadata(info.metadata);
  } catch (const std::invalid_argument &error) {
    throw Error(ErrorKind::kModel,
                "The model " + path + " carries an invalid contract: " + error.what() + ".");
  }
  complete_from_input_shape(contract.input, info.input_dims);
  // Without metadata the colour order defaults to RGB; one input channel
  // can only mean grey.
  if (!ModelContract::present_in(info.metadata) && info.input_dims.size() == 4 &&
      info.input_dims[1] == 1)
    contract.input.color = ColorOrder::kGray;
  if (overrides.width) contract.input.width = *overrides.width;
  if (overrides.height) contract.input.height = *overrides.height;
  if (overrides.color) contract.input.color = *overrides.color;
  if (overrides.mean) contract.input.mean = *overrides.mean;
  if (overrides.scale) contract.input.scale = *overrides.scale;

  if (!contract.input.complete())
    throw Error(ErrorKind::kSettings,
                "The input size of the model " + path +
                    " is unknown: neither its metadata nor a fixed input shape gives it. "
                    "Set the input-width and input-height properties.");
  if (contract.input.width > kMaxInputSide || contract.input.height > kMaxInputSide)
    throw Error(ErrorKind::kSettings,
                "The input size " + std::to_string(contract.input.width) + "x" +
                    std::to_string(contract.input.height) + " of the model " + path +
                    " is larger than the " + std::to_string(kMaxInputSide) + "x" +
                    std::to_string(kMaxInputSide) +
                    " pixels an embedding network may take (docs/limits.md).");
  if (info.input_dims.size() == 4 && info.input_dims[1] > 0 &&
      info.input_dims[1] != contract.input.channels())
    throw Error(ErrorKind::kSettings,
                "The model " + path + " takes " + std::to_string(info.input_dims[1]) +
                    " input channels but the colour order " + to_string(contract.input.color) +
                    " gives " + std::to_string(contract.input.channels()) +
                    ": set the colour order to match the model.");
  return contract;
}

// A model file read once, with the contract in force and its fingerprint.
struct ModelSource {
  std::string bytes;
  ModelContract contract;
  std::string fingerprint;
  std::vector<std::string> operators;  // for messages when OpenCV cannot run it
};

// What to say when OpenCV cannot import or run a model: its own text is about
// its internals ("inp.total()"), so the message says what was tried, lists the
// model's operators (what a user compares with OpenCV's supported layers) and
// gives OpenCV's text last, as a detail.
std::string opencv_failure(const std::string &what, const std::string &path,
                           const std::vector<std::string> &operators,
                           const std::string &opencv_text) {
  std::string list;
  for (const std::string &op : operators) list += (list.empty() ? "" : ", ") + op;
  return "OpenCV DNN " CV_VERSION " cannot " + what + " the model " + path +
         ": it uses an operator or a graph form this OpenCV does not support (its operators: " +
         list + "; see docs/platform.md). OpenCV said: " + opencv_text + ".";
}

ModelSource model_source(std::string bytes, const std::string &path,
                         const ContractOverrides &overrides) {
  ModelSource source;
  source.bytes = std::move(bytes);
  OnnxModelInfo info;
  try {
    info = parse_onnx_model(source.bytes, path);
  } catch (const std::exception &error) {
    throw Error(ErrorKind::kModel, std::string("The model file ") + error.what() + ".");
  }
  if (info.input_names.size() != 1) {
    std::string names;
    for (const std::string &name : info.input_names) names += (names.empty() ? "" : ", ") + name;
    throw Error(ErrorKind::kModel,
                "The model " + path + " has " + std::to_string(info.input_names.size()) +
                    " inputs (" + names +
                    "); an embedding network takes one, the image batch [N, C, H, W].");
  }
  source.contract = read_contract(path, info, overrides);
  source.operators = std::move(info.operators);
  source.fingerprint = model_fingerprint(info.network_digest, source.contract.input);
  return source;
}

cv::dnn::Net import_network(const std::string &path, const ModelSource &source) {
  const std::lock_guard<std::mutex> lock(loading_mutex());
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(source.bytes.data(), source.bytes.size());
  } catch (const std::exception &error) {
    throw Error(ErrorKind::kModel,
                opencv_failure("import", path, source.operators, describe(error)));
  } catch (...) {
    throw Error(ErrorKind::kModel, opencv_failure("import", path, source.operators, "no detail"));
  }
  if (net.empty()) throw Error(ErrorKind::kModel, "OpenCV imported an empty network from " + path + ".");
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

// The embedding length of a network output holding `batch` images, or 0 when
// the output is not one vector per image (e.g. a feature map with a spatial
// extent): after the batch axis at most one axis may be longer than 1.
int vector_length(const cv::Mat &output, int batch) {
  if (output.dims < 2 || output.size[0] != batch || output.depth() != CV_32F) return 0;
  int length = 1;
  int long_axes = 0;
  for (int axis = 1; axis < output.dims; ++axis) {
    length *= output.size[axis];
    if (output.size[axis] > 1) ++long_axes;
  }
  return long_axes <= 1 ? length : 0;
}

std::string describe_shape(const cv::Mat &output) {
  std::string text = "[";
  for (int axis = 0; axis < output.dims; ++axis)
    text += (axis ? "," : "") + std::to_string(output.size[axis]);
  return text + "]";
}

int colour_conversion(int source_channels, ColorOrder target) {
  switch (target) {
    case ColorOrder::kGray:
      return source_channels == 3 ? cv::COLOR_BGR2GRAY : cv::COLOR_BGRA2GRAY;
    case ColorOrder::kRgb:
      return source_channels == 1 ? cv::COLOR_GRAY2RGB
             : source_channels == 3 ? cv::COLOR_BGR2RGB
                                    : cv::COLOR_BGRA2RGB;
    case ColorOrder::kBgr:
      return source_channels == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_BGRA2BGR;
  }
  return -1;
}

bool needs_conversion(int source_channels, ColorOrder target) {
  if (target == ColorOrder::kGray) return source_channels != 1;
  if (target == ColorOrder::kBgr) return source_channels != 3;
  return true;
}

void check_image(const cv::Mat &image, std::size_t index) {
  const int type = image.type();
  if (image.empty() || (type != CV_8UC1 && type != CV_8UC3 && type != CV_8UC4))
    throw Error(ErrorKind::kFrame, "Image " + std::to_string(index) +
                                       " cannot be embedded: expected a non-empty 8-bit image "
                                       "with 1, 3 or 4 channels, got " +
                                       cv::typeToString(type) + ".");
}

}  // namespace

void resize_to_input(const cv::Mat &image, cv::Mat &resized, cv::Size size) {
  const bool shrinking = size.width <= image.cols && size.height <= image.rows;
  // OpenCV's INTER_AREA is fast for whole-number factors (it sums blocks);
  // for any other factor area_shrink() gives the same pixels (to within one
  // grey level) in a fraction of the time.
  const bool whole_factors = image.cols % size.width == 0 && image.rows % size.height == 0;
  if (shrinking && !whole_factors && image.depth() == CV_8U && image.channels() <= 4)
    area_shrink(image, resized, size);
  else
    cv::resize(image, resized, size, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
}

cv::Mat detached_input(const cv::Mat &image, cv::Size size) {
  if (image.size() == size) return image.clone();
  cv::Mat resized;  // a fresh matrix: the resize never writes into `image`
  resize_to_input(image, resized, size);
  return resized;
}

struct Embedder::Impl {
  cv::dnn::Net net;
  ModelContract contract;
  std::string fingerprint;
  cv::Mat blob;  // reused between calls: one frame at a time needs no allocation

  // Preprocesses images[first, first + count) into `blob` (N x C x H x W).
  void fill_blob(const std::vector<cv::Mat> &images, std::size_t first, std::size_t count,
                 cv::Mat &out) const {
    const Preprocessing &input = contract.input;
    const cv::Size size(input.width, input.height);
    const int channels = input.channels();
    out.create({static_cast<int>(count), channels, input.height, input.width}, CV_32F);
    cv::Mat resized, converted;
    std::vector<cv::Mat> planes;
    for (std::size_t n = 0; n < count; ++n) {
      const cv::Mat &image = images[first + n];
      check_image(image, first + n);
      const cv::Mat *current = &image;
      if (image.size() != size) {
        resize_to_input(image, resized, size);
        current = &resized;
      }
      if (needs_conversion(image.channels(), input.color)) {
        cv::cvtColor(*current, converted, colour_conversion(image.channels(), input.color));
        current = &converted;
      }
      if (channels == 1)
        planes.assign(1, *current);
      else
        cv::split(*current, planes);
      for (int c = 0; c < channels; ++c) {
        cv::Mat plane(input.height, input.width, CV_32F, out.ptr<float>(static_cast<int>(n), c));
        planes[c].convertTo(plane, CV_32F, input.scale[c], -input.mean[c] * input.scale[c]);
      }
    }
  }

  // One forward pass; returns the outputs as a fresh `batch` x length matrix
  // (the network's output buffer is reused by the next forward).
  cv::Mat forward(const cv::Mat &input_blob, int batch, int &length) {
    net.setInput(input_blob);
    const cv::Mat output = net.forward();
    length = vector_length(output, batch);
    if (length == 0) return output;
    return cv::Mat(batch, length, CV_32F, const_cast<float *>(output.ptr<float>())).clone();
  }
};

Embedder::Embedder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Embedder::Embedder(Embedder &&) noexcept = default;
Embedder &Embedder::operator=(Embedder &&) noexcept = default;
Embedder::~Embedder() = default;

Embedder Embedder::load(const std::string &onnx_path, const ContractOverrides &overrides) {
  return from_bytes(read_model_file(onnx_path), onnx_path, overrides);
}

Embedder Embedder::from_bytes(std::string bytes, const std::string &onnx_path,
                              const ContractOverrides &overrides) {
  ModelSource source = model_source(std::move(bytes), onnx_path, overrides);
  auto impl = std::make_unique<Impl>();
  impl->contract = std::move(source.contract);
  impl->fingerprint = std::move(source.fingerprint);
  impl->net = import_network(onnx_path, source);

  const Preprocessing &input = impl->contract.input;
  const std::vector<cv::Mat> probe(kProbeBatch,
                                   cv::Mat(input.height, input.width, CV_8UC3, cv::Scalar::all(128)));
  int length = 0;
  cv::Mat output;
  try {
    impl->fill_blob(probe, 0, probe.size(), impl->blob);
    output = impl->forward(impl->blob, kProbeBatch, length);
  } catch (const std::exception &error) {
    throw Error(ErrorKind::kModel,
                opencv_failure("run", onnx_path, source.operators,
                               "on a " + std::to_string(input.width) + "x" +
                                   std::to_string(input.height) + " " + to_string(input.color) +
                                   " input, " + describe(error)));
  }
  if (length == 0)
    throw Error(ErrorKind::kModel,
                "The model " + onnx_path + " does not give one embedding vector per image: for " +
                    std::to_string(kProbeBatch) + " images its output has the shape " +
                    describe_shape(output) + ".");
  int &dim = impl->contract.embedding_dim;
  if (dim > 0 && dim != length)
    throw Error(ErrorKind::kModel, "The model " + onnx_path + " gives embeddings of length " +
                                       std::to_string(length) + " but its metadata says " +
                                       std::to_string(dim) + ".");
  dim = length;
  return Embedder(std::move(impl));
}

std::string Embedder::fingerprint_of(const std::string &onnx_path,
                                     const ContractOverrides &overrides) {
  return model_source(read_model_file(onnx_path), onnx_path, overrides).fingerprint;
}

const ModelContract &Embedder::contract() const { return impl_->contract; }

const std::string &Embedder::fingerprint() const { return impl_->fingerprint; }

int Embedder::dimension() const { return impl_->contract.embedding_dim; }

cv::Mat Embedder::make_blob(const std::vector<cv::Mat> &images) const {
  cv::Mat blob;
  impl_->fill_blob(images, 0, images.size(), blob);
  return blob;
}

cv::Mat Embedder::embed(const std::vector<cv::Mat> &images) {
  const int dim = dimension();
  cv::Mat embeddings(static_cast<int>(images.size()), dim, CV_32F);
  for (std::size_t first = 0; first < images.size(); first += kBatchSize) {
    const std::size_t count = std::min(kBatchSize, images.size() - first);
    int length = 0;
    cv::Mat rows;
    try {
      impl_->fill_blob(images, first, count, impl_->blob);
      rows = impl_->forward(impl_->blob, static_cast<int>(count), length);
    } catch (const Error &) {
      throw;
    } catch (const std::exception &error) {
      throw Error(ErrorKind::kFrame, "The model failed on an image: " + describe(error) + ".");
    }
    if (length != dim)
      throw Error(ErrorKind::kFrame, "The model gave an output of shape " + describe_shape(rows) +
                                         " instead of one embedding of length " +
                                         std::to_string(dim) + " per image.");
    for (int r = 0; r < rows.rows; ++r) {
      cv::Mat target = embeddings.row(static_cast<int>(first) + r);
      cv::normalize(rows.row(r), target, 1.0, 0.0, cv::NORM_L2);
    }
  }
  return embeddings;
}

cv::Mat Embedder::embed(const cv::Mat &image) { return embed(std::vector<cv::Mat>{image}); }

}  // namespace siamese
