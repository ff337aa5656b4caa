// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Adaptive score normalisation (AS-norm, as speaker and face verification
// use it) against a cohort: embeddings of a few hundred training images the
// model carries (ModelContract::cohort).  A raw cosine says how close a frame
// is to a template, not whether it is closer to it than to everything else:
// some frames are similar to every image.  For a frame q and a template t,
// each side's `top` highest cosine similarities to the cohort give a mean
// and a spread, and the score s = cos(q, t) becomes
//   z = ((s - mean_q) / spread_q + (s - mean_t) / spread_t) / 2,
// how far, in spreads, s stands out from what each side usually scores.
// Normalised on the frame's side alone, z = (s - mean_q) / spread_q: the
// score then does not depend on how typical the enrolled images happen to
// be, which with a few images per label varies from one enrolment to the
// next (CohortSides, model_contract.h).  Template statistics are computed
// once per reference set; a frame's cost is one (cohort x dimension) product
// and a partial selection per frame.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "model_contract.h"

namespace siamese {

// Mean and standard deviation of one embedding's top cohort similarities.
struct CohortStats {
  float mean = 0.f;
  float spread = 1.f;
};

class CohortNormaliser {
 public:
  // Throws siamese::Error: kSettings for an empty cohort or top < 1,
  // kFormat when the cohort's rows are not `dimension` long.  `top` larger
  // than the cohort uses the whole cohort.
  CohortNormaliser(const Cohort &cohort, int dimension, int top);

  // The statistics of each row of `rows` (N x dimension, CV_32F).
  std::vector<CohortStats> stats(const cv::Mat &rows) const;

  // z for raw cosine `score` between a query and a template of these statistics.
  static double normalise(double score, const CohortStats &query, const CohortStats &reference);
  // z on the query's side alone.
  static double normalise(double score, const CohortStats &query);

  int top() const { return top_; }

 private:
  cv::Mat cohort_;  // count x dimension
  int top_;
};

}  // namespace siamese
