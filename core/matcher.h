// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Matches embeddings against a reference set in two steps: SEARCH ranks the
// labels by their best template (template_search.h), DECIDE turns the ranked
// labels into a result (the best label matches when it passes the threshold).
// The search is built once per reference set; decision settings may change
// between calls (the element applies a new threshold on the next frame).
#pragma once

#include <memory>

#include <opencv2/core.hpp>

#include "match_result.h"
#include "model_contract.h"
#include "reference_set.h"
#include "template_search.h"

namespace siamese {

struct MatcherSettings {
  // Search: fixed when the Matcher is built.
  Metric metric = Metric::kCosine;
  // Decision: may differ per match() call.
  double threshold = 0.5;  // cosine: score >= t; euclidean: distance <= t; learned: probability >= t
  int top_k = 3;
  // Search: how templates are searched (template_search.h).
  SearchIndex index = SearchIndex::kExact;
};

// The result for one query's ranked labels (at least one) under `settings`.
MatchResult decide(const RankedLabels &ranked, const MatcherSettings &settings);

class Matcher {
 public:
  // Throws siamese::Error kSettings for an empty set, a negative top-k,
  // metric=learned with an empty head or an approximate index; kFormat when
  // the reference dimension differs from the head's input.
  Matcher(const ReferenceSet &references, const MatcherSettings &settings, const PairHead &head);
  // The same without copying the set.
  Matcher(std::shared_ptr<const ReferenceSet> references, const MatcherSettings &settings,
          const PairHead &head);

  // `embeddings` is N x dim (rows normalised); returns one result per row,
  // decided with the constructor's settings, or with `decision`'s threshold
  // and top-k (its metric and index must be those the Matcher was built with).
  std::vector<MatchResult> match(const cv::Mat &embeddings) const;
  std::vector<MatchResult> match(const cv::Mat &embeddings, const MatcherSettings &decision) const;

  const ReferenceSet &references() const { return search_->references(); }
  const MatcherSettings &settings() const { return settings_; }

 private:
  MatcherSettings settings_;
  std::shared_ptr<const TemplateSearch> search_;
};

}  // namespace siamese
