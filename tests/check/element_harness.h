// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Shared helpers of the element tests: a GstHarness around siamesematch with
// a private bus, frames in any format made from a BGR picture by
// GStreamer's own converter (an independent reference for the element's
// conversions), and readers of the results the element attaches and posts.
#pragma once

#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "match_result.h"

namespace siamese::test {

// Initialises GStreamer once for every test of a program.
class ElementTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

// "siamesematch model=<mean_colour.onnx> reference=<references> <extra>".
std::string element_description(const std::string &extra = "",
                                const std::string &model = SIAMESE_FIXTURE_MEAN_COLOUR_ONNX,
                                const std::string &reference = SIAMESE_FIXTURE_REFERENCES_DIR);

// A harness (already playing) around `description`, whose element posts to `bus`.
struct MatchHarness {
  explicit MatchHarness(const std::string &description, const std::string &caps = "");
  // The same around `element` itself (taken) instead of a bin holding it, for
  // GstHarness helpers that set properties on the harnessed element
  // (gst_harness_stress_property_start_full would set them on the bin).
  MatchHarness(GstElement *element, const std::string &caps);
  ~MatchHarness();
  MatchHarness(const MatchHarness &) = delete;
  MatchHarness &operator=(const MatchHarness &) = delete;

  void set_caps(const GstVideoInfo &info);
  // Pushes `buffer` (taken) and returns the buffer that came out (owned).
  GstBuffer *push_and_pull(GstBuffer *buffer);
  // The element messages named siamesematch posted so far, oldest first.
  std::vector<GstStructure *> take_messages();

  GstHarness *harness = nullptr;
  GstBus *bus = nullptr;

 private:
  MatchHarness(GstHarness *made, const std::string &caps);
};

// Frees structures taken with take_messages() and returns how many there were.
int count_and_free(std::vector<GstStructure *> messages);

// A video info for `format` at width x height with GStreamer's default strides.
GstVideoInfo video_info(GstVideoFormat format, int width, int height);
// The same with every plane's stride widened by `extra` bytes (a padded frame)
// or, for extra = 0, strides exactly as wide as the pixels (packed tightly).
GstVideoInfo video_info_with_strides(GstVideoFormat format, int width, int height, int extra);

// A buffer laid out as `info` (a GstVideoMeta records its strides) holding
// `bgr` (CV_8UC3, same size) converted by GstVideoConverter.
GstBuffer *make_frame(const cv::Mat &bgr, const GstVideoInfo &info);
cv::Mat solid_bgr(int width, int height, int red, int green, int blue);
// A deterministic textured picture (seeded noise over a gradient).
cv::Mat textured_bgr(int width, int height);

// The result in the buffer's siamesematch region meta, and its `fresh` flag.
struct TaggedResult {
  MatchResult result;
  bool fresh = false;
  guint x = 0, y = 0, width = 0, height = 0;
  GstClockTime timestamp = GST_CLOCK_TIME_NONE;  // of the frame embedded
};
std::optional<TaggedResult> tagged_result(GstBuffer *buffer);
// The result siamesematch added to `region` (any region meta), if any.
std::optional<TaggedResult> region_result(const GstVideoRegionOfInterestMeta *region);

// Sets `description` (a bare element or pipeline) to PLAYING on its own and
// returns the first error posted on the bus (nullptr when none); the caller
// frees it.  Also returns the warnings it saw.
GError *start_error(const std::string &description, std::vector<std::string> *warnings = nullptr);

}  // namespace siamese::test
