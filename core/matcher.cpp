// SPDX-License-Identifier: LGPL-2.1-or-later
#include "matcher.h"

#include <algorithm>

#include "errors.h"

namespace siamese {
namespace {

void check_top_k(int top_k) {
  if (top_k < 0)
    throw Error(ErrorKind::kSettings, "top-k must be 0 or more, not " + std::to_string(top_k) + ".");
}

// Labels DECIDE needs from SEARCH: the top-k shown, and at least the best
// and the runner-up (for rules that look at the gap between them).
constexpr int kMinimumRankedLabels = 2;

}  // namespace

MatchResult decide(const RankedLabels &ranked, const MatcherSettings &settings) {
  const LabelScore &top = ranked.front();
  MatchResult result;
  result.metric = to_string(settings.metric);
  result.threshold = settings.threshold;
  result.best_label = top.label;
  result.score = top.score;
  result.distance = top.distance;
  result.matched = settings.metric == Metric::kEuclidean ? top.distance <= settings.threshold
                                                         : top.score >= settings.threshold;
  result.reason = result.matched ? Reason::kMatched : Reason::kBelowThreshold;
  if (result.matched) result.label = top.label;
  result.frame_label = result.label;
  const std::size_t shown = std::min<std::size_t>(std::max(settings.top_k, 0), ranked.size());
  result.top.assign(ranked.begin(), ranked.begin() + shown);
  return result;
}

Matcher::Matcher(const ReferenceSet &references, const MatcherSettings &settings,
                 const PairHead &head)
    : Matcher(std::make_shared<const ReferenceSet>(references), settings, head) {}

Matcher::Matcher(std::shared_ptr<const ReferenceSet> references, const MatcherSettings &settings,
                 const PairHead &head)
    : settings_(settings) {
  check_top_k(settings.top_k);
  search_ = TemplateSearch::create(std::move(references), settings.metric, settings.index, head);
}

std::vector<MatchResult> Matcher::match(const cv::Mat &embeddings) const {
  return match(embeddings, settings_);
}

std::vector<MatchResult> Matcher::match(const cv::Mat &embeddings,
                                        const MatcherSettings &decision) const {
  check_top_k(decision.top_k);
  if (embeddings.empty()) return {};
  const int dimension = references().dimension();
  if (embeddings.type() != CV_32FC1 || embeddings.cols != dimension)
    throw Error(ErrorKind::kFormat, "Embeddings of length " + std::to_string(embeddings.cols) +
                                        " cannot be matched against references of length " +
                                        std::to_string(dimension) + ".");
  if (!cv::checkRange(embeddings))
    throw Error(ErrorKind::kFrame, "The model produced an embedding that is not finite.");

  MatcherSettings in_force = decision;
  in_force.metric = settings_.metric;
  in_force.index = settings_.index;
  const auto ranked =
      search_->best_labels(embeddings, std::max(decision.top_k, kMinimumRankedLabels));
  std::vector<MatchResult> results;
  results.reserve(ranked.size());
  for (const RankedLabels &labels : ranked) results.push_back(decide(labels, in_force));
  return results;
}

}  // namespace siamese
