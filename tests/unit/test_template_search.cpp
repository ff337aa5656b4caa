// SPDX-License-Identifier: LGPL-2.1-or-later
// SEARCH: the exact brute force and FAISS's flat index rank the same labels
// with the same scores; HNSW finds the best label of a small set (also with
// its search list retuned); wrong combinations are refused.  And DECIDE takes
// new settings per call.
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
