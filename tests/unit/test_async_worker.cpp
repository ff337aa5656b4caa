// SPDX-License-Identifier: LGPL-2.1-or-later
// The async worker: results in hand-over order, the bound on waiting jobs
// (the oldest dropped), cancel() forgetting pending work, drain(), errors
// returned to the owner, and a destructor that does not wait for the queue.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "async_worker.h"

namespace siamese {
namespace {

using Worker = AsyncWorker<int, int>;

// Holds the worker inside a job until opened, so a test knows what waits.
class Gate {
 public:
  // Called by the work: says the job started, then waits for open().
  void pass() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++started_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  void wait_started(int jobs) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return started_ >= jobs; });
  }
  void open() {
    const std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int started_ = 0;
  bool open_ = false;
};

std::vector<int> results(const std::vector<Worker::Finished> &finished) {
  std::vector<int> values;
  for (const auto &f : finished) {
    EXPECT_FALSE(f.error);
    if (f.result) values.push_back(*f.result);
  }
  return values;
}

TEST(AsyncWorker, ResultsComeBackInOrder) {
  Worker worker([](int &job) { return job * 10; }, 100);
  for (int job = 0; job < 50; ++job) EXPECT_FALSE(worker.submit(job));
  worker.drain();
  std::vector<int> expected;
  for (int job = 0; job < 50; ++job) expected.push_back(job * 10);
  EXPECT_EQ(results(worker.take_finished()), expected);
  EXPECT_TRUE(worker.take_finished().empty());
  EXPECT_EQ(worker.dropped(), 0u);
}

TEST(AsyncWorker, AFullQueueDropsTheOldestWaitingJob) {
  Gate gate;
  Worker worker([&](int &job) { gate.pass(); return job; }, 3);
  worker.submit(0);
  gate.wait_started(1);  // job 0 runs and holds the worker
  int drops = 0;
  for (int job = 1; job <= 10; ++job) {
    drops += worker.submit(job);
    EXPECT_LE(worker.waiting(), 3u);
  }
  EXPECT_EQ(drops, 7);  // 1..7 made room for 8, 9, 10
  EXPECT_EQ(worker.dropped(), 7u);
  gate.open();
  worker.drain();
  EXPECT_EQ(results(worker.take_finished()), (std::vector<int>{0, 8, 9, 10}));
}

TEST(AsyncWorker, CancelForgetsWaitingJobsAndTheRunningResult) {
  Gate gate;
  Worker worker([&](int &job) { gate.pass(); return job; }, 4);
  worker.submit(1);
  gate.wait_started(1);
  worker.submit(2);
  worker.submit(3);
  worker.cancel();
  EXPECT_EQ(worker.waiting(), 0u);
  gate.open();
  worker.drain();
  EXPECT_TRUE(worker.take_finished().empty());
  // Work handed over after the cancel is done as usual.
  worker.submit(4);
  worker.drain();
  EXPECT_EQ(results(worker.take_finished()), std::vector<int>{4});
  EXPECT_EQ(worker.dropped(), 0u);  // cancelled jobs are not counted as dropped
}

TEST(AsyncWorker, AnErrorComesBackInItsJobsPlace) {
  Worker worker(
      [](int &job) {
        if (job == 2) throw std::runtime_error("job 2 failed");
        return job;
      },
      8);
  for (int job = 1; job <= 3; ++job) worker.submit(job);
  worker.drain();
  const auto finished = worker.take_finished();
  ASSERT_EQ(finished.size(), 3u);
  EXPECT_EQ(*finished[0].result, 1);
  ASSERT_TRUE(finished[1].error);
  EXPECT_FALSE(finished[1].result);
  EXPECT_THROW(std::rethrow_exception(finished[1].error), std::runtime_error);
  EXPECT_EQ(*finished[2].result, 3);
}

TEST(AsyncWorker, DestructionRunsNoWaitingJob) {
  std::atomic<int> runs{0};
  Gate gate;
  std::thread opener;
  {
    Worker worker([&](int &job) { ++runs; gate.pass(); return job; }, 16);
    for (int job = 0; job < 16; ++job) worker.submit(job);
    gate.wait_started(1);
    // Opened once the destructor below has forgotten the waiting jobs (only
    // it empties the queue while job 0 holds the worker); the worker's
    // members live until the join returns, which needs the gate open.
    opener = std::thread([&] {
      while (worker.waiting() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      gate.open();
    });
  }  // forgets the 15 waiting jobs, joins after the running one
  opener.join();
  EXPECT_EQ(runs.load(), 1);
}

}  // namespace
}  // namespace siamese
