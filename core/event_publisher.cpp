// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The worker loop: connect when due, send queued events while the transport
// has room (its window of unacknowledged events), then wait for the network
// or for publish() to wake it through an eventfd.  A connection lost or
// refused schedules the next attempt after a delay that doubles from
// kFirstRetry up to kMaxRetry and returns to kFirstRetry once connected.
#include "event_publisher.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace siamese {
namespace {

constexpr std::chrono::milliseconds kFirstRetry{100};
constexpr std::chrono::milliseconds kMaxRetry{5000};
// The longest the worker sleeps without looking at the clock: keep-alive
// pings and close deadlines are served at least this often.
constexpr std::chrono::milliseconds kTick{1000};

}  // namespace

// An eventfd that publish() and close() write to wake the worker.
class EventPublisher::Wakeup {
 public:
  Wakeup() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  ~Wakeup() { ::close(fd_); }
  Wakeup(const Wakeup &) = delete;
  Wakeup &operator=(const Wakeup &) = delete;

  int fd() const { return fd_; }
  void signal() const {
    const std::uint64_t one = 1;
    // Cannot fail short of a counter overflow, which still leaves it readable.
    [[maybe_unused]] const auto written = ::write(fd_, &one, sizeof one);
  }
  void clear() const {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto read = ::read(fd_, &count, sizeof count);
  }

 private:
  int fd_;
};

EventPublisher::EventPublisher(std::unique_ptr<EventTransport> transport, std::size_t queue_size,
                               StatusCallback on_status)
    : transport_(std::move(transport)),
      queue_(queue_size),
      on_status_(std::move(on_status)),
      wakeup_(std::make_unique<Wakeup>()),
      retry_at_(Clock::now()),
      retry_delay_(kFirstRetry) {
  transport_->set_listener(this);
  worker_ = std::thread([this] { run(); });
}

EventPublisher::~EventPublisher() { close(std::chrono::milliseconds(0)); }

EventPublisher::Outcome EventPublisher::publish(std::string event) {
  Outcome outcome;
  outcome.dropped_oldest = queue_.push(std::move(event));
  if (outcome.dropped_oldest) outcome.overflow_began = !overflowing_.exchange(true);
  wakeup_->signal();
  return outcome;
}

std::uint64_t EventPublisher::close(std::chrono::milliseconds timeout) {
  if (!worker_.joinable()) return 0;
  const std::uint64_t dropped_before = counters().dropped;
  close_deadline_ = Clock::now() + timeout;
  closing_.store(true);
  wakeup_->signal();
  worker_.join();
  return counters().dropped - dropped_before;
}

EventPublisher::Counters EventPublisher::counters() const {
  Counters counters;
  counters.delivered = delivered_.load();
  counters.dropped = queue_.dropped() + lost_.load();
  counters.queued = queue_.size();
  counters.connected = connected_.load();
  return counters;
}

void EventPublisher::run() {
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (closing_.load()) {
      const bool all_delivered = queue_.size() == 0 && transport_->in_flight() == 0;
      if (all_delivered || now >= close_deadline_) break;
    }
    if (!transport_->connecting() && now >= retry_at_) transport_->connect();
    send_queued();
    transport_->wait(wait_timeout(Clock::now()), wakeup_->fd());
    wakeup_->clear();
  }
  // What could not be delivered in time is lost: count it before closing.
  std::uint64_t left = transport_->in_flight();
  while (queue_.pop()) ++left;
  lost_ += left;
  transport_->close();
  connected_.store(false);
}

void EventPublisher::send_queued() {
  while (transport_->ready() && transport_->room() > 0) {
    std::optional<std::string> event = queue_.pop();
    if (!event) break;
    if (!transport_->send(*event)) {
      queue_.put_back(std::move(*event));
      break;
    }
  }
  if (queue_.size() == 0) overflowing_.store(false);
}

std::chrono::milliseconds EventPublisher::wait_timeout(Clock::time_point now) const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  milliseconds timeout = kTick;
  if (!transport_->connecting())
    timeout = std::min(timeout, duration_cast<milliseconds>(retry_at_ - now));
  if (closing_.load()) timeout = std::min(timeout, duration_cast<milliseconds>(close_deadline_ - now));
  return std::max(timeout, milliseconds(0));
}

void EventPublisher::on_ready() {
  connected_.store(true);
  retry_delay_ = kFirstRetry;
  if (!outage_) return;
  outage_ = false;
  if (on_status_)
    on_status_(true, "Reached " + transport_->describe() + " again; delivering the " +
                         std::to_string(queue_.size()) + " events queued.");
}

void EventPublisher::on_lost(const std::string &why) {
  connected_.store(false);
  retry_at_ = Clock::now() + retry_delay_;
  retry_delay_ = std::min(retry_delay_ * 2, kMaxRetry);
  if (outage_) return;
  outage_ = true;
  if (on_status_)
    on_status_(false, "Cannot deliver events to " + transport_->describe() + ": " + why +
                          " Keeping up to " + std::to_string(queue_.capacity()) +
                          " events and retrying.");
}

void EventPublisher::on_delivered(std::size_t events) { delivered_ += events; }

void EventPublisher::on_discarded(std::size_t events) { lost_ += events; }

}  // namespace siamese
