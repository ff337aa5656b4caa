// SPDX-License-Identifier: LGPL-2.1-or-later
// The open-set decision rules (matcher.h): background label, raw threshold,
// normalised threshold beside the raw floor, margin, the order in which they
// give the reason; and which settings are in force (decision_settings.h).
#include <gtest/gtest.h>

#include "decision_settings.h"
#include "matcher.h"
#include "thrown_kind.h"

namespace siamese {
namespace {

LabelScore entry(const std::string &label, double score, std::optional<double> normalised = {}) {
  return {label, score, std::sqrt(std::max(0.0, 2.0 - 2.0 * score)), normalised};
}

MatcherSettings cosine(double threshold, double margin = 0.0) {
  MatcherSettings settings;
  settings.threshold = threshold;
  settings.margin = margin;
  return settings;
}

MatcherSettings normalised(double threshold, double normalised_threshold) {
  MatcherSettings settings = cosine(threshold);
  settings.normalise = true;
  settings.normalised_threshold = normalised_threshold;
  return settings;
}

TEST(Decide, BackgroundIsNeverDeclared) {
  // A frame whose best match is the background label is unknown, however high its score.
  const MatchResult result = decide({entry(kBackgroundLabel, 0.99), entry("a", 0.6)}, cosine(0.5));
  EXPECT_FALSE(result.matched);
  EXPECT_EQ(result.label, "");
  EXPECT_EQ(result.frame_label, "");
  EXPECT_EQ(result.reason, Reason::kBackground);
  EXPECT_EQ(result.best_label, kBackgroundLabel);
  // Background second does not stop a real label.
  const MatchResult second = decide({entry("a", 0.9), entry(kBackgroundLabel, 0.6)}, cosine(0.5));
  EXPECT_TRUE(second.matched);
  EXPECT_EQ(second.label, "a");
}

TEST(Decide, MarginSeparatesTheBestFromTheSecond) {
  // Best 0.80 and second 0.75: a margin of 0.1 makes it ambiguous, 0.05 does not.
  const RankedLabels ranked = {entry("a", 0.80), entry("b", 0.75)};
  EXPECT_EQ(decide(ranked, cosine(0.5, 0.1)).reason, Reason::kAmbiguous);
  EXPECT_EQ(decide(ranked, cosine(0.5, 0.1)).label, "");
  EXPECT_EQ(decide(ranked, cosine(0.5, 0.05)).reason, Reason::kMatched);
  EXPECT_EQ(decide(ranked, cosine(0.5, 0.0)).label, "a");
  // A single label has no second to beat.
  EXPECT_TRUE(decide({entry("a", 0.8)}, cosine(0.5, 0.5)).matched);
  // Below the threshold the reason is the threshold, even when also ambiguous.
  EXPECT_EQ(decide(ranked, cosine(0.85, 0.1)).reason, Reason::kBelowThreshold);
}

TEST(Decide, EuclideanMarginIsInDistance) {
  // score = -distance, so the margin is the second's distance minus the best's.
  MatcherSettings settings = cosine(1.0, 0.2);
  settings.metric = Metric::kEuclidean;
  const RankedLabels close = {{"a", -0.5, 0.5}, {"b", -0.6, 0.6}};
  const RankedLabels apart = {{"a", -0.5, 0.5}, {"b", -0.8, 0.8}};
  EXPECT_EQ(decide(close, settings).reason, Reason::kAmbiguous);
  EXPECT_EQ(decide(apart, settings).reason, Reason::kMatched);
}

TEST(Decide, NormalisedAndRawThresholdsMustBothPass) {
  // High raw, low normalised (similar to everything): unknown.  Low raw,
  // high normalised (similar to nothing, so a little stands out): unknown.
  // Both high: matched.  The result carries both scores and thresholds.
  const MatcherSettings settings = normalised(0.5, 2.0);
  const MatchResult generic = decide({entry("a", 0.9, 1.0), entry("b", 0.2, -1.0)}, settings);
  EXPECT_EQ(generic.reason, Reason::kBelowThreshold);
  EXPECT_EQ(generic.normalised_score, 1.0);
  EXPECT_EQ(generic.normalised_threshold, 2.0);
  EXPECT_DOUBLE_EQ(generic.threshold, 0.5);
  const MatchResult flat = decide({entry("a", 0.3, 4.0), entry("b", 0.2, 3.0)}, settings);
  EXPECT_EQ(flat.reason, Reason::kBelowThreshold);
  const MatchResult both = decide({entry("a", 0.9, 3.0), entry("b", 0.2, -1.0)}, settings);
  EXPECT_TRUE(both.matched);
  EXPECT_EQ(both.label, "a");
  EXPECT_EQ(both.top.at(0).normalised_score, 3.0);
  // Without normalisation no normalised threshold is in force or reported.
  const MatchResult raw = decide({entry("a", 0.9, 1.0), entry("b", 0.2, -1.0)}, cosine(0.5));
  EXPECT_TRUE(raw.matched);
  EXPECT_FALSE(raw.normalised_threshold.has_value());
  // Normalisation on but no normalised score: nothing to pass with.
  EXPECT_EQ(decide({entry("a", 0.9), entry("b", 0.2)}, settings).reason, Reason::kBelowThreshold);
}

TEST(Decide, BackgroundComesBeforeEveryOtherRule) {
  // Background below the threshold and ambiguous still says background.
  const MatchResult result =
      decide({entry(kBackgroundLabel, 0.3, -2.0), entry("a", 0.29)}, normalised(0.5, 2.0));
  EXPECT_EQ(result.reason, Reason::kBackground);
}

// Unit vectors of `dim` with 1 at `index` (plus `rest` spread over the others).
cv::Mat unit(int dim, int index, float rest = 0.f) {
  cv::Mat row(1, dim, CV_32F, cv::Scalar(rest));
  row.at<float>(index) = 1.f;
  return row / cv::norm(row);
}

Cohort cohort_of(const cv::Mat &rows) {
  Cohort cohort;
  cohort.count = rows.rows;
  cohort.embeddings.assign(rows.begin<float>(), rows.end<float>());
  return cohort;
}

TEST(CohortNormaliser, StatisticsOfTheTopSimilarities) {
  // Cohort e0, e1, e2, (e0 + e1)/sqrt 2; top 2.  e0 scores 1, 0.707, 0, 0:
  // mean 0.854, spread 0.146.  e2 scores 1, 0, 0, 0: mean 0.5, spread 0.5.
  cv::Mat rows;
  rows.push_back(unit(3, 0));
  rows.push_back(unit(3, 1));
  rows.push_back(unit(3, 2));
  cv::Mat diagonal = (cv::Mat_<float>(1, 3) << 1.f, 1.f, 0.f);
  rows.push_back(cv::Mat(diagonal / cv::norm(diagonal)));
  const CohortNormaliser normaliser(cohort_of(rows), 3, 2);
  cv::Mat queries;
  queries.push_back(unit(3, 0));
  queries.push_back(unit(3, 2));
  const std::vector<CohortStats> stats = normaliser.stats(queries);
  ASSERT_EQ(stats.size(), 2u);
  const double half_root = std::sqrt(0.5);
  EXPECT_NEAR(stats[0].mean, (1.0 + half_root) / 2, 1e-6);
  EXPECT_NEAR(stats[0].spread, (1.0 - half_root) / 2, 1e-6);
  EXPECT_NEAR(stats[1].mean, 0.5, 1e-6);
  EXPECT_NEAR(stats[1].spread, 0.5, 1e-6);
  // The formula: the mean of the two sides' standard scores.
  EXPECT_DOUBLE_EQ(CohortNormaliser::normalise(0.9, {0.5f, 0.25f}, {0.7f, 0.1f}),
                   0.5 * ((0.9 - 0.5) / 0.25 + (0.9 - double(0.7f)) / double(0.1f)));
  // top larger than the cohort: the whole cohort.
  EXPECT_EQ(CohortNormaliser(cohort_of(rows), 3, 100).top(), 4);
}

TEST(CohortNormaliser, DegenerateSpreadStaysFinite) {
  // An all-zero embedding scores 0 with every member: its spread is floored, z is finite.
  const CohortNormaliser normaliser(cohort_of(unit(3, 0)), 3, 1);
  const CohortStats stats = normaliser.stats(cv::Mat::zeros(1, 3, CV_32F)).front();
  EXPECT_GT(stats.spread, 0.f);
  EXPECT_TRUE(std::isfinite(CohortNormaliser::normalise(0.0, stats, stats)));
}

TEST(CohortNormaliser, Refusals) {
  // No cohort, a cohort of another length, or top < 1 are settings errors naming the cause.
  EXPECT_EQ(thrown_kind([] { CohortNormaliser(Cohort{}, 3, 5); }, "cohort"), ErrorKind::kSettings);
  EXPECT_EQ(thrown_kind([] { CohortNormaliser(cohort_of(unit(4, 0)), 3, 5); }, "length 3"),
            ErrorKind::kFormat);
  EXPECT_EQ(thrown_kind([] { CohortNormaliser(cohort_of(unit(3, 0)), 3, 0); }, "0"),
            ErrorKind::kSettings);
}

// Templates a = e0 and b = e1 in 6-D; a cohort around e2..e5, each member
// leaning towards e0 by its own amount, so "near a and near the cohort"
// scores high raw and low normalised (0.76 against 4.3 for a frame as near
// a but away from the cohort, by hand).
struct OpenSetScene {
  ReferenceSet references;
  Cohort cohort;
  OpenSetScene() {
    references.add("b", unit(6, 1));  // b first: the search regroups templates by label
    references.add("a", unit(6, 0));
    cv::Mat rows;
    for (int k = 2; k < 6; ++k)
      for (float lean : {0.1f * k - 0.2f, 0.2f + 0.1f * k, 0.5f + 0.15f * k}) {
        cv::Mat row = unit(6, k) * 1.f;
        row.at<float>(0) = lean;
        rows.push_back(cv::Mat(row / cv::norm(row)));
      }
    cohort = cohort_of(rows);
  }
  static cv::Mat query(std::initializer_list<float> values) {
    cv::Mat row(1, 6, CV_32F);
    std::copy(values.begin(), values.end(), row.begin<float>());
    return row / cv::norm(row);
  }
};

TEST(Matcher, NormalisesAgainstTheCohort) {
  // Each label's normalised score is AS-norm of its best template's cosine,
  // with that template's own statistics (computed once, by reference row).
  const OpenSetScene scene;
  MatcherSettings settings = normalised(0.5, 1.0);
  settings.cohort_top = 4;
  settings.top_k = 2;
  const Matcher matcher(scene.references, settings, {}, scene.cohort);
  const cv::Mat query = OpenSetScene::query({0.8f, 0.3f, 0.4f, 0.f, 0.f, 0.f});
  const MatchResult result = matcher.match(query).front();
  const CohortNormaliser normaliser(scene.cohort, 6, 4);
  const CohortStats q = normaliser.stats(query).front();
  const auto stats_a = normaliser.stats(unit(6, 0)).front();
  const auto stats_b = normaliser.stats(unit(6, 1)).front();
  ASSERT_EQ(result.top.size(), 2u);
  EXPECT_EQ(result.top[0].label, "a");
  EXPECT_NEAR(*result.top[0].normalised_score,
              CohortNormaliser::normalise(query.at<float>(0), q, stats_a), 1e-5);
  EXPECT_NEAR(*result.top[1].normalised_score,
              CohortNormaliser::normalise(query.at<float>(1), q, stats_b), 1e-5);
  EXPECT_EQ(result.normalised_score, result.top[0].normalised_score);
  EXPECT_EQ(result.normalised_threshold, 1.0);
}

TEST(Matcher, NormalisesOnTheQuerySideAlone) {
  // With CohortSides::kQuery a label's normalised score is its cosine
  // measured in the frame's own cohort statistics, whatever the template's.
  const OpenSetScene scene;
  MatcherSettings settings = normalised(0.5, 1.0);
  settings.cohort_top = 4;
  settings.cohort_sides = CohortSides::kQuery;
  settings.top_k = 2;
  const Matcher matcher(scene.references, settings, {}, scene.cohort);
  const cv::Mat query = OpenSetScene::query({0.8f, 0.3f, 0.4f, 0.f, 0.f, 0.f});
  const MatchResult result = matcher.match(query).front();
  const CohortStats q = CohortNormaliser(scene.cohort, 6, 4).stats(query).front();
  ASSERT_EQ(result.top.size(), 2u);
  EXPECT_NEAR(*result.top[0].normalised_score, (query.at<float>(0) - q.mean) / q.spread, 1e-5);
  EXPECT_NEAR(*result.top[1].normalised_score, (query.at<float>(1) - q.mean) / q.spread, 1e-5);
  EXPECT_DOUBLE_EQ(CohortNormaliser::normalise(0.9, {0.5f, 0.2f}), (0.9 - 0.5f) / 0.2f);
  // Per-call settings cannot switch the sides: the templates' statistics are the build's.
  MatcherSettings both = settings;
  both.cohort_sides = CohortSides::kBoth;
  EXPECT_EQ(matcher.match(query, both).front().normalised_score, result.normalised_score);
}

TEST(Matcher, SimilarToEverythingIsUnknownWithNormalisation) {
  // Two frames equally close to a (raw 0.8): one also close to the cohort,
  // one not.  Raw decides both alike; normalisation tells them apart.
  const OpenSetScene scene;
  const cv::Mat generic = OpenSetScene::query({0.8f, 0.f, 0.6f * 0.7071f, 0.6f * 0.7071f, 0.f, 0.f});
  const cv::Mat specific = OpenSetScene::query({0.8f, 0.6f, 0.f, 0.f, 0.f, 0.f});
  MatcherSettings raw = cosine(0.7);
  const Matcher raw_matcher(scene.references, raw, {}, scene.cohort);
  EXPECT_TRUE(raw_matcher.match(generic).front().matched);
  EXPECT_TRUE(raw_matcher.match(specific).front().matched);
  EXPECT_FALSE(raw_matcher.match(generic).front().normalised_score.has_value());

  MatcherSettings with_cohort = normalised(0.7, 2.0);
  with_cohort.cohort_top = 3;
  const Matcher matcher(scene.references, with_cohort, {}, scene.cohort);
  const MatchResult generic_result = matcher.match(generic).front();
  const MatchResult specific_result = matcher.match(specific).front();
  EXPECT_LT(*generic_result.normalised_score, *specific_result.normalised_score);
  EXPECT_EQ(generic_result.reason, Reason::kBelowThreshold);
  EXPECT_EQ(specific_result.reason, Reason::kMatched);
  EXPECT_EQ(specific_result.label, "a");
}

TEST(Matcher, NormalisationNeedsACohort) {
  // normalise without a cohort is refused when the Matcher is built.
  const OpenSetScene scene;
  EXPECT_EQ(thrown_kind([&] { Matcher(scene.references, normalised(0.5, 1.0), {}); }, "cohort"),
            ErrorKind::kSettings);
}

TEST(Matcher, BackgroundTemplatesMakeUnknown) {
  // A frame closest to a _background template is unknown; one closest to a is a.
  ReferenceSet set;
  set.add("a", unit(3, 0));
  set.add(kBackgroundLabel, unit(3, 1));
  const Matcher matcher(set, cosine(0.5), {});
  const cv::Mat near_staff = (cv::Mat_<float>(1, 3) << 0.1f, 0.99f, 0.f);
  const MatchResult staff = matcher.match(near_staff).front();
  EXPECT_EQ(staff.reason, Reason::kBackground);
  EXPECT_EQ(staff.label, "");
  EXPECT_EQ(matcher.match(unit(3, 0)).front().label, "a");
}

TEST(Decide, BackgroundMarginComparesTheLabelWithTheNearestBackground) {
  // Label cosine 0.8, nearest background 0.85: a gap of -0.05.  A margin of
  // -0.1 lets it pass, 0 does not; without a margin the rule is off.  The
  // result carries the background's score either way.
  const RankedLabels ranked = {entry("a", 0.8), entry("b", 0.3)};
  const BackgroundScores frame{0.8, 0.85};
  MatcherSettings settings = cosine(0.5);
  settings.background_margin = -0.1;
  EXPECT_EQ(decide(ranked, settings, frame).reason, Reason::kMatched);
  EXPECT_EQ(decide(ranked, settings, frame).background_score, 0.85);
  settings.background_margin = 0.0;
  const MatchResult unknown = decide(ranked, settings, frame);
  EXPECT_EQ(unknown.reason, Reason::kBackground);
  EXPECT_EQ(unknown.label, "");
  EXPECT_EQ(unknown.best_label, "a");
  settings.background_margin = std::nullopt;
  EXPECT_TRUE(decide(ranked, settings, frame).matched);
  // Without the frame's background scores (a model without background) nothing changes.
  settings.background_margin = 0.0;
  EXPECT_TRUE(decide(ranked, settings).matched);
  EXPECT_EQ(decide(ranked, settings).background_score, std::nullopt);
}

TEST(Matcher, ModelBackgroundMakesUnknown) {
  // Templates a (x axis) and b (y axis); the model's background holds the
  // diagonal between them.  A frame on the diagonal, a little nearer a, is
  // nearer the background than a: unknown with margin 0, a with margin -0.2.
  // A frame on a is a either way.
  ReferenceSet set;
  set.add("a", unit(3, 0));
  set.add("b", unit(3, 1));
  const float d = std::sqrt(0.5f);
  Background background;
  background.count = 2;
  background.embeddings = {d, d, 0.f, 0.f, 0.f, 1.f};
  MatcherSettings settings = cosine(0.5);
  settings.background_margin = 0.0;
  const Matcher matcher(set, settings, {}, {}, background);
  cv::Mat between = (cv::Mat_<float>(1, 3) << 0.8f, 0.6f, 0.f);
  const MatchResult near_diagonal = matcher.match(between).front();
  EXPECT_EQ(near_diagonal.reason, Reason::kBackground);
  EXPECT_EQ(near_diagonal.best_label, "a");
  EXPECT_NEAR(*near_diagonal.background_score, 1.4 * d, 1e-6);
  MatcherSettings lenient = settings;
  lenient.background_margin = -0.2;
  EXPECT_EQ(matcher.match(between, lenient).front().label, "a");
  EXPECT_EQ(matcher.match(unit(3, 0)).front().label, "a");
  // A margin for a matcher without background, or a background of another
  // dimension, is refused.
  EXPECT_EQ(thrown_kind([&] { Matcher(set, settings, {}); }, "background"), ErrorKind::kSettings);
  const Matcher plain(set, cosine(0.5), {});
  EXPECT_EQ(thrown_kind([&] { plain.match(between, settings); }, "background"),
            ErrorKind::kSettings);
  Background other = background;
  other.count = 3;  // 6 values are not three rows of 3
  EXPECT_EQ(thrown_kind([&] { Matcher(set, cosine(0.5), {}, {}, other); }, "background"),
            ErrorKind::kFormat);
}

// A contract with a cohort of 2-D rows, calibrated points and recommendations.
ModelContract calibrated_contract() {
  ModelContract contract;
  contract.embedding_dim = 2;
  contract.thresholds[Metric::kCosine] = 0.4f;  // the equal-error one
  contract.cohort.count = 1;
  contract.cohort.embeddings = {1.f, 0.f};
  contract.calibrated = {{Metric::kCosine, false, 0.001, 0.9f, 0.f},
                         {Metric::kCosine, false, 0.01, 0.7f, 0.f},
                         {Metric::kCosine, true, 0.01, 0.5f, 2.5f}};
  return contract;
}

TEST(DecisionSettings, PropertyThenCalibratedThenEerThenDefault) {
  // The raw threshold comes from the first of: the request, the calibrated
  // point at the rate (normalised when normalising), the EER threshold, the default.
  ModelContract contract = calibrated_contract();
  DecisionRequest request;
  ThresholdSource source;
  MatcherSettings settings = resolve_decision(request, contract, {}, &source);
  EXPECT_TRUE(settings.normalise);  // auto with a cohort
  EXPECT_DOUBLE_EQ(settings.threshold, 0.5f);
  EXPECT_DOUBLE_EQ(settings.normalised_threshold, 2.5f);
  EXPECT_EQ(source, ThresholdSource::kCalibratedNormalised);

  request.normalisation = Normalisation::kOff;
  settings = resolve_decision(request, contract, {}, &source);
  EXPECT_FALSE(settings.normalise);
  EXPECT_DOUBLE_EQ(settings.threshold, 0.7f);
  EXPECT_EQ(source, ThresholdSource::kCalibratedRaw);

  request.false_accept_rate = 0.005;  // never looser than asked: the 0.001 point
  EXPECT_DOUBLE_EQ(resolve_decision(request, contract).threshold, 0.9f);

  request.false_accept_rate = 0.0001;  // below every calibrated rate: the EER threshold
  settings = resolve_decision(request, contract, {}, &source);
  EXPECT_DOUBLE_EQ(settings.threshold, 0.4f);
  EXPECT_EQ(source, ThresholdSource::kModelEer);

  request.threshold = 0.66;
  settings = resolve_decision(request, contract, {}, &source);
  EXPECT_DOUBLE_EQ(settings.threshold, 0.66);
  EXPECT_EQ(source, ThresholdSource::kProperty);

  request = {};
  request.metric = Metric::kEuclidean;  // nothing calibrated for it
  settings = resolve_decision(request, contract, {}, &source);
  EXPECT_DOUBLE_EQ(settings.threshold, default_threshold(Metric::kEuclidean));
  EXPECT_EQ(source, ThresholdSource::kDefault);
  EXPECT_DOUBLE_EQ(settings.normalised_threshold, decision_defaults::kNormalisedThreshold);
}

TEST(DecisionSettings, NormalisationAutoOnOff) {
  // auto follows the model's recommendation, else whether it has a cohort;
  // on without a cohort is a settings error; off is off.
  ModelContract contract = calibrated_contract();
  EXPECT_TRUE(normalises(Normalisation::kAuto, contract));
  contract.recommended.normalise = false;
  EXPECT_FALSE(normalises(Normalisation::kAuto, contract));
  EXPECT_TRUE(normalises(Normalisation::kOn, contract));
  const ModelContract plain;
  EXPECT_FALSE(normalises(Normalisation::kAuto, plain));
  EXPECT_FALSE(normalises(Normalisation::kOff, plain));
  EXPECT_EQ(thrown_kind([&] { normalises(Normalisation::kOn, plain); }, "cohort"),
            ErrorKind::kSettings);
}

TEST(DecisionSettings, MarginAndCohortSizeFromTheModel) {
  // The request's margin wins over the model's, which wins over the default;
  // the cohort size and sides are the model's, else the defaults.
  ModelContract contract = calibrated_contract();
  DecisionRequest request;
  EXPECT_DOUBLE_EQ(resolve_decision(request, contract).margin, decision_defaults::kMargin);
  EXPECT_EQ(resolve_decision(request, contract).cohort_top, decision_defaults::kCohortTop);
  EXPECT_EQ(resolve_decision(request, contract).cohort_sides, CohortSides::kBoth);
  contract.recommended.margin = 0.08f;
  contract.recommended.cohort_top = 7;
  contract.recommended.cohort_sides = CohortSides::kQuery;
  EXPECT_EQ(resolve_decision(request, contract).cohort_sides, CohortSides::kQuery);
  EXPECT_DOUBLE_EQ(resolve_decision(request, contract).margin, 0.08f);
  EXPECT_EQ(resolve_decision(request, contract).cohort_top, 7);
  request.margin = 0.02;
  EXPECT_DOUBLE_EQ(resolve_decision(request, contract).margin, 0.02);
  request.normalised_threshold = 3.5;
  EXPECT_DOUBLE_EQ(resolve_decision(request, contract).normalised_threshold, 3.5);
}

TEST(DecisionSettings, BackgroundMarginFromRequestThenPointThenModel) {
  // With a background: the request's margin, else the calibrated point's in
  // force (none when it has none), else the model's recommendation.  Without
  // a background: none, and a requested one is a settings error.
  ModelContract contract = calibrated_contract();
  DecisionRequest request;
  EXPECT_EQ(resolve_decision(request, contract).background_margin, std::nullopt);
  request.background_margin = -0.1;
  EXPECT_EQ(thrown_kind([&] { resolve_decision(request, contract); }, "background"),
            ErrorKind::kSettings);

  contract.background.count = 1;
  contract.background.embeddings = {0.f, 1.f};
  contract.recommended.background_margin = -0.04f;
  contract.calibrated[2].background_margin = -0.06f;  // the normalised point at 1 %
  EXPECT_DOUBLE_EQ(*resolve_decision(request, contract).background_margin, -0.1);
  request.background_margin = std::nullopt;
  EXPECT_DOUBLE_EQ(*resolve_decision(request, contract).background_margin, -0.06f);
  request.normalisation = Normalisation::kOff;  // the raw point at 1 % has none
  EXPECT_EQ(resolve_decision(request, contract).background_margin, std::nullopt);
  request.false_accept_rate = 0.0001;  // no point in force: the recommendation
  EXPECT_DOUBLE_EQ(*resolve_decision(request, contract).background_margin, -0.04f);
}

TEST(DecisionSettings, ModelWithoutOpenSetPartsDecidesAsBefore) {
  // No cohort, no calibrated points: no normalisation, no margin, the EER threshold.
  ModelContract contract;
  contract.thresholds[Metric::kCosine] = 0.41f;
  const MatcherSettings settings = resolve_decision({}, contract);
  EXPECT_FALSE(settings.normalise);
  EXPECT_DOUBLE_EQ(settings.threshold, 0.41f);
  EXPECT_DOUBLE_EQ(settings.margin, decision_defaults::kMargin);
}

}  // namespace
}  // namespace siamese
