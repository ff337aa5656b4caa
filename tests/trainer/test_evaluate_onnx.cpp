// SPDX-License-Identifier: LGPL-2.1-or-later
// Evaluation of an ONNX model through OpenCV DNN (siamese::Embedder) on
// colour images, and its errors.
#include <gtest/gtest.h>

#include "embedder.h"
#include "evaluate_onnx.h"
#include "thrown_kind.h"

namespace siamese::trainer {
namespace {

// Solid-colour 8x8 images in 5 classes (one hue each, a little noise),
// built as OpenCV BGR images.
ImageSet colour_classes(int per_class, uint64_t seed) {
  const std::vector<cv::Scalar> bgr{
      {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {0, 255, 255}, {255, 0, 255}};
  ImageSet set;
  set.channels = 3;
  set.height = set.width = 8;
  cv::RNG rng(seed);
  for (int label = 0; label < static_cast<int>(bgr.size()); ++label) {
    set.class_names.push_back("hue " + std::to_string(label));
    for (int i = 0; i < per_class; ++i) {
      cv::Mat noise(8, 8, CV_8UC3);
      rng.fill(noise, cv::RNG::UNIFORM, 0, 30);
      set.append(cv::Mat(8, 8, CV_8UC3, bgr[label]) * 0.8 + noise, label);
    }
  }
  return set;
}

// 2 held-out hues, 2-way episodes, few pairs: enough for 5 hues.
EvaluationOptions small_protocol() {
  EvaluationOptions options;
  options.holdout_classes = {3, 4};
  options.ways = 2;
  options.episodes = 40;
  options.verification_pairs = 60;
  return options;
}

EvaluationReport evaluate_hues(const std::string &model) {
  return evaluate_onnx(model, colour_classes(12, 1), colour_classes(10, 2), small_protocol(), 5);
}

TEST(EvaluateOnnx, MeanColourModelSeparatesHues) {
  // The mean-colour fixture model tells hues apart: perfect figures through
  // OpenCV DNN; it has no pair head, so no head figures.
  const EvaluationReport report = evaluate_hues(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  EXPECT_DOUBLE_EQ(report.metrics.precision_at_1, 1.0);
  EXPECT_DOUBLE_EQ(report.metrics.seen_verification.roc_auc, 1.0);
  ASSERT_EQ(report.metrics.few_shot.size(), 2u);
  EXPECT_DOUBLE_EQ(report.metrics.few_shot[0].result.accuracy, 1.0);
  EXPECT_NE(report.model.find("mean_colour.onnx"), std::string::npos);
  EXPECT_FALSE(report.metrics.seen_head_verification.has_value());
}

TEST(EvaluateOnnx, PairHeadScoresThePairs) {
  // The head fixture's probability falls with |h1 - h2|: it verifies hue
  // pairs perfectly; raw pixels never get head figures.
  const EvaluationReport report = evaluate_hues(SIAMESE_FIXTURE_MEAN_COLOUR_HEAD_ONNX);
  ASSERT_TRUE(report.metrics.seen_head_verification.has_value());
  ASSERT_TRUE(report.metrics.held_out_head_verification.has_value());
  EXPECT_DOUBLE_EQ(report.metrics.seen_head_verification->roc_auc, 1.0);
  EXPECT_DOUBLE_EQ(report.metrics.held_out_head_verification->eer, 0.0);
  EXPECT_FALSE(report.raw_pixels.seen_head_verification.has_value());
  EXPECT_NE(format_table(report).find("ROC AUC, seen pairs, head"), std::string::npos);
  EXPECT_NE(to_json(report).find("\"seen_head_verification\": {\"roc_auc\": 1.0000"),
            std::string::npos);
}

TEST(EvaluateOnnx, FrameSizeShowsImagesAsFramesTheEmbedderShrinks) {
  // A frame of the image's own size is the image; a larger one is enlarged
  // and shrunk back by the embedder, which keeps a mean colour to within a
  // grey level or two but not bit for bit; a negative size is refused.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const ImageSet set = colour_classes(2, 3);
  const cv::Mat as_is = embed_set(embedder, set, 4);
  EXPECT_EQ(cv::norm(embed_set(embedder, set, 4, set.width), as_is, cv::NORM_INF), 0.0);
  const cv::Mat framed = embed_set(embedder, set, 4, 64);
  ASSERT_EQ(framed.size(), as_is.size());
  EXPECT_LT(cv::norm(framed, as_is, cv::NORM_INF), 0.02);
  EXPECT_EQ(thrown_kind([&] { embed_set(embedder, set, 4, -1); }, "frame size"),
            ErrorKind::kSettings);

  // The open set's images are embedded at their frame size, every group.
  OpenSetImages images;
  images.enrolled = set;
  images.non_mated.emplace_back("others", colour_classes(1, 4));
  images.frame_size = 64;
  const OpenSetData data = embed_open_set(embedder, images, 4);
  EXPECT_EQ(cv::norm(data.enrolled, framed, cv::NORM_INF), 0.0);
  EXPECT_EQ(data.enrolled_labels, set.labels);
  ASSERT_EQ(data.non_mated.size(), 1u);
  EXPECT_EQ(cv::norm(data.non_mated[0].embeddings,
                     embed_set(embedder, images.non_mated[0].second, 4, 64), cv::NORM_INF),
            0.0);
}

TEST(EvaluateOnnx, ReportsModelErrors) {
  // A missing model is NotFound; a non-positive batch size is refused.
  const ImageSet set = colour_classes(3, 1);
  EXPECT_EQ(thrown_kind([&] { evaluate_onnx("/nonexistent/model.onnx", set, set, {}); },
                        "/nonexistent/model.onnx"),
            ErrorKind::kNotFound);
  EXPECT_EQ(thrown_kind([&] { evaluate_onnx(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, set, set, {}, 0); },
                        "batch size"),
            ErrorKind::kSettings);
}

}  // namespace
}  // namespace siamese::trainer
