// SPDX-License-Identifier: LGPL-2.1-or-later
#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace siamese::trainer {
namespace {

// A terminal redraws at most this often; a log gets one line this often.
constexpr std::chrono::milliseconds kRedrawInterval{200};
constexpr std::chrono::seconds kPlainInterval{10};
constexpr int kBarWidth = 24;
// Weight of the newest step in the running loss.
constexpr double kLossSmoothing = 0.05;

std::string format_duration(double seconds) {
  const long total = std::lround(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  return text;
}

std::string format_number(double value) {
  std::ostringstream text;
  text << std::setprecision(6) << value;
  return text.str();
}

}  // namespace

Progress::Progress(std::ostream &out, std::string label, int64_t total, bool interactive)
    : out_(out),
      label_(std::move(label)),
      total_(total),
      interactive_(interactive),
      start_(Clock::now()),
      last_print_(start_) {}

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

void Progress::step(int64_t done, int64_t images, double loss) {
  done_ = done;
  images_ += images;
  running_loss_ = have_loss_ ? (1 - kLossSmoothing) * running_loss_ + kLossSmoothing * loss : loss;
  have_loss_ = true;
  const auto since = Clock::now() - last_print_;
  if (since >= (interactive_ ? std::chrono::duration_cast<Clock::duration>(kRedrawInterval)
                             : std::chrono::duration_cast<Clock::duration>(kPlainInterval)))
    print(false);
}

void Progress::finish() { print(true); }

void Progress::print(bool final) {
  last_print_ = Clock::now();
  const double elapsed = std::chrono::duration<double>(last_print_ - start_).count();
  const double rate = elapsed > 0 ? images_ / elapsed : 0.0;
  const double eta = done_ > 0 ? elapsed * (total_ - done_) / done_ : 0.0;
  std::ostringstream line;
  line << label_ << ' ';
  if (interactive_) {
    const int filled = total_ > 0 ? static_cast<int>(kBarWidth * done_ / total_) : kBarWidth;
    line << '[' << std::string(filled, '#') << std::string(kBarWidth - filled, '.') << "] ";
  }
  line << done_ << '/' << total_ << " steps, " << std::lround(rate) << " img/s, loss " << std::fixed
       << std::setprecision(4) << running_loss_ << ", "
       << (final ? "took " + format_duration(elapsed) : "ETA " + format_duration(eta));
  if (interactive_)
    out_ << '\r' << line.str() << "\x1b[K" << (final ? "\n" : "") << std::flush;
  else
    out_ << line.str() << '\n' << std::flush;
}

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)) {
  const std::string extension = ".csv";
  csv_ = path_.size() >= extension.size() &&
         path_.compare(path_.size() - extension.size(), extension.size(), extension) == 0;
}

void MetricsLog::append(const Row &row) {
  std::ifstream existing(path_, std::ios::binary | std::ios::ate);
  const bool empty = !existing || existing.tellg() == 0;
  std::ofstream out(path_, std::ios::app);
  if (!out) throw std::runtime_error("cannot open the metrics log " + path_ + " for writing");
  if (csv_) {
    if (empty) {
      for (std::size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << row[i].first;
      out << '\n';
    }
    for (std::size_t i = 0; i < row.size(); ++i)
      out << (i ? "," : "") << format_number(row[i].second);
  } else {
    out << '{';
    for (std::size_t i = 0; i < row.size(); ++i)
      out << (i ? ", " : "") << '"' << row[i].first
          << "\": " << (std::isfinite(row[i].second) ? format_number(row[i].second) : "null");
    out << '}';
  }
  out << '\n';
  if (!out.flush()) throw std::runtime_error("cannot write the metrics log " + path_);
}

std::vector<MetricsLog::Row> MetricsLog::read() const {
  std::vector<Row> rows;
  std::ifstream in(path_);
  std::vector<std::string> header;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const auto malformed = [&] {
      return std::runtime_error("the metrics log " + path_ + " has a malformed line " +
                                std::to_string(number));
    };
    Row row;
    if (csv_) {
      std::vector<std::string> cells;
      std::istringstream fields(line);
      for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
      if (header.empty()) {
        header = cells;
        continue;
      }
      if (cells.size() != header.size()) throw malformed();
      for (std::size_t i = 0; i < cells.size(); ++i) {
        try {
          row.emplace_back(header[i], std::stod(cells[i]));
        } catch (const std::logic_error &) {
          throw malformed();
        }
      }
    } else {
      const nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
      if (!object.is_object()) throw malformed();
      for (const auto &[key, value] : object.items()) {
        if (!value.is_number() && !value.is_null()) throw malformed();
        row.emplace_back(key, value.is_null() ? std::nan("") : value.get<double>());
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace siamese::trainer
