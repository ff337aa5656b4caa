// SPDX-License-Identifier: LGPL-2.1-or-later
// The open-set identification protocol (DIR / FPIR over random galleries,
// decided by the element's Matcher), threshold calibration at a target rate,
// the curve, and the generated impostors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include <opencv2/imgcodecs.hpp>

#include "calibration.h"
#include "impostors.h"
#include "onnx_model.h"
#include "open_set.h"
#include "thrown_kind.h"

namespace siamese::trainer {
namespace {

constexpr int kDimension = 8;

// A unit row pointing mostly along `axis`, with a little of `noise_axis`
// (cosine to the pure axis = cos(angle)).
cv::Mat unit_row(int axis, int noise_axis, double angle) {
  cv::Mat row = cv::Mat::zeros(1, kDimension, CV_32F);
  row.at<float>(0, axis) = static_cast<float>(std::cos(angle));
  row.at<float>(0, noise_axis) += static_cast<float>(std::sin(angle));
  return row;
}

// Enrolled classes zero, one, two along axes 0, 1, 2, 12 images each, each
// up to `spread` rad towards axis 4, 5, 6 (drawn from `rng`).
OpenSetData three_classes_within(double spread, std::mt19937 &rng) {
  OpenSetData data;
  data.class_names = {"zero", "one", "two"};
  std::uniform_real_distribution<double> angle(0.0, spread);
  for (int label = 0; label < 3; ++label) {
    for (int i = 0; i < 12; ++i) {
      data.enrolled.push_back(unit_row(label, 4 + label, angle(rng)));
      data.enrolled_labels.push_back(label);
    }
  }
  return data;
}

// Three enrolled classes within 0.1 rad of their axes; non-mated "far"
// along axis 3 (cosine 0 to everything) and "near" probes at cosine 0.8 to
// class 0.
OpenSetData three_classes() {
  std::mt19937 rng(3);
  OpenSetData data = three_classes_within(0.1, rng);
  std::uniform_real_distribution<double> small(0.0, 0.1);
  ProbeGroup far{"far", {}}, near{"near", {}};
  for (int i = 0; i < 20; ++i) far.embeddings.push_back(unit_row(3, 7, small(rng)));
  for (int i = 0; i < 10; ++i) near.embeddings.push_back(unit_row(0, 7, std::acos(0.8)));
  data.non_mated = {far, near};
  return data;
}

Decision cosine_at(double threshold) {
  Decision decision;
  decision.name = "cosine " + std::to_string(threshold);
  decision.settings.metric = Metric::kCosine;
  decision.settings.threshold = threshold;
  return decision;
}

OpenSetOptions small_options() {
  OpenSetOptions options;
  options.gallery_size = 3;
  options.draws = 4;
  options.target_fpirs = {0.1};
  return options;
}

TEST(OpenSet, CountsMatedAndNonMatedDecisions) {
  // At cosine 0.5 every mated probe gets its label, the far probes none and
  // the near ones (cosine 0.8 to class zero) all; at 0.9 the near ones are
  // rejected too; the first point is the decision's own settings.
  const OpenSetData data = three_classes();
  const OpenSetReport report =
      evaluate_open_set(data, {cosine_at(0.5), cosine_at(0.9)}, ModelContract{}, small_options());
  EXPECT_EQ(report.gallery, 9u);
  EXPECT_EQ(report.mated, 27u);
  ASSERT_EQ(report.decisions.size(), 2u);
  const OperatingPoint &loose = report.decisions[0].points.front();
  EXPECT_DOUBLE_EQ(loose.threshold.mean, 0.5);
  EXPECT_DOUBLE_EQ(loose.dir.mean, 1.0);
  EXPECT_DOUBLE_EQ(loose.dir.spread, 0.0);
  EXPECT_DOUBLE_EQ(loose.wrong_label.mean, 0.0);
  ASSERT_EQ(loose.accepted.size(), 2u);
  EXPECT_DOUBLE_EQ(loose.accepted[0].mean, 0.0);
  EXPECT_DOUBLE_EQ(loose.accepted[1].mean, 1.0);
  const OperatingPoint &strict = report.decisions[1].points.front();
  EXPECT_DOUBLE_EQ(strict.dir.mean, 1.0);
  EXPECT_DOUBLE_EQ(strict.accepted[1].mean, 0.0);
  EXPECT_EQ(report.decisions[0].swept, "cosine");
}

TEST(OpenSet, OperatingPointHoldsTheTargetRateOnTheFirstGroup) {
  // The FPIR 10 % point takes at most 2 of the 20 far probes; they sit at
  // cosine ~0 to the gallery, so its threshold is near 0 and the mated
  // probes (cosine ~1) all pass.
  const OpenSetReport report =
      evaluate_open_set(three_classes(), {cosine_at(0.5)}, ModelContract{}, small_options());
  ASSERT_EQ(report.decisions[0].points.size(), 2u);
  const OperatingPoint &point = report.decisions[0].points[1];
  EXPECT_LE(point.accepted[0].mean, 0.1);
  EXPECT_LT(std::abs(point.threshold.mean), 0.2);
  EXPECT_DOUBLE_EQ(point.dir.mean, 1.0);
  // The curve rises to DIR 1 and its FPIR stays in [0, 1].
  const std::vector<CurvePoint> &curve = report.decisions[0].curves[0];
  ASSERT_FALSE(curve.empty());
  EXPECT_DOUBLE_EQ(curve.back().dir, 1.0);
  for (const CurvePoint &p : curve) {
    EXPECT_GE(p.fpir, 0.0);
    EXPECT_LE(p.fpir, 1.0);
  }
}

TEST(OpenSet, WrongLabelsAreNotDetections) {
  // Mated probes of class "one" moved onto class zero's axis are accepted
  // with the wrong label: DIR loses them, the wrong-label rate counts them.
  OpenSetData data = three_classes();
  for (int row = 0; row < data.enrolled.rows; ++row) {
    if (data.enrolled_labels[row] == 1) unit_row(0, 5, 0.01).copyTo(data.enrolled.row(row));
  }
  const OpenSetReport report =
      evaluate_open_set(data, {cosine_at(0.5)}, ModelContract{}, small_options());
  const OperatingPoint &point = report.decisions[0].points.front();
  // Class one's 9 mated probes tie between its own templates and class zero's.
  EXPECT_LT(point.dir.mean, 1.0);
  EXPECT_GT(point.wrong_label.mean, 0.0);
  EXPECT_NEAR(point.dir.mean + point.wrong_label.mean, 1.0, 1e-9);
}

TEST(OpenSet, ThresholdAtRate) {
  // At most the target share of scores pass (score >= threshold).
  const std::vector<double> scores{0.1, 0.9, 0.5, 0.7, 0.3, 0.2, 0.8, 0.4, 0.6, 0.0};
  const double one_in_ten = threshold_at_rate(scores, 0.1);
  EXPECT_GT(one_in_ten, 0.8);
  EXPECT_LE(one_in_ten, 0.9);
  EXPECT_GT(threshold_at_rate(scores, 0.0), 0.9);
  EXPECT_GT(threshold_at_rate(scores, 0.35), 0.6);
  EXPECT_LE(threshold_at_rate(scores, 0.35), 0.7);
  EXPECT_TRUE(std::isinf(threshold_at_rate(scores, 1.0)));
}

TEST(OpenSet, RejectsGalleriesThatLeaveNoProbe) {
  OpenSetOptions options = small_options();
  options.gallery_size = 12;
  EXPECT_EQ(thrown_kind([&] {
              evaluate_open_set(three_classes(), {cosine_at(0.5)}, ModelContract{}, options);
            }, "leaves no mated probe"),
            ErrorKind::kSettings);
  OpenSetData no_impostors = three_classes();
  no_impostors.non_mated.clear();
  EXPECT_EQ(thrown_kind([&] {
              evaluate_open_set(no_impostors, {cosine_at(0.5)}, ModelContract{}, small_options());
            }, "non-mated"),
            ErrorKind::kSettings);
}

TEST(OpenSet, WritesTheCurveAsPng) {
  const OpenSetReport report =
      evaluate_open_set(three_classes(), {cosine_at(0.5)}, ModelContract{}, small_options());
  const std::string path =
      (std::filesystem::temp_directory_path() / "siamese-open-set-curve.png").string();
  write_open_set_curve(report, path);
  const cv::Mat image = cv::imread(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(image.empty());
  EXPECT_GT(image.cols, 400);
  EXPECT_NE(format_open_set(report).find("FPIR 10 % on far"), std::string::npos);
  EXPECT_NE(open_set_json(report).find("\"dir\""), std::string::npos);
}

TEST(Calibration, HoldsTheTargetRateOnEveryGroup) {
  // At 10 % the near probes (cosine 0.8 to class zero, all alike) must be
  // rejected, so the raw threshold lands above 0.8 and below the mated
  // probes' ~0.99: every mated probe is still detected.
  double dir = 0.0;
  MatcherSettings settings;
  const CalibratedThreshold point =
      calibrate_at(three_classes(), settings, ModelContract{}, 0.1, small_options(), &dir);
  EXPECT_FALSE(point.normalised);
  EXPECT_DOUBLE_EQ(point.false_accept_rate, 0.1);
  EXPECT_GT(point.threshold, 0.79f);  // the near probes sit at cosine 0.8 (in floats, 0.79999)
  EXPECT_LT(point.threshold, 0.95f);
  EXPECT_DOUBLE_EQ(dir, 1.0);
  // The element's Matcher at that threshold accepts no near probe.
  Decision calibrated = cosine_at(point.threshold);
  const OpenSetReport report =
      evaluate_open_set(three_classes(), {calibrated}, ModelContract{}, small_options());
  EXPECT_DOUBLE_EQ(report.decisions[0].points[0].accepted[1].mean, 0.0);
  EXPECT_DOUBLE_EQ(report.decisions[0].points[0].dir.mean, 1.0);
}

TEST(Calibration, HoldsTheLaterGroupsToTheirCap) {
  // The near probes are the second group: at a rate of 0.5 they may pass
  // (the threshold falls to or below their 0.8) unless the later groups are
  // capped at 0.1, which keeps the threshold above them as at 10 %.
  MatcherSettings settings;
  const CalibratedThreshold loose =
      calibrate_at(three_classes(), settings, ModelContract{}, 0.5, small_options());
  EXPECT_LE(loose.threshold, 0.8f);
  const CalibratedThreshold capped =
      calibrate_at(three_classes(), settings, ModelContract{}, 0.5, small_options(), nullptr, 0.1);
  EXPECT_GT(capped.threshold, 0.79f);
  EXPECT_DOUBLE_EQ(capped.false_accept_rate, 0.5);
  // calibrate() applies its options' cap (1 % by default) to every point.
  CalibrationOptions options;
  options.open_set = small_options();
  options.rates = {0.5};
  options.margins = {0.0};
  const Calibration calibration = calibrate(three_classes(), ModelContract{}, options);
  ASSERT_EQ(calibration.points.size(), 1u);
  EXPECT_GT(calibration.points[0].threshold, 0.79f);
}

TEST(Calibration, BackgroundMarginWhereItHelps) {
  // Look-alikes 0.1 rad from class zero's axis, towards axis 7, score about
  // as high as class zero's own probes (spread 0.3 rad towards axis 4), so a
  // raw threshold that stops them stops some of class zero too.  A model
  // background on the look-alikes' direction stops them alone: calibrate
  // takes a background margin, and every mated probe is detected.
  std::mt19937 rng(5);
  OpenSetData data = three_classes_within(0.3, rng);
  ProbeGroup look_alikes{"look-alikes", {}};
  for (int i = 0; i < 20; ++i) look_alikes.embeddings.push_back(unit_row(0, 7, 0.1));
  data.non_mated = {look_alikes};
  ModelContract model;
  const cv::Mat background = unit_row(0, 7, 0.1);
  model.background.count = 1;
  model.background.embeddings.assign(background.ptr<float>(), background.ptr<float>() + kDimension);
  const CalibrationOptions options;
  MatcherSettings settings;
  double without_rule = 0.0, with_rule = 0.0;
  const CalibratedThreshold plain =
      calibrate_at(data, settings, model, 0.01, small_options(), &without_rule);
  const CalibratedThreshold point = calibrate_at(data, settings, model, 0.01, small_options(),
                                                 &with_rule, 1.0, options.background_margins);
  EXPECT_FALSE(plain.background_margin);
  ASSERT_TRUE(point.background_margin);
  EXPECT_DOUBLE_EQ(with_rule, 1.0);
  EXPECT_LT(without_rule, 0.95);
  // The element's Matcher with that point's rule accepts no look-alike.
  Decision decision = cosine_at(point.threshold);
  decision.settings.background_margin = *point.background_margin;
  const OpenSetReport report = evaluate_open_set(data, {decision}, model, small_options());
  EXPECT_DOUBLE_EQ(report.decisions[0].points[0].accepted[0].mean, 0.0);
  EXPECT_NEAR(report.decisions[0].points[0].dir.mean, with_rule, 1e-9);
  // calibrate() records each point's margin and recommends the selection rate's.
  CalibrationOptions one_rate;
  one_rate.open_set = small_options();
  one_rate.rates = {0.01};
  one_rate.margins = {0.0};
  const Calibration calibration = calibrate(data, model, one_rate);
  EXPECT_EQ(calibration.recommended.background_margin, point.background_margin);
  ASSERT_EQ(calibration.points.size(), 1u);
  EXPECT_EQ(calibration.points[0], point);
}

TEST(Calibration, TriesBothCohortSides) {
  // With a cohort, every cohort size is tried normalised on both sides and on
  // the frame's alone; the recommendation names the sides of the best.
  ModelContract model;
  model.cohort.count = 2;
  const cv::Mat far_axis = unit_row(3, 7, 0.0), other_axis = unit_row(6, 7, 0.0);
  model.cohort.embeddings.assign(far_axis.ptr<float>(), far_axis.ptr<float>() + kDimension);
  model.cohort.embeddings.insert(model.cohort.embeddings.end(), other_axis.ptr<float>(),
                                 other_axis.ptr<float>() + kDimension);
  CalibrationOptions options;
  options.open_set = small_options();
  options.rates = {0.1};
  options.margins = {0.0};
  options.cohort_tops = {1, 2};
  const Calibration calibration = calibrate(three_classes(), model, options);
  ASSERT_EQ(calibration.candidates.size(), 5u);  // raw, then 2 sizes x 2 sides
  int query_side = 0;
  for (const CandidateFigures &c : calibration.candidates)
    query_side += c.normalise && c.cohort_sides == CohortSides::kQuery;
  EXPECT_EQ(query_side, 2);
  ASSERT_TRUE(calibration.recommended.cohort_sides.has_value());
  EXPECT_NE(format_calibration(calibration).find("query-normalised, cohort top 2"),
            std::string::npos);
}

TEST(Calibration, CohortAndPointsTravelInTheModel) {
  // rewrite_onnx_metadata() puts a cohort and calibrated points into an
  // existing model; the contract read back carries them, the graph still loads.
  ModelContract contract =
      ModelContract::from_metadata(read_onnx_metadata(SIAMESE_FIXTURE_GREY_ONNX));
  const int dim = contract.embedding_dim;
  ASSERT_GT(dim, 0);
  contract.cohort.count = 2;
  contract.cohort.embeddings.assign(2 * dim, 0.f);
  contract.cohort.embeddings[0] = 1.f;
  contract.cohort.embeddings[dim + (dim > 1 ? 1 : 0)] = 1.f;
  CalibratedThreshold point;
  point.false_accept_rate = 0.01;
  point.threshold = 0.7f;
  contract.calibrated = {point};
  const std::string path =
      (std::filesystem::temp_directory_path() / "siamese-calibrated.onnx").string();
  rewrite_onnx_metadata(SIAMESE_FIXTURE_GREY_ONNX, path, contract.to_metadata());
  const ModelContract back = ModelContract::from_metadata(read_onnx_metadata(path));
  std::filesystem::remove(path);
  EXPECT_EQ(back.cohort.count, 2);
  EXPECT_EQ(back.cohort.embeddings, contract.cohort.embeddings);
  ASSERT_EQ(back.calibrated.size(), 1u);
  EXPECT_EQ(back.calibrated[0], point);
  EXPECT_THROW(rewrite_onnx_metadata("/nonexistent/m.onnx", path, {}), std::runtime_error);
}

TEST(Impostors, GeneratedKindsAreReproducible) {
  // A third of each kind; same seed, same pixels; flat frames are flat and
  // digits have bright ink on a dark ground.
  const ImageSet a = generate_impostors(30, 28, 28, 1, 5);
  const ImageSet b = generate_impostors(30, 28, 28, 1, 5);
  const ImageSet c = generate_impostors(30, 28, 28, 1, 6);
  ASSERT_EQ(a.size(), 30u);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_NE(a.pixels, c.pixels);
  std::array<int, 3> per_kind{};
  for (std::size_t i = 0; i < a.size(); ++i) {
    ++per_kind.at(a.labels[i]);
    double low, high;
    cv::minMaxLoc(a.to_mat(i), &low, &high);
    if (a.labels[i] == 2) {
      EXPECT_EQ(low, high);
    }
    if (a.labels[i] == 0) {
      EXPECT_GT(high, 120.0);
      EXPECT_EQ(a.to_mat(i).at<uint8_t>(0, 0), 0);
    }
  }
  EXPECT_EQ(per_kind, (std::array<int, 3>{10, 10, 10}));
  EXPECT_EQ(thrown_kind([] { generate_impostors(3, 4, 4, 1, 1); }, "4 x 4"), ErrorKind::kSettings);
}

}  // namespace
}  // namespace siamese::trainer
