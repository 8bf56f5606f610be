#include "detect/gil_wait.h"

#include <sys/syscall.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace aiowatchdog {

namespace {
std::atomic<int (*)(awd_gil_state*)> gil_reader{nullptr};
std::atomic<bool> idle_looks{true};
}  // namespace

void SetGilReader(int (*read)(awd_gil_state*)) { gil_reader.store(read); }

bool IdleLooksOn() { return idle_looks.load() && gil_reader.load() != nullptr; }

void SetIdleLooks(bool on) { idle_looks.store(on); }

std::optional<awd_gil_state> ReadGil() {
  int (*read)(awd_gil_state*) = gil_reader.load();
  awd_gil_state state;
  if (read == nullptr || read(&state) != 1) return std::nullopt;
  return state;
}

bool IsGilWait(const ThreadSyscall& call, const awd_gil_state& gil) {
  return call.state == ThreadSyscall::State::kBlocked && call.nr == SYS_futex &&
         call.args[0] >= gil.lo && call.args[0] < gil.hi;
}

bool HeldByAnother(const awd_gil_state& gil, pid_t tid) {
  return gil.locked != 0 && gil.holder_tid != tid;
}

std::optional<ThreadSyscall> ReadCallOfGilWaiter(
    const std::function<std::optional<ThreadSyscall>(pid_t)>& read, pid_t tid,
    const awd_gil_state& gil) {
  std::optional<ThreadSyscall> call = read(tid);
  for (int again = 0; again < 2 && call && call->state == ThreadSyscall::State::kRunning &&
                      HeldByAnother(gil, tid);
       ++again) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    call = read(tid);
  }
  return call;
}

LoopState GilStarvation::Adjust(int64_t now_ns, LoopState real, pid_t loop_tid) {
  if (!real.idle || real.stamp_ns == 0 || loop_tid == 0) {
    starved_since_ns_ = 0;
    ended_ns_ = 0;
    idle_ = LoopState{};
    return real;
  }
  if (real != idle_) {  // a new idle period: nothing seen of it yet
    idle_ = real;
    starved_since_ns_ = 0;
    ended_ns_ = 0;
    last_clear_ns_ = real.stamp_ns;
  }
  const Look look = LookAt(loop_tid);
  if (starved_since_ns_ != 0) {
    if (look != Look::kClear) return LoopState{first_seen_ns_, false};
    // It has the GIL, or sleeps in a call again having had it (back in its
    // selector without the probe stamping: the GIL dropped at an eval
    // breaker check inside select's Python part, or a hand-over on the way
    // into epoll_wait): the starvation is over, now.
    starved_since_ns_ = 0;
    last_clear_ns_ = ended_ns_ = now_ns;
    return LoopState{ended_ns_, true};
  }
  if (look == Look::kWaits) {
    starved_since_ns_ = last_clear_ns_;
    first_seen_ns_ = now_ns;
    return LoopState{first_seen_ns_, false};
  }
  if (look == Look::kClear) last_clear_ns_ = now_ns;
  // After a starvation ended, idle from its end (the detector's stamps never
  // go back), until the probe moves.
  return ended_ns_ != 0 ? LoopState{ended_ns_, true} : real;
}

GilStarvation::Look GilStarvation::LookAt(pid_t loop_tid) {
  const std::optional<awd_gil_state> gil = read_gil_();
  if (!gil) return Look::kUnsure;
  if (gil->locked != 0 && gil->holder_tid == loop_tid) return Look::kClear;  // it has the GIL
  // Nobody holds it: the loop is not starved now (a wait for it, if any, is
  // a hand-over of microseconds), and /proc is not read. This is every look
  // at an idle program, whose cost is the idle overhead (issue #18). While
  // starved, the call is read: a free GIL is no proof the loop came back.
  if (gil->locked == 0 && !starved()) return Look::kClear;
  // "running" (between two of take_gil's 5 ms timed waits, or on its way to
  // or from a call) and an unreadable file say nothing.
  const std::optional<ThreadSyscall> call = ReadCallOfGilWaiter(read_syscall_, loop_tid, *gil);
  if (!call || call->state != ThreadSyscall::State::kBlocked) return Look::kUnsure;
  if (!IsGilWait(*call, *gil)) return Look::kClear;  // in its selector, or any other call
  // Waiting for a free GIL: a hand-over under way.
  return HeldByAnother(*gil, loop_tid) ? Look::kWaits : Look::kUnsure;
}

}  // namespace aiowatchdog
