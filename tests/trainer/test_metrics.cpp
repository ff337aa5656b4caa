// SPDX-License-Identifier: LGPL-2.1-or-later
// Metrics against hand-computed cases: ROC AUC, EER, Precision@1, few-shot,
// the raw-pixel baseline, and the evaluation protocol on separable data.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "evaluate_onnx.h"
#include "metrics.h"
#include "thrown_kind.h"

namespace siamese::trainer {
namespace {

cv::Mat unit_rows(cv::Mat rows) {
  for (int i = 0; i < rows.rows; ++i) cv::normalize(rows.row(i), rows.row(i));
  return rows;
}

TEST(Verification, HandComputedCases) {
  // Perfect: every positive above every negative, EER 0 at the lowest positive.
  // Inverted: every negative above every positive.  Mixture: positives 0.9,
  // 0.4, negatives 0.6, 0.1: 3 of 4 orderings right, and at threshold 0.6 one
  // of each kind is wrong.
  struct Case {
    std::vector<float> scores;
    std::vector<int> same;
    double auc, eer;
    float threshold;
  };
  const std::vector<Case> cases{{{0.9f, 0.1f, 0.8f, 0.2f}, {1, 0, 1, 0}, 1.0, 0.0, 0.8f},
                                {{0.1f, 0.9f, 0.2f, 0.8f}, {1, 0, 1, 0}, 0.0, 1.0, 0.8f},
                                {{0.9f, 0.4f, 0.6f, 0.1f}, {1, 1, 0, 0}, 0.75, 0.5, 0.6f}};
  for (const Case &c : cases) {
    const Verification v = verification(c.scores, c.same);
    EXPECT_DOUBLE_EQ(v.roc_auc, c.auc);
    EXPECT_DOUBLE_EQ(v.eer, c.eer);
    EXPECT_FLOAT_EQ(v.threshold, c.threshold);
  }
}

TEST(Verification, TiesCountHalf) {
  // All scores equal: AUC exactly 1/2.
  EXPECT_DOUBLE_EQ(verification({0.3f, 0.3f, 0.3f}, {1, 0, 0}).roc_auc, 0.5);
}

TEST(Verification, RocCurveBoundsTheAuc) {
  // The mixture case: thresholds 0.9, 0.6, 0.4, 0.1 give the points
  // (0, 1/2), (1/2, 1/2), (1/2, 1), (1, 1), and the area under them
  // (trapezoids) is the AUC; with ties, the diagonal step counts one half.
  const Verification v = verification({0.9f, 0.4f, 0.6f, 0.1f}, {1, 1, 0, 0});
  const std::vector<std::pair<double, double>> expected{{0, 0.5}, {0.5, 0.5}, {0.5, 1}, {1, 1}};
  ASSERT_EQ(v.roc.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_DOUBLE_EQ(v.roc[i].false_accept, expected[i].first) << i;
    EXPECT_DOUBLE_EQ(v.roc[i].true_accept, expected[i].second) << i;
  }
  for (const Verification &w : {v, verification({0.3f, 0.3f, 0.3f}, {1, 0, 0})}) {
    double area = 0.0, x = 0.0, y = 0.0;
    for (const Verification::RocPoint &p : w.roc) {
      area += (p.false_accept - x) * (p.true_accept + y) / 2.0;
      x = p.false_accept;
      y = p.true_accept;
    }
    EXPECT_DOUBLE_EQ(area, w.roc_auc);
  }
}

TEST(Verification, RandomScoresAreChance) {
  // Scores independent of the labels: AUC and EER near 1/2.
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<float> score(0.f, 1.f);
  std::vector<float> scores;
  std::vector<int> same;
  for (int i = 0; i < 20000; ++i) {
    scores.push_back(score(rng));
    same.push_back(i % 2);
  }
  const Verification v = verification(scores, same);
  EXPECT_NEAR(v.roc_auc, 0.5, 0.02);
  EXPECT_NEAR(v.eer, 0.5, 0.02);
}

TEST(Verification, RejectsOneSidedOrMismatchedInput) {
  // Both kinds of pair are needed, one label per score.
  EXPECT_EQ(thrown_kind(
                [] {
                  verification({0.1f, 0.2f}, {1, 1});
                },
                "both positive and negative"),
            ErrorKind::kSettings);
  EXPECT_EQ(thrown_kind(
                [] {
                  verification({0.1f}, {1, 0});
                },
                "1 scores, 2 labels"),
            ErrorKind::kSettings);
}

TEST(Verification, PairCosineScores) {
  // Cosine of unit rows is their dot product; verify_pairs scores the pairs.
  const cv::Mat e = unit_rows((cv::Mat_<float>(3, 2) << 1, 0, 1, 1, 0, 1));
  const std::vector<Pair> pairs{{0, 1, 1}, {0, 2, 0}, {1, 2, 1}};
  const std::vector<float> scores = pair_cosine_scores(e, pairs);
  EXPECT_NEAR(scores[0], std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(scores[1], 0.0, 1e-6);
  EXPECT_DOUBLE_EQ(verify_pairs(e, pairs).roc_auc, 1.0);
}

TEST(PrecisionAt1, HandComputed) {
  // Query (1, .1) is nearest the label-0 reference (right); (.1, 1) is
  // nearest the label-1 reference but labelled 0 (wrong).
  const cv::Mat references = (cv::Mat_<float>(2, 2) << 1, 0, 0, 1);
  const cv::Mat queries = unit_rows((cv::Mat_<float>(2, 2) << 1, 0.1f, 0.1f, 1));
  EXPECT_DOUBLE_EQ(precision_at_1(queries, {0, 0}, references, {0, 1}), 0.5);
}

TEST(PrecisionAt1, SpansSeveralBlocks) {
  // 1,300 queries that are copies of references: all right, across blocks.
  cv::Mat references(1300, 16, CV_32F);
  cv::randn(references, 0, 1);
  references = unit_rows(references);
  std::vector<int> labels;
  for (int i = 0; i < references.rows; ++i) labels.push_back(i);
  EXPECT_DOUBLE_EQ(precision_at_1(references, labels, references, labels), 1.0);
  EXPECT_EQ(
      thrown_kind([&] { precision_at_1(references, labels, references.colRange(0, 8), labels); },
                  "differ in dimension (16 vs 8)"),
      ErrorKind::kSettings);
}

// `classes` tight clusters of `per_class` points around orthogonal axes.
struct Clusters {
  cv::Mat embeddings;
  std::vector<int> labels;
};

Clusters clusters(int classes, int per_class, float noise) {
  Clusters c;
  cv::RNG rng(1);
  c.embeddings = cv::Mat::zeros(classes * per_class, classes, CV_32F);
  for (int label = 0; label < classes; ++label) {
    for (int i = 0; i < per_class; ++i) {
      cv::Mat row = c.embeddings.row(label * per_class + i);
      rng.fill(row, cv::RNG::NORMAL, 0, noise);
      row.at<float>(label) += 1.f;
      c.labels.push_back(label);
    }
  }
  c.embeddings = unit_rows(c.embeddings);
  return c;
}

TEST(FewShot, SeparableClustersArePerfect) {
  // Tight clusters: every query finds its class's prototype.
  const Clusters c = clusters(5, 12, 0.05f);
  for (int shots : {1, 5}) {
    const FewShotResult result = few_shot_accuracy(c.embeddings, c.labels, {3, shots, 5, 300, 4});
    EXPECT_DOUBLE_EQ(result.accuracy, 1.0);
    EXPECT_DOUBLE_EQ(result.ci95, 0.0);
  }
}

TEST(FewShot, ShuffledLabelsAreChance) {
  // Labels unrelated to the embeddings: accuracy near 1/ways.
  Clusters c = clusters(5, 40, 0.05f);
  std::shuffle(c.labels.begin(), c.labels.end(), std::mt19937_64(3));
  const FewShotResult result = few_shot_accuracy(c.embeddings, c.labels, {4, 1, 5, 2000, 4});
  EXPECT_NEAR(result.accuracy, 0.25, 0.03);
  EXPECT_GT(result.ci95, 0.0);
}

TEST(FewShot, BestImageAndPrototypeRulesDiffer) {
  // 2-way 2-shot, one query per class, three images per class (each episode
  // uses them all).  Class 0: u, u, w (orthogonal); class 1: three copies of
  // p = (2u + w) / sqrt(5), which lies between.  Class 1's query always
  // meets its own p (score 1) and is right under both rules.  Class 0's
  // query u (2 episodes in 3) has support {u, w}: its best image scores 1,
  // right; its prototype (u + w) / sqrt(2) scores 0.707 against p's 0.894,
  // wrong.  Its query w has support {u, u}: wrong under both.  So prototype
  // accuracy is exactly 1/2, best image about 5/6.
  const cv::Mat u(cv::Matx13f(1, 0, 0)), w(cv::Matx13f(0, 0, 1));
  const cv::Mat p = cv::Mat(cv::Matx13f(2, 0, 1)) / std::sqrt(5.f);
  cv::Mat embeddings;
  for (const cv::Mat &row : {u, u, w, p, p, p}) embeddings.push_back(row);
  const std::vector<int> labels{0, 0, 0, 1, 1, 1};
  FewShotOptions options{2, 2, 1, 600, 5};
  options.aggregate = Aggregate::kPrototype;
  EXPECT_DOUBLE_EQ(few_shot_accuracy(embeddings, labels, options).accuracy, 0.5);
  options.aggregate = Aggregate::kBest;
  EXPECT_NEAR(few_shot_accuracy(embeddings, labels, options).accuracy, 5.0 / 6.0, 0.03);
}

TEST(FewShot, DeterministicAndChecked) {
  // Same seed, same figure; too few classes or images is an error.
  const Clusters c = clusters(4, 8, 0.8f);
  EXPECT_EQ(few_shot_accuracy(c.embeddings, c.labels, {3, 1, 5, 100, 9}).accuracy,
            few_shot_accuracy(c.embeddings, c.labels, {3, 1, 5, 100, 9}).accuracy);
  EXPECT_EQ(thrown_kind(
                [&] {
                  few_shot_accuracy(c.embeddings, c.labels, {5, 1, 5, 10, 0});
                },
                "need 5 classes"),
            ErrorKind::kSettings);
  EXPECT_EQ(thrown_kind(
                [&] {
                  few_shot_accuracy(c.embeddings, c.labels, {3, 5, 5, 10, 0});
                },
                "0 have that many"),
            ErrorKind::kSettings);
}

// Images of `classes` classes: class c is a bright square at a position of its own.
ImageSet square_images(int classes, int per_class) {
  ImageSet set;
  set.height = set.width = 12;
  cv::RNG rng(7);
  for (int label = 0; label < classes; ++label) {
    set.class_names.push_back("square " + std::to_string(label));
    for (int i = 0; i < per_class; ++i) {
      cv::Mat image(12, 12, CV_8UC1);
      rng.fill(image, cv::RNG::UNIFORM, 0, 40);
      image(cv::Rect(2 * label, 2 * label, 4, 4)) += 200;
      set.append(image, label);
    }
  }
  return set;
}

TEST(RawPixels, MeanRemovedUnitRows) {
  // Each row sums to 0 and has norm 1; a constant image stays the zero row.
  ImageSet set = square_images(2, 3);
  set.append(cv::Mat(12, 12, CV_8UC1, cv::Scalar(77)), 0);
  const cv::Mat e = raw_pixel_embeddings(set);
  ASSERT_EQ(e.rows, 7);
  ASSERT_EQ(e.cols, 144);
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(cv::sum(e.row(i))[0], 0.0, 1e-4);
    EXPECT_NEAR(cv::norm(e.row(i)), 1.0, 1e-5);
  }
  EXPECT_EQ(cv::norm(e.row(6)), 0.0);
}

TEST(Evaluation, ProtocolOnSeparableImages) {
  // Raw pixels separate the squares: every figure is perfect, held-out
  // classes give few-shot episodes, the reports carry the figures.
  const ImageSet train = square_images(5, 10);
  const ImageSet test = square_images(5, 10);
  EvaluationOptions options;
  options.holdout_classes = {1, 3};
  options.ways = 2;
  options.episodes = 50;
  options.verification_pairs = 100;
  const EvaluationReport report = evaluate(raw_pixel_embeddings, "squares", train, test, options);
  EXPECT_EQ(report.references, 30u);
  EXPECT_EQ(report.queries, 30u);
  EXPECT_EQ(report.held_out, 20u);
  EXPECT_DOUBLE_EQ(report.metrics.precision_at_1, 1.0);
  EXPECT_DOUBLE_EQ(report.metrics.seen_verification.roc_auc, 1.0);
  ASSERT_TRUE(report.metrics.held_out_verification.has_value());
  ASSERT_EQ(report.metrics.few_shot.size(), 2u);
  EXPECT_EQ(report.metrics.few_shot[1].shots, 5);
  EXPECT_DOUBLE_EQ(report.metrics.few_shot[1].result.accuracy, 1.0);
  EXPECT_NE(format_table(report).find("2-way 5-shot, held out"), std::string::npos);
  EXPECT_NE(to_json(report).find("\"precision_at_1\": 1.0000"), std::string::npos);
  EXPECT_EQ(to_json(report).front(), '{');
  // 9 images per held-out class allow 1-shot (6 needed) but not 5-shot (10).
  const EvaluationReport smaller =
      evaluate(raw_pixel_embeddings, "squares", train, square_images(5, 9), options);
  ASSERT_EQ(smaller.metrics.few_shot.size(), 1u);
  EXPECT_EQ(smaller.metrics.few_shot[0].shots, 1);
}

TEST(Evaluation, RejectsEmbeddingsOfTheWrongShape) {
  // An embedding function returning the wrong row count is a model error.
  const ImageSet set = square_images(3, 4);
  const EmbedFunction broken = [](const ImageSet &) {
    return cv::Mat(2, 4, CV_32F, cv::Scalar(0.5));
  };
  EvaluationOptions options;
  EXPECT_EQ(thrown_kind([&] { evaluate(broken, "broken", set, set, options); }, "for 12 images"),
            ErrorKind::kModel);
  options.holdout_classes = {0, 1, 2};
  EXPECT_EQ(thrown_kind([&] { evaluate(raw_pixel_embeddings, "all held out", set, set, options); },
                        "leaves none"),
            ErrorKind::kSettings);
}

}  // namespace
}  // namespace siamese::trainer
