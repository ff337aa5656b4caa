// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The model contract: everything the element needs to know to feed an
// embedding network and to interpret its output, written by the trainer into
// the ONNX file's `metadata_props` and read back by the element.  This module
// is the only place that spells the metadata keys.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace siamese {

// Channel layout the network expects in its input blob.
enum class ColorOrder { kGray, kRgb, kBgr };

// How a frame's similarity to a reference is scored.
//   kCosine:    score = cosine similarity of the L2-normalised embeddings.
//   kEuclidean: score = -distance; the threshold applies to the distance.
//   kLearned:   score = the pair head's match probability in [0, 1].
enum class Metric { kCosine, kEuclidean, kLearned };

// Which sides' cohort statistics normalise a score (score_normalisation.h).
enum class CohortSides {
  kBoth,   // the frame's and the template's (AS-norm)
  kQuery,  // the frame's alone
};

const char *to_string(ColorOrder order);
const char *to_string(Metric metric);
const char *to_string(CohortSides sides);
// These throw std::invalid_argument naming the value and the accepted ones.
ColorOrder color_order_from_string(const std::string &text);
Metric metric_from_string(const std::string &text);
// `what` names the value in the message (a metadata key, say).
CohortSides cohort_sides_from_string(const std::string &text,
                                     const std::string &what = "cohort sides");

// One fully connected layer of the learned pair head, W is [out, in] row-major.
struct DenseLayer {
  int in = 0;
  int out = 0;
  std::vector<float> weight;
  std::vector<float> bias;
};

// The founding pair head: z = |h1 - h2| of the L2-normalised embeddings,
// dense layers with ReLU between them, the last one has a single output
// followed by a sigmoid.
struct PairHead {
  std::vector<DenseLayer> layers;
  bool empty() const { return layers.empty(); }
  // Throws std::invalid_argument if the shapes do not chain, the last layer
  // does not have one output or the first does not take `embedding_dim`.
  void validate(int embedding_dim) const;
};

// Preprocessing: the frame is resized (stretched) to width x height, converted
// to `color`, and each channel value v in [0, 255] becomes (v - mean[c]) * scale[c].
struct Preprocessing {
  int width = 0;
  int height = 0;
  ColorOrder color = ColorOrder::kRgb;
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> scale{1.f / 255.f, 1.f / 255.f, 1.f / 255.f};

  int channels() const { return color == ColorOrder::kGray ? 1 : 3; }
  bool complete() const { return width > 0 && height > 0; }
};

// Embeddings of a few hundred training images, written by the trainer, that
// the element normalises scores against (score_normalisation.h): a frame
// that is about as similar to a template as to everything in the cohort is
// not a match.
struct Cohort {
  int count = 0;
  std::vector<float> embeddings;  // count x embedding_dim, row-major, rows L2-normalised
  bool empty() const { return count == 0; }
};

// The model's background: embeddings of what no enrolled label should ever
// match, written by the trainer's calibration (the mean embedding of each
// training class, and generated outliers such as shapes and strokes).  A
// frame more like the nearest of them than like its best label, by the
// background margin, is unknown (matcher.h).  The same shape as a cohort.
using Background = Cohort;

// A decision threshold the trainer calibrated at a target false-accept rate
// on validation impostors (images of classes never enrolled).  A normalised
// point holds two thresholds that must both pass: the raw score's floor and
// the normalised score's threshold (normalisation alone lets through frames
// that are similar to nothing, such as flat frames).  A point may hold a
// background margin too (the background rule, matcher.h), calibrated with
// its thresholds.
struct CalibratedThreshold {
  Metric metric = Metric::kCosine;
  bool normalised = false;           // calibrated for decisions normalised against the cohort
  double false_accept_rate = 0.0;    // in (0, 1)
  float threshold = 0.f;             // the raw score's threshold, in the metric's units
  float normalised_threshold = 0.f;  // the normalised score's threshold (normalised points only)
  std::optional<float> background_margin = std::nullopt;  // absent: no background rule here
  bool operator==(const CalibratedThreshold &other) const {
    return metric == other.metric && normalised == other.normalised &&
           false_accept_rate == other.false_accept_rate && threshold == other.threshold &&
           normalised_threshold == other.normalised_threshold &&
           background_margin == other.background_margin;
  }
};

// The decision settings the trainer measured best on validation data.
// Absent ones leave the element's own defaults.
struct DecisionRecommendation {
  std::optional<bool> normalise;  // normalise scores against the cohort
  std::optional<int> cohort_top;  // how many of the nearest cohort scores give each side's statistics
  // Whose statistics normalise; the calibrated normalised points hold for these.
  std::optional<CohortSides> cohort_sides;
  std::optional<float> margin;    // the best label must beat the second by this, in score units
  // The best label's cosine must beat the nearest background embedding's by
  // this (negative: may fall short of it by that much); absent: no such rule.
  std::optional<float> background_margin = std::nullopt;
  bool operator==(const DecisionRecommendation &other) const {
    return normalise == other.normalise && cohort_top == other.cohort_top &&
           cohort_sides == other.cohort_sides && margin == other.margin &&
           background_margin == other.background_margin;
  }
};

struct ModelContract {
  Preprocessing input;
  int embedding_dim = 0;  // 0: unknown, taken from the first forward pass
  Metric metric = Metric::kCosine;
  // Calibrated decision thresholds per metric (cosine similarity, L2 distance
  // of normalised embeddings, head probability); absent when not calibrated.
  std::map<Metric, float> thresholds;
  PairHead head;
  std::string training_summary;  // free text (JSON) describing how it was trained
  Cohort cohort;                 // empty when the trainer wrote none
  Background background;         // empty when the trainer wrote none
  std::vector<CalibratedThreshold> calibrated;  // sorted by metric, normalised, rate
  DecisionRecommendation recommended;
  // The size of the square frames that calibration showed its images in
  // (calibrate --frame-size): enlarged to N x N, then shrunk to the input as
  // the element shrinks a frame.  The calibrated rates hold for frames made
  // that way.  0: the images reached the network at its input size.
  int calibration_frame_size = 0;

  // The calibrated point for `metric` and `normalised` at the largest rate
  // not above `false_accept_rate` (so the rate in force is never looser than
  // asked for); nullptr when the model has none that low.
  const CalibratedThreshold *calibrated_at(Metric metric, bool normalised,
                                           double false_accept_rate) const;

  // Serialises to / parses from ONNX metadata_props.  from_metadata() keeps
  // defaults for absent keys and throws std::invalid_argument naming the key
  // for a malformed value (a cohort or background whose size is not count x
  // embedding dimension, or whose rows are not finite and L2-normalised,
  // included).
  std::map<std::string, std::string> to_metadata() const;
  static ModelContract from_metadata(const std::map<std::string, std::string> &props);
  // True when the metadata carries any contract key at all.
  static bool present_in(const std::map<std::string, std::string> &props);
};

// Parses "a,b,c" (or a single value, broadcast) into three floats; throws
// std::invalid_argument naming `what` when malformed.
std::array<float, 3> parse_triple(const std::string &text, const std::string &what);
std::string format_triple(const std::array<float, 3> &values);

}  // namespace siamese
