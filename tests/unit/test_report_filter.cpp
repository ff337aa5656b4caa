// SPDX-License-Identifier: LGPL-2.1-or-later
// Which results are reported: every, on-match, on-change (a frame whose
// labels, in order, differ from the last reported frame's), none.
#include <gtest/gtest.h>

#include "report_filter.h"

namespace siamese {
namespace {

MatchResult result(const std::string &label) {
  MatchResult match;
  match.matched = !label.empty();
  match.label = label;
  return match;
}

using Indices = std::vector<std::size_t>;

TEST(ReportFilter, EveryAndNone) {
  ReportFilter filter;
  const std::vector<MatchResult> frame = {result("a"), result("")};
  EXPECT_EQ(filter.select(ReportPolicy::kEvery, frame), (Indices{0, 1}));
  EXPECT_EQ(filter.select(ReportPolicy::kEvery, frame), (Indices{0, 1}));
  EXPECT_EQ(filter.select(ReportPolicy::kNone, frame), Indices{});
}

TEST(ReportFilter, OnMatchKeepsMatchedResultsOnly) {
  ReportFilter filter;
  EXPECT_EQ(filter.select(ReportPolicy::kOnMatch, {result(""), result("b"), result("c")}),
            (Indices{1, 2}));
}

TEST(ReportFilter, OnChangeReportsWholeFramesWhoseLabelsChanged) {
  ReportFilter filter;
  EXPECT_EQ(filter.select(ReportPolicy::kOnChange, {result("a")}), Indices{0});
  EXPECT_EQ(filter.select(ReportPolicy::kOnChange, {result("a")}), Indices{});
  EXPECT_EQ(filter.select(ReportPolicy::kOnChange, {result("")}), Indices{0});  // to unknown
  EXPECT_EQ(filter.select(ReportPolicy::kOnChange, {result(""), result("b")}), (Indices{0, 1}));
  EXPECT_EQ(filter.select(ReportPolicy::kOnChange, {result(""), result("b")}), Indices{});
  EXPECT_EQ(filter.select(ReportPolicy::kOnChange, {result("b"), result("")}), (Indices{0, 1}));
}

}  // namespace
}  // namespace siamese
