// The watchdog: one native thread per watched loop that follows the loop's
// transitions, declares a hang when it stays busy too long, and takes and
// writes the episode's samples.
//
// Transitions: Touch() runs on the loop's thread, from the Python side's probe
// (busy when the loop leaves its selector, idle when it enters it; or busy on
// every heartbeat for loops without a Python selector), and stores
// CLOCK_MONOTONIC and the idle bit in one atomic word: no lock, no GIL needed
// to read it. The watchdog thread sleeps until the next deadline the
// HangDetector gives, or parks while the loop idles; Touch() wakes it only
// when it is parked or waiting for the end of an episode.
//
// Results go back to Python through TakeFinished(), polled when Touch() says
// chores are due: the WARNING for a recovered hang is logged there, on the
// loop's thread.
//
// Bounds: episodes over the rate limit (episode_rate_limit.h) are counted, not
// captured; after each report written the directory is pruned to its limits
// (report_retention.h). A report that cannot be written (directory gone, disk
// full, read-only) is counted and the watchdog carries on; the directory is
// made again if it was removed, and writing resumes as soon as it can.
// Start() opens the report directory once (report_writer.h:
// OpenReportDirectory: refused with PermissionDenied when another user owns
// it or may write in it) and every file goes through that descriptor.
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
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "report/episode_profile.h"
#include "detect/episode_rate_limit.h"
#include "detect/gil_wait.h"
#include "detect/hang_detector.h"
#include "common/options.h"
#include "proc/proc_task.h"
#include "model/report_model.h"
#include "sample/source_lines.h"
#include "sample/symbolizer.h"

namespace aiowatchdog {

// What the Python side logs about an episode once it is over.
struct FinishedEpisode {
  std::string episode_id;
  double blocked_s = 0;                  // whole hang (recovered) or so far
  double blocked_min_s = -1;             // its lower bound when not exact; -1: exact
  bool recovered = true;                 // false: the watchdog stopped first
  std::vector<std::string> report_paths; // text files, sample order
  std::vector<Frame> loop_frames;        // loop thread, sample 0, innermost first
                                         // (the WARNING's few frames)
  std::vector<Frame> loop_stack;         // loop thread, sample 0, whole, outermost first
  std::optional<TaskInfo> task;          // the loop's task in sample 0, when known
  std::optional<LoopActivity> activity;  // sample 0's; once the episode ended,
                                         // told over all of it (loop_activity.h)
  // The loop's thread waited for the GIL in sample 0 and this thread held it
  // (activity->gil_holder): its name and frames, as loop_frames/loop_stack.
  std::string gil_holder_name;
  std::vector<Frame> gil_holder_frames;
  std::vector<Frame> gil_holder_stack;
  int64_t started_ns = 0;                // CLOCK_MONOTONIC: the busy period began
  int64_t sampled_ns = 0;                // CLOCK_MONOTONIC: sample 0 was captured
  int32_t discarded_samples = 0;         // taken as the loop recovered: not written
  int64_t suppressed_before = 0;         // episodes not reported (rate limit) since
                                         // the last report written before this one
  // Disk trouble is told once per spell, not once per report: `write_error`
  // is set on the episode whose report was the first that could not be
  // written; `reports_lost_before` on the one whose report was the first
  // written again (how many were lost in between).
  int32_t reports_not_written = 0;       // this episode's samples that failed
  std::string write_error;
  int64_t reports_lost_before = 0;
};

class Watchdog {
 public:
  explicit Watchdog(WatchdogOptions options);
  ~Watchdog();  // stops and joins
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  absl::Status Start();

  // Chores Touch() reports due, for the Python side to do on the loop thread.
  static constexpr int kFinishedEpisodes = 1;  // TakeFinished() has results
  static constexpr int kHousekeeping = 2;      // ~10 times a second: names etc.
  static constexpr int kBlockEnded = 4;        // this touch ended a hang: what the
                                               // loop holds now is what it held then

  // On the loop's thread: the loop just became busy (idle=false) or idle.
  // Lock-free unless the watchdog is parked or waiting for a recovery.
  int Touch(bool idle);

  // How late a stamp may be: a probe that sees the loop only every `ns` (a
  // heartbeat) stamps a block's start up to that much before it began, so a
  // block's length is known within [blocked - ns, blocked]. 0 (the default):
  // stamped at the transition itself.
  void SetStampUncertainty(int64_t ns) { stamp_uncertainty_ns_.store(ns); }

  bool HasFinished() const { return has_finished_.load(std::memory_order_acquire); }
  std::vector<FinishedEpisode> TakeFinished();

  void RequestStop();
  bool Stopped() const { return exited_.load(std::memory_order_acquire); }
  // Why the watchdog thread ended without being asked to (too little memory
  // for it to start, an error no capture caught); nullptr while it runs or
  // when it was stopped. The Python side logs it and stops calling itself
  // running.
  const char* EndedEarly() const { return ended_early_.load(std::memory_order_acquire); }
  void Join();

  // In a forked child, where the watchdog thread does not exist: marks this
  // watchdog stopped without joining or detaching a thread that is not there
  // (its std::thread is leaked on purpose), so that stopping, joining and
  // destroying it are harmless. Call once, in the child, before anything else.
  void ForgetAfterFork();

  // Sample 0 of the episode whose busy period began at or after `since_ns`
  // (CLOCK_MONOTONIC), waiting up to `timeout_ns` for one being captured now;
  // nothing when no such sample was taken. Only sample 0's fields and
  // started_ns/sampled_ns are set. For log_slow_callbacks, right after a
  // slow callback that began at `since_ns` (and touched the watchdog then).
  std::optional<FinishedEpisode> SampleSince(int64_t since_ns, int64_t timeout_ns);

  int64_t episodes_started() const { return episodes_.load(); }
  int64_t episodes_suppressed() const { return suppressed_total_.load(); }

 private:
  void Run();
  void TakeSample(const Decision& decision);
  void EndEpisode(int64_t blocked_ns, bool recovered);
  bool LoopWaitsForGil(pid_t loop_tid, const awd_gil_state& gil);
  void FinishRun() noexcept;
  // A block counted as `blocked_ns` from its stamp, in seconds: how long it
  // may have lasted (the count, plus how much earlier a GIL wait may have
  // begun: gil_wait.h) and, when that is a range, its lower bound (the count,
  // less how late a heartbeat's stamp may be: SetStampUncertainty); -1 when
  // exact.
  std::pair<double, double> BlockedSpan(int64_t blocked_ns) const;
  void WriteSample(const SampleReport& report);
  void TakeProfileSample();
  // Writes the profile EndEpisode left in pending_profile_, if any. mu_ not held.
  void WritePendingProfile();

  // The report directory's descriptor (write_reports): opened by Start(),
  // again by WriteSample when the directory was removed, closed when the
  // watchdog thread ends. Watchdog thread after Start().
  absl::StatusOr<int> ReportDirFd();
  int dir_fd_ = -1;

  const WatchdogOptions options_;
  HangDetector detector_;
  SourceLines sources_;    // watchdog thread only
  Symbolizer symbolizer_;  // watchdog thread only
  EpisodeRateLimit rate_limit_;  // watchdog thread only

  static LoopState Unpack(int64_t word) { return {word >> 1, (word & 1) != 0}; }
  LoopState LoadState() const { return Unpack(state_.load(std::memory_order_seq_cst)); }
  // The loop's state as the detector sees it: a busy loop inside an allowed
  // section (allowed_sections.h) counts as busy from now, and as busy from
  // the section's end once it left it.
  // An idle loop whose thread waits for the GIL counts as busy (gil_wait.h).
  // `loop`: the probe's state, LoadState().
  LoopState DetectorState(int64_t now_ns, LoopState loop);

  std::atomic<int64_t> state_{0};         // stamp_ns << 1 | idle; 0: not armed
  std::atomic<pid_t> loop_tid_{0};
  std::atomic<bool> in_episode_{false};
  // The loop thread's first transition after a hang was detected (its
  // recovery): the time, and its own CPU time then, stored by Touch so that
  // the episode's shares end there and not when the watchdog, perhaps busy
  // symbolizing, gets to EndEpisode. 0: none yet. Reset by EndEpisode.
  std::atomic<int64_t> recovered_at_ns_{0};
  std::atomic<int64_t> stamp_uncertainty_ns_{0};  // SetStampUncertainty
  GilStarvation gil_starvation_;          // watchdog thread only
  int64_t episode_gil_extra_ns_ = 0;      // watchdog thread only: uncertainty_ns()
                                          // of a GIL wait at sample 0, else 0
  std::atomic<int64_t> recovered_cpu_ns_{-1};
  std::atomic<bool> parked_{false};       // the watchdog waits for a transition
  int64_t next_housekeeping_ns_ = 0;      // loop thread only
  std::atomic<bool> has_finished_{false};
  std::atomic<bool> exited_{false};
  std::atomic<const char*> ended_early_{nullptr};  // a string literal
  std::atomic<int64_t> episodes_{0};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                     // guarded by mu_
  FinishedEpisode current_;               // watchdog thread only
  int64_t episode_start_unix_ms_ = 0;     // watchdog thread only
  bool current_suppressed_ = false;       // watchdog thread only: no capture
  int64_t allowed_ns_at_start_ = 0;       // watchdog thread only: the loop thread's
                                          // allowed-section time at sample 0
  SchedSnapshot episode_start_sched_;     // watchdog thread only: the loop thread at
                                          // sample 0's window start and at the last
  SchedSnapshot last_sample_sched_;       // signal; its time in our handler in the
  int64_t last_pause_ns_ = 0;             // last sample and in the whole episode
  int64_t episode_pause_ns_ = 0;
  int64_t suppressed_since_report_ = 0;   // watchdog thread only
  bool write_failing_ = false;            // watchdog thread only: the last write failed
  int64_t reports_lost_ = 0;              // watchdog thread only: since write_failing_
  // profile_hz (episode_profile.h), watchdog thread only: whether this
  // episode is profiled, its samples so far, sample 0's capture time and the
  // loop thread's name then, and the file EndEpisode rendered, to be written
  // once mu_ is released (the loop's Touch may wait on mu_).
  bool profiling_episode_ = false;
  EpisodeProfile profile_;
  int64_t profile_sample0_unix_ns_ = 0;
  std::string profile_loop_name_;
  std::string pending_profile_name_;
  std::string pending_profile_;
  std::atomic<int64_t> suppressed_total_{0};
  std::vector<FinishedEpisode> finished_; // guarded by mu_
  int64_t capturing_since_ns_ = 0;        // guarded by mu_: busy stamp of the
                                          // episode whose sample 0 is being taken
  std::optional<FinishedEpisode> last_sample_;  // guarded by mu_: its result
  std::condition_variable sampled_;       // capturing_since_ns_ went back to 0
  std::thread thread_;
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_WATCHDOG_H_
