// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Which results of a frame are reported (siamesematch's bus messages,
// siamesepublish's events): all, only those that match, or only when the
// frame's outcome changes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "match_result.h"

namespace siamese {

enum class ReportPolicy {
  kEvery,     // every result
  kOnChange,  // all results of a frame whose matched labels differ from those last reported
  kOnMatch,   // every result that matched a label
  kNone,      // nothing
};

class ReportFilter {
 public:
  // The indices of `results` (one frame's, in order) to report under
  // `policy`.  on-change compares the frame's matched labels ("" for
  // unknown), in order, with those of the frame last reported, so a frame
  // reports all of its results or none.
  std::vector<std::size_t> select(ReportPolicy policy, const std::vector<MatchResult> &results);

 private:
  std::optional<std::string> last_reported_;  // the labels of the frame last reported
};

}  // namespace siamese
