// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Association is greedy: the pair (track, region) of highest overlap first,
// then the next among those left, as simple trackers (SORT without motion)
// do; a handful of regions per frame makes the quadratic pass cheap.
#include "confirmation.h"

#include <algorithm>
#include <tuple>

namespace siamese {
namespace {

// A track unseen for this many embedded frames is dropped: long enough to
// bridge a detector missing an object now and then, short enough that a new
// object in the same place rarely inherits an old one's declaration.
constexpr int kFramesKeptUnseen = 5;

}  // namespace

double overlap(const cv::Rect &a, const cv::Rect &b) {
  const double intersection = (a & b).area();
  const double united = double(a.area()) + b.area() - intersection;
  return united > 0.0 ? intersection / united : 0.0;
}

Confirmation::Confirmation(double min_overlap) : min_overlap_(min_overlap) {}

std::vector<int> Confirmation::associate(const std::vector<cv::Rect> &regions) const {
  std::vector<std::tuple<double, int, int>> pairs;  // (overlap, track, region)
  for (std::size_t t = 0; t < tracks_.size(); ++t)
    for (std::size_t r = 0; r < regions.size(); ++r) {
      const double value = overlap(tracks_[t].region, regions[r]);
      if (value >= min_overlap_ && value > 0.0)
        pairs.emplace_back(value, static_cast<int>(t), static_cast<int>(r));
    }
  // Highest overlap first; ties go to the older track and the earlier region.
  std::sort(pairs.begin(), pairs.end(), [](const auto &a, const auto &b) {
    return std::get<0>(a) != std::get<0>(b) ? std::get<0>(a) > std::get<0>(b) : a < b;
  });
  std::vector<int> track_of(regions.size(), -1);
  std::vector<bool> taken(tracks_.size(), false);
  for (const auto &[value, track, region] : pairs)
    if (!taken[track] && track_of[region] < 0) {
      taken[track] = true;
      track_of[region] = track;
    }
  return track_of;
}

void Confirmation::apply(int frames, const std::vector<cv::Rect> &regions,
                         std::vector<MatchResult> &results) {
  std::vector<int> track_of = associate(regions);
  for (Track &track : tracks_) ++track.missed;
  for (std::size_t r = 0; r < regions.size() && r < results.size(); ++r) {
    if (track_of[r] < 0) {
      track_of[r] = static_cast<int>(tracks_.size());
      tracks_.push_back({});
    }
    Track &track = tracks_[track_of[r]];
    track.region = regions[r];
    track.missed = 0;
    MatchResult &result = results[r];
    if (track.agreeing > 0 && result.frame_label == track.candidate) {
      ++track.agreeing;
    } else {
      track.candidate = result.frame_label;
      track.agreeing = 1;
    }
    if (track.agreeing >= frames) track.declared = track.candidate;
    if (track.declared == result.frame_label) continue;  // this frame agrees: its own result
    result.label = track.declared.value_or("");
    result.matched = !result.label.empty();
    result.reason = Reason::kUnconfirmed;
  }
  tracks_.erase(std::remove_if(tracks_.begin(), tracks_.end(),
                               [](const Track &track) { return track.missed > kFramesKeptUnseen; }),
                tracks_.end());
}

}  // namespace siamese
