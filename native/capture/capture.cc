// The capture signal handler and its hand-off; see capture.h for the protocol.
//
// Assumptions of the signal-context code below (OnCaptureSignal and what it
// calls): the slot and every variable it reads are static and never freed; the
// only operations are lock-free atomics on 32/64-bit words, plain stores into
// the slot, a copy of the siginfo on the stack, sigaction (async-signal-safe)
// and the raw syscalls gettid, futex and rt_sigtimedwait; no malloc, no lock,
// no Python API; errno is saved and restored. The walker it calls promises
// the same (py_stack.h), and so must the application's handler we chain to.
//
// Living with the application's handlers for the same signal. The one we
// replace is chained to for every signal that is not ours (kill, pthread_kill,
// sigqueue from anyone else, timers). If the application installs a handler
// for the signal after us (Python's signal.signal, sigaction, even SIG_DFL or
// SIG_IGN), our signals would reach its handler, or kill the process, and the
// capture would find no answers. So before each signal it sends, the watchdog
// looks at the disposition, and when it is no longer ours re-installs ours
// chaining to the newcomer: the application keeps every signal meant for it,
// the watchdog keeps working, and neither has to know about the other. A
// default action or SIG_IGN chained to is not replayed (see ChainToPrevious).
// The handler we chain to is published as a pointer to an immutable entry of
// a static table (ChainTarget), so handlers running on other threads never
// read one half-written. A handler that itself passes signals on to its
// predecessor (us) would send them round for ever; ChainToPrevious stops both
// ways of doing so (a direct call, and faulthandler's re-raise).
//
// A handler that passes signals on by putting its predecessor back, re-raising
// and re-installing itself (faulthandler.register(chain=True)) is on top, for
// every thread, for a moment during each call we make to it. Two things must
// not happen in that moment, or it gets a signal it should not (a second dump
// per foreign signal, and it then stays on top, so that every later signal is
// dumped twice: it re-raises to us, and we chain to it again): the watchdog
// putting ours back (the handler's check afterwards would find ours installed,
// leave the re-raise queued, and it would be delivered to that handler after
// ours returned), and a capture signal of ours reaching another thread. So a
// chained call and the watchdog's re-install and send exclude each other,
// without a lock: a handler about to chain counts itself in g_chaining, then
// waits out an install in progress (g_install_epoch odd) and a capture signal
// in flight to another thread (slot kRequested); the watchdog marks an install
// or a request first, then backs off while g_chaining is non-zero (both sides
// store, then load, sequentially consistent: one of them sees the other). All
// waits are bounded. What remains: a foreign signal delivered straight to such
// a handler on another thread in that moment (it re-raises to us, and we chain
// to it again: two dumps), and a late signal of ours (sent to a thread that
// blocked it, withdrawn, delivered when it unblocks) landing then.
#include "capture/capture.h"

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_set>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "proc/proc_task.h"
#include "capture/remote_capture.h"
#include "capture/thread_names.h"

namespace aiowatchdog {
namespace {

enum SlotState : uint32_t { kIdle = 0, kRequested = 1, kWriting = 2, kDone = 3 };

// Tokens carry this tag in their high bits so the handler can tell our own
// late or stale signals (dropped) from a foreign sender's (chained).
constexpr uint64_t kTokenTag = 0xA1D0ULL << 48;
constexpr uint64_t kTokenTagMask = 0xFFFFULL << 48;

struct CaptureSlot {
  std::atomic<uint64_t> token{0};   // the request being answered
  std::atomic<pid_t> target{0};     // the thread the request's signal goes to
  std::atomic<uint32_t> state{kIdle};  // futex word, SlotState
  std::atomic<bool> want_native{true};  // set with each request
  pid_t tid = 0;                    // written by the handler
  int64_t pause_ns = 0;             // written by the handler: its own duration
  awd_py_stack stack;               // written by the handler
  NativeStack native;               // written by the handler
};
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex word");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "signal-safe token");

CaptureSlot g_slot;
std::atomic<awd_py_walker> g_walker{nullptr};
std::atomic<int> g_signo{0};
std::mutex g_capture_mu;          // one capture at a time; never in the handler
uint64_t g_generation = 0;        // guarded by g_capture_mu

// A handler foreign signals are passed on to: the disposition ours replaced.
// Never modified once published through g_chain.
struct ChainTarget {
  bool siginfo = false;                            // SA_SIGINFO: call `action`
  void (*action)(int, siginfo_t*, void*) = nullptr;
  void (*handler)(int) = SIG_DFL;                  // SIG_DFL and SIG_IGN included
};

// Every distinct handler ours ever replaced, so that a replacement never
// rewrites an entry a handler on another thread may be reading: entries are
// appended and reused (the same handler again, e.g. each signal.signal call
// installs CPython's one C handler), never changed. A process has a handful
// of distinct handlers for one real-time signal at most; past this many,
// ours is no longer re-installed (EnsureOurHandler).
constexpr int kMaxChainTargets = 32;
ChainTarget g_chain_targets[kMaxChainTargets];  // [0, g_chain_targets_used) published
int g_chain_targets_used = 0;                   // guarded by g_capture_mu
std::atomic<const ChainTarget*> g_chain{nullptr};  // what foreign signals go to
std::atomic<int64_t> g_reinstalls{0};

// Handlers inside ChainToPrevious right now (futex word; woken at zero), and
// the watchdog's re-install in progress when odd (futex word). See the file
// comment.
std::atomic<uint32_t> g_chaining{0};
std::atomic<uint32_t> g_install_epoch{0};
// How long a chained call waits for an install or a capture in flight, and
// the watchdog for chained calls, at most (then each goes ahead regardless).
constexpr int64_t kChainWaitNs = 100'000'000;

// The mark a siginfo we pass on carries, in its last 8 bytes: no si_code's
// fields reach them (the largest, SIGCHLD's and SIGSEGV's, end at byte 48),
// and the kernel zeroes them in every siginfo it builds.
constexpr uint64_t kChainMark = 0x616977646f67636eULL;  // "aiwdogcn"
constexpr size_t kChainMarkOffset = sizeof(siginfo_t) - sizeof(uint64_t);
static_assert(sizeof(siginfo_t) == 128, "the Linux siginfo_t");

// Threads never to signal. A fixed table of atomic words rather than a
// container: the fork child handler empties it with plain stores, and no
// lock or lazily-initialised static is involved (a function-local static's
// guard, held by another thread at the fork, deadlocked children in
// ResetCaptureAfterFork). 0 marks a free entry. A process runs one watchdog
// thread per dumper: past kMaxSkipped, a thread is not skipped (it blocks
// every signal anyway, so it is reported as such, never disturbed).
constexpr int kMaxSkipped = 256;
std::atomic<pid_t> g_skipped[kMaxSkipped];

bool IsSkipped(pid_t tid) {
  for (const std::atomic<pid_t>& entry : g_skipped) {
    if (entry.load(std::memory_order_acquire) == tid) return true;
  }
  return false;
}

// Runs in a signal handler: clock_gettime is async-signal-safe.
int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Runs in a signal handler: a raw syscall.
long Futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

// May run in a signal handler: waits (futex) while `word` is `value`, for at
// most until `deadline_ns`. Signal-safe: raw syscalls.
void WaitWhileEquals(std::atomic<uint32_t>* word, uint32_t value, int64_t deadline_ns) {
  while (word->load(std::memory_order_seq_cst) == value) {
    const int64_t left = deadline_ns - MonotonicNs();
    if (left <= 0) return;
    const timespec wait{0, std::min<int64_t>(left, 1'000'000)};
    Futex(word, FUTEX_WAIT_PRIVATE, value, &wait);
  }
}

// Runs in a signal handler: whether `info` is a copy ChainToPrevious made,
// i.e. the handler we chained to has passed the signal back to us.
bool CameBackThroughChain(const siginfo_t* info) {
  uint64_t mark;
  std::memcpy(&mark, reinterpret_cast<const char*>(info) + kChainMarkOffset, sizeof(mark));
  return mark == kChainMark;
}

void OnCaptureSignal(int signo, siginfo_t* info, void* context);
void TakeBackReraise(int signo, void* context);

// Runs in a signal handler: whether `info` is a capture signal of ours (sent
// by SendCaptureSignal), stale or not. Reads the siginfo only.
bool IsOurSignal(const siginfo_t* info) {
  const auto sent = reinterpret_cast<uint64_t>(info->si_value.sival_ptr);
  return info->si_code == SI_QUEUE && info->si_pid == getpid() &&
         (sent & kTokenTagMask) == kTokenTag;
}

// Runs in a signal handler, before a chained call (g_chaining already counts
// this one): waits out the watchdog's re-install in progress, and a capture
// signal sent to another thread and not yet answered, so that neither happens
// while the handler we call may be on top (file comment). Bounded; signal-safe
// (atomics, futex, gettid, clock_gettime).
void WaitForQuietBeforeChaining() {
  const int64_t deadline_ns = MonotonicNs() + kChainWaitNs;
  for (;;) {
    const uint32_t epoch = g_install_epoch.load(std::memory_order_seq_cst);
    if (epoch % 2 == 0) break;
    WaitWhileEquals(&g_install_epoch, epoch, deadline_ns);
    if (MonotonicNs() >= deadline_ns) return;
  }
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  while (g_slot.state.load(std::memory_order_seq_cst) == kRequested &&
         g_slot.target.load(std::memory_order_seq_cst) != self) {
    // This thread would be the target's answer: it has the signal blocked
    // now, and TakeBackReraise or the return from this handler answers it.
    WaitWhileEquals(&g_slot.state, kRequested, deadline_ns);
    if (MonotonicNs() >= deadline_ns) return;
  }
}

// May run in a signal handler: fills a struct on the stack.
struct sigaction OurAction() {
  struct sigaction ours;
  std::memset(&ours, 0, sizeof(ours));
  ours.sa_sigaction = OnCaptureSignal;
  ours.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&ours.sa_mask);
  return ours;
}

// May run in a signal handler: reads one struct.
bool IsOurs(const struct sigaction& action) {
  return (action.sa_flags & SA_SIGINFO) != 0 && action.sa_sigaction == OnCaptureSignal;
}

// Runs in a signal handler: whether ours is the handler of `signo` right
// now. sigaction is async-signal-safe.
bool OurHandlerInstalled(int signo) {
  struct sigaction current;
  return sigaction(signo, nullptr, &current) == 0 && IsOurs(current);
}

// Runs in a signal handler: passes a foreign signal to the handler ours
// replaced. Signal-safe: an atomic load, sigaction queries, a copy of the
// siginfo on the stack, the call. A default action is not replayed: for a
// real-time signal it would terminate the process, which a stray signal must
// not do while we own it; SIG_IGN is honoured by doing nothing.
//
// Handlers that pass signals on to their own predecessor, which is us when
// they replaced us and we re-installed ours on top, would send a signal round
// for ever; two ways of passing on are stopped here. A direct call: the
// handler gets a marked copy of the siginfo and brings it back to us, and
// OnCaptureSignal ends it there. Re-installing the predecessor, re-raising
// and re-installing itself (faulthandler.register(chain=True)): seen as the
// handler having replaced ours during the call; the re-raise is then taken
// off this thread's queue (TakeBackReraise).
void ChainToPrevious(int signo, siginfo_t* info, void* context) {
  const ChainTarget* target = g_chain.load(std::memory_order_acquire);
  if (target == nullptr) return;
  if (target->siginfo ? target->action == nullptr
                      : target->handler == SIG_DFL || target->handler == SIG_IGN) {
    return;
  }
  g_chaining.fetch_add(1, std::memory_order_seq_cst);
  WaitForQuietBeforeChaining();
  const bool ours_before = OurHandlerInstalled(signo);
  if (target->siginfo) {
    siginfo_t marked;
    std::memcpy(&marked, info, sizeof(marked));
    std::memcpy(reinterpret_cast<char*>(&marked) + kChainMarkOffset, &kChainMark,
                sizeof(kChainMark));
    target->action(signo, &marked, context);
  } else {
    target->handler(signo);
  }
  if (ours_before && !OurHandlerInstalled(signo)) TakeBackReraise(signo, context);
  if (g_chaining.fetch_sub(1, std::memory_order_seq_cst) == 1) {
    Futex(&g_chaining, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
  }
}

// Runs in a signal handler, on the thread being sampled. Async-signal-safe:
// atomics, stores into the static slot, gettid and futex syscalls only; a
// signal not ours goes to ChainToPrevious (signal-safe too).
void OnCaptureSignal(int signo, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const auto sent = reinterpret_cast<uint64_t>(info->si_value.sival_ptr);
  if (!IsOurSignal(info)) {
    // Not when it comes back from the handler we chained to: that handler
    // has had it already.
    if (!CameBackThroughChain(info)) ChainToPrevious(signo, info, context);
    errno = saved_errno;
    return;
  }
  uint32_t expected = kRequested;
  if (sent == g_slot.token.load(std::memory_order_acquire) &&
      g_slot.state.compare_exchange_strong(expected, kWriting, std::memory_order_acq_rel)) {
    const int64_t start_ns = MonotonicNs();  // clock_gettime: async-signal-safe
    g_slot.tid = static_cast<pid_t>(syscall(SYS_gettid));
    g_slot.stack.has_python = 0;
    g_slot.stack.depth = 0;
    g_slot.stack.truncated = 0;
    g_slot.stack.thread_ident = 0;
    g_slot.native.depth = 0;
    g_slot.native.truncated = 0;
    if (g_slot.want_native.load(std::memory_order_relaxed)) CaptureNativeStack(&g_slot.native);
    if (awd_py_walker walk = g_walker.load(std::memory_order_acquire)) walk(&g_slot.stack);
    g_slot.pause_ns = MonotonicNs() - start_ns;
    g_slot.state.store(kDone, std::memory_order_release);
    // The watchdog, and chained calls waiting for this answer.
    Futex(&g_slot.state, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
  }
  // Otherwise a late answer to a request already abandoned: drop it.
  errno = saved_errno;
}

// Runs in a signal handler (OnCaptureSignal's, `signo` blocked): the handler
// we chained to replaced ours while it ran, so it may have re-raised the
// signal at this thread to pass it on to us, its predecessor: delivered, that
// would go to it again, back to us, and so on. This thread's pending `signo`
// are taken off the queue (rt_sigtimedwait, no wait) up to the re-raise
// (SI_TKILL from this process), which is dropped, and ours put back on top,
// as it was before the call, so that the next signal does not meet that
// handler first. Signals queued before the re-raise (sent to this thread
// while it had the signal blocked) are handled as if delivered: a capture of
// ours at once, foreign ones (at most kMaxDeferred, the rest stay queued)
// after ours is back, so that their own chained calls find ours on top. A
// handler that changed the disposition for another reason is left alone; the
// watchdog re-installs ours, chaining to it, before it next signals.
// Signal-safe: raw syscalls, sigaction, sigset operations, siginfo copies on
// the stack.
void TakeBackReraise(int signo, void* context) {
  constexpr int kMaxDeferred = 4;
  siginfo_t deferred[kMaxDeferred];
  int deferred_count = 0;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  const timespec no_wait{0, 0};
  while (deferred_count < kMaxDeferred) {
    siginfo_t next;
    if (syscall(SYS_rt_sigtimedwait, &set, &next, &no_wait, _NSIG / 8) != signo) break;
    if (next.si_code == SI_TKILL && next.si_pid == getpid()) {
      const struct sigaction ours = OurAction();
      sigaction(signo, &ours, nullptr);
      break;
    }
    if (IsOurSignal(&next)) {
      OnCaptureSignal(signo, &next, context);  // answers; never chains
    } else {
      std::memcpy(&deferred[deferred_count++], &next, sizeof(next));
    }
  }
  for (int i = 0; i < deferred_count; ++i) OnCaptureSignal(signo, &deferred[i], context);
}

// The entry for `action`'s handler: an existing one if it is the same
// handler, else a new one; nullptr when the table is full. g_capture_mu held.
const ChainTarget* InternChainTarget(const struct sigaction& action) {
  ChainTarget target;
  target.siginfo = (action.sa_flags & SA_SIGINFO) != 0;
  if (target.siginfo) {
    target.action = action.sa_sigaction;
    target.handler = nullptr;
  } else {
    target.handler = action.sa_handler;
  }
  for (int i = 0; i < g_chain_targets_used; ++i) {
    const ChainTarget& known = g_chain_targets[i];
    if (known.siginfo == target.siginfo && known.action == target.action &&
        known.handler == target.handler) {
      return &known;
    }
  }
  if (g_chain_targets_used == kMaxChainTargets) return nullptr;
  g_chain_targets[g_chain_targets_used] = target;  // published by g_chain's release store
  return &g_chain_targets[g_chain_targets_used++];
}

// Waits (never in a handler) until no handler is chaining, or `deadline_ns`.
void WaitWhileChaining(int64_t deadline_ns) {
  for (;;) {
    const uint32_t chaining = g_chaining.load(std::memory_order_seq_cst);
    if (chaining == 0 || MonotonicNs() >= deadline_ns) return;
    const timespec wait{0, 1'000'000};
    Futex(&g_chaining, FUTEX_WAIT_PRIVATE, chaining, &wait);
  }
}

bool InstallOurs(int signo);

// Makes OnCaptureSignal the handler of `signo` unless it already is, chaining
// to the one it replaces; see the file comment for why. Called before every
// signal we send, so that none meets someone else's handler or a default
// action (one sigaction call, about 0.2 us, when nothing changed). Never in a
// signal handler; g_capture_mu held. False, with the disposition left alone,
// only when the handler to chain to cannot be recorded (kMaxChainTargets
// distinct handlers already) or sigaction fails: the caller must not signal.
bool EnsureOurHandler(int signo) {
  struct sigaction current;
  if (sigaction(signo, nullptr, &current) != 0) return false;
  if (IsOurs(current)) return true;
  // Not while a handler is chaining: the one it calls may be on top for a
  // moment, re-raising to us (file comment). This thread must not take the
  // signal while the epoch is odd (a chained call here would wait for it).
  sigset_t just_signo, previous_mask;
  sigemptyset(&just_signo);
  sigaddset(&just_signo, signo);
  pthread_sigmask(SIG_BLOCK, &just_signo, &previous_mask);
  const int64_t deadline_ns = MonotonicNs() + kChainWaitNs;
  for (;;) {
    g_install_epoch.fetch_add(1, std::memory_order_seq_cst);  // odd: installing
    if (g_chaining.load(std::memory_order_seq_cst) == 0 || MonotonicNs() >= deadline_ns) break;
    g_install_epoch.fetch_add(1, std::memory_order_seq_cst);
    Futex(&g_install_epoch, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
    WaitWhileChaining(deadline_ns);
  }
  const bool installed = InstallOurs(signo);
  g_install_epoch.fetch_add(1, std::memory_order_seq_cst);  // even: done
  Futex(&g_install_epoch, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  return installed;
}

// EnsureOurHandler's install, the epoch odd. g_capture_mu held.
bool InstallOurs(int signo) {
  struct sigaction current;
  if (sigaction(signo, nullptr, &current) != 0) return false;
  if (IsOurs(current)) return true;
  const ChainTarget* target = InternChainTarget(current);
  if (target == nullptr) return false;
  // Chain first, then install: a foreign signal in between goes straight to
  // `current`, after it through ours to `current`.
  g_chain.store(target, std::memory_order_release);
  const struct sigaction ours = OurAction();
  struct sigaction replaced;
  if (sigaction(signo, &ours, &replaced) != 0) return false;
  const bool raced = replaced.sa_flags != current.sa_flags ||
                     replaced.sa_sigaction != current.sa_sigaction;
  if (raced && !IsOurs(replaced)) {
    // Another thread installed a handler between the two calls: that one is
    // what ours replaced.
    if (const ChainTarget* newer = InternChainTarget(replaced)) {
      g_chain.store(newer, std::memory_order_release);
    }
  }
  if (g_signo.load() != 0) g_reinstalls.fetch_add(1);
  return true;
}

bool SendCaptureSignal(pid_t tid, int signo, uint64_t token) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  info.si_signo = signo;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_ptr = reinterpret_cast<void*>(token);
  return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, signo, &info) == 0;
}

// Waits for the handler's answer until `deadline_ns`. At the deadline, with
// `withdraw`, withdraws the request, unless the handler already claimed it, in
// which case it is finishing right now and is waited for (its work is
// bounded); without, just returns false.
bool AwaitAnswer(int64_t deadline_ns, bool withdraw) {
  for (;;) {
    const uint32_t state = g_slot.state.load(std::memory_order_acquire);
    if (state == kDone) return true;
    const int64_t left = deadline_ns - MonotonicNs();
    if (left <= 0 && state == kRequested) {
      if (!withdraw) return false;
      uint32_t expected = kRequested;
      if (g_slot.state.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
        Futex(&g_slot.state, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);  // chained calls waiting
        return false;
      }
      continue;  // claimed meanwhile: now kWriting or kDone
    }
    timespec wait{0, std::max<int64_t>(left, 1'000'000)};  // >= 1 ms once writing
    if (left > 0) wait = {left / 1'000'000'000, left % 1'000'000'000};
    Futex(&g_slot.state, FUTEX_WAIT_PRIVATE, state, &wait);
  }
}

RawThreadCapture CopySlotOut(pid_t tid) {
  RawThreadCapture out;
  out.tid = tid;
  out.outcome = RawThreadCapture::Outcome::kAnswered;
  const awd_py_stack& stack = g_slot.stack;
  out.has_python = stack.has_python != 0;
  out.ident = stack.thread_ident;
  out.truncated = stack.truncated != 0;
  const int depth = std::clamp<int>(stack.depth, 0, AWD_MAX_PY_FRAMES);
  out.frames.reserve(depth);
  for (int i = 0; i < depth; ++i) {
    const awd_py_frame& f = stack.frames[i];
    out.frames.push_back(RawPyFrame{
        std::string(f.file, strnlen(f.file, AWD_FILE_MAX)),
        std::string(f.func, strnlen(f.func, AWD_FUNC_MAX)), f.line, f.is_coroutine != 0,
        f.is_entry != 0, f.coroutine, f.entry_frame});
  }
  const int native_depth = std::clamp<int>(g_slot.native.depth, 0, kMaxNativeFrames);
  out.native_pcs.assign(g_slot.native.pcs, g_slot.native.pcs + native_depth);
  out.native_cfas.assign(g_slot.native.cfas, g_slot.native.cfas + native_depth);
  out.native_truncated = g_slot.native.truncated != 0;
  out.pause_ns = g_slot.pause_ns;
  return out;
}

// Whether `tid` blocks `signo`. A thread still returning from our handler has
// the signal in its mask for a few microseconds (the kernel blocks a signal
// while its handler runs), so a block is believed only when it is still there
// 1 and 2 ms later.
bool BlocksSignal(pid_t tid, int signo) {
  const uint64_t bit = 1ULL << (signo - 1);
  for (int look = 0; look < 3; ++look) {
    if (look > 0) {
      const timespec pause{0, 1'000'000};
      nanosleep(&pause, nullptr);
    }
    const std::optional<uint64_t> blocked = ReadBlockedSignals(tid);
    if (!blocked || !(*blocked & bit)) return false;
  }
  return true;
}

// Threads seen blocking the signal. A signal sent to such a thread stays
// queued (real-time signals do not coalesce), so they are checked in /proc
// before each send rather than sent to again: at most one queued signal of
// ours each. Everyone else is signalled straight away. Guarded by
// g_capture_mu.
// Emptied lazily, on the first capture in a forked child (g_blockers_pid is
// not the child's pid): the fork handler must not free memory. A std::
// container: one whose insert runs out of memory stays as it was (absl's
// flat sets are left corrupt by a failed rehash and assert later).
std::unordered_set<pid_t>* g_known_blockers = nullptr;  // guarded by g_capture_mu
pid_t g_blockers_pid = 0;                                 // guarded by g_capture_mu
std::unordered_set<pid_t>& KnownBlockers() {
  if (g_known_blockers == nullptr || g_blockers_pid != getpid()) {
    // In a forked child, the parent's set (a copy of its memory) is just
    // forgotten, with whatever it held.
    g_known_blockers = new std::unordered_set<pid_t>();
    g_blockers_pid = getpid();
  }
  return *g_known_blockers;
}

// Withdraws the current request; false if the handler claimed it meanwhile
// (it is then finishing, and AwaitAnswer collects its answer).
bool WithdrawRequest() {
  uint32_t expected = kRequested;
  if (!g_slot.state.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
    return false;
  }
  Futex(&g_slot.state, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);  // chained calls waiting
  return true;
}

// How long an answer may take before /proc is asked whether the thread
// blocks the signal: answering threads take tens of microseconds.
constexpr int64_t kQuickAnswerNs = 1'000'000;

RawThreadCapture CaptureOnce(pid_t tid, int signo, int64_t answer_timeout_ns, bool native) {
  RawThreadCapture result;
  result.tid = tid;
  auto not_answered = [&](RawThreadCapture::Outcome outcome) {
    // A thread that exited after the signal was queued never answers: gone,
    // not silent.
    if (outcome == RawThreadCapture::Outcome::kNoAnswer &&
        syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH) {
      outcome = RawThreadCapture::Outcome::kGone;
    }
    result.outcome = outcome;
    result.wchan = ReadWaitChannel(tid);
    return result;
  };
  if (KnownBlockers().count(tid) != 0) {
    if (BlocksSignal(tid, signo)) return not_answered(RawThreadCapture::Outcome::kSignalsBlocked);
    KnownBlockers().erase(tid);
  }

  // Not while a handler is chaining (file comment): the request is marked
  // first, then g_chaining looked at; a handler about to chain counts itself,
  // then looks at the request, and waits for its answer.
  const int64_t chain_deadline_ns = MonotonicNs() + kChainWaitNs;
  uint64_t token;
  for (;;) {
    WaitWhileChaining(chain_deadline_ns);
    if (!EnsureOurHandler(signo)) return not_answered(RawThreadCapture::Outcome::kNoAnswer);
    token = kTokenTag | (++g_generation & ~kTokenTagMask);
    g_slot.want_native.store(native, std::memory_order_relaxed);
    g_slot.token.store(token, std::memory_order_release);
    g_slot.target.store(tid, std::memory_order_seq_cst);
    g_slot.state.store(kRequested, std::memory_order_seq_cst);
    if (g_chaining.load(std::memory_order_seq_cst) == 0 || MonotonicNs() >= chain_deadline_ns) {
      break;
    }
    g_slot.state.store(kIdle, std::memory_order_seq_cst);  // not sent: no one can claim it
    Futex(&g_slot.state, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
  }
  if (!SendCaptureSignal(tid, signo, token)) {
    g_slot.state.store(kIdle, std::memory_order_release);
    Futex(&g_slot.state, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
    result.outcome = RawThreadCapture::Outcome::kGone;
    return result;
  }
  const int64_t sent_ns = MonotonicNs();
  bool answered = AwaitAnswer(sent_ns + std::min(kQuickAnswerNs, answer_timeout_ns),
                              /*withdraw=*/false);
  if (!answered && BlocksSignal(tid, signo)) {
    if (WithdrawRequest()) {
      KnownBlockers().insert(tid);
      return not_answered(RawThreadCapture::Outcome::kSignalsBlocked);
    }
  }
  if (!answered) answered = AwaitAnswer(sent_ns + answer_timeout_ns, /*withdraw=*/true);
  if (!answered) return not_answered(RawThreadCapture::Outcome::kNoAnswer);
  RawThreadCapture copy = CopySlotOut(tid);
  g_slot.state.store(kIdle, std::memory_order_release);
  return copy;
}

// The walker finds no frame in a few samples in 10,000 on 3.11/3.12, when the
// signal lands while the eval loop is linking a new frame (py_frames.c); a
// second sample a moment later finds them.
RawThreadCapture CaptureOne(pid_t tid, int signo, int64_t answer_timeout_ns, bool native) {
  RawThreadCapture capture = CaptureOnce(tid, signo, answer_timeout_ns, native);
  if (capture.outcome == RawThreadCapture::Outcome::kAnswered && capture.has_python &&
      capture.frames.empty()) {
    capture = CaptureOnce(tid, signo, answer_timeout_ns, native);
  }
  return capture;
}

std::vector<pid_t> ThreadsToSample(pid_t first) {
  std::vector<pid_t> tids = ListTaskIds();
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  tids.erase(std::remove_if(tids.begin(), tids.end(),
                            [&](pid_t t) { return t == self || IsSkipped(t); }),
             tids.end());
  auto loop_pos = std::find(tids.begin(), tids.end(), first);
  if (loop_pos != tids.end()) std::rotate(tids.begin(), loop_pos, loop_pos + 1);
  return tids;
}

// What /proc said of the thread, read before its capture.
void NoteTaskInfo(const KernelTaskInfo& info, RawThreadCapture* capture) {
  capture->kernel_state = info.state;
  capture->comm = info.comm;
}

}  // namespace

// Runs in a forked child, as a pthread_atfork handler, which may only do what
// is async-signal-safe: the fork may have interrupted any other thread of the
// parent holding any lock (malloc's included, on other libcs) or in the middle
// of a static's initialisation. So: plain stores and placement-new of mutexes
// (a constant initialisation: stores of zeros), no allocation or freeing, no
// lock, no function-local static. What needs freeing is forgotten here and
// replaced lazily, on first use in the child (KnownBlockers, thread names).
void ResetCaptureAfterFork() {
  // Only the forking thread exists in the child: no one else can hold these.
  new (&g_capture_mu) std::mutex();
  for (std::atomic<pid_t>& entry : g_skipped) entry.store(0, std::memory_order_relaxed);
  g_slot.token.store(0);
  g_slot.state.store(kIdle);
  g_chaining.store(0);
  if (g_install_epoch.load() % 2 != 0) g_install_epoch.fetch_add(1);
  ResetThreadNamesAfterFork();
}

absl::Status InstallCaptureHandler(int signo, awd_py_walker walker) {
  std::lock_guard<std::mutex> lock(g_capture_mu);
  const int installed = g_signo.load();
  if (installed != 0) {
    if (installed != signo) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "signal %d is not the signal %d aiowatchdog already uses in this process; "
          "one capture signal per process",
          signo, installed));
    }
    g_walker.store(walker);
    if (!EnsureOurHandler(signo)) {
      return absl::InternalError(absl::StrFormat(
          "signal %d: cannot re-install the capture handler the application replaced", signo));
    }
    return absl::OkStatus();
  }
  if (signo < SIGRTMIN || signo > SIGRTMAX) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "signal %d is not a real-time signal (%d..%d)", signo, SIGRTMIN, SIGRTMAX));
  }
  g_walker.store(walker);
  WarmUpNativeUnwinder();  // nothing left to load lazily inside the handler
  if (!EnsureOurHandler(signo)) {
    return absl::InternalError(absl::StrFormat("sigaction(%d): %s", signo, std::strerror(errno)));
  }
  g_signo.store(signo);
  pthread_atfork(nullptr, nullptr, ResetCaptureAfterFork);
  return absl::OkStatus();
}

int InstalledCaptureSignal() { return g_signo.load(); }

int64_t CaptureHandlerReinstalls() { return g_reinstalls.load(); }

void AddThreadToSkip(pid_t tid) {
  for (std::atomic<pid_t>& entry : g_skipped) {
    pid_t expected = 0;
    if (entry.load(std::memory_order_relaxed) == tid) return;
    if (entry.compare_exchange_strong(expected, tid, std::memory_order_acq_rel)) return;
  }
}

void RemoveThreadToSkip(pid_t tid) {
  for (std::atomic<pid_t>& entry : g_skipped) {
    pid_t expected = tid;
    entry.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  }
}

void FenceThisThreadForExec() {
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  AddThreadToSkip(self);
  // A capture that listed this thread before it was skipped holds the lock
  // until each of its signals was answered or withdrawn (this thread answers
  // while waiting here: the signal is not blocked).
  { std::lock_guard<std::mutex> wait_for_capture(g_capture_mu); }
  const int signo = g_signo.load();
  if (signo == 0) return;
  sigset_t just_signo, previous_mask;
  sigemptyset(&just_signo);
  sigaddset(&just_signo, signo);
  pthread_sigmask(SIG_BLOCK, &just_signo, &previous_mask);
  constexpr int kMaxForeign = 16;
  siginfo_t foreign[kMaxForeign];
  int foreign_count = 0;
  const timespec no_wait{0, 0};
  for (;;) {
    siginfo_t next;
    if (syscall(SYS_rt_sigtimedwait, &just_signo, &next, &no_wait, _NSIG / 8) != signo) break;
    if (!IsOurSignal(&next) && foreign_count < kMaxForeign) foreign[foreign_count++] = next;
  }
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  // Signals someone else sent go back on the queue, for the handler that
  // would have had them (ours passes them on).
  for (int i = 0; i < foreign_count; ++i) {
    syscall(SYS_rt_tgsigqueueinfo, getpid(), self, signo, &foreign[i]);
  }
}

void UnfenceThisThread() { RemoveThreadToSkip(static_cast<pid_t>(syscall(SYS_gettid))); }

CaptureResult CaptureAllThreads(const CaptureRequest& request) {
  std::vector<pid_t> tids = ThreadsToSample(request.first);
  CaptureResult result;
  if (tids.size() > request.max_threads) {
    result.threads_not_sampled = static_cast<int32_t>(tids.size() - request.max_threads);
    tids.resize(request.max_threads);
  }
  result.threads.reserve(tids.size());
  std::lock_guard<std::mutex> lock(g_capture_mu);
  const int signo = g_signo.load();
  if (signo == 0) return result;
  // The loop's thread's scheduler state matters at the moment of the sample:
  // read before it; everyone else's right after the sample, so that /proc
  // reads do not stretch the time the sample spans.
  std::optional<KernelTaskInfo> first_info;
  if (!tids.empty() && tids.front() == request.first) first_info = ReadTaskInfo(request.first);
  // Stamped here, not before listing the threads and taking the lock: a
  // report's [captured_at, + capture_ms] must span the stacks it shows.
  result.started_unix_ns = UnixNowNs();
  const int64_t start_ns = MonotonicNs();
  // Threads blocked in the kernel are read from outside, without a signal
  // that would cut their system call short (remote_capture.h); the others
  // are signalled.
  const bool remote = RemoteCaptureEnabled();
  if (remote) {
    BeginRemoteCapture();
    // Ours is put back on top at every capture, as when every thread was
    // signalled (each send does it), even when no thread needs a signal this
    // time: a stray signal must not meet the application's SIG_DFL.
    EnsureOurHandler(signo);
  }
  std::string why_not;
  for (pid_t tid : tids) {
    // Looked at again under the lock: a thread fenced for an exec since the
    // list was made (FenceThisThreadForExec) must not get a signal now.
    if (IsSkipped(tid)) continue;
    // Its kernel state before anything of ours touches it: a capture signal
    // wakes a thread blocked in the kernel, and read afterwards it would show
    // running (R) where it was waiting (S, D).
    const std::optional<KernelTaskInfo> info =
        tid == request.first && first_info ? first_info : ReadTaskInfo(tid);
    if (std::optional<RawThreadCapture> outside = CaptureFromOutside(tid, request.native, info, &why_not)) {
      if (info) NoteTaskInfo(*info, &*outside);
      result.threads.push_back(std::move(*outside));
      continue;
    }
    // The first thread read from outside in vain (torn: it woke up meanwhile)
    // is signalled now: what it shows is from now on, and nothing was kept
    // from before.
    if (result.threads.empty() && !why_not.empty()) result.started_unix_ns = UnixNowNs();
    RawThreadCapture capture = CaptureOne(tid, signo, request.answer_timeout_ns, request.native);
    capture.captured_by = !why_not.empty() ? why_not : remote ? "signal" : "";
    if (info) NoteTaskInfo(*info, &capture);  // none: exited, state stays unknown
    result.threads.push_back(std::move(capture));
  }
  result.duration_ns = MonotonicNs() - start_ns;
  return result;
}

}  // namespace aiowatchdog
