// SPDX-License-Identifier: LGPL-2.1-or-later
#include "open_set.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "atomic_file.h"
#include "errors.h"
#include "report_text.h"

namespace siamese::trainer {
namespace {

constexpr double kNever = -std::numeric_limits<double>::infinity();
// The curve's FPIR axis: log-spaced from 1e-4 to 1.
constexpr double kCurveLowestFpir = 1e-4;
constexpr int kCurvePoints = 41;

// The score the sweep moves, larger = more alike: the normalised score when
// the decision normalises, else the metric's own score (distance negated).
double swept_score(const MatchResult &result, Metric metric) {
  if (result.normalised_score) return *result.normalised_score;
  return metric == Metric::kEuclidean ? -result.distance : result.score;
}

const char *swept_name(const MatchResult &result, Metric metric) {
  if (result.normalised_score) return "normalised score";
  return metric == Metric::kEuclidean ? "-distance" : to_string(metric);
}

// `settings` with the swept threshold at `swept` (in swept_score()'s units):
// the normalised threshold when the decision normalises (the raw floor
// stays), else the raw one.
MatcherSettings at_threshold(MatcherSettings settings, double swept) {
  if (settings.normalise)
    settings.normalised_threshold = swept;
  else
    settings.threshold = settings.metric == Metric::kEuclidean ? -swept : swept;
  return settings;
}

double swept_threshold(const MatcherSettings &settings) {
  if (settings.normalise) return settings.normalised_threshold;
  return settings.metric == Metric::kEuclidean ? -settings.threshold : settings.threshold;
}

double raw_score(const MatchResult &result, Metric metric) {
  return metric == Metric::kEuclidean ? -result.distance : result.score;
}

Spread spread_of(const std::vector<double> &values) {
  Spread s;
  if (values.empty()) return s;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  if (values.size() < 2) return s;
  double squares = 0.0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.spread = std::sqrt(squares / (values.size() - 1));
  return s;
}

double fraction_at_least(const std::vector<double> &scores, double threshold) {
  if (scores.empty()) return 0.0;
  const auto passing = std::count_if(scores.begin(), scores.end(),
                                     [threshold](double s) { return s >= threshold; });
  return static_cast<double>(passing) / scores.size();
}

cv::Mat rows_of(const cv::Mat &embeddings, const std::vector<std::size_t> &rows) {
  cv::Mat out(static_cast<int>(rows.size()), embeddings.cols, embeddings.type());
  for (std::size_t i = 0; i < rows.size(); ++i)
    embeddings.row(static_cast<int>(rows[i])).copyTo(out.row(static_cast<int>(i)));
  return out;
}

// One random gallery: K templates per enrolled class, the rest mated probes.
struct Draw {
  ReferenceSet gallery;
  cv::Mat mated;
  std::vector<std::string> mated_truth;
};

Draw draw_gallery(const OpenSetData &data, int gallery_size, uint64_t seed) {
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < data.enrolled_labels.size(); ++i)
    by_class[data.enrolled_labels[i]].push_back(i);
  std::mt19937_64 rng(seed);
  Draw draw;
  std::vector<std::size_t> mated;
  for (auto &[label, members] : by_class) {
    std::shuffle(members.begin(), members.end(), rng);
    const std::string &name = data.class_names.at(label);
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i < static_cast<std::size_t>(gallery_size)) {
        draw.gallery.add(name, data.enrolled.row(static_cast<int>(members[i])));
      } else {
        mated.push_back(members[i]);
        draw.mated_truth.push_back(name);
      }
    }
  }
  draw.mated = rows_of(data.enrolled, mated);
  return draw;
}

// Counts of one operating point in one draw.
struct Counts {
  double dir = 0.0, wrong_label = 0.0;
  std::vector<double> accepted;
};

Counts count(const Matcher &matcher, const MatcherSettings &settings, const Draw &draw,
             const OpenSetData &data) {
  Counts counts;
  const std::vector<MatchResult> mated = matcher.match(draw.mated, settings);
  for (std::size_t i = 0; i < mated.size(); ++i) {
    if (!mated[i].matched) continue;
    (mated[i].label == draw.mated_truth[i] ? counts.dir : counts.wrong_label) += 1.0;
  }
  counts.dir /= mated.size();
  counts.wrong_label /= mated.size();
  for (const ProbeGroup &group : data.non_mated) {
    const std::vector<MatchResult> results = matcher.match(group.embeddings, settings);
    const auto accepted = std::count_if(results.begin(), results.end(),
                                        [](const MatchResult &r) { return r.matched; });
    counts.accepted.push_back(static_cast<double>(accepted) / results.size());
  }
  return counts;
}

void check(const OpenSetData &data, const OpenSetOptions &options) {
  if (data.non_mated.empty())
    throw Error(ErrorKind::kSettings, "The open-set evaluation needs non-mated probes.");
  for (const ProbeGroup &group : data.non_mated) {
    if (group.embeddings.rows == 0)
      throw Error(ErrorKind::kSettings, "The non-mated group \"" + group.name + "\" is empty.");
  }
  if (options.gallery_size < 1 || options.draws < 1)
    throw Error(ErrorKind::kSettings, "The open-set gallery size and draws must be positive.");
  std::map<int, std::size_t> sizes;
  for (int label : data.enrolled_labels) ++sizes[label];
  if (sizes.empty())
    throw Error(ErrorKind::kSettings, "The open-set evaluation needs enrolled classes.");
  for (const auto &[label, size] : sizes) {
    if (size <= static_cast<std::size_t>(options.gallery_size))
      throw Error(ErrorKind::kSettings,
                  "Enrolled class \"" + data.class_names.at(label) + "\" has " +
                      std::to_string(size) + " images: a gallery of " +
                      std::to_string(options.gallery_size) + " leaves no mated probe.");
  }
}

std::string percent(double rate) {
  return format(rate < 0.01 ? "%.1f %%" : "%.0f %%", 100.0 * rate);
}

DecisionFigures evaluate_decision(const OpenSetData &data, const Decision &decision,
                                  const ModelContract &model, const OpenSetOptions &options) {
  DecisionFigures figures;
  figures.name = decision.name;
  const std::size_t groups = data.non_mated.size();
  const std::size_t points = 1 + options.target_fpirs.size();
  // Per point: thresholds, DIR, wrong label, accepted per group; one value per draw.
  std::vector<std::vector<double>> thresholds(points), dirs(points), wrongs(points);
  std::vector<std::vector<std::vector<double>>> accepted(points,
                                                         std::vector<std::vector<double>>(groups));
  // The curve of a group starts at the lowest FPIR its size resolves (one probe).
  std::vector<std::vector<CurvePoint>> curve_sums(groups);
  std::vector<std::vector<double>> curve_targets(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    for (int c = 0; c < kCurvePoints; ++c) {
      const double target =
          std::pow(10.0, std::log10(kCurveLowestFpir) * (1.0 - double(c) / (kCurvePoints - 1)));
      if (target * data.non_mated[g].embeddings.rows >= 1.0) curve_targets[g].push_back(target);
    }
    curve_sums[g].resize(curve_targets[g].size());
  }
  const MatcherSettings permissive = at_threshold(decision.settings, kNever);

  for (int d = 0; d < options.draws; ++d) {
    const Draw draw = draw_gallery(data, options.gallery_size, options.seed + d);
    const Matcher matcher(draw.gallery, decision.settings, model.head, model.cohort,
                          model.background);
    // The sweep: every rule but the swept threshold, once.
    const std::vector<MatchResult> mated = matcher.match(draw.mated, permissive);
    std::vector<double> right_scores;
    for (std::size_t i = 0; i < mated.size(); ++i) {
      const bool right = mated[i].matched && mated[i].label == draw.mated_truth[i];
      right_scores.push_back(right ? swept_score(mated[i], decision.settings.metric) : kNever);
      if (figures.swept.empty()) figures.swept = swept_name(mated[i], decision.settings.metric);
    }
    std::vector<std::vector<double>> impostor_scores(groups);
    for (std::size_t g = 0; g < groups; ++g) {
      for (const MatchResult &r : matcher.match(data.non_mated[g].embeddings, permissive))
        impostor_scores[g].push_back(r.matched ? swept_score(r, decision.settings.metric)
                                               : kNever);
    }
    // Operating points, decided by the Matcher itself.
    std::vector<MatcherSettings> settings{decision.settings};
    for (double target : options.target_fpirs)
      settings.push_back(at_threshold(decision.settings,
                                      threshold_at_rate(impostor_scores.front(), target)));
    for (std::size_t p = 0; p < points; ++p) {
      const Counts counts = count(matcher, settings[p], draw, data);
      thresholds[p].push_back(swept_threshold(settings[p]));
      dirs[p].push_back(counts.dir);
      wrongs[p].push_back(counts.wrong_label);
      for (std::size_t g = 0; g < groups; ++g) accepted[p][g].push_back(counts.accepted[g]);
    }
    for (std::size_t g = 0; g < groups; ++g) {
      for (std::size_t c = 0; c < curve_targets[g].size(); ++c) {
        const double t = threshold_at_rate(impostor_scores[g], curve_targets[g][c]);
        curve_sums[g][c].fpir += fraction_at_least(impostor_scores[g], t) / options.draws;
        curve_sums[g][c].dir += fraction_at_least(right_scores, t) / options.draws;
      }
    }
  }
  for (std::size_t p = 0; p < points; ++p) {
    OperatingPoint point;
    point.name = p == 0 ? "its settings"
                        : "FPIR " + percent(options.target_fpirs[p - 1]) + " on " +
                              data.non_mated.front().name;
    point.threshold = spread_of(thresholds[p]);
    point.dir = spread_of(dirs[p]);
    point.wrong_label = spread_of(wrongs[p]);
    for (std::size_t g = 0; g < groups; ++g) point.accepted.push_back(spread_of(accepted[p][g]));
    figures.points.push_back(point);
  }
  figures.curves = curve_sums;
  return figures;
}

std::string with_spread(const Spread &s) {
  return format("%.3f", s.mean) + format(" ±%.3f", s.spread);
}

std::string json_spread(const Spread &s) {
  return "{\"mean\": " + format("%.5f", s.mean) + ", \"spread\": " + format("%.5f", s.spread) + "}";
}

std::string threshold_text(const Spread &s) {
  return std::isinf(s.mean) ? std::string("none") : with_spread(s);
}

}  // namespace

double threshold_at_rate(std::vector<double> scores, double target) {
  if (scores.empty()) return kNever;
  std::sort(scores.begin(), scores.end(), std::greater<>());
  const auto allowed = static_cast<std::size_t>(std::floor(target * scores.size() + 1e-9));
  if (allowed >= scores.size() || std::isinf(scores[allowed])) return kNever;
  // Just above the first score that must fail, as a float.
  float threshold = static_cast<float>(scores[allowed]);
  while (threshold <= scores[allowed])
    threshold = std::nextafter(threshold, std::numeric_limits<float>::infinity());
  return threshold;
}

PooledOutcomes pooled_outcomes(const OpenSetData &data, const MatcherSettings &settings,
                               const ModelContract &model, const OpenSetOptions &options) {
  check(data, options);
  MatcherSettings permissive = settings;
  permissive.threshold = settings.metric == Metric::kEuclidean ? -kNever : kNever;
  permissive.normalised_threshold = kNever;
  permissive.background_margin = std::nullopt;
  const auto outcome = [&settings](const MatchResult &r) {
    const double raw = raw_score(r, settings.metric);
    // The distance is of the normalised embeddings, whatever the metric.
    const double cosine = 1.0 - r.distance * r.distance / 2.0;
    const double gap = r.background_score ? cosine - *r.background_score : -kNever;
    return ProbeOutcome{r.matched, false, raw, r.normalised_score.value_or(raw), gap};
  };
  PooledOutcomes pooled;
  pooled.non_mated.resize(data.non_mated.size());
  for (int d = 0; d < options.draws; ++d) {
    const Draw draw = draw_gallery(data, options.gallery_size, options.seed + d);
    const Matcher matcher(draw.gallery, permissive, model.head, model.cohort, model.background);
    const std::vector<MatchResult> mated = matcher.match(draw.mated);
    for (std::size_t i = 0; i < mated.size(); ++i) {
      ProbeOutcome o = outcome(mated[i]);
      o.right = mated[i].best_label == draw.mated_truth[i];
      pooled.mated.push_back(o);
    }
    for (std::size_t g = 0; g < data.non_mated.size(); ++g) {
      for (const MatchResult &r : matcher.match(data.non_mated[g].embeddings))
        pooled.non_mated[g].push_back(outcome(r));
    }
  }
  return pooled;
}

OpenSetReport evaluate_open_set(const OpenSetData &data, const std::vector<Decision> &decisions,
                                const ModelContract &model, const OpenSetOptions &options) {
  check(data, options);
  OpenSetReport report;
  report.options = options;
  std::map<int, std::size_t> sizes;
  for (int label : data.enrolled_labels) ++sizes[label];
  for (const auto &[label, size] : sizes) {
    report.enrolled_classes.push_back(data.class_names.at(label));
    report.gallery += options.gallery_size;
    report.mated += size - options.gallery_size;
  }
  for (const ProbeGroup &group : data.non_mated)
    report.non_mated.emplace_back(group.name, static_cast<std::size_t>(group.embeddings.rows));
  for (const Decision &decision : decisions)
    report.decisions.push_back(evaluate_decision(data, decision, model, options));
  return report;
}

std::string format_open_set(const OpenSetReport &report) {
  std::ostringstream text;
  std::string classes;
  for (const std::string &name : report.enrolled_classes)
    classes += (classes.empty() ? "" : ", ") + name;
  text << "Open-set identification: enrolled " << classes << "; K = "
       << report.options.gallery_size << " per class, " << report.options.draws
       << " random galleries (seed " << report.options.seed << "), mean ±spread over them\n"
       << "  gallery " << report.gallery << " templates, mated probes " << report.mated
       << ", non-mated:";
  for (const auto &[name, size] : report.non_mated) text << ' ' << name << ' ' << size << ';';
  text << "\n  DIR: mated probes given their right label; wrong: mated probes accepted as "
          "another label;\n  the other columns: non-mated probes accepted as an enrolled "
          "label (FPIR)\n";
  for (const DecisionFigures &decision : report.decisions) {
    text << "  decision \"" << decision.name << "\" (sweeping the " << decision.swept
         << " threshold)\n";
    char line[256];
    std::snprintf(line, sizeof line, "    %-32s %15s %15s %15s", "operating point", "threshold",
                  "DIR", "wrong");
    text << line;
    for (const auto &[name, size] : report.non_mated) {
      std::snprintf(line, sizeof line, " %15s", name.substr(0, 15).c_str());
      text << line;
    }
    text << '\n';
    for (const OperatingPoint &point : decision.points) {
      std::snprintf(line, sizeof line, "    %-32s %15s %15s %15s", point.name.substr(0, 32).c_str(),
                    threshold_text(point.threshold).c_str(), with_spread(point.dir).c_str(),
                    with_spread(point.wrong_label).c_str());
      text << line;
      for (const Spread &rate : point.accepted) {
        std::snprintf(line, sizeof line, " %15s", with_spread(rate).c_str());
        text << line;
      }
      text << '\n';
    }
  }
  return text.str();
}

std::string open_set_json(const OpenSetReport &report) {
  const OpenSetOptions &o = report.options;
  std::string json = "{\"gallery_size\": " + std::to_string(o.gallery_size) +
                     ", \"draws\": " + std::to_string(o.draws) +
                     ", \"seed\": " + std::to_string(o.seed) + ", \"enrolled_classes\": [";
  for (std::size_t i = 0; i < report.enrolled_classes.size(); ++i)
    json += (i ? ", " : "") + json_string(report.enrolled_classes[i]);
  json += "], \"gallery\": " + std::to_string(report.gallery) +
          ", \"mated\": " + std::to_string(report.mated) + ", \"non_mated\": {";
  for (std::size_t i = 0; i < report.non_mated.size(); ++i)
    json += (i ? ", " : "") + json_string(report.non_mated[i].first) + ": " +
            std::to_string(report.non_mated[i].second);
  json += "}, \"decisions\": [";
  for (std::size_t d = 0; d < report.decisions.size(); ++d) {
    const DecisionFigures &decision = report.decisions[d];
    json += std::string(d ? ", " : "") + "{\"name\": " + json_string(decision.name) +
            ", \"swept\": " + json_string(decision.swept) + ", \"points\": [";
    for (std::size_t p = 0; p < decision.points.size(); ++p) {
      const OperatingPoint &point = decision.points[p];
      json += std::string(p ? ", " : "") + "{\"name\": " + json_string(point.name) +
              ", \"threshold\": " +
              (std::isinf(point.threshold.mean) ? std::string("null")
                                                : json_spread(point.threshold)) +
              ", \"dir\": " + json_spread(point.dir) +
              ", \"wrong_label\": " + json_spread(point.wrong_label) + ", \"accepted\": {";
      for (std::size_t g = 0; g < point.accepted.size(); ++g)
        json += (g ? ", " : "") + json_string(report.non_mated[g].first) + ": " +
                json_spread(point.accepted[g]);
      json += "}}";
    }
    json += "], \"curves\": {";
    for (std::size_t g = 0; g < decision.curves.size(); ++g) {
      json += (g ? ", " : "") + json_string(report.non_mated[g].first) + ": [";
      for (std::size_t c = 0; c < decision.curves[g].size(); ++c)
        json += std::string(c ? ", " : "") + "[" + format("%.5f", decision.curves[g][c].fpir) +
                ", " + format("%.5f", decision.curves[g][c].dir) + "]";
      json += "]";
    }
    json += "}}";
  }
  return json + "]}";
}

void write_open_set_curve(const OpenSetReport &report, const std::string &png_path) {
  // Plot area inside margins; x = log10 FPIR in [-4, 0], y = DIR in [0, 1].
  constexpr int kWidth = 900, kHeight = 600, kLeft = 70, kRight = 260, kTop = 40, kBottom = 60;
  cv::Mat image(kHeight, kWidth, CV_8UC3, cv::Scalar(255, 255, 255));
  const int plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const double lowest = std::log10(kCurveLowestFpir);
  const auto to_pixel = [&](double fpir, double dir) {
    const double x = (std::log10(std::max(fpir, kCurveLowestFpir)) - lowest) / -lowest;
    return cv::Point(kLeft + static_cast<int>(x * plot_w),
                     kTop + static_cast<int>((1.0 - dir) * plot_h));
  };
  const cv::Scalar grid(220, 220, 220), ink(0, 0, 0);
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  for (int e = static_cast<int>(lowest); e <= 0; ++e) {
    const cv::Point p = to_pixel(std::pow(10.0, e), 0.0);
    cv::line(image, p, {p.x, kTop}, grid);
    cv::putText(image, "1e" + std::to_string(e), {p.x - 15, p.y + 20}, font, 0.45, ink);
  }
  for (int tenth = 0; tenth <= 10; tenth += 2) {
    const cv::Point p = to_pixel(kCurveLowestFpir, tenth / 10.0);
    cv::line(image, p, {kLeft + plot_w, p.y}, grid);
    cv::putText(image, format("%.1f", tenth / 10.0), {p.x - 35, p.y + 5}, font, 0.45, ink);
  }
  cv::rectangle(image, {kLeft, kTop}, {kLeft + plot_w, kTop + plot_h}, ink);
  cv::putText(image, "FPIR (non-mated probes accepted)", {kLeft + plot_w / 2 - 130, kHeight - 20},
              font, 0.5, ink);
  cv::putText(image, "DIR", {10, kTop + plot_h / 2}, font, 0.5, ink);
  cv::putText(image,
              "Open-set identification, K = " + std::to_string(report.options.gallery_size) +
                  ", mean of " + std::to_string(report.options.draws) + " galleries",
              {kLeft, 25}, font, 0.55, ink);
  static const cv::Scalar kColours[] = {{180, 80, 30},  {30, 120, 220}, {40, 160, 40},
                                        {30, 30, 200},  {160, 60, 160}, {100, 100, 100},
                                        {0, 180, 180},  {120, 60, 0}};
  int legend_y = kTop + 10;
  std::size_t colour = 0;
  for (const DecisionFigures &decision : report.decisions) {
    for (std::size_t g = 0; g < decision.curves.size(); ++g) {
      const cv::Scalar c = kColours[colour++ % std::size(kColours)];
      std::vector<cv::Point> line;
      for (const CurvePoint &point : decision.curves[g])
        line.push_back(to_pixel(point.fpir, point.dir));
      cv::polylines(image, line, false, c, g == 0 ? 2 : 1, cv::LINE_AA);
      cv::line(image, {kLeft + plot_w + 10, legend_y}, {kLeft + plot_w + 30, legend_y}, c,
               g == 0 ? 2 : 1);
      cv::putText(image, (decision.name + ", " + report.non_mated[g].first).substr(0, 30),
                  {kLeft + plot_w + 35, legend_y + 4}, font, 0.38, ink);
      legend_y += 18;
    }
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", image, png))
    throw Error(ErrorKind::kOpenRead, "Cannot encode the curve for " + png_path + ".");
  write_file_atomically(png_path, std::string_view(reinterpret_cast<const char *>(png.data()),
                                                   png.size()));
}

}  // namespace siamese::trainer
