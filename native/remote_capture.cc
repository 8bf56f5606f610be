// See remote_capture.h.
#include "remote_capture.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "dwfl_guard.h"
#include "loop_activity.h"
#include "proc_task.h"
#include "remote_memory.h"
#include "remote_unwind.h"
#include "thread_syscall.h"

namespace aiowatchdog {
namespace {

std::atomic<int (*)(void)> g_note_threads{nullptr};
std::atomic<int (*)(pid_t, awd_py_stack*)> g_walk_thread{nullptr};
std::atomic<bool> g_enabled{true};
bool g_capture_usable = false;  // BeginRemoteCapture's answer for this capture

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
// with the registers of that reading. Guarded by the capture's lock.
struct LastBlocked {
  ThreadSyscall syscall;
  int64_t timeslices = 0;
};
constexpr size_t kMaxRemembered = 65536;

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
                                     f.is_coroutine != 0, f.is_entry != 0, f.coroutine});
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
  std::optional<ThreadSyscall> before = ReadThreadSyscall(tid);
  if (!before) {
    *why_not = "signal: syscall file unreadable";
    return std::nullopt;
  }
  std::optional<SchedStat> sched_before = ReadSchedStat(tid);
  bool woken = false;  // woken in the kernel, not run since (Remembered())
  if (before->state == ThreadSyscall::State::kRunning) {
    auto it = Remembered().find(tid);
    if (it == Remembered().end()) return std::nullopt;
    if (!sched_before || sched_before->timeslices != it->second.timeslices) {
      Remembered().erase(it);  // it has run since: in user space, most likely
      return std::nullopt;
    }
    before = it->second.syscall;
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
  if (!woken && sched_before) {
    if (Remembered().size() >= kMaxRemembered) Remembered().clear();
    Remembered()[tid] = LastBlocked{*before, sched_before->timeslices};
  }

  RawThreadCapture out;
  out.tid = tid;
  out.outcome = RawThreadCapture::Outcome::kAnswered;
  awd_py_stack& stack = StackBuffer();
  const int found = g_walk_thread.load()(tid, &stack);
  if (found == AWD_REMOTE_UNREADABLE) {
    *why_not = "signal: thread state unreadable";
    return std::nullopt;
  }
  if (found == AWD_REMOTE_FOUND) CopyPythonFrames(stack, &out);
  if (native) {
    NativeStack& pcs = NativeBuffer();
    Unwinder().Unwind(tid, before->sp, before->pc, &pcs);
    out.native_pcs.assign(pcs.pcs, pcs.pcs + std::clamp<int>(pcs.depth, 0, kMaxNativeFrames));
    out.native_truncated = pcs.truncated != 0;
  }

  // Not run since (no new time slice): it executed no instruction, so
  // nothing it owns changed while it was read, and it is still where it
  // was. Without scheduler statistics, the same call at the same place.
  const std::optional<SchedStat> sched_after = ReadSchedStat(tid);
  bool unmoved;
  if (sched_before && sched_after) {
    unmoved = sched_after->timeslices == sched_before->timeslices;
  } else {
    const std::optional<ThreadSyscall> after = ReadThreadSyscall(tid);
    unmoved = !woken && after && after->SameAs(*before);
  }
  if (!unmoved) {
    *why_not = "signal: torn (woke up while read)";
    return std::nullopt;
  }
  out.pause_ns = 0;
  out.captured_by = "outside: " + SyscallName(before->nr) + (woken ? " (woken, not yet run)" : "");
  return out;
}

}  // namespace aiowatchdog
