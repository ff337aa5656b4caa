// SPDX-License-Identifier: LGPL-2.1-or-later
#include "match_event.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace siamese {
namespace {

// Keys in the order they are written, so that a human reading the stream
// sees who and when before what.
using Json = nlohmann::ordered_json;

constexpr const char *kVersion = "version";
constexpr const char *kCamera = "camera";
constexpr const char *kSequence = "sequence";
constexpr const char *kPts = "pts";
constexpr const char *kUtc = "utc";
constexpr const char *kModel = "model";
constexpr const char *kWholeFrame = "whole_frame";
constexpr const char *kRegion = "region";
constexpr const char *kRegionId = "id";
constexpr const char *kRegionType = "type";
constexpr const char *kX = "x";
constexpr const char *kY = "y";
constexpr const char *kWidth = "width";
constexpr const char *kHeight = "height";
constexpr const char *kMatched = "matched";
constexpr const char *kLabel = "label";
constexpr const char *kBestLabel = "best_label";
constexpr const char *kScore = "score";
constexpr const char *kDistance = "distance";
constexpr const char *kThreshold = "threshold";
constexpr const char *kMetric = "metric";
constexpr const char *kTop = "top";

constexpr std::int64_t kMicrosPerSecond = 1000000;

// `object[key]` checked to be present and of the type `is` tests; the error
// names the field as a path ("region.x").
const Json &field(const Json &object, const char *key, bool (Json::*is)() const,
                  const char *type, const std::string &path = "") {
  const std::string name = path + key;
  const auto found = object.find(key);
  if (found == object.end())
    throw std::invalid_argument("the event has no field \"" + name + "\"");
  if (!((*found).*is)())
    throw std::invalid_argument("the event field \"" + name + "\" is not " + type);
  return *found;
}

std::string string_field(const Json &object, const char *key, const std::string &path = "") {
  return field(object, key, &Json::is_string, "a string", path).get<std::string>();
}

double number_field(const Json &object, const char *key, const std::string &path = "") {
  return field(object, key, &Json::is_number, "a number", path).get<double>();
}

unsigned unsigned_field(const Json &object, const char *key, const std::string &path = "") {
  return field(object, key, &Json::is_number_unsigned, "a non-negative integer", path)
      .get<unsigned>();
}

// A field that may be null; nullopt for null.
template <typename T>
std::optional<T> nullable_field(const Json &object, const char *key, bool (Json::*is)() const,
                                const char *type) {
  const auto found = object.find(key);
  if (found != object.end() && found->is_null()) return std::nullopt;
  return field(object, key, is, type).template get<T>();
}

std::int64_t parse_utc(const std::string &text) {
  std::tm fields{};
  int micros = 0;
  int consumed = 0;
  const bool parsed =
      std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ%n", &fields.tm_year, &fields.tm_mon,
                  &fields.tm_mday, &fields.tm_hour, &fields.tm_min, &fields.tm_sec, &micros,
                  &consumed) == 7 &&
      consumed == static_cast<int>(text.size()) && text.size() == 27;
  if (!parsed)
    throw std::invalid_argument("the event field \"utc\" is not a time like "
                                "2026-11-28T10:00:00.123456Z: \"" + text + "\"");
  fields.tm_year -= 1900;
  fields.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&fields)) * kMicrosPerSecond + micros;
}

}  // namespace

std::int64_t utc_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_utc(std::int64_t utc_us) {
  // Floor division, so times before 1970 keep a positive fraction.
  std::int64_t seconds = utc_us / kMicrosPerSecond;
  std::int64_t micros = utc_us % kMicrosPerSecond;
  if (micros < 0) {
    micros += kMicrosPerSecond;
    --seconds;
  }
  const std::time_t time = static_cast<std::time_t>(seconds);
  std::tm fields{};
  gmtime_r(&time, &fields);
  char text[96];  // room for any int the compiler cannot rule out
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", fields.tm_year + 1900,
                fields.tm_mon + 1, fields.tm_mday, fields.tm_hour, fields.tm_min, fields.tm_sec,
                static_cast<int>(micros));
  return text;
}

std::string event_to_json(const MatchEvent &event) {
  const MatchResult &result = event.result;
  Json top = Json::array();
  for (const LabelScore &entry : result.top)
    top.push_back({{kLabel, entry.label}, {kScore, entry.score}, {kDistance, entry.distance}});
  Json json = {
      {kVersion, kEventSchemaVersion},
      {kCamera, event.camera},
      {kSequence, event.sequence},
      {kPts, event.pts ? Json(*event.pts) : Json(nullptr)},
      {kUtc, format_utc(event.utc_us)},
      {kModel, event.model ? Json(*event.model) : Json(nullptr)},
      {kWholeFrame, event.whole_frame},
      {kRegion,
       {{kRegionId, event.region.id},
        {kRegionType, event.region.type},
        {kX, event.region.x},
        {kY, event.region.y},
        {kWidth, event.region.width},
        {kHeight, event.region.height}}},
      {kMatched, result.matched},
      {kLabel, result.matched ? Json(result.label) : Json(nullptr)},
      {kBestLabel, result.best_label},
      {kScore, result.score},
      {kDistance, result.distance},
      {kThreshold, result.threshold},
      {kMetric, result.metric},
      {kTop, std::move(top)},
  };
  // Invalid UTF-8 in a label (a folder name) is replaced, not thrown on.
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

MatchEvent event_from_json(const std::string &text) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::parse_error &error) {
    throw std::invalid_argument(std::string("the event is not JSON: ") + error.what());
  }
  if (!json.is_object()) throw std::invalid_argument("the event is not a JSON object");
  const auto version = field(json, kVersion, &Json::is_number_integer, "an integer").get<int>();
  if (version != kEventSchemaVersion)
    throw std::invalid_argument("the event has schema version " + std::to_string(version) +
                                ", this reader knows version " +
                                std::to_string(kEventSchemaVersion));
  MatchEvent event;
  event.camera = string_field(json, kCamera);
  event.sequence =
      field(json, kSequence, &Json::is_number_unsigned, "a non-negative integer").get<std::uint64_t>();
  event.pts = nullable_field<std::uint64_t>(json, kPts, &Json::is_number_unsigned,
                                            "a non-negative integer or null");
  event.utc_us = parse_utc(string_field(json, kUtc));
  event.model = nullable_field<std::string>(json, kModel, &Json::is_string, "a string or null");
  event.whole_frame = field(json, kWholeFrame, &Json::is_boolean, "a boolean").get<bool>();

  const Json &region = field(json, kRegion, &Json::is_object, "an object");
  const std::string in_region = std::string(kRegion) + ".";
  event.region.id =
      field(region, kRegionId, &Json::is_number_integer, "an integer", in_region).get<int>();
  event.region.type = string_field(region, kRegionType, in_region);
  event.region.x = unsigned_field(region, kX, in_region);
  event.region.y = unsigned_field(region, kY, in_region);
  event.region.width = unsigned_field(region, kWidth, in_region);
  event.region.height = unsigned_field(region, kHeight, in_region);

  MatchResult &result = event.result;
  result.matched = field(json, kMatched, &Json::is_boolean, "a boolean").get<bool>();
  result.label =
      nullable_field<std::string>(json, kLabel, &Json::is_string, "a string or null").value_or("");
  if (result.matched == result.label.empty())
    throw std::invalid_argument(
        "the event field \"label\" must be a label when \"matched\" is true, else null");
  result.best_label = string_field(json, kBestLabel);
  result.score = number_field(json, kScore);
  result.distance = number_field(json, kDistance);
  result.threshold = number_field(json, kThreshold);
  result.metric = string_field(json, kMetric);
  const Json &top = field(json, kTop, &Json::is_array, "an array");
  for (std::size_t i = 0; i < top.size(); ++i) {
    const std::string in_entry = std::string(kTop) + "[" + std::to_string(i) + "].";
    if (!top[i].is_object())
      throw std::invalid_argument("the event field \"" + in_entry.substr(0, in_entry.size() - 1) +
                                  "\" is not an object");
    result.top.push_back({string_field(top[i], kLabel, in_entry),
                          number_field(top[i], kScore, in_entry),
                          number_field(top[i], kDistance, in_entry)});
  }
  return event;
}

}  // namespace siamese
