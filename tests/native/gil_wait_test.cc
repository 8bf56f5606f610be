// The GIL-starvation rules (gil_wait.h) on made-up looks: the GIL's state and
// the loop thread's system call are whatever each test says they are.
#include "detect/gil_wait.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <optional>

namespace aiowatchdog {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kBase = 9'000'000 * kMs;
constexpr pid_t kLoop = 100, kWorker = 200;
constexpr uintptr_t kGil = 0x7f0000001000, kGilSize = 0x100;

int64_t T(int64_t ms) { return kBase + ms * kMs; }

awd_gil_state Gil(int locked, pid_t holder) {
  awd_gil_state g{};
  g.locked = locked;
  g.holder_tid = holder;
  g.lo = kGil;
  g.hi = kGil + kGilSize;
  return g;
}

ThreadSyscall Futex(uintptr_t address) {
  ThreadSyscall call;
  call.state = ThreadSyscall::State::kBlocked;
  call.nr = SYS_futex;
  call.args[0] = address;
  return call;
}

ThreadSyscall EpollWait() {
  ThreadSyscall call;
  call.state = ThreadSyscall::State::kBlocked;
  call.nr = SYS_epoll_wait;
  return call;
}

// What the looks see, set by each test as time goes on.
struct World {
  std::optional<awd_gil_state> gil = Gil(0, 0);
  std::optional<ThreadSyscall> loop_call = EpollWait();
  int syscall_reads = 0;
};

GilStarvation Watching(World& w) {
  return GilStarvation([&w] { return w.gil; },
                       [&w](pid_t tid) {
                         EXPECT_EQ(tid, kLoop);
                         ++w.syscall_reads;
                         return w.loop_call;
                       });
}

const LoopState kIdle{T(0), true};

TEST(IsGilWait, OnlyAFutexInsideTheGilsStruct) {
  const awd_gil_state gil = Gil(1, kWorker);
  EXPECT_TRUE(IsGilWait(Futex(kGil), gil));
  EXPECT_TRUE(IsGilWait(Futex(kGil + kGilSize - 4), gil));
  EXPECT_FALSE(IsGilWait(Futex(kGil + kGilSize), gil));  // a lock just past it
  EXPECT_FALSE(IsGilWait(Futex(kGil - 4), gil));
  EXPECT_FALSE(IsGilWait(EpollWait(), gil));
  ThreadSyscall running;  // in user space
  EXPECT_FALSE(IsGilWait(running, gil));
}

TEST(GilStarvation, AnIdleLoopInItsSelectorStaysIdle) {
  World w;
  GilStarvation g = Watching(w);
  EXPECT_EQ(g.Adjust(T(250), kIdle, kLoop), kIdle);
  w.gil = Gil(1, kLoop);  // held by the loop itself: nothing to wait for, nothing read
  const int reads = w.syscall_reads;
  EXPECT_EQ(g.Adjust(T(500), kIdle, kLoop), kIdle);
  EXPECT_EQ(w.syscall_reads, reads);
  w.gil = Gil(1, kWorker);  // held elsewhere, but the loop is in epoll_wait
  EXPECT_EQ(g.Adjust(T(750), kIdle, kLoop), kIdle);
  w.loop_call = Futex(kGil);  // waiting, but for a GIL that is free: a hand-over
  w.gil = Gil(0, 0);
  EXPECT_EQ(g.Adjust(T(1000), kIdle, kLoop), kIdle);
  EXPECT_FALSE(g.starved());
}

TEST(GilStarvation, AFreeGilIsASureLookAndNothingIsReadForIt) {
  World w;
  GilStarvation g = Watching(w);
  ThreadSyscall running;  // whatever /proc would say: it is not read
  w.loop_call = running;
  for (int ms = 250; ms <= 1000; ms += 250) EXPECT_EQ(g.Adjust(T(ms), kIdle, kLoop), kIdle);
  EXPECT_EQ(w.syscall_reads, 0) << "an idle program's looks read no /proc file";
  w.gil = Gil(1, kWorker);
  w.loop_call = Futex(kGil);
  EXPECT_EQ(g.Adjust(T(1250), kIdle, kLoop), (LoopState{T(1250), false}));
  EXPECT_EQ(g.uncertainty_ns(), 250 * kMs) << "since the look at 1000, which saw the GIL free";
  // Starved, a free GIL proves nothing by itself: the loop's call is read.
  w.gil = Gil(0, 0);
  const int reads = w.syscall_reads;
  EXPECT_EQ(g.Adjust(T(1500), kIdle, kLoop), (LoopState{T(1250), false}))
      << "waiting still, for the GIL just let go: a hand-over, not the end";
  EXPECT_GT(w.syscall_reads, reads);
  w.loop_call = EpollWait();
  EXPECT_EQ(g.Adjust(T(1750), kIdle, kLoop), (LoopState{T(1750), true}));
}

TEST(GilStarvation, ALoopWaitingForTheGilCountsAsBusyFromTheFirstLookThatSawIt) {
  World w;
  GilStarvation g = Watching(w);
  EXPECT_EQ(g.Adjust(T(250), kIdle, kLoop), kIdle);  // in epoll_wait: seen not waiting
  w.gil = Gil(1, kWorker);
  w.loop_call = Futex(kGil + 8);
  // Busy from this look (a hang only an interval later: a wait first seen
  // may be a hand-over of a few milliseconds), and it may have begun as
  // early as the last look that saw it not waiting.
  EXPECT_EQ(g.Adjust(T(500), kIdle, kLoop), (LoopState{T(500), false}));
  EXPECT_TRUE(g.starved());
  EXPECT_EQ(g.uncertainty_ns(), 250 * kMs);
  EXPECT_EQ(g.Adjust(T(750), kIdle, kLoop), (LoopState{T(500), false}));
  w.gil = Gil(1, 300);  // the GIL passed to a third thread: starved still
  EXPECT_EQ(g.Adjust(T(1000), kIdle, kLoop), (LoopState{T(500), false}));
  ThreadSyscall running;  // between two of take_gil's timed waits: says nothing
  w.loop_call = running;
  EXPECT_EQ(g.Adjust(T(1250), kIdle, kLoop), (LoopState{T(500), false}));
  EXPECT_TRUE(g.starved());
}

TEST(GilStarvation, ItEndsWhenTheLoopGoesBackToSleepWithoutTheProbeStamping) {
  // The loop's thread got the GIL back, then dropped it again inside select's
  // own Python code or on its way into epoll_wait: in its selector again,
  // the probe never having stamped "busy".
  World w;
  GilStarvation g = Watching(w);
  w.gil = Gil(1, kWorker);
  w.loop_call = Futex(kGil);
  EXPECT_EQ(g.Adjust(T(250), kIdle, kLoop), (LoopState{T(250), false}));
  w.loop_call = EpollWait();
  // Idle from this look: never before the busy stamp (no negative block).
  EXPECT_EQ(g.Adjust(T(500), kIdle, kLoop), (LoopState{T(500), true}));
  EXPECT_FALSE(g.starved());
  EXPECT_EQ(g.Adjust(T(750), kIdle, kLoop), (LoopState{T(500), true}));
  // Holding the GIL ends it too.
  w.loop_call = Futex(kGil);
  EXPECT_EQ(g.Adjust(T(1000), kIdle, kLoop), (LoopState{T(1000), false}));
  EXPECT_EQ(g.uncertainty_ns(), 250 * kMs);  // since the look at 750
  w.gil = Gil(1, kLoop);
  EXPECT_EQ(g.Adjust(T(1250), kIdle, kLoop), (LoopState{T(1250), true}));
}

TEST(GilStarvation, ALookThatCannotTellDoesNotNarrowTheRange) {
  World w;
  GilStarvation g = Watching(w);
  w.gil = Gil(1, kWorker);
  ThreadSyscall running;
  w.loop_call = running;  // unsure at 250 and 500: the wait may be under way
  EXPECT_EQ(g.Adjust(T(250), kIdle, kLoop), kIdle);
  w.loop_call = std::nullopt;  // unreadable
  EXPECT_EQ(g.Adjust(T(500), kIdle, kLoop), kIdle);
  w.loop_call = Futex(kGil);
  EXPECT_EQ(g.Adjust(T(750), kIdle, kLoop), (LoopState{T(750), false}));
  EXPECT_EQ(g.uncertainty_ns(), 750 * kMs) << "since the idle stamp, the last sure look";
}

TEST(GilStarvation, AnUnknownHolderCountsAsAnother) {
  World w;
  GilStarvation g = Watching(w);
  w.gil = Gil(1, 0);
  w.loop_call = Futex(kGil);
  EXPECT_EQ(g.Adjust(T(300), kIdle, kLoop), (LoopState{T(300), false}));
  EXPECT_EQ(g.uncertainty_ns(), 300 * kMs);  // since the loop went idle
}

TEST(GilStarvation, TheProbeMovingEndsItAndANewIdlePeriodStartsAfresh) {
  World w;
  GilStarvation g = Watching(w);
  w.gil = Gil(1, kWorker);
  w.loop_call = Futex(kGil);
  EXPECT_EQ(g.Adjust(T(250), kIdle, kLoop), (LoopState{T(250), false}));
  // The loop got the GIL and ran: the probe's own busy stamp wins.
  const LoopState busy{T(1300), false};
  EXPECT_EQ(g.Adjust(T(1400), busy, kLoop), busy);
  EXPECT_FALSE(g.starved());
  // Idle again: the last look that saw no wait is where that idle began.
  const LoopState idle_again{T(1500), true};
  w.loop_call = EpollWait();
  EXPECT_EQ(g.Adjust(T(1600), idle_again, kLoop), idle_again);
  w.loop_call = Futex(kGil);
  EXPECT_EQ(g.Adjust(T(1850), idle_again, kLoop), (LoopState{T(1850), false}));
  EXPECT_EQ(g.uncertainty_ns(), 250 * kMs);
}

TEST(GilStarvation, NothingReadableMeansNotStarved) {
  World w;
  GilStarvation g = Watching(w);
  w.gil = std::nullopt;  // no reader, or the GIL could not be read
  EXPECT_EQ(g.Adjust(T(250), kIdle, kLoop), kIdle);
  w.gil = Gil(1, kWorker);
  w.loop_call = std::nullopt;  // the syscall file cannot be read
  EXPECT_EQ(g.Adjust(T(500), kIdle, kLoop), kIdle);
  EXPECT_EQ(g.Adjust(T(750), LoopState{}, kLoop), LoopState{});  // not armed
  EXPECT_FALSE(g.starved());
}

}  // namespace
}  // namespace aiowatchdog
