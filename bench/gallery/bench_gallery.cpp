// SPDX-License-Identifier: LGPL-2.1-or-later
//
// bench-gallery: time per query of our matcher against FAISS IndexFlatIP on
// one thread, and the memory each uses, for galleries of 10^3 .. 10^6
// templates of 128 floats; then FAISS HNSW behind our matcher at the largest
// size, one graph with the element's settings searched with one or more
// search list lengths (--hnsw-search): for each, its time per query against
// the flat index and its recall@1 (how often its best label is the exact best
// label).  A program, not a test; the figures and the command are in
// bench/README.md.
//
// What is timed, per query (one embedding, as the element matches a frame):
//   ours   Matcher::match with index=exact: BLAS sgemv over every template,
//          best template per label, the top-3 labels, the decision;
//   flat   faiss::IndexFlatIP::search for the single nearest template (k=1):
//          a bare nearest-neighbour search, less work than ours;
//   hnsw   what Matcher::match does with index=faiss-hnsw: the graph's
//          top-3 labels, the decision.
// Process CPU time, both sides interleaved in short rounds (so a noisy
// neighbour slows both), median and range over the rounds.
//
// The gallery is clustered as a trained embedding is, not uniform noise
// (which no real gallery looks like, and on which graph indexes do worst):
// identities (labels) of 4 templates each (a watch-list enrolled from a few
// photos each), identities in groups of 50 that look alike (cosine ~0.5
// between two identities of a group, ~0 across groups), photos of one
// identity at cosine ~0.8 from each other.  Queries are perturbed
// templates: a random template plus noise as large as a photo's, cosine
// ~0.9 to it, like a new photo of an enrolled person.
#include <faiss/IndexFlat.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench_clock.h"
#include "faiss_search.h"
#include "matcher.h"
#include "reference_set.h"

namespace {

using siamese::Matcher;
using siamese::bench::process_cpu_seconds;
using siamese::bench::wall_seconds;
using siamese::MatcherSettings;
using siamese::Metric;
using siamese::ReferenceSet;
using siamese::SearchIndex;
using siamese::TemplateSearch;

constexpr int kDim = 128;
constexpr int kTemplatesPerLabel = 4;
constexpr int kLabelsPerGroup = 50;
// Offsets are Gaussian, with these standard deviations per component; an
// offset of deviation s is about s * sqrt(128) = 11.3 s long, and two unit
// vectors both offset from one centre by that length have cosine
// ~1 / (1 + (11.3 s)^2).
constexpr float kIdentitySpread = 0.088f;  // identity from its group's centre: ~0.5
constexpr float kPhotoSpread = 0.044f;     // photo (template, query) from what it shows: ~0.8

// Resident memory of the process, MiB.
double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

cv::Mat unit_rows(const cv::Mat &rows) {
  cv::Mat out = rows.clone();
  for (int r = 0; r < out.rows; ++r) cv::normalize(out.row(r), out.row(r));
  return out;
}

cv::Mat unit_row(const cv::Mat &row) {
  cv::Mat out;
  cv::normalize(row, out);
  return out;
}

// `row` moved by a Gaussian offset of deviation `spread` per component, renormalised.
cv::Mat offset_row(const cv::Mat &row, float spread, cv::RNG &rng) {
  cv::Mat offset(1, kDim, CV_32F);
  rng.fill(offset, cv::RNG::NORMAL, 0, spread);
  return unit_row(row + offset);
}

// `size` templates and their labels, clustered as described at the top.
void clustered_gallery(int size, cv::RNG &rng, cv::Mat &templates,
                       std::vector<std::string> &labels) {
  const int identities = (size + kTemplatesPerLabel - 1) / kTemplatesPerLabel;
  cv::Mat centres(std::max(1, identities / kLabelsPerGroup), kDim, CV_32F);
  rng.fill(centres, cv::RNG::NORMAL, 0, 1);
  centres = unit_rows(centres);
  templates.create(size, kDim, CV_32F);
  labels.resize(size);
  cv::Mat identity;
  for (int t = 0; t < size; ++t) {
    if (t % kTemplatesPerLabel == 0)
      identity = offset_row(centres.row(rng.uniform(0, centres.rows)), kIdentitySpread, rng);
    offset_row(identity, kPhotoSpread, rng).copyTo(templates.row(t));
    char name[16];
    std::snprintf(name, sizeof name, "id%07d", t / kTemplatesPerLabel);
    labels[t] = name;
  }
}

struct Spread {
  double median, low, high;
};

Spread spread(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return {values[values.size() / 2], values.front(), values.back()};
}

struct Options {
  std::vector<int> sizes{1000, 10000, 100000, 1000000};
  int queries = 200;  // per round
  int rounds = 7;
  bool hnsw = true;
  // HNSW search list lengths tried on the one graph (it takes long to build).
  std::vector<int> hnsw_search{siamese::kHnsw.search_candidates};
  int recall_queries = 1000;  // more than the timed ones: recall@1 to about +-0.007
};

std::vector<int> int_list(const std::string &list) {
  std::vector<int> values;
  for (std::size_t at = 0; at < list.size();) {
    const std::size_t comma = std::min(list.find(',', at), list.size());
    values.push_back(std::stoi(list.substr(at, comma - at)));
    at = comma + 1;
  }
  return values;
}

Options parse(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--sizes") {
      options.sizes = int_list(value());
    } else if (arg == "--hnsw-search") {
      options.hnsw_search = int_list(value());
    } else if (arg == "--recall-queries") {
      options.recall_queries = std::stoi(value());
    } else if (arg == "--queries") {
      options.queries = std::stoi(value());
    } else if (arg == "--rounds") {
      options.rounds = std::stoi(value());
    } else if (arg == "--no-hnsw") {
      options.hnsw = false;
    } else {
      throw std::invalid_argument("unknown argument " + arg +
                                  " (--sizes N,N,.. --queries N --rounds N --no-hnsw --hnsw-search N,N,.. "
                                  "--recall-queries N)");
    }
  }
  return options;
}

// Per-query CPU microseconds of `run` over all queries, one value per round
// is appended to `samples`.
template <typename Run>
void time_round(const cv::Mat &queries, std::vector<double> &samples, Run run) {
  const double start = process_cpu_seconds();
  for (int q = 0; q < queries.rows; ++q) run(queries.row(q));
  samples.push_back((process_cpu_seconds() - start) * 1e6 / queries.rows);
}

// The exact search's best label and score for each of `count` new queries
// (perturbed templates, as the timed ones), and the queries.
struct Truth {
  cv::Mat queries;
  std::vector<siamese::MatchResult> exact;
};

Truth exact_answers(const cv::Mat &templates, const Matcher &ours, int count, cv::RNG &rng) {
  Truth truth{cv::Mat(count, kDim, CV_32F), {}};
  for (int q = 0; q < count; ++q) {
    offset_row(templates.row(rng.uniform(0, templates.rows)), kPhotoSpread, rng)
        .copyTo(truth.queries.row(q));
    truth.exact.push_back(ours.match(truth.queries.row(q)).front());
  }
  return truth;
}

// HNSW behind our matcher at one size: one graph with the element's settings
// (kHnsw), built on every core (its build time is not what is compared, but
// is printed), then for each search list length: recall@1 against the exact
// search, and time per query against FAISS flat on one thread, interleaved.
void run_hnsw(const Options &options, const std::shared_ptr<const ReferenceSet> &references,
              const MatcherSettings &settings, const Matcher &ours, const faiss::IndexFlatIP &flat,
              const cv::Mat &queries, cv::RNG &rng) {
  const Truth truth =
      exact_answers(references->embeddings(), ours, options.recall_queries, rng);
  const int build_threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  omp_set_num_threads(build_threads);
  const double before = resident_mib();
  const double build_wall = wall_seconds(), build_cpu = process_cpu_seconds();
  // The element's path: Matcher::match with index=faiss-hnsw is this search
  // followed by decide(); kept apart here so the sweep can retune the one graph.
  const std::unique_ptr<TemplateSearch> search =
      TemplateSearch::create(references, settings.metric, SearchIndex::kFaissHnsw);
  const double wall = wall_seconds() - build_wall, cpu = process_cpu_seconds() - build_cpu;
  const double mib = resident_mib() - before;
  omp_set_num_threads(1);
  const int size = references->embeddings().rows;
  const int ranked = std::max(settings.top_k, 2);  // as Matcher::match asks
  const auto match = [&](const cv::Mat &query) {
    return siamese::decide(search->best_labels(query, ranked).front(), settings);
  };

  std::printf("\nHNSW at %d templates (our matcher, index=faiss-hnsw: %d links, build "
              "candidates %d): built on %d threads in %.0f s wall, %.0f s CPU; %.1f MiB, "
              "%.0f bytes per template\n",
              size, siamese::kHnsw.links, siamese::kHnsw.build_candidates, build_threads, wall,
              cpu, mib, mib * 1024 * 1024 / size);
  std::printf("recall@1: best label as the exact search's, or a tie at its score, over %d other "
              "queries; speed-up = flat / hnsw per round, median [min, max]\n",
              options.recall_queries);
  std::printf("%7s %24s %24s %24s %10s %6s\n", "search", "hnsw us/query", "FAISS flat us/query",
              "speed-up", "recall@1", "ties");
  float distance = 0;
  faiss::Index::idx_t id = 0;
  for (const int candidates : options.hnsw_search) {
    siamese::set_hnsw_search_candidates(*search, candidates);
    int agree = 0, ties = 0;
    for (int q = 0; q < truth.queries.rows; ++q) {
      const siamese::MatchResult found = match(truth.queries.row(q));
      const siamese::MatchResult &exact = truth.exact[q];
      // Two templates of different labels at the same score (duplicates):
      // the exact search breaks the tie by label name, the graph by chance.
      const bool tie = found.best_label != exact.best_label &&
                       std::abs(found.score - exact.score) <= 1e-6;
      agree += found.best_label == exact.best_label || tie;
      ties += tie;
    }
    std::vector<double> hnsw_us, flat_us, speedups;
    for (int round = 0; round < options.rounds; ++round) {
      time_round(queries, hnsw_us, [&](const cv::Mat &query) { match(query); });
      time_round(queries, flat_us, [&](const cv::Mat &query) {
        flat.search(1, query.ptr<float>(), 1, &distance, &id);
      });
      speedups.push_back(flat_us.back() / hnsw_us.back());
    }
    const Spread h = spread(hnsw_us), f = spread(flat_us), x = spread(speedups);
    std::printf("%7d %8.1f [%6.1f, %6.1f] %8.1f [%6.1f, %6.1f] %7.1fx [%5.1f, %5.1f] %10.3f %6d%s\n",
                candidates, h.median, h.low, h.high, f.median, f.low, f.high, x.median, x.low,
                x.high, double(agree) / truth.queries.rows, ties,
                candidates == siamese::kHnsw.search_candidates ? "  <- the element's" : "");
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char **argv) {
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "bench-gallery: %s\n", error.what());
    return 2;
  }
  omp_set_num_threads(1);  // FAISS and OpenBLAS (OpenMP build) alike
  cv::setNumThreads(1);
  cv::RNG rng(20261128);
  std::printf("one thread; %d queries per round, %d rounds, interleaved; CPU us per query, "
              "median [min, max] over rounds\n",
              options.queries, options.rounds);
  std::printf("%9s %22s %22s %7s %10s %10s %12s\n", "templates", "ours (exact)",
              "FAISS IndexFlatIP", "ratio", "ours MiB", "FAISS MiB", "query~source");

  for (const int size : options.sizes) {
    cv::Mat templates;
    std::vector<std::string> labels;
    clustered_gallery(size, rng, templates, labels);
    cv::Mat queries(options.queries, kDim, CV_32F);
    double source_cosine = 0;
    for (int q = 0; q < options.queries; ++q) {
      const cv::Mat source = templates.row(rng.uniform(0, size));
      offset_row(source, kPhotoSpread, rng).copyTo(queries.row(q));
      source_cosine += queries.row(q).dot(source) / options.queries;
    }

    double before = resident_mib();
    auto references = std::make_shared<const ReferenceSet>(
        ReferenceSet::from_rows(labels, templates, std::vector<siamese::TemplateSource>(size)));
    const MatcherSettings settings{Metric::kCosine, 0.5, 3, SearchIndex::kExact};
    const Matcher ours(references, settings, {});
    const double ours_mib = resident_mib() - before;

    before = resident_mib();
    faiss::IndexFlatIP flat(kDim);
    flat.add(size, templates.ptr<float>());
    const double flat_mib = resident_mib() - before;

    std::vector<double> ours_us, flat_us;
    float distance = 0;
    faiss::Index::idx_t id = 0;
    for (int round = 0; round < options.rounds; ++round) {
      time_round(queries, ours_us, [&](const cv::Mat &query) { ours.match(query); });
      time_round(queries, flat_us,
                 [&](const cv::Mat &query) { flat.search(1, query.ptr<float>(), 1, &distance, &id); });
    }
    const Spread a = spread(ours_us), b = spread(flat_us);
    std::vector<double> ratios;
    for (std::size_t r = 0; r < ours_us.size(); ++r) ratios.push_back(ours_us[r] / flat_us[r]);
    std::printf("%9d %8.1f [%6.1f, %6.1f] %8.1f [%6.1f, %6.1f] %7.3f %10.1f %10.1f %12.3f\n",
                size, a.median, a.low, a.high, b.median, b.low, b.high, spread(ratios).median,
                ours_mib, flat_mib, source_cosine);
    std::fflush(stdout);

    if (!options.hnsw || size != options.sizes.back()) continue;
    run_hnsw(options, references, settings, ours, flat, queries, rng);
  }
  return 0;
}
