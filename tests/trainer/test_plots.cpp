// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A run's figures: the metrics log reads back as written, and the plots
// beside it are PNG images that show every epoch's figures and the ROC curve.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "plots.h"
#include "progress.h"

namespace siamese::trainer {
namespace {

std::string temp_path(const std::string &name) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::remove(path.c_str());
  return path;
}

// Pixels of `image` within a small distance of `colour` (BGR).
int pixels_of(const cv::Mat &image, const cv::Scalar &colour) {
  cv::Mat mask;
  cv::inRange(image, colour - cv::Scalar::all(12), colour + cv::Scalar::all(12), mask);
  return cv::countNonZero(mask);
}

TEST(MetricsLog, ReadsBackCsvAndJsonLines) {
  for (const std::string name : {"read.csv", "read.jsonl"}) {
    const std::string path = temp_path(name);
    MetricsLog log(path);
    EXPECT_TRUE(log.read().empty());
    log.append({{"epoch", 1}, {"loss", 0.25}, {"eer", std::nan("")}});
    log.append({{"epoch", 2}, {"loss", 0.125}, {"eer", 0.5}});
    const std::vector<MetricsLog::Row> rows = log.read();
    ASSERT_EQ(rows.size(), 2u) << name;
    for (const auto &[key, value] : rows[1]) {
      if (key == "loss") {
        EXPECT_DOUBLE_EQ(value, 0.125) << name;
      } else if (key == "eer") {
        EXPECT_DOUBLE_EQ(value, 0.5) << name;
      }
    }
    for (const auto &[key, value] : rows[0]) {
      if (key == "eer") {
        EXPECT_TRUE(std::isnan(value)) << name;
      }
    }
    std::remove(path.c_str());
  }
}

TEST(MetricsLog, MalformedLineIsNamed) {
  const std::string path = temp_path("bad.jsonl");
  std::ofstream(path) << "{\"epoch\": 1}\nnot json\n";
  try {
    MetricsLog(path).read();
    FAIL() << "a malformed log read without an error";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find(path + " has a malformed line 2"), std::string::npos)
        << e.what();
  }
  std::remove(path.c_str());
}

TEST(Plots, PathsSitBesideTheLog) {
  const PlotPaths paths = plot_paths("runs/a.b/log.csv");
  EXPECT_EQ(paths.loss, "runs/a.b/log-loss.png");
  EXPECT_EQ(paths.validation, "runs/a.b/log-validation.png");
  EXPECT_EQ(paths.roc, "runs/a.b/log-roc.png");
  EXPECT_EQ(plot_paths("runs/a.b/log").roc, "runs/a.b/log-roc.png");
}

// Three epochs in the log give three PNG images; the loss and validation
// charts carry their curves' colours, and the ROC chart its curve.
TEST(Plots, RunPlotsAreImagesOfTheirFigures) {
  const std::string log_path = temp_path("run.csv");
  MetricsLog log(log_path);
  for (int epoch = 1; epoch <= 3; ++epoch)
    log.append({{"epoch", epoch}, {"loss", 1.0 / epoch}, {"precision_at_1", 0.5 + 0.1 * epoch},
                {"roc_auc", 0.7 + 0.05 * epoch}, {"eer", 0.3 - 0.05 * epoch}});
  const Verification verification =
      siamese::trainer::verification({0.9f, 0.8f, 0.4f, 0.6f, 0.1f}, {1, 1, 1, 0, 0});
  write_run_plots(log_path, log.read(), {roc_curve("cosine", verification)});

  const PlotPaths paths = plot_paths(log_path);
  const cv::Scalar first_curve{180, 119, 31};
  for (const std::string &path : {paths.loss, paths.validation, paths.roc}) {
    const cv::Mat image = cv::imread(path);
    ASSERT_FALSE(image.empty()) << path;
    EXPECT_EQ(image.size(), cv::Size(720, 450)) << path;
    EXPECT_GT(pixels_of(image, first_curve), 100) << path;
    std::remove(path.c_str());
  }
  std::remove(log_path.c_str());
}

TEST(Plots, UnwritablePlotIsNamed) {
  try {
    write_run_plots("/nonexistent/dir/log.csv", {{{"epoch", 1}, {"loss", 1}}}, {});
    FAIL() << "no error for an unwritable plot";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/log-loss.png"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace siamese::trainer
