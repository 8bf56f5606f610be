// Capture: interrupt each thread of the process with a real-time signal and
// let the thread record its own stack, inside our handler, into one static
// preallocated slot; then copy the slot out on the watchdog thread.
//
// Why this shape: reading another thread's frames while it runs crashes under
// thread churn (its frames are freed under the reader); a thread interrupted in its own
// handler cannot free its own frames. Threads are sampled one at a time, so one
// slot serves the whole process; a mutex (never taken in the handler)
// serializes captures from several watchdogs.
//
// The hand-off per thread: the watchdog writes a fresh token and state
// kRequested, sends the signal carrying the token in si_value, and waits on the
// state word (a futex) up to the answer timeout. The handler claims the slot
// with a compare-and-swap kRequested -> kWriting only if the token matches, so
// a late answer to an abandoned request is dropped, never half-written over a
// newer one. Native program counters go into the same slot.
#ifndef AIOWATCHDOG_CAPTURE_H_
#define AIOWATCHDOG_CAPTURE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "capture/native_stack.h"
#include "model/py_stack.h"

namespace aiowatchdog {

struct RawPyFrame {
  std::string file;
  std::string function;
  int32_t line = -1;
  bool is_coroutine = false;
  bool is_entry = false;  // see awd_py_frame.is_entry
  uint64_t coroutine = 0; // see awd_py_frame.coroutine
  uint64_t entry_frame = 0;  // see awd_py_frame.entry_frame
};

struct RawThreadCapture {
  enum class Outcome {
    kAnswered,        // the thread recorded its own stack
    kSignalsBlocked,  // the thread blocks our signal; nothing was sent
    kNoAnswer,        // signalled, but no answer within the timeout
    kGone,            // the thread exited before it could be signalled
  };
  pid_t tid = 0;
  Outcome outcome = Outcome::kNoAnswer;
  bool has_python = false;
  uint64_t ident = 0;       // threading.get_ident(), when has_python
  bool truncated = false;   // frames hold only the innermost AWD_MAX_PY_FRAMES
  std::vector<RawPyFrame> frames;  // innermost first
  std::vector<uintptr_t> native_pcs;  // innermost first; empty if not asked for
  std::vector<uintptr_t> native_cfas; // NativeStack::cfas, one per native_pcs
  bool native_truncated = false;      // deeper than kMaxNativeFrames
  int64_t pause_ns = 0;               // time the thread spent in our handler
  char kernel_state = '?';  // from /proc, for threads that did not answer
  std::string comm;         // kernel thread name
  std::string wchan;        // kernel wait channel, for threads that did not answer
  // How the stack was read (remote_capture.h): "outside: <syscall>" (no
  // signal; blocked in that call), "signal", or "signal: <why not from
  // outside>"; "" when reads from outside are off.
  std::string captured_by;
};

// Installs the process-wide handler for `signo` (SA_SIGINFO | SA_RESTART |
// SA_ONSTACK), remembering the previous one to chain foreign signals to, and
// the walker that records Python frames. Idempotent for the same signal (and
// re-installs ours if it was replaced); a different signal than the one
// installed is an error (one per process). The handler stays installed for
// the life of the process: a late answer to an abandoned request must never
// meet the default action (terminate).
//
// A handler the application installs for `signo` later (signal.signal,
// sigaction, SIG_DFL, SIG_IGN) is found before the next signal we send: ours
// is re-installed on top, and foreign signals are passed on to the newcomer
// from then on, as to the one we replaced at first.
absl::Status InstallCaptureHandler(int signo, awd_py_walker walker);

// The installed signal, or 0.
int InstalledCaptureSignal();

// How many times our handler was found replaced and re-installed.
int64_t CaptureHandlerReinstalls();

// Threads that must never be signalled (our own watchdog threads, which block
// every signal). Thread-safe.
void AddThreadToSkip(pid_t tid);
void RemoveThreadToSkip(pid_t tid);

struct CaptureRequest {
  pid_t first = 0;                   // sampled first (the loop's thread) when > 0
  int64_t answer_timeout_ns = 50'000'000;
  bool native = true;                // also record native program counters
  size_t max_threads = 1024;         // threads past this are not sampled
};

struct CaptureResult {
  std::vector<RawThreadCapture> threads;
  // Wall clock as the first thread was signalled: with duration_ns, the
  // span in which every stack of the capture was read (0: nothing sampled).
  int64_t started_unix_ns = 0;
  int64_t duration_ns = 0;           // the whole capture, all threads
  int32_t threads_not_sampled = 0;   // past max_threads
};

// In a forked child: the capture lock and slot may have been in use by the
// parent's watchdog thread at the fork; they are reset (with the thread-name
// registry), and the skip list (parent threads) emptied. Registered with pthread_atfork by the handler's
// installation.
void ResetCaptureAfterFork();

// Exec fencing. A signal still queued for a thread when it calls execve
// survives the exec (pending signals and the mask are kept) and meets the
// default action of our real-time signal in the new program: it dies before
// its first line. FenceThisThreadForExec, called right before execve on the
// calling thread: (1) adds the thread to the skip list, so no later capture
// signals it; (2) takes and releases the capture lock, so that a capture that
// listed the thread before (1) is over, its signals answered or withdrawn;
// (3) with the signal blocked, takes every signal of ours still queued for
// the thread off the queue (sigtimedwait, no wait) and puts foreign ones back
// (rt_tgsigqueueinfo to itself), then restores the mask. A capture that
// listed the thread before (1) but took the lock after (2) skips it: the
// skip list is looked at again under the lock, before each send. The caller must
// UnfenceThisThread if the exec fails. C code calling execve directly is not
// fenced (see docs/limitations.md). Never in a signal handler.
void FenceThisThreadForExec();
void UnfenceThisThread();

// Samples every thread of the process except skipped ones and the caller, one
// at a time. Requires InstallCaptureHandler. Never call from a signal handler.
CaptureResult CaptureAllThreads(const CaptureRequest& request);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_CAPTURE_H_
