// SPDX-License-Identifier: LGPL-2.1-or-later
// Decisions over time (confirmation.h): a label or unknown is declared only
// after N agreeing frames of the same track; regions are associated from
// frame to frame by overlap; the whole frame is one track.
#include <gtest/gtest.h>

#include "confirmation.h"

namespace siamese {
namespace {

// This frame's own decision for one target, as decide() makes it.
MatchResult frame_decision(const std::string &label) {
  MatchResult result;
  result.matched = !label.empty();
  result.label = label;
  result.frame_label = label;
  result.reason = label.empty() ? Reason::kBelowThreshold : Reason::kMatched;
  result.best_label = label.empty() ? "x" : label;
  return result;
}

const cv::Rect kWhole(0, 0, 64, 48);

// The declared labels after feeding `labels` one frame each to a whole-frame track.
std::vector<std::string> declared(Confirmation &confirmation, int frames,
                                  const std::vector<std::string> &labels,
                                  std::vector<Reason> *reasons = nullptr) {
  std::vector<std::string> out;
  for (const std::string &label : labels) {
    std::vector<MatchResult> results = {frame_decision(label)};
    confirmation.apply(frames, {kWhole}, results);
    out.push_back(results[0].label);
    EXPECT_EQ(results[0].frame_label, label);  // the frame's own decision stays
    EXPECT_EQ(results[0].matched, !results[0].label.empty());
    if (reasons) reasons->push_back(results[0].reason);
  }
  return out;
}

using Labels = std::vector<std::string>;

TEST(Confirmation, OneFrameChangesNothing) {
  // frames = 1: every result is the frame's own.
  Confirmation confirmation;
  std::vector<Reason> reasons;
  EXPECT_EQ(declared(confirmation, 1, {"a", "", "b", "a"}, &reasons), (Labels{"a", "", "b", "a"}));
  EXPECT_EQ(reasons, (std::vector<Reason>{Reason::kMatched, Reason::kBelowThreshold,
                                          Reason::kMatched, Reason::kMatched}));
}

TEST(Confirmation, LabelNeedsNAgreeingFrames) {
  // With 3 frames, a stays undeclared (unconfirmed) for two frames, then holds;
  // a one-frame b does not replace it; three b's do.
  Confirmation confirmation;
  std::vector<Reason> reasons;
  EXPECT_EQ(declared(confirmation, 3, {"a", "a", "a", "b", "a", "b", "b", "b"}, &reasons),
            (Labels{"", "", "a", "a", "a", "a", "a", "b"}));
  EXPECT_EQ(reasons, (std::vector<Reason>{Reason::kUnconfirmed, Reason::kUnconfirmed,
                                          Reason::kMatched, Reason::kUnconfirmed, Reason::kMatched,
                                          Reason::kUnconfirmed, Reason::kUnconfirmed,
                                          Reason::kMatched}));
}

TEST(Confirmation, UnknownIsConfirmedLikeALabel) {
  // A declared label gives way to unknown only after N unknown frames, and
  // a confirmed unknown keeps the frame's own reason.
  Confirmation confirmation;
  std::vector<Reason> reasons;
  EXPECT_EQ(declared(confirmation, 2, {"a", "a", "", "a", "", ""}, &reasons),
            (Labels{"", "a", "a", "a", "a", ""}));
  EXPECT_EQ(reasons.back(), Reason::kBelowThreshold);
}

TEST(Confirmation, AlternatingStrangersAreNeverDeclared) {
  // A stream of different single-frame impostors never reaches 2 agreeing frames.
  Confirmation confirmation;
  EXPECT_EQ(declared(confirmation, 2, {"a", "b", "c", "a", "b"}),
            (Labels{"", "", "", "", ""}));
}

TEST(Confirmation, ResetForgetsTheTracks) {
  // After reset (a flush, a new stream) the count starts again.
  Confirmation confirmation;
  declared(confirmation, 2, {"a", "a"});
  EXPECT_EQ(confirmation.tracks(), 1u);
  confirmation.reset();
  EXPECT_EQ(confirmation.tracks(), 0u);
  EXPECT_EQ(declared(confirmation, 2, {"a", "a"}), (Labels{"", "a"}));
}

TEST(Confirmation, RegionsFollowTheirOwnTracks) {
  // Two regions moving a little each frame (and listed in swapped order on
  // the second frame) keep their own tracks; a region far from both starts
  // a new one.
  Confirmation confirmation;
  const cv::Rect left(0, 0, 20, 20), right(40, 0, 20, 20);
  std::vector<MatchResult> first = {frame_decision("a"), frame_decision("b")};
  confirmation.apply(2, {left, right}, first);
  EXPECT_EQ(first[0].label, "");
  EXPECT_EQ(first[1].label, "");
  std::vector<MatchResult> second = {frame_decision("b"), frame_decision("a")};
  confirmation.apply(2, {right + cv::Point(2, 1), left + cv::Point(1, 2)}, second);
  EXPECT_EQ(second[0].label, "b");
  EXPECT_EQ(second[1].label, "a");
  EXPECT_EQ(confirmation.tracks(), 2u);
  std::vector<MatchResult> third = {frame_decision("a"), frame_decision("c")};
  confirmation.apply(2, {left + cv::Point(1, 2), cv::Rect(0, 30, 10, 10)}, third);
  EXPECT_EQ(third[0].label, "a");
  EXPECT_EQ(third[1].label, "");  // new object: nothing declared yet
  EXPECT_EQ(third[1].reason, Reason::kUnconfirmed);
  EXPECT_EQ(confirmation.tracks(), 3u);
}

TEST(Confirmation, UnseenTracksAreDroppedAfterAWhile) {
  // A track missing for a few frames is kept (a detector that blinks), then dropped.
  Confirmation confirmation;
  const cv::Rect box(0, 0, 20, 20), elsewhere(100, 100, 20, 20);
  std::vector<MatchResult> results = {frame_decision("a")};
  confirmation.apply(1, {box}, results);
  for (int k = 0; k < 3; ++k) {
    std::vector<MatchResult> other = {frame_decision("")};
    confirmation.apply(1, {elsewhere}, other);
  }
  EXPECT_EQ(confirmation.tracks(), 2u);
  results = {frame_decision("a")};
  confirmation.apply(2, {box}, results);
  EXPECT_EQ(results[0].label, "a");  // the old track, still declared a
  for (int k = 0; k < 20; ++k) {
    std::vector<MatchResult> other = {frame_decision("")};
    confirmation.apply(1, {elsewhere}, other);
  }
  EXPECT_EQ(confirmation.tracks(), 1u);
}

TEST(Confirmation, Overlap) {
  // Intersection over union: identical 1, disjoint 0, half-shifted 1/3, empty 0.
  EXPECT_DOUBLE_EQ(overlap({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0);
  EXPECT_DOUBLE_EQ(overlap({0, 0, 10, 10}, {20, 0, 10, 10}), 0.0);
  EXPECT_DOUBLE_EQ(overlap({0, 0, 10, 10}, {5, 0, 10, 10}), 50.0 / 150.0);
  EXPECT_DOUBLE_EQ(overlap({0, 0, 0, 0}, {0, 0, 0, 0}), 0.0);
}

}  // namespace
}  // namespace siamese
