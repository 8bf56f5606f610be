// Why the loop was blocked: the /proc readers it relies on (against real
// threads of this process), the window arithmetic, the classifier's rules,
// and the watchdog putting the verdict into its reports and episodes.
#include "detect/loop_activity.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "capture/capture.h"
#include "common/clock.h"
#include "fake_walker.h"
#include "detect/gc_phase.h"
#include "proc/proc_task.h"
#include "watchdog.h"

namespace aiowatchdog {
namespace {

using std::chrono::milliseconds;

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// A thread that sleeps (or spins) until told to stop, and says its tid.
class Helper {
 public:
  explicit Helper(bool spin)
      : thread_([this, spin] {
          tid_.store(Gettid());
          while (!stop_.load()) {
            if (!spin) std::this_thread::sleep_for(milliseconds(1));
          }
        }) {
    while (tid_.load() == 0) std::this_thread::yield();
  }
  ~Helper() {
    stop_.store(true);
    thread_.join();
  }
  pid_t tid() const { return tid_.load(); }

 private:
  std::atomic<pid_t> tid_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---- the readers ------------------------------------------------------------

TEST(ProcParsers, SchedStatHasThreeNonNegativeNumbers) {
  const auto stat = ParseSchedStat("4821 377 12\n");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->cpu_ns, 4821);
  EXPECT_EQ(stat->runqueue_ns, 377);
  EXPECT_EQ(stat->timeslices, 12);
  EXPECT_TRUE(ParseSchedStat("0 0 0"));
  for (const char* bad : {"", "\n", "1 2", "1 2 x", "1 -2 3", "1 2 3x", "a 2 3",
                          "99999999999999999999 1 1"}) {
    EXPECT_FALSE(ParseSchedStat(bad)) << '"' << bad << '"';
  }
}

TEST(ProcParsers, SyscallFileGivesTheNumberOrNothingWhileRunning) {
  EXPECT_EQ(ParseSyscallNumber("202 0x7f1 0x80 0x2 0x0 0x0 0x0 0x7ffd 0x7f3\n"), 202);
  EXPECT_EQ(ParseSyscallNumber("-1 0x7ffd0 0x7f30\n"), kNotInSyscall);
  EXPECT_EQ(ParseSyscallNumber("running\n"), std::nullopt);
  for (const char* bad : {"", "-", "-2 0x1 0x2", "12x 0x1", "x"}) {
    EXPECT_EQ(ParseSyscallNumber(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST(ProcReaders, ASleepingThreadIsInItsSleepCall) {
  Helper sleeper(/*spin=*/false);
  // sleep_for is clock_nanosleep in glibc; the thread is in it nearly always.
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    const SchedSnapshot s = ReadSchedSnapshot(sleeper.tid());
    seen = s.state == 'S' && s.syscall == SYS_clock_nanosleep;
  }
  EXPECT_TRUE(seen);
  const SchedSnapshot s = ReadSchedSnapshot(sleeper.tid());
  EXPECT_GT(s.at_ns, 0);
  EXPECT_TRUE(s.cpu_ns);
  EXPECT_TRUE(s.sched);
  EXPECT_EQ(ReadSyscallNumber(Gettid()), SYS_read) << "this thread, as it reads the file";
}

TEST(ProcReaders, TheCpuClockCountsARunningThreadsCurrentSlice) {
  Helper spinner(/*spin=*/true);
  const SchedSnapshot before = ReadSchedSnapshot(spinner.tid());
  std::this_thread::sleep_for(milliseconds(30));
  const SchedSnapshot after = ReadSchedSnapshot(spinner.tid());
  ASSERT_TRUE(before.cpu_ns && after.cpu_ns);
  // A spinner on a loaded 2-core machine still gets a good part of 30 ms.
  EXPECT_GT(*after.cpu_ns - *before.cpu_ns, 3'000'000);
  EXPECT_LE(*after.cpu_ns - *before.cpu_ns, after.at_ns - before.at_ns + 1'000'000);
}

TEST(ProcReaders, AGoneThreadIsUnknownNotAnError) {
  pid_t gone = 0;
  std::thread([&] { gone = Gettid(); }).join();
  const SchedSnapshot s = ReadSchedSnapshot(gone);
  EXPECT_EQ(s.state, '?');
  EXPECT_FALSE(s.syscall);
  EXPECT_FALSE(s.cpu_ns);
  EXPECT_FALSE(s.sched);
  EXPECT_FALSE(ReadThreadCpuNs(0));
}

// ---- names --------------------------------------------------------------------

TEST(LoopActivity, SyscallNamesAndNumbers) {
  EXPECT_EQ(SyscallName(SYS_futex), "futex");
  EXPECT_EQ(SyscallName(SYS_clock_nanosleep), "clock_nanosleep");
  EXPECT_EQ(SyscallName(SYS_read), "read");
  EXPECT_EQ(SyscallName(SYS_epoll_wait), "epoll_wait");
  EXPECT_EQ(SyscallName(100000), "#100000");
}

TEST(LoopActivity, GilAcquireFunctionsAsTheReportWritesThem) {
  for (const char* yes : {"take_gil", "take_gil + 0x3f", "take_gil.constprop.0 + 0x1",
                          "PyEval_RestoreThread + 0x19", "PyGILState_Ensure",
                          "_PyThreadState_Attach + 0x8a", "PyEval_AcquireThread"}) {
    EXPECT_TRUE(IsGilAcquireFunction(yes)) << yes;
  }
  for (const char* no : {"", "take_gilx", "my_take_gil", "drop_gil + 0x10", "0x7f0011",
                         "PyEval_SaveThread", "take"}) {
    EXPECT_FALSE(IsGilAcquireFunction(no)) << no;
  }
  const Frame python{"python", "/app.py", 3, "take_gil", ""};
  const Frame native{"native", "libpython3.11.so", -1, "take_gil + 0x2c", ""};
  const Frame wait{"native", "libc.so.6", -1, "pthread_cond_timedwait + 0x1", ""};
  EXPECT_FALSE(WaitsForGil({python, wait})) << "only native frames count";
  EXPECT_TRUE(WaitsForGil({python, native, wait}));
}

// ---- windows --------------------------------------------------------------------

SchedSnapshot At(int64_t at, char state, int64_t cpu, int64_t runqueue, int64_t slices) {
  SchedSnapshot s;
  s.at_ns = at;
  s.state = state;
  s.cpu_ns = cpu;
  s.sched = SchedStat{cpu, runqueue, slices};
  return s;
}

TEST(WindowBetween, RunningAllAlong) {
  const SchedWindow w = WindowBetween(At(1000, 'R', 0, 0, 5), At(2000, 'R', 990, 0, 5));
  EXPECT_EQ(w.wall_ns, 1000);
  EXPECT_EQ(w.cpu_ns, 990);
  EXPECT_EQ(w.runqueue_ns, 10);
}

TEST(WindowBetween, AWaitStillGoingOnIsRunQueueTime) {
  // Runnable at both ends, never put on a CPU: schedstat has not counted
  // the wait yet.
  const SchedWindow w = WindowBetween(At(1000, 'R', 50, 7, 5), At(51000, 'R', 50, 7, 5));
  EXPECT_EQ(w.cpu_ns, 0);
  EXPECT_EQ(w.runqueue_ns, 50000);
}

TEST(WindowBetween, AWaitThatBeganBeforeTheWindowCountsOnlyInsideIt) {
  const SchedWindow w = WindowBetween(At(1000, 'R', 0, 0, 5), At(2000, 'R', 200, 5000, 6));
  EXPECT_EQ(w.cpu_ns, 200);
  EXPECT_EQ(w.runqueue_ns, 800);
}

TEST(WindowBetween, SleepIsNeitherCpuNorRunQueue) {
  const SchedWindow w = WindowBetween(At(1000, 'S', 0, 0, 5), At(2000, 'S', 100, 20, 6));
  EXPECT_EQ(w.cpu_ns, 100);
  EXPECT_EQ(w.runqueue_ns, 20);
  const SchedWindow woke = WindowBetween(At(1000, 'S', 0, 0, 5), At(2000, 'R', 100, 0, 5));
  EXPECT_EQ(woke.runqueue_ns, 0) << "asleep at the start: the inference does not apply";
}

TEST(WindowBetween, OurHandlersTimeIsTakenOffCpuAndWall) {
  const SchedWindow w = WindowBetween(At(1000, 'S', 0, 0, 5), At(2000, 'S', 300, 0, 6), 250);
  EXPECT_EQ(w.wall_ns, 750);
  EXPECT_EQ(w.cpu_ns, 50);
  // Never more than the CPU time there is.
  const SchedWindow more = WindowBetween(At(1000, 'S', 0, 0, 5), At(2000, 'S', 100, 0, 6), 900);
  EXPECT_EQ(more.cpu_ns, 0);
  EXPECT_EQ(more.wall_ns, 900);
}

TEST(WindowBetween, UnknownPartsStayUnknown) {
  SchedSnapshot from = At(1000, 'R', 0, 0, 5), to = At(2000, 'R', 500, 100, 6);
  EXPECT_EQ(WindowBetween(to, from).wall_ns, -1) << "backwards";
  EXPECT_EQ(WindowBetween(SchedSnapshot{}, to).wall_ns, -1) << "never read";
  SchedSnapshot no_sched = to;
  no_sched.sched.reset();
  SchedWindow w = WindowBetween(from, no_sched);
  EXPECT_EQ(w.cpu_ns, 500);
  EXPECT_EQ(w.runqueue_ns, -1);
  SchedSnapshot no_cpu = to;
  no_cpu.cpu_ns.reset();
  w = WindowBetween(from, no_cpu);
  EXPECT_EQ(w.cpu_ns, -1);
  EXPECT_EQ(w.wall_ns, 1000);
  EXPECT_EQ(w.runqueue_ns, 100);
  LoopActivity a;
  SetShares(w, a);
  EXPECT_EQ(a.cpu_share, -1);
  EXPECT_DOUBLE_EQ(a.runqueue_share, 0.1);
}

// ---- the rules --------------------------------------------------------------------

ActivityEvidence Evidence(char state, int64_t cpu, int64_t runqueue) {
  ActivityEvidence e;
  e.state = state;
  e.window = SchedWindow{1000, cpu, runqueue};
  return e;
}

TEST(ClassifyLoopActivity, TheRulesInOrder) {
  ActivityEvidence e = Evidence('S', 0, 0);
  e.syscall = SYS_futex;
  e.waits_for_gil = true;
  EXPECT_EQ(ClassifyLoopActivity(e).state, "gil") << "GIL frames first";
  EXPECT_EQ(ClassifyLoopActivity(e).syscall, "");

  e.waits_for_gil = false;
  LoopActivity a = ClassifyLoopActivity(e);
  EXPECT_EQ(a.state, "syscall");
  EXPECT_EQ(a.syscall, "futex");
  EXPECT_DOUBLE_EQ(a.cpu_share, 0);
  EXPECT_DOUBLE_EQ(a.runqueue_share, 0);

  e = Evidence('D', 10, 0);
  e.syscall = kNotInSyscall;
  EXPECT_EQ(ClassifyLoopActivity(e).state, "syscall");
  EXPECT_EQ(ClassifyLoopActivity(e).syscall, "") << "blocked outside a syscall";
  e.syscall = 100000;
  EXPECT_EQ(ClassifyLoopActivity(e).syscall, "#100000");
  e.syscall.reset();
  EXPECT_EQ(ClassifyLoopActivity(e).syscall, "");

  for (char state : {'?', 'Z', 'X'}) {
    EXPECT_EQ(ClassifyLoopActivity(Evidence(state, 900, 0)).state, "unknown") << state;
  }

  a = ClassifyLoopActivity(Evidence('R', 980, 10));
  EXPECT_EQ(a.state, "on-cpu");
  EXPECT_DOUBLE_EQ(a.cpu_share, 0.98);
  EXPECT_DOUBLE_EQ(a.runqueue_share, 0.01);
  EXPECT_EQ(a.syscall, "");
  EXPECT_EQ(ClassifyLoopActivity(Evidence('R', 30, 950)).state, "starved");
  EXPECT_EQ(ClassifyLoopActivity(Evidence('R', 500, 500)).state, "on-cpu") << "a tie";
  EXPECT_EQ(ClassifyLoopActivity(Evidence('R', -1, 950)).state, "on-cpu") << "CPU unknown";
  EXPECT_EQ(ClassifyLoopActivity(Evidence('R', 30, -1)).state, "on-cpu") << "run queue unknown";

  e = Evidence('R', 900, 0);
  e.gc_running = true;
  EXPECT_TRUE(ClassifyLoopActivity(e).gc_running);
  EXPECT_FALSE(ClassifyLoopActivity(Evidence('R', 900, 0)).gc_running);
}

TEST(ClassifySample, UsesTheLoopThreadsFramesAndTakesThePreviousPauseOff) {
  SampleReport report;
  ThreadReport other, loop;
  other.frames = {Frame{"native", "libpython", -1, "take_gil + 0x1", ""}};
  loop.is_loop = true;
  loop.frames = {Frame{"native", "libc.so.6", -1, "clock_nanosleep + 0x1", ""}};
  report.threads = {loop, other};
  report.loop_pause_ms = 0.9;  // this sample's: after its window
  const SchedSnapshot start = At(1'000'000, 'S', 0, 0, 5);
  SchedSnapshot before = At(2'000'000, 'S', 300'000, 0, 6);
  before.syscall = SYS_clock_nanosleep;
  LoopActivity a = ClassifySample(report, start, before, 250'000, /*gc_running=*/false);
  EXPECT_EQ(a.state, "syscall");
  EXPECT_EQ(a.syscall, "clock_nanosleep");
  EXPECT_NEAR(a.cpu_share, 50'000.0 / 750'000, 1e-9) << "250 us in our handler are not its own";

  report.threads[0].frames.push_back(other.frames[0]);
  EXPECT_EQ(ClassifySample(report, start, before, 0, false).state, "gil");
}

TEST(ClassifySample, AFutexWaitOnTheGilIsAWaitForItWithoutNamedFrames) {
  // Debian's 3.14 names no take_gil frame: the futex's address says it.
  SampleReport report;
  ThreadReport loop;
  loop.is_loop = true;
  loop.frames = {Frame{"native", "python3.14 + 0x1234", -1, "0x401234", ""}};
  report.threads = {loop};
  SchedSnapshot before = At(2'000'000, 'S', 0, 0, 6);
  before.syscall = SYS_futex;
  const SchedSnapshot start = At(1'000'000, 'S', 0, 0, 5);
  EXPECT_EQ(ClassifySample(report, start, before, 0, false, /*gil_wait=*/false).state, "syscall");
  EXPECT_EQ(ClassifySample(report, start, before, 0, false, /*gil_wait=*/true).state, "gil");
}

TEST(ActivityWindow, ATwentiethOfTheIntervalWithinBounds) {
  EXPECT_EQ(ActivityWindowNs(250'000'000), 5'000'000);
  EXPECT_EQ(ActivityWindowNs(50'000'000), 2'500'000);
  EXPECT_EQ(ActivityWindowNs(5'000'000), 500'000);
}

TEST(ReviseOverEpisode, SharesAndTheRunnableVerdictFollowTheLongerWindow) {
  LoopActivity a = ClassifyLoopActivity(Evidence('R', 0, 1000));
  ASSERT_EQ(a.state, "starved");
  ReviseOverEpisode(SchedWindow{100000, 70000, 30000}, a);
  EXPECT_EQ(a.state, "on-cpu");
  EXPECT_DOUBLE_EQ(a.cpu_share, 0.7);
  ReviseOverEpisode(SchedWindow{100000, 20000, 80000}, a);
  EXPECT_EQ(a.state, "starved");
  ReviseOverEpisode(SchedWindow{}, a);
  EXPECT_EQ(a.state, "starved") << "unknown shares change nothing";
  EXPECT_EQ(a.cpu_share, -1);

  ActivityEvidence e = Evidence('S', 0, 0);
  e.syscall = SYS_read;
  a = ClassifyLoopActivity(e);
  ReviseOverEpisode(SchedWindow{100000, 10000, 90000}, a);
  EXPECT_EQ(a.state, "syscall") << "only on-cpu and starved are decided by shares";
  EXPECT_EQ(a.syscall, "read");
}

// ---- the collector's flag ------------------------------------------------------------

TEST(GcPhase, OneCollectingThreadAtATime) {
  EXPECT_EQ(CollectingThread(), 0);
  NoteCollectingThread(1234);
  EXPECT_EQ(CollectingThread(), 1234);
  NoteCollectingThread(0);
  EXPECT_EQ(CollectingThread(), 0);
}

// ---- the watchdog ---------------------------------------------------------------------

WatchdogOptions OneSample(const std::string& dir) {
  WatchdogOptions o;
  o.output_dir = dir;
  o.interval_ns = 50'000'000;
  o.samples = 1;
  o.sample_interval_ns = 1'000'000'000;
  o.python_version = "test";
  o.max_episodes_per_minute = 1000;
  return o;
}

// One hang of this thread as "the loop", doing `block` meanwhile.
template <typename Block>
FinishedEpisode HangWhile(Watchdog& dog, Block block) {
  dog.Touch(/*idle=*/false);
  block();
  dog.Touch(/*idle=*/true);
  for (int i = 0; i < 200 && !dog.HasFinished(); ++i) std::this_thread::sleep_for(milliseconds(2));
  auto finished = dog.TakeFinished();
  EXPECT_EQ(finished.size(), 1u);
  return finished.empty() ? FinishedEpisode{} : finished[0];
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(WatchdogLoopActivity, ReportsAndEpisodesSayWhatTheLoopThreadDid) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  char templ[] = "/tmp/aiowatchdog-activity-XXXXXX";
  const std::string dir = mkdtemp(templ);
  Watchdog dog(OneSample(dir));
  ASSERT_TRUE(dog.Start().ok());

  const FinishedEpisode slept = HangWhile(dog, [] { std::this_thread::sleep_for(milliseconds(150)); });
  ASSERT_TRUE(slept.activity);
  EXPECT_EQ(slept.activity->state, "syscall");
  EXPECT_EQ(slept.activity->syscall, "clock_nanosleep");
  EXPECT_FALSE(slept.activity->gc_running);
  // Over the whole episode (detection to recovery): asleep, not on a CPU.
  EXPECT_GE(slept.activity->cpu_share, 0);
  EXPECT_LT(slept.activity->cpu_share, 0.2);
  ASSERT_EQ(slept.report_paths.size(), 1u);
  EXPECT_NE(ReadText(slept.report_paths[0]).find("# Loop thread: waiting in a syscall (clock_nanosleep, CPU 0%, "),
            std::string::npos)
      << ReadText(slept.report_paths[0]);

  const FinishedEpisode spun = HangWhile(dog, [] {
    const int64_t end = MonotonicNowNs() + 150'000'000;
    while (MonotonicNowNs() < end) {
    }
  });
  ASSERT_TRUE(spun.activity);
  EXPECT_TRUE(spun.activity->state == "on-cpu" || spun.activity->state == "starved")
      << spun.activity->state;
  // Runnable all along; on a loaded two-core machine schedstat leaves part of
  // a preemption unattributed (seen: 0.88), while a sleep gives under 0.2.
  EXPECT_GT(spun.activity->cpu_share + spun.activity->runqueue_share, 0.8)
      << "runnable all along: on a CPU or waiting for one";

  NoteCollectingThread(Gettid());  // as the gc callback does at "start"
  const FinishedEpisode collected = HangWhile(dog, [] { std::this_thread::sleep_for(milliseconds(120)); });
  NoteCollectingThread(0);
  ASSERT_TRUE(collected.activity);
  EXPECT_TRUE(collected.activity->gc_running);
  EXPECT_NE(ReadText(collected.report_paths.at(0)).find("; garbage collector running\n"),
            std::string::npos);
}

}  // namespace
}  // namespace aiowatchdog
