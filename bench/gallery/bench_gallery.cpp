// SPDX-License-Identifier: LGPL-2.1-or-later
//
// bench-gallery: time per query of our matcher against FAISS IndexFlatIP on
// one thread, and the memory each uses, for galleries of 10^3 .. 10^6
// templates of 128 floats; then FAISS HNSW behind our matcher at the largest
// size: its time per query against the flat index, and its recall@1 (how
// often its best label is the exact best label).  A program, not a test; the
// figures and the command are in bench/README.md.
//
// What is timed, per query (one embedding, as the element matches a frame):
//   ours   Matcher::match with index=exact: BLAS sgemv over every template,
//          best template per label, the top-3 labels, the decision;
//   flat   faiss::IndexFlatIP::search for the single nearest template (k=1):
//          a bare nearest-neighbour search, less work than ours;
//   hnsw   Matcher::match with index=faiss-hnsw (top-3 labels).
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
};

Options parse(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--sizes") {
      options.sizes.clear();
      const std::string list = value();
      for (std::size_t at = 0; at < list.size();) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        options.sizes.push_back(std::stoi(list.substr(at, comma - at)));
        at = comma + 1;
      }
    } else if (arg == "--queries") {
      options.queries = std::stoi(value());
    } else if (arg == "--rounds") {
      options.rounds = std::stoi(value());
    } else if (arg == "--no-hnsw") {
      options.hnsw = false;
    } else {
      throw std::invalid_argument("unknown argument " + arg +
                                  " (--sizes N,N,.. --queries N --rounds N --no-hnsw)");
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
    // HNSW: built on every core (build time is not what is compared), queried on one.
    const int build_threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    omp_set_num_threads(build_threads);
    before = resident_mib();
    const double build_start = wall_seconds();
    MatcherSettings hnsw_settings = settings;
    hnsw_settings.index = SearchIndex::kFaissHnsw;
    const Matcher hnsw(references, hnsw_settings, {});
    const double build_seconds = wall_seconds() - build_start;
    const double hnsw_mib = resident_mib() - before;
    omp_set_num_threads(1);

    int agree = 0;
    for (int q = 0; q < queries.rows; ++q)
      agree += hnsw.match(queries.row(q)).front().best_label ==
               ours.match(queries.row(q)).front().best_label;
    std::vector<double> hnsw_us;
    flat_us.clear();
    for (int round = 0; round < options.rounds; ++round) {
      time_round(queries, hnsw_us, [&](const cv::Mat &query) { hnsw.match(query); });
      time_round(queries, flat_us,
                 [&](const cv::Mat &query) { flat.search(1, query.ptr<float>(), 1, &distance, &id); });
    }
    const Spread h = spread(hnsw_us), f = spread(flat_us);
    std::vector<double> speedups;
    for (std::size_t r = 0; r < hnsw_us.size(); ++r) speedups.push_back(flat_us[r] / hnsw_us[r]);
    std::printf("\nHNSW at %d templates (our matcher, index=faiss-hnsw: %d links, build "
                "candidates %d, search candidates %d; built on %d threads in %.0f s wall, "
                "%.1f MiB):\n",
                size, siamese::kHnsw.links, siamese::kHnsw.build_candidates,
                siamese::kHnsw.search_candidates, build_threads, build_seconds, hnsw_mib);
    std::printf("  hnsw %.1f [%.1f, %.1f] us/query, FAISS flat %.1f [%.1f, %.1f] us/query: "
                "%.1fx faster (median of rounds); recall@1 %.3f (%d of %d best labels as exact)\n",
                h.median, h.low, h.high, f.median, f.low, f.high, spread(speedups).median,
                double(agree) / queries.rows, agree, queries.rows);
  }
  return 0;
}
