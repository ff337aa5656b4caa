// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Scores embeddings against a reference set: a label's score is the score of
// its best template; the best label matches when it passes the threshold.
#pragma once

#include <opencv2/core.hpp>

#include "match_result.h"
#include "model_contract.h"
#include "reference_set.h"

namespace siamese {

struct MatcherSettings {
  Metric metric = Metric::kCosine;
  double threshold = 0.5;  // cosine: score >= t; euclidean: distance <= t; learned: probability >= t
  int top_k = 3;
};

class Matcher {
 public:
  // Throws siamese::Error kSettings for metric=learned with an empty head,
  // kFormat when the reference dimension differs from the head's input.
  Matcher(const ReferenceSet &references, const MatcherSettings &settings, const PairHead &head);

  // `embeddings` is N x dim (rows normalised); returns one result per row.
  std::vector<MatchResult> match(const cv::Mat &embeddings) const;

 private:
  // templates x 1 scores of one embedding row for the learned metric.
  cv::Mat head_probabilities(const cv::Mat &embedding) const;
  MatchResult decide(const cv::Mat &scores, const cv::Mat &distances) const;

  ReferenceSet references_;
  MatcherSettings settings_;
  std::vector<cv::Mat> head_weights_;  // per layer: [in, out], transposed once here
  std::vector<cv::Mat> head_biases_;   // per layer: 1 x out
  cv::Mat template_norms_;             // 1 x templates, squared L2 norms
};

}  // namespace siamese
