// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siameseoverlay draws each siamesematch result where it belongs: a green box
// for a match, a red one for unknown, in the frame's own channel order; it
// leaves regions without a result and frames without metadata untouched; and
// behind siamesematch it draws the box of the region the detector gave.
#include <gst/video/video.h>

#include <opencv2/imgproc.hpp>

#include "element_harness.h"
#include "match_structure.h"

namespace siamese::test {
namespace {

class OverlayTest : public ElementTest {
 protected:
  // A grey frame in `format` carrying a region at `box`, with `result` when given.
  static GstBuffer *grey_frame(const GstVideoInfo &info, const cv::Rect &box,
                               const std::optional<MatchResult> &result) {
    GstBuffer *frame = make_frame(
        solid_bgr(GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info), 128, 128, 128), info);
    GstVideoRegionOfInterestMeta *region = gst_buffer_add_video_region_of_interest_meta(
        frame, "face", box.x, box.y, box.width, box.height);
    if (result) add_region_result(region, {*result, true});
    return frame;
  }

  // The frame as BGR.
  static cv::Mat to_bgr(GstBuffer *buffer, const GstVideoInfo &info) {
    GstVideoFrame frame;
    GstVideoInfo copy = info;
    EXPECT_TRUE(gst_video_frame_map(&frame, &copy, buffer, GST_MAP_READ));
    const int channels = GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, 0);
    const cv::Mat packed(GST_VIDEO_FRAME_HEIGHT(&frame), GST_VIDEO_FRAME_WIDTH(&frame),
                         CV_8UC(channels), GST_VIDEO_FRAME_PLANE_DATA(&frame, 0),
                         GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0));
    cv::Mat bgr;
    if (GST_VIDEO_INFO_FORMAT(&info) == GST_VIDEO_FORMAT_RGB)
      cv::cvtColor(packed, bgr, cv::COLOR_RGB2BGR);
    else if (channels == 4)
      cv::cvtColor(packed, bgr, cv::COLOR_BGRA2BGR);
    else
      bgr = packed.clone();
    gst_video_frame_unmap(&frame);
    return bgr;
  }

  static MatchResult result(bool matched) {
    MatchResult r;
    r.matched = matched;
    r.label = matched ? "alice" : "";
    r.best_label = "alice";
    r.score = matched ? 0.91 : 0.31;
    return r;
  }
};

// Left edge of the box, halfway down: the box colour.  The centre: still grey.
TEST_F(OverlayTest, MatchedIsGreenUnknownIsRed) {
  const cv::Rect box(20, 30, 40, 30);
  for (const GstVideoFormat format :
       {GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGRx}) {
    const GstVideoInfo info = video_info(format, 96, 72);
    for (const bool matched : {true, false}) {
      GstHarness *h = gst_harness_new("siameseoverlay");
      GstVideoInfo copy = info;
      gst_harness_set_src_caps(h, gst_video_info_to_caps(&copy));
      GstBuffer *out = gst_harness_push_and_pull(h, grey_frame(info, box, result(matched)));
      const cv::Mat bgr = to_bgr(out, info);
      const cv::Vec3b edge = bgr.at<cv::Vec3b>(box.y + box.height / 2, box.x);
      const char *name = gst_video_format_to_string(format);
      if (matched) {
        EXPECT_GT(edge[1], 150) << name;  // green
        EXPECT_LT(edge[2], 100) << name;
      } else {
        EXPECT_GT(edge[2], 150) << name;  // red
        EXPECT_LT(edge[1], 100) << name;
      }
      EXPECT_EQ(bgr.at<cv::Vec3b>(box.y + box.height / 2, box.x + box.width / 2),
                cv::Vec3b(128, 128, 128))
          << name;
      // The caption strip above the box is drawn in the box colour too.
      EXPECT_NE(bgr.at<cv::Vec3b>(box.y - 4, box.x + 2), cv::Vec3b(128, 128, 128)) << name;
      gst_buffer_unref(out);
      gst_harness_teardown(h);
    }
  }
}

// A region siamesematch did not tag, and a frame without any region, pass unchanged.
TEST_F(OverlayTest, UntaggedFramesPassUnchanged) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  GstHarness *h = gst_harness_new("siameseoverlay");
  GstVideoInfo copy = info;
  gst_harness_set_src_caps(h, gst_video_info_to_caps(&copy));
  GstBuffer *out = gst_harness_push_and_pull(h, grey_frame(info, {4, 4, 20, 20}, std::nullopt));
  cv::Mat diff;
  cv::absdiff(to_bgr(out, info), cv::Scalar::all(128), diff);
  EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

// Behind siamesematch: the detector's region (a red square on black) is
// matched "red" and boxed in green exactly where the detector put it.
TEST_F(OverlayTest, DrawsWhatSiamesematchFound) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 96, 72);
  GstHarness *h = gst_harness_new_parse(
      (element_description("regions=regions") + " ! siameseoverlay").c_str());
  GstVideoInfo copy = info;
  gst_harness_set_src_caps(h, gst_video_info_to_caps(&copy));
  cv::Mat picture(72, 96, CV_8UC3, cv::Scalar::all(0));
  const cv::Rect box(30, 30, 36, 36);
  picture(box).setTo(cv::Scalar(0, 0, 255));
  GstBuffer *frame = make_frame(picture, info);
  gst_buffer_add_video_region_of_interest_meta(frame, "face", box.x, box.y, box.width,
                                               box.height);
  GstBuffer *out = gst_harness_push_and_pull(h, frame);
  const cv::Mat bgr = to_bgr(out, info);
  const cv::Vec3b edge = bgr.at<cv::Vec3b>(box.y + box.height / 2, box.x);
  EXPECT_GT(edge[1], 150);
  EXPECT_LT(edge[2], 100);
  EXPECT_EQ(bgr.at<cv::Vec3b>(box.y + box.height / 2, box.x + box.width / 2),
            cv::Vec3b(0, 0, 255));
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

}  // namespace
}  // namespace siamese::test
