// SPDX-License-Identifier: LGPL-2.1-or-later
#include "score_normalisation.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "errors.h"

namespace siamese {
namespace {

// Spreads below this are taken as this: an embedding equally similar to its
// whole top cohort (an all-zero embedding, a cohort of duplicates) would
// otherwise divide by zero.  Far below the spreads of real embeddings
// (0.01 to 0.1 in cosine).
constexpr float kMinimumSpread = 1e-4f;

}  // namespace

CohortNormaliser::CohortNormaliser(const Cohort &cohort, int dimension, int top) : top_(top) {
  if (cohort.empty())
    throw Error(ErrorKind::kSettings,
                "Score normalisation needs a model that carries a cohort (siamese-train writes "
                "one), and this model has none: set normalise=off.");
  if (top < 1)
    throw Error(ErrorKind::kSettings,
                "The cohort size for score normalisation must be 1 or more, not " +
                    std::to_string(top) + ".");
  if (cohort.embeddings.size() != static_cast<std::size_t>(cohort.count) * dimension)
    throw Error(ErrorKind::kFormat, "The model's cohort does not hold embeddings of length " +
                                        std::to_string(dimension) + ".");
  cohort_ = cv::Mat(cohort.count, dimension, CV_32F, const_cast<float *>(cohort.embeddings.data()))
                .clone();
  top_ = std::min(top, cohort.count);
}

std::vector<CohortStats> CohortNormaliser::stats(const cv::Mat &rows) const {
  std::vector<CohortStats> result(rows.rows);
  if (rows.empty()) return result;
  const cv::Mat similarities = rows * cohort_.t();  // N x count
  std::vector<float> row;
  for (int r = 0; r < rows.rows; ++r) {
    const float *values = similarities.ptr<float>(r);
    row.assign(values, values + similarities.cols);
    std::nth_element(row.begin(), row.begin() + (top_ - 1), row.end(), std::greater<float>());
    double sum = 0.0, squares = 0.0;
    for (int k = 0; k < top_; ++k) {
      sum += row[k];
      squares += double(row[k]) * row[k];
    }
    const double mean = sum / top_;
    const double variance = std::max(0.0, squares / top_ - mean * mean);
    result[r] = {static_cast<float>(mean),
                 std::max(kMinimumSpread, static_cast<float>(std::sqrt(variance)))};
  }
  return result;
}

double CohortNormaliser::normalise(double score, const CohortStats &query,
                                   const CohortStats &reference) {
  return 0.5 * ((score - query.mean) / query.spread + (score - reference.mean) / reference.spread);
}

double CohortNormaliser::normalise(double score, const CohortStats &query) {
  return (score - query.mean) / query.spread;
}

}  // namespace siamese
