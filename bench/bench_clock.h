// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The clocks the benchmarks read.  Process CPU time is what they compare:
// on a shared machine other programs inflate wall time, not our CPU time.
#pragma once

#include <time.h>

namespace siamese::bench {

inline double read_clock(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec * 1e-9;
}

// Seconds of CPU time used by every thread of this process so far.
inline double process_cpu_seconds() { return read_clock(CLOCK_PROCESS_CPUTIME_ID); }

// Seconds on a clock that never jumps, for durations.
inline double wall_seconds() { return read_clock(CLOCK_MONOTONIC); }

}  // namespace siamese::bench
