// SPDX-License-Identifier: LGPL-2.1-or-later
//
// MatchResult <-> GstStructure.  The element writes results with
// match_to_structure() into region metadata and bus messages; tests and
// applications read them back with match_from_structure().  This file is the
// only place that spells the result's field names.
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideometa.h>

#include <optional>

#include "match_result.h"

namespace siamese {

// The name of the element's bus messages and of the region parameter structure.
inline constexpr const char *kMatchStructureName = "siamesematch";

// A new structure named kMatchStructureName holding every field of `result`:
//   matched (boolean), label (string, "" when unknown), reason (string:
//   matched, below-threshold, ambiguous, background, unconfirmed),
//   frame-label (string), best-label (string), score, distance, threshold
//   (double), metric (string), top-labels (GstValueArray of string),
//   top-scores, top-distances (GstValueArray of double), best first; and
//   with a cohort normalisation normalised-score, top-normalised-scores, and
//   with a normalised threshold normalised-threshold.
GstStructure *match_to_structure(const MatchResult &result);

// Reads the fields written by match_to_structure(); other fields (timestamps,
// `fresh`) are ignored.  Returns nothing when a field is missing or mistyped.
std::optional<MatchResult> match_from_structure(const GstStructure *structure);

// A result siamesematch attached to a region of interest meta: the
// structure above plus `fresh` (boolean), FALSE when the frame was not
// embedded (skipped by `interval`) and carries an earlier result again,
// and `timestamp` (GstClockTime, guint64), the presentation timestamp of
// the frame that was embedded: the buffer's own for a fresh result in the
// default mode, an earlier one for a repeated result and in async mode
// (absent when that frame had none).
struct RegionResult {
  MatchResult result;
  bool fresh = false;
  GstClockTime timestamp = GST_CLOCK_TIME_NONE;
};

// Adds `result` to `region` as its kMatchStructureName parameter structure.
void add_region_result(GstVideoRegionOfInterestMeta *region, const RegionResult &result);

// The result siamesematch added to `region` (any region meta); nothing when
// it carries none, or a malformed one.
std::optional<RegionResult> region_result(const GstVideoRegionOfInterestMeta *region);

}  // namespace siamese
