// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Regions of interest from upstream (a detector's): each region is embedded
// and tagged instead of the whole frame, also at odd sizes in YUV, and
// `regions=false` goes back to whole frames.
#include "element_harness.h"
#include "match_structure.h"

namespace siamese::test {
namespace {

constexpr const char *kDetection = "detection";

class RegionsTest : public ElementTest {
 protected:
  // A frame whose left `split` columns are red and the rest blue.
  static cv::Mat red_and_blue(int width, int height, int split) {
    cv::Mat picture = solid_bgr(width, height, 0, 0, 255);
    picture.colRange(0, split).setTo(cv::Scalar(0, 0, 255));
    picture.colRange(split, width).setTo(cv::Scalar(255, 0, 0));
    return picture;
  }

  // Pushes `frame` (taken) carrying detections at `boxes`; returns the buffer out.
  static GstBuffer *push_with_regions(MatchHarness &matcher, GstBuffer *frame,
                                      const std::vector<cv::Rect> &boxes) {
    for (const cv::Rect &box : boxes)
      gst_buffer_add_video_region_of_interest_meta(frame, kDetection, box.x, box.y, box.width,
                                                   box.height);
    return matcher.push_and_pull(frame);
  }

  // The labels siamesematch put on the detections, in order ("-" for none),
  // and whether it added a whole-frame meta of its own.
  static std::vector<std::string> region_labels(GstBuffer *buffer, bool *whole_frame_meta) {
    std::vector<std::string> labels;
    gpointer iterator = nullptr;
    *whole_frame_meta = false;
    while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
               buffer, &iterator, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
      const auto *region = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
      if (region->roi_type != g_quark_from_string(kDetection)) {
        *whole_frame_meta = true;
        continue;
      }
      const auto tagged = region_result(region);
      labels.push_back(tagged ? tagged->result.label : "-");
    }
    return labels;
  }
};

// Two detections on a red | blue frame are tagged red and blue, with one message each.
TEST_F(RegionsTest, EachRegionIsTagged) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  MatchHarness matcher(element_description());
  matcher.set_caps(info);
  GstBuffer *out = push_with_regions(matcher, make_frame(red_and_blue(64, 48, 32), info),
                                     {{2, 4, 28, 40}, {36, 0, 28, 48}});
  bool whole_frame_meta = true;
  EXPECT_EQ(region_labels(out, &whole_frame_meta), (std::vector<std::string>{"red", "blue"}));
  EXPECT_FALSE(whole_frame_meta);
  gst_buffer_unref(out);

  auto messages = matcher.take_messages();
  ASSERT_EQ(messages.size(), 2u);
  guint x = 0, width = 0;
  EXPECT_STREQ(gst_structure_get_string(messages[1], "roi-type"), kDetection);
  EXPECT_TRUE(gst_structure_get_uint(messages[1], "x", &x));
  EXPECT_TRUE(gst_structure_get_uint(messages[1], "width", &width));
  EXPECT_EQ(x, 36u);
  EXPECT_EQ(width, 28u);
  EXPECT_EQ(match_from_structure(messages[1])->label, "blue");
  for (GstStructure *message : messages) gst_structure_free(message);
}

// I420 and NV12 at 65x49 with regions at odd coordinates crop the chroma planes right.
TEST_F(RegionsTest, OddRegionsInYuv) {
  for (const GstVideoFormat format : {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12}) {
    const GstVideoInfo info = video_info(format, 65, 49);
    MatchHarness matcher(element_description());
    matcher.set_caps(info);
    GstBuffer *out = push_with_regions(matcher, make_frame(red_and_blue(65, 49, 33), info),
                                       {{1, 3, 29, 45}, {37, 1, 27, 47}});
    bool whole_frame_meta = true;
    EXPECT_EQ(region_labels(out, &whole_frame_meta), (std::vector<std::string>{"red", "blue"}))
        << gst_video_format_to_string(format);
    gst_buffer_unref(out);
  }
}

// A region reaching past the frame is clipped and tagged; one wholly outside is left alone.
TEST_F(RegionsTest, RegionsAreClippedToTheFrame) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_RGB, 64, 48);
  MatchHarness matcher(element_description());
  matcher.set_caps(info);
  GstBuffer *out = push_with_regions(matcher, make_frame(red_and_blue(64, 48, 32), info),
                                     {{40, 10, 100, 100}, {70, 50, 10, 10}});
  bool whole_frame_meta = true;
  EXPECT_EQ(region_labels(out, &whole_frame_meta), (std::vector<std::string>{"blue", "-"}));
  gst_buffer_unref(out);
}

// regions=false embeds the whole frame (red + blue: magenta, unknown) and leaves detections alone.
TEST_F(RegionsTest, RegionsCanBeIgnored) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  MatchHarness matcher(element_description("regions=false"));
  matcher.set_caps(info);
  GstBuffer *out =
      push_with_regions(matcher, make_frame(red_and_blue(64, 48, 32), info), {{2, 4, 28, 40}});
  bool whole_frame_meta = false;
  EXPECT_EQ(region_labels(out, &whole_frame_meta), (std::vector<std::string>{"-"}));
  EXPECT_TRUE(whole_frame_meta);
  const auto tagged = tagged_result(out);
  ASSERT_TRUE(tagged.has_value());
  EXPECT_FALSE(tagged->result.matched);
  gst_buffer_unref(out);
}

// With interval=2, the skipped frame's regions get no (stale) result: regions move.
TEST_F(RegionsTest, SkippedFramesLeaveRegionsUntagged) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  MatchHarness matcher(element_description("interval=2"));
  matcher.set_caps(info);
  const std::vector<std::string> expected[2] = {{"red"}, {"-"}};
  for (const auto &labels : expected) {
    GstBuffer *out =
        push_with_regions(matcher, make_frame(red_and_blue(64, 48, 32), info), {{2, 4, 28, 40}});
    bool whole_frame_meta = true;
    EXPECT_EQ(region_labels(out, &whole_frame_meta), labels);
    EXPECT_FALSE(whole_frame_meta);
    gst_buffer_unref(out);
  }
}

}  // namespace
}  // namespace siamese::test
