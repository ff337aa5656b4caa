// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The typed result of matching one frame (or region).  The element turns it
// into region metadata and a bus message (gst-plugin/match_structure.h
// converts it to and from GstStructure); tests and examples read it back.
#pragma once

#include <string>
#include <vector>

namespace siamese {

struct LabelScore {
  std::string label;
  double score = 0.0;     // higher is more similar (see Metric)
  double distance = 0.0;  // L2 distance of the normalised embeddings, in [0, 2]
  bool operator==(const LabelScore &other) const {
    return label == other.label && score == other.score && distance == other.distance;
  }
};

struct MatchResult {
  bool matched = false;     // best.score passed the threshold
  std::string label;        // best label when matched, "" (unknown) otherwise
  std::string best_label;   // best label whatever the threshold said
  double score = 0.0;       // best label's score
  double distance = 0.0;    // best label's distance
  double threshold = 0.0;   // the threshold in force, in the metric's units
  std::string metric;       // "cosine", "euclidean", "learned"
  std::vector<LabelScore> top;  // top-k labels, best first
  bool operator==(const MatchResult &other) const {
    return matched == other.matched && label == other.label && best_label == other.best_label &&
           score == other.score && distance == other.distance && threshold == other.threshold &&
           metric == other.metric && top == other.top;
  }
};

}  // namespace siamese
