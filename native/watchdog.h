// The watchdog: one native thread per watched loop that expects heartbeats,
// declares a hang when they stop, and takes and writes the episode's samples.
//
// Heartbeat: Beat() runs on the loop's thread (scheduled by the Python side
// every interval/2) and stamps CLOCK_MONOTONIC into an atomic: no lock, no
// GIL needed to read it. The watchdog thread sleeps until the next deadline
// the HangDetector gives (no polling) and wakes early only to stop or, during
// an episode, for the recovery heartbeat.
//
// Results go back to Python through TakeFinished(), polled by the heartbeat:
// the WARNING for a recovered hang is logged there, on the loop's thread.
//
// Lifetime: Start() spawns the thread; RequestStop() asks it to end without
// waiting; Stopped() says whether it has; Join() waits for it. The thread
// blocks every signal, so capture signals never land on it.
#ifndef AIOWATCHDOG_WATCHDOG_H_
#define AIOWATCHDOG_WATCHDOG_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "hang_detector.h"
#include "options.h"
#include "report_model.h"
#include "source_lines.h"

namespace aiowatchdog {

// What the Python side logs about an episode once it is over.
struct FinishedEpisode {
  std::string episode_id;
  double blocked_s = 0;                  // whole hang (recovered) or so far
  bool recovered = true;                 // false: the watchdog stopped first
  std::vector<std::string> report_paths; // text files, sample order
  std::vector<Frame> loop_frames;        // loop thread, sample 0, innermost first
  std::vector<std::string> errors;       // reports that could not be written
  int32_t discarded_samples = 0;         // taken as the loop recovered: not written
};

class Watchdog {
 public:
  explicit Watchdog(WatchdogOptions options);
  ~Watchdog();  // stops and joins
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  absl::Status Start();

  // On the loop's thread. Lock-free unless an episode is open.
  void Beat();

  bool HasFinished() const { return has_finished_.load(std::memory_order_acquire); }
  std::vector<FinishedEpisode> TakeFinished();

  void RequestStop();
  bool Stopped() const { return exited_.load(std::memory_order_acquire); }
  void Join();

  int64_t episodes_started() const { return episodes_.load(); }

 private:
  void Run();
  void TakeSample(const Decision& decision);
  void EndEpisode(int64_t blocked_ns, bool recovered);

  const WatchdogOptions options_;
  HangDetector detector_;
  SourceLines sources_;  // watchdog thread only

  std::atomic<int64_t> last_beat_ns_{0};  // 0: no heartbeat yet, not armed
  std::atomic<pid_t> loop_tid_{0};
  std::atomic<bool> in_episode_{false};
  std::atomic<bool> has_finished_{false};
  std::atomic<bool> exited_{false};
  std::atomic<int64_t> episodes_{0};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                     // guarded by mu_
  FinishedEpisode current_;               // watchdog thread only
  int64_t episode_start_unix_ms_ = 0;     // watchdog thread only
  std::vector<FinishedEpisode> finished_; // guarded by mu_
  std::thread thread_;
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_WATCHDOG_H_
