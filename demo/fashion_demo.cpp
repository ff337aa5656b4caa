// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siamese-fashion-demo: the project's main job.  It enrols one (or a few)
// Fashion-MNIST test images of each class the bundled model never saw in
// training (Pullover, Sandal, Bag) as a reference folder, streams other test
// images of those classes as 224x224 BGR video frames through
//
//   appsrc ! siamesematch ! appsink
//
// mixed with frames of things never enrolled (Fashion-MNIST test items of the
// seven seen classes, and generated handwriting-like digits, noise and flat
// grey frames), which the element must call unknown; prints each match as it
// arrives, and ends with a summary (frames, accuracy against the ground truth
// on the enrolled classes, the false-accept rate of each never-enrolled group,
// frames per second) and an annotated contact sheet.
//
// Exit status: 0 on success, 1 on a pipeline or data error (the message says
// which), 2 on bad usage, 3 when --min-accuracy or --max-false-accept was
// given and not met.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/gstvideometa.h>
#include <gst/video/video.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dataset.h"
#include "evaluate_onnx.h"
#include "impostors.h"
#include "match_structure.h"
#include "reference_set.h"

namespace fs = std::filesystem;
using siamese::MatchResult;
using siamese::trainer::ImageSet;

namespace {

// The Fashion-MNIST classes held out of the bundled model's training.
const std::vector<int> kHeldOutClasses = {2, 5, 8};
constexpr int kFramesPerSecond = 25;
constexpr int kQueuedFrames = 4;  // frames appsrc may hold ahead of the element
constexpr int kSheetColumns = 10;
constexpr int kSheetTile = 112;
constexpr int kSheetMaxTiles = 60;
// The never-enrolled group of Fashion-MNIST items of the seen classes; the
// generated groups are named by generate_impostors() ("digits", "noise",
// "flat grey").
constexpr const char *kSeenClassesGroup = "seen classes";
// The generated frames' seeds (test and validation split): others than the
// trainer's validation and test impostors'.
constexpr uint64_t kImpostorSeed = 424242, kValidationImpostorSeed = 434343;
// The --background images' seed: others than the streamed ones'.
constexpr uint64_t kBackgroundSeed = 454545;

struct Options {
  std::string model = SIAMESE_DEFAULT_MODEL;
  std::string data = siamese::trainer::kFashionMnistDir;
  std::string output = "demo-output";
  int frames = 150;
  int never_enrolled = 300;  // half Fashion items of the seen classes, half generated
  int shots = 3;
  int frame_size = 224;
  unsigned seed = 7;
  std::string metric = "cosine";
  std::optional<double> threshold;  // the element's default: the model's calibrated one
  std::optional<double> min_accuracy;
  std::optional<double> max_false_accept;
  bool validation = false;  // --split validation
  int run_length = 1;       // frames each item stays in view
  int background = 0;       // generated images enrolled under _background
  std::vector<std::string> properties;  // extra element properties, NAME=VALUE
  bool quiet = false;
};

void usage(FILE *stream) {
  std::fprintf(stream,
               "usage: siamese-fashion-demo [--model FILE.onnx] [--data DIR] [--output DIR]\n"
               "         [--frames N] [--never-enrolled N] [--shots K] [--frame-size PIXELS]\n"
               "         [--seed N] [--metric cosine|euclidean|learned] [--threshold T]\n"
               "         [--min-accuracy A] [--max-false-accept R] [--split test|validation]\n"
               "         [--run-length L] [--background N] [--property NAME=VALUE]...\n"
               "         [--quiet]\n"
               "Streams N Fashion-MNIST test images of the classes Pullover, Sandal and Bag\n"
               "through siamesematch against K enrolled images per class, mixed with\n"
               "--never-enrolled frames (default 300; half Fashion items of the seven seen\n"
               "classes, half generated digits, noise and flat grey frames) that should\n"
               "come out unknown. --min-accuracy bounds the enrolled frames' accuracy,\n"
               "--max-false-accept every never-enrolled group's false-accept rate.\n"
               "--split validation draws every image from data no reported figure uses\n"
               "(the held-out classes' training-file images, the seen classes' validation\n"
               "images as siamese-train splits them, generated frames of another seed), for\n"
               "choosing settings; the split is the one of the seed the model was trained\n"
               "with, so none of its seen-class items were trained on. --run-length L\n"
               "shows each item for L consecutive frames, each with a camera's jitter\n"
               "(shift, gain, sensor noise), as a stream of objects passing a camera; the\n"
               "summary then adds how long the right label took to be declared.\n"
               "--property sets any siamesematch property, e.g. --property\n"
               "confirm-frames=3. --background N enrols N generated images (digits, noise,\n"
               "flat grey; none of them streamed) as the reserved _background label, which\n"
               "is never declared.\n");
}

int parse_int(const std::string &flag, const char *text, int minimum) {
  char *end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < minimum || value > 1000000)
    throw std::invalid_argument(flag + " takes an integer >= " + std::to_string(minimum) +
                                ", not \"" + text + "\"");
  return static_cast<int>(value);
}

double parse_double(const std::string &flag, const char *text) {
  char *end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0')
    throw std::invalid_argument(flag + " takes a number, not \"" + std::string(text) + "\"");
  return value;
}

Options parse_options(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (flag == "--quiet") {
      options.quiet = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
    const char *value = argv[++i];
    if (flag == "--model") options.model = value;
    else if (flag == "--data") options.data = value;
    else if (flag == "--output") options.output = value;
    else if (flag == "--frames") options.frames = parse_int(flag, value, 1);
    else if (flag == "--never-enrolled") options.never_enrolled = parse_int(flag, value, 0);
    else if (flag == "--shots") options.shots = parse_int(flag, value, 1);
    else if (flag == "--frame-size") options.frame_size = parse_int(flag, value, 28);
    else if (flag == "--seed") options.seed = static_cast<unsigned>(parse_int(flag, value, 0));
    else if (flag == "--metric") options.metric = value;
    else if (flag == "--threshold") options.threshold = parse_double(flag, value);
    else if (flag == "--min-accuracy") options.min_accuracy = parse_double(flag, value);
    else if (flag == "--max-false-accept") options.max_false_accept = parse_double(flag, value);
    else if (flag == "--run-length") options.run_length = parse_int(flag, value, 1);
    else if (flag == "--background") options.background = parse_int(flag, value, 0);
    else if (flag == "--property") {
      const std::string setting = value;
      if (setting.find('=') == std::string::npos || setting.front() == '=')
        throw std::invalid_argument("--property takes NAME=VALUE, not \"" + setting + "\"");
      options.properties.push_back(setting);
    } else if (flag == "--split") {
      const std::string split = value;
      if (split != "test" && split != "validation")
        throw std::invalid_argument("--split takes test or validation, not \"" + split + "\"");
      options.validation = split == "validation";
    }
    else throw std::invalid_argument("unknown option " + flag);
  }
  return options;
}

// A test image as a video frame: upscaled the way a camera close-up of the
// item would look, in BGR.
// `frame` may be a view of a mapped video buffer: it is written in place.
void render_frame(const ImageSet &set, std::size_t index, int size, cv::Mat &frame) {
  cv::cvtColor(set.to_frame(index, size), frame, cv::COLOR_GRAY2BGR);
}

// A camera's frame-to-frame variation of an item that stays in view: a
// shift of up to kJitterShift of the frame, a gain within kJitterGain, and
// sensor noise of kJitterNoise grey levels, drawn from `seed`.  In place.
constexpr double kJitterShift = 0.05, kJitterGain = 0.1, kJitterNoise = 4.0;
void jitter_frame(cv::Mat &frame, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  const double dx = unit(random) * kJitterShift * frame.cols;
  const double dy = unit(random) * kJitterShift * frame.rows;
  const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, dx, 0, 1, dy);
  cv::Mat moved;
  cv::warpAffine(frame, moved, shift, frame.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
  cv::Mat noise(frame.size(), CV_32FC3);
  cv::RNG(seed).fill(noise, cv::RNG::NORMAL, 0.0, kJitterNoise);
  cv::Mat light;
  moved.convertTo(light, CV_32FC3, 1.0 + unit(random) * kJitterGain);
  light += noise;
  light.convertTo(frame, CV_8UC3);  // saturates to [0, 255]
}

// The images a run draws from.  The test split: Fashion-MNIST's test images
// for both the enrolled and the seen classes.  The validation split: the
// held-out classes' training-file images (never trained on) and the seen
// classes' validation images, the part siamese-train keeps out of training
// (split_train_validation() of the seen training images with its default
// fraction and the seed the model was trained with), so settings chosen here
// never saw a reported image and no seen-class item was trained on.
struct Sources {
  ImageSet enrolled;   // images of the held-out classes (others ignored)
  ImageSet seen;       // images of the seen classes (held-out ones ignored)
  ImageSet generated;  // digits, noise, flat grey
};

constexpr double kTrainerValidationFraction = 0.1;  // siamese-train's defaults
constexpr uint64_t kTrainerDefaultSeed = 1;  // for a model that records no seed

bool held_out(int label) {
  return std::find(kHeldOutClasses.begin(), kHeldOutClasses.end(), label) !=
         kHeldOutClasses.end();
}

// One streamed frame: an image, and what it is.
struct StreamFrame {
  const ImageSet *set = nullptr;
  std::size_t index = 0;
  bool enrolled = false;  // of an enrolled class (else it must come out unknown)
  std::string truth;      // the class name, or the never-enrolled group's name
  std::size_t item = 0;   // which item (run of frames) it belongs to
  int position = 0;       // its place in that run, from 0
};

struct Episode {
  std::vector<std::size_t> support;  // enrolled images of Sources::enrolled
  std::vector<StreamFrame> stream;   // frames, in streaming order
};

// Draws the support images and the enrolled-class items from disjoint images
// of the held-out classes, the never-enrolled items from the seen classes'
// images and the generated ones, shuffles them together and shows each for
// run_length frames, with a fixed seed so every run shows the same stream.
Episode draw_episode(const Sources &sources, const Options &options) {
  std::mt19937 random(options.seed);
  Episode episode;
  const ImageSet &enrolled = sources.enrolled;
  std::vector<std::size_t> pool, seen;
  for (std::size_t i = 0; i < sources.seen.size(); ++i)
    if (!held_out(sources.seen.labels[i])) seen.push_back(i);
  for (const int label : kHeldOutClasses) {
    std::vector<std::size_t> of_class;
    for (std::size_t i = 0; i < enrolled.size(); ++i)
      if (enrolled.labels[i] == label) of_class.push_back(i);
    std::shuffle(of_class.begin(), of_class.end(), random);
    if (of_class.size() < static_cast<std::size_t>(options.shots) + 1)
      throw std::runtime_error("too few images of class " + enrolled.class_names[label]);
    episode.support.insert(episode.support.end(), of_class.begin(),
                           of_class.begin() + options.shots);
    pool.insert(pool.end(), of_class.begin() + options.shots, of_class.end());
  }
  std::shuffle(pool.begin(), pool.end(), random);
  pool.resize(std::min(pool.size(), static_cast<std::size_t>(options.frames)));
  std::vector<StreamFrame> items;
  for (const std::size_t index : pool)
    items.push_back({&enrolled, index, true, enrolled.class_names[enrolled.labels[index]]});

  std::shuffle(seen.begin(), seen.end(), random);
  seen.resize(std::min(seen.size(), static_cast<std::size_t>(options.never_enrolled) -
                                        sources.generated.size()));
  for (const std::size_t index : seen) items.push_back({&sources.seen, index, false, kSeenClassesGroup});
  const ImageSet &generated = sources.generated;
  for (std::size_t index = 0; index < generated.size(); ++index)
    items.push_back({&generated, index, false, generated.class_names[generated.labels[index]]});
  std::shuffle(items.begin(), items.end(), random);
  for (std::size_t item = 0; item < items.size(); ++item)
    for (int position = 0; position < options.run_length; ++position) {
      StreamFrame frame = items[item];
      frame.item = item;
      frame.position = position;
      episode.stream.push_back(frame);
    }
  return episode;
}

std::string write_references(const ImageSet &enrolled, const Episode &episode,
                             const Options &options) {
  const fs::path root = fs::path(options.output) / "references";
  fs::remove_all(root);
  for (const std::size_t index : episode.support) {
    const fs::path folder = root / enrolled.class_names[enrolled.labels[index]];
    fs::create_directories(folder);
    const fs::path file =
        folder / ((options.validation ? "train-" : "test-") + std::to_string(index) + ".png");
    cv::Mat frame;
    render_frame(enrolled, index, options.frame_size, frame);
    if (!cv::imwrite(file.string(), frame))
      throw std::runtime_error("cannot write " + file.string());
  }
  // Things that must never match, as a watch-list enrols the empty scene.
  const ImageSet background = siamese::trainer::generate_impostors(
      static_cast<std::size_t>(options.background), enrolled.width, enrolled.height,
      enrolled.channels, kBackgroundSeed);
  const fs::path background_folder = root / siamese::kBackgroundLabel;
  if (background.size() > 0) fs::create_directories(background_folder);
  for (std::size_t index = 0; index < background.size(); ++index) {
    const fs::path file = background_folder / ("generated-" + std::to_string(index) + ".png");
    cv::Mat frame;
    render_frame(background, index, options.frame_size, frame);
    if (!cv::imwrite(file.string(), frame))
      throw std::runtime_error("cannot write " + file.string());
  }
  return root.string();
}

// A tile of the contact sheet: the frame with its matched label and score,
// green when right, red when wrong, grey when unknown.
cv::Mat annotate(const cv::Mat &frame, const MatchResult &result, const std::string &truth) {
  cv::Mat tile;
  cv::resize(frame, tile, cv::Size(kSheetTile, kSheetTile), 0, 0, cv::INTER_AREA);
  const cv::Scalar colour = !result.matched       ? cv::Scalar(128, 128, 128)
                            : result.label == truth ? cv::Scalar(60, 170, 60)
                                                    : cv::Scalar(40, 40, 210);
  cv::rectangle(tile, cv::Rect(0, kSheetTile - 22, kSheetTile, 22), colour, cv::FILLED);
  char text[64];
  std::snprintf(text, sizeof text, "%s %.2f", result.matched ? result.label.c_str() : "unknown",
                result.score);
  cv::putText(tile, text, cv::Point(3, kSheetTile - 7), cv::FONT_HERSHEY_SIMPLEX, 0.42,
              cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  cv::rectangle(tile, cv::Rect(0, 0, kSheetTile, kSheetTile), colour, 2);
  return tile;
}

class ContactSheet {
 public:
  bool wants_more() const { return tiles_.size() < static_cast<std::size_t>(kSheetMaxTiles); }
  void add(const cv::Mat &tile) { tiles_.push_back(tile); }
  void save(const std::string &path) const {
    if (tiles_.empty()) return;
    const int rows = (static_cast<int>(tiles_.size()) + kSheetColumns - 1) / kSheetColumns;
    cv::Mat sheet(rows * kSheetTile, kSheetColumns * kSheetTile, CV_8UC3, cv::Scalar(30, 30, 30));
    for (std::size_t i = 0; i < tiles_.size(); ++i) {
      const int row = static_cast<int>(i) / kSheetColumns;
      const int column = static_cast<int>(i) % kSheetColumns;
      tiles_[i].copyTo(sheet(cv::Rect(column * kSheetTile, row * kSheetTile, kSheetTile, kSheetTile)));
    }
    if (!cv::imwrite(path, sheet)) throw std::runtime_error("cannot write " + path);
  }

 private:
  std::vector<cv::Mat> tiles_;
};

// Owns a reference to a GStreamer object.
template <typename T>
struct GstRef {
  T *object = nullptr;
  explicit GstRef(T *o) : object(o) {}
  ~GstRef() {
    if (object) gst_object_unref(object);
  }
  GstRef(const GstRef &) = delete;
  GstRef &operator=(const GstRef &) = delete;
};

std::optional<MatchResult> result_of(GstBuffer *buffer) {
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto *roi = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    if (const GstStructure *param =
            gst_video_region_of_interest_meta_get_param(roi, siamese::kMatchStructureName))
      return siamese::match_from_structure(param);
  }
  return std::nullopt;
}

// Pops an error from the bus without waiting; returns its text if there is one.
std::optional<std::string> pending_error(GstBus *bus) {
  GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  if (!message) return std::nullopt;
  GError *error = nullptr;
  gchar *debug = nullptr;
  gst_message_parse_error(message, &error, &debug);
  std::string text = error->message;
  if (debug) text += std::string(" (") + debug + ")";
  g_clear_error(&error);
  g_free(debug);
  gst_message_unref(message);
  return text;
}

// A view of a mapped BGR video frame, with the frame's own row stride (BGR
// rows are padded to a multiple of four bytes).
cv::Mat frame_view(const GstVideoFrame &frame) {
  return cv::Mat(GST_VIDEO_FRAME_HEIGHT(&frame), GST_VIDEO_FRAME_WIDTH(&frame), CV_8UC3,
                 GST_VIDEO_FRAME_PLANE_DATA(&frame, 0), GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0));
}

// Pushes the frames, keeping at most kQueuedFrames waiting in appsrc, until
// all are in or `stop` is set.  (appsrc's own blocking mode would hang if the
// pipeline failed to start: a blocked push is only released from PAUSED.)
void feed_frames(GstAppSrc *source, const Episode &episode, int size, bool jitter,
                 const std::atomic<bool> &stop) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_BGR, size, size);
  const guint64 queue_limit = kQueuedFrames * GST_VIDEO_INFO_SIZE(&info);
  const GstClockTime frame_duration = gst_util_uint64_scale_int(GST_SECOND, 1, kFramesPerSecond);
  for (std::size_t i = 0; i < episode.stream.size(); ++i) {
    while (!stop && gst_app_src_get_current_level_bytes(source) >= queue_limit)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (stop) return;
    GstBuffer *buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
    GstVideoFrame frame;
    gst_video_frame_map(&frame, &info, buffer, GST_MAP_WRITE);
    cv::Mat view = frame_view(frame);
    render_frame(*episode.stream[i].set, episode.stream[i].index, size, view);
    if (jitter) jitter_frame(view, static_cast<unsigned>(i));
    gst_video_frame_unmap(&frame);
    GST_BUFFER_PTS(buffer) = i * frame_duration;
    GST_BUFFER_DURATION(buffer) = frame_duration;
    GST_BUFFER_OFFSET(buffer) = i;
    if (gst_app_src_push_buffer(source, buffer) != GST_FLOW_OK) break;  // stopped on error
  }
  gst_app_src_end_of_stream(source);
}

// The contact-sheet tile of a tagged sample, drawn from the frame that went
// through the pipeline; nothing when the frame cannot be mapped.
std::optional<cv::Mat> annotate_sample(GstSample *sample, const MatchResult &result,
                                       const std::string &truth) {
  GstVideoInfo info;
  GstVideoFrame frame;
  if (!gst_video_info_from_caps(&info, gst_sample_get_caps(sample)) ||
      !gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ))
    return std::nullopt;
  cv::Mat tile = annotate(frame_view(frame), result, truth);
  gst_video_frame_unmap(&frame);
  return tile;
}

struct Summary {
  int frames = 0;     // of the enrolled classes
  int correct = 0;
  int unknown = 0;
  std::map<std::string, std::pair<int, int>> per_class;  // truth -> (correct, frames)
  // never-enrolled group -> (accepted as an enrolled label, frames)
  std::map<std::string, std::pair<int, int>> false_accepts;
  int never_enrolled_frames = 0;
  int accepted = 0;  // never-enrolled frames accepted, all groups
  // Each frame's own decision, before confirm-frames: right labels of the
  // enrolled frames, never-enrolled frames accepted.
  int frame_own_correct = 0, frame_own_accepted = 0;
  // Enrolled items: the run position at which the right label was first
  // declared (absent: never within its run).
  std::map<std::size_t, std::optional<int>> first_right;
};

// How long the enrolled items waited for their right label.
void print_delays(const Summary &summary) {
  int declared = 0;
  double total = 0.0;
  for (const auto &[item, position] : summary.first_right)
    if (position) {
      ++declared;
      total += *position;
    }
  std::printf("Enrolled items: %zu, right label declared within the run for %d (%.3f), "
              "after %.2f frames on average\n",
              summary.first_right.size(), declared,
              summary.first_right.empty() ? 0.0 : double(declared) / summary.first_right.size(),
              declared ? total / declared : 0.0);
}

// Prints the never-enrolled groups' false-accept rates; returns the largest.
double print_false_accepts(const Summary &summary) {
  if (summary.never_enrolled_frames == 0) return 0.0;
  std::printf("Never enrolled: %d frames, each should come out unknown\n",
              summary.never_enrolled_frames);
  std::printf("  %-13s %6s %9s %13s\n", "group", "frames", "accepted", "false-accept");
  double worst = 0.0;
  int accepted = 0;
  for (const auto &[group, counts] : summary.false_accepts) {
    const double rate = double(counts.first) / counts.second;
    worst = std::max(worst, rate);
    accepted += counts.first;
    std::printf("  %-13s %6d %9d %13.3f\n", group.c_str(), counts.second, counts.first, rate);
  }
  std::printf("  %-13s %6d %9d %13.3f\n", "all", summary.never_enrolled_frames, accepted,
              double(accepted) / summary.never_enrolled_frames);
  return worst;
}

// `split_seed`: the validation split's seed (the model's training seed).
Sources load_sources(const Options &options, uint64_t split_seed) {
  siamese::trainer::TrainTestSets fashion = siamese::trainer::load_fashion_mnist(options.data);
  Sources sources;
  if (options.validation) {
    sources.seen = siamese::trainer::split_train_validation(
                       siamese::trainer::split_holdout_classes(fashion.train, kHeldOutClasses).seen,
                       kTrainerValidationFraction, split_seed)
                       .validation;
    sources.enrolled = std::move(fashion.train);
  } else {
    sources.seen = fashion.test;
    sources.enrolled = std::move(fashion.test);
  }
  // Half the never-enrolled frames generated (a third each of digits, noise,
  // flat grey), at the images' own 28x28 so they are shown the same way.
  sources.generated = siamese::trainer::generate_impostors(
      static_cast<std::size_t>(options.never_enrolled / 2), sources.enrolled.width,
      sources.enrolled.height, sources.enrolled.channels,
      options.validation ? kValidationImpostorSeed : kImpostorSeed);
  return sources;
}

int run(const Options &options) {
  const uint64_t split_seed =
      siamese::trainer::training_seed(options.model).value_or(kTrainerDefaultSeed);
  if (options.validation)
    std::printf("Loading Fashion-MNIST training-file images (the validation split of the "
                "model's training seed %llu) from %s\n",
                static_cast<unsigned long long>(split_seed), options.data.c_str());
  else
    std::printf("Loading Fashion-MNIST test images from %s\n", options.data.c_str());
  const Sources sources = load_sources(options, split_seed);
  const Episode episode = draw_episode(sources, options);
  fs::create_directories(options.output);
  const std::string references = write_references(sources.enrolled, episode, options);
  std::printf("Enrolled %d image(s) per class of Pullover, Sandal, Bag in %s\n", options.shots,
              references.c_str());

  std::string threshold_setting =
      options.threshold ? " threshold=" + std::to_string(*options.threshold) : "";
  for (const std::string &property : options.properties) threshold_setting += " " + property;
  gchar *description = g_strdup_printf(
      "appsrc name=frames format=time "
      "caps=video/x-raw,format=BGR,width=%d,height=%d,framerate=%d/1 ! "
      "siamesematch model=\"%s\" reference=\"%s\" metric=%s%s messages=none ! "
      "appsink name=tagged sync=false",
      options.frame_size, options.frame_size,
      kFramesPerSecond, options.model.c_str(), references.c_str(), options.metric.c_str(),
      threshold_setting.c_str());
  GError *parse_error = nullptr;
  GstRef<GstElement> pipeline(gst_parse_launch(description, &parse_error));
  g_free(description);
  if (parse_error) {
    const std::string text = parse_error->message;
    g_clear_error(&parse_error);
    throw std::runtime_error("cannot build the pipeline: " + text);
  }
  GstRef<GstElement> source(gst_bin_get_by_name(GST_BIN(pipeline.object), "frames"));
  GstRef<GstElement> sink(gst_bin_get_by_name(GST_BIN(pipeline.object), "tagged"));
  GstRef<GstBus> bus(gst_element_get_bus(pipeline.object));

  Summary summary;
  ContactSheet sheet;
  std::optional<std::string> error;
  const auto started = std::chrono::steady_clock::now();
  gst_element_set_state(pipeline.object, GST_STATE_PLAYING);
  // Nothing may throw until the feeder is joined: errors go through `error`.
  std::atomic<bool> stop_feeding{false};
  std::thread feeder(feed_frames, GST_APP_SRC(source.object), std::cref(episode),
                     options.frame_size, options.run_length > 1, std::cref(stop_feeding));
  while (!(error = pending_error(bus.object))) {
    GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink.object), GST_SECOND / 10);
    if (!sample) {
      if (gst_app_sink_is_eos(GST_APP_SINK(sink.object))) break;
      continue;
    }
    const std::unique_ptr<GstSample, decltype(&gst_sample_unref)> owned(sample, gst_sample_unref);
    GstBuffer *buffer = gst_sample_get_buffer(sample);
    const std::size_t frame_index = GST_BUFFER_OFFSET(buffer);
    const std::optional<MatchResult> result = result_of(buffer);
    if (!result || frame_index >= episode.stream.size()) {
      error = "frame " + std::to_string(frame_index) + " came back without a siamesematch result";
      break;
    }
    const StreamFrame &streamed = episode.stream[frame_index];
    const std::string &truth = streamed.truth;
    // A never-enrolled frame is right when it comes out unknown.
    const bool right = streamed.enrolled ? result->matched && result->label == truth
                                         : !result->matched;
    if (streamed.enrolled) {
      ++summary.frames;
      summary.correct += right;
      summary.unknown += !result->matched;
      auto &[class_correct, class_frames] = summary.per_class[truth];
      class_correct += right;
      ++class_frames;
      summary.frame_own_correct += result->frame_label == truth;
      std::optional<int> &first = summary.first_right[streamed.item];
      if (right && !first) first = streamed.position;
    } else {
      ++summary.never_enrolled_frames;
      auto &[accepted, group_frames] = summary.false_accepts[truth];
      accepted += result->matched;
      ++group_frames;
      summary.accepted += result->matched;
      summary.frame_own_accepted += !result->frame_label.empty();
    }
    if (!options.quiet)
      std::printf("frame %4zu  truth %-12s  match %-8s score %.3f  %s\n", frame_index,
                  truth.c_str(), result->matched ? result->label.c_str() : "unknown",
                  result->score, right ? "ok" : "WRONG");
    if (sheet.wants_more()) {
      const std::optional<cv::Mat> tile = annotate_sample(sample, *result, truth);
      if (!tile) {
        error = "frame " + std::to_string(frame_index) + " could not be mapped";
        break;
      }
      sheet.add(*tile);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  stop_feeding = true;
  feeder.join();
  gst_element_set_state(pipeline.object, GST_STATE_NULL);
  if (error) throw std::runtime_error(*error);

  const std::string sheet_path = (fs::path(options.output) / "contact-sheet.png").string();
  sheet.save(sheet_path);
  const double accuracy = summary.frames ? double(summary.correct) / summary.frames : 0.0;
  std::printf("\nSummary: %d frames of the enrolled classes, %d correct, %d unknown: "
              "accuracy %.3f (%d-shot, %s)\n",
              summary.frames, summary.correct, summary.unknown, accuracy, options.shots,
              options.metric.c_str());
  for (const auto &[label, counts] : summary.per_class)
    std::printf("  %-8s %3d / %3d\n", label.c_str(), counts.first, counts.second);
  const double worst_false_accept = print_false_accepts(summary);
  const int all_frames = summary.frames + summary.never_enrolled_frames;
  // Printed when confirm-frames changed any decision.
  if (summary.frame_own_correct != summary.correct ||
      summary.frame_own_accepted != summary.accepted)
    std::printf("Each frame's own decision, before confirm-frames: right label %.3f of the "
                "enrolled frames, never-enrolled accepted %.3f\n",
                summary.frames ? double(summary.frame_own_correct) / summary.frames : 0.0,
                summary.never_enrolled_frames
                    ? double(summary.frame_own_accepted) / summary.never_enrolled_frames
                    : 0.0);
  if (options.run_length > 1) print_delays(summary);
  std::printf("Throughput: %.1f frames per second (%dx%d BGR, whole pipeline)\n",
              all_frames / seconds, options.frame_size, options.frame_size);
  std::printf("Annotated contact sheet: %s\n", sheet_path.c_str());
  if (options.min_accuracy && accuracy < *options.min_accuracy) {
    std::fprintf(stderr, "accuracy %.3f is below --min-accuracy %.3f\n", accuracy,
                 *options.min_accuracy);
    return 3;
  }
  if (options.max_false_accept && worst_false_accept > *options.max_false_accept) {
    std::fprintf(stderr, "a never-enrolled group's false-accept rate %.3f is above "
                 "--max-false-accept %.3f\n", worst_false_accept, *options.max_false_accept);
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "siamese-fashion-demo: %s\n", error.what());
    usage(stderr);
    return 2;
  }
  try {
    return run(options);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "siamese-fashion-demo: %s\n", error.what());
    return 1;
  }
}
