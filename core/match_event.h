// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A match event: one result of siamesematch (a whole frame or one region) as
// the JSON object siamesepublish sends to a file or a broker.  This module is
// the only place that spells the event's field names; the schema is
// documented in docs/events.md and, as a JSON Schema, docs/event.schema.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "match_result.h"

namespace siamese {

// Bumped when a field changes meaning or disappears; fields may be added
// within a version, so readers ignore the fields they do not know.
inline constexpr int kEventSchemaVersion = 1;

// The part of the frame a result covers, in pixels of the frame.
struct EventRegion {
  int id = 0;        // the region meta's id
  std::string type;  // the region meta's type ("siamesematch" for a whole frame)
  unsigned x = 0, y = 0, width = 0, height = 0;
  bool operator==(const EventRegion &other) const {
    return id == other.id && type == other.type && x == other.x && y == other.y &&
           width == other.width && height == other.height;
  }
};

struct MatchEvent {
  std::string camera;                  // the source, as the publisher names it
  std::uint64_t sequence = 0;          // per publisher run, +1 per event: a gap means dropped events
  std::optional<std::uint64_t> pts;    // the buffer's presentation timestamp in ns, if it has one
  std::int64_t utc_us = 0;             // wall-clock time the event was made, microseconds since 1970 UTC
  std::optional<std::string> model;    // fingerprint of the model that made the result, if known
  bool whole_frame = false;            // the result covers the whole frame, not an upstream region
  EventRegion region;
  MatchResult result;
  bool operator==(const MatchEvent &other) const {
    return camera == other.camera && sequence == other.sequence && pts == other.pts &&
           utc_us == other.utc_us && model == other.model && whole_frame == other.whole_frame &&
           region == other.region && result == other.result;
  }
};

// The current wall-clock time for MatchEvent::utc_us.
std::int64_t utc_now_us();

// "2026-11-28T10:00:00.123456Z" (RFC 3339, UTC, microseconds).
std::string format_utc(std::int64_t utc_us);

// The event as one line of JSON (no newline at the end).
std::string event_to_json(const MatchEvent &event);

// Parses and checks an event written by event_to_json() or any writer of
// the same schema version.  Throws std::invalid_argument naming the field
// that is missing or mistyped, or the version when it is not this one.
MatchEvent event_from_json(const std::string &text);

}  // namespace siamese
