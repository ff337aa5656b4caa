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

// The first rule the best label fails, in the order matcher.h gives, or
// kMatched.
Reason first_failed_rule(const RankedLabels &ranked, const MatcherSettings &settings,
                         const std::optional<BackgroundScores> &background) {
  const LabelScore &best = ranked.front();
  if (best.label == kBackgroundLabel) return Reason::kBackground;
  if (settings.background_margin && background &&
      background->label - background->nearest < *settings.background_margin)
    return Reason::kBackground;
  const bool raw_passes = settings.metric == Metric::kEuclidean
                              ? best.distance <= settings.threshold
                              : best.score >= settings.threshold;
  if (!raw_passes) return Reason::kBelowThreshold;
  if (settings.normalise &&
      !(best.normalised_score && *best.normalised_score >= settings.normalised_threshold))
    return Reason::kBelowThreshold;
  if (ranked.size() > 1 && best.score - ranked[1].score < settings.margin)
    return Reason::kAmbiguous;
  return Reason::kMatched;
}

}  // namespace

MatchResult decide(const RankedLabels &ranked, const MatcherSettings &settings,
                   const std::optional<BackgroundScores> &background) {
  const LabelScore &top = ranked.front();
  MatchResult result;
  result.metric = to_string(settings.metric);
  result.threshold = settings.threshold;
  if (settings.normalise) result.normalised_threshold = settings.normalised_threshold;
  result.best_label = top.label;
  result.score = top.score;
  result.normalised_score = top.normalised_score;
  result.distance = top.distance;
  if (background) result.background_score = background->nearest;
  result.reason = first_failed_rule(ranked, settings, background);
  result.matched = result.reason == Reason::kMatched;
  if (result.matched) result.label = top.label;
  result.frame_label = result.label;
  const std::size_t shown = std::min<std::size_t>(std::max(settings.top_k, 0), ranked.size());
  result.top.assign(ranked.begin(), ranked.begin() + shown);
  return result;
}

Matcher::Matcher(const ReferenceSet &references, const MatcherSettings &settings,
                 const PairHead &head, const Cohort &cohort, const Background &background)
    : Matcher(std::make_shared<const ReferenceSet>(references), settings, head, cohort,
              background) {}

Matcher::Matcher(std::shared_ptr<const ReferenceSet> references, const MatcherSettings &settings,
                 const PairHead &head, const Cohort &cohort, const Background &background)
    : settings_(settings) {
  check_top_k(settings.top_k);
  search_ = TemplateSearch::create(std::move(references), settings.metric, settings.index, head,
                                   settings.aggregate);
  if (settings.normalise) {
    normaliser_ = std::make_shared<const CohortNormaliser>(cohort, this->references().dimension(),
                                                           settings.cohort_top);
    if (settings.cohort_sides == CohortSides::kBoth)
      template_stats_ = normaliser_->stats(this->references().embeddings());
  }
  if (!background.empty()) {
    const int dimension = this->references().dimension();
    if (background.embeddings.size() != static_cast<std::size_t>(background.count) * dimension)
      throw Error(ErrorKind::kFormat, "The model's background does not hold embeddings of length " +
                                          std::to_string(dimension) + ".");
    background_ = cv::Mat(background.count, dimension, CV_32F,
                          const_cast<float *>(background.embeddings.data()))
                      .clone();
  }
  check_background_margin(settings_);
}

void Matcher::check_background_margin(const MatcherSettings &settings) const {
  if (settings.background_margin && background_.empty())
    throw Error(ErrorKind::kSettings,
                "A background margin needs a model that carries a background (siamese-train "
                "calibrate writes one), and this model has none.");
}

void Matcher::normalise(const cv::Mat &embeddings, std::vector<RankedLabels> &ranked) const {
  const std::vector<CohortStats> query_stats = normaliser_->stats(embeddings);
  const cv::Mat &templates = references().embeddings();
  for (std::size_t q = 0; q < ranked.size(); ++q) {
    const cv::Mat query = embeddings.row(static_cast<int>(q));
    for (LabelScore &entry : ranked[q]) {
      // Cosine whatever the metric: the cohort statistics are cosines.
      const double cosine = query.dot(templates.row(entry.template_row));
      entry.normalised_score =
          settings_.cohort_sides == CohortSides::kQuery
              ? CohortNormaliser::normalise(cosine, query_stats[q])
              : CohortNormaliser::normalise(cosine, query_stats[q],
                                            template_stats_[entry.template_row]);
    }
  }
}

std::vector<BackgroundScores> Matcher::background_scores(
    const cv::Mat &embeddings, const std::vector<RankedLabels> &ranked) const {
  const cv::Mat similarities = embeddings * background_.t();  // N x count
  const cv::Mat &templates = references().embeddings();
  std::vector<BackgroundScores> scores(ranked.size());
  for (std::size_t q = 0; q < ranked.size(); ++q) {
    const int row = static_cast<int>(q);
    double nearest = 0.0;
    cv::minMaxLoc(similarities.row(row), nullptr, &nearest);
    // Cosine whatever the metric, as the background's are.
    scores[q] = {embeddings.row(row).dot(templates.row(ranked[q].front().template_row)), nearest};
  }
  return scores;
}

std::vector<MatchResult> Matcher::match(const cv::Mat &embeddings) const {
  return match(embeddings, settings_);
}

std::vector<MatchResult> Matcher::match(const cv::Mat &embeddings,
                                        const MatcherSettings &decision) const {
  check_top_k(decision.top_k);
  check_background_margin(decision);
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
  in_force.aggregate = settings_.aggregate;
  in_force.normalise = settings_.normalise;
  in_force.cohort_top = settings_.cohort_top;
  in_force.cohort_sides = settings_.cohort_sides;
  auto ranked = search_->best_labels(embeddings, std::max(decision.top_k, kMinimumRankedLabels));
  if (normaliser_) normalise(embeddings, ranked);
  const std::vector<BackgroundScores> background =
      background_.empty() ? std::vector<BackgroundScores>{} : background_scores(embeddings, ranked);
  std::vector<MatchResult> results;
  results.reserve(ranked.size());
  for (std::size_t q = 0; q < ranked.size(); ++q)
    results.push_back(decide(ranked[q], in_force,
                             background.empty() ? std::nullopt
                                                : std::optional<BackgroundScores>(background[q])));
  return results;
}

}  // namespace siamese
