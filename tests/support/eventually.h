// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Waiting in tests for something another thread (a publisher's worker, a
// broker, a subscriber) will do.  Tests never assert on time: the patience
// is only there so that a bug fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <thread>

namespace siamese::test {

// Never reached when the code is right; generous for a loaded machine.
inline constexpr std::chrono::seconds kPatience{30};

// Waits until `predicate` holds; false after kPatience.
template <typename Predicate>
bool eventually(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace siamese::test
