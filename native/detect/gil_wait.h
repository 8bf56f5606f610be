// A loop starved of the GIL (issue #18): its selector wait is over (a timer
// fired, a socket became readable) but another thread holds the GIL and does
// not let go (C code that never checks the eval breaker: json.loads on a huge
// string in a run_in_executor worker). The loop's probe still says "idle"
// (it stamps "busy" only once it runs Python again), so by the probe alone
// the watchdog would never call it hung.
//
// While the probe says idle, the watchdog looks every `interval`: when the
// GIL is held by a thread other than the loop's, it reads the loop thread's
// system call (/proc/self/task/<tid>/syscall); a free GIL is a look that saw
// no starvation, without that read. A futex wait on an address
// inside the GIL's struct (its condition variable or mutex) is a wait for the
// GIL. From that look on, the loop counts as busy (stamped then: a wait seen
// for the first time may be a hand-over of a few milliseconds, so a hang is
// declared only once it has lasted a whole `interval` more), until the probe
// sees it move or a look finds it holding the GIL or blocked in another call.
// The wait began between the last look that saw it not waiting and the first
// that saw it waiting: that period is how much longer than counted the block
// may be (uncertainty_ns), and reports give the block as that range.
//
// The holder is named in the report (the thread whose state is the GIL's
// last_holder, read by python/gil_state.c).
#ifndef AIOWATCHDOG_GIL_WAIT_H_
#define AIOWATCHDOG_GIL_WAIT_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>

#include "detect/hang_detector.h"
#include "model/gil_state.h"
#include "proc/thread_syscall.h"

namespace aiowatchdog {

// The module's reader of the GIL (python/gil_state.c); without one, no loop
// is ever found starved and no holder named. Thread-safe.
void SetGilReader(int (*read)(awd_gil_state*));
std::optional<awd_gil_state> ReadGil();

// Whether idle loops are looked at (a reader is set, and the looks are on:
// SetIdleLooks, on by default; off only for benchmarks measuring their cost).
bool IdleLooksOn();
void SetIdleLooks(bool on);

// Whether `call` is a wait for the GIL described by `gil`: a futex system
// call on an address inside the GIL's struct.
bool IsGilWait(const ThreadSyscall& call, const awd_gil_state& gil);

// Whether the GIL is held by a thread other than `tid` (an unknown holder
// counts as another).
bool HeldByAnother(const awd_gil_state& gil, pid_t tid);

// Thread `tid`'s system call as `read` gives it (ReadThreadSyscall), read
// again up to twice, 200 us apart, while it reads "running" and another
// thread holds `gil`: a thread waiting for the GIL wakes every 5 ms to ask
// for it again, and one read may find it on the way. Nothing when unreadable.
std::optional<ThreadSyscall> ReadCallOfGilWaiter(
    const std::function<std::optional<ThreadSyscall>(pid_t)>& read, pid_t tid,
    const awd_gil_state& gil);

// The rule above as a state machine over looks, with the readers injected
// (gil_wait_test). Watchdog thread only.
class GilStarvation {
 public:
  using GilFn = std::function<std::optional<awd_gil_state>()>;
  using SyscallFn = std::function<std::optional<ThreadSyscall>(pid_t)>;

  GilStarvation(GilFn read_gil, SyscallFn read_syscall)
      : read_gil_(std::move(read_gil)), read_syscall_(std::move(read_syscall)) {}

  // The loop state the hang detector is to see at `now_ns`, given the
  // probe's `real` one: `real` unless the loop's thread has been found
  // waiting for the GIL while the probe says idle; then busy since it was
  // first seen waiting, until a look finds it holding the GIL or blocked in
  // another call (it can get the GIL back and sleep in its selector again
  // without the probe stamping), then idle from that look. One look per
  // call (a read of the GIL and of /proc/self/task/<tid>/syscall): call it
  // about once per `interval`.
  LoopState Adjust(int64_t now_ns, LoopState real, pid_t loop_tid);

  // Whether the state Adjust last returned is a starvation's.
  bool starved() const { return starved_since_ns_ != 0; }
  // How much earlier than that stamp the wait may have begun: the period
  // since the last look that saw the loop's thread not waiting (holding the
  // GIL, blocked in another call, or the GIL free; a look that could not
  // tell does not count). 0 when not starved.
  int64_t uncertainty_ns() const { return starved() ? first_seen_ns_ - starved_since_ns_ : 0; }

 private:
  enum class Look { kWaits, kClear, kUnsure };
  Look LookAt(pid_t loop_tid);

  GilFn read_gil_;
  SyscallFn read_syscall_;
  LoopState idle_;                // the probe's idle state the looks are about
  int64_t last_clear_ns_ = 0;     // the last look that saw it not waiting
  int64_t starved_since_ns_ = 0;  // 0: not starved
  int64_t first_seen_ns_ = 0;
  int64_t ended_ns_ = 0;          // the look that ended the last starvation
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_GIL_WAIT_H_
