// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siamesematch under concurrent use: GstHarness stress threads changing its
// state, setting properties (some of which reload in the background) and
// pushing buffers all at once; and flushing seeks in a running pipeline.
// Run under the sanitizers too (scripts/test.sh --sanitize), where a data
// race's consequences, a use after free or a leak would be reported.
#include <atomic>
#include <chrono>
#include <thread>

#include "element_harness.h"

namespace siamese::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char *kCaps = "video/x-raw,format=BGR,width=64,height=48,framerate=25/1";

class StressTest : public ElementTest {};

// Every error message on `bus` so far, popped and counted (other messages
// are dropped so the bus does not grow); `playing`, when given, counts the
// element's changes to PLAYING among them.
int drain_errors(GstBus *bus, int *playing = nullptr) {
  int errors = 0;
  while (GstMessage *message = gst_bus_pop(bus)) {
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
      GError *error = nullptr;
      gst_message_parse_error(message, &error, nullptr);
      ADD_FAILURE() << "error on the bus: " << error->message;
      g_error_free(error);
      ++errors;
    } else if (playing && GST_MESSAGE_TYPE(message) == GST_MESSAGE_STATE_CHANGED) {
      GstState state = GST_STATE_NULL;
      gst_message_parse_state_changed(message, nullptr, &state, nullptr);
      *playing += state == GST_STATE_PLAYING;
    }
    gst_message_unref(message);
  }
  return errors;
}

// State changes (NULL <-> PLAYING), property sets (per-frame ones and
// reference, which reloads in the background) and buffer pushes, from five
// threads at once, for a second and until six state-change rounds have
// passed (a loaded or sanitised machine is slower); the element then still
// matches correctly.
TEST_F(StressTest, StateChangesPropertiesAndBuffersAtOnce) {
  // The element itself in the harness, not a bin around it: the property
  // threads set the harnessed element's properties.
  MatchHarness matcher(gst_parse_launch(element_description("messages=every-frame").c_str(),
                                        nullptr),
                       kCaps);
  GstHarness *h = matcher.harness;
  ASSERT_STREQ(G_OBJECT_TYPE_NAME(h->element), "GstSiameseMatch");
  gst_harness_set_drop_buffers(h, TRUE);

  GstCaps *caps = gst_caps_from_string(kCaps);
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  GstBuffer *red = make_frame(solid_bgr(64, 48, 255, 0, 0),
                              video_info(GST_VIDEO_FORMAT_BGR, 64, 48));
  GValue threshold = G_VALUE_INIT, interval = G_VALUE_INIT, reference = G_VALUE_INIT;
  g_value_set_double(g_value_init(&threshold, G_TYPE_DOUBLE), 0.9);
  g_value_set_uint(g_value_init(&interval, G_TYPE_UINT), 2);
  g_value_set_string(g_value_init(&reference, G_TYPE_STRING), SIAMESE_FIXTURE_REFERENCES_DIR);

  GstHarnessThread *threads[] = {
      gst_harness_stress_push_buffer_start(h, caps, &segment, red),
      gst_harness_stress_statechange_start_full(h, G_USEC_PER_SEC / 50),
      gst_harness_stress_property_start_full(h, "threshold", &threshold, G_USEC_PER_SEC / 1000),
      gst_harness_stress_property_start_full(h, "interval", &interval, G_USEC_PER_SEC / 1000),
      gst_harness_stress_property_start_full(h, "reference", &reference, G_USEC_PER_SEC / 20),
  };
  const auto start = Clock::now();
  int playing = 0;
  while (Clock::now() < start + std::chrono::seconds(1) ||
         (playing < 6 && Clock::now() < start + std::chrono::seconds(60))) {
    drain_errors(matcher.bus, &playing);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  guint counts[G_N_ELEMENTS(threads)];
  for (std::size_t i = 0; i < G_N_ELEMENTS(threads); ++i)
    counts[i] = gst_harness_stress_thread_stop(threads[i]);
  EXPECT_GT(counts[0], 10u) << "buffer pushes";
  EXPECT_GT(counts[1], 5u) << "state changes";
  EXPECT_GT(counts[2], 10u) << "threshold sets";
  EXPECT_EQ(drain_errors(matcher.bus), 0);

  // Still PLAYING (each state-change round ends there) and still right.  The
  // last restart dropped the caps the element had (pad deactivation clears
  // its sticky events), so they come again first, as upstream would send them.
  gst_harness_set_drop_buffers(h, FALSE);
  gst_harness_set_src_caps_str(h, kCaps);
  GstBuffer *out = matcher.push_and_pull(gst_buffer_ref(red));
  const auto tagged = tagged_result(out);
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(tagged->result.label, "red");
  gst_buffer_unref(out);

  gst_buffer_unref(red);
  gst_caps_unref(caps);
  for (GValue *value : {&threshold, &interval, &reference}) g_value_unset(value);
}

// What the probe on siamesematch's source pad saw.
struct SeekWatch {
  std::atomic<int> buffers{0};
  std::atomic<int> flushes{0};
  std::atomic<int> fresh_after_flush{0};
  std::atomic<int> stale_after_flush{0};
  bool awaiting_first = false;  // the streaming thread's alone
};

GstPadProbeReturn watch_seeks(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *watch = static_cast<SeekWatch *>(data);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_FLUSH) {
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_FLUSH_STOP) {
      watch->awaiting_first = true;
      ++watch->flushes;
    }
  } else if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    if (watch->awaiting_first) {
      const auto tagged = tagged_result(GST_PAD_PROBE_INFO_BUFFER(info));
      ++(tagged && tagged->fresh ? watch->fresh_after_flush : watch->stale_after_flush);
      watch->awaiting_first = false;
    }
    ++watch->buffers;
  }
  return GST_PAD_PROBE_OK;
}

// Waits (up to 10 s) until `counter` exceeds `value`.
bool wait_beyond(const std::atomic<int> &counter, int value) {
  const auto end = Clock::now() + std::chrono::seconds(10);
  while (counter.load() <= value && Clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return counter.load() > value;
}

// Twenty flushing seeks into a pipeline running flat out: each succeeds, the
// stream goes on, no error is posted, and the first frame after every flush
// is embedded afresh although interval=1000 would skip it.
TEST_F(StressTest, FlushingSeeksUnderLoad) {
  const std::string description =
      "videotestsrc pattern=red ! video/x-raw,format=BGR,width=64,height=48 ! " +
      element_description("name=matcher interval=1000 messages=every-frame") +
      " ! fakesink sync=false";
  GstElement *pipeline = gst_parse_launch(description.c_str(), nullptr);
  ASSERT_NE(pipeline, nullptr);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstElement *element = gst_bin_get_by_name(GST_BIN(pipeline), "matcher");
  GstPad *src = gst_element_get_static_pad(element, "src");
  SeekWatch watch;
  gst_pad_add_probe(src,
                    static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER |
                                                 GST_PAD_PROBE_TYPE_EVENT_FLUSH),
                    watch_seeks, &watch, nullptr);
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  ASSERT_EQ(gst_element_get_state(pipeline, nullptr, nullptr, 10 * GST_SECOND),
            GST_STATE_CHANGE_SUCCESS);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  ASSERT_TRUE(wait_beyond(watch.buffers, 5));

  constexpr int kSeeks = 20;
  for (int seek = 0; seek < kSeeks; ++seek) {
    ASSERT_TRUE(gst_element_seek_simple(pipeline, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH,
                                        (seek % 5) * GST_SECOND))
        << "seek " << seek;
    ASSERT_TRUE(wait_beyond(watch.buffers, watch.buffers.load() + 3)) << "after seek " << seek;
    EXPECT_EQ(drain_errors(bus), 0);
  }
  EXPECT_GE(watch.flushes.load(), kSeeks);
  EXPECT_EQ(watch.fresh_after_flush.load(), watch.flushes.load());
  EXPECT_EQ(watch.stale_after_flush.load(), 0);

  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(element);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
}

}  // namespace
}  // namespace siamese::test
