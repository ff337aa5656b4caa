// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Matches embeddings against a reference set in two steps: SEARCH ranks the
// labels by their best template (template_search.h), DECIDE turns the ranked
// labels into a result.  The best label is declared when it passes every
// rule, checked in this order (the first that fails gives the reason):
//   background  the best label is the reserved background label
//               (kBackgroundLabel): unknown, whatever the scores;
//   threshold   the raw score passes `threshold`; with normalisation, the
//               score normalised against the model's cohort also passes
//               `normalised_threshold` (score_normalisation.h).  Both must
//               pass: normalisation alone lets through frames that are close
//               to nothing in particular (flat frames, other domains), which
//               the raw floor stops;
//   margin      the best label's raw score beats the second's by `margin`
//               or more (ambiguous otherwise).
// The search and the templates' cohort statistics are built once per
// reference set; decision settings may change between calls (the element
// applies a new threshold on the next frame).
#pragma once

#include <memory>

#include <opencv2/core.hpp>

#include "decision_defaults.h"
#include "match_result.h"
#include "model_contract.h"
#include "reference_set.h"
#include "score_normalisation.h"
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
  // Normalisation: fixed when the Matcher is built (the templates' cohort
  // statistics are computed then).
  bool normalise = false;
  int cohort_top = decision_defaults::kCohortTop;
  // Decision: with normalise, the normalised score must reach this too.
  double normalised_threshold = decision_defaults::kNormalisedThreshold;
  // Decision: the best label's score must beat the second's by this (score units).
  double margin = decision_defaults::kMargin;
  // Search: how a label's templates make its score (template_search.h);
  // fixed when the Matcher is built.
  Aggregate aggregate = decision_defaults::kAggregate;
};

// The result for one query's ranked labels (at least one) under `settings`.
MatchResult decide(const RankedLabels &ranked, const MatcherSettings &settings);

class Matcher {
 public:
  // Throws siamese::Error kSettings for an empty set, a negative top-k,
  // metric=learned with an empty head or an approximate index, normalise
  // with an empty cohort; kFormat when the reference dimension differs from
  // the head's input or the cohort's.  `cohort` is used only with normalise.
  Matcher(const ReferenceSet &references, const MatcherSettings &settings, const PairHead &head,
          const Cohort &cohort = {});
  // The same without copying the set.
  Matcher(std::shared_ptr<const ReferenceSet> references, const MatcherSettings &settings,
          const PairHead &head, const Cohort &cohort = {});

  // `embeddings` is N x dim (rows normalised); returns one result per row,
  // decided with the constructor's settings, or with `decision`'s decision
  // settings (its search and normalisation settings are replaced by those
  // the Matcher was built with).
  std::vector<MatchResult> match(const cv::Mat &embeddings) const;
  std::vector<MatchResult> match(const cv::Mat &embeddings, const MatcherSettings &decision) const;

  // The templates searched: the set's own, or its labels' prototypes with
  // Aggregate::kPrototype (LabelScore::template_row indexes these).
  const ReferenceSet &references() const { return search_->references(); }
  const MatcherSettings &settings() const { return settings_; }

 private:
  // Sets each ranked label's normalised score (normalise only).
  void normalise(const cv::Mat &embeddings, std::vector<RankedLabels> &ranked) const;

  MatcherSettings settings_;
  std::shared_ptr<const TemplateSearch> search_;
  std::shared_ptr<const CohortNormaliser> normaliser_;  // with normalise only
  std::vector<CohortStats> template_stats_;             // per reference row, with normalise
};

}  // namespace siamese
