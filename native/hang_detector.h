// The watchdog's timing and episode logic as a pure state machine: given the
// time now and the last heartbeat, it says what to do next (sleep until a
// deadline, take sample k, close the episode). No clock, thread or I/O of its
// own, so every timing rule is tested with made-up times (hang_detector_test).
//
// Rules: a hang begins when no heartbeat came for more than `interval`. Sample
// 0 is taken at detection, then one every `sample_interval` while the same
// hang lasts, up to `samples`. Any newer heartbeat ends the episode (no sample
// after recovery) and re-arms detection.
#ifndef AIOWATCHDOG_HANG_DETECTOR_H_
#define AIOWATCHDOG_HANG_DETECTOR_H_

#include <cstdint>

namespace aiowatchdog {

struct DetectorConfig {
  int64_t interval_ns;
  int32_t samples;
  int64_t sample_interval_ns;
};

struct Decision {
  enum class Kind {
    kSleepUntil,    // nothing to do before `deadline_ns` (or a heartbeat)
    kSample,        // capture sample `sample_index` of the current episode now
    kEpisodeEnded,  // the loop recovered; `blocked_ns` is the whole hang
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

  // Decides the next step. `last_beat_ns` is the newest heartbeat stamp, on
  // the same monotonic clock as `now_ns`. Call again after acting on a
  // kSample or kEpisodeEnded decision; sleep and call again after kSleepUntil.
  Decision Next(int64_t now_ns, int64_t last_beat_ns);

  bool in_episode() const { return in_episode_; }

 private:
  DetectorConfig config_;
  bool in_episode_ = false;
  int64_t episode_beat_ns_ = 0;  // the last heartbeat before the hang
  int64_t episode_seq_ = 0;
  int32_t samples_taken_ = 0;
  int64_t next_sample_ns_ = 0;
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_HANG_DETECTOR_H_
