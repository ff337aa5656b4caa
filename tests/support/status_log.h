// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Records what an EventPublisher's status callback said, from its worker
// thread, for a test to read.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "event_publisher.h"

namespace siamese::test {

class StatusLog {
 public:
  EventPublisher::StatusCallback callback() {
    return [this](bool reachable, const std::string &text) {
      const std::lock_guard<std::mutex> lock(mutex_);
      entries_.emplace_back(reachable, text);
    };
  }
  // (reachable, text) in the order they were reported.
  std::vector<std::pair<bool, std::string>> entries() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return entries_;
  }
  bool saw(bool reachable) {
    for (const auto &entry : entries())
      if (entry.first == reachable) return true;
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<bool, std::string>> entries_;
};

}  // namespace siamese::test
