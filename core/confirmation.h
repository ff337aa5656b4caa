// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Decisions over time.  One frame's decision is noisy: a stranger may pass
// the rules on a single frame, a known face may miss them on another.  A
// Confirmation follows each object from frame to frame (a region of one
// frame continues the track of the previous frame's region it overlaps most,
// by intersection over union; the whole frame is one region, so it is one
// track) and declares a label, or unknown, only after `frames` consecutive
// frames of that track agreed on it.  Until then the result keeps the label
// declared before (unknown for a new track) with reason `unconfirmed`, and
// its frame_label says what this frame alone decided.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "decision_defaults.h"
#include "match_result.h"

namespace siamese {

class Confirmation {
 public:
  // `min_overlap`: the intersection over union a region needs with a
  // track's last region to continue it.
  explicit Confirmation(double min_overlap = decision_defaults::kConfirmOverlap);

  // One embedded frame: `results[i]` (this frame's own decision, as decide()
  // made it) belongs to `regions[i]`.  Each result's label, matched and
  // reason become the track's declared ones; frame_label stays.  `frames`
  // may change between calls (1 = every frame decides alone).
  void apply(int frames, const std::vector<cv::Rect> &regions, std::vector<MatchResult> &results);

  // Forgets every track (a new stream, a seek).
  void reset() { tracks_.clear(); }

  std::size_t tracks() const { return tracks_.size(); }

 private:
  struct Track {
    cv::Rect region;                       // where it was last seen
    std::optional<std::string> declared;   // "" = unknown; nullopt = nothing declared yet
    std::string candidate;                 // the decision of its latest frames
    int agreeing = 0;                      // how many consecutive frames made `candidate`
    int missed = 0;                        // embedded frames since it was last seen
  };
  // The track index for each region (-1: a new track), one region per track.
  std::vector<int> associate(const std::vector<cv::Rect> &regions) const;

  double min_overlap_;
  std::vector<Track> tracks_;
};

// Intersection over union of two rectangles, in [0, 1] (0 for empty ones).
double overlap(const cv::Rect &a, const cv::Rect &b);

}  // namespace siamese
