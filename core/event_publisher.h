// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Delivers events in order through a transport from a worker thread of its
// own, so that the thread making events never waits on a file or a network.
// Events wait in a bounded queue while the destination is unreachable; the
// worker reconnects with exponential back-off and sends them, oldest first,
// when it is back.  When the queue is full the oldest events are dropped
// and counted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "event_queue.h"
#include "event_transport.h"

namespace siamese {

class EventPublisher : private TransportListener {
 public:
  // Called from the worker thread when the destination becomes unreachable
  // (`reachable` false: the first failure of an outage, or of the start)
  // and when it is reached again after that; `text` is a sentence for the user.
  using StatusCallback = std::function<void(bool reachable, const std::string &text)>;

  // What publish() did with the event.
  struct Outcome {
    bool dropped_oldest = false;  // the queue was full: its oldest event made room
    bool overflow_began = false;  // ... for the first time since the queue last emptied
  };

  struct Counters {
    std::uint64_t delivered = 0;  // acknowledged by the broker / written to the file
    std::uint64_t dropped = 0;    // never delivered: queue overflow, QoS 0 events lost with a
                                  // connection, left over at close()
    std::size_t queued = 0;       // waiting in the queue now
    bool connected = false;
  };

  // Starts the worker, which connects at once.
  EventPublisher(std::unique_ptr<EventTransport> transport, std::size_t queue_size,
                 StatusCallback on_status);
  // close() with no time to deliver what is left.
  ~EventPublisher() override;
  EventPublisher(const EventPublisher &) = delete;
  EventPublisher &operator=(const EventPublisher &) = delete;

  // Queues one event (one line of JSON) for delivery; never waits.
  Outcome publish(std::string event);

  // Gives the worker up to `timeout` to deliver what is queued and in
  // flight, then stops it and closes the transport.  Returns how many events
  // were left undelivered (they are counted as dropped).  Idempotent.
  std::uint64_t close(std::chrono::milliseconds timeout);

  Counters counters() const;

 private:
  using Clock = std::chrono::steady_clock;
  class Wakeup;

  void run();
  void send_queued();
  std::chrono::milliseconds wait_timeout(Clock::time_point now) const;

  void on_ready() override;
  void on_lost(const std::string &why) override;
  void on_delivered(std::size_t events) override;
  void on_discarded(std::size_t events) override;

  std::unique_ptr<EventTransport> transport_;  // used by the worker only
  EventQueue queue_;
  StatusCallback on_status_;
  std::unique_ptr<Wakeup> wakeup_;

  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> lost_{0};  // dropped other than by the queue
  std::atomic<bool> connected_{false};
  std::atomic<bool> overflowing_{false};  // the queue overflowed and has not emptied since
  std::atomic<bool> closing_{false};
  Clock::time_point close_deadline_;  // written before closing_ is set

  // Worker state.
  Clock::time_point retry_at_;
  std::chrono::milliseconds retry_delay_;
  bool outage_ = false;  // unreachable since the last on_ready (or the start)

  std::thread worker_;  // last: started when everything above exists
};

}  // namespace siamese
