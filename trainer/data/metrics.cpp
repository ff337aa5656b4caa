// SPDX-License-Identifier: LGPL-2.1-or-later
#include "metrics.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "errors.h"
#include "template_search.h"

namespace siamese::trainer {
namespace {

// Query rows per similarity block: 256 x 60,000 floats is 61 MB per thread.
constexpr int kQueryBlock = 256;

void require(bool condition, const std::string &message) {
  if (!condition) throw Error(ErrorKind::kSettings, message);
}

void require_embeddings(const cv::Mat &embeddings, std::size_t labels, const char *what) {
  require(embeddings.type() == CV_32F && embeddings.rows > 0,
          std::string(what) + " must be a non-empty CV_32F matrix.");
  require(static_cast<std::size_t>(embeddings.rows) == labels,
          std::string(what) + " has " + std::to_string(embeddings.rows) + " rows but " +
              std::to_string(labels) + " labels.");
}

std::vector<int> classes_with_at_least(const ClassIndex &index, std::size_t images) {
  std::vector<int> classes;
  for (int label : index.classes()) {
    if (index.members(label).size() >= images) classes.push_back(label);
  }
  return classes;
}

}  // namespace

double precision_at_1(const cv::Mat &queries, const std::vector<int> &query_labels,
                      const cv::Mat &references, const std::vector<int> &reference_labels) {
  require_embeddings(queries, query_labels.size(), "The query embedding matrix");
  require_embeddings(references, reference_labels.size(), "The reference embedding matrix");
  require(queries.cols == references.cols, "Query and reference embeddings differ in dimension (" +
                                               std::to_string(queries.cols) + " vs " +
                                               std::to_string(references.cols) + ").");
  // Blocks run in parallel: the system BLAS behind cv::gemm may be
  // single-threaded (Debian's default reference BLAS is).
  std::atomic<std::size_t> correct{0};
  const int blocks = (queries.rows + kQueryBlock - 1) / kQueryBlock;
  cv::parallel_for_(cv::Range(0, blocks), [&](const cv::Range &range) {
    cv::Mat similarity;
    for (int block = range.start; block < range.end; ++block) {
      const int begin = block * kQueryBlock;
      const int end = std::min(begin + kQueryBlock, queries.rows);
      cv::gemm(queries.rowRange(begin, end), references, 1.0, cv::noArray(), 0.0, similarity,
               cv::GEMM_2_T);
      std::size_t block_correct = 0;
      for (int q = begin; q < end; ++q) {
        cv::Point best;
        cv::minMaxLoc(similarity.row(q - begin), nullptr, nullptr, nullptr, &best);
        block_correct += reference_labels[best.x] == query_labels[q];
      }
      correct += block_correct;
    }
  });
  return static_cast<double>(correct) / queries.rows;
}

Verification verification(const std::vector<float> &scores, const std::vector<int> &same) {
  require(scores.size() == same.size(), "Verification needs one label per score (" +
                                            std::to_string(scores.size()) + " scores, " +
                                            std::to_string(same.size()) + " labels).");
  const auto positives = static_cast<std::size_t>(std::count(same.begin(), same.end(), 1));
  const std::size_t negatives = same.size() - positives;
  require(positives > 0 && negatives > 0, "Verification needs both positive and negative pairs.");

  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&scores](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });

  // Walk the thresholds from the highest score down, one group of tied
  // scores at a time; accepting score >= threshold.  Each negative accepted
  // together with (or after) a positive costs AUC: a tie counts one half.
  Verification result;
  double best_gap = 2.0;
  std::size_t accepted_positives = 0;
  std::size_t accepted_negatives = 0;
  double outscored_pairs = 0.0;  // (positive, negative) pairs where the positive scores higher
  for (std::size_t group = 0; group < order.size();) {
    std::size_t end = group;
    std::size_t group_positives = 0;
    while (end < order.size() && scores[order[end]] == scores[order[group]])
      group_positives += same[order[end++]] == 1;
    const std::size_t group_negatives = (end - group) - group_positives;
    outscored_pairs += group_negatives * (accepted_positives + 0.5 * group_positives);
    accepted_positives += group_positives;
    accepted_negatives += group_negatives;

    const double false_accept = static_cast<double>(accepted_negatives) / negatives;
    const double false_reject = 1.0 - static_cast<double>(accepted_positives) / positives;
    result.roc.push_back({false_accept, 1.0 - false_reject});
    if (std::abs(false_accept - false_reject) < best_gap) {
      best_gap = std::abs(false_accept - false_reject);
      result.eer = (false_accept + false_reject) / 2.0;
      result.threshold = scores[order[group]];
    }
    group = end;
  }
  result.roc_auc = outscored_pairs / (static_cast<double>(positives) * negatives);
  return result;
}

std::vector<float> pair_cosine_scores(const cv::Mat &embeddings, const std::vector<Pair> &pairs) {
  require(embeddings.type() == CV_32F, "Embeddings must be a CV_32F matrix.");
  std::vector<float> scores;
  scores.reserve(pairs.size());
  for (const Pair &pair : pairs) {
    require(std::max(pair.first, pair.second) < static_cast<std::size_t>(embeddings.rows),
            "A pair indexes past the " + std::to_string(embeddings.rows) + " embeddings.");
    scores.push_back(static_cast<float>(embeddings.row(static_cast<int>(pair.first))
                                            .dot(embeddings.row(static_cast<int>(pair.second)))));
  }
  return scores;
}

Verification verify_pairs(const cv::Mat &embeddings, const std::vector<Pair> &pairs) {
  return verify_pairs(pair_cosine_scores(embeddings, pairs), pairs);
}

Verification verify_pairs(const std::vector<float> &scores, const std::vector<Pair> &pairs) {
  std::vector<int> same;
  same.reserve(pairs.size());
  for (const Pair &pair : pairs) same.push_back(pair.same);
  return verification(scores, same);
}

bool few_shot_possible(const std::vector<int> &labels, const FewShotOptions &options) {
  const auto per_class = static_cast<std::size_t>(options.shots + options.queries_per_class);
  return classes_with_at_least(ClassIndex(labels), per_class).size() >=
         static_cast<std::size_t>(options.ways);
}

FewShotResult few_shot_accuracy(const cv::Mat &embeddings, const std::vector<int> &labels,
                                const FewShotOptions &options) {
  require_embeddings(embeddings, labels.size(), "The few-shot embedding matrix");
  require(options.ways >= 2 && options.shots >= 1 && options.queries_per_class >= 1 &&
              options.episodes >= 1,
          "Few-shot episodes need ways >= 2, shots >= 1, queries >= 1 and episodes >= 1.");
  const auto per_class = static_cast<std::size_t>(options.shots + options.queries_per_class);
  const ClassIndex index(labels);
  const std::vector<int> eligible = classes_with_at_least(index, per_class);
  require(eligible.size() >= static_cast<std::size_t>(options.ways),
          std::to_string(options.ways) + "-way " + std::to_string(options.shots) +
              "-shot episodes need " + std::to_string(options.ways) + " classes with " +
              std::to_string(per_class) + " images; " + std::to_string(eligible.size()) +
              " have that many.");

  std::mt19937_64 rng(options.seed);
  std::vector<double> episode_accuracy;
  episode_accuracy.reserve(options.episodes);
  for (int episode = 0; episode < options.episodes; ++episode) {
    std::vector<int> classes;
    std::sample(eligible.begin(), eligible.end(), std::back_inserter(classes), options.ways, rng);
    std::vector<std::string> support_labels, query_labels;
    cv::Mat support, queries;
    for (int way = 0; way < options.ways; ++way) {
      const std::vector<std::size_t> &members = index.members(classes[way]);
      std::vector<std::size_t> drawn;
      std::sample(members.begin(), members.end(), std::back_inserter(drawn), per_class, rng);
      std::shuffle(drawn.begin(), drawn.end(), rng);  // std::sample keeps index order
      for (std::size_t i = 0; i < drawn.size(); ++i) {
        const bool is_support = i < static_cast<std::size_t>(options.shots);
        (is_support ? support : queries).push_back(embeddings.row(static_cast<int>(drawn[i])));
        (is_support ? support_labels : query_labels).push_back(std::to_string(way));
      }
    }
    const auto search = TemplateSearch::create(
        ReferenceSet::from_rows(support_labels, support,
                                std::vector<TemplateSource>(support_labels.size())),
        Metric::kCosine, SearchIndex::kExact, {}, options.aggregate);
    const std::vector<RankedLabels> ranked = search->best_labels(queries, 1);
    int correct = 0;
    for (std::size_t query = 0; query < ranked.size(); ++query)
      correct += ranked[query].front().label == query_labels[query];
    episode_accuracy.push_back(static_cast<double>(correct) /
                               (options.ways * options.queries_per_class));
  }

  const double n = static_cast<double>(episode_accuracy.size());
  const double mean = std::accumulate(episode_accuracy.begin(), episode_accuracy.end(), 0.0) / n;
  double squares = 0.0;
  for (double accuracy : episode_accuracy) squares += (accuracy - mean) * (accuracy - mean);
  const double deviation = n > 1 ? std::sqrt(squares / (n - 1)) : 0.0;
  return {mean, 1.96 * deviation / std::sqrt(n)};
}

cv::Mat raw_pixel_embeddings(const ImageSet &set) {
  const int pixels = static_cast<int>(set.image_bytes());
  cv::Mat bytes(static_cast<int>(set.size()), pixels, CV_8U,
                const_cast<uint8_t *>(set.pixels.data()));
  cv::Mat embeddings;
  bytes.convertTo(embeddings, CV_32F);
  for (int i = 0; i < embeddings.rows; ++i) {
    cv::Mat row = embeddings.row(i);
    row -= cv::mean(row)[0];
    // A constant image has no direction: it stays the zero vector (cosine 0 with anything).
    const double norm = cv::norm(row);
    if (norm > 0.0) row /= norm;
  }
  return embeddings;
}

}  // namespace siamese::trainer
