// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Which decision settings are in force: what the user asked for (the
// element's properties), else what the model carries (thresholds calibrated
// at a false-accept rate, recommended settings), else the defaults
// (decision_defaults.h).  One function, so the element, the tools and the
// tests resolve them alike.
#pragma once

#include <optional>
#include <string>

#include "matcher.h"
#include "model_contract.h"

namespace siamese {

// Score normalisation against the model's cohort.
enum class Normalisation {
  kAuto,  // as the model recommends; without a recommendation, on when it has a cohort
  kOn,
  kOff,
};

const char *to_string(Normalisation normalisation);

// What the user asked for; nullopt leaves the value to the model or the default.
struct DecisionRequest {
  Metric metric = Metric::kCosine;
  Normalisation normalisation = Normalisation::kAuto;
  double false_accept_rate = decision_defaults::kFalseAcceptRate;
  std::optional<double> threshold;
  std::optional<double> normalised_threshold;
  std::optional<double> margin;
  std::optional<double> background_margin;
};

// Where the raw threshold in force came from (for logs and documentation).
enum class ThresholdSource { kProperty, kCalibratedNormalised, kCalibratedRaw, kModelEer, kDefault };

// The threshold for models without any (cosine 0.5 and euclidean 1.0
// describe the same boundary: |a - b|^2 = 2 - 2 cos for unit vectors).
double default_threshold(Metric metric);

// Whether scores are normalised.  Throws siamese::Error kSettings for
// normalisation on with a model that carries no cohort.
bool normalises(Normalisation normalisation, const ModelContract &contract);

// Sets settings.normalise, settings.cohort_top (the model's recommended
// cohort size, else the default) and settings.cohort_sides (the model's,
// else both): what a Matcher is built with.  Throws as
// normalises() does.
void resolve_normalisation(Normalisation normalisation, const ModelContract &contract,
                           MatcherSettings &settings);

// `settings` with every decision field (and normalise, cohort_top) set for
// `request` and `contract`; its search fields (metric aside, which the
// request gives) are kept.  The raw threshold: the request's; else, at the
// largest calibrated rate not above request.false_accept_rate, the
// normalised point's floor (with normalisation) or the raw point; else the
// model's equal-error threshold; else default_threshold().  The normalised
// threshold: the request's, else the normalised point's, else the default.
// The margin and cohort size: the request's (margin), else the model's
// recommendation, else the default.  The background margin (with a model
// that carries a background, else none): the request's, else the calibrated
// point's in force, else the model's recommendation, else none; throws
// siamese::Error kSettings for a requested one with a model that carries no
// background.  `source` (optional) says where the raw threshold came from.
MatcherSettings resolve_decision(const DecisionRequest &request, const ModelContract &contract,
                                 MatcherSettings settings = {}, ThresholdSource *source = nullptr);

}  // namespace siamese
