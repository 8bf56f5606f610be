// The watchdog's timing and episode logic as a pure state machine: given the
// time now and the loop's last reported state, it says what to do next (sleep
// until a deadline, park until the loop does something, take sample k, close
// the episode). No clock, thread or I/O of its own, so every timing rule is
// tested with made-up times (hang_detector_test).
//
// The loop reports transitions, each with the time it happened: "busy" when it
// starts running callbacks (it left its selector, or a heartbeat ran), "idle"
// when it goes back to waiting in its selector. A loop waiting in its selector
// is never hung. Rules: a hang begins when the loop has been busy, with no
// newer transition, for more than `interval`. Sample 0 is taken at detection,
// then one every `sample_interval` while the same hang lasts, up to
// `samples`. Any newer transition ends the episode (no sample after recovery)
// and re-arms detection. A loop idle for `park_after` lets the watchdog park:
// it sleeps until the loop's next transition wakes it, costing nothing while
// the loop idles. With `profile_interval_ns` set, a hang also gets a profile
// tick every profile_interval_ns from detection until it ends (after the
// samples are all taken too); a healthy loop gets none.
//
// Stalls: when the whole process stops (SIGSTOP, a debugger, a frozen
// container, a suspended VM) neither the loop nor the watchdog runs, and on
// SIGCONT both resume with the loop's last stamp far in the past. A loop
// idling in its selector (asyncio's probe) says "idle" and is safe, but a
// heartbeat loop (uvloop) looks busy since its last beat, and its next beat
// may come after the watchdog's first look: a false hang. The watchdog sees
// the stall in its own lateness: it woke `late` past the deadline it was
// given. When it finds the loop overdue after waking more than a quarter
// interval late, the stall may explain the silence: the loop gets one more
// `interval` from now to show it is alive, and is declared hung (from its
// old stamp) only if it does not. Once per stamp: a real block across a
// stall, or on a machine so loaded that the watchdog is always late, is
// still reported, one interval later.
#ifndef AIOWATCHDOG_HANG_DETECTOR_H_
#define AIOWATCHDOG_HANG_DETECTOR_H_

#include <cstdint>

namespace aiowatchdog {

struct DetectorConfig {
  int64_t interval_ns;
  int32_t samples;
  int64_t sample_interval_ns;
  int64_t park_after_ns;
  int64_t profile_interval_ns = 0;  // 0: no profile ticks
};

// The loop's last transition. stamp_ns 0: none yet (not armed).
struct LoopState {
  int64_t stamp_ns = 0;
  bool idle = false;

  bool operator==(const LoopState& o) const { return stamp_ns == o.stamp_ns && idle == o.idle; }
  bool operator!=(const LoopState& o) const { return !(*this == o); }
};

struct Decision {
  enum class Kind {
    kSleepUntil,    // nothing to do before `deadline_ns` (or a transition)
    kPark,          // nothing to do until the loop's next transition
    kSample,        // capture sample `sample_index` of the current episode now
    kEpisodeEnded,  // the loop recovered; `blocked_ns` is the whole hang
    kProfile,       // take a profile sample of the loop's thread now
  };
  Kind kind;
  int64_t deadline_ns = 0;   // kSleepUntil
  int32_t sample_index = 0;  // kSample
  int64_t blocked_ns = 0;    // kSample: so far; kEpisodeEnded: in total
  int64_t episode_seq = 0;   // kSample, kEpisodeEnded: 1, 2, ... per detector
};

class HangDetector {
 public:
  explicit HangDetector(const DetectorConfig& config) : config_(config) {}

  // Decides the next step. `loop.stamp_ns` is on the same monotonic clock as
  // `now_ns`. Call again after acting on a kSample or kEpisodeEnded decision,
  // after the sleep of a kSleepUntil, or after the wake-up of a kPark.
  Decision Next(int64_t now_ns, LoopState loop);

  bool in_episode() const { return in_episode_; }

 private:
  Decision Decide(int64_t now_ns, LoopState loop, int64_t late);

  DetectorConfig config_;
  bool in_episode_ = false;
  LoopState episode_state_;  // the transition that began the hang
  int64_t episode_seq_ = 0;
  int32_t samples_taken_ = 0;
  int64_t next_sample_ns_ = 0;
  int64_t next_profile_ns_ = 0;
  int64_t last_deadline_ns_ = 0;  // of the last kSleepUntil; 0: none pending
  LoopState graced_;              // the stamp last given an interval after a stall
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_HANG_DETECTOR_H_
