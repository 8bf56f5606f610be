// See watchdog.h.
#include "watchdog.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "absl/strings/str_format.h"
#include "detect/allowed_sections.h"
#include "capture/capture.h"
#include "common/clock.h"
#include "detect/gc_phase.h"
#include "detect/loop_activity.h"
#include "report/report_retention.h"
#include "report/report_writer.h"
#include "sample/sample_builder.h"
#include "proc/thread_syscall.h"

namespace aiowatchdog {
namespace {

// profile_hz as the detector's tick period; 0 (off) for in-memory watchdogs.
int64_t ProfileIntervalNs(const WatchdogOptions& o) {
  if (!o.write_reports || !(o.profile_hz > 0)) return 0;
  return std::max<int64_t>(1, static_cast<int64_t>(1e9 / o.profile_hz));
}

// The recovery WARNING shows the native frames inside the loop thread's
// innermost Python frame (at most kWarningNativeFrames), then kWarningFrames
// frames from that Python frame outwards.
constexpr size_t kWarningFrames = 5;
constexpr size_t kWarningNativeFrames = 8;
// How often Touch() asks for housekeeping on the loop thread.
constexpr int64_t kHousekeepingNs = 100'000'000;
// The watchdog parks once the loop has idled this long, or 4 intervals.
constexpr int64_t kMinParkAfterNs = 1'000'000'000;
// A parked watchdog still looks at the idle loop for a wait for the GIL
// (gil_wait.h), once per this or per interval, whichever is longer. A loop
// active within park_after is looked at once an interval anyway (the
// detector polls it); a parked one rarely starves (something else must take
// the GIL while it sleeps), and each wake-up costs the process 45 to 56 us
// of CPU on a 2-vCPU VM (a timed futex wait, measured in C): looking once
// an interval while parked at 0.25 s made an idle loop cost 0.026% of a
// core instead of 0.0045% (tools/bench_watchdog.py --sections idle).
constexpr int64_t kParkedLookNs = 1'000'000'000;

std::chrono::steady_clock::time_point SteadyAt(int64_t monotonic_ns) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(monotonic_ns));
}

pid_t CurrentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// `outermost_first` as the WARNING lists them: innermost first, see above.
std::vector<Frame> WarningFrames(const std::vector<Frame>& outermost_first) {
  const std::vector<Frame> inner(outermost_first.rbegin(), outermost_first.rend());
  size_t python = 0;
  while (python < inner.size() && inner[python].kind != "python") ++python;
  if (python == inner.size()) python = 0;  // no Python frame: the innermost ones
  const size_t begin = python > kWarningNativeFrames ? python - kWarningNativeFrames : 0;
  const size_t end = std::min(inner.size(), python + kWarningFrames);
  return std::vector<Frame>(inner.begin() + begin, inner.begin() + end);
}

}  // namespace

Watchdog::Watchdog(WatchdogOptions options)
    : options_(std::move(options)),
      detector_(DetectorConfig{options_.interval_ns, options_.samples,
                               options_.sample_interval_ns,
                               std::max(kMinParkAfterNs, 4 * options_.interval_ns),
                               ProfileIntervalNs(options_)}),
      rate_limit_(options_.max_episodes_per_minute, options_.rate_window_ns),
      gil_starvation_([] { return ReadGil(); }, [](pid_t tid) { return ReadThreadSyscall(tid); }) {}

Watchdog::~Watchdog() {
  RequestStop();
  Join();
  if (dir_fd_ >= 0) close(dir_fd_);
}

absl::Status Watchdog::Start() {
  if (thread_.joinable()) return absl::FailedPreconditionError("watchdog already started");
  if (options_.write_reports) {
    // A directory we must not write to is refused here; one that cannot be
    // opened now (removed, a mount away) is tried again at each report.
    absl::StatusOr<int> fd = ReportDirFd();
    if (!fd.ok() && absl::IsPermissionDenied(fd.status())) return fd.status();
    // Left by writers killed mid-write (this process's earlier life included).
    if (fd.ok()) RemoveStaleTempFiles(*fd);
  }
  // Block every signal while creating the thread so it inherits a full mask
  // from its first instruction, not only once Run() gets to it.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    thread_ = std::thread([this] {
      // Nothing thrown on this thread may reach std::terminate (the host
      // process would abort): Run catches per capture, this is the last net.
      try {
        // With too little memory to begin, the watchdog ends now, quietly:
        // its first exception could abort the host (native_stack.h).
        if (WarmUpThreadLocalStorage()) {
          Run();
        } else {
          ended_early_.store("too little memory for its thread to start",
                             std::memory_order_release);
          FinishRun();
        }
      } catch (...) {
        // Run's own end was not reached: its cleanup, then stopped.
        ended_early_.store("an error on its thread that no capture caught",
                           std::memory_order_release);
        FinishRun();
      }
    });
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (dir_fd_ >= 0) close(dir_fd_);
    dir_fd_ = -1;
    return absl::ResourceExhaustedError(absl::StrFormat("cannot start watchdog thread: %s", e.what()));
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return absl::OkStatus();
}

int Watchdog::Touch(bool idle) {
  if (loop_tid_.load(std::memory_order_relaxed) == 0) loop_tid_.store(CurrentTid());
  const int64_t now = MonotonicNowNs();
  state_.store(now << 1 | (idle ? 1 : 0), std::memory_order_seq_cst);
  int chores = 0;
  if (in_episode_.load(std::memory_order_seq_cst) &&
      recovered_at_ns_.load(std::memory_order_relaxed) == 0) {
    chores |= kBlockEnded;
    timespec cpu;  // once per episode: a system call, on this thread's own clock
    recovered_cpu_ns_.store(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0
                                ? cpu.tv_sec * 1'000'000'000LL + cpu.tv_nsec
                                : -1,
                            std::memory_order_relaxed);
    recovered_at_ns_.store(now, std::memory_order_release);
  }
  // Only a parked watchdog, or one waiting for a recovery, needs waking. The
  // seq_cst store above and its seq_cst stores of these flags order the two
  // sides; the mutex orders the notify after its wait began.
  if (parked_.load(std::memory_order_seq_cst) || in_episode_.load(std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  if (HasFinished()) chores |= kFinishedEpisodes;
  if (now >= next_housekeeping_ns_) {
    next_housekeeping_ns_ = now + kHousekeepingNs;
    chores |= kHousekeeping;
  }
  return chores;
}

std::vector<FinishedEpisode> Watchdog::TakeFinished() {
  std::lock_guard<std::mutex> lock(mu_);
  has_finished_.store(false, std::memory_order_release);
  return std::exchange(finished_, {});
}

void Watchdog::RequestStop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  wake_.notify_all();
}

void Watchdog::ForgetAfterFork() {
  // The mutex may have been held by the parent's watchdog thread at the fork.
  new (&mu_) std::mutex();
  new (&wake_) std::condition_variable();
  stop_ = true;
  if (thread_.joinable()) new std::thread(std::move(thread_));  // leaked: see header
  in_episode_.store(false);
  parked_.store(false);
  if (dir_fd_ >= 0) close(dir_fd_);  // the child's copy; the parent keeps its own
  dir_fd_ = -1;
  exited_.store(true, std::memory_order_release);
}

void Watchdog::Join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

LoopState Watchdog::DetectorState(int64_t now_ns, LoopState loop) {
  if (loop.idle && IdleLooksOn()) {
    return gil_starvation_.Adjust(now_ns, loop, loop_tid_.load(std::memory_order_relaxed));
  }
  if (loop.idle || loop.stamp_ns == 0) return loop;
  const AllowedState allowed = ReadAllowedSection(loop_tid_.load(std::memory_order_relaxed));
  if (allowed.depth > 0) {
    loop.stamp_ns = now_ns;
  } else if (allowed.last_exit_ns > loop.stamp_ns) {
    loop.stamp_ns = allowed.last_exit_ns;
  }
  return loop;
}

std::optional<FinishedEpisode> Watchdog::SampleSince(int64_t since_ns, int64_t timeout_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  sampled_.wait_for(lock, std::chrono::nanoseconds(timeout_ns), [&] {
    return capturing_since_ns_ == 0 || capturing_since_ns_ < since_ns;
  });
  if (last_sample_ && last_sample_->started_ns >= since_ns) return last_sample_;
  return std::nullopt;
}

namespace {

// Watchdog thread: memory running out (std::bad_alloc under RLIMIT_AS or a
// cgroup limit) or any other exception from one capture, report or episode
// loses that one, never the process; the watchdog goes on.
template <typename F>
void LoseOnFailure(F&& step) {
  try {
    step();
  } catch (const std::exception&) {
  }
}

}  // namespace

void Watchdog::Run() {
  const pid_t self = CurrentTid();
  AddThreadToSkip(self);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const int64_t now = MonotonicNowNs();
    const LoopState raw = LoadState();  // what the probe said: what wakes us
    const LoopState loop = DetectorState(now, raw);
    const Decision decision = detector_.Next(now, loop);
    switch (decision.kind) {
      case Decision::Kind::kSleepUntil:
        wake_.wait_until(lock, SteadyAt(decision.deadline_ns));
        break;
      case Decision::Kind::kPark:
        // Woken by the probe's next transition: `raw`, not the detector's
        // `loop`, which may differ from it (an allowed section, a GIL wait)
        // and must not make this wait return at once, for ever, mu_ held.
        parked_.store(true, std::memory_order_seq_cst);
        if (raw.idle && IdleLooksOn()) {
          // Its thread may be (or stay) left waiting for the GIL
          // (gil_wait.h): looked at again once an interval while it is, and
          // once per kParkedLookNs while the loop idles.
          const int64_t look_ns =
              loop.idle ? std::max(options_.interval_ns, kParkedLookNs) : options_.interval_ns;
          wake_.wait_until(lock, SteadyAt(now + look_ns),
                           [&] { return stop_ || LoadState() != raw; });
        } else {
          wake_.wait(lock, [&] { return stop_ || LoadState() != raw; });
        }
        parked_.store(false, std::memory_order_seq_cst);
        break;
      case Decision::Kind::kSample:
        in_episode_.store(true, std::memory_order_seq_cst);
        if (decision.sample_index == 0) capturing_since_ns_ = loop.stamp_ns;
        lock.unlock();
        LoseOnFailure([&] { TakeSample(decision); });
        lock.lock();
        if (decision.sample_index == 0) {
          capturing_since_ns_ = 0;
          current_.started_ns = loop.stamp_ns;
          if (!current_suppressed_ && current_.sampled_ns != 0) last_sample_ = current_;
          sampled_.notify_all();
        }
        break;
      case Decision::Kind::kEpisodeEnded:
        LoseOnFailure([&] { EndEpisode(decision.blocked_ns, /*recovered=*/true); });
        break;
      case Decision::Kind::kProfile:
        lock.unlock();
        LoseOnFailure([&] { TakeProfileSample(); });
        lock.lock();
        break;
    }
    if (!pending_profile_.empty()) {
      lock.unlock();
      LoseOnFailure([&] { WritePendingProfile(); });
      lock.lock();
    }
  }
  if (detector_.in_episode()) {
    // Stopped during an episode: it may have ended already (the loop moved
    // while the last sample was taken), or still go on.
    const LoopState loop = DetectorState(MonotonicNowNs(), LoadState());
    const Decision last = detector_.Next(MonotonicNowNs(), loop);
    if (last.kind == Decision::Kind::kEpisodeEnded) {
      EndEpisode(last.blocked_ns, /*recovered=*/true);
    } else {
      EndEpisode(MonotonicNowNs() - loop.stamp_ns, /*recovered=*/false);
    }
  }
  lock.unlock();
  WritePendingProfile();
  FinishRun();
}

// Watchdog thread, at its end (normal or not); throws nothing.
void Watchdog::FinishRun() noexcept {
  // Nothing is written after this: the directory's descriptor goes now, not
  // when Python collects the Dumper (a process starting and stopping
  // dumpers must not hold one descriptor per dumper not yet collected).
  if (dir_fd_ >= 0) close(dir_fd_);
  dir_fd_ = -1;
  symbolizer_.Release();
  RemoveThreadToSkip(CurrentTid());
  exited_.store(true, std::memory_order_release);
}

// Watchdog thread, mu_ not held: the capture and the disk writes.
void Watchdog::TakeSample(const Decision& decision) {
  const int64_t unix_ns = UnixNowNs();
  if (decision.sample_index == 0) {
    episodes_.fetch_add(1);
    episode_gil_extra_ns_ = gil_starvation_.starved() ? gil_starvation_.uncertainty_ns() : 0;
    episode_start_unix_ms_ = unix_ns / 1'000'000;
    current_ = FinishedEpisode{};
    allowed_ns_at_start_ = ReadAllowedSection(loop_tid_.load()).total_ns;
    current_.episode_id =
        absl::StrFormat("%d-%d-%d", getpid(), episode_start_unix_ms_, decision.episode_seq);
    // In-memory watchdogs are asked for every block: no rate limit.
    current_suppressed_ = options_.write_reports && !rate_limit_.Admit(MonotonicNowNs());
    if (current_suppressed_) {
      ++suppressed_since_report_;
      suppressed_total_.fetch_add(1);
    } else {
      current_.suppressed_before = suppressed_since_report_;
    }
    profile_.Reset();
    profiling_episode_ = !current_suppressed_ && ProfileIntervalNs(options_) > 0;
    profile_sample0_unix_ns_ = 0;
  }
  if (current_suppressed_) return;  // over the rate limit: not even captured
  const pid_t loop_tid = loop_tid_.load();
  const LoopState before = LoadState();
  if (decision.sample_index == 0) {
    // Sample 0's window (loop_activity.h): the loop's thread left alone for
    // a moment before the signal, this thread asleep.
    episode_start_sched_ = last_sample_sched_ = ReadSchedSnapshot(loop_tid);
    episode_pause_ns_ = last_pause_ns_ = 0;
    std::this_thread::sleep_for(std::chrono::nanoseconds(ActivityWindowNs(options_.interval_ns)));
    if (LoadState() != before) {
      ++current_.discarded_samples;
      return;
    }
  }
  // What the loop's thread is doing as the signal is about to interrupt it,
  // and whether it waits for the GIL, held by which thread.
  const SchedSnapshot before_signal = ReadSchedSnapshot(loop_tid);
  const std::optional<awd_gil_state> gil = ReadGil();
  const bool gil_wait = gil && LoopWaitsForGil(loop_tid, *gil);
  const bool gc_running = loop_tid != 0 && CollectingThread() == loop_tid;
  const SchedSnapshot window_start = std::exchange(last_sample_sched_, before_signal);
  CaptureRequest request;
  request.first = loop_tid;
  request.answer_timeout_ns = options_.answer_timeout_ns;
  request.native = options_.native_stacks;
  request.max_threads = static_cast<size_t>(options_.max_threads);
  const CaptureResult captures = CaptureAllThreads(request);
  // When the stacks began to be read (the thread listing before it can take
  // a while on a loaded machine); the capture's clock unless none was.
  const int64_t captured_unix_ns =
      captures.started_unix_ns != 0 ? captures.started_unix_ns : UnixNowNs();
  // A transition meanwhile means the loop had recovered by the time its
  // stack was read: such a sample shows the loop moving on, not the hang.
  if (LoadState() != before) {
    ++current_.discarded_samples;
    return;
  }

  SampleReport header;
  header.episode_id = current_.episode_id;
  header.sample_index = decision.sample_index;
  header.samples = options_.samples;
  std::tie(header.blocked_s, header.blocked_min_s) = BlockedSpan(decision.blocked_ns);
  header.interval_s = options_.interval_ns / 1e9;
  header.sample_interval_s = options_.sample_interval_ns / 1e9;
  header.pid = getpid();
  header.python_version = options_.python_version;
  header.captured_unix_ns = captured_unix_ns;
  header.captured_local = LocalIsoTime(captured_unix_ns);
  header.suppressed_episodes = suppressed_since_report_;
  SampleReport report = BuildSample(std::move(header), captures, loop_tid,
                                    options_.native_stacks, sources_, symbolizer_);
  report.loop_activity =
      ClassifySample(report, window_start, before_signal, last_pause_ns_, gc_running, gil_wait);
  // Waiting for the GIL (seen in its futex, or in take_gil's frames while it
  // woke to ask again): the thread holding it is named.
  const pid_t gil_holder = report.loop_activity->state == "gil" && gil &&
                                   HeldByAnother(*gil, loop_tid)
                               ? gil->holder_tid
                               : 0;
  const ThreadReport* holder = nullptr;
  for (ThreadReport& t : report.threads) {
    if (gil_holder > 0 && t.native_id == gil_holder && !t.is_loop) {
      t.holds_gil = true;
      report.loop_activity->gil_holder = gil_holder;
      holder = &t;
    }
  }
  last_pause_ns_ = static_cast<int64_t>(report.loop_pause_ms * 1e6);
  episode_pause_ns_ += last_pause_ns_;

  if (decision.sample_index == 0) {
    for (const ThreadReport& t : report.threads) {
      if (!t.is_loop) continue;
      current_.loop_frames = WarningFrames(t.frames);
      current_.loop_stack = t.frames;
    }
    current_.task = report.task;
    current_.activity = report.loop_activity;
    if (holder != nullptr) {
      current_.gil_holder_name = holder->name;
      current_.gil_holder_frames = WarningFrames(holder->frames);
      current_.gil_holder_stack = holder->frames;
    }
    current_.sampled_ns = MonotonicNowNs();
    profile_sample0_unix_ns_ = captured_unix_ns;
    for (const ThreadReport& t : report.threads) {
      if (t.is_loop) profile_loop_name_ = t.name;
    }
  }
  if (options_.write_reports) WriteSample(report);
}

// Watchdog thread: the report directory's descriptor, opened again (and so
// made again, and checked again) when the directory was removed.
absl::StatusOr<int> Watchdog::ReportDirFd() {
  if (dir_fd_ >= 0 && !DirectoryRemoved(dir_fd_)) return dir_fd_;
  absl::StatusOr<int> fd =
      OpenReportDirectory(options_.output_dir, static_cast<mode_t>(options_.dir_mode));
  if (!fd.ok()) return fd.status();
  if (dir_fd_ >= 0) close(dir_fd_);
  dir_fd_ = *fd;
  return dir_fd_;
}

// Watchdog thread, mu_ not held.
void Watchdog::WriteSample(const SampleReport& report) {
  const absl::StatusOr<int> dir = ReportDirFd();
  const int dir_fd = dir.ok() ? *dir : -1;
  absl::StatusOr<WrittenReport> written =
      dir.ok() ? WriteReportFiles(dir_fd, options_.output_dir, report,
                                  static_cast<mode_t>(options_.file_mode))
               : absl::StatusOr<WrittenReport>(dir.status());
  if (!written.ok()) {
    ++current_.reports_not_written;
    ++reports_lost_;
    if (!write_failing_) current_.write_error = std::string(written.status().message());
    write_failing_ = true;
    return;
  }
  current_.report_paths.push_back(written->text_path);
  suppressed_since_report_ = 0;
  if (write_failing_) {
    current_.reports_lost_before = reports_lost_;
    write_failing_ = false;
    reports_lost_ = 0;
  }
  PruneReports(dir_fd, RetentionLimits{options_.max_reports, options_.max_bytes});
}

// Watchdog thread, mu_ not held: one profile sample, the loop's thread only.
void Watchdog::TakeProfileSample() {
  if (!profiling_episode_) return;
  const pid_t loop_tid = loop_tid_.load();
  const LoopState before = LoadState();
  CaptureRequest request;
  request.first = loop_tid;
  request.answer_timeout_ns = options_.answer_timeout_ns;
  request.native = options_.native_stacks;
  request.max_threads = 1;
  const CaptureResult captures = CaptureAllThreads(request);
  if (LoadState() != before) {  // the loop moved: not the hang any more
    profile_.Discard();
    return;
  }
  SampleReport header;
  const SampleReport sample = BuildSample(std::move(header), captures, loop_tid,
                                          options_.native_stacks, sources_, symbolizer_);
  for (const ThreadReport& t : sample.threads) {
    if (t.is_loop && t.status == "answered") {
      profile_.Add(t.frames);
      return;
    }
  }
  profile_.Discard();  // the loop's thread did not answer
}

// Watchdog thread, mu_ not held.
void Watchdog::WritePendingProfile() {
  if (pending_profile_.empty()) return;
  const std::string name = std::exchange(pending_profile_name_, std::string());
  const std::string content = std::exchange(pending_profile_, std::string());
  const absl::StatusOr<int> dir = ReportDirFd();
  if (dir.ok() && WriteFileAtomically(*dir, options_.output_dir, name, content,
                                      static_cast<mode_t>(options_.file_mode)).ok()) {
    PruneReports(*dir, RetentionLimits{options_.max_reports, options_.max_bytes});
  }
}

std::pair<double, double> Watchdog::BlockedSpan(int64_t blocked_ns) const {
  const int64_t late_ns = stamp_uncertainty_ns_.load();
  const int64_t most_ns = blocked_ns + episode_gil_extra_ns_;
  if (late_ns <= 0 && episode_gil_extra_ns_ <= 0) return {most_ns / 1e9, -1};
  return {most_ns / 1e9, std::max<int64_t>(0, blocked_ns - std::max<int64_t>(0, late_ns)) / 1e9};
}

// Watchdog thread, mu_ not held. Whether the loop's thread waits for the GIL
// `gil`: seen in its futex (ReadCallOfGilWaiter), or found starved by the
// looks at an idle loop and the GIL still held by another.
bool Watchdog::LoopWaitsForGil(pid_t loop_tid, const awd_gil_state& gil) {
  if (!HeldByAnother(gil, loop_tid)) return false;
  if (gil_starvation_.starved()) return true;
  const std::optional<ThreadSyscall> call = ReadCallOfGilWaiter(ReadThreadSyscall, loop_tid, gil);
  return call && IsGilWait(*call, gil);
}

// Watchdog thread, mu_ held.
void Watchdog::EndEpisode(int64_t blocked_ns, bool recovered) {
  in_episode_.store(false, std::memory_order_seq_cst);
  const int64_t recovered_at_ns = recovered_at_ns_.exchange(0, std::memory_order_acquire);
  const int64_t recovered_cpu_ns = recovered_cpu_ns_.load(std::memory_order_relaxed);
  if (std::exchange(current_suppressed_, false)) {
    current_ = FinishedEpisode{};  // counted, told with the next one reported
    return;
  }
  // Time the loop's thread spent in allowed sections entered during the
  // episode is not blocked time (sections before it moved its start).
  const int64_t allowed_ns = ReadAllowedSection(loop_tid_.load()).total_ns - allowed_ns_at_start_;
  const int64_t not_allowed_ns = std::max<int64_t>(0, blocked_ns - allowed_ns);
  std::tie(current_.blocked_s, current_.blocked_min_s) = BlockedSpan(not_allowed_ns);
  current_.recovered = recovered;
  // Sample 0 named the files; without it (discarded: the loop had already
  // moved) the episode has no report for the profile to sit beside.
  if (std::exchange(profiling_episode_, false) && profile_sample0_unix_ns_ != 0) {
    ProfileHeader header;
    header.episode_id = current_.episode_id;
    header.pid = getpid();
    header.python_version = options_.python_version;
    header.profile_hz = options_.profile_hz;
    header.interval_s = options_.interval_ns / 1e9;
    header.started_unix_ns = profile_sample0_unix_ns_;
    header.blocked_s = current_.blocked_s;
    header.recovered = recovered;
    header.loop_native_id = loop_tid_.load();
    header.loop_thread_name = profile_loop_name_;
    pending_profile_name_ = ProfileFileName(profile_sample0_unix_ns_);
    pending_profile_ = profile_.RenderJson(header);
  }
  if (current_.activity) {
    SchedSnapshot end = ReadSchedSnapshot(loop_tid_.load());
    if (recovered_at_ns > episode_start_sched_.at_ns && recovered_at_ns < end.at_ns) {
      // The episode ended when the loop moved, not now (the Touch above).
      end.at_ns = recovered_at_ns;
      if (end.cpu_ns) end.cpu_ns = recovered_cpu_ns >= 0 ? std::optional<int64_t>(recovered_cpu_ns)
                                                         : std::nullopt;
    }
    ReviseOverEpisode(WindowBetween(episode_start_sched_, end, episode_pause_ns_),
                      *current_.activity);
  }
  finished_.push_back(std::exchange(current_, FinishedEpisode{}));
  has_finished_.store(true, std::memory_order_release);
}

}  // namespace aiowatchdog
