#include "gil_wait.h"

#include <sys/syscall.h>

#include <atomic>

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

LoopState GilStarvation::Adjust(int64_t now_ns, LoopState real, pid_t loop_tid) {
  if (!real.idle || real.stamp_ns == 0 || loop_tid == 0) {
    starved_since_ns_ = 0;
    idle_ = LoopState{};
    return real;
  }
  if (real != idle_) {  // a new idle period: nothing seen of it yet
    idle_ = real;
    starved_since_ns_ = 0;
    last_clear_ns_ = real.stamp_ns;
  }
  // Once starved, starved until the probe moves: the loop's thread stamps
  // "busy" as soon as it has the GIL again (the first thing it runs), and
  // with the GIL passed on to a third thread it is starved still.
  if (starved_since_ns_ != 0) return LoopState{first_seen_ns_, false};
  const std::optional<awd_gil_state> gil = read_gil_();
  if (gil && HeldByAnother(*gil, loop_tid)) {
    const std::optional<ThreadSyscall> call = read_syscall_(loop_tid);
    if (call && IsGilWait(*call, *gil)) {
      starved_since_ns_ = last_clear_ns_;
      first_seen_ns_ = now_ns;
      return LoopState{first_seen_ns_, false};
    }
  }
  last_clear_ns_ = now_ns;
  return real;
}

}  // namespace aiowatchdog
