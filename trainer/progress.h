// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What a training run tells its user while it runs (a progress bar on a
// terminal, plain periodic lines in a log file or CI) and what it leaves
// behind (one record per epoch in a CSV or JSON-lines file).
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace siamese::trainer {

class Progress {
 public:
  // `total` steps; `interactive`: redraw one line in place (a terminal),
  // otherwise print a line every kPlainInterval.
  Progress(std::ostream &out, std::string label, int64_t total, bool interactive);

  // After each step: steps done so far, images in this step, its loss.
  void step(int64_t done, int64_t images, double loss);
  // Ends the line (a terminal) or prints the final figures.
  void finish();

  // True when stderr is a terminal.
  static bool stderr_is_terminal();

 private:
  using Clock = std::chrono::steady_clock;
  void print(bool final);

  std::ostream &out_;
  std::string label_;
  int64_t total_;
  bool interactive_;
  Clock::time_point start_;
  Clock::time_point last_print_;
  int64_t done_ = 0;
  int64_t images_ = 0;
  double running_loss_ = 0.0;  // exponential moving average
  bool have_loss_ = false;
};

// One row per call.  The format follows the extension: ".csv" writes a
// header line when the file is new or empty, anything else is JSON lines.
// Appends, so a resumed run continues the same file.  Throws
// std::runtime_error naming the path when it cannot be written.
class MetricsLog {
 public:
  using Row = std::vector<std::pair<std::string, double>>;

  explicit MetricsLog(std::string path);
  void append(const Row &row);
  // Every row written so far (none when the file does not exist); a JSON
  // null reads as NaN.  Throws std::runtime_error naming the path and line
  // when a line is not a row of this log.
  std::vector<Row> read() const;

 private:
  std::string path_;
  bool csv_;
};

}  // namespace siamese::trainer
