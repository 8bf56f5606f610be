// Unwinding a thread blocked in the kernel from outside it, from the SP and PC
// its syscall file gives: the frames of its callers are reached, with and
// without a frame-pointer-based frame on the way, and a torn or bogus stack is
// an error, never a crash.
#include "capture/remote_unwind.h"

#include <alloca.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "open_descriptors.h"
#include "sample/symbolizer.h"
#include "proc/thread_syscall.h"

namespace aiowatchdog {
namespace {

int g_pipe[2];

extern "C" __attribute__((noinline)) void AwdTestBlockInRead() {
  char c;
  (void)!read(g_pipe[0], &c, 1);
  asm volatile("" ::: "memory");  // not a tail call
}

extern "C" __attribute__((noinline)) void AwdTestOuterCaller() {
  AwdTestBlockInRead();
  asm volatile("" ::: "memory");
}

// A frame whose CFA is rbp-based (the variable alloca forces a frame
// pointer), calling read(2) directly: like libffi's ffi_call_unix64 calling
// usleep for ctypes, nothing below it saves rbp, so CFI alone cannot pass it.
extern "C" __attribute__((noinline)) void AwdTestFramePointerCaller(size_t n) {
  volatile char* scratch = static_cast<volatile char*>(alloca(n));
  scratch[0] = 1;
  char c;
  (void)!read(g_pipe[0], &c, 1);
  scratch[n - 1] = c;
}

extern "C" __attribute__((noinline)) void AwdTestAboveFramePointer() {
  AwdTestFramePointerCaller(200);
  asm volatile("" ::: "memory");
}

class BlockedThread {
 public:
  explicit BlockedThread(void (*body)()) {
    EXPECT_EQ(pipe(g_pipe), 0);
    thread_ = std::thread([this, body] {
      tid_.store(static_cast<pid_t>(syscall(SYS_gettid)));
      body();
    });
    while (tid_.load() == 0) std::this_thread::yield();
    for (int i = 0; i < 10000; ++i) {
      auto s = ReadThreadSyscall(tid_.load());
      if (s && s->state == ThreadSyscall::State::kBlocked && s->nr == SYS_read) {
        syscall_ = *s;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~BlockedThread() {
    (void)!write(g_pipe[1], "x", 1);
    thread_.join();
    close(g_pipe[0]);
    close(g_pipe[1]);
  }
  pid_t tid() const { return tid_.load(); }
  const ThreadSyscall& syscall_state() const { return syscall_; }

 private:
  std::atomic<pid_t> tid_{0};
  ThreadSyscall syscall_;
  std::thread thread_;
};

std::vector<std::string> Names(const NativeStack& stack) {
  Symbolizer symbolizer;
  std::vector<std::string> names;
  for (int i = 0; i < stack.depth; ++i) {
    const std::string name = symbolizer.Resolve(stack.pcs[i]).function;
    char hex[32];
    std::snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(stack.pcs[i]));
    names.push_back(name.empty() ? hex : name);
  }
  return names;
}

int IndexOf(const std::vector<std::string>& names, const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

// Under AddressSanitizer, read() is ASan's interceptor, which GCC split
// (__interceptor_read.part.0, reached by a tail call) and which, like all
// code there, keeps a frame pointer: the CFI walk stops at its first frame
// and stack scanning's check of the call's target does not recognise the
// caller. The frame-exact tests are for the builds we ship; under ASan the
// others still check that nothing faults.
#if defined(__SANITIZE_ADDRESS__)
#define AWD_SKIP_UNDER_ASAN() GTEST_SKIP() << "read() is ASan's split interceptor here"
#else
#define AWD_SKIP_UNDER_ASAN() (void)0
#endif

// Under ThreadSanitizer, read() is its interceptor, which saves the frame
// pointer: the CFI walk passes the frame-pointer frame and no scan is needed.
#if defined(__SANITIZE_THREAD__)
constexpr bool kInterceptedRead = true;
#else
constexpr bool kInterceptedRead = false;
#endif

std::string Joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += n + " < ";
  return s;
}

TEST(RemoteUnwind, ReachesTheCallersOfABlockedSyscall) {
  AWD_SKIP_UNDER_ASAN();
  BlockedThread blocked(AwdTestOuterCaller);
  ASSERT_EQ(blocked.syscall_state().state, ThreadSyscall::State::kBlocked);
  RemoteUnwinder unwinder;
  NativeStack stack;
  const RemoteUnwindResult result = unwinder.Unwind(
      blocked.tid(), blocked.syscall_state().sp, blocked.syscall_state().pc, &stack);
  const std::vector<std::string> names = Names(stack);
  const int inner = IndexOf(names, "AwdTestBlockInRead");
  const int outer = IndexOf(names, "AwdTestOuterCaller");
  EXPECT_GE(inner, 0) << Joined(names) << result.error;
  EXPECT_EQ(outer, inner + 1) << Joined(names);
  EXPECT_EQ(result.scans, 0) << Joined(names);
  EXPECT_EQ(result.end, RemoteUnwindResult::End::kOutermost) << Joined(names) << result.error;
  // The thread did not move while it was read.
  auto after = ReadThreadSyscall(blocked.tid());
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->SameAs(blocked.syscall_state()));
}

using testing::OpenDescriptors;

// An exec'd program must not inherit the files the unwinder's libdwfl keeps
// open (dwfl_guard.h), as the symbolizer's.
TEST(RemoteUnwind, KeepsOnlyCloseOnExecDescriptors) {
  BlockedThread blocked(AwdTestOuterCaller);  // its pipe is the test's, not ours
  ASSERT_EQ(blocked.syscall_state().state, ThreadSyscall::State::kBlocked);
  const std::set<int> before = OpenDescriptors();
  RemoteUnwinder unwinder;
  NativeStack stack;
  unwinder.Unwind(blocked.tid(), blocked.syscall_state().sp, blocked.syscall_state().pc, &stack);
  EXPECT_GT(stack.depth, 0);
  const testing::NewDescriptors opened = testing::DescriptorsOpenedSince(before);
  for (int fd : opened.inheritable) ADD_FAILURE() << "descriptor " << fd << " is not close-on-exec";
  EXPECT_GT(opened.count, 0) << "libdwfl keeps the ELF files it unwound through open";
}

TEST(RemoteUnwind, ScansPastAFrameWhoseCfaNeedsTheFramePointer) {
  AWD_SKIP_UNDER_ASAN();
  BlockedThread blocked(AwdTestAboveFramePointer);
  ASSERT_EQ(blocked.syscall_state().state, ThreadSyscall::State::kBlocked);
  RemoteUnwinder unwinder;
  NativeStack stack;
  const RemoteUnwindResult result = unwinder.Unwind(
      blocked.tid(), blocked.syscall_state().sp, blocked.syscall_state().pc, &stack);
  const std::vector<std::string> names = Names(stack);
  const int fp_frame = IndexOf(names, "AwdTestFramePointerCaller");
  const int above = IndexOf(names, "AwdTestAboveFramePointer");
  ASSERT_GE(fp_frame, 0) << Joined(names);
  EXPECT_EQ(above, fp_frame + 1) << Joined(names) << result.error;
  if (!kInterceptedRead) {
    EXPECT_GE(result.scans, 1);
    EXPECT_EQ(result.scanned_from, fp_frame + 1);
  }
}

TEST(RemoteUnwind, BogusRegistersAreAnErrorNotACrash) {
  RemoteUnwinder unwinder;
  NativeStack stack;
  // A PC in no module.
  RemoteUnwindResult result = unwinder.Unwind(static_cast<pid_t>(syscall(SYS_gettid)), 0x10,
                                              0x20, &stack);
  EXPECT_LE(stack.depth, 1);
  // A real PC, an SP in unmapped memory.
  result = unwinder.Unwind(static_cast<pid_t>(syscall(SYS_gettid)), 0x1000,
                           reinterpret_cast<uint64_t>(&AwdTestOuterCaller), &stack);
  EXPECT_LE(stack.depth, 2);
  // A stack of garbage that looks like return addresses.
  std::vector<uint64_t> garbage(4096);
  for (size_t i = 0; i < garbage.size(); ++i) {
    garbage[i] = reinterpret_cast<uint64_t>(&AwdTestOuterCaller) + (i * 7919) % 4096;
  }
  result = unwinder.Unwind(static_cast<pid_t>(syscall(SYS_gettid)),
                           reinterpret_cast<uint64_t>(garbage.data()),
                           reinterpret_cast<uint64_t>(&AwdTestBlockInRead) + 4, &stack);
  EXPECT_LE(stack.depth, kMaxNativeFrames);
}

// A thread that keeps changing its stack (calls of varying depth, each making
// a short system call) is unwound from stale registers thousands of times:
// torn stacks give wrong or short walks, never a fault.
__attribute__((noinline)) void Churn(int depth, std::atomic<bool>* stop) {
  volatile char pad[64];
  pad[0] = static_cast<char>(depth);
  if (depth > 0) {
    Churn(depth - 1, stop);
  } else {
    usleep(20);  // a short block: the syscall file shows it
  }
  pad[1] = pad[0];
}

TEST(RemoteUnwind, TornStacksNeverCrash) {
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  std::thread churner([&] {
    tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
    for (unsigned i = 0; !stop.load(std::memory_order_relaxed); ++i) Churn(i % 40, &stop);
  });
  while (tid.load() == 0) std::this_thread::yield();
  RemoteUnwinder unwinder;
  NativeStack stack;
  int unwound = 0;
  uint64_t sp = 0, pc = 0;
  for (int i = 0; i < 3000; ++i) {
    auto s = ReadThreadSyscall(tid.load());
    if (s && s->state != ThreadSyscall::State::kRunning) {
      sp = s->sp;
      pc = s->pc;
    }
    if (sp == 0) continue;
    unwinder.Unwind(tid.load(), sp, pc, &stack);  // possibly long stale
    ASSERT_GE(stack.depth, 0);
    ASSERT_LE(stack.depth, kMaxNativeFrames);
    ++unwound;
  }
  stop.store(true);
  churner.join();
  EXPECT_GT(unwound, 0);
}

}  // namespace
}  // namespace aiowatchdog
