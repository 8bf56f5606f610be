// See hang_detector.h for the rules this implements.
#include "hang_detector.h"

namespace aiowatchdog {

Decision HangDetector::Next(int64_t now_ns, int64_t last_beat_ns) {
  Decision d{Decision::Kind::kSleepUntil};
  if (!in_episode_) {
    if (now_ns - last_beat_ns <= config_.interval_ns) {
      d.deadline_ns = last_beat_ns + config_.interval_ns + 1;
      return d;
    }
    in_episode_ = true;
    episode_beat_ns_ = last_beat_ns;
    ++episode_seq_;
    samples_taken_ = 0;
    next_sample_ns_ = now_ns;
  }
  if (last_beat_ns != episode_beat_ns_) {
    // A heartbeat ran again: the stamp it left is when the loop came back.
    in_episode_ = false;
    d.kind = Decision::Kind::kEpisodeEnded;
    d.blocked_ns = last_beat_ns - episode_beat_ns_;
    d.episode_seq = episode_seq_;
    return d;
  }
  if (samples_taken_ < config_.samples && now_ns >= next_sample_ns_) {
    d.kind = Decision::Kind::kSample;
    d.sample_index = samples_taken_++;
    d.blocked_ns = now_ns - episode_beat_ns_;
    d.episode_seq = episode_seq_;
    // Keep to the schedule, but never owe a burst of samples after a stall.
    next_sample_ns_ += config_.sample_interval_ns;
    if (next_sample_ns_ <= now_ns) next_sample_ns_ = now_ns + config_.sample_interval_ns;
    return d;
  }
  // Waiting for the next sample or, when all are taken, for the recovery
  // heartbeat (which wakes the watchdog); the deadline is only a fallback.
  d.deadline_ns = samples_taken_ < config_.samples ? next_sample_ns_
                                                   : now_ns + config_.interval_ns;
  return d;
}

}  // namespace aiowatchdog
