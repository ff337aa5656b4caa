// SPDX-License-Identifier: LGPL-2.1-or-later
// The publisher with the MQTT transport against a real mosquitto broker of
// the test's own: every event arrives in order (QoS 1 and 0); the broker
// killed and restarted, quietly or in the middle of a stream, loses none
// below the queue size; an overflow drops the oldest and counts them; a
// broker down at the start is waited for; TLS and user/password work and a
// wrong password is reported.  Also the address parser and settings errors.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "event_publisher.h"
#include "eventually.h"
#include "mqtt_transport.h"
#include "status_log.h"
#include "test_broker.h"

namespace siamese {
namespace {

using namespace std::chrono_literals;
using test::TestBroker;
using test::TestSubscriber;

using test::eventually;
using test::kPatience;
using test::StatusLog;

constexpr const char *kTopic = "cams/door";

std::string event(int number) { return "event-" + std::to_string(number); }

std::vector<std::string> events(int first, int count) {
  std::vector<std::string> result;
  for (int i = first; i < first + count; ++i) result.push_back(event(i));
  return result;
}

// `received` with repeats removed (QoS 1 is at least once: an event whose
// acknowledgement was lost with the broker is sent again).
std::vector<std::string> first_arrivals(const std::vector<std::string> &received) {
  std::set<std::string> seen;
  std::vector<std::string> result;
  for (const std::string &message : received)
    if (seen.insert(message).second) result.push_back(message);
  return result;
}

MqttSettings settings_for(const TestBroker &broker, int qos = 1) {
  MqttSettings settings;
  parse_mqtt_address(broker.address(), settings);
  settings.topic = kTopic;
  settings.qos = qos;
  return settings;
}

class MqttPublisherTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventPublisher> make_publisher(const MqttSettings &settings,
                                                 std::size_t queue_size = 1000) {
    return std::make_unique<EventPublisher>(std::make_unique<MqttTransport>(settings), queue_size,
                                            status.callback());
  }
  static void publish(EventPublisher &publisher, int first, int count) {
    for (int i = first; i < first + count; ++i) publisher.publish(event(i));
  }
  StatusLog status;
};

TEST(MqttAddress, ParsesHostAndPort) {
  MqttSettings settings;
  parse_mqtt_address("broker.local", settings);
  EXPECT_EQ(settings.host, "broker.local");
  EXPECT_EQ(settings.port, 0);  // the default for plain or TLS
  parse_mqtt_address("127.0.0.1:1884", settings);
  EXPECT_EQ(settings.host, "127.0.0.1");
  EXPECT_EQ(settings.port, 1884);
  parse_mqtt_address("[::1]:8883", settings);
  EXPECT_EQ(settings.host, "::1");
  EXPECT_EQ(settings.port, 8883);
  for (const char *bad : {"", ":1883", "host:", "host:port", "host:70000", "[::1", "[::1]x"})
    EXPECT_THROW(parse_mqtt_address(bad, settings), TransportSettingsError) << bad;
}

TEST(MqttSettingsErrors, NameWhatIsWrong) {
  MqttSettings settings;
  settings.topic = "cams/+";
  try {
    MqttTransport transport(settings);
    ADD_FAILURE() << "a wildcard topic was accepted";
  } catch (const TransportSettingsError &error) {
    EXPECT_NE(std::string(error.what()).find("cams/+"), std::string::npos);
  }
  settings.topic = kTopic;
  settings.qos = 2;
  EXPECT_THROW(MqttTransport{settings}, TransportSettingsError);
  settings.qos = 1;
  settings.tls = true;
  settings.tls_ca_file = "/nonexistent/ca.crt";
  try {
    MqttTransport transport(settings);
    ADD_FAILURE() << "a missing CA file was accepted";
  } catch (const TransportSettingsError &error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/ca.crt"), std::string::npos);
  }
}

TEST_F(MqttPublisherTest, DeliversEveryEventInOrderAtQos1And0) {
  TestBroker broker;
  for (const int qos : {1, 0}) {
    TestSubscriber subscriber(broker, kTopic);
    auto publisher = make_publisher(settings_for(broker, qos));
    publish(*publisher, 0, 200);
    ASSERT_TRUE(subscriber.wait_for(200)) << "QoS " << qos;
    EXPECT_EQ(subscriber.messages(), events(0, 200)) << "QoS " << qos;
    EXPECT_EQ(publisher->close(kPatience), 0u);
    EXPECT_EQ(publisher->counters().delivered, 200u);
    EXPECT_TRUE(status.entries().empty());
  }
}

TEST_F(MqttPublisherTest, BrokerKilledAndRestartedLosesNothing) {
  TestBroker broker;
  TestSubscriber subscriber(broker, kTopic);
  broker.save();  // the subscription survives the broker's death
  auto publisher = make_publisher(settings_for(broker), 100);
  publish(*publisher, 0, 20);
  ASSERT_TRUE(subscriber.wait_for(20));
  // All acknowledged, so none is sent twice: the outage begins with nothing in flight.
  ASSERT_TRUE(eventually([&] { return publisher->counters().delivered == 20; }));

  broker.kill();
  ASSERT_TRUE(eventually([&] { return status.saw(false); }));
  EXPECT_FALSE(publisher->counters().connected);
  publish(*publisher, 20, 60);  // the outage: kept in the queue
  EXPECT_EQ(publisher->counters().queued, 60u);
  broker.restart();

  ASSERT_TRUE(subscriber.wait_for(80));
  EXPECT_EQ(subscriber.messages(), events(0, 80));
  EXPECT_EQ(publisher->counters().dropped, 0u);
  ASSERT_TRUE(eventually([&] { return status.saw(true); }));
}

TEST_F(MqttPublisherTest, BrokerKilledMidStreamLosesNothing) {
  constexpr int kEvents = 600;
  constexpr int kKillAt = 200;
  constexpr int kRestartAt = 400;
  TestBroker broker;
  TestSubscriber subscriber(broker, kTopic);
  broker.save();
  auto publisher = make_publisher(settings_for(broker), kEvents);
  // A stream at about 1000 events per second; the broker dies while
  // events are in flight and comes back 200 events later.
  for (int i = 0; i < kEvents; ++i) {
    if (i == kKillAt) broker.kill();
    if (i == kRestartAt) broker.restart();
    publisher->publish(event(i));
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(eventually([&] { return first_arrivals(subscriber.messages()).size() >= kEvents; }))
      << first_arrivals(subscriber.messages()).size() << " events arrived";
  EXPECT_EQ(first_arrivals(subscriber.messages()), events(0, kEvents));
  EXPECT_EQ(publisher->counters().dropped, 0u);
}

TEST_F(MqttPublisherTest, OverflowDropsTheOldestAndCountsThem) {
  TestBroker broker;
  TestSubscriber subscriber(broker, kTopic);
  broker.save();
  auto publisher = make_publisher(settings_for(broker), 10);
  broker.kill();
  ASSERT_TRUE(eventually([&] { return status.saw(false); }));
  publish(*publisher, 0, 25);
  EXPECT_EQ(publisher->counters().dropped, 15u);
  broker.restart();
  ASSERT_TRUE(subscriber.wait_for(10));
  ASSERT_TRUE(eventually([&] { return publisher->counters().delivered == 10; }));
  EXPECT_EQ(subscriber.messages(), events(15, 10));
}

TEST_F(MqttPublisherTest, WaitsForABrokerDownAtTheStart) {
  TestBroker broker;
  TestSubscriber subscriber(broker, kTopic);
  broker.save();
  broker.kill();
  auto publisher = make_publisher(settings_for(broker));
  publish(*publisher, 0, 5);
  ASSERT_TRUE(eventually([&] { return status.saw(false); }));
  const std::string complaint = status.entries().front().second;
  EXPECT_NE(complaint.find(broker.address()), std::string::npos) << complaint;
  EXPECT_NE(complaint.find("refused"), std::string::npos) << complaint;
  broker.restart();
  ASSERT_TRUE(subscriber.wait_for(5));
  EXPECT_EQ(subscriber.messages(), events(0, 5));
}

TEST_F(MqttPublisherTest, TlsWithUserAndPassword) {
  TestBroker::Options options;
  options.tls = true;
  options.username = "camera";
  options.password = "s3cret";
  TestBroker broker(options);
  TestSubscriber subscriber(broker, kTopic);
  MqttSettings settings = settings_for(broker);
  settings.tls = true;
  settings.tls_ca_file = broker.ca_file();
  settings.username = "camera";
  settings.password = "s3cret";
  auto publisher = make_publisher(settings);
  publish(*publisher, 0, 10);
  ASSERT_TRUE(subscriber.wait_for(10));
  EXPECT_EQ(subscriber.messages(), events(0, 10));
}

TEST_F(MqttPublisherTest, WrongPasswordIsReported) {
  TestBroker::Options options;
  options.username = "camera";
  options.password = "s3cret";
  TestBroker broker(options);
  MqttSettings settings = settings_for(broker);
  settings.username = "camera";
  settings.password = "guess";
  auto publisher = make_publisher(settings);
  publish(*publisher, 0, 3);
  ASSERT_TRUE(eventually([&] { return status.saw(false); }));
  EXPECT_NE(status.entries().front().second.find("not authori"), std::string::npos)
      << status.entries().front().second;
  EXPECT_EQ(publisher->counters().delivered, 0u);
  EXPECT_EQ(publisher->close(10ms), 3u);
}

TEST_F(MqttPublisherTest, PlainClientAtATlsBrokerIsReported) {
  TestBroker::Options options;
  options.tls = true;
  TestBroker broker(options);
  auto publisher = make_publisher(settings_for(broker));
  publisher->publish(event(0));
  ASSERT_TRUE(eventually([&] { return status.saw(false); }));
  EXPECT_EQ(publisher->counters().delivered, 0u);
}

}  // namespace
}  // namespace siamese
