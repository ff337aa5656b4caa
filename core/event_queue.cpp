// SPDX-License-Identifier: LGPL-2.1-or-later
#include "event_queue.h"

#include <algorithm>

namespace siamese {

EventQueue::EventQueue(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

bool EventQueue::push(std::string event) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const bool full = events_.size() >= capacity_;
  if (full) {
    events_.pop_front();
    ++dropped_;
  }
  events_.push_back(std::move(event));
  return full;
}

bool EventQueue::put_back(std::string event) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (events_.size() >= capacity_) {
    ++dropped_;
    return false;
  }
  events_.push_front(std::move(event));
  return true;
}

std::optional<std::string> EventQueue::pop() {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (events_.empty()) return std::nullopt;
  std::string event = std::move(events_.front());
  events_.pop_front();
  return event;
}

std::size_t EventQueue::size() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return events_.size();
}

std::uint64_t EventQueue::dropped() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

}  // namespace siamese
