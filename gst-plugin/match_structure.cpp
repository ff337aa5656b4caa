// SPDX-License-Identifier: LGPL-2.1-or-later
#include "match_structure.h"

#include <stdexcept>
#include <string>

namespace siamese {
namespace {

constexpr const char *kMatched = "matched";
constexpr const char *kLabel = "label";
constexpr const char *kReason = "reason";
constexpr const char *kFrameLabel = "frame-label";
constexpr const char *kBestLabel = "best-label";
constexpr const char *kScore = "score";
constexpr const char *kNormalisedScore = "normalised-score";
constexpr const char *kDistance = "distance";
constexpr const char *kThreshold = "threshold";
constexpr const char *kNormalisedThreshold = "normalised-threshold";
constexpr const char *kBackgroundScore = "background-score";
constexpr const char *kMetric = "metric";
constexpr const char *kTopLabels = "top-labels";
constexpr const char *kTopScores = "top-scores";
constexpr const char *kTopNormalisedScores = "top-normalised-scores";
constexpr const char *kTopDistances = "top-distances";
constexpr const char *kFresh = "fresh";
constexpr const char *kTimestamp = "timestamp";

template <typename Field>
void set_array(GstStructure *structure, const char *name, const std::vector<LabelScore> &top,
               GType type, Field field) {
  GValue array = G_VALUE_INIT;
  gst_value_array_init(&array, top.size());
  for (const LabelScore &entry : top) {
    GValue item = G_VALUE_INIT;
    g_value_init(&item, type);
    field(entry, &item);
    gst_value_array_append_and_take_value(&array, &item);
  }
  gst_structure_take_value(structure, name, &array);
}

// The array `name` if it holds exactly `size` values of `type`.
const GValue *get_array(const GstStructure *structure, const char *name, std::size_t size,
                        GType type) {
  const GValue *array = gst_structure_get_value(structure, name);
  if (!array || !GST_VALUE_HOLDS_ARRAY(array) || gst_value_array_get_size(array) != size)
    return nullptr;
  for (guint i = 0; i < size; ++i)
    if (!G_VALUE_HOLDS(gst_value_array_get_value(array, i), type)) return nullptr;
  return array;
}

std::optional<std::string> get_string(const GstStructure *structure, const char *name) {
  const gchar *value = gst_structure_get_string(structure, name);
  if (!value) return std::nullopt;
  return std::string(value);
}

void set_optional_double(GstStructure *structure, const char *name,
                         const std::optional<double> &value) {
  if (value) gst_structure_set(structure, name, G_TYPE_DOUBLE, *value, nullptr);
}

// An optional field is absent or a double; false when it has another type.
bool get_optional_double(const GstStructure *structure, const char *name,
                         std::optional<double> &value) {
  if (!gst_structure_has_field(structure, name)) return true;
  double number = 0.0;
  if (!gst_structure_get_double(structure, name, &number)) return false;
  value = number;
  return true;
}

std::optional<Reason> get_reason(const GstStructure *structure) {
  const auto text = get_string(structure, kReason);
  if (!text) return std::nullopt;
  try {
    return reason_from_string(*text);
  } catch (const std::invalid_argument &) {
    return std::nullopt;
  }
}

}  // namespace

GstStructure *match_to_structure(const MatchResult &result) {
  GstStructure *structure = gst_structure_new(
      kMatchStructureName, kMatched, G_TYPE_BOOLEAN, result.matched, kLabel, G_TYPE_STRING,
      result.label.c_str(), kReason, G_TYPE_STRING, to_string(result.reason), kFrameLabel,
      G_TYPE_STRING, result.frame_label.c_str(), kBestLabel, G_TYPE_STRING,
      result.best_label.c_str(), kScore, G_TYPE_DOUBLE, result.score, kDistance, G_TYPE_DOUBLE,
      result.distance, kThreshold, G_TYPE_DOUBLE, result.threshold, kMetric, G_TYPE_STRING,
      result.metric.c_str(), nullptr);
  set_optional_double(structure, kNormalisedScore, result.normalised_score);
  set_optional_double(structure, kNormalisedThreshold, result.normalised_threshold);
  set_optional_double(structure, kBackgroundScore, result.background_score);
  set_array(structure, kTopLabels, result.top, G_TYPE_STRING,
            [](const LabelScore &e, GValue *v) { g_value_set_string(v, e.label.c_str()); });
  set_array(structure, kTopScores, result.top, G_TYPE_DOUBLE,
            [](const LabelScore &e, GValue *v) { g_value_set_double(v, e.score); });
  // Normalised scores come all or none (a cohort normalises every label).
  if (!result.top.empty() && result.top.front().normalised_score)
    set_array(structure, kTopNormalisedScores, result.top, G_TYPE_DOUBLE,
              [](const LabelScore &e, GValue *v) {
                g_value_set_double(v, e.normalised_score.value_or(0.0));
              });
  set_array(structure, kTopDistances, result.top, G_TYPE_DOUBLE,
            [](const LabelScore &e, GValue *v) { g_value_set_double(v, e.distance); });
  return structure;
}

std::optional<MatchResult> match_from_structure(const GstStructure *structure) {
  MatchResult result;
  gboolean matched = FALSE;
  const auto label = get_string(structure, kLabel);
  const auto reason = get_reason(structure);
  const auto frame_label = get_string(structure, kFrameLabel);
  const auto best_label = get_string(structure, kBestLabel);
  const auto metric = get_string(structure, kMetric);
  if (!gst_structure_get_boolean(structure, kMatched, &matched) || !label || !reason ||
      !frame_label || !best_label || !metric ||
      !gst_structure_get_double(structure, kScore, &result.score) ||
      !gst_structure_get_double(structure, kDistance, &result.distance) ||
      !gst_structure_get_double(structure, kThreshold, &result.threshold) ||
      !get_optional_double(structure, kNormalisedScore, result.normalised_score) ||
      !get_optional_double(structure, kNormalisedThreshold, result.normalised_threshold) ||
      !get_optional_double(structure, kBackgroundScore, result.background_score))
    return std::nullopt;
  result.matched = matched;
  result.label = *label;
  result.reason = *reason;
  result.frame_label = *frame_label;
  result.best_label = *best_label;
  result.metric = *metric;

  const GValue *labels = gst_structure_get_value(structure, kTopLabels);
  if (!labels || !GST_VALUE_HOLDS_ARRAY(labels)) return std::nullopt;
  const std::size_t count = gst_value_array_get_size(labels);
  labels = get_array(structure, kTopLabels, count, G_TYPE_STRING);
  const GValue *scores = get_array(structure, kTopScores, count, G_TYPE_DOUBLE);
  const GValue *distances = get_array(structure, kTopDistances, count, G_TYPE_DOUBLE);
  const bool has_normalised = gst_structure_has_field(structure, kTopNormalisedScores);
  const GValue *normalised = get_array(structure, kTopNormalisedScores, count, G_TYPE_DOUBLE);
  if (!labels || !scores || !distances || (has_normalised && !normalised)) return std::nullopt;
  for (guint i = 0; i < count; ++i) {
    const auto value = [i](const GValue *array) {
      return g_value_get_double(gst_value_array_get_value(array, i));
    };
    result.top.push_back({g_value_get_string(gst_value_array_get_value(labels, i)), value(scores),
                          value(distances),
                          normalised ? std::optional<double>(value(normalised)) : std::nullopt});
  }
  return result;
}

void add_region_result(GstVideoRegionOfInterestMeta *region, const RegionResult &result) {
  GstStructure *params = match_to_structure(result.result);
  gst_structure_set(params, kFresh, G_TYPE_BOOLEAN, result.fresh, nullptr);
  if (GST_CLOCK_TIME_IS_VALID(result.timestamp))
    gst_structure_set(params, kTimestamp, G_TYPE_UINT64, result.timestamp, nullptr);
  gst_video_region_of_interest_meta_add_param(region, params);
}

std::optional<RegionResult> region_result(const GstVideoRegionOfInterestMeta *region) {
  const GstStructure *params = gst_video_region_of_interest_meta_get_param(
      const_cast<GstVideoRegionOfInterestMeta *>(region), kMatchStructureName);
  gboolean fresh = FALSE;
  if (!params || !gst_structure_get_boolean(params, kFresh, &fresh)) return std::nullopt;
  std::optional<MatchResult> result = match_from_structure(params);
  if (!result) return std::nullopt;
  guint64 timestamp = GST_CLOCK_TIME_NONE;
  if (gst_structure_has_field(params, kTimestamp) &&
      !gst_structure_get_uint64(params, kTimestamp, &timestamp))
    return std::nullopt;
  return RegionResult{std::move(*result), fresh != FALSE, timestamp};
}

}  // namespace siamese
