// Allowed sections (allow_blocking) per thread: nesting, the time spent
// inside, and how a watchdog treats a loop inside one; and the in-memory
// watchdog mode (no files, every episode, sample 0 handed over).
#include "detect/allowed_sections.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "capture/capture.h"
#include "common/clock.h"
#include "fake_walker.h"
#include "watchdog.h"

namespace aiowatchdog {
namespace {

using std::chrono::milliseconds;

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

TEST(AllowedSections, NestCountTheirTimeAndRememberTheLastExit) {
  const pid_t tid = Tid();
  const AllowedState before = ReadAllowedSection(tid);
  ASSERT_TRUE(EnterAllowedSection(tid, 1'000));
  ASSERT_TRUE(EnterAllowedSection(tid, 1'500));
  EXPECT_EQ(ReadAllowedSection(tid).depth, before.depth + 2);
  ExitAllowedSection(tid, 1'700);  // inner: not the end of the outer one
  EXPECT_EQ(ReadAllowedSection(tid).depth, before.depth + 1);
  EXPECT_EQ(ReadAllowedSection(tid).total_ns, before.total_ns);
  ExitAllowedSection(tid, 3'000);
  const AllowedState after = ReadAllowedSection(tid);
  EXPECT_EQ(after.depth, 0);
  EXPECT_EQ(after.last_exit_ns, 3'000);
  EXPECT_EQ(after.total_ns - before.total_ns, 2'000) << "the outermost section only";
  ExitAllowedSection(tid, 4'000);  // unbalanced: ignored
  EXPECT_EQ(ReadAllowedSection(tid).depth, 0);
}

TEST(AllowedSections, AThreadNeverSeenHasNone) {
  const AllowedState s = ReadAllowedSection(999'999'999);
  EXPECT_EQ(s.depth, 0);
  EXPECT_EQ(s.total_ns, 0);
  EXPECT_EQ(ReadAllowedSection(0).depth, 0);
}

WatchdogOptions InMemory() {
  WatchdogOptions o;
  o.write_reports = false;
  o.output_dir = "/nonexistent/never-written";
  o.interval_ns = 30'000'000;
  o.samples = 1;
  o.sample_interval_ns = 30'000'000;
  o.max_threads = 1;
  o.max_episodes_per_minute = 1;  // ignored in memory: every episode counts
  return o;
}

std::vector<FinishedEpisode> WaitForFinished(Watchdog& dog) {
  for (int i = 0; i < 200 && !dog.HasFinished(); ++i) std::this_thread::sleep_for(milliseconds(2));
  return dog.TakeFinished();
}

TEST(InMemoryWatchdog, HandsOverEveryEpisodeWithItsWholeLoopStackAndWritesNothing) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  Watchdog dog(InMemory());
  ASSERT_TRUE(dog.Start().ok());
  for (int episode = 0; episode < 3; ++episode) {
    const int64_t began = MonotonicNowNs();
    dog.Touch(/*idle=*/false);
    std::this_thread::sleep_for(milliseconds(80));
    const auto sample = dog.SampleSince(began, 100'000'000);
    ASSERT_TRUE(sample.has_value()) << "episode " << episode;
    EXPECT_GE(sample->started_ns, began);
    EXPECT_GT(sample->sampled_ns, sample->started_ns);
    EXPECT_FALSE(sample->loop_stack.empty());
    dog.Touch(/*idle=*/true);
    const auto finished = WaitForFinished(dog);
    ASSERT_EQ(finished.size(), 1u) << "episode " << episode << ": no rate limit in memory";
    EXPECT_TRUE(finished[0].report_paths.empty());
    EXPECT_EQ(finished[0].reports_not_written, 0);
    EXPECT_GE(finished[0].blocked_s, 0.08);
    EXPECT_EQ(finished[0].loop_stack.back().kind, "native") << "whole stack, outermost first";
  }
  EXPECT_FALSE(dog.SampleSince(MonotonicNowNs(), 1'000'000).has_value())
      << "no block began since: nothing, after a short wait";
  dog.RequestStop();
  dog.Join();
}

TEST(InMemoryWatchdog, ALoopInsideAnAllowedSectionIsNotHungAndItsTimeIsNotCounted) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  Watchdog dog(InMemory());
  ASSERT_TRUE(dog.Start().ok());
  const pid_t tid = Tid();
  dog.Touch(/*idle=*/false);
  ASSERT_TRUE(EnterAllowedSection(tid, MonotonicNowNs()));
  std::this_thread::sleep_for(milliseconds(150));  // 5 intervals, allowed
  ExitAllowedSection(tid, MonotonicNowNs());
  std::this_thread::sleep_for(milliseconds(10));  // busy again, under the interval
  dog.Touch(/*idle=*/true);
  std::this_thread::sleep_for(milliseconds(40));
  EXPECT_FALSE(dog.HasFinished()) << "the time before the section's end does not count";
  EXPECT_EQ(dog.episodes_started(), 0);

  // A hang that enters a section midway: the section's time is taken off.
  dog.Touch(/*idle=*/false);
  std::this_thread::sleep_for(milliseconds(60));  // detected
  ASSERT_TRUE(EnterAllowedSection(tid, MonotonicNowNs()));
  std::this_thread::sleep_for(milliseconds(200));
  ExitAllowedSection(tid, MonotonicNowNs());
  dog.Touch(/*idle=*/true);
  const auto finished = WaitForFinished(dog);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_GE(finished[0].blocked_s, 0.055);
  EXPECT_LT(finished[0].blocked_s, 0.2) << "the 200 ms inside the section are not blocked time";
  dog.RequestStop();
  dog.Join();
}

// Last in this file: it fills the process-wide table for good.
TEST(AllowedSections, ATableFullOfThreadsRefusesMore) {
  // Fake thread ids far from real ones; each claims a slot for good.
  int claimed = 0;
  for (pid_t fake = 2'000'000'000; claimed <= kMaxAllowedThreads; ++fake, ++claimed) {
    if (!EnterAllowedSection(fake, 1)) break;
    ExitAllowedSection(fake, 2);
  }
  EXPECT_LE(claimed, kMaxAllowedThreads);
  EXPECT_FALSE(EnterAllowedSection(1'999'999'999, 1)) << "no slot left";
  ExitAllowedSection(1'999'999'999, 2);  // harmless
}

}  // namespace
}  // namespace aiowatchdog
