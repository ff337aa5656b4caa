// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Many cameras in one process: memory and frames per second of N
// siamesematch instances on the same model and reference folder, each in a
// branch of its own (its own streaming thread) of one pipeline,
//   videotestsrc ! video/x-raw,format=BGR,width=W,height=H ! siamesematch ! fakesink sync=false
// x N, run as fast as the machine allows until every branch has sent its frames;
// with the instances sharing one network and reference set (share=true, the
// default) and each loading its own (share=false), side by side.
//
// Each measurement runs in a fresh child process (this program with
// --child), so allocations of one run never flatter the next.  Memory is the
// child's resident set (VmRSS) at the end of the stream, with everything
// still loaded; the same pipeline with `identity` in place of siamesematch
// gives what the sources, sinks and GStreamer cost, and the difference is
// what the N element instances cost.  Rounds interleave the stream counts
// and the two modes (1 shared, 1 unshared, 2 shared, ...) so that machine
// noise hits them alike; the frames-per-second figure is the median over
// rounds, with the spread.
//
//   bench-streams [--model FILE.onnx] [--reference DIR] [--streams 1,2,4,8]
//                 [--frames 150] [--rounds 3] [--width 640] [--height 480]
//                 [--element-options "interval=1 ..."]
#include <gst/gst.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string model = SIAMESE_BUNDLED_MODEL;
  std::string reference;  // empty: generate one
  std::string streams = "1,2,4,8";
  int frames = 150;  // per stream
  int rounds = 3;
  int width = 640;
  int height = 480;
  std::string element_options;
  int child = -1;          // >= 0: run one measurement with this many streams
  bool identity = false;   // the child runs identity instead of siamesematch
  bool unshared = false;   // the child's instances load a network each (share=false)
};

// What runs in place of N sharing siamesematch instances.
enum class Mode { kShared, kUnshared, kIdentity };

// One child's figures.
struct Measurement {
  double rss_mb = 0;
  double wall_s = 0;
  double cpu_s = 0;
  long frames = 0;
};

double status_mb(const char *field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + std::strlen(field)) / 1024.0;
  return 0;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval &t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string branch(const Options &options, int index) {
  std::ostringstream text;
  text << "videotestsrc num-buffers=" << options.frames << " pattern=ball ! video/x-raw,format=BGR,width="
       << options.width << ",height=" << options.height << " ! ";
  if (options.identity)
    text << "identity";
  else
    text << "siamesematch name=match" << index << " model=\"" << options.model << "\" reference=\""
         << options.reference << "\" messages=none " << (options.unshared ? "share=false " : "")
         << options.element_options;
  text << " ! fakesink sync=false";
  return text.str();
}

// Runs N branches to the end; prints "rss_mb wall_s cpu_s frames".
int run_child(const Options &options) {
  GError *error = nullptr;
  GstPlugin *plugin = gst_plugin_load_file(SIAMESE_PLUGIN_FILE, &error);
  if (!plugin) {
    std::fprintf(stderr, "bench-streams: cannot load %s: %s\n", SIAMESE_PLUGIN_FILE, error->message);
    return 1;
  }
  gst_object_unref(plugin);
  std::string description;
  for (int i = 0; i < options.child; ++i) description += branch(options, i) + "  ";
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  if (!pipeline) {
    std::fprintf(stderr, "bench-streams: %s\n", error->message);
    return 1;
  }
  GstBus *bus = gst_element_get_bus(pipeline);
  const double cpu_before = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstMessage *message = gst_bus_timed_pop_filtered(
      bus, GST_CLOCK_TIME_NONE, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_before;
  const double rss = status_mb("VmRSS:");
  int status = 0;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    gst_message_parse_error(message, &error, nullptr);
    std::fprintf(stderr, "bench-streams: %s\n", error->message);
    g_error_free(error);
    status = 1;
  } else {
    std::printf("%.2f %.4f %.4f %ld\n", rss, wall, cpu,
                static_cast<long>(options.child) * options.frames);
  }
  gst_message_unref(message);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return status;
}

Measurement measure(const char *program, const Options &options, int streams, Mode mode) {
  std::vector<std::string> arguments = {
      program,          "--child",  std::to_string(streams), "--model", options.model,
      "--reference",    options.reference, "--frames", std::to_string(options.frames),
      "--width",        std::to_string(options.width), "--height", std::to_string(options.height),
      "--element-options", options.element_options};
  if (mode == Mode::kIdentity) arguments.push_back("--identity");
  if (mode == Mode::kUnshared) arguments.push_back("--unshared");
  std::vector<char *> argv;
  for (std::string &argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  gchar *output = nullptr;
  gint status = 0;
  GError *error = nullptr;
  Measurement result;
  if (!g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_DEFAULT, nullptr, nullptr, &output,
                    nullptr, &status, &error) ||
      !g_spawn_check_wait_status(status, &error)) {
    std::fprintf(stderr, "bench-streams: a child failed: %s\n", error->message);
    std::exit(1);
  }
  std::istringstream(output) >> result.rss_mb >> result.wall_s >> result.cpu_s >> result.frames;
  g_free(output);
  return result;
}

// A reference folder of 4 labels x 3 textured 64x64 images.
std::string make_reference_folder() {
  const fs::path root = fs::temp_directory_path() / ("bench-streams-refs-" + std::to_string(getpid()));
  cv::RNG rng(20261201);
  for (int label = 0; label < 4; ++label) {
    const fs::path folder = root / ("label" + std::to_string(label));
    fs::create_directories(folder);
    for (int image = 0; image < 3; ++image) {
      cv::Mat picture(64, 64, CV_8UC3);
      rng.fill(picture, cv::RNG::UNIFORM, 0, 256);
      cv::imwrite((folder / (std::to_string(image) + ".png")).string(), picture);
    }
  }
  return root.string();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// One table: memory and frames per second of each stream count in one mode.
void print_table(const char *title, const std::vector<int> &counts,
                 std::map<int, std::vector<Measurement>> &runs,
                 std::map<int, Measurement> &without) {
  std::printf("\n%s\n%7s %9s %13s %12s %9s %22s %11s %13s\n", title, "streams", "RSS (MB)",
              "w/o elements", "elements", "vs one", "fps total (min-max)", "fps/stream",
              "CPU ms/frame");
  double one_instance = 0;
  for (const int n : counts) {
    std::vector<double> rss, fps, cpu_ms;
    for (const Measurement &m : runs[n]) {
      rss.push_back(m.rss_mb);
      fps.push_back(m.frames / m.wall_s);
      cpu_ms.push_back(1000.0 * m.cpu_s / m.frames);
    }
    const double elements = median(rss) - without[n].rss_mb;
    if (n == counts.front()) one_instance = elements / n;
    std::printf("%7d %9.1f %13.1f %12.1f %8.2fx %9.1f (%5.1f-%5.1f) %11.1f %13.2f\n", n,
                median(rss), without[n].rss_mb, elements, elements / one_instance, median(fps),
                *std::min_element(fps.begin(), fps.end()),
                *std::max_element(fps.begin(), fps.end()), median(fps) / n, median(cpu_ms));
  }
}

int run_parent(const char *program, Options options) {
  const bool generated = options.reference.empty();
  if (generated) options.reference = make_reference_folder();
  std::vector<int> counts;
  std::stringstream list(options.streams);
  for (std::string item; std::getline(list, item, ',');) counts.push_back(std::stoi(item));

  std::printf("model %s, %dx%d BGR frames, %d per stream, %d rounds, element options \"%s\"\n",
              options.model.c_str(), options.width, options.height, options.frames, options.rounds,
              options.element_options.c_str());
  std::map<Mode, std::map<int, std::vector<Measurement>>> runs;
  std::map<int, Measurement> without;  // identity in place of siamesematch
  for (int round = 0; round < options.rounds; ++round)
    for (const int n : counts)
      for (const Mode mode : {Mode::kShared, Mode::kUnshared})
        runs[mode][n].push_back(measure(program, options, n, mode));
  for (const int n : counts) without[n] = measure(program, options, n, Mode::kIdentity);

  for (const Mode mode : {Mode::kShared, Mode::kUnshared})
    print_table(mode == Mode::kShared ? "shared (share=true, the default)"
                                      : "unshared (share=false: a network and a set each)",
                counts, runs[mode], without);
  std::printf("\nRSS: resident memory of the process at the end of the stream (median of rounds);\n"
              "w/o elements: the same pipeline with identity in place of siamesematch;\n"
              "elements: the difference, what the siamesematch instances cost; vs one: that,\n"
              "divided by the cost of the first row's instances.\n");
  if (generated) fs::remove_all(options.reference);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  Options options;
  gchar *model = nullptr, *reference = nullptr, *streams = nullptr, *element_options = nullptr;
  gboolean identity = FALSE, unshared = FALSE;
  const GOptionEntry entries[] = {
      {"model", 0, 0, G_OPTION_ARG_FILENAME, &model, "ONNX model (default: the bundled one)", "FILE"},
      {"reference", 0, 0, G_OPTION_ARG_FILENAME, &reference,
       "Reference folder (default: 4 generated labels)", "DIR"},
      {"streams", 0, 0, G_OPTION_ARG_STRING, &streams, "Stream counts (default 1,2,4,8)", "LIST"},
      {"frames", 0, 0, G_OPTION_ARG_INT, &options.frames, "Frames per stream (default 150)", "N"},
      {"rounds", 0, 0, G_OPTION_ARG_INT, &options.rounds, "Rounds (default 3)", "N"},
      {"width", 0, 0, G_OPTION_ARG_INT, &options.width, "Frame width (default 640)", "W"},
      {"height", 0, 0, G_OPTION_ARG_INT, &options.height, "Frame height (default 480)", "H"},
      {"element-options", 0, 0, G_OPTION_ARG_STRING, &element_options,
       "More siamesematch properties, e.g. \"threads=1\"", "TEXT"},
      {"child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &options.child, nullptr, nullptr},
      {"identity", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &identity, nullptr, nullptr},
      {"unshared", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &unshared, nullptr, nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext *context = g_option_context_new("- memory and fps of many siamesematch streams");
  g_option_context_add_main_entries(context, entries, nullptr);
  g_option_context_add_group(context, gst_init_get_option_group());
  GError *error = nullptr;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    std::fprintf(stderr, "bench-streams: %s\n", error->message);
    return 2;
  }
  g_option_context_free(context);
  const auto take = [](gchar *value, std::string &target) {
    if (value) target = value;
    g_free(value);
  };
  take(model, options.model);
  take(reference, options.reference);
  take(streams, options.streams);
  take(element_options, options.element_options);
  options.identity = identity;
  options.unshared = unshared;
  gst_init(&argc, &argv);
  return options.child >= 0 ? run_child(options) : run_parent("/proc/self/exe", options);
}
