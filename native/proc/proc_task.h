// What the kernel says about one thread of this process, read from
// /proc/self/task/<tid>/: scheduler state, name, whether it blocks a signal,
// where it waits, its scheduler counters and the system call it is in. Used
// for every sampled thread (state), to cut the wait on a thread that blocks
// the signal, for threads that cannot answer, and to tell what the loop's
// thread was doing (loop_activity.h). Not for signal context (it opens files).
#ifndef AIOWATCHDOG_PROC_TASK_H_
#define AIOWATCHDOG_PROC_TASK_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aiowatchdog {

// Not `TaskInfo`: report_model.h has one (the loop's asyncio task), and two
// classes of one name in one namespace break the one-definition rule.
struct KernelTaskInfo {
  char state = '?';     // R running, S sleeping, D disk wait, ... ('?' unknown)
  std::string comm;     // the kernel's thread name ("python" unless set)
  // When the thread started, in clock ticks after boot (field 22); -1 when
  // not read. With the tid, it tells one thread from a later one that got
  // its tid again.
  int64_t start_ticks = -1;
};

// From .../stat. Nothing when the thread is gone or /proc cannot be read.
std::optional<KernelTaskInfo> ReadTaskInfo(pid_t tid);

// The SigBlk mask from .../status (bit signo - 1), or nothing.
std::optional<uint64_t> ReadBlockedSignals(pid_t tid);

// Where in the kernel the thread waits, from .../wchan ("" when running,
// hidden or unknown).
std::string ReadWaitChannel(pid_t tid);

// Every thread id of this process, in /proc order.
std::vector<pid_t> ListTaskIds();

// The three counters of .../schedstat, in ns except the last. The kernel
// brings them up to date only at scheduler events (a tick, a switch), so
// cpu_ns lags by up to a tick for a thread running right now (measured: a
// spinning thread read from another CPU gained 9 us of it over 575 us), and
// a wait on a run queue is added to runqueue_ns only once it ends.
struct SchedStat {
  int64_t cpu_ns = 0;       // time on a CPU
  int64_t runqueue_ns = 0;  // time runnable but waiting for a CPU
  int64_t timeslices = 0;   // times put on a CPU
};

// "<cpu ns> <run queue ns> <timeslices>\n"; nothing when malformed.
std::optional<SchedStat> ParseSchedStat(std::string_view text);
std::optional<SchedStat> ReadSchedStat(pid_t tid);

// The system call .../syscall says the thread is blocked in: its number, or
// kNotInSyscall for a thread blocked outside any (e.g. in a page fault).
// Nothing for "running" (the kernel does not say), or when unreadable.
inline constexpr int64_t kNotInSyscall = -1;
std::optional<int64_t> ParseSyscallNumber(std::string_view text);
std::optional<int64_t> ReadSyscallNumber(pid_t tid);

// The thread's CPU time from its CPU-time clock (clock_gettime), which,
// unlike schedstat, counts the current time slice of a thread running now.
// Threads of this process only; nothing when the thread is gone.
std::optional<int64_t> ReadThreadCpuNs(pid_t tid);

// All of the above that tells what a thread is doing, read at one moment.
struct SchedSnapshot {
  int64_t at_ns = 0;                // CLOCK_MONOTONIC, next to cpu_ns
  char state = '?';                 // from .../stat; '?' unknown
  std::optional<int64_t> syscall;   // ReadSyscallNumber
  std::optional<int64_t> cpu_ns;    // ReadThreadCpuNs
  std::optional<SchedStat> sched;   // ReadSchedStat
};

// State and system call first (what the thread is doing now), then the
// clock and its CPU time side by side, then the counters. Unreadable parts
// stay unknown; never fails.
SchedSnapshot ReadSchedSnapshot(pid_t tid);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_PROC_TASK_H_
