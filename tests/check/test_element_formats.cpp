// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Frame conversion through the element: every advertised format is accepted
// and tagged correctly, odd sizes and padded strides give exactly what the
// same pixels packed tightly give, and caps may change mid-stream.
#include <opencv2/imgproc.hpp>

#include "element_harness.h"
#include "embedder.h"
#include "frame_conversion.h"
#include "matcher.h"
#include "reference_set.h"

namespace siamese::test {
namespace {

constexpr int kOddWidth = 321;
constexpr int kOddHeight = 241;

class FormatsTest : public ElementTest {
 protected:
  // The result the element tags `bgr` with when it arrives laid out as `info`.
  static MatchResult element_result(const cv::Mat &bgr, const GstVideoInfo &info) {
    MatchHarness matcher(element_description());
    matcher.set_caps(info);
    GstBuffer *out = matcher.push_and_pull(make_frame(bgr, info));
    const auto tagged = tagged_result(out);
    gst_buffer_unref(out);
    EXPECT_TRUE(tagged.has_value()) << gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info));
    return tagged ? tagged->result : MatchResult{};
  }

  // The core's own result for a tightly packed BGR image, as the element is set up.
  static MatchResult core_result(const cv::Mat &bgr) {
    Embedder embedder = Embedder::load(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX);
    const ReferenceSet references =
        ReferenceSet::enroll_folder(SIAMESE_FIXTURE_REFERENCES_DIR, embedder);
    MatcherSettings settings;
    settings.threshold = embedder.contract().thresholds.at(Metric::kCosine);
    const Matcher matcher(references, settings, embedder.contract().head);
    return matcher.match(embedder.embed(bgr)).front();
  }

  static std::vector<GstVideoFormat> advertised_formats() {
    GstCaps *caps = gst_caps_from_string(GST_VIDEO_CAPS_MAKE(SIAMESE_VIDEO_FORMATS));
    const GValue *list = gst_structure_get_value(gst_caps_get_structure(caps, 0), "format");
    std::vector<GstVideoFormat> formats;
    for (guint i = 0; i < gst_value_list_get_size(list); ++i)
      formats.push_back(
          gst_video_format_from_string(g_value_get_string(gst_value_list_get_value(list, i))));
    gst_caps_unref(caps);
    return formats;
  }
};

// Every advertised format, at an even and at an odd size, tags a red frame red
// (GRAY8 keeps no colour: grey is nearest to yellow, below the threshold).
TEST_F(FormatsTest, EveryFormatIsAccepted) {
  const auto formats = advertised_formats();
  ASSERT_GE(formats.size(), 11u);
  for (const GstVideoFormat format : formats) {
    for (const auto &[width, height] : {std::pair{64, 48}, std::pair{33, 17}}) {
      const MatchResult result =
          element_result(solid_bgr(width, height, 255, 0, 0), video_info(format, width, height));
      const std::string name = gst_video_format_to_string(format);
      if (format == GST_VIDEO_FORMAT_GRAY8) {
        EXPECT_EQ(result.best_label, "yellow") << name;
        EXPECT_FALSE(result.matched) << name;
      } else {
        EXPECT_EQ(result.label, "red") << name << " " << width << "x" << height;
        EXPECT_GT(result.score, 0.999) << name << " " << width << "x" << height;
      }
    }
  }
}

// BGR 321x241 with GStreamer's padded stride, a wider one or none at all gives
// exactly the result the core gives for the same pixels in a packed cv::Mat.
TEST_F(FormatsTest, OddBgrMatchesPackedPixels) {
  const cv::Mat picture = textured_bgr(kOddWidth, kOddHeight);
  const MatchResult expected = core_result(picture);
  EXPECT_EQ(element_result(picture, video_info(GST_VIDEO_FORMAT_BGR, kOddWidth, kOddHeight)),
            expected);
  for (const int extra : {0, 37})
    EXPECT_EQ(element_result(picture, video_info_with_strides(GST_VIDEO_FORMAT_BGR, kOddWidth,
                                                              kOddHeight, extra)),
              expected)
        << "extra stride " << extra;
}

// Packed formats in other byte orders are shrunk, then reordered: exactly the BGR result.
TEST_F(FormatsTest, OtherByteOrdersMatchBgr) {
  const cv::Mat picture = textured_bgr(kOddWidth, kOddHeight);
  const MatchResult expected = core_result(picture);
  for (const GstVideoFormat format :
       {GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_ABGR})
    EXPECT_EQ(element_result(picture, video_info(format, kOddWidth, kOddHeight)), expected)
        << gst_video_format_to_string(format);
}

// I420 and NV12 at 321x241 (chroma 161x121) give the same result whatever the
// strides, and nearly the BGR one (YUV quantisation and chroma subsampling).
TEST_F(FormatsTest, OddYuvMatchesPackedPixels) {
  const cv::Mat picture = textured_bgr(kOddWidth, kOddHeight);
  const MatchResult bgr = core_result(picture);
  for (const GstVideoFormat format : {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12}) {
    const std::string name = gst_video_format_to_string(format);
    const MatchResult tight =
        element_result(picture, video_info_with_strides(format, kOddWidth, kOddHeight, 0));
    EXPECT_EQ(element_result(picture, video_info(format, kOddWidth, kOddHeight)), tight) << name;
    EXPECT_EQ(element_result(picture, video_info_with_strides(format, kOddWidth, kOddHeight, 29)),
              tight)
        << name;
    EXPECT_EQ(tight.best_label, bgr.best_label) << name;
    EXPECT_NEAR(tight.score, bgr.score, 0.01) << name;
  }
}

// A grey model reads an I420 / NV12 frame's luma plane alone: within one grey
// level of converting the frame's colours and then to grey (BT.601, limited range).
TEST_F(FormatsTest, GreyModelsReadTheLumaPlane) {
  const cv::Mat picture = textured_bgr(kOddWidth, kOddHeight);
  const cv::Rect region(7, 5, 301, 201);
  for (const GstVideoFormat format : {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12}) {
    const GstVideoInfo info = video_info(format, kOddWidth, kOddHeight);
    GstBuffer *buffer = make_frame(picture, info);
    GstVideoFrame frame;
    ASSERT_TRUE(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
    for (const cv::Size size : {cv::Size(28, 28), cv::Size(64, 48)}) {
      const cv::Mat grey = frame_to_embedder_input(frame, region, size, ColorOrder::kGray);
      const cv::Mat bgr = frame_to_embedder_input(frame, region, size, ColorOrder::kRgb);
      ASSERT_EQ(grey.type(), CV_8UC1);
      ASSERT_EQ(grey.size(), size);
      cv::Mat reference;
      cv::cvtColor(bgr, reference, cv::COLOR_BGR2GRAY);
      EXPECT_LE(cv::norm(grey, reference, cv::NORM_INF), 1.0)
          << gst_video_format_to_string(format) << " at " << size;
    }
    gst_video_frame_unmap(&frame);
    gst_buffer_unref(buffer);
  }
}

// Caps may change mid-stream (format and size); each frame is read with its own caps.
TEST_F(FormatsTest, CapsRenegotiationMidStream) {
  MatchHarness matcher(element_description());
  const struct {
    GstVideoFormat format;
    int width, height;
    int r, g, b;
    const char *label;
  } steps[] = {{GST_VIDEO_FORMAT_BGR, 64, 48, 255, 0, 0, "red"},
               {GST_VIDEO_FORMAT_I420, 33, 17, 0, 0, 255, "blue"},
               {GST_VIDEO_FORMAT_RGBA, 640, 480, 0, 255, 0, "green"},
               {GST_VIDEO_FORMAT_NV12, 15, 9, 255, 255, 0, "yellow"}};
  for (const auto &step : steps) {
    const GstVideoInfo info = video_info(step.format, step.width, step.height);
    matcher.set_caps(info);
    GstBuffer *out = matcher.push_and_pull(
        make_frame(solid_bgr(step.width, step.height, step.r, step.g, step.b), info));
    const auto tagged = tagged_result(out);
    gst_buffer_unref(out);
    ASSERT_TRUE(tagged.has_value());
    EXPECT_EQ(tagged->result.label, step.label);
    EXPECT_EQ(tagged->width, static_cast<guint>(step.width));
    EXPECT_EQ(tagged->height, static_cast<guint>(step.height));
  }
}

}  // namespace
}  // namespace siamese::test
