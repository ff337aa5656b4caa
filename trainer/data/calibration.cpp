// SPDX-License-Identifier: LGPL-2.1-or-later
#include "calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "report_text.h"

namespace siamese::trainer {
namespace {

constexpr double kNever = -std::numeric_limits<double>::infinity();
// Raw floors tried under a normalised threshold: the cosine range in steps
// of 0.02 (from -1, which lets everything through).
constexpr double kLowestFloor = -1.0, kFloorStep = 0.02;
constexpr int kFloors = 100;

// Each probe's score under a raw floor: the normalised score (or the raw one)
// of a probe that passes the other rules and the floor, else -infinity.
std::vector<double> scores_over(const std::vector<ProbeOutcome> &outcomes, double floor,
                                bool normalised) {
  std::vector<double> scores;
  scores.reserve(outcomes.size());
  for (const ProbeOutcome &o : outcomes)
    scores.push_back(o.passes_other_rules && o.raw >= floor ? (normalised ? o.normalised : o.raw)
                                                            : kNever);
  return scores;
}

// The threshold at which no group is accepted more often than its rate:
// `rate` for the first, at most `later_cap` for the others.
double strictest_threshold(const PooledOutcomes &pooled, double floor, bool normalised,
                           double rate, double later_cap) {
  double threshold = kNever;
  for (std::size_t g = 0; g < pooled.non_mated.size(); ++g) {
    const double group_rate = g == 0 ? rate : std::min(rate, later_cap);
    threshold = std::max(threshold, threshold_at_rate(
                                        scores_over(pooled.non_mated[g], floor, normalised), group_rate));
  }
  return threshold;
}

double dir_at(const PooledOutcomes &pooled, double floor, double threshold, bool normalised) {
  std::size_t right = 0;
  for (const ProbeOutcome &o : pooled.mated) {
    if (o.right && o.passes_other_rules && o.raw >= floor &&
        (normalised ? o.normalised : o.raw) >= threshold)
      ++right;
  }
  return pooled.mated.empty() ? 0.0 : static_cast<double>(right) / pooled.mated.size();
}

// A float the model can store: -infinity (everything passes) becomes the
// lowest float.
float storable(double threshold) {
  return std::isinf(threshold) ? std::numeric_limits<float>::lowest()
                               : static_cast<float>(threshold);
}

MatcherSettings candidate_settings(bool normalise, int cohort_top, double margin) {
  MatcherSettings settings;
  settings.metric = Metric::kCosine;
  settings.normalise = normalise;
  settings.cohort_top = cohort_top;
  settings.margin = margin;
  return settings;
}

std::string describe(const CandidateFigures &c) {
  return c.normalise ? "normalised, cohort top " + std::to_string(c.cohort_top) +
                           format(", margin %.2f", c.margin)
                     : format("raw, margin %.2f", c.margin);
}

std::string point_text(const CalibratedThreshold &p) {
  return p.normalised ? format("floor %.4f", p.threshold) +
                            format(", normalised %.4f", p.normalised_threshold)
                      : format("raw %.4f", p.threshold);
}

std::string point_json(const CalibratedThreshold &p, double dir) {
  return "{\"normalised\": " + std::string(p.normalised ? "true" : "false") +
         ", \"rate\": " + format("%g", p.false_accept_rate) +
         ", \"threshold\": " + format("%.6f", p.threshold) +
         (p.normalised ? ", \"normalised_threshold\": " + format("%.6f", p.normalised_threshold)
                       : std::string()) +
         ", \"validation_dir\": " + format("%.4f", dir) + "}";
}

}  // namespace

CalibratedThreshold calibrate_at(const OpenSetData &data, const MatcherSettings &settings,
                                 const Cohort &cohort, double rate,
                                 const OpenSetOptions &options, double *dir,
                                 double later_groups_cap) {
  const PooledOutcomes pooled = pooled_outcomes(data, settings, PairHead{}, cohort, options);
  CalibratedThreshold point;
  point.metric = settings.metric;
  point.normalised = settings.normalise;
  point.false_accept_rate = rate;
  double best_dir = -1.0;
  if (!settings.normalise) {
    const double threshold = strictest_threshold(pooled, kNever, false, rate, later_groups_cap);
    point.threshold = storable(threshold);
    best_dir = dir_at(pooled, kNever, threshold, false);
  } else {
    // The floor with the highest DIR; on a tie the higher floor, which
    // keeps more of what normalisation alone would let through.
    for (int f = 0; f < kFloors; ++f) {
      const double floor = kLowestFloor + f * kFloorStep;
      const double threshold = strictest_threshold(pooled, floor, true, rate, later_groups_cap);
      const double candidate = dir_at(pooled, floor, threshold, true);
      if (candidate >= best_dir) {
        best_dir = candidate;
        point.threshold = storable(floor);
        point.normalised_threshold = storable(threshold);
      }
    }
  }
  if (dir) *dir = best_dir;
  return point;
}

Calibration calibrate(const OpenSetData &data, const Cohort &cohort,
                      const CalibrationOptions &options) {
  Calibration calibration;
  std::vector<MatcherSettings> candidates;
  for (double margin : options.margins) {
    candidates.push_back(candidate_settings(false, 0, margin));
    if (cohort.empty()) continue;
    for (int top : options.cohort_tops) candidates.push_back(candidate_settings(true, top, margin));
  }
  const CandidateFigures *best = nullptr;
  const CandidateFigures *best_normalised = nullptr;
  calibration.candidates.reserve(candidates.size());
  for (const MatcherSettings &settings : candidates) {
    CandidateFigures figures;
    figures.normalise = settings.normalise;
    figures.cohort_top = settings.normalise ? settings.cohort_top : 0;
    figures.margin = settings.margin;
    figures.point = calibrate_at(data, settings, cohort, options.selection_rate, options.open_set,
                                 &figures.dir, options.later_groups_cap);
    calibration.candidates.push_back(figures);
  }
  // The simplest candidate wins a tie: candidates come simplest first.
  for (const CandidateFigures &c : calibration.candidates) {
    if (!best || c.dir > best->dir) best = &c;
  }
  for (const CandidateFigures &c : calibration.candidates) {
    if (c.normalise && c.margin == best->margin && (!best_normalised || c.dir > best_normalised->dir))
      best_normalised = &c;
  }
  calibration.recommended.normalise = best->normalise;
  calibration.recommended.margin = static_cast<float>(best->margin);
  if (best_normalised) calibration.recommended.cohort_top = best_normalised->cohort_top;

  for (const bool normalised : {false, true}) {
    if (normalised && !best_normalised) continue;
    const MatcherSettings settings = candidate_settings(
        normalised, normalised ? best_normalised->cohort_top : 0, best->margin);
    for (double rate : options.rates) {
      double dir = 0.0;
      calibration.points.push_back(
          calibrate_at(data, settings, cohort, rate, options.open_set, &dir,
                       options.later_groups_cap));
      calibration.point_dirs.push_back(dir);
    }
  }
  return calibration;
}

std::string format_calibration(const Calibration &calibration) {
  std::ostringstream text;
  text << "Calibration on validation data (galleries pooled)\n"
       << "  candidate                                   thresholds at the selection rate"
          "           DIR\n";
  for (const CandidateFigures &c : calibration.candidates) {
    char line[200];
    std::snprintf(line, sizeof line, "  %-43s %-40s %6.4f\n", describe(c).c_str(),
                  point_text(c.point).c_str(), c.dir);
    text << line;
  }
  const DecisionRecommendation &r = calibration.recommended;
  text << "  recommended: normalisation " << (r.normalise.value_or(false) ? "on" : "off")
       << (r.cohort_top ? ", cohort top " + std::to_string(*r.cohort_top) : std::string())
       << format(", margin %.2f", r.margin.value_or(0.f)) << "\n  calibrated points:\n";
  for (std::size_t i = 0; i < calibration.points.size(); ++i) {
    const CalibratedThreshold &p = calibration.points[i];
    text << "    " << (p.normalised ? "normalised" : "raw       ") << " at "
         << format("%5.1f %%", 100.0 * p.false_accept_rate) << ": " << point_text(p)
         << format(", validation DIR %.4f\n", calibration.point_dirs[i]);
  }
  return text.str();
}

std::string calibration_json(const Calibration &calibration) {
  std::string json = "{\"candidates\": [";
  for (std::size_t i = 0; i < calibration.candidates.size(); ++i) {
    const CandidateFigures &c = calibration.candidates[i];
    json += std::string(i ? ", " : "") + "{\"normalise\": " + (c.normalise ? "true" : "false") +
            ", \"cohort_top\": " + std::to_string(c.cohort_top) +
            ", \"margin\": " + format("%g", c.margin) + ", \"point\": " + point_json(c.point, c.dir) +
            "}";
  }
  const DecisionRecommendation &r = calibration.recommended;
  json += "], \"recommended\": {\"normalise\": " +
          std::string(r.normalise.value_or(false) ? "true" : "false") +
          ", \"cohort_top\": " + std::to_string(r.cohort_top.value_or(0)) +
          ", \"margin\": " + format("%g", r.margin.value_or(0.f)) + "}, \"points\": [";
  for (std::size_t i = 0; i < calibration.points.size(); ++i)
    json += (i ? ", " : "") + point_json(calibration.points[i], calibration.point_dirs[i]);
  return json + "]}";
}

}  // namespace siamese::trainer
