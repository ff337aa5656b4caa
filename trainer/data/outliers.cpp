// SPDX-License-Identifier: LGPL-2.1-or-later
#include "outliers.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "errors.h"

namespace siamese::trainer {
namespace {

// Drawn on a canvas this many times larger and shrunk with area averaging,
// which softens edges the way a camera's optics do.
constexpr int kDrawScale = 4;
// Tiles per side of the shuffled kind: small enough that no object survives.
constexpr int kTiles = 4;

enum class Kind { kShapes, kStrokes, kArcs, kStripes, kRamp, kShuffled, kInverted, kCount };
constexpr const char *kKindNames[] = {"shapes", "strokes",        "arcs",    "stripes",
                                      "ramps",  "shuffled tiles", "inverted"};
static_assert(std::size(kKindNames) == static_cast<std::size_t>(Kind::kCount));

struct Drawing {
  std::mt19937_64 &rng;
  cv::Size canvas;

  double uniform(double low, double high) {
    return std::uniform_real_distribution<double>(low, high)(rng);
  }
  int below(int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }
  cv::Point point(double margin) {
    return {static_cast<int>(uniform(margin, 1.0 - margin) * canvas.width),
            static_cast<int>(uniform(margin, 1.0 - margin) * canvas.height)};
  }
  cv::Scalar ink() { return cv::Scalar(60 + below(196)); }
  int stroke() { return kDrawScale * (1 + below(3)); }
  int side() { return std::min(canvas.width, canvas.height); }
};

// One to three ellipses, rectangles or polygons, filled or outlined.
void draw_shapes(Drawing &d, cv::Mat &big) {
  const int shapes = 1 + d.below(3);
  for (int s = 0; s < shapes; ++s) {
    const int thickness = d.below(2) ? cv::FILLED : d.stroke();
    switch (d.below(3)) {
      case 0: {
        const cv::Size axes(static_cast<int>(d.uniform(0.07, 0.4) * d.side()),
                            static_cast<int>(d.uniform(0.07, 0.4) * d.side()));
        cv::ellipse(big, d.point(0.2), axes, d.uniform(0, 180), 0, 360, d.ink(), thickness,
                    cv::LINE_AA);
        break;
      }
      case 1: cv::rectangle(big, d.point(0.05), d.point(0.05), d.ink(), thickness, cv::LINE_AA); break;
      default: {
        std::vector<cv::Point> corners(3 + d.below(4));
        for (cv::Point &corner : corners) corner = d.point(0.05);
        if (thickness == cv::FILLED)
          cv::fillPoly(big, std::vector<std::vector<cv::Point>>{corners}, d.ink(), cv::LINE_AA);
        else
          cv::polylines(big, corners, true, d.ink(), thickness, cv::LINE_AA);
      }
    }
  }
}

// A pen stroke of two to seven straight segments.
void draw_strokes(Drawing &d, cv::Mat &big) {
  const int segments = 2 + d.below(6);
  const cv::Scalar ink = d.ink();
  const int thickness = d.stroke();
  cv::Point from = d.point(0.1);
  for (int s = 0; s < segments; ++s) {
    const cv::Point to = d.point(0.1);
    cv::line(big, from, to, ink, thickness, cv::LINE_AA);
    from = to;
  }
}

// One to three open arcs of ellipses.
void draw_arcs(Drawing &d, cv::Mat &big) {
  const int arcs = 1 + d.below(3);
  const cv::Scalar ink = d.ink();
  const int thickness = d.stroke();
  for (int a = 0; a < arcs; ++a) {
    const cv::Size axes(static_cast<int>(d.uniform(0.05, 0.35) * d.side()),
                        static_cast<int>(d.uniform(0.05, 0.35) * d.side()));
    const double start = d.uniform(0, 360);
    cv::ellipse(big, d.point(0.25), axes, d.uniform(0, 180), start, start + d.uniform(60, 300),
                ink, thickness, cv::LINE_AA);
  }
}

// Stripes or a checkerboard at a random period and angle, two grey levels.
void draw_stripes(Drawing &d, cv::Mat &big) {
  const double period = d.uniform(0.05, 0.35) * d.side();
  const double angle = d.uniform(0, CV_PI);
  const double c = std::cos(angle), s = std::sin(angle);
  const bool checker = d.below(2);
  const uint8_t dark = static_cast<uint8_t>(d.below(128));
  const uint8_t light = static_cast<uint8_t>(128 + d.below(128));
  for (int y = 0; y < big.rows; ++y) {
    auto *row = big.ptr<uint8_t>(y);
    for (int x = 0; x < big.cols; ++x) {
      int band = static_cast<int>(std::floor((x * c + y * s) / period)) & 1;
      if (checker) band ^= static_cast<int>(std::floor((y * c - x * s) / period)) & 1;
      row[x] = band ? light : dark;
    }
  }
}

// A linear ramp between two grey levels in a random direction.
void draw_ramp(Drawing &d, cv::Mat &big) {
  const double angle = d.uniform(0, 2 * CV_PI);
  const double c = std::cos(angle), s = std::sin(angle);
  const double from = d.below(256), to = d.below(256);
  const double half = 0.5 * std::hypot(big.cols, big.rows);
  for (int y = 0; y < big.rows; ++y) {
    auto *row = big.ptr<uint8_t>(y);
    for (int x = 0; x < big.cols; ++x) {
      const double t = ((x - big.cols / 2.0) * c + (y - big.rows / 2.0) * s) / half;  // -1..1
      row[x] = cv::saturate_cast<uint8_t>(from + (to - from) * (t + 1.0) / 2.0);
    }
  }
}

cv::Mat drawn(Kind kind, std::mt19937_64 &rng, int width, int height) {
  Drawing d{rng, cv::Size(width * kDrawScale, height * kDrawScale)};
  cv::Mat big = cv::Mat::zeros(d.canvas, CV_8UC1);
  switch (kind) {
    case Kind::kShapes: draw_shapes(d, big); break;
    case Kind::kStrokes: draw_strokes(d, big); break;
    case Kind::kArcs: draw_arcs(d, big); break;
    case Kind::kStripes: draw_stripes(d, big); break;
    default: draw_ramp(d, big); break;
  }
  cv::Mat small;
  cv::resize(big, small, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  return small;
}

// The image's kTiles x kTiles tiles in a random order (edge tiles take any
// remainder of a size that kTiles does not divide, and stay in place).
cv::Mat shuffled_tiles(const cv::Mat &image, std::mt19937_64 &rng) {
  const int tile_w = image.cols / kTiles, tile_h = image.rows / kTiles;
  std::vector<int> order(kTiles * kTiles);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  cv::Mat out = image.clone();
  for (int t = 0; t < kTiles * kTiles; ++t) {
    const cv::Rect from((order[t] % kTiles) * tile_w, (order[t] / kTiles) * tile_h, tile_w, tile_h);
    const cv::Rect to((t % kTiles) * tile_w, (t / kTiles) * tile_h, tile_w, tile_h);
    image(from).copyTo(out(to));
  }
  return out;
}

}  // namespace

int outlier_kinds() { return static_cast<int>(Kind::kCount); }

ImageSet generate_outliers(const ImageSet &source, std::size_t count, int label, uint64_t seed,
                           OutlierClasses classes) {
  if (source.size() == 0)
    throw Error(ErrorKind::kSettings, "Outliers are generated from training images; there are none.");
  if (source.width < 8 || source.height < 8)
    throw Error(ErrorKind::kSettings, "Generated outliers need at least 8 x 8 pixels, not " +
                                          std::to_string(source.width) + " x " +
                                          std::to_string(source.height) + ".");
  const bool per_kind = classes == OutlierClasses::kPerKind;
  ImageSet set;
  set.channels = source.channels;
  set.width = source.width;
  set.height = source.height;
  set.class_names.assign(static_cast<std::size_t>(label), "");
  if (per_kind)
    for (const char *kind : kKindNames)
      set.class_names.push_back(std::string(kOutlierClass) + ": " + kind);
  else
    set.class_names.push_back(kOutlierClass);
  std::mt19937_64 rng(seed);
  const int kinds = outlier_kinds();
  for (std::size_t i = 0; i < count; ++i) {
    const Kind kind = static_cast<Kind>(i % kinds);
    cv::Mat image;
    if (kind == Kind::kShuffled || kind == Kind::kInverted) {
      const cv::Mat original = source.to_mat(rng() % source.size());
      image = kind == Kind::kShuffled ? shuffled_tiles(original, rng) : cv::Scalar::all(255) - original;
    } else {
      image = drawn(kind, rng, source.width, source.height);
      if (source.channels == 3) cv::cvtColor(image, image, cv::COLOR_GRAY2BGR);
    }
    set.append(image, label + (per_kind ? static_cast<int>(kind) : 0));
  }
  return set;
}

ImageSet with_outlier_class(const ImageSet &set, std::size_t count, uint64_t seed,
                            OutlierClasses classes) {
  if (count == 0) return set;
  const int label = static_cast<int>(set.class_names.size());
  const ImageSet outliers = generate_outliers(set, count, label, seed, classes);
  ImageSet out = set;
  out.class_names.insert(out.class_names.end(), outliers.class_names.begin() + label,
                         outliers.class_names.end());
  out.pixels.insert(out.pixels.end(), outliers.pixels.begin(), outliers.pixels.end());
  out.labels.insert(out.labels.end(), outliers.labels.begin(), outliers.labels.end());
  return out;
}

}  // namespace siamese::trainer
