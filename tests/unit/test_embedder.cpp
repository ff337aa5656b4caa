// SPDX-License-Identifier: LGPL-2.1-or-later
// Embedder: preprocessing, embeddings of known models, and every load error.
#include <filesystem>
#include <thread>

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <opencv2/imgproc.hpp>

#include "embedder.h"
#include "onnx_model.h"
#include "thrown_kind.h"

namespace siamese {
namespace {

// The embedding mean_colour.onnx must give for a solid (R, G, B) colour.
cv::Mat normalised(std::vector<float> values) {
  cv::Mat row(1, static_cast<int>(values.size()), CV_32F, values.data());
  cv::Mat out;
  cv::normalize(row, out, 1.0, 0.0, cv::NORM_L2);
  return out;
}

double max_difference(const cv::Mat &a, const cv::Mat &b) { return cv::norm(a, b, cv::NORM_INF); }

cv::Mat random_bgr(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

std::optional<ErrorKind> load_error(const std::string &path,
                                    const ContractOverrides &overrides = {}) {
  return thrown_kind([&] { Embedder::load(path, overrides); }, path);
}

TEST(Embedder, ResizeAveragesWhenShrinking) {
  // Shrinking 4x2 -> 2x1 averages each 2x2 block; enlarging interpolates.
  const cv::Mat image = (cv::Mat_<uchar>(2, 4) << 0, 40, 100, 100, 80, 120, 100, 100);
  cv::Mat small;
  resize_to_input(image, small, cv::Size(2, 1));
  EXPECT_EQ(small.at<uchar>(0, 0), 60);
  EXPECT_EQ(small.at<uchar>(0, 1), 100);
  cv::Mat large;
  resize_to_input(cv::Mat(1, 2, CV_8UC1, cv::Scalar(50)), large, cv::Size(6, 3));
  EXPECT_EQ(cv::countNonZero(large != 50), 0);
}

TEST(Embedder, ReadsContractFromMetadata) {
  // The contract and the embedding size come from the model's metadata.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  EXPECT_EQ(embedder.dimension(), 3);
  EXPECT_EQ(embedder.contract().input.width, 8);
  EXPECT_EQ(embedder.contract().input.height, 8);
  EXPECT_EQ(embedder.contract().input.color, ColorOrder::kRgb);
  EXPECT_FLOAT_EQ(embedder.contract().thresholds.at(Metric::kCosine), 0.95f);
}

TEST(Embedder, MeanColourEmbedding) {
  // A solid BGR frame embeds as its normalised RGB colour, at any frame size.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  for (const cv::Size size : {cv::Size(640, 480), cv::Size(8, 8), cv::Size(3, 5)}) {
    const cv::Mat frame(size, CV_8UC3, cv::Scalar(40, 80, 200));
    const cv::Mat embedding = embedder.embed(frame);
    ASSERT_EQ(embedding.rows, 1);
    EXPECT_LT(max_difference(embedding, normalised({200, 80, 40})), 1e-6) << size;
  }
}

TEST(Embedder, RowsAreUnitLength) {
  // Embeddings are L2-normalised in C++ (the model has no normalisation layer).
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const cv::Mat embedding = embedder.embed(random_bgr(64, 48));
  EXPECT_NEAR(cv::norm(embedding), 1.0, 1e-6);
}

TEST(Embedder, LayoutsAndStridesGiveIdenticalEmbeddings) {
  // BGR, BGRA and a BGR image inside a wider buffer (padded stride) are the
  // same pixels and must give the same embedding.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const cv::Mat bgr = random_bgr(321, 241);
  cv::Mat bgra;
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  cv::Mat wide(241, 330, CV_8UC3, cv::Scalar::all(255));
  cv::Mat padded = wide(cv::Rect(0, 0, 321, 241));
  bgr.copyTo(padded);
  ASSERT_FALSE(padded.isContinuous());
  ASSERT_EQ(padded.step[0], 990u);

  const cv::Mat expected = embedder.embed(bgr);
  EXPECT_EQ(max_difference(embedder.embed(bgra), expected), 0.0);
  EXPECT_EQ(max_difference(embedder.embed(padded), expected), 0.0);
}

TEST(Embedder, GreyFrameOnColourModel) {
  // A grey frame is expanded to RGB: equal channels.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const cv::Mat grey(30, 40, CV_8UC1, cv::Scalar(100));
  EXPECT_LT(max_difference(embedder.embed(grey), normalised({1, 1, 1})), 1e-6);
}

TEST(Embedder, GreyModel) {
  // grey.onnx embeds (g / 255, 0.5); colour frames are converted to grey first.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_GREY_ONNX);
  EXPECT_EQ(embedder.contract().input.color, ColorOrder::kGray);
  EXPECT_EQ(embedder.dimension(), 2);
  const cv::Mat grey(16, 16, CV_8UC1, cv::Scalar(51));
  EXPECT_LT(max_difference(embedder.embed(grey), normalised({0.2f, 0.5f})), 1e-6);
  // BGR (0, 0, 255): grey = round(0.299 * 255) = 76.
  const cv::Mat red(16, 16, CV_8UC3, cv::Scalar(0, 0, 255));
  EXPECT_LT(max_difference(embedder.embed(red), normalised({76.f / 255.f, 0.5f})), 1e-6);
}

TEST(Embedder, BlobAppliesColourOrderMeanAndScale) {
  // make_blob: N x C x H x W, channels in the contract's order, (v - mean) * scale.
  ContractOverrides overrides;
  overrides.mean = std::array<float, 3>{10.f, 20.f, 30.f};
  overrides.scale = std::array<float, 3>{1.f, 0.5f, 0.25f};
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, overrides);
  const cv::Mat frame(20, 20, CV_8UC3, cv::Scalar(50, 100, 150));  // B, G, R
  const cv::Mat blob = embedder.make_blob({frame, frame});
  ASSERT_EQ(blob.dims, 4);
  EXPECT_EQ(blob.size[0], 2);
  EXPECT_EQ(blob.size[1], 3);
  EXPECT_EQ(blob.size[2], 8);
  EXPECT_EQ(blob.size[3], 8);
  const auto pixel = [&](int channel) { return blob.ptr<float>(1, channel)[3 * 8 + 4]; };
  EXPECT_FLOAT_EQ(pixel(0), (150.f - 10.f) * 1.f);   // R
  EXPECT_FLOAT_EQ(pixel(1), (100.f - 20.f) * 0.5f);  // G
  EXPECT_FLOAT_EQ(pixel(2), (50.f - 30.f) * 0.25f);  // B
}

TEST(Embedder, ColourOrderOverride) {
  // Overriding the colour order to BGR feeds the channels reversed.
  ContractOverrides overrides;
  overrides.color = ColorOrder::kBgr;
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, overrides);
  const cv::Mat frame(8, 8, CV_8UC3, cv::Scalar(40, 80, 200));
  EXPECT_LT(max_difference(embedder.embed(frame), normalised({40, 80, 200})), 1e-6);
}

TEST(Embedder, BatchesEqualSingleEmbeddings) {
  // More images than one forward batch holds: each row equals its own embedding.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  std::vector<cv::Mat> images;
  for (int i = 0; i < 40; ++i)
    images.emplace_back(10 + i, 12, CV_8UC3, cv::Scalar(i * 6, 255 - i * 5, 100));
  const cv::Mat all = embedder.embed(images);
  ASSERT_EQ(all.rows, 40);
  for (int i = 0; i < 40; ++i) EXPECT_LT(max_difference(all.row(i), embedder.embed(images[i])), 1e-6);
  EXPECT_EQ(embedder.embed(std::vector<cv::Mat>{}).rows, 0);
}

TEST(Embedder, DetachedInputsEmbedAsTheirFrames) {
  // A frame shrunk (or copied) to the input size beforehand, owning its
  // pixels, gives bit-identical embeddings: the async mode's hand-over.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const cv::Size size(embedder.contract().input.width, embedder.contract().input.height);
  for (const cv::Mat &frame : {random_bgr(97, 61), random_bgr(size.width, size.height)}) {
    const cv::Mat detached = detached_input(frame, size);
    EXPECT_EQ(detached.size(), size);
    EXPECT_NE(detached.data, frame.data);
    EXPECT_EQ(max_difference(embedder.embed(detached), embedder.embed(frame)), 0.0);
  }
}

TEST(Embedder, InputSizeFromFixedShape) {
  // Without metadata the input size comes from the fixed ONNX input shape.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_NO_METADATA_ONNX);
  EXPECT_EQ(embedder.contract().input.width, 16);
  EXPECT_EQ(embedder.contract().input.height, 16);
  EXPECT_EQ(embedder.dimension(), 3);
  const cv::Mat frame(8, 8, CV_8UC3, cv::Scalar(0, 0, 255));
  EXPECT_LT(max_difference(embedder.embed(frame), normalised({1, 0, 0})), 1e-6);
}

TEST(Embedder, GreyFromSingleChannelInputShape) {
  // Without metadata, a fixed [1, 1, H, W] input means a grey model of that size.
  OnnxGraphBuilder graph("grey_no_metadata");
  const std::string x = graph.input("input", {1, 1, 6, 5});
  graph.output(graph.flatten(graph.global_average_pool(x)), {1, 1});
  const std::string path =
      (std::filesystem::path(testing::TempDir()) / "siamese-grey-no-metadata.onnx").string();
  graph.save(path, {});
  Embedder embedder = Embedder::load(path);
  EXPECT_EQ(embedder.contract().input.color, ColorOrder::kGray);
  EXPECT_EQ(embedder.contract().input.width, 5);
  EXPECT_EQ(embedder.contract().input.height, 6);
  EXPECT_EQ(embedder.dimension(), 1);
  std::filesystem::remove(path);
}

TEST(Embedder, ConcurrentLoadsAndEmbeds) {
  // Elements start in parallel: loading is serialised inside, and separate
  // embedders run side by side, all giving the same result.
  const cv::Mat frame(48, 64, CV_8UC3, cv::Scalar(10, 200, 30));
  std::vector<cv::Mat> results(4);
  std::vector<std::thread> threads;
  for (cv::Mat &result : results)
    threads.emplace_back([&frame, &result] {
      Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
      result = embedder.embed(frame);
    });
  for (std::thread &thread : threads) thread.join();
  for (const cv::Mat &result : results)
    EXPECT_LT(max_difference(result, normalised({30, 200, 10})), 1e-6);
}

TEST(Embedder, UnknownInputSizeAsksForProperties) {
  // No metadata, symbolic input size: kSettings naming the properties to set;
  // with the overrides the model loads.
  EXPECT_EQ(thrown_kind([] { Embedder::load(SIAMESE_FIXTURE_UNKNOWN_SIZE_ONNX); }, "input-width"),
            ErrorKind::kSettings);
  ContractOverrides overrides;
  overrides.width = 12;
  overrides.height = 10;
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_UNKNOWN_SIZE_ONNX, overrides);
  EXPECT_EQ(embedder.dimension(), 3);
}

TEST(Embedder, ChannelCountMismatchIsASettingsError) {
  // A GRAY colour order for a model with three input channels is refused.
  ContractOverrides overrides;
  overrides.color = ColorOrder::kGray;
  EXPECT_EQ(load_error(SIAMESE_FIXTURE_NO_METADATA_ONNX, overrides), ErrorKind::kSettings);
}

TEST(Embedder, LoadErrors) {
  // Each kind of bad model file gives its own error kind, naming the file.
  EXPECT_EQ(load_error("/nonexistent/model.onnx"), ErrorKind::kNotFound);
  EXPECT_EQ(load_error(SIAMESE_FIXTURE_REFERENCES_DIR), ErrorKind::kOpenRead);
  EXPECT_EQ(load_error(SIAMESE_FIXTURE_NOT_ONNX_ONNX), ErrorKind::kModel);
  EXPECT_EQ(load_error(SIAMESE_FIXTURE_TRUNCATED_ONNX), ErrorKind::kModel);
  EXPECT_EQ(load_error(SIAMESE_FIXTURE_UNSUPPORTED_ONNX), ErrorKind::kModel);
  EXPECT_EQ(load_error(SIAMESE_FIXTURE_FEATURE_MAP_ONNX), ErrorKind::kModel);
}

// The message of the siamese::Error `action` throws ("" and a test failure
// when it throws none), with its kind checked.
std::string error_text(const std::function<void()> &action, ErrorKind kind) {
  try {
    action();
  } catch (const Error &error) {
    EXPECT_EQ(error.kind(), kind) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no siamese::Error was thrown";
  return "";
}

// An empty folder of the test's own.
std::filesystem::path scratch_folder(const std::string &name) {
  const auto folder = std::filesystem::path(testing::TempDir()) / name;
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder;
}

TEST(Embedder, RefusesPipesAndDevicesWithoutReading) {
  // A FIFO would block the open until a writer came, /dev/zero never ends:
  // both are refused at once as not regular files, naming the path.
  const std::string fifo = (scratch_folder("siamese-fifo-model") / "model.onnx").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string &path : {fifo, std::string("/dev/zero")}) {
    const std::string text = error_text([&] { Embedder::load(path); }, ErrorKind::kOpenRead);
    EXPECT_NE(text.find(path), std::string::npos) << text;
    EXPECT_NE(text.find("not a regular file"), std::string::npos) << text;
    EXPECT_EQ(thrown_kind([&] { Embedder::fingerprint_of(path); }, path), ErrorKind::kOpenRead);
  }
}

TEST(Embedder, RefusesModelFilesOverTheSizeLimit) {
  // A (sparse) file one byte over the limit is refused by its size, unread.
  const auto path = scratch_folder("siamese-huge-model") / "model.onnx";
  std::filesystem::copy_file(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, path);
  std::filesystem::resize_file(path, kMaxModelFileBytes + 1);
  const std::string text =
      error_text([&] { Embedder::load(path.string()); }, ErrorKind::kOpenRead);
  EXPECT_NE(text.find(path.string()), std::string::npos) << text;
  EXPECT_NE(text.find("1024 MiB"), std::string::npos) << text;
}

TEST(Embedder, RefusesInputSizesOverTheLimit) {
  // A model declaring an 8192x8192 input, and overrides asking for one, are
  // refused before any forward pass, naming the size and the limit.
  const auto path = scratch_folder("siamese-large-input") / "large.onnx";
  OnnxGraphBuilder graph("large_input");
  const std::string x = graph.input("input", {OnnxGraphBuilder::kDynamic, 3, 8192, 8192});
  graph.output(graph.flatten(graph.global_average_pool(x)), {OnnxGraphBuilder::kDynamic, 3});
  graph.save(path.string(), {});
  const std::string text =
      error_text([&] { Embedder::load(path.string()); }, ErrorKind::kSettings);
  EXPECT_NE(text.find("8192x8192"), std::string::npos) << text;
  EXPECT_NE(text.find(std::to_string(kMaxInputSide)), std::string::npos) << text;
  ContractOverrides overrides;
  overrides.width = kMaxInputSide + 1;
  overrides.height = 8;
  EXPECT_EQ(load_error(SIAMESE_FIXTURE_UNKNOWN_SIZE_ONNX, overrides), ErrorKind::kSettings);
  overrides.width = kMaxInputSide;
  EXPECT_NO_THROW(Embedder::load(SIAMESE_FIXTURE_UNKNOWN_SIZE_ONNX, overrides));
}

TEST(Embedder, TwoInputsAreAProjectError) {
  // A model with two inputs is refused naming them, not with OpenCV's text.
  const auto path = scratch_folder("siamese-two-inputs") / "two.onnx";
  OnnxGraphBuilder graph("two_inputs");
  const std::string a = graph.input("left", {OnnxGraphBuilder::kDynamic, 3, 8, 8});
  const std::string b = graph.input("right", {OnnxGraphBuilder::kDynamic, 3, 8, 8});
  const std::string sum = graph.node("Add", {a, b});
  graph.output(graph.flatten(graph.global_average_pool(sum)), {OnnxGraphBuilder::kDynamic, 3});
  graph.save(path.string(), {});
  const std::string text = error_text([&] { Embedder::load(path.string()); }, ErrorKind::kModel);
  EXPECT_NE(text.find("has 2 inputs (left, right)"), std::string::npos) << text;
  EXPECT_EQ(text.find("inp.total()"), std::string::npos) << text;
}

// A fixture model parsed, for a test to break it as a fuzz input did.
onnx::ModelProto feature_map_model() {
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(read_model_file(SIAMESE_FIXTURE_FEATURE_MAP_ONNX)));
  return model;
}

// Loading `broken` under the name `source` must be refused as an invalid ONNX
// model, by a message that contains `expected`.
void expect_invalid_onnx(const onnx::ModelProto &broken, const std::string &source,
                         const std::string &expected) {
  const std::string bytes = broken.SerializeAsString();
  const std::string text =
      error_text([&] { Embedder::from_bytes(bytes, source); }, ErrorKind::kModel);
  EXPECT_NE(text.find(source + " is not a valid ONNX model"), std::string::npos) << text;
  EXPECT_NE(text.find(expected), std::string::npos) << text;
}

TEST(Embedder, MalformedGraphIsRefusedBeforeOpenCV) {
  // A Conv reading a weight tensor nothing defines (one byte of the fixture
  // changed, found by tests/fuzz/fuzz_onnx_embedder.cpp) crashed OpenCV's
  // importer; the ONNX checker now refuses it with a message naming it.
  onnx::ModelProto model = feature_map_model();
  onnx::NodeProto *conv = model.mutable_graph()->mutable_node(0);
  ASSERT_EQ(conv->op_type(), "Conv");
  conv->set_input(1, "undefined_weight");
  expect_invalid_onnx(model, "broken.onnx", "undefined_weight");
}

TEST(Embedder, TensorShorterThanItsDimsIsRefusedBeforeOpenCV) {
  // OpenCV's importer copies as many values as a tensor's dims declare, so a
  // weight holding fewer (two bytes of the fixture changed, found by
  // tests/fuzz/fuzz_onnx_embedder.cpp) made it read past the end of the
  // buffer.  Each storage is measured against the dims: the typed field, raw
  // bytes, and a tensor attribute of a node.
  const onnx::ModelProto model = feature_map_model();
  ASSERT_GT(model.graph().initializer_size(), 0);
  const onnx::TensorProto &weight = model.graph().initializer(0);
  std::size_t elements = 1;
  for (const int64_t dim : weight.dims()) elements *= static_cast<std::size_t>(dim);
  ASSERT_GT(elements, 4u);
  const std::string counts =
      "declares " + std::to_string(elements) + " values in its dims but holds 4";

  onnx::ModelProto typed = model;
  onnx::TensorProto *typed_weight = typed.mutable_graph()->mutable_initializer(0);
  typed_weight->clear_raw_data();
  typed_weight->clear_float_data();
  for (int i = 0; i < 4; ++i) typed_weight->add_float_data(0.5f);
  expect_invalid_onnx(typed, "short.onnx", "tensor '" + weight.name() + "' " + counts);

  onnx::ModelProto raw = model;
  onnx::TensorProto *raw_weight = raw.mutable_graph()->mutable_initializer(0);
  raw_weight->clear_float_data();
  raw_weight->set_raw_data(std::string(4 * sizeof(float), '\0'));
  expect_invalid_onnx(raw, "short.onnx", "tensor '" + weight.name() + "' " + counts);

  onnx::ModelProto constant = model;
  onnx::NodeProto *node = constant.mutable_graph()->add_node();
  node->set_op_type("Constant");
  node->add_output("unused_constant");
  onnx::AttributeProto *value = node->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  onnx::TensorProto *tensor = value->mutable_t();
  tensor->set_name("short_constant");
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  tensor->add_dims(static_cast<int64_t>(elements));
  for (int i = 0; i < 4; ++i) tensor->add_float_data(1.0f);
  expect_invalid_onnx(constant, "short.onnx", "tensor 'short_constant' " + counts);
}

TEST(Embedder, UnsupportedOperatorIsNamed) {
  // OpenCV's own text is only a detail: the message says what failed and
  // lists the model's operators.
  const std::string text =
      error_text([] { Embedder::load(SIAMESE_FIXTURE_UNSUPPORTED_ONNX); }, ErrorKind::kModel);
  EXPECT_EQ(text.rfind(std::string("OpenCV DNN ") + CV_VERSION + " cannot", 0), 0u) << text;
  EXPECT_NE(text.find(SIAMESE_FIXTURE_UNSUPPORTED_ONNX), std::string::npos) << text;
  EXPECT_NE(text.find("LpNormalization"), std::string::npos) << text;
}

TEST(Embedder, BadImagesAreFrameErrors) {
  // Images of an unsupported type or empty ones are refused, not crashed on.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  for (const cv::Mat &image : {cv::Mat(), cv::Mat(8, 8, CV_16UC1, cv::Scalar(1)),
                               cv::Mat(8, 8, CV_8UC2, cv::Scalar(1))}) {
    EXPECT_EQ(thrown_kind([&] { embedder.embed(image); }), ErrorKind::kFrame)
        << cv::typeToString(image.type());
  }
}

}  // namespace
}  // namespace siamese
