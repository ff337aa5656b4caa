// SPDX-License-Identifier: LGPL-2.1-or-later
// ReferenceSet: enrolment from a labelled folder, skip-and-warn, errors.
#include <cstdlib>
#include <filesystem>
#include <fstream>

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

TEST(ReferenceSet, SkipsBadEntriesAndWarnsAboutEmptyLabels) {
  // A looping symbolic link and an image over the size limit are skipped and
  // reported, not fatal; a label folder left without any usable image is
  // reported too (its label is not enrolled).
  const fs::path root = fs::path(testing::TempDir()) / "siamese-reference-bad-entries";
  fs::remove_all(root);
  fs::create_directories(root / "red");
  fs::create_directories(root / "empty");
  fs::copy_file(fs::path(SIAMESE_FIXTURE_REFERENCES_DIR) / "red" / "red_0.png", root / "red" / "a.png");
  fs::create_symlink("loop.png", root / "red" / "loop.png");
  fs::create_symlink("loop", root / "loop");  // a looping "label folder"
  std::ofstream(root / "empty" / "huge.png").put('x');
  fs::resize_file(root / "empty" / "huge.png", kMaxReferenceImageBytes + 1);
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  ReferenceSet::Report report;
  const ReferenceSet set = ReferenceSet::enroll_folder(root.string(), embedder, &report);
  EXPECT_EQ(set.labels(), std::vector<std::string>{"red"});
  EXPECT_EQ(set.embeddings().rows, 1);
  std::string skipped;
  for (const std::string &entry : report.skipped) skipped += entry + "\n";
  EXPECT_EQ(report.skipped.size(), 3u) << skipped;
  EXPECT_NE(skipped.find("red/loop.png: Too many levels of symbolic links"), std::string::npos)
      << skipped;
  EXPECT_NE(skipped.find((root / "loop").string() + ": "), std::string::npos) << skipped;
  EXPECT_NE(skipped.find("huge.png: is 64 MiB, more than the 64 MiB"), std::string::npos)
      << skipped;
  EXPECT_EQ(report.empty_labels, std::vector<std::string>{(root / "empty").string()});
}

TEST(ReferenceSet, ExtensionsAreCaseInsensitive) {
  // IMG.PNG and x.JpG count as images; notes.txt does not.
  const fs::path root = fs::path(testing::TempDir()) / "siamese-reference-case";
  fs::remove_all(root);
  fs::create_directories(root / "red");
  const fs::path red = fs::path(SIAMESE_FIXTURE_REFERENCES_DIR) / "red" / "red_0.png";
  fs::copy_file(red, root / "red" / "IMG.PNG");
  fs::copy_file(fs::path(SIAMESE_FIXTURE_REFERENCES_DIR) / "red" / "red_1.png", root / "red" / "x.JpG");
  fs::copy_file(red, root / "red" / "notes.txt");
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  const ReferenceSet set = ReferenceSet::enroll_folder(root.string(), embedder);
  EXPECT_EQ(set.embeddings().rows, 2);
  fs::remove_all(root);
}

TEST(ReferenceSet, EnrollingAgainAddsOnlyNewImages) {
  // Same label and same content: enrolled once, whatever the file names; a new image is added.
  const fs::path root = fs::path(testing::TempDir()) / "siamese-reference-again";
  fs::remove_all(root);
  fs::create_directories(root / "red");
  const fs::path red = fs::path(SIAMESE_FIXTURE_REFERENCES_DIR) / "red";
  fs::copy_file(red / "red_0.png", root / "red" / "a.png");
  fs::copy_file(red / "red_0.png", root / "red" / "b.png");
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  ReferenceSet set;
  ReferenceSet::Report first;
  std::size_t last_progress = 0;
  set.add_folder(root.string(), embedder, &first,
                 [&](std::size_t done, std::size_t total) {
                   EXPECT_EQ(total, 2u);
                   last_progress = done;
                 });
  EXPECT_EQ(last_progress, 2u);
  EXPECT_EQ(first.added, 1u);
  EXPECT_EQ(first.already_present, 1u);
  fs::copy_file(red / "red_1.png", root / "red" / "c.png");
  ReferenceSet::Report second;
  set.add_folder(root.string(), embedder, &second);
  EXPECT_EQ(second.added, 1u);
  EXPECT_EQ(second.already_present, 2u);
  EXPECT_EQ(set.embeddings().rows, 2);
  EXPECT_EQ(set.sources()[1].path, (root / "red" / "c.png").string());
  fs::remove_all(root);
}

TEST(ReferenceSet, AddImageAndRemove) {
  // One image enrols under any label; removing by label or by image takes exactly those.
  Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
  ReferenceSet set = ReferenceSet::enroll_folder(SIAMESE_FIXTURE_REFERENCES_DIR, embedder);
  const std::string blue = std::string(SIAMESE_FIXTURE_REFERENCES_DIR) + "/blue/blue_0.png";
  set.add_image("sky", blue, embedder);
  EXPECT_EQ(set.labels(), (std::vector<std::string>{"blue", "green", "red", "sky", "yellow"}));
  EXPECT_EQ(set.sources().back().path, blue);
  EXPECT_EQ(set.remove_label("red"), 3u);
  EXPECT_EQ(set.labels(), (std::vector<std::string>{"blue", "green", "sky", "yellow"}));
  EXPECT_EQ(set.embeddings().rows, 7);
  EXPECT_EQ(set.remove_source(blue), 2u);  // blue's own template and sky's
  EXPECT_EQ(set.labels(), (std::vector<std::string>{"blue", "green", "yellow"}));
  EXPECT_EQ(set.remove_label("nobody"), 0u);
  for (int t = 0; t < set.embeddings().rows; ++t)
    EXPECT_NE(set.sources()[t].path.find(set.labels()[set.template_labels()[t]]), std::string::npos);

  EXPECT_EQ(thrown_kind([&] { set.add_image("x", "/nonexistent/a.png", embedder); }, "/nonexistent/a.png"),
            ErrorKind::kNotFound);
  EXPECT_EQ(thrown_kind([&] { set.add_image("x", SIAMESE_FIXTURE_NOT_ONNX_ONNX, embedder); },
                        SIAMESE_FIXTURE_NOT_ONNX_ONNX),
            ErrorKind::kOpenRead);
  EXPECT_EQ(thrown_kind([&] { set.add_image("", blue, embedder); }, "label"), ErrorKind::kSettings);
}

TEST(ReferenceSet, CopiesDoNotShareTemplates) {
  // Adding to a copy leaves the original as it was.
  ReferenceSet original;
  original.add("a", cv::Mat(cv::Matx12f(1, 0)));
  ReferenceSet copy = original;
  copy.add("b", cv::Mat(cv::Matx12f(0, 1)));
  ReferenceSet other = original;
  other.add("c", cv::Mat(cv::Matx12f(0.6f, 0.8f)));
  EXPECT_EQ(original.embeddings().rows, 1);
  EXPECT_FLOAT_EQ(copy.embeddings().at<float>(1, 1), 1.f);
  EXPECT_FLOAT_EQ(other.embeddings().at<float>(1, 1), 0.8f);
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
