// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Figures of a training run as PNG images, drawn with OpenCV (no plotting
// library in Debian's C++ stack fits better): the loss and the validation
// figures per epoch, read back from the metrics log so that a resumed run's
// figures cover every epoch, and the ROC curve of the validation pairs.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "metrics.h"
#include "progress.h"

namespace siamese::trainer {

struct Curve {
  std::string name;
  std::vector<cv::Point2d> points;  // a NaN y leaves a gap (no figure that epoch)
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Curve> curves;
  bool unit_square = false;  // both axes 0..1 and the chance diagonal (ROC)
  bool unit_y = false;       // y axis 0..1 (rates)
};

// The chart as a BGR image with axes, tick labels and a legend.
cv::Mat draw_chart(const Chart &chart);

// The PNG files written beside a metrics log: FILE.csv -> FILE-loss.png,
// FILE-validation.png, FILE-roc.png.
struct PlotPaths {
  std::string loss, validation, roc;
};
PlotPaths plot_paths(const std::string &log_path);

// Draws the loss and the validation figures of every epoch in `log` and the
// ROC curves of the last validation (cosine, and the pair head's when
// present), each written atomically.  Throws std::runtime_error naming a
// file that cannot be written.
void write_run_plots(const std::string &log_path, const std::vector<MetricsLog::Row> &log,
                     const std::vector<Curve> &roc_curves);

// A verification's ROC points as a curve named `name` (with its AUC).
Curve roc_curve(const std::string &name, const Verification &verification);

}  // namespace siamese::trainer
