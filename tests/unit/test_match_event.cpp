// SPDX-License-Identifier: LGPL-2.1-or-later
// Match events: the JSON form round-trips, unknown results and missing
// timestamps are null, and the reader refuses malformed events naming the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "match_event.h"

namespace siamese {
namespace {

MatchEvent sample_event() {
  MatchEvent event;
  event.camera = "door";
  event.sequence = 41;
  event.pts = 1'500'000'000;
  event.utc_us = 1'764'547'200'123'456;  // 2025-12-01T00:00:00.123456Z
  event.model = std::string(64, 'a');
  event.whole_frame = false;
  event.region = {3, "face", 10, 20, 64, 48};
  event.result.matched = true;
  event.result.label = "alice";
  event.result.best_label = "alice";
  event.result.score = 0.875;
  event.result.distance = 0.5;
  event.result.threshold = 0.7;
  event.result.metric = "cosine";
  event.result.top = {{"alice", 0.875, 0.5}, {"bob", 0.25, 1.2247448713915889}};
  return event;
}

// Rewrites one field of an event's JSON text.
std::string with_field(const std::string &text, const std::string &key, const nlohmann::json &value) {
  nlohmann::json json = nlohmann::json::parse(text);
  json[key] = value;
  return json.dump();
}

std::string without_field(const std::string &text, const std::string &key) {
  nlohmann::json json = nlohmann::json::parse(text);
  json.erase(key);
  return json.dump();
}

// The error event_from_json throws for `text` ("" when it throws none).
std::string read_error(const std::string &text) {
  try {
    event_from_json(text);
  } catch (const std::invalid_argument &error) {
    return error.what();
  }
  return "";
}

TEST(MatchEvent, RoundTripsThroughJson) {
  const MatchEvent event = sample_event();
  const std::string text = event_to_json(event);
  EXPECT_EQ(text.find('\n'), std::string::npos);  // one line
  EXPECT_EQ(event_from_json(text), event);
}

TEST(MatchEvent, WritesTheDocumentedFields) {
  const nlohmann::json json = nlohmann::json::parse(event_to_json(sample_event()));
  EXPECT_EQ(json["version"], kEventSchemaVersion);
  EXPECT_EQ(json["camera"], "door");
  EXPECT_EQ(json["pts"], 1'500'000'000u);
  EXPECT_EQ(json["utc"], "2025-12-01T00:00:00.123456Z");
  EXPECT_EQ(json["region"]["type"], "face");
  EXPECT_EQ(json["region"]["width"], 64);
  EXPECT_EQ(json["label"], "alice");
  EXPECT_EQ(json["top"][1]["label"], "bob");
}

TEST(MatchEvent, UnknownLabelMissingPtsAndModelAreNull) {
  MatchEvent event = sample_event();
  event.result.matched = false;
  event.result.label.clear();
  event.pts.reset();
  event.model.reset();
  const std::string text = event_to_json(event);
  const nlohmann::json json = nlohmann::json::parse(text);
  EXPECT_TRUE(json["label"].is_null());
  EXPECT_TRUE(json["pts"].is_null());
  EXPECT_TRUE(json["model"].is_null());
  EXPECT_EQ(json["best_label"], "alice");
  EXPECT_EQ(event_from_json(text), event);
}

TEST(MatchEvent, FormatsUtcWithMicroseconds) {
  EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_utc(-1), "1969-12-31T23:59:59.999999Z");
  const std::int64_t now = utc_now_us();
  MatchEvent event = sample_event();
  event.utc_us = now;
  EXPECT_EQ(event_from_json(event_to_json(event)).utc_us, now);
}

TEST(MatchEvent, RefusesMalformedEventsNamingTheField) {
  const std::string good = event_to_json(sample_event());
  EXPECT_NE(read_error("{not json").find("not JSON"), std::string::npos);
  EXPECT_NE(read_error("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(read_error(with_field(good, "version", 2)).find("version 2"), std::string::npos);
  EXPECT_NE(read_error(without_field(good, "camera")).find("\"camera\""), std::string::npos);
  EXPECT_NE(read_error(with_field(good, "score", "high")).find("\"score\" is not a number"),
            std::string::npos);
  EXPECT_NE(read_error(with_field(good, "sequence", -1)).find("\"sequence\""), std::string::npos);
  EXPECT_NE(read_error(with_field(good, "utc", "yesterday")).find("\"utc\""), std::string::npos);
  EXPECT_NE(read_error(with_field(good, "label", nullptr)).find("\"label\""), std::string::npos);
  nlohmann::json json = nlohmann::json::parse(good);
  json["region"]["x"] = -3;
  EXPECT_NE(read_error(json.dump()).find("\"region.x\""), std::string::npos);
  json = nlohmann::json::parse(good);
  json["top"][1].erase("distance");
  EXPECT_NE(read_error(json.dump()).find("\"top[1].distance\""), std::string::npos);
}

TEST(MatchEvent, IgnoresFieldsItDoesNotKnow) {
  const std::string text = with_field(event_to_json(sample_event()), "added_later", 1);
  EXPECT_EQ(event_from_json(text), sample_event());
}

}  // namespace
}  // namespace siamese
