// The signal hand-off: every thread answers for itself, a thread that blocks
// the signal is reported without waiting, a foreign signal reaches the
// previous handler, and a stray signal never kills the process.
#include "capture/capture.h"

#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "fake_walker.h"
#include "proc/proc_task.h"
#include "sample/symbolizer.h"

namespace aiowatchdog {
namespace {

using testing::FakeWalker;
using testing::TestSignal;

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Threads that park until released, reporting their tids.
class ParkedThreads {
 public:
  ParkedThreads(int n, bool block_signal) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, block_signal] {
        if (block_signal) {
          sigset_t set;
          sigemptyset(&set);
          sigaddset(&set, TestSignal());
          pthread_sigmask(SIG_BLOCK, &set, nullptr);
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          tids_.push_back(Tid());
        }
        while (!release_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      });
    }
    while (true) {
      std::lock_guard<std::mutex> lock(mu_);
      if (tids_.size() == threads_.size()) break;
    }
  }
  ~ParkedThreads() {
    release_ = true;
    for (auto& t : threads_) t.join();
  }
  std::vector<pid_t> tids() {
    std::lock_guard<std::mutex> lock(mu_);
    return tids_;
  }

 private:
  std::mutex mu_;
  std::vector<pid_t> tids_;
  std::atomic<bool> release_{false};
  std::vector<std::thread> threads_;
};

std::vector<RawThreadCapture> CaptureAll(pid_t first = 0, bool native = true) {
  CaptureRequest request;
  request.first = first;
  request.native = native;
  return CaptureAllThreads(request).threads;
}

const RawThreadCapture* Find(const std::vector<RawThreadCapture>& all, pid_t tid) {
  for (const auto& c : all) {
    if (c.tid == tid) return &c;
  }
  return nullptr;
}

TEST(Capture, EveryThreadRecordsItsOwnStack) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  ParkedThreads parked(8, /*block_signal=*/false);
  const auto captures = CaptureAll(parked.tids()[3]);
  EXPECT_EQ(captures.front().tid, parked.tids()[3]) << "the loop's thread goes first";
  for (pid_t tid : parked.tids()) {
    const RawThreadCapture* c = Find(captures, tid);
    ASSERT_NE(c, nullptr) << tid;
    EXPECT_EQ(c->outcome, RawThreadCapture::Outcome::kAnswered);
    EXPECT_EQ(c->ident, static_cast<uint64_t>(tid) * 10);
    ASSERT_EQ(c->frames.size(), 2u);
    EXPECT_EQ(c->frames[0].function, "blocking_call");
    EXPECT_EQ(c->frames[1].line, tid) << "the answer came from that thread itself";
  }
  EXPECT_EQ(Find(captures, Tid()), nullptr) << "the capturing thread skips itself";
}

TEST(Capture, ABlockingThreadIsReportedWithoutWaiting) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  ParkedThreads blocking(3, /*block_signal=*/true);
  const auto start = std::chrono::steady_clock::now();
  const auto captures = CaptureAll();
  const auto took = std::chrono::steady_clock::now() - start;
  for (pid_t tid : blocking.tids()) {
    const RawThreadCapture* c = Find(captures, tid);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->outcome, RawThreadCapture::Outcome::kSignalsBlocked);
    EXPECT_TRUE(c->frames.empty());
  }
  // Three 50 ms timeouts would take 150 ms; the SigBlk check after 1 ms
  // without an answer (then 2 ms of re-reads per thread) avoids them.
  EXPECT_LT(took, std::chrono::milliseconds(140));
}

// A thread's state is the one it had before the capture touched it. This one
// waits in select(), which a signal always cuts short (as bare libc calls in
// real code are), and then computes: read after its signal, it would show R.
TEST(Capture, AThreadsStateIsReadBeforeItsSignalWakesIt) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  std::atomic<pid_t> tid{0};
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    tid = Tid();
    timeval ten_seconds{10, 0};
    select(0, nullptr, nullptr, nullptr, &ten_seconds);
    while (!stop.load()) {
    }
  });
  while (tid.load() == 0) std::this_thread::yield();
  for (int i = 0; i < 2000; ++i) {
    const std::optional<KernelTaskInfo> info = ReadTaskInfo(tid.load());
    if (info && info->state == 'S') break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto captures = CaptureAll();
  const RawThreadCapture* c = Find(captures, tid.load());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->outcome, RawThreadCapture::Outcome::kAnswered);
  EXPECT_EQ(c->kernel_state, 'S') << "read after the signal woke it";
  const std::optional<KernelTaskInfo> now = ReadTaskInfo(tid.load());
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->state, 'R') << "the signal did end its wait (the test's premise)";
  stop.store(true);
  waiter.join();
}

// A thread's start time, from .../stat's 22nd field even with a name full of
// spaces and parentheses, is the process's for its main thread, and a later
// thread's is no earlier.
TEST(ProcTask, StartTimeComesFromTheTwentySecondField) {
  const std::optional<KernelTaskInfo> self = ReadTaskInfo(static_cast<pid_t>(getpid()));
  ASSERT_TRUE(self.has_value());
  FILE* f = std::fopen("/proc/self/stat", "r");
  ASSERT_NE(f, nullptr);
  char buf[1024] = {};
  ASSERT_NE(std::fgets(buf, sizeof(buf), f), nullptr);
  std::fclose(f);
  const char* after = std::strrchr(buf, ')') + 2;  // at the state, field 3
  long long fields[20] = {};
  char state = 0;
  ASSERT_EQ(std::sscanf(after, "%c %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld "
                        "%lld %lld %lld %lld %lld %lld %lld", &state, &fields[0], &fields[1],
                        &fields[2], &fields[3], &fields[4], &fields[5], &fields[6], &fields[7],
                        &fields[8], &fields[9], &fields[10], &fields[11], &fields[12], &fields[13],
                        &fields[14], &fields[15], &fields[16], &fields[17], &fields[18]),
            20);
  EXPECT_EQ(self->start_ticks, fields[18]);  // field 22
  std::atomic<pid_t> tid{0};
  std::atomic<bool> stop{false};
  std::thread named([&] {
    pthread_setname_np(pthread_self(), ") (a b) c");
    tid = Tid();
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (tid.load() == 0) std::this_thread::yield();
  const std::optional<KernelTaskInfo> other = ReadTaskInfo(tid.load());
  stop.store(true);
  named.join();
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->comm, ") (a b) c");
  EXPECT_GE(other->start_ticks, self->start_ticks);
}

// Queued signals of this user (SigQ's first number in /proc/self/status).
int QueuedSignals() {
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  int queued = -1;
  while (f != nullptr && std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "SigQ: %d/", &queued) == 1) break;
  }
  if (f != nullptr) std::fclose(f);
  return queued;
}

TEST(Capture, ABlockingThreadNeverCollectsQueuedSignals) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  ParkedThreads blocking(1, /*block_signal=*/true);
  const int before = QueuedSignals();
  ASSERT_GE(before, 0);
  for (int round = 0; round < 10; ++round) {
    const auto captures = CaptureAll();
    const RawThreadCapture* c = Find(captures, blocking.tids()[0]);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->outcome, RawThreadCapture::Outcome::kSignalsBlocked);
  }
  // The first capture's signal stays queued on the thread; later captures see
  // it blocking in /proc and send nothing more.
  EXPECT_LE(QueuedSignals() - before, 1);
}

// Whether `tid` has the test signal pending for itself (SigPnd of its
// /proc status): unlike SigQ, which counts every queued signal of the user,
// other processes do not disturb it.
bool PendingForThread(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
  FILE* f = std::fopen(path, "r");
  char line[256];
  unsigned long long mask = 0;
  while (f != nullptr && std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "SigPnd: %llx", &mask) == 1) break;
  }
  if (f != nullptr) std::fclose(f);
  return (mask >> (TestSignal() - 1)) & 1;
}

// Issue 15 item 3: a capture signal still queued for a thread that calls
// execve survives the exec and kills the new program. The fence before an
// exec takes it off the queue and keeps later captures away from the thread.
TEST(Capture, TheExecFenceTakesOurQueuedSignalOffAndKeepsCapturesAway) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  std::atomic<int> step{0};
  std::atomic<int> pending_after_fence{-1};
  pid_t tid = 0;
  std::thread execing([&] {
    tid = Tid();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, TestSignal());
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // as a thread deep in C code might
    step = 1;
    while (step != 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    FenceThisThreadForExec();  // what os.execv's wrapper calls first
    pending_after_fence = PendingForThread(tid);
    step = 3;
    while (step != 4) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    UnfenceThisThread();
  });
  while (step != 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Blocked: the capture's signal stays queued for the thread.
  const RawThreadCapture* blocked = nullptr;
  const auto first = CaptureAll();
  blocked = Find(first, tid);
  ASSERT_NE(blocked, nullptr);
  EXPECT_EQ(blocked->outcome, RawThreadCapture::Outcome::kSignalsBlocked);
  EXPECT_TRUE(PendingForThread(tid));
  // Unblocking delivers it to our handler (dropped as stale); the fence then
  // leaves nothing queued, and no capture signals the thread any more.
  step = 2;
  while (step != 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(pending_after_fence.load(), 0);
  EXPECT_EQ(Find(CaptureAll(), tid), nullptr) << "fenced: not sampled";
  EXPECT_FALSE(PendingForThread(tid));
  step = 4;
  execing.join();
}

// The fence run while the signal is still blocked: what is queued is taken
// off by the fence itself (sigtimedwait), not delivered.
TEST(Capture, TheExecFenceDrainsASignalQueuedForABlockingThread) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  std::atomic<int> step{0};
  std::atomic<int> pending_after_fence{-1};
  pid_t tid = 0;
  std::thread execing([&] {
    tid = Tid();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, TestSignal());
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    step = 1;
    while (step != 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    FenceThisThreadForExec();
    pending_after_fence = PendingForThread(tid);
    UnfenceThisThread();
    step = 3;
  });
  while (step != 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto first = CaptureAll();
  ASSERT_NE(Find(first, tid), nullptr);
  EXPECT_TRUE(PendingForThread(tid));
  step = 2;
  while (step != 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(pending_after_fence.load(), 0) << "an exec now would start clean";
  execing.join();
}

TEST(Capture, SkippedThreadsAreNeverSignalled) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  ParkedThreads parked(2, false);
  AddThreadToSkip(parked.tids()[0]);
  const auto captures = CaptureAll();
  RemoveThreadToSkip(parked.tids()[0]);
  EXPECT_EQ(Find(captures, parked.tids()[0]), nullptr);
  EXPECT_NE(Find(captures, parked.tids()[1]), nullptr);
}

TEST(Capture, EachThreadAlsoRecordsItsNativeStack) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  ParkedThreads parked(2, false);
  Symbolizer symbolizer;
  for (const RawThreadCapture& c : CaptureAll()) {
    if (c.tid != parked.tids()[0]) continue;
    ASSERT_GE(c.native_pcs.size(), 3u);
    // Parked in sleep_for: the interrupted frame is the C library's sleep,
    // and std::thread's entry point is further out.
    std::string names;
    for (uintptr_t pc : c.native_pcs) names += symbolizer.Resolve(pc).function + "\n";
    EXPECT_EQ(names.rfind("clock_nanosleep", 0), 0u) << names;
    EXPECT_NE(names.find("_M_run"), std::string::npos) << names;
    EXPECT_EQ(names.find("OnCaptureSignal"), std::string::npos) << "handler frames skipped\n" << names;
    return;
  }
  FAIL() << "the parked thread was not captured";
}

TEST(Capture, PythonOnlyRequestsRecordNoNativeStack) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  ParkedThreads parked(1, false);
  const RawThreadCapture* c = nullptr;
  const auto captures = CaptureAll(0, /*native=*/false);
  c = Find(captures, parked.tids()[0]);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->native_pcs.empty());
  EXPECT_EQ(c->frames.size(), 2u);
}

TEST(Capture, ThreadsPastTheLimitAreCountedNotSampled) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  ParkedThreads parked(6, false);
  CaptureRequest request;
  request.first = parked.tids()[5];
  request.max_threads = 2;
  const CaptureResult result = CaptureAllThreads(request);
  ASSERT_EQ(result.threads.size(), 2u);
  EXPECT_EQ(result.threads[0].tid, parked.tids()[5]) << "the loop's thread is never cut";
  EXPECT_GE(result.threads_not_sampled, 4);
}

// Each parked thread's wall clock as it answered, by tid slot.
constexpr int kTimedThreads = 6;
std::atomic<pid_t> g_timed_tid[kTimedThreads];
std::atomic<int64_t> g_answered_unix_ns[kTimedThreads];

// Runs in a signal handler: FakeWalker, clock_gettime and atomic stores only.
void TimingWalker(awd_py_stack* out) {
  FakeWalker(out);
  const pid_t tid = Tid();
  for (int i = 0; i < kTimedThreads; ++i) {
    if (g_timed_tid[i].load() == tid) g_answered_unix_ns[i].store(UnixNowNs());
  }
}

TEST(Capture, ItsWallClockSpanHoldsEveryAnswer) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), TimingWalker).ok());
  ParkedThreads parked(kTimedThreads, false);
  for (int i = 0; i < kTimedThreads; ++i) {
    g_answered_unix_ns[i].store(0);
    g_timed_tid[i].store(parked.tids()[i]);
  }
  CaptureRequest request;
  request.first = parked.tids()[2];
  const int64_t before = UnixNowNs();
  const CaptureResult result = CaptureAllThreads(request);
  const int64_t after = UnixNowNs();
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  EXPECT_LE(before, result.started_unix_ns);
  EXPECT_LE(result.started_unix_ns + result.duration_ns, after);
  for (int i = 0; i < kTimedThreads; ++i) {
    const int64_t answered = g_answered_unix_ns[i].load();
    EXPECT_LE(result.started_unix_ns, answered) << "thread " << i;
    EXPECT_LE(answered, result.started_unix_ns + result.duration_ns) << "thread " << i;
  }
}

TEST(Capture, OneSignalPerProcess) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  const absl::Status other = InstallCaptureHandler(TestSignal() + 1, FakeWalker);
  EXPECT_FALSE(other.ok());
  EXPECT_NE(std::string(other.message()).find("one capture signal per process"), std::string::npos);
}

void ExitSeven(int) { _exit(7); }

TEST(CaptureDeathTest, AForeignSignalReachesThePreviousHandler) {
  EXPECT_EXIT(
      {
        signal(TestSignal() + 2, ExitSeven);
        // A fresh process: this install is its first, on another signal.
        if (!InstallCaptureHandler(TestSignal() + 2, FakeWalker).ok()) _exit(1);
        kill(getpid(), TestSignal() + 2);  // SI_USER, not ours: chained
        sleep(5);
        _exit(0);
      },
      ::testing::ExitedWithCode(7), "");
}

TEST(CaptureDeathTest, AStraySignalWithNoPreviousHandlerDoesNotKill) {
  EXPECT_EXIT(
      {
        if (!InstallCaptureHandler(TestSignal() + 3, FakeWalker).ok()) _exit(1);
        kill(getpid(), TestSignal() + 3);  // default action would terminate
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// Handlers an application might install for our signal after us. They count
// their calls; the capture signals of ours that reach them must stay at 0.
std::atomic<int> g_app_calls{0};
std::atomic<int> g_app_saw_ours{0};
struct sigaction g_app_previous;  // what the application's handler replaced: ours

void AppCounts(int, siginfo_t* info, void*) {
  g_app_calls.fetch_add(1);
  if (info->si_code == SI_QUEUE && info->si_pid == getpid()) g_app_saw_ours.fetch_add(1);
}

// Passes every signal on to its predecessor by calling it, with the same siginfo.
void AppForwardsByCall(int signo, siginfo_t* info, void* context) {
  AppCounts(signo, info, context);
  if ((g_app_previous.sa_flags & SA_SIGINFO) && g_app_previous.sa_sigaction != nullptr) {
    g_app_previous.sa_sigaction(signo, info, context);
  }
}

// Passes every signal on the way faulthandler.register(chain=True) does: puts
// its predecessor back, re-raises, and re-installs itself.
void AppForwardsByReraise(int signo) {
  g_app_calls.fetch_add(1);
  sigaction(signo, &g_app_previous, nullptr);
  raise(signo);
  struct sigaction self;
  std::memset(&self, 0, sizeof(self));
  self.sa_handler = AppForwardsByReraise;
  self.sa_flags = SA_NODEFER;
  sigemptyset(&self.sa_mask);
  sigaction(signo, &self, nullptr);
}

void InstallAppHandler(int signo, void (*action)(int, siginfo_t*, void*),
                       void (*handler)(int) = nullptr) {
  struct sigaction app;
  std::memset(&app, 0, sizeof(app));
  if (action != nullptr) {
    app.sa_sigaction = action;
    app.sa_flags = SA_SIGINFO;
  } else {
    app.sa_handler = handler;
    app.sa_flags = SA_NODEFER;
  }
  sigemptyset(&app.sa_mask);
  ASSERT_EQ(sigaction(signo, &app, &g_app_previous), 0);
  g_app_calls = 0;
  g_app_saw_ours = 0;
}

void* HandlerOf(int signo) {
  struct sigaction current;
  sigaction(signo, nullptr, &current);
  return reinterpret_cast<void*>(current.sa_sigaction);
}

void ExpectEveryoneAnswers(ParkedThreads& parked) {
  const auto captures = CaptureAll();
  for (pid_t tid : parked.tids()) {
    const RawThreadCapture* c = Find(captures, tid);
    ASSERT_NE(c, nullptr) << tid;
    EXPECT_EQ(c->outcome, RawThreadCapture::Outcome::kAnswered) << tid;
  }
}

TEST(Capture, AHandlerInstalledAfterOursIsChainedToAndOursReinstalled) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  InstallAppHandler(TestSignal(), AppCounts);
  const int64_t reinstalls = CaptureHandlerReinstalls();
  ParkedThreads parked(3, false);
  for (int round = 0; round < 3; ++round) ExpectEveryoneAnswers(parked);
  EXPECT_EQ(g_app_calls, 0) << "a capture signal reached the application's handler";
  EXPECT_NE(HandlerOf(TestSignal()), reinterpret_cast<void*>(AppCounts));
  EXPECT_EQ(CaptureHandlerReinstalls(), reinstalls + 1) << "re-installed once, before the first send";
  pthread_kill(pthread_self(), TestSignal());  // SI_TKILL: foreign
  EXPECT_EQ(g_app_calls, 1) << "foreign signals reach the newcomer";
}

TEST(Capture, IgnoringTheSignalAfterOursDoesNotSilenceCaptures) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  ASSERT_NE(signal(TestSignal(), SIG_IGN), SIG_ERR);
  ParkedThreads parked(2, false);
  ExpectEveryoneAnswers(parked);
  pthread_kill(pthread_self(), TestSignal());  // chained to SIG_IGN: nothing
}

TEST(CaptureDeathTest, ADefaultActionSetAfterOursDoesNotLetCapturesKill) {
  EXPECT_EXIT(
      {
        const int signo = TestSignal() + 4;
        if (!InstallCaptureHandler(signo, FakeWalker).ok()) _exit(1);
        signal(signo, SIG_DFL);  // a real-time signal's default action terminates
        ParkedThreads parked(2, false);
        const auto captures = CaptureAll();
        for (pid_t tid : parked.tids()) {
          const RawThreadCapture* c = Find(captures, tid);
          if (c == nullptr || c->outcome != RawThreadCapture::Outcome::kAnswered) _exit(2);
        }
        pthread_kill(pthread_self(), signo);  // foreign, chained to SIG_DFL: not replayed
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Capture, AHandlerThatCallsUsBackGetsEachForeignSignalOnce) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  InstallAppHandler(TestSignal(), AppForwardsByCall);
  ParkedThreads parked(2, false);
  ExpectEveryoneAnswers(parked);  // ours back on top, chaining to it
  for (int i = 0; i < 3; ++i) pthread_kill(pthread_self(), TestSignal());
  EXPECT_EQ(g_app_calls, 3) << "ours -> it -> ours must stop there";
  EXPECT_EQ(g_app_saw_ours, 0);
  ExpectEveryoneAnswers(parked);
}

TEST(Capture, AHandlerThatReraisesToUsGetsEachForeignSignalOnce) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  InstallAppHandler(TestSignal(), nullptr, AppForwardsByReraise);
  ParkedThreads parked(2, false);
  ExpectEveryoneAnswers(parked);
  EXPECT_EQ(g_app_calls, 0);
  for (int i = 0; i < 3; ++i) pthread_kill(pthread_self(), TestSignal());
  EXPECT_EQ(g_app_calls, 3) << "the re-raise must not go round again";
  EXPECT_NE(HandlerOf(TestSignal()), reinterpret_cast<void*>(AppForwardsByReraise))
      << "ours is put back on top";
  ExpectEveryoneAnswers(parked);
  EXPECT_EQ(g_app_calls, 3);
}

TEST(Capture, ThreadsExitingDuringCaptureNeverCrash) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop) {
      std::vector<std::thread> batch;
      for (int i = 0; i < 8; ++i) batch.emplace_back([] {});
      for (auto& t : batch) t.join();
    }
  });
  ParkedThreads steady(1, false);
  const pid_t steady_tid = steady.tids()[0];
  for (int round = 0; round < 200; ++round) {
    bool steady_answered = false;
    const auto captures = CaptureAll();
    for (const auto& c : captures) {
      if (c.outcome != RawThreadCapture::Outcome::kAnswered) continue;
      ASSERT_EQ(c.frames.size(), 2u);
      EXPECT_EQ(c.frames[1].line, c.tid) << "an answer is never another thread's";
      steady_answered |= c.tid == steady_tid;
    }
    // Churning threads may be gone or, inside pthread_create (which blocks
    // all signals), not answer; a thread that lives on answers every round.
    EXPECT_TRUE(steady_answered) << "round " << round;
  }
  stop = true;
  churn.join();
}

}  // namespace
}  // namespace aiowatchdog
