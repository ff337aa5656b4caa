// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A worker thread that runs jobs handed over by a thread that must not wait
// for them (the element's streaming thread in async mode: it hands over a
// frame's preprocessed images and goes on with the next frame while the
// forward pass runs here).
//
// * Bounded: at most `capacity` jobs wait besides the one running.  A job
//   handed over to a full queue makes the oldest waiting job drop out (it
//   is counted, and never run): for live video the newest frame is the one
//   worth a result, and the streaming thread never blocks.
// * Results come back in the order the jobs were handed over; the owner
//   collects them when it likes (take_finished()), on its own thread, so
//   what it does with them needs no lock.
// * cancel() forgets the waiting jobs and the result of the running one (a
//   flushing seek: those frames are gone); drain() waits until every job
//   handed over has finished (end of stream); the destructor cancels and
//   joins, waiting for at most the one job running.
// Exceptions thrown by the work are caught and returned with its result
// slot, so the owner reports them on its own thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace siamese {

template <typename Job, typename Result>
class AsyncWorker {
 public:
  using Work = std::function<Result(Job &)>;

  // A finished job: its result, or the exception its work threw.
  struct Finished {
    std::optional<Result> result;
    std::exception_ptr error;
  };

  // Starts the thread; `capacity` (at least 1) bounds the waiting jobs.
  AsyncWorker(Work work, std::size_t capacity)
      : work_(std::move(work)), capacity_(capacity > 0 ? capacity : 1),
        thread_([this] { run(); }) {}

  ~AsyncWorker() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      waiting_.clear();
      ++generation_;
    }
    wake_.notify_all();
    thread_.join();
  }

  AsyncWorker(const AsyncWorker &) = delete;
  AsyncWorker &operator=(const AsyncWorker &) = delete;

  // Queues `job` without waiting; when `capacity` jobs already wait, the
  // oldest of them is dropped first.  Returns true when one was dropped.
  bool submit(Job job) {
    bool dropped = false;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (waiting_.size() >= capacity_) {
        waiting_.pop_front();
        ++dropped_;
        dropped = true;
      }
      waiting_.push_back(std::move(job));
    }
    wake_.notify_all();
    return dropped;
  }

  // The jobs finished since the last call, in the order they were handed over.
  std::vector<Finished> take_finished() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(finished_, {});
  }

  // Forgets the waiting jobs, the finished ones not yet taken and the
  // result of the job running now; does not wait for it.
  void cancel() {
    const std::lock_guard<std::mutex> lock(mutex_);
    waiting_.clear();
    finished_.clear();
    ++generation_;
  }

  // Waits until no job waits or runs; their results are then all in
  // take_finished().
  void drain() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return waiting_.empty() && !running_; });
  }

  std::size_t capacity() const { return capacity_; }
  // Jobs waiting now (the one running not counted).
  std::size_t waiting() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return waiting_.size();
  }
  // Jobs dropped by a full queue since construction (cancel() not counted).
  std::uint64_t dropped() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return dropped_;
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
      if (stopping_) return;
      Job job = std::move(waiting_.front());
      waiting_.pop_front();
      running_ = true;
      const std::uint64_t generation = generation_;
      lock.unlock();
      Finished finished;
      try {
        finished.result.emplace(work_(job));
      } catch (...) {
        finished.error = std::current_exception();
      }
      lock.lock();
      running_ = false;
      // A cancel() while it ran means its frame is gone: the result is too.
      if (generation == generation_) finished_.push_back(std::move(finished));
      if (waiting_.empty()) idle_.notify_all();
    }
  }

  const Work work_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // a job arrived, or stopping
  std::condition_variable idle_;  // nothing waits or runs any more
  std::deque<Job> waiting_;       // guarded by mutex_, as everything below
  std::vector<Finished> finished_;
  bool running_ = false;
  bool stopping_ = false;
  std::uint64_t generation_ = 0;  // advanced by cancel(): older running results are dropped
  std::uint64_t dropped_ = 0;
  std::thread thread_;  // last: started once everything above is built
};

}  // namespace siamese
