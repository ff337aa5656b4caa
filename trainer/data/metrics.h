// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Retrieval, verification and few-shot metrics on embeddings: N x D CV_32F
// matrices whose rows are L2-normalised, so that a dot product is the cosine
// similarity.  Rows correspond to the entries of a label vector.  Similarity
// matrices are computed with cv::gemm in blocks, so the full Fashion-MNIST
// test set against its training set takes seconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "dataset.h"
#include "decision_defaults.h"
#include "samplers.h"

namespace siamese::trainer {

// The fraction of queries whose most similar reference (cosine) has the
// query's label.  Throws siamese::Error (kSettings) for empty inputs or
// mismatched dimensions / label counts.
double precision_at_1(const cv::Mat &queries, const std::vector<int> &query_labels,
                      const cv::Mat &references, const std::vector<int> &reference_labels);

struct Verification {
  double roc_auc = 0.0;    // probability that a positive outscores a negative (ties count 1/2)
  double eer = 0.0;        // equal error rate: false accepts = false rejects
  double threshold = 0.0;  // accept a pair when score >= threshold; the EER operating point
  struct RocPoint {
    double false_accept = 0.0;  // of the negative pairs
    double true_accept = 0.0;   // of the positive pairs
  };
  // One point per distinct score taken as the threshold, strictest first
  // (ending at 1, 1): the curve the AUC is the area under.
  std::vector<RocPoint> roc;
};

// ROC AUC, equal error rate and its threshold for any similarity scores
// (higher = more alike): cosine similarities, a pair head's probabilities.
// `same[i]` is 1 for a positive pair and 0 for a negative one.  Throws
// siamese::Error (kSettings) unless both kinds are present and sizes agree.
Verification verification(const std::vector<float> &scores, const std::vector<int> &same);

// Cosine similarity of each pair's two rows of `embeddings`.
std::vector<float> pair_cosine_scores(const cv::Mat &embeddings, const std::vector<Pair> &pairs);

// verification() of the pairs' cosine scores.
Verification verify_pairs(const cv::Mat &embeddings, const std::vector<Pair> &pairs);
// verification() of given scores, one per pair, against the pairs' labels.
Verification verify_pairs(const std::vector<float> &scores, const std::vector<Pair> &pairs);

struct FewShotOptions {
  int ways = 3;   // classes per episode
  int shots = 1;  // support images per class
  int queries_per_class = 5;
  int episodes = 2000;
  uint64_t seed = 0;
  // How a class's support images score a query: the element's rule
  // (core's Aggregate), so the figures are those of what users get.
  Aggregate aggregate = decision_defaults::kAggregate;
};

struct FewShotResult {
  double accuracy = 0.0;  // over all queries of all episodes
  double ci95 = 0.0;      // 95% confidence half-width over episode accuracies
};

// Whether `labels` has `options.ways` classes with shots + queries_per_class
// images each, as few_shot_accuracy() needs.
bool few_shot_possible(const std::vector<int> &labels, const FewShotOptions &options);

// N-way K-shot classification over fixed-seed episodes: each episode draws
// `ways` classes, then shots + queries_per_class distinct images of each; the
// support images are the reference set and each query takes the label core's
// exact cosine search gives it under `options.aggregate`: the class of its
// most similar support image (best), or of the most similar class
// prototype, the L2-normalised mean of the support embeddings (prototype).
// The same as the element's matching, thresholds aside.  Throws
// siamese::Error (kSettings) when fewer than `ways` classes have
// shots + queries_per_class images.
FewShotResult few_shot_accuracy(const cv::Mat &embeddings, const std::vector<int> &labels,
                                const FewShotOptions &options);

// The raw-pixel baseline every metric is compared with: each image's pixels
// as floats, minus that image's mean, L2-normalised (cosine = correlation).
cv::Mat raw_pixel_embeddings(const ImageSet &set);

}  // namespace siamese::trainer
