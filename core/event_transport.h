// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A way of delivering events (a file, an MQTT broker), as the publisher's
// worker thread drives it.  Every method is called from that one thread; a
// transport does its I/O only inside connect(), send() and wait().
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace siamese {

// A setting no retry can fix (malformed address, unreadable certificate):
// thrown by a transport's constructor, so the element refuses to start.
class TransportSettingsError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// What a transport tells the publisher, from inside its calls.
class TransportListener {
 public:
  virtual ~TransportListener() = default;
  // The transport can send (again).
  virtual void on_ready() = 0;
  // Connecting failed or the connection was lost; `why` is a sentence.
  virtual void on_lost(const std::string &why) = 0;
  // `events` sent earlier are delivered (acknowledged, or written).
  virtual void on_delivered(std::size_t events) = 0;
  // `events` sent earlier were lost with the connection (sent without
  // acknowledgement, e.g. MQTT QoS 0).
  virtual void on_discarded(std::size_t events) = 0;
};

class EventTransport {
 public:
  virtual ~EventTransport() = default;

  // Starts connecting (opening); success or failure arrives through the
  // listener, now or from a later wait().  Called only when !connecting().
  virtual void connect() = 0;
  // A connection exists or is being made.
  virtual bool connecting() const = 0;
  // Connected: send() may be called.
  virtual bool ready() const = 0;
  // How many more events send() takes now (a window of unacknowledged ones).
  virtual std::size_t room() const = 0;
  // Events sent and not yet delivered or discarded.
  virtual std::size_t in_flight() const = 0;

  // Sends one event.  Returns false when the event was not taken (the
  // connection failed first: on_lost has been called); the caller keeps it.
  virtual bool send(const std::string &event) = 0;

  // Waits up to `timeout` for network activity or for `wake_fd` to become
  // readable, then handles what arrived (acknowledgements, keep-alive).
  virtual void wait(std::chrono::milliseconds timeout, int wake_fd) = 0;

  // Ends the connection politely (events in flight are abandoned).
  virtual void close() = 0;

  // "mqtt://host:port/topic", "file events.jsonl": for messages.
  virtual std::string describe() const = 0;

  // Set by the publisher before the first connect().
  void set_listener(TransportListener *listener) { listener_ = listener; }

 protected:
  TransportListener &listener() const { return *listener_; }

 private:
  TransportListener *listener_ = nullptr;
};

}  // namespace siamese
