// See episode_rate_limit.h.
#include "detect/episode_rate_limit.h"

namespace aiowatchdog {

bool EpisodeRateLimit::Admit(int64_t now_ns) {
  while (!admitted_.empty() && now_ns - admitted_.front() >= window_ns_) admitted_.pop_front();
  if (static_cast<int64_t>(admitted_.size()) >= max_per_window_) return false;
  admitted_.push_back(now_ns);
  return true;
}

}  // namespace aiowatchdog
