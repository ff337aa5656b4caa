// SPDX-License-Identifier: LGPL-2.1-or-later
// SEARCH: the exact brute force and FAISS's flat index rank the same labels
// with the same scores; HNSW finds the best label of a small set (also with
// its search list retuned); wrong combinations are refused; a label scores by
// its best template or by its prototype, whatever the index.  And DECIDE
// takes new settings per call.
#include <cmath>

#include <gtest/gtest.h>

#include "faiss_search.h"
#include "matcher.h"
#include "template_search.h"
#include "thrown_kind.h"

namespace siamese {
namespace {

cv::Mat random_unit_rows(int rows, int dim, uint64_t seed) {
  cv::Mat values(rows, dim, CV_32F);
  cv::RNG rng(seed);
  rng.fill(values, cv::RNG::NORMAL, 0, 1);
  for (int r = 0; r < rows; ++r) cv::normalize(values.row(r), values.row(r));
  return values;
}

// 300 templates of 16 floats, 3 per label (labels "l000".."l099"), templates
// of a label enrolled apart from each other as in a real gallery.
ReferenceSet random_references() {
  const cv::Mat rows = random_unit_rows(300, 16, 1);
  ReferenceSet set;
  for (int r = 0; r < rows.rows; ++r) {
    char label[8];
    std::snprintf(label, sizeof label, "l%03d", r % 100);
    set.add(label, rows.row(r));
  }
  return set;
}

TEST(TemplateSearch, ExactAndFaissFlatAgree) {
  // Same labels in the same order, same scores and distances, for both metrics.
  const ReferenceSet set = random_references();
  const cv::Mat queries = random_unit_rows(20, 16, 2);
  for (const Metric metric : {Metric::kCosine, Metric::kEuclidean}) {
    const auto exact = TemplateSearch::create(set, metric, SearchIndex::kExact)->best_labels(queries, 5);
    const auto flat =
        TemplateSearch::create(set, metric, SearchIndex::kFaissFlat)->best_labels(queries, 5);
    ASSERT_EQ(exact.size(), 20u);
    ASSERT_EQ(flat.size(), 20u);
    for (std::size_t q = 0; q < exact.size(); ++q) {
      ASSERT_EQ(exact[q].size(), 5u);
      ASSERT_EQ(flat[q].size(), 5u);
      for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(exact[q][i].label, flat[q][i].label) << to_string(metric) << " query " << q;
        EXPECT_NEAR(exact[q][i].score, flat[q][i].score, 1e-5);
        EXPECT_NEAR(exact[q][i].distance, flat[q][i].distance, 1e-5);
        EXPECT_EQ(exact[q][i].template_row, flat[q][i].template_row);
      }
    }
  }
}

TEST(TemplateSearch, ExactScoresAreThoseOfTheBestTemplate) {
  // Checked against a direct computation: a label's score is its best template's dot product.
  const ReferenceSet set = random_references();
  const cv::Mat query = random_unit_rows(1, 16, 3);
  const auto ranked = TemplateSearch::create(set, Metric::kCosine, SearchIndex::kExact)
                          ->best_labels(query, 100)
                          .front();
  ASSERT_EQ(ranked.size(), 100u);
  for (std::size_t i = 1; i < ranked.size(); ++i) EXPECT_GE(ranked[i - 1].score, ranked[i].score);
  const cv::Mat dots = set.embeddings() * query.t();
  std::vector<double> best(100, -2.0);
  for (int t = 0; t < dots.rows; ++t)
    best[set.template_labels()[t]] = std::max<double>(best[set.template_labels()[t]], dots.at<float>(t));
  for (const LabelScore &entry : ranked) {
    const int label = std::stoi(entry.label.substr(1));
    EXPECT_NEAR(entry.score, best[label], 1e-5);
    EXPECT_NEAR(entry.distance, std::sqrt(2 - 2 * best[label]), 1e-3);
    // template_row names the set's row (not the search's regrouped one) that scored.
    ASSERT_GE(entry.template_row, 0);
    EXPECT_EQ(set.template_labels()[entry.template_row], label);
    EXPECT_NEAR(dots.at<float>(entry.template_row), best[label], 1e-6);
  }
}

TEST(TemplateSearch, HnswFindsTheBestLabelOfASmallSet) {
  // On 300 templates the approximate index finds every query's best label.
  const ReferenceSet set = random_references();
  const cv::Mat queries = random_unit_rows(20, 16, 4);
  const auto exact =
      TemplateSearch::create(set, Metric::kCosine, SearchIndex::kExact)->best_labels(queries, 1);
  const auto hnsw =
      TemplateSearch::create(set, Metric::kCosine, SearchIndex::kFaissHnsw)->best_labels(queries, 1);
  for (std::size_t q = 0; q < exact.size(); ++q) {
    ASSERT_EQ(hnsw[q].size(), 1u);
    EXPECT_EQ(hnsw[q][0].label, exact[q][0].label);
    EXPECT_NEAR(hnsw[q][0].score, exact[q][0].score, 1e-5);
  }
}

TEST(TemplateSearch, HnswSearchListCanBeRetunedOnlyOnHnsw) {
  // bench-gallery sweeps the search list over one graph: a list as long as
  // the set still finds every best label; other searches and lists under 1
  // are refused.
  const ReferenceSet set = random_references();
  const cv::Mat queries = random_unit_rows(20, 16, 4);
  const auto exact = TemplateSearch::create(set, Metric::kCosine, SearchIndex::kExact);
  const auto flat = TemplateSearch::create(set, Metric::kCosine, SearchIndex::kFaissFlat);
  const auto hnsw = TemplateSearch::create(set, Metric::kCosine, SearchIndex::kFaissHnsw);
  EXPECT_THROW(set_hnsw_search_candidates(*exact, 64), std::invalid_argument);
  EXPECT_THROW(set_hnsw_search_candidates(*flat, 64), std::invalid_argument);
  EXPECT_THROW(set_hnsw_search_candidates(*hnsw, 0), std::invalid_argument);
  set_hnsw_search_candidates(*hnsw, 300);
  const auto expected = exact->best_labels(queries, 1);
  const auto found = hnsw->best_labels(queries, 1);
  for (std::size_t q = 0; q < expected.size(); ++q) {
    ASSERT_EQ(found[q].size(), 1u);
    EXPECT_EQ(found[q][0].label, expected[q][0].label);
  }
}

TEST(TemplateSearch, ManyTemplatesPerLabelStillGiveDistinctLabels) {
  // 50 templates of "a" closest to the query, then "b": FAISS must look past a's hits.
  ReferenceSet set;
  for (int i = 0; i < 50; ++i) set.add("a", cv::Mat(cv::Matx13f(1.f, 0.001f * i, 0.f)));
  set.add("b", cv::Mat(cv::Matx13f(0.f, 1.f, 0.f)));
  const cv::Mat query(cv::Matx13f(1.f, 0.f, 0.f));
  for (const SearchIndex index : {SearchIndex::kExact, SearchIndex::kFaissFlat}) {
    const auto ranked = TemplateSearch::create(set, Metric::kCosine, index)->best_labels(query, 3).front();
    ASSERT_EQ(ranked.size(), 2u) << to_string(index);
    EXPECT_EQ(ranked[0].label, "a");
    EXPECT_EQ(ranked[1].label, "b");
  }
}

TEST(TemplateSearch, RefusedCombinations) {
  // Empty sets, and the learned metric with a FAISS index, are settings errors.
  ReferenceSet set;
  EXPECT_EQ(thrown_kind([&] { TemplateSearch::create(set, Metric::kCosine, SearchIndex::kExact); },
                        "empty"),
            ErrorKind::kSettings);
  set.add("a", cv::Mat(cv::Matx13f(1, 0, 0)));
  PairHead head;
  head.layers.push_back({3, 1, {1, 1, 1}, {0.f}});
  EXPECT_EQ(thrown_kind([&] {
              TemplateSearch::create(set, Metric::kLearned, SearchIndex::kFaissHnsw, head);
            }, "faiss-hnsw"),
            ErrorKind::kSettings);
}

TEST(TemplateSearch, IndexNames) {
  // Names round-trip; an unknown one is refused naming it.
  for (const SearchIndex index : {SearchIndex::kExact, SearchIndex::kFaissFlat, SearchIndex::kFaissHnsw})
    EXPECT_EQ(search_index_from_string(to_string(index)), index);
  EXPECT_THROW(search_index_from_string("annoy"), std::invalid_argument);
}

// Query (1, 0, 0).  a: one template on the query and one far off, so its
// best template scores 1 and its prototype (0.707, 0, 0.707) 0.707.  b: two
// templates either side of the query at cosine 0.9, whose prototype is the
// query itself.  The best image picks a, the prototype b.
ReferenceSet rules_disagree_references() {
  ReferenceSet set;
  set.add("a", cv::Mat(cv::Matx13f(1, 0, 0)));
  set.add("a", cv::Mat(cv::Matx13f(0, 0, 1)));
  const float side = std::sqrt(1.f - 0.81f);
  set.add("b", cv::Mat(cv::Matx13f(0.9f, side, 0)));
  set.add("b", cv::Mat(cv::Matx13f(0.9f, -side, 0)));
  return set;
}

TEST(ReferenceSet, PrototypesAreNormalisedMeansOfNormalisedTemplates) {
  // One row per label, unit length, each template weighing the same whatever
  // its own length; templates that cancel out leave a zero prototype.
  ReferenceSet set;
  set.add("a", cv::Mat(cv::Matx13f(2, 0, 0)));  // not normalised: counts as (1, 0, 0)
  set.add("a", cv::Mat(cv::Matx13f(0, 1, 0)));
  set.add("b", cv::Mat(cv::Matx13f(0, 0, 1)));
  set.add("z", cv::Mat(cv::Matx13f(1, 0, 0)));
  set.add("z", cv::Mat(cv::Matx13f(-1, 0, 0)));
  const ReferenceSet prototypes = set.prototypes();
  ASSERT_EQ(prototypes.labels(), set.labels());
  ASSERT_EQ(prototypes.embeddings().rows, 3);
  const float half = static_cast<float>(std::sqrt(0.5));
  EXPECT_LT(cv::norm(prototypes.embeddings().row(0), cv::Mat(cv::Matx13f(half, half, 0))), 1e-6);
  EXPECT_LT(cv::norm(prototypes.embeddings().row(1), cv::Mat(cv::Matx13f(0, 0, 1))), 1e-6);
  EXPECT_EQ(cv::norm(prototypes.embeddings().row(2)), 0.0);
  EXPECT_EQ(prototypes.template_labels(), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(prototypes.sources()[0].path, "prototype of 2 templates");
}

TEST(TemplateSearch, BestImageAndPrototypeDisagree) {
  // The same set ranks a first by its best image and b first by its
  // prototype, with every index; the distance is to what was scored.
  const ReferenceSet set = rules_disagree_references();
  const cv::Mat query(cv::Matx13f(1, 0, 0));
  for (const SearchIndex index :
       {SearchIndex::kExact, SearchIndex::kFaissFlat, SearchIndex::kFaissHnsw}) {
    SCOPED_TRACE(to_string(index));
    const RankedLabels best =
        TemplateSearch::create(set, Metric::kCosine, index, {}, Aggregate::kBest)
            ->best_labels(query, 2)
            .front();
    ASSERT_EQ(best.size(), 2u);
    EXPECT_EQ(best[0].label, "a");
    EXPECT_NEAR(best[0].score, 1.0, 1e-6);
    EXPECT_NEAR(best[1].score, 0.9, 1e-6);
    const auto search = TemplateSearch::create(set, Metric::kCosine, index, {},
                                               Aggregate::kPrototype);
    EXPECT_EQ(search->references().embeddings().rows, 2);  // one prototype per label
    const RankedLabels prototype = search->best_labels(query, 2).front();
    ASSERT_EQ(prototype.size(), 2u);
    EXPECT_EQ(prototype[0].label, "b");
    EXPECT_NEAR(prototype[0].score, 1.0, 1e-6);
    EXPECT_NEAR(prototype[0].distance, 0.0, 1e-3);
    EXPECT_EQ(prototype[1].label, "a");
    EXPECT_NEAR(prototype[1].score, std::sqrt(0.5), 1e-6);
  }
  // The euclidean metric ranks by the distance to the prototype alike.
  const RankedLabels euclidean =
      TemplateSearch::create(set, Metric::kEuclidean, SearchIndex::kExact, {},
                             Aggregate::kPrototype)
          ->best_labels(query, 1)
          .front();
  EXPECT_EQ(euclidean.front().label, "b");
}

TEST(Matcher, AggregateIsFixedWhenBuilt) {
  // A Matcher decides by the rule it was built with, even when a call's
  // decision settings name the other; an enrolment (a new Matcher on the
  // edited set) moves the prototype.
  ReferenceSet set = rules_disagree_references();
  MatcherSettings settings{Metric::kCosine, 0.95, 2};
  settings.aggregate = Aggregate::kPrototype;
  const cv::Mat query(cv::Matx13f(1, 0, 0));
  MatcherSettings per_call = settings;
  per_call.aggregate = Aggregate::kBest;
  const MatchResult decided = Matcher(set, settings, {}).match(query, per_call).front();
  EXPECT_TRUE(decided.matched);
  EXPECT_EQ(decided.label, "b");
  settings.aggregate = Aggregate::kBest;
  EXPECT_EQ(Matcher(set, settings, {}).match(query).front().label, "a");

  settings.aggregate = Aggregate::kPrototype;
  set.add("b", cv::Mat(cv::Matx13f(0, 1, 0)));  // b's prototype turns away from the query
  const MatchResult after = Matcher(set, settings, {}).match(query).front();
  EXPECT_EQ(after.best_label, "b");
  EXPECT_LT(after.score, 0.95);
  EXPECT_FALSE(after.matched);
}

TEST(TemplateSearch, AggregateNames) {
  // Names round-trip; an unknown one is refused naming it.
  for (const Aggregate aggregate : {Aggregate::kBest, Aggregate::kPrototype})
    EXPECT_EQ(aggregate_from_string(to_string(aggregate)), aggregate);
  EXPECT_THROW(aggregate_from_string("mean"), std::invalid_argument);
}

TEST(Matcher, DecisionSettingsApplyPerCall) {
  // One Matcher, two thresholds and top-ks: the decision follows the call's settings.
  ReferenceSet set;
  set.add("a", cv::Mat(cv::Matx13f(1, 0, 0)));
  set.add("b", cv::Mat(cv::Matx13f(0, 1, 0)));
  const Matcher matcher(set, {Metric::kCosine, 0.5, 1}, {});
  const cv::Mat query(cv::Matx13f(0.8f, 0.6f, 0.f));
  EXPECT_TRUE(matcher.match(query).front().matched);
  const MatchResult strict = matcher.match(query, {Metric::kCosine, 0.9, 2}).front();
  EXPECT_FALSE(strict.matched);
  EXPECT_DOUBLE_EQ(strict.threshold, 0.9);
  EXPECT_EQ(strict.top.size(), 2u);
}

}  // namespace
}  // namespace siamese
