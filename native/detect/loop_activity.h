// Why the loop was blocked: what its thread was doing during the hang, decided
// from what the kernel said about it just before the capture signal was sent
// (state, system call), what the capture found on its stack, and how it spent
// a window of time before the capture (on a CPU, waiting on a run queue).
// Pure functions; the watchdog reads /proc (proc_task.h) and calls them.
//
// The rules, in order:
//   "gil"      the thread waits for another thread to release the GIL: it
//              is in a futex wait inside the GIL's struct (gil_wait.h), or
//              its native frames include a function that acquires the GIL
//              (take_gil, PyEval_RestoreThread, ...; kGilAcquireFunctions).
//   "unknown"  the kernel state could not be read, or the thread was exiting
//              (Z, X).
//   "syscall"  any other state but R (S sleeping, D uninterruptible, T
//              stopped, ...): blocked in the kernel, in the system call that
//              /proc/<tid>/syscall names ("" when it names none: a page
//              fault, a stop, or a reading taken as the thread woke up).
//   "starved"  state R (runnable) and, over the window, a larger share of the
//              time spent waiting on a run queue than running on a CPU.
//   "on-cpu"   state R otherwise (shares unknown included).
// gc_running is told, not decided: the collector's own callback says which
// thread it runs on (gc_phase.h).
//
// The windows the shares are taken over: sample 0's ends at the reading just
// before the capture signal and begins ActivityWindowNs() earlier, the
// watchdog asleep in between; sample k > 0's begins at sample k-1's reading
// before its signal; the episode's (the recovery WARNING, BlockInfo) runs
// from sample 0's window start to the end of the hang. Sample 0's window
// holds no capture on purpose: measured on a loaded 2-core machine, a window
// reaching past the capture measured mostly the watchdog thread itself,
// woken onto the loop's CPU by the answer and preempting it (a CPU-bound loop
// read "starved" in 11 of 12 samples). The later windows hold the previous
// capture: the loop thread's time in our handler (its pause) is CPU time
// the capture caused, and is taken off both the CPU time and the wall time.
// What is left of a capture's cost (the kernel delivering the signal, a
// system call restarted, the GIL taken again) stays in: a few tens of
// microseconds per sample. Short windows give coarse shares.
#ifndef AIOWATCHDOG_LOOP_ACTIVITY_H_
#define AIOWATCHDOG_LOOP_ACTIVITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proc/proc_task.h"
#include "model/report_model.h"

namespace aiowatchdog {

// How a thread spent a window of time, in ns; -1 unknown.
struct SchedWindow {
  int64_t wall_ns = -1;
  int64_t cpu_ns = -1;
  int64_t runqueue_ns = -1;
};

// The window between two snapshots of one thread, less `excluded_cpu_ns` of
// CPU time spent on our behalf (see above). CPU time comes from the thread's
// CPU clock, run-queue time from schedstat, clamped to the time the thread
// was off a CPU. schedstat adds a wait only when it ends, so a thread that
// was runnable (R) at both ends and never put on a CPU in between is taken
// to have waited on a run queue for all of its time off a CPU: it cannot
// have slept without running first. (What this misses: a thread that ran,
// slept, woke and then waited without running again within the window.)
SchedWindow WindowBetween(const SchedSnapshot& from, const SchedSnapshot& to,
                          int64_t excluded_cpu_ns = 0);

// cpu_share and runqueue_share of `activity` over `window` (-1 when unknown).
void SetShares(const SchedWindow& window, LoopActivity& activity);

// `activity` (sample 0's) told over the whole episode: its shares over
// `episode`, and "on-cpu" or "starved" decided again by them. A sample's
// window is short enough that a thread sharing its CPU is often found all on
// it or all off it (measured: a CPU-bound loop sharing 2 CPUs with 2 busy
// processes had 47-77% of a CPU over its episodes, 0% or over 50% in each
// 2.5 ms window); the episode's window is the better witness.
void ReviseOverEpisode(const SchedWindow& episode, LoopActivity& activity);

// A native frame's function as the report writes it ("take_gil + 0x3f",
// "take_gil.constprop.0") is one of the GIL-acquire functions of CPython
// 3.9-3.13.
bool IsGilAcquireFunction(std::string_view function);

// Any native frame of `frames` is in a GIL-acquire function.
bool WaitsForGil(const std::vector<Frame>& frames);

// The name of an x86-64 system call ("futex"), or "#<number>" for one not in
// our short table (and for every number on other architectures).
std::string SyscallName(int64_t number);

// How long sample 0's window lasts for a watchdog of this interval: a
// twentieth of it, within [0.5 ms, 5 ms]. Sample 0 is taken that much later.
int64_t ActivityWindowNs(int64_t interval_ns);

// What the classifier is told about one sample.
struct ActivityEvidence {
  char state = '?';                 // kernel state just before the signal
  bool waits_for_gil = false;       // WaitsForGil(the thread's frames)
  std::optional<int64_t> syscall;   // the system call just before the signal
  SchedWindow window;
  bool gc_running = false;
};

LoopActivity ClassifyLoopActivity(const ActivityEvidence& evidence);

// The loop's activity in a built sample (the frames of its loop thread),
// from two snapshots of that thread: where the sample's window begins and
// just before the capture signal; `excluded_cpu_ns`: our handler's time in
// the window (the previous sample's pause); `gil_wait`: the thread was seen
// in a futex wait on the GIL just before the capture (gil_wait.h IsGilWait).
LoopActivity ClassifySample(const SampleReport& report, const SchedSnapshot& window_start,
                            const SchedSnapshot& before_signal, int64_t excluded_cpu_ns,
                            bool gc_running, bool gil_wait = false);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_LOOP_ACTIVITY_H_
