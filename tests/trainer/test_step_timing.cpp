// SPDX-License-Identifier: LGPL-2.1-or-later
//
// --profile's per-phase times and --lockstep's gate (trainer/step_timing.h).
#include <cstdio>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "step_timing.h"

namespace siamese::trainer {
namespace {

// Burns about `seconds` of CPU time on this thread.
void spin(double seconds) {
  const double until = process_cpu_seconds() + seconds;
  volatile double sink = 0.0;
  while (process_cpu_seconds() < until) sink = sink + 1.0;
}

TEST(PhaseTimer, ChargesEachScopeToItsPhase) {
  PhaseTimer timer(true);
  {
    PhaseTimer::Scope scope(timer, Phase::kForward);
    spin(0.02);
  }
  PhaseTimer::Scope backward(timer, Phase::kBackward);
  spin(0.01);
  backward.stop();
  spin(0.01);  // after stop(): charged to nothing
  backward.stop();
  EXPECT_GE(timer.cpu_seconds(Phase::kForward), 0.02);
  EXPECT_GE(timer.cpu_seconds(Phase::kBackward), 0.01);
  EXPECT_LT(timer.cpu_seconds(Phase::kBackward), 0.018);
  EXPECT_GE(timer.wall_seconds(Phase::kForward), timer.cpu_seconds(Phase::kForward) * 0.99);
  EXPECT_EQ(timer.cpu_seconds(Phase::kSampling), 0.0);
  const std::string summary = timer.summary(2);
  for (const char *name : {"sampling", "batch", "forward", "loss", "backward", "optimizer"})
    EXPECT_NE(summary.find(name), std::string::npos) << summary;
}

TEST(PhaseTimer, DisabledChargesNothing) {
  PhaseTimer timer(false);
  {
    PhaseTimer::Scope scope(timer, Phase::kForward);
    spin(0.005);
  }
  EXPECT_EQ(timer.cpu_seconds(Phase::kForward), 0.0);
}

TEST(StepGate, OneStepPerByteAndALineAfterEach) {
  std::FILE *in = std::tmpfile();
  std::FILE *out = std::tmpfile();
  ASSERT_TRUE(in && out);
  std::fputs("ss", in);
  std::rewind(in);
  StepGate gate(in, out);
  for (int step = 0; step < 2; ++step) {
    gate.wait();
    spin(0.005);
    gate.done();
  }
  EXPECT_THROW(gate.wait(), std::runtime_error);  // input ended before a third step
  std::rewind(out);
  for (int step = 0; step < 2; ++step) {
    double cpu = 0.0, wall = 0.0;
    ASSERT_EQ(std::fscanf(out, "step %lf %lf\n", &cpu, &wall), 2);
    EXPECT_GE(cpu, 0.005);
    EXPECT_GE(wall, cpu * 0.99);
  }
  std::fclose(in);
  std::fclose(out);
}

TEST(StepGate, WithoutInputDoesNothing) {
  StepGate gate(nullptr, nullptr);
  gate.wait();
  gate.done();
}

}  // namespace
}  // namespace siamese::trainer
