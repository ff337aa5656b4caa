// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Matches embeddings against a reference set in two steps: SEARCH ranks the
// labels by their best template (template_search.h), DECIDE turns the ranked
// labels into a result.  The best label is declared when it passes every
// rule, checked in this order (the first that fails gives the reason):
//   background  the best label is the reserved background label
//               (kBackgroundLabel): unknown, whatever the scores; and, with
//               a background margin and a model that carries a background
//               (ModelContract::background), the best label's cosine must
//               beat the nearest background embedding's cosine by
//               `background_margin` (negative: may fall short by that
//               much).  Seen-class look-alikes sit nearer a training class's
//               mean than an enrolled item; noise and shapes nearer the
//               generated outliers;
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
#include <optional>

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
  CohortSides cohort_sides = CohortSides::kBoth;
  // Decision: with normalise, the normalised score must reach this too.
  double normalised_threshold = decision_defaults::kNormalisedThreshold;
  // Decision: the best label's score must beat the second's by this (score units).
  double margin = decision_defaults::kMargin;
  // Decision: the background rule's margin (cosine units); absent: no such rule.
  std::optional<double> background_margin = std::nullopt;
  // Search: how a label's templates make its score (template_search.h);
  // fixed when the Matcher is built.
  Aggregate aggregate = decision_defaults::kAggregate;
};

// A frame's cosines for the background rule: to its best label's best
// template, and to the nearest background embedding.
struct BackgroundScores {
  double label = 0.0;
  double nearest = 0.0;
};

// The result for one query's ranked labels (at least one) under `settings`;
// `background` is the frame's, when the model carries a background.
MatchResult decide(const RankedLabels &ranked, const MatcherSettings &settings,
                   const std::optional<BackgroundScores> &background = std::nullopt);

class Matcher {
 public:
  // Throws siamese::Error kSettings for an empty set, a negative top-k,
  // metric=learned with an empty head or an approximate index, normalise
  // with an empty cohort, a background margin without a background; kFormat
  // when the reference dimension differs from the head's input, the
  // cohort's or the background's.  `cohort` is used only with normalise;
  // `background` gives every result its background score.
  Matcher(const ReferenceSet &references, const MatcherSettings &settings, const PairHead &head,
          const Cohort &cohort = {}, const Background &background = {});
  // The same without copying the set.
  Matcher(std::shared_ptr<const ReferenceSet> references, const MatcherSettings &settings,
          const PairHead &head, const Cohort &cohort = {}, const Background &background = {});

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
  // Throws Error kSettings for a background margin without a background.
  void check_background_margin(const MatcherSettings &settings) const;
  // Each query's scores for the background rule (with a background only).
  std::vector<BackgroundScores> background_scores(const cv::Mat &embeddings,
                                                  const std::vector<RankedLabels> &ranked) const;

  MatcherSettings settings_;
  std::shared_ptr<const TemplateSearch> search_;
  std::shared_ptr<const CohortNormaliser> normaliser_;  // with normalise only
  std::vector<CohortStats> template_stats_;  // per reference row, normalising on both sides
  cv::Mat background_;                       // count x dimension; empty: none
};

}  // namespace siamese
