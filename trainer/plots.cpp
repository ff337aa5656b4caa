// SPDX-License-Identifier: LGPL-2.1-or-later
#include "plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "atomic_file.h"

namespace siamese::trainer {
namespace {

const cv::Size kCanvas{720, 450};
// Room for the tick labels (left, bottom) and the title (top).
constexpr int kLeft = 72, kRight = 24, kTop = 44, kBottom = 56;
constexpr int kTicks = 5;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kInk{40, 40, 40};
const cv::Scalar kGrid{225, 225, 225};
// Distinguishable colours (BGR), in the order curves are drawn.
const std::vector<cv::Scalar> kPalette{{180, 119, 31}, {14, 127, 255}, {44, 160, 44},
                                       {40, 39, 214},  {189, 103, 148}, {75, 86, 140}};

struct Range {
  double low = 0.0, high = 1.0;
};

// The extent of the finite values, widened a little so that no point sits on
// the frame, and never empty.
Range extent(const std::vector<Curve> &curves, bool x_axis) {
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (const Curve &curve : curves)
    for (const cv::Point2d &p : curve.points) {
      const double v = x_axis ? p.x : p.y;
      if (!std::isfinite(v)) continue;
      low = std::min(low, v);
      high = std::max(high, v);
    }
  if (!std::isfinite(low)) return {};
  if (high - low < 1e-12) return {low - 1.0, high + 1.0};
  const double pad = x_axis ? 0.0 : 0.05 * (high - low);
  return {low - pad, high + pad};
}

std::string tick_label(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", std::abs(value) < 1e-12 ? 0.0 : value);
  return text;
}

void put_text(cv::Mat &image, const std::string &text, cv::Point at, double scale,
              bool centred = false) {
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, kFont, scale, 1, &baseline);
  if (centred) at.x -= size.width / 2;
  cv::putText(image, text, at, kFont, scale, kInk, 1, cv::LINE_AA);
}

}  // namespace

cv::Mat draw_chart(const Chart &chart) {
  cv::Mat image(kCanvas, CV_8UC3, cv::Scalar::all(255));
  const cv::Rect plot(kLeft, kTop, kCanvas.width - kLeft - kRight,
                      kCanvas.height - kTop - kBottom);
  const Range xs = chart.unit_square ? Range{} : extent(chart.curves, true);
  const Range ys = chart.unit_square || chart.unit_y ? Range{} : extent(chart.curves, false);
  const auto to_pixel = [&](cv::Point2d p) {
    return cv::Point(plot.x + static_cast<int>(std::lround((p.x - xs.low) / (xs.high - xs.low) *
                                                           plot.width)),
                     plot.y + plot.height -
                         static_cast<int>(std::lround((p.y - ys.low) / (ys.high - ys.low) *
                                                      plot.height)));
  };

  // Epochs are whole numbers: a short run gets one tick per epoch.
  const double x_span = xs.high - xs.low;
  const int x_ticks = !chart.unit_square && x_span >= 1 && x_span < kTicks
                          ? static_cast<int>(std::lround(x_span))
                          : kTicks;
  for (int i = 0; i <= x_ticks; ++i) {
    const double fx = xs.low + x_span * i / x_ticks;
    const cv::Point px = to_pixel({fx, ys.low});
    cv::line(image, {px.x, plot.y}, {px.x, plot.y + plot.height}, kGrid);
    put_text(image, tick_label(fx), {px.x, plot.y + plot.height + 18}, 0.45, true);
  }
  for (int i = 0; i <= kTicks; ++i) {
    const double fy = ys.low + (ys.high - ys.low) * i / kTicks;
    const cv::Point py = to_pixel({xs.low, fy});
    cv::line(image, {plot.x, py.y}, {plot.x + plot.width, py.y}, kGrid);
    put_text(image, tick_label(fy), {8, py.y + 5}, 0.45);
  }
  cv::rectangle(image, plot, kInk);
  put_text(image, chart.title, {kCanvas.width / 2, 28}, 0.6, true);
  put_text(image, chart.x_label, {plot.x + plot.width / 2, kCanvas.height - 12}, 0.5, true);
  put_text(image, chart.y_label, {8, kTop - 10}, 0.45);
  if (chart.unit_square)
    for (double t = 0.0; t < 1.0; t += 0.04)
      cv::line(image, to_pixel({t, t}), to_pixel({t + 0.02, t + 0.02}), cv::Scalar::all(160));

  for (std::size_t c = 0; c < chart.curves.size(); ++c) {
    const cv::Scalar colour = kPalette[c % kPalette.size()];
    const std::vector<cv::Point2d> &points = chart.curves[c].points;
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (!std::isfinite(points[i].y)) continue;
      if (i > 0 && std::isfinite(points[i - 1].y))
        cv::line(image, to_pixel(points[i - 1]), to_pixel(points[i]), colour, 2, cv::LINE_AA);
      // A marker per epoch; a ROC curve has too many points for markers.
      if (!chart.unit_square) cv::circle(image, to_pixel(points[i]), 3, colour, cv::FILLED);
    }
  }
  // The legend, over the curves: top right, or bottom right under a ROC
  // curve (which climbs along the top left).
  const int rows = static_cast<int>(chart.curves.size());
  const cv::Point corner(plot.x + plot.width - 236,
                         chart.unit_square ? plot.y + plot.height - 20 * rows - 8 : plot.y + 8);
  if (rows > 0)
    cv::rectangle(image, cv::Rect(corner, cv::Size(228, 20 * rows)), cv::Scalar::all(255),
                  cv::FILLED);
  for (int c = 0; c < rows; ++c) {
    const cv::Point entry = corner + cv::Point(6, 10 + 20 * c);
    cv::line(image, entry, entry + cv::Point(24, 0), kPalette[c % kPalette.size()], 2,
             cv::LINE_AA);
    put_text(image, chart.curves[c].name, entry + cv::Point(30, 5), 0.45);
  }
  return image;
}

PlotPaths plot_paths(const std::string &log_path) {
  const std::size_t slash = log_path.rfind('/');
  const std::size_t dot = log_path.rfind('.');
  const std::string stem = dot != std::string::npos && (slash == std::string::npos || dot > slash)
                               ? log_path.substr(0, dot)
                               : log_path;
  return {stem + "-loss.png", stem + "-validation.png", stem + "-roc.png"};
}

Curve roc_curve(const std::string &name, const Verification &verification) {
  char label[64];
  std::snprintf(label, sizeof label, "%s (AUC %.4f)", name.c_str(), verification.roc_auc);
  Curve curve{label, {{0.0, 0.0}}};
  for (const Verification::RocPoint &p : verification.roc)
    curve.points.emplace_back(p.false_accept, p.true_accept);
  return curve;
}

namespace {

void write_png(const std::string &path, const cv::Mat &image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes))
    throw std::runtime_error("cannot encode the plot " + path + " as PNG");
  write_file_atomically(path, std::string_view(reinterpret_cast<const char *>(bytes.data()),
                                               bytes.size()));
}

// Column `name` of every row by epoch (a later row for the same epoch, from
// a resumed run, wins); NaN where a row lacks it.
Curve column(const std::map<double, const MetricsLog::Row *> &epochs, const std::string &name,
             const std::string &label) {
  Curve curve{label, {}};
  for (const auto &[epoch, row] : epochs) {
    double value = std::nan("");
    for (const auto &[key, v] : *row)
      if (key == name) value = v;
    curve.points.emplace_back(epoch, value);
  }
  return curve;
}

bool has_figures(const Curve &curve) {
  return std::any_of(curve.points.begin(), curve.points.end(),
                     [](const cv::Point2d &p) { return std::isfinite(p.y); });
}

}  // namespace

void write_run_plots(const std::string &log_path, const std::vector<MetricsLog::Row> &log,
                     const std::vector<Curve> &roc_curves) {
  std::map<double, const MetricsLog::Row *> epochs;
  for (const MetricsLog::Row &row : log)
    for (const auto &[key, value] : row)
      if (key == "epoch" && std::isfinite(value)) epochs[value] = &row;
  const PlotPaths paths = plot_paths(log_path);

  Chart loss{"Training loss (mean over each epoch)", "epoch", "loss", {}};
  loss.curves.push_back(column(epochs, "loss", "loss"));
  write_png(paths.loss, draw_chart(loss));

  Chart validation{"Validation figures per epoch", "epoch", "", {}};
  validation.unit_y = true;
  for (const auto &[key, label] :
       std::vector<std::pair<std::string, std::string>>{{"precision_at_1", "Precision@1"},
                                                        {"roc_auc", "ROC AUC (cosine)"},
                                                        {"eer", "EER (cosine)"},
                                                        {"head_roc_auc", "ROC AUC (head)"},
                                                        {"head_eer", "EER (head)"}}) {
    Curve curve = column(epochs, key, label);
    if (has_figures(curve)) validation.curves.push_back(std::move(curve));
  }
  write_png(paths.validation, draw_chart(validation));

  Chart roc{"ROC of the validation pairs, last epoch", "false accept rate", "true accept rate",
            roc_curves};
  roc.unit_square = true;
  write_png(paths.roc, draw_chart(roc));
}

}  // namespace siamese::trainer
