// SPDX-License-Identifier: LGPL-2.1-or-later
//
// All metrics start from one matrix product, embeddings x templates^T: for
// L2-normalised rows it is the cosine similarity, and with the squared norms
// it gives every L2 distance (|e - t|^2 = |e|^2 + |t|^2 - 2 e.t; the norms are
// kept exact so an all-zero embedding, e.g. of a black frame, stays correct).
//
// Per label the best template (highest score) decides the label's score, and
// `distance` is always the L2 distance to that same template, whatever the
// metric, so the two numbers in a result describe one comparison.  Labels are
// ranked by score, ties broken by label name.
#include "matcher.h"

#include <algorithm>
#include <numeric>

#include "errors.h"

namespace siamese {
namespace {

cv::Mat squared_row_norms(const cv::Mat &rows) {
  cv::Mat norms;
  cv::reduce(rows.mul(rows), norms, 1, cv::REDUCE_SUM, CV_32F);
  return norms;  // rows x 1
}

}  // namespace

Matcher::Matcher(const ReferenceSet &references, const MatcherSettings &settings,
                 const PairHead &head)
    : references_(references), settings_(settings) {
  if (references.empty())
    throw Error(ErrorKind::kSettings, "The reference set is empty: there is nothing to match against.");
  if (settings.top_k < 0)
    throw Error(ErrorKind::kSettings,
                "top-k must be 0 or more, not " + std::to_string(settings.top_k) + ".");
  if (settings.metric == Metric::kLearned) {
    if (head.empty())
      throw Error(ErrorKind::kSettings,
                  "The learned metric needs the pair head that siamese-train stores in a model "
                  "trained in pair mode, and this model carries none: use the cosine or "
                  "euclidean metric.");
    try {
      head.validate(references.dimension());
    } catch (const std::invalid_argument &error) {
      throw Error(ErrorKind::kFormat,
                  std::string("The model's pair head does not fit its embeddings: ") +
                      error.what() + ".");
    }
    for (const DenseLayer &layer : head.layers) {
      // Stored as [out, in]; kept as [in, out] so a layer is one product Z * W.
      head_weights_.push_back(
          cv::Mat(layer.out, layer.in, CV_32F, const_cast<float *>(layer.weight.data())).t());
      head_biases_.push_back(
          cv::Mat(1, layer.out, CV_32F, const_cast<float *>(layer.bias.data())).clone());
    }
  }
  template_norms_ = squared_row_norms(references_.embeddings()).t();
}

cv::Mat Matcher::head_probabilities(const cv::Mat &embedding) const {
  const cv::Mat &templates = references_.embeddings();
  cv::Mat z = cv::abs(templates - cv::repeat(embedding, templates.rows, 1));
  for (std::size_t k = 0; k < head_weights_.size(); ++k) {
    cv::Mat next = z * head_weights_[k];
    for (int r = 0; r < next.rows; ++r) next.row(r) += head_biases_[k];
    if (k + 1 < head_weights_.size()) cv::max(next, 0.0, next);  // ReLU between layers
    z = next;
  }
  cv::Mat decay;
  cv::exp(-z, decay);
  cv::Mat probabilities = 1.0 / (1.0 + decay);  // sigmoid
  return probabilities.t();                     // 1 x templates
}

MatchResult Matcher::decide(const cv::Mat &scores, const cv::Mat &distances) const {
  const auto &labels = references_.labels();
  const auto &owners = references_.template_labels();
  std::vector<int> best(labels.size(), -1);
  for (int t = 0; t < scores.cols; ++t) {
    int &current = best[owners[t]];
    if (current < 0 || scores.at<float>(t) > scores.at<float>(current)) current = t;
  }
  std::vector<int> ranking(labels.size());
  std::iota(ranking.begin(), ranking.end(), 0);
  // Labels are sorted by name, so a stable sort breaks ties by name.
  std::stable_sort(ranking.begin(), ranking.end(), [&](int a, int b) {
    return scores.at<float>(best[a]) > scores.at<float>(best[b]);
  });

  const auto entry = [&](int label) {
    return LabelScore{labels[label], scores.at<float>(best[label]),
                      distances.at<float>(best[label])};
  };
  const LabelScore top = entry(ranking.front());
  MatchResult result;
  result.metric = to_string(settings_.metric);
  result.threshold = settings_.threshold;
  result.best_label = top.label;
  result.score = top.score;
  result.distance = top.distance;
  result.matched = settings_.metric == Metric::kEuclidean ? top.distance <= settings_.threshold
                                                          : top.score >= settings_.threshold;
  result.reason = result.matched ? Reason::kMatched : Reason::kBelowThreshold;
  if (result.matched) result.label = top.label;
  result.frame_label = result.label;
  const std::size_t shown = std::min<std::size_t>(settings_.top_k, ranking.size());
  for (std::size_t i = 0; i < shown; ++i) result.top.push_back(entry(ranking[i]));
  return result;
}

std::vector<MatchResult> Matcher::match(const cv::Mat &embeddings) const {
  if (embeddings.empty()) return {};
  if (embeddings.type() != CV_32FC1 || embeddings.cols != references_.dimension())
    throw Error(ErrorKind::kFormat,
                "Embeddings of length " + std::to_string(embeddings.cols) +
                    " cannot be matched against references of length " +
                    std::to_string(references_.dimension()) + ".");
  if (!cv::checkRange(embeddings))
    throw Error(ErrorKind::kFrame, "The model produced an embedding that is not finite.");

  cv::Mat dots;
  cv::gemm(embeddings, references_.embeddings(), 1.0, cv::noArray(), 0.0, dots, cv::GEMM_2_T);
  const cv::Mat norms = squared_row_norms(embeddings);

  std::vector<MatchResult> results;
  results.reserve(embeddings.rows);
  for (int r = 0; r < embeddings.rows; ++r) {
    cv::Mat squared = template_norms_ + norms.at<float>(r) - 2.0 * dots.row(r);
    cv::max(squared, 0.0, squared);  // rounding can push |e - e|^2 slightly below 0
    cv::Mat distances;
    cv::sqrt(squared, distances);
    switch (settings_.metric) {
      case Metric::kCosine:
        results.push_back(decide(dots.row(r), distances));
        break;
      case Metric::kEuclidean:
        results.push_back(decide(-distances, distances));
        break;
      case Metric::kLearned:
        results.push_back(decide(head_probabilities(embeddings.row(r)), distances));
        break;
    }
  }
  return results;
}

}  // namespace siamese
