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

// Whether a probe passes the other rules, the raw floor and the background
// margin (none: no background rule).
bool passes(const ProbeOutcome &o, double floor, const std::optional<double> &background_margin) {
  return o.passes_other_rules && o.raw >= floor &&
         (!background_margin || o.background_gap >= *background_margin);
}

// Each probe's score under a raw floor and background margin: the
// normalised score (or the raw one) of a probe that passes them, else
// -infinity.
std::vector<double> scores_over(const std::vector<ProbeOutcome> &outcomes, double floor,
                                const std::optional<double> &background_margin, bool normalised) {
  std::vector<double> scores;
  scores.reserve(outcomes.size());
  for (const ProbeOutcome &o : outcomes)
    scores.push_back(passes(o, floor, background_margin) ? (normalised ? o.normalised : o.raw)
                                                         : kNever);
  return scores;
}

// How one point is searched: its pooled outcomes, the rate and the cap.
struct PointSearch {
  const PooledOutcomes &pooled;
  bool normalised;
  double rate;
  double later_cap;
};

// The threshold at which no group is accepted more often than its rate:
// `rate` for the first, at most `later_cap` for the others.
double strictest_threshold(const PointSearch &search, double floor,
                           const std::optional<double> &background_margin) {
  double threshold = kNever;
  for (std::size_t g = 0; g < search.pooled.non_mated.size(); ++g) {
    const double group_rate = g == 0 ? search.rate : std::min(search.rate, search.later_cap);
    threshold = std::max(
        threshold, threshold_at_rate(scores_over(search.pooled.non_mated[g], floor,
                                                 background_margin, search.normalised),
                                     group_rate));
  }
  return threshold;
}

double dir_at(const PointSearch &search, double floor,
              const std::optional<double> &background_margin, double threshold) {
  std::size_t right = 0;
  for (const ProbeOutcome &o : search.pooled.mated) {
    if (o.right && passes(o, floor, background_margin) &&
        (search.normalised ? o.normalised : o.raw) >= threshold)
      ++right;
  }
  return search.pooled.mated.empty() ? 0.0
                                     : static_cast<double>(right) / search.pooled.mated.size();
}

// A float the model can store: -infinity (everything passes) becomes the
// lowest float.
float storable(double threshold) {
  return std::isinf(threshold) ? std::numeric_limits<float>::lowest()
                               : static_cast<float>(threshold);
}

MatcherSettings candidate_settings(bool normalise, int cohort_top, CohortSides sides,
                                   double margin) {
  MatcherSettings settings;
  settings.metric = Metric::kCosine;
  settings.normalise = normalise;
  settings.cohort_top = cohort_top;
  settings.cohort_sides = sides;
  settings.margin = margin;
  return settings;
}

std::string describe(const CandidateFigures &c) {
  return c.normalise ? std::string(c.cohort_sides == CohortSides::kQuery ? "query-normalised"
                                                                      : "normalised") +
                           ", cohort top " + std::to_string(c.cohort_top) +
                           format(", margin %.2f", c.margin)
                     : format("raw, margin %.2f", c.margin);
}

// A stored threshold as text: "any" for the lowest float (everything passes).
std::string threshold_text(float threshold) {
  return threshold == std::numeric_limits<float>::lowest() ? "any" : format("%.4f", threshold);
}

std::string point_text(const CalibratedThreshold &p) {
  return (p.normalised ? "floor " + threshold_text(p.threshold) +
                             ", normalised " + threshold_text(p.normalised_threshold)
                       : "raw " + threshold_text(p.threshold)) +
         (p.background_margin ? format(", background %+.2f", *p.background_margin)
                              : std::string());
}

template <typename T>
std::string optional_json(const std::optional<T> &value) {
  return value ? format("%g", static_cast<double>(*value)) : std::string("null");
}

std::string point_json(const CalibratedThreshold &p, double dir) {
  return "{\"normalised\": " + std::string(p.normalised ? "true" : "false") +
         ", \"rate\": " + format("%g", p.false_accept_rate) +
         ", \"threshold\": " + format("%.6f", p.threshold) +
         (p.normalised ? ", \"normalised_threshold\": " + format("%.6f", p.normalised_threshold)
                       : std::string()) +
         ", \"background_margin\": " + optional_json(p.background_margin) +
         ", \"validation_dir\": " + format("%.4f", dir) + "}";
}

// A point's thresholds and its DIR under one background margin: the raw
// threshold alone, or with normalisation the raw floor (of kFloors) with
// the highest DIR and its normalised threshold.
struct SearchedPoint {
  double floor = kNever, threshold = kNever, dir = -1.0;
};

SearchedPoint best_point(const PointSearch &search,
                         const std::optional<double> &background_margin) {
  SearchedPoint best;
  if (!search.normalised) {
    best.threshold = strictest_threshold(search, kNever, background_margin);
    best.dir = dir_at(search, kNever, background_margin, best.threshold);
    return best;
  }
  // On a tie the higher floor, which keeps more of what normalisation alone
  // would let through.
  for (int f = 0; f < kFloors; ++f) {
    const double floor = kLowestFloor + f * kFloorStep;
    const double threshold = strictest_threshold(search, floor, background_margin);
    const double dir = dir_at(search, floor, background_margin, threshold);
    if (dir >= best.dir) best = {floor, threshold, dir};
  }
  return best;
}

CalibratedThreshold stored_point(const MatcherSettings &settings, double rate,
                                 const SearchedPoint &searched,
                                 const std::optional<double> &background_margin) {
  CalibratedThreshold point;
  point.metric = settings.metric;
  point.normalised = settings.normalise;
  point.false_accept_rate = rate;
  point.threshold = storable(settings.normalise ? searched.floor : searched.threshold);
  if (settings.normalise) point.normalised_threshold = storable(searched.threshold);
  if (background_margin) point.background_margin = static_cast<float>(*background_margin);
  return point;
}

}  // namespace

CalibratedThreshold calibrate_at(const OpenSetData &data, const MatcherSettings &settings,
                                 const ModelContract &model, double rate,
                                 const OpenSetOptions &options, double *dir,
                                 double later_groups_cap,
                                 const std::vector<double> &background_margins) {
  const PooledOutcomes pooled = pooled_outcomes(data, settings, model, options);
  const PointSearch search{pooled, settings.normalise, rate, later_groups_cap};
  SearchedPoint best = best_point(search, std::nullopt);
  std::optional<double> best_margin;
  // A rule must earn its place: only a strictly higher DIR brings one in.
  if (!model.background.empty()) {
    for (double margin : background_margins) {
      const SearchedPoint with_rule = best_point(search, margin);
      if (with_rule.dir > best.dir) {
        best = with_rule;
        best_margin = margin;
      }
    }
  }
  if (dir) *dir = best.dir;
  return stored_point(settings, rate, best, best_margin);
}

Calibration calibrate(const OpenSetData &data, const ModelContract &model,
                      const CalibrationOptions &options) {
  Calibration calibration;
  std::vector<MatcherSettings> candidates;
  for (double margin : options.margins) {
    candidates.push_back(candidate_settings(false, 0, CohortSides::kBoth, margin));
    if (model.cohort.empty()) continue;
    for (int top : options.cohort_tops)
      for (CohortSides sides : options.cohort_sides)
        candidates.push_back(candidate_settings(true, top, sides, margin));
  }
  calibration.candidates.reserve(candidates.size());
  for (const MatcherSettings &settings : candidates) {
    CandidateFigures figures;
    figures.normalise = settings.normalise;
    figures.cohort_top = settings.normalise ? settings.cohort_top : 0;
    figures.cohort_sides = settings.cohort_sides;
    figures.margin = settings.margin;
    figures.point = calibrate_at(data, settings, model, options.selection_rate, options.open_set,
                                 &figures.dir, options.later_groups_cap,
                                 options.background_margins);
    calibration.candidates.push_back(figures);
  }
  // The simplest candidate wins a tie: candidates come simplest first.
  const CandidateFigures *best = nullptr;
  const CandidateFigures *best_normalised = nullptr;
  for (const CandidateFigures &c : calibration.candidates) {
    if (!best || c.dir > best->dir) best = &c;
  }
  for (const CandidateFigures &c : calibration.candidates) {
    if (c.normalise && c.margin == best->margin && (!best_normalised || c.dir > best_normalised->dir))
      best_normalised = &c;
  }
  calibration.recommended.normalise = best->normalise;
  calibration.recommended.margin = static_cast<float>(best->margin);
  if (best_normalised) {
    calibration.recommended.cohort_top = best_normalised->cohort_top;
    calibration.recommended.cohort_sides = best_normalised->cohort_sides;
  }
  calibration.recommended.background_margin = best->point.background_margin;

  for (const bool normalised : {false, true}) {
    if (normalised && !best_normalised) continue;
    const MatcherSettings settings = candidate_settings(
        normalised, normalised ? best_normalised->cohort_top : 0,
        normalised ? best_normalised->cohort_sides : CohortSides::kBoth, best->margin);
    for (double rate : options.rates) {
      double dir = 0.0;
      calibration.points.push_back(calibrate_at(data, settings, model, rate, options.open_set,
                                                &dir, options.later_groups_cap,
                                                options.background_margins));
      calibration.point_dirs.push_back(dir);
    }
  }
  return calibration;
}

std::string format_calibration(const Calibration &calibration) {
  std::ostringstream text;
  constexpr const char *kRow = "  %-46s %-55s %6s\n";
  char line[200];
  std::snprintf(line, sizeof line, kRow, "candidate", "thresholds at the selection rate", "DIR");
  text << "Calibration on validation data (galleries pooled)\n" << line;
  for (const CandidateFigures &c : calibration.candidates) {
    std::snprintf(line, sizeof line, kRow, describe(c).c_str(), point_text(c.point).c_str(),
                  format("%.4f", c.dir).c_str());
    text << line;
  }
  const DecisionRecommendation &r = calibration.recommended;
  text << "  recommended: normalisation " << (r.normalise.value_or(false) ? "on" : "off")
       << (r.cohort_top ? ", cohort top " + std::to_string(*r.cohort_top) : std::string())
       << (r.cohort_sides ? std::string(", ") + to_string(*r.cohort_sides) + " sides"
                          : std::string())
       << format(", margin %.2f", r.margin.value_or(0.f))
       << (r.background_margin ? format(", background margin %+.2f", *r.background_margin)
                               : std::string(", no background rule at that rate"))
       << "\n  calibrated points:\n";
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
            ", \"cohort_sides\": \"" + to_string(c.cohort_sides) + "\"" +
            ", \"margin\": " + format("%g", c.margin) +
            ", \"point\": " + point_json(c.point, c.dir) + "}";
  }
  const DecisionRecommendation &r = calibration.recommended;
  json += "], \"recommended\": {\"normalise\": " +
          std::string(r.normalise.value_or(false) ? "true" : "false") +
          ", \"cohort_top\": " + std::to_string(r.cohort_top.value_or(0)) +
          ", \"cohort_sides\": \"" + to_string(r.cohort_sides.value_or(CohortSides::kBoth)) +
          "\"" +
          ", \"margin\": " + format("%g", r.margin.value_or(0.f)) +
          ", \"background_margin\": " + optional_json(r.background_margin) + "}, \"points\": [";
  for (std::size_t i = 0; i < calibration.points.size(); ++i)
    json += (i ? ", " : "") + point_json(calibration.points[i], calibration.point_dirs[i]);
  return json + "]}";
}

}  // namespace siamese::trainer
