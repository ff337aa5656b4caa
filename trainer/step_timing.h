// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Where a training step's time goes, and the hook benchmarks use to run the
// trainer in lock step with another program.
//
// Times are process CPU time (all threads together, so other programs on a
// shared machine inflate neither side of a comparison) beside wall time.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

namespace siamese::trainer {

// CPU time of the whole process so far (all threads), in seconds.
double process_cpu_seconds();
double wall_seconds();

enum class Phase {
  kSampling,  // choosing the step's image indices
  kBatch,     // gathering (and augmenting) the 8-bit images, converting to floats
  kForward,   // the network
  kLoss,      // mining and the loss, its value read back
  kBackward,  // autograd
  kOptimizer,  // zeroing gradients, the learning rate, the optimizer step
};
constexpr std::size_t kPhaseCount = 6;
const char *to_string(Phase phase);

// Sums CPU and wall time per phase over steps.  Disabled, it costs a branch.
class PhaseTimer {
 public:
  explicit PhaseTimer(bool enabled) : enabled_(enabled) {}

  // Charges the time from its construction to its end (or to `stop()`) to `phase`.
  class Scope {
   public:
    Scope(PhaseTimer &timer, Phase phase);
    ~Scope() { stop(); }
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;
    void stop();

   private:
    PhaseTimer *timer_;
    Phase phase_;
    double cpu_ = 0.0, wall_ = 0.0;
  };

  bool enabled() const { return enabled_; }
  double cpu_seconds(Phase phase) const { return cpu_[static_cast<std::size_t>(phase)]; }
  double wall_seconds(Phase phase) const { return wall_[static_cast<std::size_t>(phase)]; }
  // One line: each phase's CPU and wall milliseconds per step and share of the CPU total.
  std::string summary(int64_t steps) const;

 private:
  bool enabled_;
  std::array<double, kPhaseCount> cpu_{}, wall_{};
};

// --lockstep: before each step the trainer waits for one byte on `in`; after
// it, it writes "step CPU_SECONDS WALL_SECONDS\n" to `out`.  A benchmark
// driving two trainers this way alternates them step by step, so that load
// from other programs falls on both alike.
class StepGate {
 public:
  // in == nullptr: no gate (wait() and done() do nothing).
  StepGate(std::FILE *in, std::FILE *out) : in_(in), out_(out) {}
  // Throws std::runtime_error when `in` ends before the steps do.
  void wait();
  void done();

 private:
  std::FILE *in_;
  std::FILE *out_;
  double cpu_ = 0.0, wall_ = 0.0;
};

}  // namespace siamese::trainer
