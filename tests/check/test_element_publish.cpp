// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siamesepublish after siamesematch: one JSON event per fresh result (whole
// frames and regions) in a file, the events policy, the camera id, settings
// errors; and over MQTT to a real broker of the test's own: the broker
// killed mid-stream and restarted loses nothing, an overflow is dropped
// oldest first, counted and warned about, and what is left at stop is counted.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <memory>
#include <thread>

#include "element_harness.h"
#include "eventually.h"
#include "match_event.h"
#include "match_structure.h"
#include "test_broker.h"

namespace siamese::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kWidth = 64;
constexpr int kHeight = 48;
constexpr GstClockTime kFrameDuration = 40 * GST_MSECOND;
constexpr const char *kTopic = "cams/door";

// siamesematch (mean colour model, solid colour references) and siamesepublish
// named "publish" with `publish_options`, in one harness.
class PublishHarness {
 public:
  PublishHarness(const std::string &publish_options, const std::string &match_options = "")
      : harness_(element_description(match_options) + " ! siamesepublish name=publish " +
                 publish_options) {
    harness_.set_caps(video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight));
    publish_ = gst_bin_get_by_name(GST_BIN(harness_.harness->element), "publish");
  }
  ~PublishHarness() { gst_object_unref(publish_); }

  // Pushes frame `index` of a 25 fps stream (never waits on delivery).
  void push(const cv::Mat &picture, int index,
            const std::vector<cv::Rect> &regions = {}) {
    GstBuffer *frame = make_frame(picture, video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight));
    GST_BUFFER_PTS(frame) = index * kFrameDuration;
    for (const cv::Rect &box : regions)
      gst_buffer_add_video_region_of_interest_meta(frame, "detection", box.x, box.y, box.width,
                                                   box.height);
    gst_buffer_unref(harness_.push_and_pull(frame));
  }
  void push_colour(int red, int green, int blue, int index) {
    push(solid_bgr(kWidth, kHeight, red, green, blue), index);
  }

  guint64 counter(const char *name) const {
    guint64 value = 0;
    g_object_get(publish_, name, &value, nullptr);
    return value;
  }
  bool connected() const {
    gboolean value = FALSE;
    g_object_get(publish_, "connected", &value, nullptr);
    return value;
  }
  // The text of the warnings (or infos) posted so far, oldest first.
  std::vector<std::string> messages(GstMessageType type) {
    while (GstMessage *message = gst_bus_pop_filtered(harness_.bus, type)) {
      GError *error = nullptr;
      if (type == GST_MESSAGE_WARNING)
        gst_message_parse_warning(message, &error, nullptr);
      else
        gst_message_parse_info(message, &error, nullptr);
      seen_[type].push_back(error->message);
      g_error_free(error);
      gst_message_unref(message);
    }
    return seen_[type];
  }
  // Stops the pipeline (siamesepublish delivers what is queued first).
  void stop() { gst_element_set_state(harness_.harness->element, GST_STATE_NULL); }

 private:
  MatchHarness harness_;
  GstElement *publish_ = nullptr;
  std::map<GstMessageType, std::vector<std::string>> seen_;
};

std::vector<MatchEvent> parse_all(const std::vector<std::string> &lines) {
  std::vector<MatchEvent> events;
  for (const std::string &line : lines) events.push_back(event_from_json(line));
  return events;
}

std::vector<std::uint64_t> sequences(const std::vector<MatchEvent> &events) {
  std::vector<std::uint64_t> result;
  for (const MatchEvent &event : events) result.push_back(event.sequence);
  return result;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t count) {
  std::vector<std::uint64_t> result;
  for (std::uint64_t i = first; i < first + count; ++i) result.push_back(i);
  return result;
}

bool contains(const std::vector<std::string> &texts, const std::string &part) {
  for (const std::string &text : texts)
    if (text.find(part) != std::string::npos) return true;
  return false;
}

class PublishFileTest : public ElementTest {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            ("siamese-publish-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".jsonl");
    fs::remove(path_);
  }
  void TearDown() override { fs::remove(path_); }

  std::string file_options(const std::string &extra = "") const {
    return "location=" + path_.string() + " " + extra;
  }
  std::vector<MatchEvent> events() const {
    std::vector<std::string> lines;
    std::ifstream file(path_);
    for (std::string line; std::getline(file, line);) lines.push_back(line);
    return parse_all(lines);
  }

  fs::path path_;
};

// Three frames give three events with the camera, sequence, timestamps, box and result.
TEST_F(PublishFileTest, OneEventPerFrame) {
  const std::int64_t before = utc_now_us();
  {
    PublishHarness pipeline(file_options("camera-id=door"));
    pipeline.push_colour(255, 0, 0, 0);
    pipeline.push_colour(0, 0, 255, 1);
    pipeline.push_colour(128, 128, 128, 2);
    pipeline.stop();
    EXPECT_EQ(pipeline.counter("delivered"), 3u);
    EXPECT_EQ(pipeline.counter("dropped"), 0u);
  }
  const std::vector<MatchEvent> written = events();
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(sequences(written), range(0, 3));
  for (std::size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(written[i].camera, "door");
    EXPECT_EQ(written[i].pts, i * kFrameDuration);
    EXPECT_GE(written[i].utc_us, before);
    EXPECT_LE(written[i].utc_us, utc_now_us());
    EXPECT_TRUE(written[i].whole_frame);
    EXPECT_EQ(written[i].region.type, kMatchStructureName);
    EXPECT_EQ(written[i].region.width, static_cast<unsigned>(kWidth));
    EXPECT_EQ(written[i].region.height, static_cast<unsigned>(kHeight));
    EXPECT_EQ(written[i].result.metric, "cosine");
    EXPECT_EQ(written[i].result.top.size(), 3u);
  }
  EXPECT_EQ(written[0].result.label, "red");
  EXPECT_EQ(written[1].result.label, "blue");
  EXPECT_FALSE(written[2].result.matched);  // grey is none of the colours
  EXPECT_EQ(written[2].result.label, "");
}

// Each upstream region siamesematch tagged becomes an event with its box.
TEST_F(PublishFileTest, OneEventPerRegion) {
  {
    PublishHarness pipeline(file_options());
    cv::Mat picture(kHeight, kWidth, CV_8UC3);
    picture.colRange(0, 32).setTo(cv::Scalar(0, 0, 255));
    picture.colRange(32, kWidth).setTo(cv::Scalar(255, 0, 0));
    pipeline.push(picture, 0, {{2, 4, 28, 40}, {36, 0, 28, 48}});
  }
  const std::vector<MatchEvent> written = events();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0].result.label, "red");
  EXPECT_EQ(written[1].result.label, "blue");
  EXPECT_FALSE(written[1].whole_frame);
  EXPECT_EQ(written[1].region.type, "detection");
  EXPECT_EQ(written[1].region.x, 36u);
  EXPECT_EQ(written[1].region.width, 28u);
  EXPECT_EQ(written[0].camera, "publish");  // the element's name by default
}

// Frames skipped by siamesematch's interval carry an old result: no event.
TEST_F(PublishFileTest, OnlyFreshResults) {
  {
    PublishHarness pipeline(file_options(), "interval=3");
    for (int i = 0; i < 6; ++i) pipeline.push_colour(255, 0, 0, i);
  }
  const std::vector<MatchEvent> written = events();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[1].pts, 3 * kFrameDuration);
}

// events=on-change and events=on-match.
TEST_F(PublishFileTest, EventsPolicy) {
  {
    PublishHarness pipeline(file_options("events=on-change"));
    const int colours[][3] = {{255, 0, 0}, {255, 0, 0}, {0, 0, 255}, {0, 0, 255}, {255, 0, 0}};
    for (int i = 0; i < 5; ++i) pipeline.push_colour(colours[i][0], colours[i][1], colours[i][2], i);
  }
  std::vector<MatchEvent> written = events();
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[1].result.label, "blue");
  EXPECT_EQ(written[2].pts, 4 * kFrameDuration);
  fs::remove(path_);
  {
    PublishHarness pipeline(file_options("events=on-match"));
    pipeline.push_colour(255, 0, 0, 0);
    pipeline.push_colour(128, 128, 128, 1);
    pipeline.push_colour(0, 255, 0, 2);
  }
  written = events();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[1].result.label, "green");
  EXPECT_EQ(written[1].sequence, 1u);  // sequence counts events, not frames
}

// Settings no retry can fix are errors at start, naming the value.
TEST_F(ElementTest, PublishSettingsErrors) {
  const struct {
    std::string options;
    std::string named;
  } cases[] = {
      {"method=mqtt address=broker:99999", "broker:99999"},
      {"method=mqtt topic=cams/#", "cams/#"},
      {"method=mqtt tls=true tls-ca-file=/nonexistent/ca.pem", "/nonexistent/ca.pem"},
      {"method=file location=\"\"", "location"},
      {"method=file max-size=1000", "Standard output"},
  };
  for (const auto &c : cases) {
    GError *error = start_error("fakesrc ! siamesepublish " + c.options + " ! fakesink");
    ASSERT_NE(error, nullptr) << c.options;
    EXPECT_TRUE(g_error_matches(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS))
        << c.options << ": " << error->message;
    EXPECT_NE(std::string(error->message).find(c.named), std::string::npos) << error->message;
    g_error_free(error);
  }
}

class PublishMqttTest : public ElementTest {
 protected:
  static std::string mqtt_options(const TestBroker &broker, const std::string &extra = "") {
    return "method=mqtt address=" + broker.address() + " topic=" + kTopic + " camera-id=door " +
           extra;
  }
  static std::vector<MatchEvent> received(TestSubscriber &subscriber) {
    return parse_all(subscriber.messages());
  }
};

// The broker killed mid-stream and restarted: the events of the outage
// arrive after it, in order, none lost; warning, then info.
TEST_F(PublishMqttTest, BrokerKilledMidStreamLosesNothing) {
  TestBroker broker;
  TestSubscriber subscriber(broker, kTopic);
  broker.save();  // the subscription survives the broker's death
  PublishHarness pipeline(mqtt_options(broker));
  for (int i = 0; i < 20; ++i) pipeline.push_colour(255, 0, 0, i);
  ASSERT_TRUE(subscriber.wait_for(20));
  ASSERT_TRUE(eventually([&] { return pipeline.counter("delivered") == 20; }));

  broker.kill();
  ASSERT_TRUE(eventually([&] { return !pipeline.connected(); }));
  // Pushing goes on while the broker is down: were the streaming thread to
  // wait on the network, this would hang.
  for (int i = 20; i < 50; ++i) pipeline.push_colour(0, 0, 255, i);
  ASSERT_TRUE(eventually([&] { return contains(pipeline.messages(GST_MESSAGE_WARNING), broker.address()); }));
  broker.restart();

  ASSERT_TRUE(subscriber.wait_for(50));
  const std::vector<MatchEvent> events = received(subscriber);
  EXPECT_EQ(sequences(events), range(0, 50));
  EXPECT_EQ(events[49].result.label, "blue");
  EXPECT_EQ(events[49].camera, "door");
  EXPECT_EQ(pipeline.counter("dropped"), 0u);
  ASSERT_TRUE(eventually([&] { return contains(pipeline.messages(GST_MESSAGE_INFO), "again"); }));
}

// A full queue drops its oldest events: counted, warned about once, and the
// newest arrive when the broker is back.
TEST_F(PublishMqttTest, OverflowIsCountedAndWarnedAbout) {
  TestBroker broker;
  TestSubscriber subscriber(broker, kTopic);
  broker.save();
  broker.kill();
  PublishHarness pipeline(mqtt_options(broker, "queue-size=5"));
  for (int i = 0; i < 12; ++i) pipeline.push_colour(255, 0, 0, i);
  EXPECT_EQ(pipeline.counter("dropped"), 7u);
  const std::vector<std::string> warnings = pipeline.messages(GST_MESSAGE_WARNING);
  int full = 0;
  for (const std::string &warning : warnings) full += warning.find("queue is full") != std::string::npos;
  EXPECT_EQ(full, 1) << "one warning per overflow";
  broker.restart();
  ASSERT_TRUE(subscriber.wait_for(5));
  ASSERT_TRUE(eventually([&] { return pipeline.counter("delivered") == 5; }));
  EXPECT_EQ(sequences(received(subscriber)), range(7, 5));  // the gap shows what was lost
}

// Stopping while the broker is down waits flush-timeout, then counts and
// reports what is left.
TEST_F(PublishMqttTest, LeftoversAtStopAreCounted) {
  TestBroker broker;
  broker.kill();
  PublishHarness pipeline(mqtt_options(broker, "flush-timeout=50"));
  for (int i = 0; i < 4; ++i) pipeline.push_colour(255, 0, 0, i);
  pipeline.stop();
  EXPECT_EQ(pipeline.counter("dropped"), 4u);
  EXPECT_TRUE(contains(pipeline.messages(GST_MESSAGE_WARNING), "4 events could not be delivered"));
}

}  // namespace
}  // namespace siamese::test
