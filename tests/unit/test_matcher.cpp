// SPDX-License-Identifier: LGPL-2.1-or-later
// Matcher: cosine, euclidean and learned scores, top-k, thresholds, errors;
// and the whole core (embedder + reference set + matcher) on the fixtures.
#include <cmath>

#include <gtest/gtest.h>

#include "embedder.h"
#include "matcher.h"
#include "thrown_kind.h"

namespace siamese {
namespace {

// a: (1, 0, 0) and (0.8, 0.6, 0); b: (0, 1, 0); c: (0, 0, 1).
ReferenceSet abc_references() {
  ReferenceSet set;
  set.add("a", cv::Mat(cv::Matx13f(1, 0, 0)));
  set.add("a", cv::Mat(cv::Matx13f(0.8f, 0.6f, 0)));
  set.add("b", cv::Mat(cv::Matx13f(0, 1, 0)));
  set.add("c", cv::Mat(cv::Matx13f(0, 0, 1)));
  return set;
}

// Cosine with a's templates: 0.6 and 0.96; with b: 0.8; with c: 0.
const cv::Mat kQuery = cv::Mat(cv::Matx13f(0.6f, 0.8f, 0));

// s = sum |h1 - h2|; logit = -8 relu(s) + 4 relu(0.5 - s) + 2 (as in the fixture).
PairHead test_head() {
  PairHead head;
  head.layers.push_back({3, 2, {1, 1, 1, -1, -1, -1}, {0.f, 0.5f}});
  head.layers.push_back({2, 1, {-8.f, 4.f}, {2.f}});
  return head;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

MatchResult match_one(const ReferenceSet &set, const MatcherSettings &settings,
                      const PairHead &head = {}) {
  const auto results = Matcher(set, settings, head).match(kQuery);
  EXPECT_EQ(results.size(), 1u);
  return results.at(0);
}

std::optional<ErrorKind> constructor_error(const ReferenceSet &set, const MatcherSettings &settings,
                                           const PairHead &head) {
  return thrown_kind([&] { Matcher(set, settings, head); });
}

TEST(Matcher, CosineScoresBestTemplatePerLabel) {
  // a's score is its best template (0.96); distance is to that same template.
  const MatchResult result = match_one(abc_references(), {Metric::kCosine, 0.9, 2});
  EXPECT_TRUE(result.matched);
  EXPECT_EQ(result.label, "a");
  EXPECT_EQ(result.reason, Reason::kMatched);
  EXPECT_EQ(result.frame_label, "a");
  EXPECT_EQ(result.best_label, "a");
  EXPECT_EQ(result.metric, "cosine");
  EXPECT_DOUBLE_EQ(result.threshold, 0.9);
  EXPECT_NEAR(result.score, 0.96, 1e-6);
  EXPECT_NEAR(result.distance, std::sqrt(2 - 2 * 0.96), 1e-6);
  ASSERT_EQ(result.top.size(), 2u);
  EXPECT_EQ(result.top[0].label, "a");
  EXPECT_EQ(result.top[1].label, "b");
  EXPECT_NEAR(result.top[1].score, 0.8, 1e-6);
  EXPECT_NEAR(result.top[1].distance, std::sqrt(2 - 2 * 0.8), 1e-6);
}

TEST(Matcher, CosineBelowThresholdIsUnknown) {
  // Below the threshold the label is empty but best_label still says who was closest.
  const MatchResult result = match_one(abc_references(), {Metric::kCosine, 0.97, 3});
  EXPECT_FALSE(result.matched);
  EXPECT_EQ(result.label, "");
  EXPECT_EQ(result.reason, Reason::kBelowThreshold);
  EXPECT_EQ(result.best_label, "a");
  ASSERT_EQ(result.top.size(), 3u);
  EXPECT_EQ(result.top[2].label, "c");
  EXPECT_NEAR(result.top[2].score, 0.0, 1e-6);
}

TEST(Matcher, EuclideanThresholdsTheDistance) {
  // score = -distance; a match needs distance <= threshold.
  const double distance = std::sqrt(2 - 2 * 0.96);
  MatchResult result = match_one(abc_references(), {Metric::kEuclidean, 0.3, 3});
  EXPECT_TRUE(result.matched);
  EXPECT_EQ(result.label, "a");
  EXPECT_NEAR(result.score, -distance, 1e-6);
  EXPECT_NEAR(result.distance, distance, 1e-6);
  EXPECT_EQ(result.top[1].label, "b");
  EXPECT_EQ(result.top[2].label, "c");
  EXPECT_NEAR(result.top[2].distance, std::sqrt(2.0), 1e-6);

  result = match_one(abc_references(), {Metric::kEuclidean, 0.2, 3});
  EXPECT_FALSE(result.matched);
  EXPECT_EQ(result.best_label, "a");
}

TEST(Matcher, LearnedHeadProbability) {
  // |q - (0.8, 0.6, 0)| sums to 0.4: logit = -3.2 + 0.4 + 2 = -0.8.
  // b: s = 0.8, logit = -4.4; c: s = 2.4, logit = -17.2.
  MatchResult result = match_one(abc_references(), {Metric::kLearned, 0.3, 3}, test_head());
  EXPECT_EQ(result.metric, "learned");
  EXPECT_TRUE(result.matched);
  EXPECT_EQ(result.label, "a");
  EXPECT_NEAR(result.score, sigmoid(-0.8), 1e-6);
  EXPECT_NEAR(result.distance, std::sqrt(2 - 2 * 0.96), 1e-6);
  EXPECT_NEAR(result.top[1].score, sigmoid(-4.4), 1e-6);
  EXPECT_NEAR(result.top[2].score, sigmoid(-17.2), 1e-6);

  result = match_one(abc_references(), {Metric::kLearned, 0.5, 3}, test_head());
  EXPECT_FALSE(result.matched);
}

TEST(Matcher, ReasonsReadBackFromText) {
  // Every reason has a spelling that reads back; others are refused.
  for (const Reason reason : {Reason::kMatched, Reason::kBelowThreshold, Reason::kAmbiguous,
                              Reason::kBackground, Reason::kUnconfirmed})
    EXPECT_EQ(reason_from_string(to_string(reason)), reason);
  EXPECT_THROW(reason_from_string("maybe"), std::invalid_argument);
}

TEST(Matcher, TopKBounds) {
  // top-k larger than the label count lists every label; 0 lists none.
  EXPECT_EQ(match_one(abc_references(), {Metric::kCosine, 0.5, 10}).top.size(), 3u);
  EXPECT_TRUE(match_one(abc_references(), {Metric::kCosine, 0.5, 0}).top.empty());
}

TEST(Matcher, TiesAreBrokenByLabelName) {
  // Equal scores rank alphabetically.
  ReferenceSet set;
  set.add("zeta", cv::Mat(cv::Matx12f(0, 1)));
  set.add("alpha", cv::Mat(cv::Matx12f(0, 1)));
  const auto results = Matcher(set, {Metric::kCosine, 0.5, 2}, {}).match(cv::Mat(cv::Matx12f(0, 1)));
  EXPECT_EQ(results.at(0).best_label, "alpha");
  EXPECT_EQ(results.at(0).top.at(1).label, "zeta");
}

TEST(Matcher, OneResultPerRow) {
  // Several embeddings at once: one result each, in order.
  cv::Mat rows;
  rows.push_back(cv::Mat(cv::Matx13f(0, 0, 1)));
  rows.push_back(cv::Mat(cv::Matx13f(0, 1, 0)));
  rows.push_back(cv::Mat(cv::Matx13f(0, 0, 0)));  // e.g. a black frame
  const auto results = Matcher(abc_references(), {Metric::kCosine, 0.9, 1}, {}).match(rows);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].label, "c");
  EXPECT_EQ(results[1].label, "b");
  EXPECT_FALSE(results[2].matched);
  EXPECT_NEAR(results[2].distance, 1.0, 1e-6);  // every template is unit length
}

TEST(Matcher, SettingsErrors) {
  // Learned without a head, a head for another size, an empty set, negative top-k.
  EXPECT_EQ(constructor_error(abc_references(), {Metric::kLearned, 0.5, 1}, {}),
            ErrorKind::kSettings);
  PairHead wrong = test_head();
  wrong.layers[0] = {2, 2, {1, 1, -1, -1}, {0.f, 0.5f}};
  EXPECT_EQ(constructor_error(abc_references(), {Metric::kLearned, 0.5, 1}, wrong),
            ErrorKind::kFormat);
  EXPECT_EQ(constructor_error(ReferenceSet(), {Metric::kCosine, 0.5, 1}, {}), ErrorKind::kSettings);
  EXPECT_EQ(constructor_error(abc_references(), {Metric::kCosine, 0.5, -1}, {}),
            ErrorKind::kSettings);
}

TEST(Matcher, EmbeddingErrors) {
  // Wrong length and non-finite values are refused with their own kinds.
  const Matcher matcher(abc_references(), {Metric::kCosine, 0.5, 1}, {});
  EXPECT_EQ(thrown_kind([&] { matcher.match(cv::Mat(cv::Matx12f(1, 0))); }), ErrorKind::kFormat);
  EXPECT_EQ(thrown_kind([&] { matcher.match(cv::Mat(cv::Matx13f(NAN, 0, 0))); }), ErrorKind::kFrame);
}

struct Frame {
  cv::Scalar bgr;
  std::string label;  // "" = unknown
};

TEST(Core, SolidColourFramesMatchTheirLabel) {
  // Frames enrolled and matched through one embedder: colour decides the label,
  // a grey frame is unknown (best cosine 0.82 with yellow < 0.95).
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const ReferenceSet references = ReferenceSet::enroll_folder(SIAMESE_FIXTURE_REFERENCES_DIR, embedder);
  MatcherSettings settings;
  settings.threshold = embedder.contract().thresholds.at(Metric::kCosine);
  const Matcher matcher(references, settings, embedder.contract().head);
  for (const Frame &frame : {Frame{{0, 0, 250}, "red"}, Frame{{10, 240, 0}, "green"},
                             Frame{{255, 0, 0}, "blue"}, Frame{{0, 250, 250}, "yellow"},
                             Frame{{128, 128, 128}, ""}}) {
    const cv::Mat image(480, 640, CV_8UC3, frame.bgr);
    const MatchResult result = matcher.match(embedder.embed(image)).at(0);
    EXPECT_EQ(result.label, frame.label) << frame.bgr;
    EXPECT_EQ(result.matched, !frame.label.empty());
  }
}

TEST(Core, LearnedHeadFromModelMetadata) {
  // mean_colour_head.onnx carries the pair head: equal colours give sigmoid(4).
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_HEAD_ONNX);
  ASSERT_EQ(embedder.contract().metric, Metric::kLearned);
  const ReferenceSet references = ReferenceSet::enroll_folder(SIAMESE_FIXTURE_REFERENCES_DIR, embedder);
  const Matcher matcher(references, {Metric::kLearned, 0.5, 4}, embedder.contract().head);
  const MatchResult result =
      matcher.match(embedder.embed(cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, 255, 255)))).at(0);
  EXPECT_EQ(result.label, "yellow");
  EXPECT_NEAR(result.score, sigmoid(4), 1e-5);
  EXPECT_LT(result.top.at(1).score, 0.01);
}

}  // namespace
}  // namespace siamese
