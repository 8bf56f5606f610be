// The capture with reads from outside on: a thread blocked in the kernel is
// read without a signal (its poll(2) is not cut short, its frames are there),
// a thread running in user space is still signalled, and turning reads from
// outside off signals everyone as before.
#include "capture/remote_capture.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "capture/capture.h"
#include "fake_walker.h"
#include "sample/symbolizer.h"
#include "proc/thread_syscall.h"

namespace aiowatchdog {
namespace {

using testing::FakeWalker;
using testing::TestSignal;

std::atomic<int> g_notes{0};
std::atomic<int> g_walks{0};  // FakeRemoteWalk's calls

int FakeNoteThreads() {
  ++g_notes;
  return 0;
}

std::atomic<bool> g_walk_finds_no_python{false};  // the thread list missed it

// A stand-in for py_frames_remote.c: one frame naming the tid it was asked for.
int FakeRemoteWalk(pid_t tid, awd_py_stack* out) {
  ++g_walks;
  if (g_walk_finds_no_python.load()) {
    out->has_python = 0;
    out->depth = 0;
    out->truncated = 0;
    return AWD_REMOTE_NO_PYTHON;
  }
  out->has_python = 1;
  out->thread_ident = static_cast<uint64_t>(tid) * 10;
  out->depth = 1;
  out->truncated = 0;
  std::strcpy(out->frames[0].file, "/fake/remote.py");
  std::strcpy(out->frames[0].func, "read_from_outside");
  out->frames[0].line = tid;
  out->frames[0].is_coroutine = 0;
  out->frames[0].is_entry = 1;
  out->frames[0].coroutine = 0;
  return AWD_REMOTE_FOUND;
}

extern "C" __attribute__((noinline)) int AwdTestPollsAPipe(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  const int rc = poll(&p, 1, timeout_ms);
  asm volatile("" ::: "memory");
  return rc;
}

class PollingThread {
 public:
  PollingThread() {
    EXPECT_EQ(pipe(fds_), 0);
    thread_ = std::thread([this] {
      tid_.store(static_cast<pid_t>(syscall(SYS_gettid)));
      const int rc = AwdTestPollsAPipe(fds_[0], 20000);
      errno_.store(rc < 0 ? errno : 0);
      rc_.store(rc);
    });
    while (tid_.load() == 0) std::this_thread::yield();
    for (int i = 0; i < 10000; ++i) {
      auto s = ReadThreadSyscall(tid_.load());
      if (s && s->state == ThreadSyscall::State::kBlocked) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // Releases the thread; its poll's result.
  int Release() {
    (void)!write(fds_[1], "x", 1);
    thread_.join();
    close(fds_[0]);
    close(fds_[1]);
    return rc_.load();
  }
  int error() const { return errno_.load(); }
  pid_t tid() const { return tid_.load(); }

 private:
  int fds_[2];
  std::atomic<pid_t> tid_{0};
  std::atomic<int> rc_{-2};
  std::atomic<int> errno_{0};
  std::thread thread_;
};

const RawThreadCapture* Find(const CaptureResult& result, pid_t tid) {
  for (const auto& t : result.threads) {
    if (t.tid == tid) return &t;
  }
  return nullptr;
}

TEST(RemoteCapture, ABlockedThreadIsReadFromOutsideAndItsCallIsNotCutShort) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  SetRemotePythonWalker({&FakeNoteThreads, &FakeRemoteWalk});
  SetRemoteCaptureEnabled(true);
  std::atomic<bool> stop{false};
  std::atomic<pid_t> spinner_tid{0};
  std::thread spinner([&] {
    spinner_tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  while (spinner_tid.load() == 0) std::this_thread::yield();
  PollingThread blocked;
  const int notes_before = g_notes.load();
  CaptureResult result;
  for (int i = 0; i < 20; ++i) result = CaptureAllThreads(CaptureRequest{});
  EXPECT_EQ(g_notes.load() - notes_before, 20);

  const RawThreadCapture* outside = Find(result, blocked.tid());
  ASSERT_NE(outside, nullptr);
  EXPECT_EQ(outside->outcome, RawThreadCapture::Outcome::kAnswered);
  // Read once, then shown again while it has not run since (the same stack).
  EXPECT_EQ(outside->captured_by, "outside: poll (not run since the last sample)")
      << outside->captured_by;
  ASSERT_EQ(outside->frames.size(), 1u);
  EXPECT_EQ(outside->frames[0].function, "read_from_outside");
  EXPECT_EQ(outside->frames[0].line, blocked.tid());
  EXPECT_EQ(outside->pause_ns, 0);
  Symbolizer symbolizer;
  bool found_caller = false;
  for (uintptr_t pc : outside->native_pcs) {
    found_caller |= symbolizer.Resolve(pc).function == "AwdTestPollsAPipe";
  }
  EXPECT_TRUE(found_caller) << "native frames reach the caller of poll";
  // Each frame's canonical frame address, where the unwinder recovered its
  // caller's SP: what finds an eval loop that has no name (sample_builder.cc).
  ASSERT_EQ(outside->native_cfas.size(), outside->native_pcs.size());
  ASSERT_GE(outside->native_cfas.size(), 2u);
  EXPECT_NE(outside->native_cfas[0], 0u);
  for (size_t i = 1; i < outside->native_cfas.size(); ++i) {
    if (outside->native_cfas[i] != 0 && outside->native_cfas[i - 1] != 0) {
      EXPECT_GT(outside->native_cfas[i], outside->native_cfas[i - 1]) << i;  // the stack grows down
    }
  }

  const RawThreadCapture* running = Find(result, spinner_tid.load());
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->captured_by, "signal");
  ASSERT_EQ(running->frames.size(), 2u);  // FakeWalker's, from the handler
  EXPECT_EQ(running->frames[0].function, "blocking_call");

  // Released: poll reports the pipe readable; it was never interrupted.
  EXPECT_EQ(blocked.Release(), 1) << "errno " << blocked.error();
  stop.store(true);
  spinner.join();
  SetRemotePythonWalker({nullptr, nullptr});  // the other capture tests signal everyone
}

TEST(RemoteCapture, TurnedOffEveryThreadIsSignalledAsBefore) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  SetRemotePythonWalker({&FakeNoteThreads, &FakeRemoteWalk});
  SetRemoteCaptureEnabled(false);
  PollingThread blocked;
  const CaptureResult result = CaptureAllThreads(CaptureRequest{});
  const RawThreadCapture* signalled = Find(result, blocked.tid());
  ASSERT_NE(signalled, nullptr);
  EXPECT_EQ(signalled->captured_by, "");
  ASSERT_EQ(signalled->frames.size(), 2u);
  EXPECT_EQ(signalled->frames[0].function, "blocking_call");
  // The signal cut poll short: what issue #16 is about.
  EXPECT_EQ(blocked.Release(), -1);
  EXPECT_EQ(blocked.error(), EINTR);
  SetRemoteCaptureEnabled(true);
  SetRemotePythonWalker({nullptr, nullptr});
}

// A thread that has not run since it was read from outside is shown as read
// then, without reading it again; once it has run, it is read anew.
TEST(RemoteCapture, AThreadNotRunSinceItsLastReadIsNotReadAgain) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  SetRemotePythonWalker({&FakeNoteThreads, &FakeRemoteWalk});
  SetRemoteCaptureEnabled(true);
  PollingThread first;
  const int walks_before = g_walks.load();
  const CaptureResult one = CaptureAllThreads(CaptureRequest{});
  const RawThreadCapture* read = Find(one, first.tid());
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->captured_by, "outside: poll");
  const int walks_after_one = g_walks.load();
  EXPECT_GE(walks_after_one - walks_before, 1);
  const CaptureResult two = CaptureAllThreads(CaptureRequest{});
  const RawThreadCapture* again = Find(two, first.tid());
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->captured_by, "outside: poll (not run since the last sample)");
  EXPECT_EQ(again->frames.size(), read->frames.size());
  EXPECT_EQ(again->native_pcs, read->native_pcs);
  EXPECT_EQ(first.Release(), 1);
  // A new thread blocked in the kernel (it may even get the old tid): read.
  PollingThread second;
  const int walks_before_three = g_walks.load();
  const CaptureResult three = CaptureAllThreads(CaptureRequest{});
  const RawThreadCapture* fresh = Find(three, second.tid());
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->captured_by, "outside: poll");
  EXPECT_GE(g_walks.load() - walks_before_three, 1);
  EXPECT_EQ(fresh->frames[0].line, second.tid());
  EXPECT_EQ(second.Release(), 1);
  SetRemotePythonWalker({nullptr, nullptr});
}

// A read that found no thread state for its thread (the list was noted before
// the thread bound its state, and it blocked during the capture) looks once
// more in a list noted again, and is not shown again: the next sample reads
// it, and finds its Python frames.
TEST(RemoteCapture, AReadWithoutPythonIsNotShownAgain) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  SetRemotePythonWalker({&FakeNoteThreads, &FakeRemoteWalk});
  SetRemoteCaptureEnabled(true);
  PollingThread blocked;
  g_walk_finds_no_python.store(true);
  const int notes_before = g_notes.load();
  const CaptureResult one = CaptureAllThreads(CaptureRequest{});
  EXPECT_EQ(g_notes.load() - notes_before, 2) << "noted again, once, for the thread not found";
  g_walk_finds_no_python.store(false);
  const RawThreadCapture* read = Find(one, blocked.tid());
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->captured_by, "outside: poll");
  EXPECT_TRUE(read->frames.empty());
  const CaptureResult two = CaptureAllThreads(CaptureRequest{});
  const RawThreadCapture* again = Find(two, blocked.tid());
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->captured_by, "outside: poll") << "read again, not reused";
  ASSERT_EQ(again->frames.size(), 1u);
  EXPECT_EQ(again->frames[0].line, blocked.tid());
  EXPECT_EQ(blocked.Release(), 1);
  SetRemotePythonWalker({nullptr, nullptr});
}

}  // namespace
}  // namespace aiowatchdog

namespace aiowatchdog {
namespace {

// A forked child starts its remote reads afresh (a new unwinder over its own
// pid) and still reads a thread of its own blocked in the kernel.
TEST(RemoteCapture, AForkedChildReadsItsOwnThreadsFromOutside) {
  ASSERT_TRUE(InstallCaptureHandler(TestSignal(), FakeWalker).ok());
  SetRemotePythonWalker({&FakeNoteThreads, &FakeRemoteWalk});
  SetRemoteCaptureEnabled(true);
  {
    PollingThread parent_thread;
    CaptureAllThreads(CaptureRequest{});  // the parent's unwinder now exists
    parent_thread.Release();
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    PollingThread blocked;
    const CaptureResult result = CaptureAllThreads(CaptureRequest{});
    const RawThreadCapture* t = Find(result, blocked.tid());
    bool found_caller = false;
    Symbolizer symbolizer;
    for (uintptr_t pc : t != nullptr ? t->native_pcs : std::vector<uintptr_t>{}) {
      found_caller |= symbolizer.Resolve(pc).function == "AwdTestPollsAPipe";
    }
    const bool ok = t != nullptr && t->captured_by == "outside: poll" && found_caller &&
                    blocked.Release() == 1;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  SetRemotePythonWalker({nullptr, nullptr});
}

}  // namespace
}  // namespace aiowatchdog
