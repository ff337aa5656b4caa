// SPDX-License-Identifier: LGPL-2.1-or-later
// ReferenceSet: enrolment from a labelled folder, skip-and-warn, errors.
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "embedder.h"
#include "reference_set.h"
#include "thrown_kind.h"

namespace siamese {
namespace {

namespace fs = std::filesystem;

std::optional<ErrorKind> enrol_error(const std::string &root) {
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  return thrown_kind([&] { ReferenceSet::enroll_folder(root, embedder); }, root);
}

TEST(ReferenceSet, EnrolsEveryLabelInSortedOrder) {
  // Labels come from the folder names, templates in sorted file order.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  ReferenceSet::Report report;
  const ReferenceSet set =
      ReferenceSet::enroll_folder(SIAMESE_FIXTURE_REFERENCES_DIR, embedder, &report);
  EXPECT_TRUE(report.skipped.empty());
  EXPECT_EQ(set.labels(), (std::vector<std::string>{"blue", "green", "red", "yellow"}));
  EXPECT_EQ(set.template_labels(), (std::vector<int>{0, 0, 1, 1, 2, 2, 2, 3, 3}));
  EXPECT_EQ(set.dimension(), 3);
  ASSERT_EQ(set.embeddings().rows, 9);
  // red_0.png is pure red: (1, 0, 0) after normalisation.
  const cv::Mat red = set.embeddings().row(4);
  EXPECT_LT(cv::norm(red, cv::Mat(cv::Matx13f(1, 0, 0)), cv::NORM_INF), 1e-6);
}

TEST(ReferenceSet, SkipsUndecodableImagesAndReportsThem) {
  // corrupt.png is skipped and named in the report; the rest is enrolled.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  ReferenceSet::Report report;
  const ReferenceSet set =
      ReferenceSet::enroll_folder(SIAMESE_FIXTURE_REFERENCES_WITH_CORRUPT_DIR, embedder, &report);
  EXPECT_EQ(set.embeddings().rows, 9);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("red/corrupt.png"), std::string::npos) << report.skipped[0];
}

TEST(ReferenceSet, ExtensionsAreCaseInsensitive) {
  // IMG.PNG and x.JpG count as images; notes.txt does not.
  const fs::path root = fs::path(testing::TempDir()) / "siamese-reference-case";
  fs::remove_all(root);
  fs::create_directories(root / "red");
  const fs::path red = fs::path(SIAMESE_FIXTURE_REFERENCES_DIR) / "red" / "red_0.png";
  fs::copy_file(red, root / "red" / "IMG.PNG");
  fs::copy_file(red, root / "red" / "x.JpG");
  fs::copy_file(red, root / "red" / "notes.txt");
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const ReferenceSet set = ReferenceSet::enroll_folder(root.string(), embedder);
  EXPECT_EQ(set.embeddings().rows, 2);
  fs::remove_all(root);
}

TEST(ReferenceSet, FolderErrors) {
  // Missing, not a folder, and a folder without usable images.
  EXPECT_EQ(enrol_error("/nonexistent/references"), ErrorKind::kNotFound);
  EXPECT_EQ(enrol_error(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX), ErrorKind::kOpenRead);
  EXPECT_EQ(enrol_error(SIAMESE_FIXTURE_REFERENCES_EMPTY_DIR), ErrorKind::kSettings);
}

TEST(ReferenceSet, AddKeepsLabelsSorted) {
  // A label that sorts before existing ones renumbers their templates.
  ReferenceSet set;
  EXPECT_TRUE(set.empty());
  set.add("b", cv::Mat(cv::Matx12f(1, 0)));
  set.add("a", cv::Mat(cv::Matx12f(0, 1)));
  set.add("b", cv::Mat(cv::Matx12f(0.6f, 0.8f)));
  EXPECT_EQ(set.labels(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(set.template_labels(), (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(set.dimension(), 2);
  EXPECT_FLOAT_EQ(set.embeddings().at<float>(2, 1), 0.8f);
}

TEST(ReferenceSet, AddRefusesAnotherDimension) {
  // Templates of different lengths cannot share a set.
  ReferenceSet set;
  set.add("a", cv::Mat(cv::Matx12f(1, 0)));
  EXPECT_EQ(thrown_kind([&] { set.add("b", cv::Mat(cv::Matx13f(1, 0, 0))); }), ErrorKind::kFormat);
}

}  // namespace
}  // namespace siamese
