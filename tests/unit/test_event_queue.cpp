// SPDX-License-Identifier: LGPL-2.1-or-later
// The bounded event queue: first in first out, the oldest dropped and
// counted when full, put_back keeps order, and a producer and a consumer on
// two threads lose nothing that fits.
#include <gtest/gtest.h>

#include <thread>

#include "event_queue.h"

namespace siamese {
namespace {

TEST(EventQueue, FirstInFirstOut) {
  EventQueue queue(3);
  EXPECT_FALSE(queue.push("a"));
  EXPECT_FALSE(queue.push("b"));
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue.pop(), "a");
  EXPECT_EQ(queue.pop(), "b");
  EXPECT_EQ(queue.pop(), std::nullopt);
  EXPECT_EQ(queue.dropped(), 0u);
}

TEST(EventQueue, DropsTheOldestWhenFull) {
  EventQueue queue(2);
  queue.push("a");
  queue.push("b");
  EXPECT_TRUE(queue.push("c"));
  EXPECT_TRUE(queue.push("d"));
  EXPECT_EQ(queue.dropped(), 2u);
  EXPECT_EQ(queue.pop(), "c");
  EXPECT_EQ(queue.pop(), "d");
}

TEST(EventQueue, PutBackGoesFirstUnlessTheQueueFilledUp) {
  EventQueue queue(2);
  queue.push("a");
  queue.push("b");
  const auto first = queue.pop();
  EXPECT_TRUE(queue.put_back(*first));
  EXPECT_EQ(queue.pop(), "a");
  queue.push("c");  // full again: b, c
  EXPECT_FALSE(queue.put_back("a"));
  EXPECT_EQ(queue.dropped(), 1u);
  EXPECT_EQ(queue.pop(), "b");
}

TEST(EventQueue, CapacityIsAtLeastOne) {
  EventQueue queue(0);
  EXPECT_EQ(queue.capacity(), 1u);
  queue.push("a");
  EXPECT_TRUE(queue.push("b"));
  EXPECT_EQ(queue.pop(), "b");
}

TEST(EventQueue, TwoThreadsLoseNothingThatFits) {
  constexpr int kEvents = 20000;
  EventQueue queue(kEvents);
  std::thread producer([&queue] {
    for (int i = 0; i < kEvents; ++i) queue.push(std::to_string(i));
  });
  int expected = 0;
  while (expected < kEvents) {
    if (const auto event = queue.pop()) {
      ASSERT_EQ(*event, std::to_string(expected));
      ++expected;
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  EXPECT_EQ(queue.dropped(), 0u);
}

}  // namespace
}  // namespace siamese
