// SPDX-License-Identifier: LGPL-2.1-or-later
#include "step_timing.h"

#include <time.h>

#include <iomanip>
#include <sstream>
#include <stdexcept>

namespace siamese::trainer {
namespace {

double clock_seconds(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

}  // namespace

double process_cpu_seconds() { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }
double wall_seconds() { return clock_seconds(CLOCK_MONOTONIC); }

const char *to_string(Phase phase) {
  switch (phase) {
    case Phase::kSampling: return "sampling";
    case Phase::kBatch: return "batch";
    case Phase::kForward: return "forward";
    case Phase::kLoss: return "loss";
    case Phase::kBackward: return "backward";
    case Phase::kOptimizer: return "optimizer";
  }
  return "?";
}

PhaseTimer::Scope::Scope(PhaseTimer &timer, Phase phase)
    : timer_(timer.enabled_ ? &timer : nullptr), phase_(phase) {
  if (!timer_) return;
  cpu_ = process_cpu_seconds();
  wall_ = trainer::wall_seconds();
}

void PhaseTimer::Scope::stop() {
  if (!timer_) return;
  const auto index = static_cast<std::size_t>(phase_);
  timer_->cpu_[index] += process_cpu_seconds() - cpu_;
  timer_->wall_[index] += trainer::wall_seconds() - wall_;
  timer_ = nullptr;
}

std::string PhaseTimer::summary(int64_t steps) const {
  double total = 0.0;
  for (const double seconds : cpu_) total += seconds;
  const double per_step = 1e3 / static_cast<double>(steps > 0 ? steps : 1);
  std::ostringstream line;
  line << std::fixed << std::setprecision(2) << "phases, ms per step CPU (wall) [share of CPU]:";
  for (std::size_t i = 0; i < kPhaseCount; ++i)
    line << ' ' << to_string(static_cast<Phase>(i)) << ' ' << cpu_[i] * per_step << " ("
         << wall_[i] * per_step << ") [" << std::setprecision(0)
         << (total > 0 ? 100.0 * cpu_[i] / total : 0.0) << "%]" << std::setprecision(2);
  line << "; total " << total * per_step;
  return line.str();
}

void StepGate::wait() {
  if (!in_) return;
  if (std::fgetc(in_) == EOF)
    throw std::runtime_error("--lockstep: standard input ended before the last training step");
  cpu_ = process_cpu_seconds();
  wall_ = wall_seconds();
}

void StepGate::done() {
  if (!in_) return;
  std::fprintf(out_, "step %.9f %.9f\n", process_cpu_seconds() - cpu_, wall_seconds() - wall_);
  std::fflush(out_);
}

}  // namespace siamese::trainer
