// The two clocks the core reads: monotonic for heartbeats and deadlines (the
// same clock as std::chrono::steady_clock on Linux), wall-clock for report
// names. Both are vDSO reads, cheap enough for every heartbeat.
#ifndef AIOWATCHDOG_CLOCK_H_
#define AIOWATCHDOG_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace aiowatchdog {

inline int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

inline int64_t UnixNowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_CLOCK_H_
