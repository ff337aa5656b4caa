// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A real mosquitto broker for the tests that deliver events over MQTT: its
// own process on 127.0.0.1 at a free port, its own temporary folder (config,
// persistence, certificates, log), started, killed and restarted by the
// test, so that tests of several engineers or runs never share a broker.
// And a subscriber that collects what arrives on a topic.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace siamese::test {

class TestBroker {
 public:
  struct Options {
    bool tls = false;       // the listener speaks TLS with a certificate made for 127.0.0.1
    std::string username;   // non-empty: only this user, with `password`, may connect
    std::string password;
  };

  // Starts the broker and waits until it accepts connections.
  explicit TestBroker(const Options &options);
  TestBroker() : TestBroker(Options{}) {}
  ~TestBroker();
  TestBroker(const TestBroker &) = delete;
  TestBroker &operator=(const TestBroker &) = delete;

  const Options &options() const { return options_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The certificate authority that signed the broker's certificate (TLS only).
  std::string ca_file() const { return folder_ + "/ca.crt"; }

  // Kills the broker at once (SIGKILL: no goodbye to its clients, nothing saved).
  void kill();
  // Starts it again on the same port, from the state last saved.
  void restart();
  // Makes the broker write its state (sessions, subscriptions) to disk now.
  void save();

 private:
  void write_config(const Options &options);
  void spawn();
  void wait_until_listening();

  Options options_;
  std::string folder_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A client of the broker with a persistent session subscribed to one topic
// at QoS 1: it reconnects by itself when the broker comes back, and the
// broker keeps what arrives for it meanwhile.  Messages are kept in arrival order.
class TestSubscriber {
 public:
  // Connects and waits until the subscription is acknowledged.
  TestSubscriber(const TestBroker &broker, const std::string &topic);
  ~TestSubscriber();
  TestSubscriber(const TestSubscriber &) = delete;
  TestSubscriber &operator=(const TestSubscriber &) = delete;

  std::vector<std::string> messages();
  // Waits until at least `count` messages arrived; false after `timeout`.
  bool wait_for(std::size_t count, std::chrono::seconds timeout = std::chrono::seconds(30));

 private:
  static void on_connect(struct mosquitto *client, void *self, int code);
  static void on_subscribe(struct mosquitto *client, void *self, int, int, const int *);
  static void on_message(struct mosquitto *client, void *self, const struct mosquitto_message *);

  std::string topic_;
  struct mosquitto *client_ = nullptr;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool subscribed_ = false;
  std::vector<std::string> messages_;
};

}  // namespace siamese::test
