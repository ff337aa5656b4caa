// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The bounded queue between the thread that makes events (a streaming
// thread, which must never wait) and the thread that delivers them: pushing
// never blocks, and when the queue is full the oldest event makes room.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

namespace siamese {

class EventQueue {
 public:
  // Holds at most `capacity` events (at least one).
  explicit EventQueue(std::size_t capacity);

  // Appends `event`; when the queue is full, first drops the oldest one.
  // Returns true when an event was dropped.
  bool push(std::string event);

  // Puts back at the front an event that pop() returned and that could not
  // be delivered, so that order is kept; when the queue filled up meanwhile,
  // the event is the oldest and is dropped instead (returns false).
  bool put_back(std::string event);

  // The oldest event, removed; nothing when the queue is empty.
  std::optional<std::string> pop();

  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }
  // Events dropped to make room since construction.
  std::uint64_t dropped() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<std::string> events_;  // guarded by mutex_
  std::uint64_t dropped_ = 0;       // guarded by mutex_
};

}  // namespace siamese
