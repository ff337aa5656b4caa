// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Calibration of the element's open-set decisions on VALIDATION data (never
// on the test images the figures are reported on):
//
//   - the cohort: L2-normalised embeddings of a few hundred training images,
//     which the element normalises scores against (score_normalisation.h);
//   - thresholds at target false-accept rates: the decision's thresholds at
//     which the validation impostors (non-mated probes: images of other
//     classes; generated digits, noise, flat frames, held to at most 1 %
//     whatever the rate) are accepted at most that often, over random
//     K-per-class galleries of the validation classes.  Of the threshold pairs that hold the rate (a raw floor and a
//     normalised threshold, with normalisation), the one with the highest
//     detection-and-identification rate (DIR) is kept;
//   - the background: the mean embedding of each of the cohort's training
//     classes and its generated outliers, which a frame must not resemble
//     more than its best label (matcher.h);
//   - the recommended decision: normalisation on or off, cohort size and
//     sides (both, or the frame's alone: score_normalisation.h), margin,
//     background margin, the candidate with the highest validation DIR at
//     the chosen rate.
//
// Every decision is the element's own (siamese::Matcher / decide()).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model_contract.h"
#include "open_set.h"

namespace siamese::trainer {

struct CalibrationOptions {
  std::vector<double> rates{0.001, 0.01, 0.1};  // false-accept rates to calibrate
  double selection_rate = 0.01;  // the rate at which candidates are compared
  OpenSetOptions open_set;       // gallery size, draws, seed
  std::vector<int> cohort_tops{10, 20, 50};
  std::vector<CohortSides> cohort_sides{CohortSides::kBoth, CohortSides::kQuery};
  std::vector<double> margins{0.0, 0.02, 0.05, 0.1};
  // Background margins tried with a model that carries a background, each
  // against no background rule: cosine gaps from -0.2 (the label may be
  // well below the nearest background) to 0.1.
  std::vector<double> background_margins{-0.2,  -0.18, -0.16, -0.14, -0.12, -0.1,
                                         -0.08, -0.06, -0.04, -0.02, 0.0,   0.02,
                                         0.04,  0.06,  0.08,  0.1};
  // The non-mated groups after the first (generated frames, an impostor
  // folder: frames that show no item of the kind enrolled) are held to at
  // most this rate, whatever rate is calibrated; the first (never-enrolled
  // classes of the same kind) to the rate itself.  A camera sees such frames
  // most of the time, the empty scene above all: a rate that suits
  // look-alike items would raise an alarm on every tenth empty frame.
  double later_groups_cap = 0.01;
};

// One decision candidate's validation figures at the selection rate.
struct CandidateFigures {
  bool normalise = false;
  int cohort_top = 0;
  CohortSides cohort_sides = CohortSides::kBoth;  // with normalise
  double margin = 0.0;
  CalibratedThreshold point;  // at the selection rate
  double dir = 0.0;           // validation DIR there (galleries pooled)
};

struct Calibration {
  std::vector<CandidateFigures> candidates;  // every candidate tried
  DecisionRecommendation recommended;
  std::vector<CalibratedThreshold> points;  // raw and (with a cohort) normalised, every rate
  std::vector<double> point_dirs;           // validation DIR at each point
};

// The calibrated point of `settings` (its normalise, cohort top and sides,
// and margin; its background margin is not read) at `rate`, with no
// background rule or (with the model's background) the one of
// `background_margins` that gives the highest DIR: thresholds such that the
// first non-mated group of `data` is accepted at most `rate` of the time and
// every later one at most min(rate, later_groups_cap), over the options'
// galleries, with the highest DIR; `dir` receives that DIR.  Throws what
// evaluate_open_set() throws for unusable data.
CalibratedThreshold calibrate_at(const OpenSetData &data, const MatcherSettings &settings,
                                 const ModelContract &model, double rate,
                                 const OpenSetOptions &options, double *dir = nullptr,
                                 double later_groups_cap = 1.0,
                                 const std::vector<double> &background_margins = {});

// Tries every candidate (normalisation off with each margin; with the
// model's cohort, on with each cohort size, sides and margin; with its background,
// each with the best background margin or none), recommends the best at
// options.selection_rate, and calibrates its points at every rate, each
// with its own background margin (raw points always; normalised ones with a
// cohort).
Calibration calibrate(const OpenSetData &data, const ModelContract &model,
                      const CalibrationOptions &options);

// The candidates and the calibrated points as a table / a JSON object.
std::string format_calibration(const Calibration &calibration);
std::string calibration_json(const Calibration &calibration);

}  // namespace siamese::trainer
