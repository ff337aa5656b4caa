// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Writes the deterministic test fixtures into the folder given as argument:
// tiny ONNX models built with the project's own OnnxGraphBuilder (no LibTorch)
// whose outputs are known by hand, and reference folders of solid colours.
// See tests/files/meson.build for the list and the Meson variables.
//
// The central model, mean_colour.onnx, embeds an image as its mean RGB
// colour, so after L2 normalisation a frame's embedding is the direction of
// its colour and the best label of a solid-colour frame is known in advance.
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "atomic_file.h"
#include "gallery_file.h"
#include "model_contract.h"
#include "onnx_model.h"

namespace {

namespace fs = std::filesystem;
using siamese::ColorOrder;
using siamese::Metric;
using siamese::OnnxGraphBuilder;
using siamese::Tensor;

constexpr int64_t kN = OnnxGraphBuilder::kDynamic;
constexpr int kSide = 8;  // input height and width of the fixture models

// The contract of the mean-colour models: RGB in [0, 1], 8 x 8.
siamese::ModelContract colour_contract(int embedding_dim) {
  siamese::ModelContract contract;
  contract.input.width = kSide;
  contract.input.height = kSide;
  contract.input.color = ColorOrder::kRgb;
  contract.input.mean = {0.f, 0.f, 0.f};
  contract.input.scale = {1.f / 255.f, 1.f / 255.f, 1.f / 255.f};
  contract.embedding_dim = embedding_dim;
  contract.metric = Metric::kCosine;
  // Solid colours: shades of one hue stay above 0.99, distinct hues
  // (red vs yellow) are at most 0.82 (grey vs yellow).
  contract.thresholds[Metric::kCosine] = 0.95f;
  contract.thresholds[Metric::kEuclidean] = 0.3f;  // sqrt(2 - 2 * 0.95) ~ 0.32
  contract.training_summary = R"({"fixture":"mean colour"})";
  return contract;
}

// Input [N, channels, H, W] -> GlobalAveragePool -> Flatten: [N, channels].
std::string pooled_input(OnnxGraphBuilder &graph, int channels, const std::vector<int64_t> &hw) {
  const std::string x = graph.input("input", {kN, channels, hw[0], hw[1]});
  return graph.flatten(graph.global_average_pool(x));
}

// The mean colour through an identity Gemm, so the element's path includes
// the Gemm form OpenCV 4.6 supports.
void build_mean_colour(OnnxGraphBuilder &graph) {
  const std::string pooled = pooled_input(graph, 3, {kSide, kSide});
  const std::string y = graph.gemm(pooled, Tensor{{3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1}},
                                   Tensor{{3}, {0, 0, 0}});
  graph.output(y, {kN, 3});
}

// Pair head: s = sum |h1 - h2|; hidden = relu(s), relu(0.5 - s);
// logit = -8 relu(s) + 4 relu(0.5 - s) + 2.  Equal colours: sigmoid(4) = 0.982;
// red vs yellow (s = 1): sigmoid(-6) = 0.0025.
siamese::PairHead colour_head() {
  siamese::PairHead head;
  head.layers.push_back({3, 2, {1, 1, 1, -1, -1, -1}, {0.f, 0.5f}});
  head.layers.push_back({2, 1, {-8.f, 4.f}, {2.f}});
  return head;
}

// Grey input -> mean grey g in [0, 1] -> Gemm -> (g, 0.5): a 2-D embedding
// whose direction depends on the grey level.
void write_grey(const fs::path &out) {
  OnnxGraphBuilder graph("grey");
  const std::string pooled = pooled_input(graph, 1, {kSide, kSide});
  graph.output(graph.gemm(pooled, Tensor{{2, 1}, {1, 0}}, Tensor{{2}, {0.f, 0.5f}}), {kN, 2});
  siamese::ModelContract contract = colour_contract(2);
  contract.input.color = ColorOrder::kGray;
  graph.save((out / "grey.onnx").string(), contract.to_metadata());
}

// The mean-colour model with the open-set parts a trainer writes: a cohort
// of colours none of the reference labels has, a background (with no margin
// recommended, so its rule is off unless asked for), thresholds calibrated at two
// false-accept rates (raw for 0.01; raw floor and normalised threshold for
// 0.01 and 0.001) whose values the element tests recognise.
siamese::ModelContract cohort_contract() {
  siamese::ModelContract contract = colour_contract(3);
  const std::vector<cv::Vec3f> colours = {
      {255, 128, 0}, {128, 0, 255}, {0, 255, 255}, {255, 0, 255}, {128, 128, 128}, {255, 192, 203},
      {128, 64, 0},  {0, 128, 128}, {192, 255, 0}, {0, 64, 128},  {64, 0, 32},    {32, 96, 64}};
  contract.cohort.count = static_cast<int>(colours.size());
  for (const cv::Vec3f &colour : colours) {
    const cv::Vec3f unit = colour / cv::norm(colour);
    contract.cohort.embeddings.insert(contract.cohort.embeddings.end(), {unit[0], unit[1], unit[2]});
  }
  // The background: orange, which no label is but yellow comes close to.
  const cv::Vec3f orange = cv::Vec3f(255, 128, 0) / cv::norm(cv::Vec3f(255, 128, 0));
  contract.background.count = 1;
  contract.background.embeddings = {orange[0], orange[1], orange[2]};
  contract.calibrated = {{Metric::kCosine, false, 0.01, 0.96f, 0.f},
                         {Metric::kCosine, true, 0.001, 0.98f, -40.f},
                         {Metric::kCosine, true, 0.01, 0.9f, -50.f}};
  return contract;
}

void write_models(const fs::path &out) {
  OnnxGraphBuilder mean_colour("mean_colour");
  build_mean_colour(mean_colour);
  const std::string mean_colour_bytes = mean_colour.serialize(colour_contract(3).to_metadata());
  siamese::write_file_atomically((out / "mean_colour.onnx").string(), mean_colour_bytes);

  siamese::ModelContract with_head = colour_contract(3);
  with_head.metric = Metric::kLearned;
  with_head.thresholds[Metric::kLearned] = 0.5f;
  with_head.head = colour_head();
  mean_colour.save((out / "mean_colour_head.onnx").string(), with_head.to_metadata());

  mean_colour.save((out / "mean_colour_cohort.onnx").string(), cohort_contract().to_metadata());

  write_grey(out);

  {  // Third-party style: fixed input shape, no metadata at all.
    OnnxGraphBuilder graph("no_metadata");
    const std::string x = graph.input("input", {1, 3, 16, 16});
    graph.output(graph.flatten(graph.global_average_pool(x)), {1, 3});
    graph.save((out / "no_metadata.onnx").string(), {});
  }
  {  // No metadata and a symbolic input size: the size must come from properties.
    OnnxGraphBuilder graph("unknown_size");
    graph.output(pooled_input(graph, 3, {kN, kN}), {kN, 3});
    graph.save((out / "unknown_size.onnx").string(), {});
  }
  {  // A 1x1 convolution: the output is a [N, 2, 8, 8] feature map, not a vector.
    OnnxGraphBuilder graph("feature_map");
    const std::string x = graph.input("input", {kN, 3, kSide, kSide});
    const std::string y = graph.conv(x, Tensor{{2, 3, 1, 1}, {1, 0, 0, 0, 1, 0}}, Tensor{});
    graph.output(y, {kN, 2, kSide, kSide});
    graph.save((out / "feature_map.onnx").string(), colour_contract(0).to_metadata());
  }
  {  // Valid ONNX that OpenCV 4.6 cannot import (no LpNormalization layer).
    OnnxGraphBuilder graph("unsupported");
    const std::string pooled = pooled_input(graph, 3, {kSide, kSide});
    graph.output(graph.node("LpNormalization", {pooled}, {{"axis", 1}, {"p", 2}}), {kN, 3});
    graph.save((out / "unsupported.onnx").string(), colour_contract(3).to_metadata());
  }
  siamese::write_file_atomically((out / "not_onnx.onnx").string(),
                                 "This is a text file, not an ONNX model.\n");
  siamese::write_file_atomically((out / "truncated.onnx").string(),
                                 mean_colour_bytes.substr(0, mean_colour_bytes.size() / 2));
}

// label -> shades (R, G, B); two or three per label, written as PNG files of
// a size other than the model's so that enrolment resizes them.
const std::map<std::string, std::vector<cv::Vec3b>> &reference_colours() {
  static const std::map<std::string, std::vector<cv::Vec3b>> colours{
      {"blue", {{0, 0, 255}, {10, 30, 220}}},
      {"green", {{0, 255, 0}, {20, 220, 30}}},
      {"red", {{255, 0, 0}, {230, 20, 20}, {200, 10, 0}}},
      {"yellow", {{255, 255, 0}, {230, 220, 20}}},
  };
  return colours;
}

void write_reference_folder(const fs::path &root) {
  fs::remove_all(root);
  for (const auto &[label, shades] : reference_colours()) {
    fs::create_directories(root / label);
    for (std::size_t i = 0; i < shades.size(); ++i) {
      const cv::Vec3b &rgb = shades[i];
      const cv::Mat image(18, 24, CV_8UC3, cv::Scalar(rgb[2], rgb[1], rgb[0]));  // BGR
      const std::string path = (root / label / (label + "_" + std::to_string(i) + ".png")).string();
      if (!cv::imwrite(path, image)) throw std::runtime_error("cannot write " + path);
    }
  }
}

void write_references(const fs::path &out) {
  write_reference_folder(out / "references");

  // The same set plus a file with an image name that does not decode, and a
  // file that is not an image at all (ignored: its extension is not listed).
  const fs::path with_corrupt = out / "references_with_corrupt";
  write_reference_folder(with_corrupt);
  siamese::write_file_atomically((with_corrupt / "red" / "corrupt.png").string(),
                                 "not a PNG image\n");
  siamese::write_file_atomically((with_corrupt / "red" / "README.txt").string(),
                                 "not an image either, and not named like one\n");

  // The same set plus the reserved background label: greys.
  const fs::path with_background = out / "references_background";
  write_reference_folder(with_background);
  fs::create_directories(with_background / "_background");
  for (const int level : {128, 200}) {
    const std::string path =
        (with_background / "_background" / ("grey_" + std::to_string(level) + ".png")).string();
    if (!cv::imwrite(path, cv::Mat(18, 24, CV_8UC3, cv::Scalar::all(level))))
      throw std::runtime_error("cannot write " + path);
  }

  const fs::path empty = out / "references_empty";
  fs::remove_all(empty);
  fs::create_directories(empty);
}

// One fuzz seed file.
void write_seed(const fs::path &folder, const std::string &name, const std::string &bytes) {
  fs::create_directories(folder);
  siamese::write_file_atomically((folder / name).string(), bytes);
}

// Seeds for the fuzz targets (tests/fuzz/), one folder per target, each in
// the input form its target documents: the starting points libFuzzer mutates.
void write_fuzz_seeds(const fs::path &out) {
  const fs::path seeds = out / "fuzz_seeds";
  fs::remove_all(seeds);
  for (const auto &entry : fs::directory_iterator(out)) {
    if (entry.path().extension() != ".onnx") continue;
    const std::string name = entry.path().stem().string();
    fs::create_directories(seeds / "onnx_embedder");
    fs::copy_file(entry.path(), seeds / "onnx_embedder" / (name + ".onnx"));
    std::map<std::string, std::string> metadata;
    try {
      metadata = siamese::read_onnx_metadata(entry.path().string());
    } catch (const std::exception &) {
      continue;  // not_onnx, truncated: no metadata to seed with
    }
    if (metadata.empty()) continue;
    std::string pairs;  // key \0 value \0 ...
    for (const auto &[key, value] : metadata) pairs += key + '\0' + value + '\0';
    write_seed(seeds / "model_contract", name + ".pairs", pairs);
  }

  // IDX: a big-endian 16-bit length, a label file of that length, then an
  // image file (three 2x3 images labelled 0, 2, 1).
  const std::string labels("\x00\x00\x08\x01\x00\x00\x00\x03\x00\x02\x01", 11);
  std::string images("\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x03", 16);
  for (int i = 0; i < 18; ++i) images += static_cast<char>(i * 13);
  write_seed(seeds / "idx", "three_images.idx",
             std::string{'\0', static_cast<char>(labels.size())} + labels + images);

  // A gallery of three templates of two labels.
  const cv::Mat rows = (cv::Mat_<float>(3, 3) << 1, 0, 0, 0.8f, 0.6f, 0, 0, 1, 0);
  siamese::Gallery gallery{std::string(64, 'a'), "mean_colour.onnx",
                           siamese::ReferenceSet::from_rows(
                               {"red", "red", "green"}, rows,
                               {{"red/a.png", std::string(64, '1'), "2026-12-01T00:00:00Z"},
                                {"red/b.png", std::string(64, '2'), "2026-12-01T00:00:00Z"},
                                {"frame at 0:00:01", "", "2026-12-01T00:00:01Z"}})};
  write_seed(seeds / "gallery", "three_templates.gallery", siamese::gallery_to_bytes(gallery));
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_FOLDER\n", argv[0]);
    return 2;
  }
  try {
    const fs::path out(argv[1]);
    fs::create_directories(out);
    write_models(out);
    write_references(out);
    write_fuzz_seeds(out);
    siamese::write_file_atomically((out / "fixtures.stamp").string(), "");
  } catch (const std::exception &error) {
    std::fprintf(stderr, "make-fixtures: %s\n", error.what());
    return 1;
  }
  return 0;
}
