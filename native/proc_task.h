// What the kernel says about one thread of this process, read from
// /proc/self/task/<tid>/: scheduler state, name, and whether it blocks a
// signal. Used for threads that cannot answer the capture signal, and to skip
// the wait on a thread that blocks it. Not for signal context (it opens files).
#ifndef AIOWATCHDOG_PROC_TASK_H_
#define AIOWATCHDOG_PROC_TASK_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace aiowatchdog {

struct TaskInfo {
  char state = '?';     // R running, S sleeping, D disk wait, ... ('?' unknown)
  std::string comm;     // the kernel's thread name ("python" unless set)
  uint64_t blocked_signals = 0;  // SigBlk bit mask, bit (signo - 1)
};

// Returns nothing when the thread is gone or /proc cannot be read.
std::optional<TaskInfo> ReadTaskInfo(pid_t tid);

// Every thread id of this process, in /proc order.
std::vector<pid_t> ListTaskIds();

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_PROC_TASK_H_
