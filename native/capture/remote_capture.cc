// See remote_capture.h.
#include "capture/remote_capture.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "capture/dwfl_guard.h"
#include "detect/loop_activity.h"
#include "proc/proc_task.h"
#include "proc/remote_memory.h"
#include "capture/remote_unwind.h"
#include "proc/thread_syscall.h"

namespace aiowatchdog {
namespace {

std::atomic<int (*)(void)> g_note_threads{nullptr};
std::atomic<int (*)(pid_t, awd_py_stack*)> g_walk_thread{nullptr};
std::atomic<bool> g_enabled{true};
bool g_capture_usable = false;  // BeginRemoteCapture's answer for this capture
bool g_renoted = false;         // the thread list noted again in this capture

// One of each for the process: captures are serialized (capture.cc's lock).
// Plain pointers, not function-local statics: a forked child drops them
// (ResetRemoteCaptureAfterFork), since the parent's watchdog may have been
// inside them at the fork, and makes new ones on first use.
RemoteUnwinder* g_unwinder = nullptr;

RemoteUnwinder& Unwinder() {
  if (g_unwinder == nullptr) g_unwinder = new RemoteUnwinder();
  return *g_unwinder;
}

// Each thread's last reading blocked in a system call, with its time-slice
// count then. A thread that reads "running" but has not had a time slice
// since was woken in the kernel (its wait ended: a timeout, data, a futex
// wake) and waits for a CPU: it has not run a single instruction since, so
// its stack is what that reading saw, and a signal now would still cut its
// call short (the kernel looks for pending signals on the way out: select,
// poll and nanosleep then return EINTR). Such a thread is read from outside
// with the registers of that reading. And a thread read from outside that
// has had no time slice since has not run since: its stack is what that read
// found, which is shown again without reading it again (most threads of a
// big process sit in the same wait from one sample to the next). A thread is
// told from a later one given its tid again by its start time. Entries of
// threads no capture saw last time are dropped. Guarded by the capture's lock.
struct LastBlocked {
  ThreadSyscall syscall;
  SchedStat sched;  // time slices, and CPU time (a second witness: a kernel
                    // with scheduler statistics off reads "0 0 0")
  int64_t start_ticks = -1;
  uint64_t seen = 0;                              // the capture that last saw it
  std::shared_ptr<const RawThreadCapture> read;  // its last read from outside
  bool read_native = false;                      // with its native frames
};
constexpr size_t kMaxRemembered = 65536;
uint64_t g_capture_seq = 0;  // BeginRemoteCapture's count

absl::flat_hash_map<pid_t, LastBlocked>* g_remembered = nullptr;

absl::flat_hash_map<pid_t, LastBlocked>& Remembered() {
  if (g_remembered == nullptr) g_remembered = new absl::flat_hash_map<pid_t, LastBlocked>();
  return *g_remembered;
}

// In a forked child (pthread_atfork): only plain stores. What the parent's
// threads may have left half-changed is abandoned (leaked), not freed.
void ResetRemoteCaptureAfterFork() {
  g_unwinder = nullptr;
  g_remembered = nullptr;
}

// The watchdog thread's buffers for one thread read from outside (captures
// are serialized). Static storage, not function-local statics made on first
// use: a fork while another thread held such a static's initialization guard
// would leave the child's first capture waiting on it for ever.
awd_py_stack g_stack_buffer;
NativeStack g_native_buffer;
awd_py_stack& StackBuffer() { return g_stack_buffer; }
NativeStack& NativeBuffer() { return g_native_buffer; }

void CopyPythonFrames(const awd_py_stack& stack, RawThreadCapture* out) {
  out->has_python = stack.has_python != 0;
  out->ident = stack.thread_ident;
  out->truncated = stack.truncated != 0;
  const int depth = std::clamp<int>(stack.depth, 0, AWD_MAX_PY_FRAMES);
  out->frames.reserve(depth);
  for (int i = 0; i < depth; ++i) {
    const awd_py_frame& f = stack.frames[i];
    out->frames.push_back(RawPyFrame{std::string(f.file, strnlen(f.file, AWD_FILE_MAX)),
                                     std::string(f.func, strnlen(f.func, AWD_FUNC_MAX)), f.line,
                                     f.is_coroutine != 0, f.is_entry != 0, f.coroutine,
                                     f.entry_frame});
  }
}

}  // namespace

void SetRemotePythonWalker(awd_py_remote_walker walker) {
  static std::atomic<bool> fork_handler{false};
  if (!fork_handler.exchange(true)) pthread_atfork(nullptr, nullptr, ResetRemoteCaptureAfterFork);
  g_note_threads.store(walker.note_threads);
  g_walk_thread.store(walker.walk_thread);
}

void SetRemoteCaptureEnabled(bool enabled) { g_enabled.store(enabled); }

bool RemoteCaptureEnabled() {
  return g_enabled.load() && g_walk_thread.load() != nullptr && RemoteReadAvailable();
}

bool BeginRemoteCapture() {
  g_capture_usable = false;
  g_renoted = false;
  ++g_capture_seq;
  absl::flat_hash_map<pid_t, LastBlocked>& remembered = Remembered();
  absl::erase_if(remembered, [](const auto& entry) { return entry.second.seen + 1 < g_capture_seq; });
  if (!RemoteCaptureEnabled()) return false;
  auto note = g_note_threads.load();
  g_capture_usable = note != nullptr && note() >= 0;
  return g_capture_usable;
}

std::optional<RawThreadCapture> CaptureFromOutside(pid_t tid, bool native,
                                                   const std::optional<KernelTaskInfo>& info,
                                                   std::string* why_not) {
  why_not->clear();
  if (!RemoteCaptureEnabled()) return std::nullopt;  // the signal, as always: nothing to say
  if (native && !HasAddressSpaceHeadroom()) {
    *why_not = "signal: address space short";  // libdwfl is not entered then (dwfl_guard.h)
    return std::nullopt;
  }
  // The counters first, then the call: a thread that woke, ran and blocked
  // somewhere else between the two readings shows a new time slice in the
  // check after the read, instead of passing it with the old registers.
  std::optional<SchedStat> sched_before = ReadSchedStat(tid);
  std::optional<ThreadSyscall> before = ReadThreadSyscall(tid);
  if (!before) {
    *why_not = "signal: syscall file unreadable";
    return std::nullopt;
  }
  const int64_t start_ticks = info ? info->start_ticks : -1;
  auto last = Remembered().find(tid);
  if (last != Remembered().end() && last->second.start_ticks != start_ticks) {
    Remembered().erase(last);  // another thread that got the same tid
    last = Remembered().end();
  }
  // Not run since the reading remembered (Remembered()).
  const bool not_run_since = last != Remembered().end() && sched_before &&
                             sched_before->cpu_ns > 0 &&
                             sched_before->timeslices == last->second.sched.timeslices &&
                             sched_before->cpu_ns == last->second.sched.cpu_ns;
  bool woken = false;  // woken in the kernel, not run since
  if (before->state == ThreadSyscall::State::kRunning) {
    if (last == Remembered().end()) return std::nullopt;
    if (!not_run_since) {
      Remembered().erase(last);  // it has run since: in user space, most likely
      return std::nullopt;
    }
    before = last->second.syscall;
    woken = true;
  }
  if (before->state == ThreadSyscall::State::kNoSyscall) {
    *why_not = "signal: blocked outside a system call";
    return std::nullopt;
  }
  if (!g_capture_usable) {
    *why_not = "signal: thread list unreadable";
    return std::nullopt;
  }
  if (info && info->state == 'D') {
    *why_not = "signal: D state";
    return std::nullopt;
  }
  const std::string how = "outside: " + SyscallName(before->nr) + (woken ? " (woken, not yet run)" : "");
  if (not_run_since && last->second.read && (last->second.read_native || !native) &&
      last->second.syscall.SameAs(*before)) {
    // Not a single instruction since its last read: the same stack.
    last->second.seen = g_capture_seq;
    RawThreadCapture again = *last->second.read;
    again.captured_by = how + " (not run since the last sample)";
    return again;
  }
  LastBlocked* remembered = nullptr;
  if (!woken && sched_before) {
    if (Remembered().size() >= kMaxRemembered) Remembered().clear();
    remembered = &(Remembered()[tid] =
                       LastBlocked{*before, *sched_before, start_ticks, g_capture_seq, {}, false});
  } else if (woken) {
    last->second.seen = g_capture_seq;
    remembered = &last->second;
  }

  RawThreadCapture out;
  out.tid = tid;
  out.outcome = RawThreadCapture::Outcome::kAnswered;
  awd_py_stack& stack = StackBuffer();
  int found = g_walk_thread.load()(tid, &stack);
  if (found == AWD_REMOTE_NO_PYTHON && !g_renoted) {
    // Not in the list noted when the capture began: it may have bound its
    // thread state since (started, then blocked). Noted again, once.
    g_renoted = true;
    auto note = g_note_threads.load();
    found = note != nullptr && note() >= 0 ? g_walk_thread.load()(tid, &stack)
                                          : AWD_REMOTE_UNREADABLE;
  }
  if (found == AWD_REMOTE_UNREADABLE) {
    *why_not = "signal: thread state unreadable";
    return std::nullopt;
  }
  if (found == AWD_REMOTE_FOUND) CopyPythonFrames(stack, &out);
  if (native) {
    NativeStack& pcs = NativeBuffer();
    Unwinder().Unwind(tid, before->sp, before->pc, &pcs);
    const int depth = std::clamp<int>(pcs.depth, 0, kMaxNativeFrames);
    out.native_pcs.assign(pcs.pcs, pcs.pcs + depth);
    out.native_cfas.assign(pcs.cfas, pcs.cfas + depth);  // where the eval loops are
                                                           // (sample_builder.cc)
    out.native_truncated = pcs.truncated != 0;
  }

  // Not run since (no new time slice, no CPU time): it executed no
  // instruction, so nothing it owns changed while it was read, and it is
  // still where it was. Without scheduler statistics (no file, or a kernel
  // that has them off and reads "0 0 0"), the same call at the same place.
  const std::optional<SchedStat> sched_after = ReadSchedStat(tid);
  bool unmoved;
  if (sched_before && sched_after && sched_before->cpu_ns > 0) {
    unmoved = sched_after->timeslices == sched_before->timeslices &&
              sched_after->cpu_ns == sched_before->cpu_ns;
  } else {
    const std::optional<ThreadSyscall> after = ReadThreadSyscall(tid);
    unmoved = !woken && after && after->SameAs(*before);
  }
  if (!unmoved) {
    *why_not = "signal: torn (woke up while read)";
    return std::nullopt;
  }
  out.pause_ns = 0;
  out.captured_by = how;
  // Kept for the next samples only when its thread state was found: a
  // thread that had not yet bound its state when the list was noted (started
  // during the capture, then blocked) reads as without Python once, and
  // must be read again, not shown so for as long as it stays blocked.
  if (remembered != nullptr && found == AWD_REMOTE_FOUND) {
    remembered->read = std::make_shared<const RawThreadCapture>(out);
    remembered->read_native = native;
  }
  return out;
}

}  // namespace aiowatchdog
