// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What siamesematch attaches and posts for solid-colour frames embedded by
// mean_colour.onnx (embedding = mean RGB colour), matched against the solid
// colour reference folders: labels, scores, metas, messages, timestamps, and
// the interval, message-policy, metric, index and threshold properties.
#include <cmath>

#include "element_harness.h"
#include "match_structure.h"

namespace siamese::test {
namespace {

constexpr int kWidth = 64;
constexpr int kHeight = 48;
constexpr GstClockTime kFrameDuration = 40 * GST_MSECOND;

class ResultsTest : public ElementTest {
 protected:
  // Pushes a solid frame of the colour, stamped as frame `index` of a 25 fps
  // stream, and returns the buffer that came out.
  static GstBuffer *push_colour(MatchHarness &matcher, int red, int green, int blue,
                                int index = 0) {
    GstBuffer *frame = make_frame(solid_bgr(kWidth, kHeight, red, green, blue),
                                  video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight));
    GST_BUFFER_PTS(frame) = index * kFrameDuration;
    GST_BUFFER_DURATION(frame) = kFrameDuration;
    return matcher.push_and_pull(frame);
  }

  static TaggedResult tag_of_colour(MatchHarness &matcher, int red, int green, int blue,
                                    int index = 0) {
    GstBuffer *out = push_colour(matcher, red, green, blue, index);
    const auto tagged = tagged_result(out);
    gst_buffer_unref(out);
    EXPECT_TRUE(tagged.has_value());
    return tagged.value_or(TaggedResult{});
  }

  const std::string bgr_caps_ = "video/x-raw,format=BGR,width=64,height=48,framerate=25/1";
};

// Pure colours get their label with cosine 1 and the model's calibrated threshold 0.95.
TEST_F(ResultsTest, SolidColoursGetTheirLabels) {
  MatchHarness matcher(element_description(), bgr_caps_);
  const struct {
    int r, g, b;
    const char *label;
  } cases[] = {
      {255, 0, 0, "red"}, {0, 255, 0, "green"}, {0, 0, 255, "blue"}, {255, 255, 0, "yellow"}};
  for (const auto &c : cases) {
    const TaggedResult tagged = tag_of_colour(matcher, c.r, c.g, c.b);
    EXPECT_TRUE(tagged.result.matched) << c.label;
    EXPECT_EQ(tagged.result.label, c.label);
    EXPECT_EQ(tagged.result.best_label, c.label);
    EXPECT_NEAR(tagged.result.score, 1.0, 1e-5);
    EXPECT_NEAR(tagged.result.distance, 0.0, 1e-3);
    EXPECT_NEAR(tagged.result.threshold, 0.95, 1e-6);
    EXPECT_EQ(tagged.result.metric, "cosine");
    ASSERT_EQ(tagged.result.top.size(), 3u);  // top-k defaults to 3
    EXPECT_EQ(tagged.result.top.front().label, c.label);
  }
}

// threshold and top-k set while PLAYING apply from the next frame on.
TEST_F(ResultsTest, ThresholdAndTopKChangeWhilePlaying) {
  MatchHarness matcher(element_description(), bgr_caps_);
  // Orange-red (255, 60, 0): cosine 0.973 with pure red, below 0.99.
  TaggedResult tagged = tag_of_colour(matcher, 255, 60, 0, 0);
  EXPECT_TRUE(tagged.result.matched);
  EXPECT_EQ(tagged.result.top.size(), 3u);
  GstElement *element = gst_harness_find_element(matcher.harness, "siamesematch");
  g_object_set(element, "threshold", 0.99, "top-k", 1u, nullptr);
  tagged = tag_of_colour(matcher, 255, 60, 0, 1);
  EXPECT_FALSE(tagged.result.matched);
  EXPECT_EQ(tagged.result.best_label, "red");
  EXPECT_DOUBLE_EQ(tagged.result.threshold, 0.99);
  EXPECT_EQ(tagged.result.top.size(), 1u);
  gst_object_unref(element);
}

// index=faiss-flat and index=faiss-hnsw give the exact search's results
// (on a gallery this small the HNSW graph finds every best label).
TEST_F(ResultsTest, FaissIndexesGiveTheExactSearchsResults) {
  MatchHarness exact(element_description("index=exact"), bgr_caps_);
  for (const std::string index : {"faiss-flat", "faiss-hnsw"}) {
    MatchHarness faiss(element_description("index=" + index), bgr_caps_);
    const struct {
      int r, g, b;
    } colours[] = {{255, 0, 0}, {0, 255, 0}, {255, 60, 0}, {255, 255, 255}, {40, 40, 200}};
    int frame = 0;
    for (const auto &c : colours) {
      const TaggedResult expected = tag_of_colour(exact, c.r, c.g, c.b, frame);
      const TaggedResult found = tag_of_colour(faiss, c.r, c.g, c.b, frame++);
      EXPECT_EQ(found.result.best_label, expected.result.best_label) << index;
      EXPECT_EQ(found.result.matched, expected.result.matched) << index;
      EXPECT_NEAR(found.result.score, expected.result.score, 1e-5) << index;
      ASSERT_EQ(found.result.top.size(), expected.result.top.size()) << index;
      for (std::size_t k = 0; k < found.result.top.size(); ++k)
        EXPECT_EQ(found.result.top[k].label, expected.result.top[k].label) << index << " " << k;
    }
  }
}

// White is nearest to the yellow shade (230, 220, 20), cosine 0.851, below the threshold: unknown.
TEST_F(ResultsTest, UnlikeColourIsUnknown) {
  MatchHarness matcher(element_description(), bgr_caps_);
  const TaggedResult tagged = tag_of_colour(matcher, 255, 255, 255);
  EXPECT_FALSE(tagged.result.matched);
  EXPECT_EQ(tagged.result.label, "");
  EXPECT_EQ(tagged.result.best_label, "yellow");
  const double shade_norm = std::sqrt(230.0 * 230.0 + 220.0 * 220.0 + 20.0 * 20.0);
  EXPECT_NEAR(tagged.result.score, (230.0 + 220.0 + 20.0) / (std::sqrt(3.0) * shade_norm), 1e-5);
}

// The region meta covers the whole frame and carries the same result as the message.
TEST_F(ResultsTest, MetaCoversFrameAndMatchesMessage) {
  MatchHarness matcher(element_description(), bgr_caps_);
  const TaggedResult tagged = tag_of_colour(matcher, 0, 0, 255);
  EXPECT_TRUE(tagged.fresh);
  EXPECT_EQ(tagged.x, 0u);
  EXPECT_EQ(tagged.y, 0u);
  EXPECT_EQ(tagged.width, static_cast<guint>(kWidth));
  EXPECT_EQ(tagged.height, static_cast<guint>(kHeight));
  auto messages = matcher.take_messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto posted = match_from_structure(messages[0]);
  ASSERT_TRUE(posted.has_value());
  EXPECT_EQ(*posted, tagged.result);
  count_and_free(messages);
}

// Messages carry the buffer's timestamp, stream time, running time and duration.
TEST_F(ResultsTest, MessagesCarryTimestamps) {
  MatchHarness matcher(element_description(), bgr_caps_);
  for (int index = 0; index < 3; ++index) gst_buffer_unref(push_colour(matcher, 255, 0, 0, index));
  auto messages = matcher.take_messages();
  ASSERT_EQ(messages.size(), 3u);
  for (int index = 0; index < 3; ++index) {
    guint64 timestamp = 0, stream_time = 0, running_time = 0, duration = 0;
    ASSERT_TRUE(gst_structure_get_uint64(messages[index], "timestamp", &timestamp));
    ASSERT_TRUE(gst_structure_get_uint64(messages[index], "stream-time", &stream_time));
    ASSERT_TRUE(gst_structure_get_uint64(messages[index], "running-time", &running_time));
    ASSERT_TRUE(gst_structure_get_uint64(messages[index], "duration", &duration));
    EXPECT_EQ(timestamp, index * kFrameDuration);
    EXPECT_EQ(stream_time, index * kFrameDuration);  // the harness's segment starts at 0
    EXPECT_EQ(running_time, index * kFrameDuration);
    EXPECT_EQ(duration, kFrameDuration);
  }
  count_and_free(messages);
}

// interval=3 embeds frames 0, 3, 6; the others carry the latest result as stale, post nothing.
TEST_F(ResultsTest, IntervalReusesLatestResult) {
  MatchHarness matcher(element_description("interval=3"), bgr_caps_);
  const int colours[7][3] = {{255, 0, 0}, {0, 0, 255}, {0, 0, 255}, {0, 255, 0},
                             {255, 0, 0}, {255, 0, 0}, {0, 0, 255}};
  const char *expected[7] = {"red", "red", "red", "green", "green", "green", "blue"};
  for (int i = 0; i < 7; ++i) {
    const TaggedResult tagged =
        tag_of_colour(matcher, colours[i][0], colours[i][1], colours[i][2], i);
    EXPECT_EQ(tagged.result.label, expected[i]) << "frame " << i;
    EXPECT_EQ(tagged.fresh, i % 3 == 0) << "frame " << i;
  }
  EXPECT_EQ(count_and_free(matcher.take_messages()), 3);
}

// qos is off by default: a frame the sink reported late (a QoS event saying
// nothing before 1 s can be shown in time) is still embedded and tagged; with
// qos=true GstBaseTransform drops it unseen, as the element's manual says.
TEST_F(ResultsTest, LateFramesAreMatchedUnlessQosIsOn) {
  for (const bool qos : {false, true}) {
    MatchHarness matcher(element_description(qos ? "qos=true" : ""), bgr_caps_);
    GstElement *element = gst_harness_find_element(matcher.harness, "siamesematch");
    gboolean enabled = !qos;
    g_object_get(element, "qos", &enabled, nullptr);
    EXPECT_EQ(enabled, qos);
    gst_object_unref(element);
    ASSERT_TRUE(gst_harness_push_upstream_event(
        matcher.harness,
        gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 2.0, GST_SECOND / 2, GST_SECOND / 2)));
    GstBuffer *frame = make_frame(solid_bgr(kWidth, kHeight, 255, 0, 0),
                                  video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight));
    GST_BUFFER_PTS(frame) = 0;
    GST_BUFFER_DURATION(frame) = kFrameDuration;
    EXPECT_EQ(gst_harness_push(matcher.harness, frame), GST_FLOW_OK);
    GstBuffer *out = gst_harness_try_pull(matcher.harness);
    if (qos) {
      EXPECT_EQ(out, nullptr) << "qos=true: the late frame is dropped";
      EXPECT_EQ(count_and_free(matcher.take_messages()), 0);
    } else {
      ASSERT_NE(out, nullptr) << "qos=false: the late frame goes through";
      const auto tagged = tagged_result(out);
      ASSERT_TRUE(tagged.has_value());
      EXPECT_EQ(tagged->result.label, "red");
      gst_buffer_unref(out);
    }
    if (out && qos) gst_buffer_unref(out);
  }
}

// A flushing seek starts the stream afresh: the first frame after it is
// embedded although `interval` would skip it, and messages=on-change posts
// it although its label is the one posted before the seek.
TEST_F(ResultsTest, FlushingSeekResetsStreamState) {
  MatchHarness matcher(element_description("interval=3 messages=on-change"), bgr_caps_);
  EXPECT_TRUE(tag_of_colour(matcher, 255, 0, 0, 0).fresh);
  EXPECT_EQ(count_and_free(matcher.take_messages()), 1);
  EXPECT_FALSE(tag_of_colour(matcher, 0, 0, 255, 1).fresh);  // skipped: carries red

  ASSERT_TRUE(gst_harness_push_event(matcher.harness, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(matcher.harness, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  segment.start = segment.time = 10 * kFrameDuration;
  ASSERT_TRUE(gst_harness_push_event(matcher.harness, gst_event_new_segment(&segment)));

  const TaggedResult after = tag_of_colour(matcher, 255, 0, 0, 10);
  EXPECT_TRUE(after.fresh);
  EXPECT_EQ(after.result.label, "red");
  EXPECT_EQ(count_and_free(matcher.take_messages()), 1);  // on-change forgot the earlier red
  EXPECT_FALSE(tag_of_colour(matcher, 0, 0, 255, 11).fresh);  // interval counts from the seek
}

// Each message policy posts for the frames it names, and only those.
TEST_F(ResultsTest, MessagePolicies) {
  // red, red, white (unknown), blue, blue, red
  const int colours[6][3] = {{255, 0, 0}, {255, 0, 0}, {255, 255, 255},
                             {0, 0, 255}, {0, 0, 255}, {255, 0, 0}};
  const struct {
    const char *policy;
    int messages;
  } cases[] = {{"every-frame", 6}, {"on-change", 4}, {"on-match", 5}, {"none", 0}};
  for (const auto &c : cases) {
    MatchHarness matcher(element_description(std::string("messages=") + c.policy), bgr_caps_);
    for (int i = 0; i < 6; ++i)
      gst_buffer_unref(push_colour(matcher, colours[i][0], colours[i][1], colours[i][2], i));
    EXPECT_EQ(count_and_free(matcher.take_messages()), c.messages) << c.policy;
  }
}

// A threshold property overrides the model's: 0.9999 rejects a shade that 0.95 accepts.
TEST_F(ResultsTest, ThresholdPropertyOverridesModel) {
  const int shade[3] = {250, 60, 10};  // reddish, cosine ~0.97 to the nearest red
  {
    MatchHarness matcher(element_description(), bgr_caps_);
    EXPECT_EQ(tag_of_colour(matcher, shade[0], shade[1], shade[2]).result.label, "red");
  }
  MatchHarness strict(element_description("threshold=0.9999"), bgr_caps_);
  const TaggedResult tagged = tag_of_colour(strict, shade[0], shade[1], shade[2]);
  EXPECT_FALSE(tagged.result.matched);
  EXPECT_EQ(tagged.result.best_label, "red");
  EXPECT_DOUBLE_EQ(tagged.result.threshold, 0.9999);
}

// Euclidean: score is minus the distance, the model's calibrated distance threshold applies.
TEST_F(ResultsTest, EuclideanMetric) {
  MatchHarness matcher(element_description("metric=euclidean top-k=2"), bgr_caps_);
  const TaggedResult tagged = tag_of_colour(matcher, 0, 255, 0);
  EXPECT_EQ(tagged.result.metric, "euclidean");
  EXPECT_EQ(tagged.result.label, "green");
  EXPECT_NEAR(tagged.result.threshold, 0.3, 1e-6);
  EXPECT_NEAR(tagged.result.score, -tagged.result.distance, 1e-6);
  ASSERT_EQ(tagged.result.top.size(), 2u);
  EXPECT_GE(tagged.result.top[0].score, tagged.result.top[1].score);
}

// The learned metric uses the model's pair head: probability sigmoid(4) for equal colours.
TEST_F(ResultsTest, LearnedMetricWithHead) {
  MatchHarness matcher(element_description("metric=learned", SIAMESE_FIXTURE_MEAN_COLOUR_HEAD_ONNX),
                       bgr_caps_);
  const TaggedResult tagged = tag_of_colour(matcher, 255, 255, 0);
  EXPECT_EQ(tagged.result.metric, "learned");
  EXPECT_EQ(tagged.result.label, "yellow");
  EXPECT_NEAR(tagged.result.score, 1.0 / (1.0 + std::exp(-4.0)), 1e-4);
  EXPECT_NEAR(tagged.result.threshold, 0.5, 1e-6);
}

// Without metadata the threshold falls back to the documented default (cosine 0.5).
TEST_F(ResultsTest, DefaultThresholdWithoutMetadata) {
  MatchHarness matcher(element_description("", SIAMESE_FIXTURE_NO_METADATA_ONNX), bgr_caps_);
  const TaggedResult tagged = tag_of_colour(matcher, 255, 0, 0);
  EXPECT_DOUBLE_EQ(tagged.result.threshold, 0.5);
  EXPECT_EQ(tagged.result.label, "red");
}

// The mean and scale properties reach the preprocessing: with mean=255, scale=1 a white
// frame embeds to the zero vector, which scores 0 against every label.
TEST_F(ResultsTest, MeanAndScaleOverridesApply) {
  MatchHarness matcher(element_description("mean=255 scale=1"), bgr_caps_);
  const TaggedResult tagged = tag_of_colour(matcher, 255, 255, 255);
  EXPECT_FALSE(tagged.result.matched);
  for (const LabelScore &entry : tagged.result.top) EXPECT_NEAR(entry.score, 0.0, 1e-6);
}

// Buffers keep their timestamps and pixels: the element only adds metadata.
TEST_F(ResultsTest, BuffersPassUnchanged) {
  MatchHarness matcher(element_description(), bgr_caps_);
  GstBuffer *in =
      make_frame(textured_bgr(kWidth, kHeight), video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight));
  GST_BUFFER_PTS(in) = 7 * GST_SECOND;
  GstBuffer *reference = gst_buffer_copy_deep(in);
  GstBuffer *out = matcher.push_and_pull(in);
  EXPECT_EQ(GST_BUFFER_PTS(out), 7 * GST_SECOND);
  GstMapInfo a, b;
  gst_buffer_map(out, &a, GST_MAP_READ);
  gst_buffer_map(reference, &b, GST_MAP_READ);
  ASSERT_EQ(a.size, b.size);
  EXPECT_EQ(memcmp(a.data, b.data, a.size), 0);
  gst_buffer_unmap(out, &a);
  gst_buffer_unmap(reference, &b);
  gst_buffer_unref(out);
  gst_buffer_unref(reference);
}

}  // namespace
}  // namespace siamese::test
