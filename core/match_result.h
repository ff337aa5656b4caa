// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The typed result of matching one frame (or region).  The element turns it
// into region metadata and a bus message (gst-plugin/match_structure.h
// converts it to and from GstStructure); tests and examples read it back.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace siamese {

// Why a result's label is what it is.
enum class Reason {
  kMatched,         // the best label passed every rule
  kBelowThreshold,  // the best score (or its normalised score) missed its threshold
  kAmbiguous,       // the best label did not beat the second by the margin
  kBackground,      // the best label is the reserved background label, or the
                    // frame is too like the model's background (matcher.h)
  kUnconfirmed,     // this frame's own decision (frame_label) differs from the
                    // label, which stays until enough frames agree
};

const char *to_string(Reason reason);
// Throws std::invalid_argument naming the text and the accepted values.
Reason reason_from_string(const std::string &text);

struct LabelScore {
  std::string label;
  double score = 0.0;     // higher is more similar (see Metric)
  double distance = 0.0;  // L2 distance of the normalised embeddings, in [0, 2]
  // The score normalised against the model's cohort (in spreads of the
  // cohort's scores); absent when no cohort normalises the scores.
  std::optional<double> normalised_score = std::nullopt;
  // The best template's row in the reference set, for what scores a label
  // further (normalisation); -1 when not known.  Internal to the matcher:
  // messages do not carry it, so results compare equal without it.
  int template_row = -1;
  bool operator==(const LabelScore &other) const {
    return label == other.label && score == other.score && distance == other.distance &&
           normalised_score == other.normalised_score;
  }
};

struct MatchResult {
  bool matched = false;     // a label is declared
  std::string label;        // the declared label, "" (unknown) otherwise
  Reason reason = Reason::kBelowThreshold;
  std::string frame_label;  // this frame's own decision, before confirmation over frames
  std::string best_label;   // best label whatever the rules said
  double score = 0.0;       // best label's score
  std::optional<double> normalised_score;  // best label's normalised score (see LabelScore)
  double distance = 0.0;    // best label's distance
  double threshold = 0.0;   // the threshold in force, in the metric's units
  std::optional<double> normalised_threshold;  // the normalised score's threshold, when in force
  // The cosine of the model's background embedding nearest to the frame
  // (ModelContract::background); absent when the model carries none.
  std::optional<double> background_score;
  std::string metric;       // "cosine", "euclidean", "learned"
  std::vector<LabelScore> top;  // top-k labels, best first
  bool operator==(const MatchResult &other) const {
    return matched == other.matched && label == other.label && reason == other.reason &&
           frame_label == other.frame_label && best_label == other.best_label &&
           score == other.score && normalised_score == other.normalised_score &&
           distance == other.distance && threshold == other.threshold &&
           normalised_threshold == other.normalised_threshold &&
           background_score == other.background_score && metric == other.metric &&
           top == other.top;
  }
};

}  // namespace siamese
