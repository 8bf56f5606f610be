// /proc/self/task/<tid>/syscall: parsing, and what a real blocked thread shows.
#include "proc/thread_syscall.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace aiowatchdog {
namespace {

TEST(ThreadSyscallParse, Running) {
  auto parsed = ParseThreadSyscall("running\n");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->state, ThreadSyscall::State::kRunning);
}

TEST(ThreadSyscallParse, Blocked) {
  auto parsed = ParseThreadSyscall(
      "230 0x0 0x0 0x7fffadca6ea0 0x7fffadca6ee0 0x0 0x0 0x7fffadca6e88 0x7fbe14f3e503\n");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->state, ThreadSyscall::State::kBlocked);
  EXPECT_EQ(parsed->nr, 230);
  EXPECT_EQ(parsed->args[2], 0x7fffadca6ea0u);
  EXPECT_EQ(parsed->args[3], 0x7fffadca6ee0u);
  EXPECT_EQ(parsed->sp, 0x7fffadca6e88u);
  EXPECT_EQ(parsed->pc, 0x7fbe14f3e503u);
}

TEST(ThreadSyscallParse, BlockedOutsideASyscall) {
  auto parsed = ParseThreadSyscall("-1 0x7ffd4773ec40 0x7f6b6b4c8aec\n");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->state, ThreadSyscall::State::kNoSyscall);
  EXPECT_EQ(parsed->sp, 0x7ffd4773ec40u);
  EXPECT_EQ(parsed->pc, 0x7f6b6b4c8aecu);
}

TEST(ThreadSyscallParse, MalformedIsNothing) {
  for (const char* text :
       {"", "\n", "runnin", "running x", "230", "230 0x0 0x0 0x0 0x0 0x0 0x0 0x1",
        "230 0x0 0x0 0x0 0x0 0x0 0x0 0x1 0x2 0x3", "230 0x0 0x0 0x0 0x0 0x0 0x0 0xzz 0x2",
        "-1 0x1", "-2 0x1 0x2", "x 0x1 0x2", "230 0x0 0x0 0x0 0x0 0x0 0x0 0x1 0x12345678901234567",
        "99999999999 0x0 0x0 0x0 0x0 0x0 0x0 0x1 0x2"}) {
    EXPECT_FALSE(ParseThreadSyscall(text)) << "'" << text << "'";
  }
}

TEST(ThreadSyscallParse, SameAs) {
  auto a = ParseThreadSyscall("7 0x1 0x2 0x3 0x4 0x5 0x6 0x10 0x20");
  auto b = ParseThreadSyscall("7 0x1 0x2 0x3 0x4 0x5 0x6 0x10 0x20\n");
  auto moved = ParseThreadSyscall("7 0x1 0x2 0x3 0x4 0x5 0x6 0x18 0x20");
  auto running = ParseThreadSyscall("running");
  ASSERT_TRUE(a && b && moved && running);
  EXPECT_TRUE(a->SameAs(*b));
  EXPECT_FALSE(a->SameAs(*moved));
  EXPECT_FALSE(a->SameAs(*running));
}

TEST(ThreadSyscallRead, ABlockedThreadShowsItsCallAndArguments) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::atomic<pid_t> tid{0};
  std::thread reader([&] {
    tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
    char c;
    (void)!read(fds[0], &c, 1);
  });
  while (tid.load() == 0) std::this_thread::yield();
  // Wait until it is in read(2): no timed assertion, just poll.
  std::optional<ThreadSyscall> seen;
  for (int i = 0; i < 10000; ++i) {
    seen = ReadThreadSyscall(tid.load());
    if (seen && seen->state == ThreadSyscall::State::kBlocked && seen->nr == SYS_read) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->state, ThreadSyscall::State::kBlocked);
  EXPECT_EQ(seen->nr, SYS_read);
  EXPECT_EQ(seen->args[0], static_cast<uint64_t>(fds[0]));
  EXPECT_EQ(seen->args[2], 1u);
  EXPECT_NE(seen->sp, 0u);
  EXPECT_NE(seen->pc, 0u);
  auto again = ReadThreadSyscall(tid.load());
  ASSERT_TRUE(again);
  EXPECT_TRUE(seen->SameAs(*again));
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  reader.join();
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace aiowatchdog
