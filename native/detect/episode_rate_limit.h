// The episode rate limit: at most `max_per_window` hang episodes get reports
// in any sliding window of `window_ns` (a minute by default). A program that
// hangs every few seconds for hours must not fill the disk or keep pausing
// every thread for captures; the episodes over the limit are only counted,
// and the count goes into the next report written.
//
// Pure logic with injected times, like hang_detector.h; watchdog thread only.
#ifndef AIOWATCHDOG_EPISODE_RATE_LIMIT_H_
#define AIOWATCHDOG_EPISODE_RATE_LIMIT_H_

#include <cstdint>
#include <deque>

namespace aiowatchdog {

class EpisodeRateLimit {
 public:
  static constexpr int64_t kMinuteNs = 60'000'000'000;

  EpisodeRateLimit(int32_t max_per_window, int64_t window_ns = kMinuteNs)
      : max_per_window_(max_per_window), window_ns_(window_ns) {}

  // An episode starts at `now_ns` (monotonic): true if it may be reported
  // (and it is then counted against the window), false if it is suppressed.
  bool Admit(int64_t now_ns);

 private:
  const int32_t max_per_window_;
  const int64_t window_ns_;
  std::deque<int64_t> admitted_;  // start times inside the window, oldest first
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_EPISODE_RATE_LIMIT_H_
