// SPDX-License-Identifier: LGPL-2.1-or-later
#include "decision_settings.h"

#include "errors.h"

namespace siamese {

const char *to_string(Normalisation normalisation) {
  switch (normalisation) {
    case Normalisation::kAuto: return "auto";
    case Normalisation::kOn: return "on";
    case Normalisation::kOff: return "off";
  }
  return "auto";
}

namespace {

// The request's; else the calibrated point's in force (with or without
// one: it was calibrated so); else the model's recommendation.  None without
// a background.
std::optional<double> resolve_background_margin(const DecisionRequest &request,
                                                const ModelContract &contract,
                                                const CalibratedThreshold *point) {
  if (contract.background.empty()) {
    if (request.background_margin)
      throw Error(ErrorKind::kSettings,
                  "A background margin is set, but the model carries no background to compare "
                  "frames with (siamese-train calibrate writes one): leave it unset.");
    return std::nullopt;
  }
  if (request.background_margin) return request.background_margin;
  if (point) return point->background_margin;
  return contract.recommended.background_margin;
}

}  // namespace

double default_threshold(Metric metric) { return metric == Metric::kEuclidean ? 1.0 : 0.5; }

bool normalises(Normalisation normalisation, const ModelContract &contract) {
  switch (normalisation) {
    case Normalisation::kOff: return false;
    case Normalisation::kAuto:
      return !contract.cohort.empty() && contract.recommended.normalise.value_or(true);
    case Normalisation::kOn:
      if (contract.cohort.empty())
        throw Error(ErrorKind::kSettings,
                    "Score normalisation is on, but the model carries no cohort to normalise "
                    "against (a model trained by siamese-train carries one): set it to auto or "
                    "off.");
      return true;
  }
  return false;
}

void resolve_normalisation(Normalisation normalisation, const ModelContract &contract,
                           MatcherSettings &settings) {
  settings.normalise = normalises(normalisation, contract);
  settings.cohort_top = contract.recommended.cohort_top.value_or(decision_defaults::kCohortTop);
  settings.cohort_sides = contract.recommended.cohort_sides.value_or(CohortSides::kBoth);
}

MatcherSettings resolve_decision(const DecisionRequest &request, const ModelContract &contract,
                                 MatcherSettings settings, ThresholdSource *source) {
  ThresholdSource local;
  ThresholdSource &from = source ? *source : local;
  settings.metric = request.metric;
  resolve_normalisation(request.normalisation, contract, settings);
  settings.margin = request.margin ? *request.margin
                                   : contract.recommended.margin.value_or(decision_defaults::kMargin);

  const CalibratedThreshold *normalised_point =
      settings.normalise
          ? contract.calibrated_at(request.metric, true, request.false_accept_rate)
          : nullptr;
  const CalibratedThreshold *raw_point =
      contract.calibrated_at(request.metric, false, request.false_accept_rate);
  const auto eer = contract.thresholds.find(request.metric);
  if (request.threshold) {
    settings.threshold = *request.threshold;
    from = ThresholdSource::kProperty;
  } else if (normalised_point) {
    settings.threshold = normalised_point->threshold;
    from = ThresholdSource::kCalibratedNormalised;
  } else if (raw_point) {
    settings.threshold = raw_point->threshold;
    from = ThresholdSource::kCalibratedRaw;
  } else if (eer != contract.thresholds.end()) {
    settings.threshold = eer->second;
    from = ThresholdSource::kModelEer;
  } else {
    settings.threshold = default_threshold(request.metric);
    from = ThresholdSource::kDefault;
  }
  settings.normalised_threshold =
      request.normalised_threshold ? *request.normalised_threshold
      : normalised_point           ? normalised_point->normalised_threshold
                                   : decision_defaults::kNormalisedThreshold;
  settings.background_margin = resolve_background_margin(
      request, contract, normalised_point ? normalised_point : raw_point);
  return settings;
}

}  // namespace siamese
