// What the kernel says about one thread of this process, read from
// /proc/self/task/<tid>/: scheduler state, name, whether it blocks a signal,
// where it waits. Used for every sampled thread (state), to cut the wait on a
// thread that blocks the signal, and for threads that cannot answer. Not for
// signal context (it opens files).
#ifndef AIOWATCHDOG_PROC_TASK_H_
#define AIOWATCHDOG_PROC_TASK_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aiowatchdog {

// Not `TaskInfo`: report_model.h has one (the loop's asyncio task), and two
// classes of one name in one namespace break the one-definition rule.
struct KernelTaskInfo {
  char state = '?';     // R running, S sleeping, D disk wait, ... ('?' unknown)
  std::string comm;     // the kernel's thread name ("python" unless set)
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

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_PROC_TASK_H_
