// SPDX-License-Identifier: LGPL-2.1-or-later
// The event publisher through a scripted transport: delivery in order,
// outages queued and delivered on return, overflow dropped oldest first and
// counted, publish() never waits on a stalled transport, close() flushes or
// counts what is left; and the file transport: JSON lines, rotation by
// size, a file that cannot be opened retried until it can.
#include <gtest/gtest.h>
#include <poll.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "event_publisher.h"
#include "eventually.h"
#include "file_transport.h"
#include "status_log.h"

namespace siamese {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using test::eventually;
using test::kPatience;
using test::StatusLog;

// The far end of the scripted transport, shared by the test and the transport.
struct Destination {
  std::mutex mutex;
  std::condition_variable changed;
  bool reachable = true;
  bool stalled = false;  // send() blocks while set
  std::vector<std::string> received;
  int connects = 0;

  void set(bool Destination::*flag, bool value) {
    {
      const std::lock_guard<std::mutex> lock(mutex);
      this->*flag = value;
    }
    changed.notify_all();
  }
  std::vector<std::string> events() {
    const std::lock_guard<std::mutex> lock(mutex);
    return received;
  }
};

class ScriptedTransport : public EventTransport {
 public:
  explicit ScriptedTransport(Destination &destination) : destination_(destination) {}

  void connect() override {
    std::unique_lock<std::mutex> lock(destination_.mutex);
    ++destination_.connects;
    connected_ = destination_.reachable;
    lock.unlock();
    if (connected_)
      listener().on_ready();
    else
      listener().on_lost("the destination is unreachable.");
  }
  bool connecting() const override { return connected_; }
  bool ready() const override { return connected_; }
  std::size_t room() const override { return connected_ ? 8 : 0; }
  std::size_t in_flight() const override { return 0; }

  bool send(const std::string &event) override {
    std::unique_lock<std::mutex> lock(destination_.mutex);
    destination_.changed.wait(lock, [this] { return !destination_.stalled; });
    if (!destination_.reachable) {
      connected_ = false;
      lock.unlock();
      listener().on_lost("the connection broke.");
      return false;
    }
    destination_.received.push_back(event);
    lock.unlock();
    listener().on_delivered(1);
    return true;
  }

  void wait(std::chrono::milliseconds timeout, int wake_fd) override {
    pollfd wake{wake_fd, POLLIN, 0};
    ::poll(&wake, 1, static_cast<int>(std::min(timeout, 20ms).count()));
    std::unique_lock<std::mutex> lock(destination_.mutex);
    if (connected_ && !destination_.reachable) {
      connected_ = false;
      lock.unlock();
      listener().on_lost("the connection broke.");
    }
  }

  void close() override { connected_ = false; }
  std::string describe() const override { return "the scripted destination"; }

 private:
  Destination &destination_;
  bool connected_ = false;
};

std::vector<std::string> numbered(int first, int count) {
  std::vector<std::string> events;
  for (int i = first; i < first + count; ++i) events.push_back(std::to_string(i));
  return events;
}

class PublisherTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventPublisher> make_publisher(std::size_t queue_size) {
    return std::make_unique<EventPublisher>(std::make_unique<ScriptedTransport>(destination),
                                            queue_size, status.callback());
  }
  void publish_numbered(EventPublisher &publisher, int first, int count) {
    for (const std::string &event : numbered(first, count)) publisher.publish(event);
  }
  bool received(std::size_t count) {
    return eventually([&] { return destination.events().size() >= count; });
  }

  Destination destination;
  StatusLog status;
};

TEST_F(PublisherTest, DeliversInOrder) {
  auto publisher = make_publisher(100);
  publish_numbered(*publisher, 0, 50);
  ASSERT_TRUE(received(50));
  EXPECT_EQ(destination.events(), numbered(0, 50));
  EXPECT_TRUE(eventually([&] { return publisher->counters().delivered == 50; }));
  EXPECT_EQ(publisher->counters().dropped, 0u);
  EXPECT_TRUE(publisher->counters().connected);
  EXPECT_TRUE(status.entries().empty());  // no outage, nothing to say
}

TEST_F(PublisherTest, QueuesThroughAnOutageAndDeliversOnReturn) {
  auto publisher = make_publisher(100);
  publish_numbered(*publisher, 0, 10);
  ASSERT_TRUE(received(10));
  destination.set(&Destination::reachable, false);
  publish_numbered(*publisher, 10, 30);
  ASSERT_TRUE(eventually([&] { return !status.entries().empty(); }));
  EXPECT_FALSE(status.entries().front().first);
  EXPECT_NE(status.entries().front().second.find("the scripted destination"), std::string::npos);
  EXPECT_FALSE(publisher->counters().connected);

  destination.set(&Destination::reachable, true);
  ASSERT_TRUE(received(40));
  EXPECT_EQ(destination.events(), numbered(0, 40));
  EXPECT_EQ(publisher->counters().dropped, 0u);
  ASSERT_TRUE(eventually([&] { return status.entries().size() == 2; }));
  EXPECT_TRUE(status.entries().back().first);  // reached again
  EXPECT_GE(destination.connects, 2);       // connected again
}

TEST_F(PublisherTest, OverflowDropsTheOldestAndCountsThem) {
  destination.reachable = false;
  auto publisher = make_publisher(4);
  std::vector<EventPublisher::Outcome> outcomes;
  for (const std::string &event : numbered(0, 10)) outcomes.push_back(publisher->publish(event));
  EXPECT_FALSE(outcomes[3].dropped_oldest);
  EXPECT_TRUE(outcomes[4].dropped_oldest);
  EXPECT_TRUE(outcomes[4].overflow_began);   // the first drop is the one to warn about
  EXPECT_FALSE(outcomes[5].overflow_began);  // later ones only count
  EXPECT_EQ(publisher->counters().dropped, 6u);
  EXPECT_EQ(publisher->counters().queued, 4u);

  destination.set(&Destination::reachable, true);
  ASSERT_TRUE(received(4));
  EXPECT_EQ(destination.events(), numbered(6, 4));
  // Once the queue has drained, the next overflow is news again.
  destination.set(&Destination::reachable, false);
  ASSERT_TRUE(eventually([&] { return !publisher->counters().connected; }));
  for (const std::string &event : numbered(10, 5)) outcomes.push_back(publisher->publish(event));
  EXPECT_TRUE(outcomes.back().overflow_began);
}

TEST_F(PublisherTest, PublishNeverWaitsForAStalledTransport) {
  auto publisher = make_publisher(1000);
  destination.set(&Destination::stalled, true);
  // Were publish() to wait on the transport, this would hang (and time out).
  publish_numbered(*publisher, 0, 500);
  EXPECT_TRUE(destination.events().empty());
  destination.set(&Destination::stalled, false);
  ASSERT_TRUE(received(500));
  EXPECT_EQ(destination.events(), numbered(0, 500));
}

TEST_F(PublisherTest, CloseDeliversWhatIsQueued) {
  destination.stalled = true;
  auto publisher = make_publisher(1000);
  publish_numbered(*publisher, 0, 100);
  std::thread release([this] {
    std::this_thread::sleep_for(50ms);
    destination.set(&Destination::stalled, false);
  });
  EXPECT_EQ(publisher->close(kPatience), 0u);
  release.join();
  EXPECT_EQ(destination.events(), numbered(0, 100));
  EXPECT_EQ(publisher->counters().delivered, 100u);
}

TEST_F(PublisherTest, CloseCountsWhatCouldNotBeDelivered) {
  destination.reachable = false;
  auto publisher = make_publisher(100);
  publish_numbered(*publisher, 0, 7);
  EXPECT_EQ(publisher->close(30ms), 7u);
  EXPECT_EQ(publisher->counters().dropped, 7u);
  EXPECT_EQ(publisher->close(30ms), 0u);  // idempotent
}

TEST_F(PublisherTest, ManyEventsFromAnotherThreadArriveInOrder) {
  constexpr int kEvents = 20000;
  auto publisher = make_publisher(kEvents);
  std::thread producer([&] { publish_numbered(*publisher, 0, kEvents); });
  producer.join();
  ASSERT_TRUE(received(kEvents));
  EXPECT_EQ(destination.events(), numbered(0, kEvents));
}

// A fresh folder for one test's files, removed afterwards.
class FileTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    folder = fs::temp_directory_path() /
             ("siamese-file-transport-" + std::to_string(getpid()) + "-" + info->name());
    fs::remove_all(folder);
    fs::create_directories(folder);
  }
  void TearDown() override { fs::remove_all(folder); }

  static std::vector<std::string> lines(const fs::path &path) {
    std::vector<std::string> result;
    std::ifstream file(path);
    for (std::string line; std::getline(file, line);) result.push_back(line);
    return result;
  }
  std::unique_ptr<EventPublisher> make_publisher(const FileSettings &settings) {
    return std::make_unique<EventPublisher>(std::make_unique<FileTransport>(settings), 1000,
                                            status.callback());
  }

  fs::path folder;
  StatusLog status;
};

TEST_F(FileTransportTest, AppendsOneLinePerEvent) {
  const fs::path path = folder / "events.jsonl";
  std::ofstream(path) << "earlier\n";
  auto publisher = make_publisher({path.string(), 0, 5});
  for (const std::string &event : numbered(0, 3)) publisher->publish(event);
  EXPECT_EQ(publisher->close(kPatience), 0u);
  EXPECT_EQ(lines(path), (std::vector<std::string>{"earlier", "0", "1", "2"}));
}

TEST_F(FileTransportTest, RotatesBySizeKeepingWholeLines) {
  const fs::path path = folder / "events.jsonl";
  // Lines of 10 bytes with the newline, files of at most 25: two lines each.
  auto publisher = make_publisher({path.string(), 25, 2});
  for (int i = 0; i < 7; ++i) publisher->publish("event-" + std::to_string(100 + i));
  EXPECT_EQ(publisher->close(kPatience), 0u);
  EXPECT_EQ(lines(path), (std::vector<std::string>{"event-106"}));
  EXPECT_EQ(lines(path.string() + ".1"), (std::vector<std::string>{"event-104", "event-105"}));
  EXPECT_EQ(lines(path.string() + ".2"), (std::vector<std::string>{"event-102", "event-103"}));
  EXPECT_FALSE(fs::exists(path.string() + ".3"));  // the oldest two went with rotation
}

TEST_F(FileTransportTest, RetriesAFileThatCannotBeOpenedYet) {
  const fs::path path = folder / "not-yet" / "events.jsonl";
  auto publisher = make_publisher({path.string(), 0, 5});
  publisher->publish("kept");
  ASSERT_TRUE(eventually([&] { return !status.entries().empty(); }));
  EXPECT_NE(status.entries().front().second.find(path.string()), std::string::npos);
  EXPECT_NE(status.entries().front().second.find("No such file or directory"), std::string::npos);
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(eventually([&] { return publisher->counters().delivered == 1; }));
  EXPECT_EQ(lines(path), (std::vector<std::string>{"kept"}));
}

TEST_F(FileTransportTest, RefusesSettingsNoRetryCanFix) {
  EXPECT_THROW(FileTransport({"", 0, 5}), TransportSettingsError);
  EXPECT_THROW(FileTransport({"-", 1000, 5}), TransportSettingsError);
}

}  // namespace
}  // namespace siamese
