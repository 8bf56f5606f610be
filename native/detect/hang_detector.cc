// See hang_detector.h for the rules this implements.
#include "detect/hang_detector.h"

#include <algorithm>

namespace aiowatchdog {

Decision HangDetector::Next(int64_t now_ns, LoopState loop) {
  // How late this call is for the deadline last handed out (see "Stalls").
  const int64_t late = last_deadline_ns_ > 0 ? now_ns - last_deadline_ns_ : 0;
  last_deadline_ns_ = 0;
  Decision d = Decide(now_ns, loop, late);
  if (d.kind == Decision::Kind::kSleepUntil) last_deadline_ns_ = d.deadline_ns;
  return d;
}

Decision HangDetector::Decide(int64_t now_ns, LoopState loop, int64_t late) {
  Decision d{Decision::Kind::kSleepUntil};
  if (in_episode_ && loop != episode_state_) {
    // The loop moved on: the stamp it left is when it came back.
    in_episode_ = false;
    d.kind = Decision::Kind::kEpisodeEnded;
    d.blocked_ns = loop.stamp_ns - episode_state_.stamp_ns;
    d.episode_seq = episode_seq_;
    return d;
  }
  if (!in_episode_) {
    if (loop.stamp_ns == 0) {
      d.kind = Decision::Kind::kPark;  // not armed: the first transition wakes us
      return d;
    }
    if (loop.idle) {
      if (now_ns - loop.stamp_ns >= config_.park_after_ns) {
        d.kind = Decision::Kind::kPark;
      } else {
        // Recently active: poll, so a busy spell that starts without waking
        // us is still checked within one interval of its start.
        d.deadline_ns = now_ns + config_.interval_ns;
      }
      return d;
    }
    if (now_ns - loop.stamp_ns <= config_.interval_ns) {
      d.deadline_ns = loop.stamp_ns + config_.interval_ns + 1;
      return d;
    }
    if (late > config_.interval_ns / 4 && loop != graced_) {
      // The process was stopped (or starved): the loop gets an interval of
      // its own from now before its silence counts; once per stamp, so that
      // a watchdog late every time still reports a real hang.
      graced_ = loop;
      d.deadline_ns = now_ns + config_.interval_ns;
      return d;
    }
    in_episode_ = true;
    episode_state_ = loop;
    ++episode_seq_;
    samples_taken_ = 0;
    next_sample_ns_ = now_ns;
    next_profile_ns_ = now_ns + config_.profile_interval_ns;
  }
  if (samples_taken_ < config_.samples && now_ns >= next_sample_ns_) {
    d.kind = Decision::Kind::kSample;
    d.sample_index = samples_taken_++;
    d.blocked_ns = now_ns - episode_state_.stamp_ns;
    d.episode_seq = episode_seq_;
    // Keep to the schedule, but never owe a burst of samples after a stall.
    next_sample_ns_ += config_.sample_interval_ns;
    if (next_sample_ns_ <= now_ns) next_sample_ns_ = now_ns + config_.sample_interval_ns;
    return d;
  }
  const bool profiling = config_.profile_interval_ns > 0;
  if (profiling && now_ns >= next_profile_ns_) {
    d.kind = Decision::Kind::kProfile;
    d.blocked_ns = now_ns - episode_state_.stamp_ns;
    d.episode_seq = episode_seq_;
    // Ticks missed (a slow capture, a stalled machine) are skipped, not owed.
    next_profile_ns_ += config_.profile_interval_ns;
    if (next_profile_ns_ <= now_ns) next_profile_ns_ = now_ns + config_.profile_interval_ns;
    return d;
  }
  // Waiting for the next sample or profile tick or, once all samples are
  // taken and without profiling, for the recovery transition, which wakes
  // the watchdog.
  if (samples_taken_ < config_.samples) {
    d.deadline_ns = profiling ? std::min(next_sample_ns_, next_profile_ns_) : next_sample_ns_;
  } else if (profiling) {
    d.deadline_ns = next_profile_ns_;
  } else {
    d.kind = Decision::Kind::kPark;
  }
  return d;
}

}  // namespace aiowatchdog
