// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What a run reports: plain progress lines off a terminal, a redrawn bar on
// one, and per-epoch rows appended to CSV or JSON-lines logs.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "progress.h"

namespace siamese::trainer {
namespace {

std::string read_all(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string temp_path(const std::string &name) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::remove(path.c_str());
  return path;
}

TEST(Progress, PlainOutputEndsWithALineOfFigures) {
  std::ostringstream out;
  Progress progress(out, "epoch 1/1", 4, false);
  for (int step = 1; step <= 4; ++step) progress.step(step, 64, 0.5);
  progress.finish();
  const std::string text = out.str();
  EXPECT_NE(text.find("epoch 1/1 4/4 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("img/s, loss 0.5000, took"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST(Progress, TerminalOutputRedrawsABar) {
  std::ostringstream out;
  Progress progress(out, "epoch", 2, true);
  progress.step(2, 8, 1.0);
  progress.finish();
  EXPECT_NE(out.str().find("\r"), std::string::npos);
  EXPECT_NE(out.str().find("[########################]"), std::string::npos) << out.str();
}

TEST(MetricsLog, CsvWritesOneHeaderAndAppends) {
  const std::string path = temp_path("metrics.csv");
  MetricsLog(path).append({{"epoch", 1}, {"loss", 0.25}});
  MetricsLog(path).append({{"epoch", 2}, {"loss", 0.125}});
  EXPECT_EQ(read_all(path), "epoch,loss\n1,0.25\n2,0.125\n");
  std::remove(path.c_str());
}

TEST(MetricsLog, JsonLinesWriteOneObjectPerRow) {
  const std::string path = temp_path("metrics.jsonl");
  MetricsLog log(path);
  log.append({{"epoch", 1}, {"eer", std::nan("")}});
  log.append({{"epoch", 2}, {"eer", 0.5}});
  EXPECT_EQ(read_all(path), "{\"epoch\": 1, \"eer\": null}\n{\"epoch\": 2, \"eer\": 0.5}\n");
  std::remove(path.c_str());
}

TEST(MetricsLog, UnwritablePathIsNamed) {
  try {
    MetricsLog("/nonexistent/dir/log.csv").append({{"epoch", 1}});
    FAIL() << "no error for an unwritable log";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/log.csv"), std::string::npos);
  }
}

}  // namespace
}  // namespace siamese::trainer
