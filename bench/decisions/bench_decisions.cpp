// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What the open-set decisions cost per frame: the matcher with score
// normalisation against a cohort (AS-norm: one cohort x dimension product
// and a partial selection per frame, template statistics computed once)
// against the same matcher without it, on the same random unit embeddings,
// measured in one run.  The two sides alternate in short rounds (the order
// flips every round) so machine noise hits both alike; costs are process CPU
// time.  Prints per-frame cost of each side and the ratio normalised / raw
// per round: median, minimum and maximum.  With --model, the model's own
// per-frame embedding cost (one frame of its input size) is measured in the
// same rounds, and the ratio (embed + normalised match) / (embed + raw
// match) says what normalisation adds to a frame as the element runs it.
// Also prints the one-off cost of the templates' cohort statistics.
//
//   bench-decisions [--cohort N] [--dim D] [--labels L] [--per-label K]
//                   [--calls C] [--rounds R] [--model FILE.onnx]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/utility.hpp>

#include "bench_clock.h"
#include "embedder.h"
#include "matcher.h"

namespace {

using siamese::Cohort;
using siamese::bench::process_cpu_seconds;
using siamese::Matcher;
using siamese::MatcherSettings;
using siamese::ReferenceSet;

struct Options {
  int cohort = 1000;  // the measurement used 1,000 training images
  int dim = 128;      // the bundled triplet model's embedding
  int labels = 3;     // the watch-list: 3 enrolled classes
  int per_label = 3;  // K = 3 images each
  int calls = 2000;   // frames per side and round
  int rounds = 15;
  std::string model;
};

Options parse(int argc, char **argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const char *value = argv[i + 1];
    if (name == "--cohort") options.cohort = std::atoi(value);
    else if (name == "--dim") options.dim = std::atoi(value);
    else if (name == "--labels") options.labels = std::atoi(value);
    else if (name == "--per-label") options.per_label = std::atoi(value);
    else if (name == "--calls") options.calls = std::atoi(value);
    else if (name == "--rounds") options.rounds = std::atoi(value);
    else if (name == "--model") options.model = value;
    else {
      std::fprintf(stderr, "bench-decisions: unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  if ((argc - 1) % 2 != 0 || options.cohort < 1 || options.dim < 1 || options.labels < 1 ||
      options.per_label < 1 || options.calls < 1 || options.rounds < 1) {
    std::fprintf(stderr, "bench-decisions: options take positive whole numbers (see the source)\n");
    std::exit(2);
  }
  return options;
}

cv::Mat unit_rows(int rows, int dim, cv::RNG &rng) {
  cv::Mat values(rows, dim, CV_32F);
  rng.fill(values, cv::RNG::NORMAL, 0, 1);
  for (int r = 0; r < rows; ++r) cv::normalize(values.row(r), values.row(r));
  return values;
}

// CPU seconds per call of `work` over `calls` calls.
template <typename Work>
double per_call(int calls, Work work) {
  const double start = process_cpu_seconds();
  for (int i = 0; i < calls; ++i) work(i);
  return (process_cpu_seconds() - start) / calls;
}

struct Spread {
  double median, low, high;
};
Spread spread(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return {values[values.size() / 2], values.front(), values.back()};
}

}  // namespace

int main(int argc, char **argv) {
  const Options options = parse(argc, argv);
  cv::setNumThreads(1);
  cv::RNG rng(1);
  const cv::Mat cohort_rows = unit_rows(options.cohort, options.dim, rng);
  Cohort cohort;
  cohort.count = options.cohort;
  cohort.embeddings.assign(cohort_rows.begin<float>(), cohort_rows.end<float>());
  ReferenceSet references;
  const cv::Mat templates = unit_rows(options.labels * options.per_label, options.dim, rng);
  for (int t = 0; t < templates.rows; ++t)
    references.add("label" + std::to_string(t % options.labels), templates.row(t));
  constexpr int kDistinctQueries = 64;
  const cv::Mat queries = unit_rows(kDistinctQueries, options.dim, rng);

  MatcherSettings raw_settings;
  MatcherSettings normalised_settings = raw_settings;
  normalised_settings.normalise = true;
  const double build_start = process_cpu_seconds();
  const Matcher normalised(references, normalised_settings, {}, cohort);
  const double normalised_build = process_cpu_seconds() - build_start;
  const Matcher raw(references, raw_settings, {});

  std::optional<siamese::Embedder> embedder;
  cv::Mat frame;
  if (!options.model.empty()) {
    embedder.emplace(siamese::Embedder::load(options.model));
    const siamese::Preprocessing &input = embedder->contract().input;
    frame = cv::Mat(input.height, input.width, CV_8UC3);
    rng.fill(frame, cv::RNG::UNIFORM, 0, 256);
  }

  std::vector<double> raw_costs, normalised_costs, ratios, frame_ratios, embed_costs;
  volatile double sink = 0.0;  // keeps the results alive
  for (int round = 0; round < options.rounds; ++round) {
    const auto run_raw = [&] {
      return per_call(options.calls, [&](int i) {
        sink = sink + raw.match(queries.row(i % kDistinctQueries)).front().score;
      });
    };
    const auto run_normalised = [&] {
      return per_call(options.calls, [&](int i) {
        sink = sink + *normalised.match(queries.row(i % kDistinctQueries)).front().normalised_score;
      });
    };
    double raw_cost, normalised_cost;
    if (round % 2 == 0) {
      raw_cost = run_raw();
      normalised_cost = run_normalised();
    } else {
      normalised_cost = run_normalised();
      raw_cost = run_raw();
    }
    raw_costs.push_back(raw_cost);
    normalised_costs.push_back(normalised_cost);
    ratios.push_back(normalised_cost / raw_cost);
    if (embedder) {
      const int frames = std::max(1, options.calls / 20);
      const double embed_cost =
          per_call(frames, [&](int) { sink = sink + embedder->embed(frame).at<float>(0); });
      embed_costs.push_back(embed_cost);
      frame_ratios.push_back((embed_cost + normalised_cost) / (embed_cost + raw_cost));
    }
  }

  std::printf("cohort %d x %d, %d labels x %d templates, %d frames per side and round, %d rounds, "
              "1 thread\n",
              options.cohort, options.dim, options.labels, options.per_label, options.calls,
              options.rounds);
  const Spread r = spread(raw_costs), n = spread(normalised_costs), q = spread(ratios);
  std::printf("match, raw:        %8.2f us per frame (min %.2f, max %.2f)\n", r.median * 1e6,
              r.low * 1e6, r.high * 1e6);
  std::printf("match, normalised: %8.2f us per frame (min %.2f, max %.2f)\n", n.median * 1e6,
              n.low * 1e6, n.high * 1e6);
  std::printf("ratio normalised / raw: median %.2f (min %.2f, max %.2f)\n", q.median, q.low, q.high);
  if (embedder) {
    const Spread e = spread(embed_costs), f = spread(frame_ratios);
    std::printf("embed one frame (%s): %8.2f us (min %.2f, max %.2f)\n", options.model.c_str(),
                e.median * 1e6, e.low * 1e6, e.high * 1e6);
    std::printf("ratio (embed + normalised match) / (embed + raw match): median %.3f (min %.3f, "
                "max %.3f)\n",
                f.median, f.low, f.high);
  }
  std::printf("template cohort statistics, once per reference set: %.2f ms for %d templates\n",
              normalised_build * 1e3, templates.rows);
  return sink == -1.0 ? 1 : 0;
}
