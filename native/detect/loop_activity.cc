// See loop_activity.h.
#include "detect/loop_activity.h"

#include <sys/syscall.h>

#include <algorithm>
#include <utility>

namespace aiowatchdog {
namespace {

// Functions a thread is inside while it waits for the GIL, on CPython
// 3.9-3.13: take_gil does the waiting; the others call it and show when it
// was inlined into them (3.13 reaches it through _PyThreadState_Attach).
constexpr std::string_view kGilAcquireFunctions[] = {
    "take_gil",           "PyEval_RestoreThread", "PyEval_AcquireThread",
    "PyEval_AcquireLock", "PyGILState_Ensure",    "_PyThreadState_Attach",
};

// The system calls a blocked event loop is usually found in. Numbers from
// <sys/syscall.h> of x86-64; elsewhere every call is shown by number.
struct SyscallEntry {
  int64_t number;
  std::string_view name;
};
#if defined(__x86_64__)
constexpr SyscallEntry kSyscalls[] = {
    {SYS_read, "read"},
    {SYS_write, "write"},
    {SYS_open, "open"},
    {SYS_close, "close"},
    {SYS_stat, "stat"},
    {SYS_fstat, "fstat"},
    {SYS_poll, "poll"},
    {SYS_mmap, "mmap"},
    {SYS_munmap, "munmap"},
    {SYS_ioctl, "ioctl"},
    {SYS_pread64, "pread64"},
    {SYS_pwrite64, "pwrite64"},
    {SYS_readv, "readv"},
    {SYS_writev, "writev"},
    {SYS_select, "select"},
    {SYS_msync, "msync"},
    {SYS_pause, "pause"},
    {SYS_nanosleep, "nanosleep"},
    {SYS_sendfile, "sendfile"},
    {SYS_connect, "connect"},
    {SYS_accept, "accept"},
    {SYS_sendto, "sendto"},
    {SYS_recvfrom, "recvfrom"},
    {SYS_sendmsg, "sendmsg"},
    {SYS_recvmsg, "recvmsg"},
    {SYS_wait4, "wait4"},
    {SYS_flock, "flock"},
    {SYS_fsync, "fsync"},
    {SYS_fdatasync, "fdatasync"},
    {SYS_rename, "rename"},
    {SYS_unlink, "unlink"},
    {SYS_rt_sigtimedwait, "rt_sigtimedwait"},
    {SYS_rt_sigsuspend, "rt_sigsuspend"},
    {SYS_sync, "sync"},
    {SYS_futex, "futex"},
    {SYS_io_getevents, "io_getevents"},
    {SYS_getdents64, "getdents64"},
    {SYS_semtimedop, "semtimedop"},
    {SYS_clock_nanosleep, "clock_nanosleep"},
    {SYS_epoll_wait, "epoll_wait"},
    {SYS_waitid, "waitid"},
    {SYS_openat, "openat"},
    {SYS_newfstatat, "newfstatat"},
    {SYS_unlinkat, "unlinkat"},
    {SYS_pselect6, "pselect6"},
    {SYS_ppoll, "ppoll"},
    {SYS_epoll_pwait, "epoll_pwait"},
    {SYS_accept4, "accept4"},
    {SYS_recvmmsg, "recvmmsg"},
    {SYS_sendmmsg, "sendmmsg"},
    {SYS_getrandom, "getrandom"},
    {SYS_copy_file_range, "copy_file_range"},
    {SYS_statx, "statx"},
    {SYS_io_uring_enter, "io_uring_enter"},
    {441, "epoll_pwait2"},  // not in every <sys/syscall.h> yet
    {449, "futex_waitv"},
};
#else
constexpr SyscallEntry kSyscalls[] = {{-2, ""}};  // no names: numbers only
#endif

double Share(int64_t part_ns, int64_t wall_ns) {
  return part_ns < 0 || wall_ns <= 0 ? -1 : static_cast<double>(part_ns) / wall_ns;
}

}  // namespace

SchedWindow WindowBetween(const SchedSnapshot& from, const SchedSnapshot& to,
                          int64_t excluded_cpu_ns) {
  SchedWindow window;
  const int64_t wall = to.at_ns - from.at_ns;
  if (from.at_ns <= 0 || wall <= 0) return window;
  int64_t excluded = std::clamp<int64_t>(excluded_cpu_ns, 0, wall - 1);
  if (from.cpu_ns && to.cpu_ns && *to.cpu_ns >= *from.cpu_ns) {
    const int64_t cpu = *to.cpu_ns - *from.cpu_ns;
    excluded = std::min(excluded, cpu);
    window.cpu_ns = std::min(cpu - excluded, wall - excluded);
  } else {
    excluded = 0;  // nothing to take it off
  }
  window.wall_ns = wall - excluded;
  const int64_t off_cpu = window.cpu_ns < 0 ? window.wall_ns : window.wall_ns - window.cpu_ns;
  if (from.sched && to.sched && to.sched->runqueue_ns >= from.sched->runqueue_ns) {
    int64_t waited = to.sched->runqueue_ns - from.sched->runqueue_ns;
    const bool never_put_on_cpu = to.sched->timeslices == from.sched->timeslices;
    if (from.state == 'R' && to.state == 'R' && never_put_on_cpu && window.cpu_ns >= 0) {
      waited = off_cpu;  // a wait still going on: not in schedstat yet
    }
    window.runqueue_ns = std::clamp<int64_t>(waited, 0, off_cpu);  // not before the window
  }
  return window;
}

void SetShares(const SchedWindow& window, LoopActivity& activity) {
  activity.cpu_share = Share(window.cpu_ns, window.wall_ns);
  activity.runqueue_share = Share(window.runqueue_ns, window.wall_ns);
}

void ReviseOverEpisode(const SchedWindow& episode, LoopActivity& activity) {
  SetShares(episode, activity);
  if ((activity.state == "on-cpu" || activity.state == "starved") && activity.cpu_share >= 0 &&
      activity.runqueue_share >= 0) {
    activity.state = activity.runqueue_share > activity.cpu_share ? "starved" : "on-cpu";
  }
}

bool IsGilAcquireFunction(std::string_view function) {
  const std::string_view name = function.substr(0, function.find(" + "));
  for (std::string_view gil : kGilAcquireFunctions) {
    // GCC names its clones "<name>.constprop.0", "<name>.lto_priv.0", ...
    if (name.substr(0, gil.size()) == gil && (name.size() == gil.size() || name[gil.size()] == '.')) {
      return true;
    }
  }
  return false;
}

bool WaitsForGil(const std::vector<Frame>& frames) {
  return std::any_of(frames.begin(), frames.end(), [](const Frame& f) {
    return f.kind == "native" && IsGilAcquireFunction(f.function);
  });
}

std::string SyscallName(int64_t number) {
  for (const SyscallEntry& entry : kSyscalls) {
    if (entry.number == number) return std::string(entry.name);
  }
  return "#" + std::to_string(number);
}

LoopActivity ClassifyLoopActivity(const ActivityEvidence& evidence) {
  LoopActivity activity;
  activity.gc_running = evidence.gc_running;
  SetShares(evidence.window, activity);
  const char state = evidence.state;
  if (evidence.waits_for_gil) {
    activity.state = "gil";
  } else if (state == '?' || state == 'Z' || state == 'X') {
    activity.state = "unknown";
  } else if (state != 'R') {
    activity.state = "syscall";
    if (evidence.syscall && *evidence.syscall >= 0) activity.syscall = SyscallName(*evidence.syscall);
  } else if (activity.cpu_share >= 0 && activity.runqueue_share > activity.cpu_share) {
    activity.state = "starved";
  } else {
    activity.state = "on-cpu";
  }
  return activity;
}

int64_t ActivityWindowNs(int64_t interval_ns) {
  return std::clamp<int64_t>(interval_ns / 20, 500'000, 5'000'000);
}

LoopActivity ClassifySample(const SampleReport& report, const SchedSnapshot& window_start,
                            const SchedSnapshot& before_signal, int64_t excluded_cpu_ns,
                            bool gc_running, bool gil_wait) {
  ActivityEvidence evidence;
  evidence.state = before_signal.state;
  evidence.syscall = before_signal.syscall;
  evidence.gc_running = gc_running;
  for (const ThreadReport& thread : report.threads) {
    if (thread.is_loop) evidence.waits_for_gil = gil_wait || WaitsForGil(thread.frames);
  }
  evidence.window = WindowBetween(window_start, before_signal, excluded_cpu_ns);
  return ClassifyLoopActivity(evidence);
}

}  // namespace aiowatchdog
