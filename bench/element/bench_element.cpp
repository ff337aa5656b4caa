// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Per-frame cost of siamesematch against a bare OpenCV DNN loop doing the
// same work by hand (resize, colour conversion, (v - mean) * scale, forward,
// L2 normalisation) on the same model and the same 640x480 BGR frames, both
// measured in one run.  The two sides alternate frame by frame, so that
// machine noise hits both alike, and costs are process CPU time (every thread
// of the process), so other programs competing for the cores inflate neither
// side; wall time is printed beside it.  Prints both costs and the ratio
// element / bare of each round: median, minimum and maximum over the rounds
// (target <= 1.03), and the process's CPU time for the whole run.
//
// Then regions: N regions of a frame (N = 1, 8, 32 by default) embedded as
// one batch (Embedder::embed of N crops, what the element does with N
// region-of-interest metas) against one by one (N calls with one crop),
// alternating in rounds; prints the speed-up one-by-one / batched per N with
// its spread over rounds (goal >= 1.5 at 8), and under it the forward pass
// alone at batch N against N passes at batch 1 (what batching can change at
// most) with the arithmetic rate it reaches.
//
// Without --model it writes a small CNN (three conv blocks at 64x64, like a
// realistic embedding network's front) with the project's ONNX writer.
//
//   bench-element [--model FILE.onnx] [--frames N] [--rounds R] [--threads T]
//                 [--regions 1,8,32]
#include <gst/check/gstharness.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_clock.h"
#include "embedder.h"
#include "model_contract.h"
#include "onnx_model.h"

namespace {

namespace fs = std::filesystem;
using siamese::bench::process_cpu_seconds;
using Clock = std::chrono::steady_clock;

constexpr int kFrameWidth = 640;
constexpr int kFrameHeight = 480;
constexpr int kDistinctFrames = 8;  // cycled through, the same for both sides
constexpr int kSide = 64;           // input size of the generated CNN
constexpr int kReferenceLabels = 4;
constexpr int kImagesPerLabel = 2;

struct Options {
  std::string model;  // empty: generate the CNN
  int frames = 100;   // per side and round
  int rounds = 10;
  int threads = 1;
  std::vector<int> regions{1, 8, 32};  // per frame, for the batching figures
};

Options parse_options(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--model" && has_value) {
      options.model = argv[++i];
    } else if (arg == "--frames" && has_value) {
      options.frames = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--rounds" && has_value) {
      options.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--threads" && has_value) {
      options.threads = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--regions" && has_value) {
      options.regions.clear();
      std::istringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');)
        if (std::atoi(item.c_str()) > 0) options.regions.push_back(std::atoi(item.c_str()));
    } else {
      std::fprintf(stderr,
                   "usage: %s [--model FILE.onnx] [--frames N] [--rounds R] [--threads T] "
                   "[--regions 1,8,32]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return options;
}

siamese::Tensor random_tensor(cv::RNG &rng, std::vector<int64_t> dims, float fan_in) {
  std::size_t count = 1;
  for (const int64_t d : dims) count *= static_cast<std::size_t>(d);
  siamese::Tensor tensor{std::move(dims), std::vector<float>(count)};
  const float bound = std::sqrt(6.f / fan_in);  // He-uniform, so activations stay alive
  for (float &v : tensor.values) v = rng.uniform(-bound, bound);
  return tensor;
}

// Three conv(3x3) + ReLU blocks (16, 32, 64 channels), max-pooling between
// them, global average pooling and a 64 -> 32 embedding layer.
void write_cnn(const std::string &path) {
  cv::RNG rng(7);
  siamese::OnnxGraphBuilder graph("bench_cnn");
  std::string x = graph.input("input", {siamese::OnnxGraphBuilder::kDynamic, 3, kSide, kSide});
  int channels = 3;
  for (const int out : {16, 32, 64}) {
    x = graph.relu(graph.conv(x, random_tensor(rng, {out, channels, 3, 3}, channels * 9.f),
                              siamese::Tensor{{out}, std::vector<float>(out, 0.01f)}, 1, 1));
    if (out != 64) x = graph.max_pool(x, 2, 2);
    channels = out;
  }
  x = graph.gemm(graph.flatten(graph.global_average_pool(x)), random_tensor(rng, {32, 64}, 64.f),
                 siamese::Tensor{{32}, std::vector<float>(32, 0.f)});
  graph.output(x, {siamese::OnnxGraphBuilder::kDynamic, 32});

  siamese::ModelContract contract;
  contract.input.width = kSide;
  contract.input.height = kSide;
  contract.input.color = siamese::ColorOrder::kRgb;
  contract.input.mean = {123.675f, 116.28f, 103.53f};
  contract.input.scale = {1 / 58.395f, 1 / 57.12f, 1 / 57.375f};
  contract.embedding_dim = 32;
  graph.save(path, contract.to_metadata());
}

cv::Mat textured(int width, int height, cv::RNG &rng) {
  cv::Mat image(height, width, CV_8UC3);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(image, image, cv::Size(31, 31), 0);
  return image;
}

void write_references(const fs::path &root, cv::RNG &rng) {
  for (int label = 0; label < kReferenceLabels; ++label) {
    const fs::path folder = root / ("label" + std::to_string(label));
    fs::create_directories(folder);
    for (int i = 0; i < kImagesPerLabel; ++i)
      cv::imwrite((folder / (std::to_string(i) + ".png")).string(), textured(160, 120, rng));
  }
}

// The bare loop: what an OpenCV user would write for the same model.
class BareLoop {
 public:
  explicit BareLoop(const std::string &model)
      : net_(cv::dnn::readNetFromONNX(model)),
        input_(siamese::ModelContract::from_metadata(siamese::read_onnx_metadata(model)).input) {}

  cv::Mat embed(const cv::Mat &bgr) {
    cv::Mat small, converted;
    cv::resize(bgr, small, cv::Size(input_.width, input_.height), 0, 0, cv::INTER_AREA);
    if (input_.color == siamese::ColorOrder::kGray)
      cv::cvtColor(small, converted, cv::COLOR_BGR2GRAY);
    else if (input_.color == siamese::ColorOrder::kRgb)
      cv::cvtColor(small, converted, cv::COLOR_BGR2RGB);
    else
      converted = small;
    std::vector<cv::Mat> planes;
    cv::split(converted, planes);
    const int channels = static_cast<int>(planes.size());
    blob_.create({1, channels, input_.height, input_.width}, CV_32F);
    for (int c = 0; c < channels; ++c) {
      cv::Mat plane(input_.height, input_.width, CV_32F, blob_.ptr<float>(0, c));
      planes[c].convertTo(plane, CV_32F, input_.scale[c], -input_.mean[c] * input_.scale[c]);
    }
    net_.setInput(blob_);
    cv::Mat embedding;
    cv::normalize(net_.forward().reshape(1, 1), embedding, 1.0, 0.0, cv::NORM_L2);
    return embedding;
  }

 private:
  cv::dnn::Net net_;
  siamese::Preprocessing input_;
  cv::Mat blob_;
};

// siamesematch in a GstHarness, fed the same frames as GstBuffers that wrap
// the cv::Mat pixels (no copy), with its messages drained from a bus.
class ElementLoop {
 public:
  ElementLoop(const std::string &model, const std::string &references)
      : harness_(gst_harness_new_parse(
            ("siamesematch model=\"" + model + "\" reference=\"" + references + "\"").c_str())),
        bus_(gst_bus_new()) {
    gst_element_set_bus(harness_->element, bus_);
    gst_harness_set_src_caps_str(harness_,
                                 "video/x-raw,format=BGR,width=640,height=480,framerate=30/1");
    gst_harness_play(harness_);
  }
  ~ElementLoop() {
    gst_harness_teardown(harness_);
    gst_object_unref(bus_);
  }
  ElementLoop(const ElementLoop &) = delete;
  ElementLoop &operator=(const ElementLoop &) = delete;

  void process(GstBuffer *frame) {
    gst_buffer_unref(gst_harness_push_and_pull(harness_, gst_buffer_ref(frame)));
    while (GstMessage *message = gst_bus_pop(bus_)) gst_message_unref(message);
  }

 private:
  GstHarness *harness_;
  GstBus *bus_;
};

struct Cost {
  double cpu = 0.0;   // seconds of process CPU time per frame
  double wall = 0.0;  // seconds of wall time per frame
};

// Adds the cost of one call of `step` to `total`.
template <typename Step>
void measure(Cost &total, Step step) {
  const double cpu_start = process_cpu_seconds();
  const auto wall_start = Clock::now();
  step();
  total.wall += std::chrono::duration<double>(Clock::now() - wall_start).count();
  total.cpu += process_cpu_seconds() - cpu_start;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// "median [min, max]" of per-round figures.
std::string spread(const std::vector<double> &values, double unit = 1.0, int decimals = 3) {
  char text[96];
  std::snprintf(text, sizeof text, "%.*f [min %.*f, max %.*f]", decimals, median(values) * unit,
                decimals, *std::min_element(values.begin(), values.end()) * unit, decimals,
                *std::max_element(values.begin(), values.end()) * unit);
  return text;
}

double whole_process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// `count` regions of a 640x480 frame, of detection-like sizes (40-200 pixels
// a side), the same for every round.
std::vector<cv::Rect> regions_of_frame(int count) {
  cv::RNG rng(count);
  std::vector<cv::Rect> regions;
  for (int i = 0; i < count; ++i) {
    const int width = rng.uniform(40, 200), height = rng.uniform(40, 200);
    regions.emplace_back(rng.uniform(0, kFrameWidth - width), rng.uniform(0, kFrameHeight - height),
                         width, height);
  }
  return regions;
}

// The forward pass alone, what batching can change: the same N model-sized
// images (`blob`, N x C x H x W) through one network at batch N against N
// passes at batch 1 through another (each net keeps its batch size),
// alternating; prints the CPU time per image of each, the ratio (the most
// batching could gain with no preprocessing at all) and the arithmetic rate
// (OpenCV's count of the network's floating-point operations per second of
// CPU), to set against what one core can do.
void bench_forward_alone(const std::string &model, const cv::Mat &blob, const Options &options) {
  const int count = blob.size[0];
  cv::dnn::Net batch_net = cv::dnn::readNetFromONNX(model);
  cv::dnn::Net single_net = cv::dnn::readNetFromONNX(model);
  std::vector<cv::Mat> singles;
  for (int n = 0; n < count; ++n)
    singles.push_back(cv::Mat({1, blob.size[1], blob.size[2], blob.size[3]}, CV_32F,
                              const_cast<float *>(blob.ptr<float>(n))));
  const auto batched = [&] {
    batch_net.setInput(blob);
    batch_net.forward();
  };
  const auto one_by_one = [&] {
    for (const cv::Mat &single : singles) {
      single_net.setInput(single);
      single_net.forward();
    }
  };
  batched();
  one_by_one();
  std::vector<double> batched_cpu, single_cpu, ratios;
  const int calls_per_round = std::max(1, options.frames / 4);
  for (int round = 0; round < options.rounds; ++round) {
    Cost batch_cost, single_cost;
    for (int n = 0; n < calls_per_round; ++n) {
      if (n % 2) measure(batch_cost, batched);
      measure(single_cost, one_by_one);
      if (n % 2 == 0) measure(batch_cost, batched);
    }
    batched_cpu.push_back(batch_cost.cpu / (calls_per_round * count));
    single_cpu.push_back(single_cost.cpu / (calls_per_round * count));
    ratios.push_back(single_cost.cpu / batch_cost.cpu);
  }
  const double flops_per_image =
      static_cast<double>(single_net.getFLOPS({1, blob.size[1], blob.size[2], blob.size[3]}));
  std::printf("      forward alone, us CPU per image: batch 1 %s, batch %d %s, ratio %s; "
              "%.1f MFLOP per image: %.1f / %.1f GFLOP/s of CPU\n",
              spread(single_cpu, 1e6, 0).c_str(), count, spread(batched_cpu, 1e6, 0).c_str(),
              spread(ratios).c_str(), flops_per_image / 1e6,
              flops_per_image / median(single_cpu) / 1e9,
              flops_per_image / median(batched_cpu) / 1e9);
}

// Batched against one by one for each region count; prints one line per count.
void bench_regions(const std::string &model, const std::vector<cv::Mat> &frames,
                   const Options &options) {
  // One embedder per side: OpenCV DNN reallocates a network's buffers
  // whenever the input's batch size changes, so a shared one would pay that
  // on both sides at every switch; each side here keeps its batch size.
  siamese::Embedder batch_embedder = siamese::Embedder::load(model);
  siamese::Embedder single_embedder = siamese::Embedder::load(model);
  std::printf("regions per frame, embedded one by one vs in one batch (us CPU per frame, "
              "median [min, max] of %d rounds x %d frames):\n",
              options.rounds, std::max(1, options.frames / 4));
  for (const int count : options.regions) {
    const std::vector<cv::Rect> rects = regions_of_frame(count);
    std::vector<std::vector<cv::Mat>> crops(frames.size());
    for (std::size_t f = 0; f < frames.size(); ++f)
      for (const cv::Rect &rect : rects) crops[f].push_back(frames[f](rect));  // no copy, as the element
    const auto batched = [&](int f) { batch_embedder.embed(crops[f]); };
    const auto one_by_one = [&](int f) {
      for (const cv::Mat &crop : crops[f]) single_embedder.embed(crop);
    };
    batched(0);
    one_by_one(0);
    std::vector<double> batched_cpu, single_cpu, speedups;
    const int frames_per_round = std::max(1, options.frames / 4);
    for (int round = 0; round < options.rounds; ++round) {
      Cost batch_cost, single_cost;
      for (int n = 0; n < frames_per_round; ++n) {
        const int f = n % kDistinctFrames;
        // Which side goes first alternates, so neither always finds warmer caches.
        if (n % 2) measure(batch_cost, [&] { batched(f); });
        measure(single_cost, [&] { one_by_one(f); });
        if (n % 2 == 0) measure(batch_cost, [&] { batched(f); });
      }
      batched_cpu.push_back(batch_cost.cpu / frames_per_round);
      single_cpu.push_back(single_cost.cpu / frames_per_round);
      speedups.push_back(single_cost.cpu / batch_cost.cpu);
    }
    std::printf("  %2d regions: one by one %s, batched %s, one-by-one / batched %s\n", count,
                spread(single_cpu, 1e6, 0).c_str(), spread(batched_cpu, 1e6, 0).c_str(),
                spread(speedups).c_str());
    bench_forward_alone(model, batch_embedder.make_blob(crops[0]), options);
  }
}

bool load_plugin() {
  if (GstElementFactory *factory = gst_element_factory_find("siamesematch")) {
    gst_object_unref(factory);
    return true;
  }
  GError *error = nullptr;
  GstPlugin *plugin = gst_plugin_load_file(SIAMESE_PLUGIN_FILE, &error);
  if (!plugin) {
    std::fprintf(stderr, "bench-element: cannot load %s: %s\n", SIAMESE_PLUGIN_FILE,
                 error->message);
    g_error_free(error);
    return false;
  }
  gst_object_unref(plugin);
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  const Options options = parse_options(argc, argv);
  gst_init(nullptr, nullptr);
  if (!load_plugin()) return 1;
  cv::setNumThreads(options.threads);

  const fs::path work = fs::temp_directory_path() / ("bench-element-" + std::to_string(getpid()));
  fs::create_directories(work);
  cv::RNG rng(42);
  std::string model = options.model;
  try {
    if (model.empty()) {
      model = (work / "cnn.onnx").string();
      write_cnn(model);
    }
    write_references(work / "references", rng);

    std::vector<cv::Mat> frames;
    std::vector<GstBuffer *> buffers;
    for (int i = 0; i < kDistinctFrames; ++i) {
      frames.push_back(textured(kFrameWidth, kFrameHeight, rng));
      buffers.push_back(gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY, frames.back().data,
                                                    frames.back().total() * 3, 0,
                                                    frames.back().total() * 3, nullptr, nullptr));
    }

    BareLoop bare(model);
    ElementLoop element(model, (work / "references").string());
    // One untimed pass each warms caches and OpenCV's lazily built layers.
    for (int i = 0; i < kDistinctFrames; ++i) {
      bare.embed(frames[i]);
      element.process(buffers[i]);
    }

    std::vector<double> bare_cpu, element_cpu, bare_wall, element_wall, ratios;
    for (int round = 0; round < options.rounds; ++round) {
      Cost bare_cost, element_cost;
      for (int n = 0; n < options.frames; ++n) {
        const int i = n % kDistinctFrames;
        measure(bare_cost, [&] { bare.embed(frames[i]); });
        measure(element_cost, [&] { element.process(buffers[i]); });
      }
      bare_cpu.push_back(bare_cost.cpu / options.frames);
      element_cpu.push_back(element_cost.cpu / options.frames);
      bare_wall.push_back(bare_cost.wall / options.frames);
      element_wall.push_back(element_cost.wall / options.frames);
      ratios.push_back(element_cost.cpu / bare_cost.cpu);
    }
    std::printf(
        "model: %s\nframes: %dx%d BGR, %d rounds x %d frames per side, %d OpenCV thread(s)\n",
        options.model.empty() ? "generated 3-block CNN, 64x64 RGB input" : model.c_str(),
        kFrameWidth, kFrameHeight, options.rounds, options.frames, options.threads);
    std::printf("us CPU per frame, median [min, max] over rounds (wall: median):\n");
    std::printf("  bare OpenCV loop : %s, wall %.1f\n", spread(bare_cpu, 1e6, 1).c_str(),
                median(bare_wall) * 1e6);
    std::printf("  siamesematch     : %s, wall %.1f\n", spread(element_cpu, 1e6, 1).c_str(),
                median(element_wall) * 1e6);
    std::printf("ratio element/bare, CPU time per round: %s (target <= 1.03)\n",
                spread(ratios).c_str());
    // Contention only ever adds time, so the least disturbed rounds show the
    // intrinsic costs best.
    std::printf("ratio element/bare: %.3f CPU time (fastest round of each side)\n",
                *std::min_element(element_cpu.begin(), element_cpu.end()) /
                    *std::min_element(bare_cpu.begin(), bare_cpu.end()));
    for (GstBuffer *buffer : buffers) gst_buffer_unref(buffer);
    if (!options.regions.empty()) bench_regions(model, frames, options);
    std::printf("process CPU time of the whole run (start, model loading, warm-up, all rounds): "
                "%.2f s\n",
                whole_process_cpu_seconds());
  } catch (const std::exception &error) {
    std::fprintf(stderr, "bench-element: %s\n", error.what());
    fs::remove_all(work);
    return 1;
  }
  fs::remove_all(work);
  return 0;
}
