// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Regions of interest from upstream (a detector's): each region is embedded
// and tagged instead of the whole frame, also at odd sizes in YUV;
// `regions=frame` goes back to whole frames, `regions=regions` gives frames
// without a region no result, and roi-types / min-region-size choose the
// regions.
#include <memory>

#include "element_harness.h"
#include "match_structure.h"

namespace siamese::test {
namespace {

constexpr const char *kDetection = "detection";

class RegionsTest : public ElementTest {
 protected:
  // A frame whose left `split` columns are red and the rest blue.
  static cv::Mat red_and_blue(int width, int height, int split) {
    cv::Mat picture(height, width, CV_8UC3);
    picture.colRange(0, split).setTo(cv::Scalar(0, 0, 255));
    picture.colRange(split, width).setTo(cv::Scalar(255, 0, 0));
    return picture;
  }

  // What a red | blue frame (split at column `split`) carrying detections at
  // `boxes` comes out with: siamesematch's labels on the detections, in order
  // ("-" for none), and its whole-frame result if it added one.
  struct Outcome {
    std::vector<std::string> labels;
    std::optional<TaggedResult> whole_frame;
  };
  static Outcome push_red_and_blue(MatchHarness &matcher, const GstVideoInfo &info, int split,
                                   const std::vector<cv::Rect> &boxes,
                                   const std::vector<const char *> &types = {}) {
    GstBuffer *frame = make_frame(
        red_and_blue(GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info), split), info);
    for (std::size_t i = 0; i < boxes.size(); ++i)
      gst_buffer_add_video_region_of_interest_meta(frame, i < types.size() ? types[i] : kDetection,
                                                   boxes[i].x, boxes[i].y, boxes[i].width,
                                                   boxes[i].height);
    GstBuffer *out = matcher.push_and_pull(frame);
    Outcome outcome{{}, tagged_result(out)};
    gpointer iterator = nullptr;
    while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
               out, &iterator, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
      const auto *region = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
      if (region->roi_type == g_quark_from_string(kMatchStructureName)) continue;
      const auto tagged = region_result(region);
      outcome.labels.push_back(tagged ? tagged->result.label : "-");
    }
    gst_buffer_unref(out);
    return outcome;
  }

  static std::unique_ptr<MatchHarness> harness(const GstVideoInfo &info,
                                               const std::string &extra = "") {
    auto matcher = std::make_unique<MatchHarness>(element_description(extra));
    matcher->set_caps(info);
    return matcher;
  }
};

// Two detections on a red | blue frame are tagged red and blue, with one message each.
TEST_F(RegionsTest, EachRegionIsTagged) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  const auto matcher = harness(info);
  const Outcome outcome = push_red_and_blue(*matcher, info, 32, {{2, 4, 28, 40}, {36, 0, 28, 48}});
  EXPECT_EQ(outcome.labels, (std::vector<std::string>{"red", "blue"}));
  EXPECT_FALSE(outcome.whole_frame.has_value());

  auto messages = matcher->take_messages();
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
    const Outcome outcome =
        push_red_and_blue(*harness(info), info, 33, {{1, 3, 29, 45}, {37, 1, 27, 47}});
    EXPECT_EQ(outcome.labels, (std::vector<std::string>{"red", "blue"}))
        << gst_video_format_to_string(format);
  }
}

// A region reaching past the frame is clipped and tagged; one wholly outside is left alone.
TEST_F(RegionsTest, RegionsAreClippedToTheFrame) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_RGB, 64, 48);
  const Outcome outcome =
      push_red_and_blue(*harness(info), info, 32, {{40, 10, 100, 100}, {70, 50, 10, 10}});
  EXPECT_EQ(outcome.labels, (std::vector<std::string>{"blue", "-"}));
}

// regions=frame embeds the whole frame (red + blue: magenta, unknown) and leaves detections alone.
TEST_F(RegionsTest, RegionsCanBeIgnored) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  const Outcome outcome =
      push_red_and_blue(*harness(info, "regions=frame"), info, 32, {{2, 4, 28, 40}});
  EXPECT_EQ(outcome.labels, (std::vector<std::string>{"-"}));
  ASSERT_TRUE(outcome.whole_frame.has_value());
  EXPECT_FALSE(outcome.whole_frame->result.matched);
}

// regions=regions: a frame with a detection is tagged there; a frame without
// any gets no result at all (no whole-frame meta, no message), where the
// default auto mode falls back to the whole frame.
TEST_F(RegionsTest, RegionsOnlyGivesFramesWithoutRegionsNoResult) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  const auto only = harness(info, "regions=regions");
  EXPECT_EQ(push_red_and_blue(*only, info, 32, {{2, 4, 28, 40}}).labels,
            std::vector<std::string>{"red"});
  EXPECT_EQ(count_and_free(only->take_messages()), 1);
  const Outcome empty = push_red_and_blue(*only, info, 64, {});
  EXPECT_FALSE(empty.whole_frame.has_value());
  EXPECT_EQ(count_and_free(only->take_messages()), 0);

  const auto automatic = harness(info);
  const Outcome whole = push_red_and_blue(*automatic, info, 64, {});
  ASSERT_TRUE(whole.whole_frame.has_value());
  EXPECT_EQ(whole.whole_frame->result.label, "red");
}

// roi-types picks the region types to embed; the others stay untagged, and
// when none is left, regions mode gives no result while auto embeds the frame.
TEST_F(RegionsTest, RoiTypesChooseTheRegions) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  const std::vector<cv::Rect> boxes{{2, 4, 28, 40}, {36, 0, 28, 48}};
  const auto faces = harness(info, "regions=regions roi-types=\"face, person\"");
  EXPECT_EQ(push_red_and_blue(*faces, info, 32, boxes, {"face", "car"}).labels,
            (std::vector<std::string>{"red", "-"}));
  EXPECT_EQ(push_red_and_blue(*faces, info, 32, boxes, {"car", "person"}).labels,
            (std::vector<std::string>{"-", "blue"}));
  const Outcome none = push_red_and_blue(*faces, info, 32, boxes, {"car", "car"});
  EXPECT_EQ(none.labels, (std::vector<std::string>{"-", "-"}));
  EXPECT_FALSE(none.whole_frame.has_value());
  GstElement *element = gst_harness_find_element(faces->harness, "siamesematch");
  gchar *types = nullptr;
  g_object_get(element, "roi-types", &types, nullptr);
  EXPECT_STREQ(types, "face,person");
  g_free(types);
  gst_object_unref(element);

  const auto automatic = harness(info, "roi-types=face");
  const Outcome fallback = push_red_and_blue(*automatic, info, 32, boxes, {"car", "car"});
  EXPECT_EQ(fallback.labels, (std::vector<std::string>{"-", "-"}));
  EXPECT_TRUE(fallback.whole_frame.has_value());
}

// min-region-size: a region narrower or lower than it (after clipping) is not embedded.
TEST_F(RegionsTest, SmallRegionsAreSkipped) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  const auto matcher = harness(info, "regions=regions min-region-size=20");
  EXPECT_EQ(push_red_and_blue(*matcher, info, 32,
                              {{2, 4, 28, 40}, {36, 0, 19, 48}, {36, 30, 28, 30}}).labels,
            (std::vector<std::string>{"red", "-", "-"}));
}

// With interval=2, the skipped frame's regions get no (stale) result: regions move.
TEST_F(RegionsTest, SkippedFramesLeaveRegionsUntagged) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, 64, 48);
  const auto matcher = harness(info, "interval=2");
  for (const char *expected : {"red", "-"}) {
    const Outcome outcome = push_red_and_blue(*matcher, info, 32, {{2, 4, 28, 40}});
    EXPECT_EQ(outcome.labels, std::vector<std::string>{expected});
    EXPECT_FALSE(outcome.whole_frame.has_value());
  }
}

}  // namespace
}  // namespace siamese::test
