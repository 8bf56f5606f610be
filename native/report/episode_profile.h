// A hang's blocked-time profile: the loop thread's stacks sampled at
// `profile_hz` from detection until the loop recovered (or the watchdog
// stopped), aggregated by distinct stack, and rendered as the one profile
// file of the episode (schema "aiowatchdog.profile" 1, read back by
// aiowatchdog/_profile_files.py).
//
// Memory is bounded: at most kMaxStacks distinct stacks are kept; a sample
// whose stack is new once the table is full is counted as dropped. Samples
// of a stack already kept are always counted.
//
// Watchdog thread only; no locks.
#ifndef AIOWATCHDOG_EPISODE_PROFILE_H_
#define AIOWATCHDOG_EPISODE_PROFILE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/report_model.h"

namespace aiowatchdog {

struct ProfileHeader {
  std::string episode_id;
  int64_t pid = 0;
  std::string python_version;
  double profile_hz = 0;
  double interval_s = 0;
  int64_t started_unix_ns = 0;  // sample 0's capture
  double blocked_s = 0;         // the whole episode: to recovery, or to the stop
  bool recovered = true;
  int64_t loop_native_id = 0;
  std::string loop_thread_name;
};

class EpisodeProfile {
 public:
  static constexpr size_t kMaxStacks = 1000;

  void Reset();
  // One sample's loop-thread stack, outermost first.
  void Add(const std::vector<Frame>& frames);
  // A sample thrown away: the loop moved while its stack was read.
  void Discard() { ++discarded_; }

  int64_t samples() const { return samples_; }
  int64_t dropped() const { return dropped_; }
  size_t distinct_stacks() const { return stacks_.size(); }

  // The profile file's content. Stacks in the order first seen.
  std::string RenderJson(const ProfileHeader& header) const;

 private:
  struct Stack {
    std::vector<Frame> frames;
    int64_t count = 0;
  };
  static std::string Key(const std::vector<Frame>& frames);

  std::vector<Stack> stacks_;
  std::unordered_map<std::string, size_t> index_;  // Key() -> stacks_ index
  int64_t samples_ = 0;    // counted in stacks_
  int64_t discarded_ = 0;
  int64_t dropped_ = 0;
};

// "profile-20261122-101112.123456.json": named after the episode's sample 0
// report, "stacktrace-20261122-101112.123456-0.*" (report_writer.h).
std::string ProfileFileName(int64_t sample0_unix_ns);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_EPISODE_PROFILE_H_
