// The watchdog thread end to end, with the fake walker: a loop busy too long
// becomes an episode with its samples on disk, its next transition ends it, an
// idle loop is never hung, and stopping is prompt.
#include "watchdog.h"

#include <dirent.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "capture.h"
#include "fake_walker.h"

namespace aiowatchdog {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> ReportFiles(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind("stacktrace-", 0) == 0 && name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        names.push_back(name);
      }
    }
    closedir(d);
  }
  return names;
}

WatchdogOptions FastOptions(const std::string& dir) {
  WatchdogOptions o;
  o.output_dir = dir;
  o.interval_ns = 50'000'000;
  o.samples = 2;
  o.sample_interval_ns = 100'000'000;
  o.python_version = "test";
  return o;
}

TEST(Watchdog, ALoopBusyTooLongBecomesOneEpisodeWithItsSamples) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  char templ[] = "/tmp/aiowatchdog-wd-XXXXXX";
  const std::string dir = mkdtemp(templ);
  Watchdog dog(FastOptions(dir));
  ASSERT_TRUE(dog.Start().ok());
  dog.Touch(/*idle=*/false);  // this thread is "the loop", busy from now on
  std::this_thread::sleep_for(milliseconds(400));  // the hang
  EXPECT_EQ(ReportFiles(dir, ".txt").size(), 2u) << "samples 0 and 1, no more";
  EXPECT_EQ(ReportFiles(dir, ".json").size(), 2u);
  EXPECT_FALSE(dog.HasFinished());

  dog.Touch(/*idle=*/true);  // recovery: back in its selector
  for (int i = 0; i < 100 && !dog.HasFinished(); ++i) std::this_thread::sleep_for(milliseconds(2));
  ASSERT_TRUE(dog.HasFinished());
  const auto finished = dog.TakeFinished();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_TRUE(finished[0].recovered);
  EXPECT_GE(finished[0].blocked_s, 0.4);
  EXPECT_EQ(finished[0].report_paths.size(), 2u);
  EXPECT_TRUE(finished[0].errors.empty());
  // Innermost first: up to 8 native frames inside the innermost Python frame
  // (the fake ones sit outside all native frames here), then outwards.
  const auto& frames = finished[0].loop_frames;
  ASSERT_EQ(frames.size(), 8u + 2u);
  EXPECT_EQ(frames[0].kind, "native");
  EXPECT_TRUE(std::any_of(frames.begin(), frames.end(),
                          [](const Frame& f) { return f.function == "blocking_call"; }))
      << "the innermost Python frame is always in the WARNING";

  const auto stop_start = std::chrono::steady_clock::now();
  dog.RequestStop();
  dog.Join();
  EXPECT_TRUE(dog.Stopped());
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, milliseconds(50));
}

TEST(Watchdog, AnIdleLoopIsNeverHungAndAParkedWatchdogWakesForWork) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  char templ[] = "/tmp/aiowatchdog-wd-XXXXXX";
  const std::string dir = mkdtemp(templ);
  Watchdog dog(FastOptions(dir));  // parks after 1 s idle
  ASSERT_TRUE(dog.Start().ok());
  dog.Touch(/*idle=*/true);
  std::this_thread::sleep_for(milliseconds(1300));  // idle: parks meanwhile
  EXPECT_TRUE(ReportFiles(dir, ".txt").empty());
  dog.Touch(/*idle=*/false);  // wakes the parked watchdog
  std::this_thread::sleep_for(milliseconds(90));  // busy past the 50 ms interval
  dog.Touch(/*idle=*/true);
  for (int i = 0; i < 100 && !dog.HasFinished(); ++i) std::this_thread::sleep_for(milliseconds(2));
  const auto finished = dog.TakeFinished();
  ASSERT_EQ(finished.size(), 1u) << "the busy spell after parking was caught";
  EXPECT_EQ(finished[0].report_paths.size(), 1u);
}

TEST(Watchdog, NotArmedUntilTheFirstTransition) {
  char templ[] = "/tmp/aiowatchdog-wd-XXXXXX";
  const std::string dir = mkdtemp(templ);
  Watchdog dog(FastOptions(dir));
  ASSERT_TRUE(dog.Start().ok());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(ReportFiles(dir, ".txt").empty());
  EXPECT_EQ(dog.episodes_started(), 0);
}

TEST(Watchdog, UnwritableDirectoryIsAnErrorNotACrash) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  Watchdog dog(FastOptions("/nonexistent/aiowatchdog"));
  ASSERT_TRUE(dog.Start().ok());
  dog.Touch(/*idle=*/false);
  std::this_thread::sleep_for(milliseconds(120));
  dog.Touch(/*idle=*/false);
  for (int i = 0; i < 100 && !dog.HasFinished(); ++i) std::this_thread::sleep_for(milliseconds(2));
  const auto finished = dog.TakeFinished();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_TRUE(finished[0].report_paths.empty());
  ASSERT_FALSE(finished[0].errors.empty());
  EXPECT_NE(finished[0].errors[0].find("/nonexistent/aiowatchdog"), std::string::npos);
}

}  // namespace
}  // namespace aiowatchdog
