// SPDX-License-Identifier: LGPL-2.1-or-later
#include "report_filter.h"

namespace siamese {

std::vector<std::size_t> ReportFilter::select(ReportPolicy policy,
                                              const std::vector<MatchResult> &results) {
  std::vector<std::size_t> chosen;
  std::string labels;
  for (std::size_t i = 0; i < results.size(); ++i) {
    labels += results[i].label + '\n';
    if (policy == ReportPolicy::kEvery || policy == ReportPolicy::kOnChange ||
        (policy == ReportPolicy::kOnMatch && results[i].matched))
      chosen.push_back(i);
  }
  if (policy == ReportPolicy::kOnChange) {
    if (last_reported_ == labels) return {};
    last_reported_ = labels;
  }
  return chosen;
}

}  // namespace siamese
