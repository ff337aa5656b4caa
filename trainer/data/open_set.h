// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Open-set identification (1:N with a reject option), the protocol NIST's
// face recognition vendor tests report: a gallery of K images of each
// enrolled class; MATED probes (other images of the enrolled classes) must
// get their own label, NON-MATED probes (anything never enrolled) must be
// called unknown.
//
//   DIR  (detection and identification rate): mated probes given their right
//        label, i.e. accepted and right;
//   FPIR (false positive identification rate): non-mated probes accepted as
//        any enrolled label.
//
// Every decision is the element's own: a siamese::Matcher over the drawn
// gallery decides each probe with the settings under test, so the figures
// measure exactly the rules the element applies.  A sweep of the threshold
// those settings compare (the normalised score's when one is in force)
// gives the DIR-vs-FPIR curve; the operating points are then decided again by
// the Matcher at their thresholds.  The gallery is drawn `draws` times
// (fixed seeds); each figure is the mean over draws and its spread (sample
// standard deviation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "matcher.h"
#include "model_contract.h"

namespace siamese::trainer {

struct OpenSetOptions {
  int gallery_size = 3;  // K images per enrolled class
  int draws = 5;         // random galleries
  uint64_t seed = 1;
  // FPIR targets of the operating points, measured on the first non-mated group.
  std::vector<double> target_fpirs{0.001, 0.01, 0.1};
};

// Probes of one kind, embedded (rows L2-normalised).
struct ProbeGroup {
  std::string name;
  cv::Mat embeddings;
};

struct OpenSetData {
  // Images of the enrolled classes: each draw takes K of each class as the
  // gallery and keeps the rest as mated probes.
  cv::Mat enrolled;
  std::vector<int> enrolled_labels;
  std::vector<std::string> class_names;  // enrolled_labels index these
  std::vector<ProbeGroup> non_mated;     // at least one group
};

// One decision rule under test: the element's matcher settings.
struct Decision {
  std::string name;
  MatcherSettings settings;
};

struct Spread {
  double mean = 0.0;
  double spread = 0.0;  // sample standard deviation over the draws (0 for one draw)
};

struct OperatingPoint {
  std::string name;
  Spread threshold;            // the swept threshold, in its own units
  Spread dir;                  // mated probes given their right label
  Spread wrong_label;          // mated probes accepted with another label
  std::vector<Spread> accepted;  // per non-mated group: accepted as an enrolled label
};

struct CurvePoint {
  double fpir = 0.0;
  double dir = 0.0;  // mean over draws at that FPIR
};

struct DecisionFigures {
  std::string name;
  std::string swept;  // what the sweep moves: "cosine", "normalised score", ...
  // At the decision's own settings first, then at each target FPIR of the
  // first non-mated group.
  std::vector<OperatingPoint> points;
  std::vector<std::vector<CurvePoint>> curves;  // per non-mated group
};

struct OpenSetReport {
  OpenSetOptions options;
  std::vector<std::string> enrolled_classes;
  std::size_t gallery = 0;  // templates per draw
  std::size_t mated = 0;    // mated probes per draw
  std::vector<std::pair<std::string, std::size_t>> non_mated;  // group names and sizes
  std::vector<DecisionFigures> decisions;
};

// Runs the protocol for each decision.  Of `model`, the head serves
// metric=learned, the cohort decisions that normalise, the background
// decisions with a background margin.  Throws siamese::Error (kSettings) when a
// class has no more than K images, there is no non-mated group, or a group
// is empty.
OpenSetReport evaluate_open_set(const OpenSetData &data, const std::vector<Decision> &decisions,
                                const ModelContract &model, const OpenSetOptions &options);

// How one probe fares under a decision whose thresholds are all lowered to
// -infinity and whose background margin is lifted: whether the other rules
// (margin, the background label) let it through, whether it got its right
// label (mated probes), the best label's raw and normalised scores (the raw
// one again without normalisation; larger = more alike, a distance negated)
// and its background gap: the best label's cosine minus the nearest
// background embedding's (+infinity without a background), which a
// background margin must not exceed.
struct ProbeOutcome {
  bool passes_other_rules = false;
  bool right = false;
  double raw = 0.0;
  double normalised = 0.0;
  double background_gap = 0.0;
};

struct PooledOutcomes {
  std::vector<ProbeOutcome> mated;                   // every draw's, one after the other
  std::vector<std::vector<ProbeOutcome>> non_mated;  // per group, every draw's
};

// The outcomes of every probe over the options' galleries (checked as
// evaluate_open_set() checks them): what threshold calibration searches.
PooledOutcomes pooled_outcomes(const OpenSetData &data, const MatcherSettings &settings,
                               const ModelContract &model, const OpenSetOptions &options);

// The threshold at which at most `target` of `scores` pass (score >= t): the
// calibration of a threshold at a false-accept rate.  -infinity when every
// score may pass.  The smallest such value a float holds, so it survives
// being stored in a model as a float.
double threshold_at_rate(std::vector<double> scores, double target);

// The open-set table (one block per decision).
std::string format_open_set(const OpenSetReport &report);
// The same as a JSON object.
std::string open_set_json(const OpenSetReport &report);
// Draws the DIR-vs-FPIR curves (log FPIR axis) of every decision and group
// into a PNG, written atomically.  Throws siamese::Error (kOpenRead) when the
// file cannot be written.
void write_open_set_curve(const OpenSetReport &report, const std::string &png_path);

}  // namespace siamese::trainer
