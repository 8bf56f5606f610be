// The watchdog thread end to end, with the fake walker: a loop busy too long
// becomes an episode with its samples on disk, its next transition ends it, an
// idle loop is never hung, and stopping is prompt.
#include "watchdog.h"

#include <dirent.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "capture/capture.h"
#include "fake_walker.h"
#include "detect/gil_wait.h"

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

  // Recovery: back in its selector. That touch, and only that one, says so.
  EXPECT_TRUE(dog.Touch(/*idle=*/true) & Watchdog::kBlockEnded);
  for (int i = 0; i < 100 && !dog.HasFinished(); ++i) std::this_thread::sleep_for(milliseconds(2));
  ASSERT_TRUE(dog.HasFinished());
  EXPECT_FALSE(dog.Touch(/*idle=*/false) & Watchdog::kBlockEnded);
  const auto finished = dog.TakeFinished();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_TRUE(finished[0].recovered);
  EXPECT_GE(finished[0].blocked_s, 0.4);
  EXPECT_EQ(finished[0].report_paths.size(), 2u);
  EXPECT_TRUE(finished[0].write_error.empty());
  EXPECT_EQ(finished[0].reports_not_written, 0);
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

// One hang of the "loop" (this thread): busy for `busy`, then idle; returns
// the episodes finished by then.
std::vector<FinishedEpisode> Hang(Watchdog& dog, milliseconds busy) {
  dog.Touch(/*idle=*/false);
  std::this_thread::sleep_for(busy);
  dog.Touch(/*idle=*/true);
  std::this_thread::sleep_for(milliseconds(30));  // the watchdog ends the episode
  return dog.TakeFinished();
}

std::string MakeDir() {
  char templ[] = "/tmp/aiowatchdog-wd-XXXXXX";
  return mkdtemp(templ);
}

TEST(Watchdog, DiskTroubleIsToldOncePerSpellAndWritingResumes) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  // The report directory's path runs through a regular file: nothing can be
  // written there, not even by root, until the file becomes a directory.
  const std::string blocker = MakeDir() + "/file";
  FILE* f = fopen(blocker.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  Watchdog dog(FastOptions(blocker + "/reports"));
  ASSERT_TRUE(dog.Start().ok());

  auto first = Hang(dog, milliseconds(120));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].report_paths.empty());
  EXPECT_EQ(first[0].reports_not_written, 1);
  EXPECT_NE(first[0].write_error.find(blocker), std::string::npos) << first[0].write_error;

  auto second = Hang(dog, milliseconds(120));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].reports_not_written, 1);
  EXPECT_TRUE(second[0].write_error.empty()) << "told once per spell";

  ASSERT_EQ(unlink(blocker.c_str()), 0);  // the trouble clears
  auto third = Hang(dog, milliseconds(120));
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].report_paths.size(), 1u) << "the directory was made again";
  EXPECT_EQ(third[0].reports_lost_before, 2);
  EXPECT_TRUE(third[0].write_error.empty());
  EXPECT_EQ(ReportFiles(blocker + "/reports", ".txt").size(), 1u);
}

TEST(Watchdog, EpisodesOverTheRateLimitAreCountedNotCapturedAndToldInTheNextReport) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  const std::string dir = MakeDir();
  WatchdogOptions options = FastOptions(dir);
  options.max_episodes_per_minute = 1;
  options.rate_window_ns = 600'000'000;
  Watchdog dog(options);
  ASSERT_TRUE(dog.Start().ok());

  ASSERT_EQ(Hang(dog, milliseconds(120)).size(), 1u);
  EXPECT_TRUE(Hang(dog, milliseconds(120)).empty()) << "suppressed: no WARNING either";
  EXPECT_TRUE(Hang(dog, milliseconds(120)).empty());
  EXPECT_EQ(dog.episodes_started(), 3);
  EXPECT_EQ(dog.episodes_suppressed(), 2);
  EXPECT_EQ(ReportFiles(dir, ".txt").size(), 1u);

  std::this_thread::sleep_for(milliseconds(700));  // the window moves on
  auto next = Hang(dog, milliseconds(120));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].suppressed_before, 2);
  ASSERT_EQ(next[0].report_paths.size(), 1u);
  std::ifstream text(next[0].report_paths[0]);
  const std::string content((std::istreambuf_iterator<char>(text)), std::istreambuf_iterator<char>());
  EXPECT_NE(content.find("# Episodes suppressed before this one (rate limit): 2\n"), std::string::npos)
      << content;
}

TEST(Watchdog, KeepsTheDirectoryWithinMaxReports) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  const std::string dir = MakeDir();
  WatchdogOptions options = FastOptions(dir);
  options.max_reports = 2;
  options.max_episodes_per_minute = 1000;
  Watchdog dog(options);
  ASSERT_TRUE(dog.Start().ok());
  std::vector<std::string> written;
  for (int i = 0; i < 4; ++i) {
    for (const FinishedEpisode& e : Hang(dog, milliseconds(80))) {
      written.insert(written.end(), e.report_paths.begin(), e.report_paths.end());
    }
  }
  ASSERT_EQ(written.size(), 4u);
  std::vector<std::string> kept = ReportFiles(dir, ".txt");
  std::sort(kept.begin(), kept.end());
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(dir + "/" + kept[0], written[2]) << "the newest two are kept";
  EXPECT_EQ(dir + "/" + kept[1], written[3]);
  EXPECT_EQ(ReportFiles(dir, ".json").size(), 2u);
}

// A stand-in GIL for the GIL-starvation test: "held" by another thread, its
// struct the one int the loop thread below waits on with a bare futex.
int g_fake_gil_word = 0;
pid_t g_fake_gil_holder = 0;

int FakeGilRead(awd_gil_state* out) {
  *out = awd_gil_state{};
  out->locked = 1;
  out->holder_tid = g_fake_gil_holder;
  out->lo = reinterpret_cast<uintptr_t>(&g_fake_gil_word);
  out->hi = out->lo + sizeof g_fake_gil_word;
  return 1;
}

// Process CPU time of every thread but the caller's, ns.
int64_t ProcessCpuNs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
}

// An idle loop whose thread waits for the GIL is reported, and once its
// samples are taken the watchdog waits for the probe (or looks again once an
// interval) instead of spinning on the state it made up: before, it ran a
// core flat out, mu_ held, until the loop moved.
TEST(Watchdog, ALoopStarvedOfTheGilIsAHangAndTheWatchdogDoesNotSpinOnIt) {
  ASSERT_TRUE(InstallCaptureHandler(testing::TestSignal(), testing::FakeWalker).ok());
  char templ[] = "/tmp/aiowatchdog-wd-XXXXXX";
  const std::string dir = mkdtemp(templ);
  g_fake_gil_holder = static_cast<pid_t>(syscall(SYS_gettid));  // "another thread": the test's
  SetGilReader(&FakeGilRead);
  WatchdogOptions o = FastOptions(dir);
  o.samples = 1;
  Watchdog dog(o);
  ASSERT_TRUE(dog.Start().ok());
  std::atomic<bool> release{false};
  std::thread loop([&] {
    dog.Touch(/*idle=*/true);  // in its "selector"
    // Then, its wait over, it waits for the GIL: a futex in the GIL's struct.
    while (!release.load()) {
      syscall(SYS_futex, &g_fake_gil_word, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
    }
    dog.Touch(/*idle=*/false);  // it got the GIL and ran
  });
  std::this_thread::sleep_for(milliseconds(400));  // found, then a whole interval more
  EXPECT_EQ(ReportFiles(dir, ".txt").size(), 1u);
  const int64_t cpu_before = ProcessCpuNs();
  std::this_thread::sleep_for(milliseconds(600));  // samples all taken: the watchdog waits
  const int64_t cpu_ns = ProcessCpuNs() - cpu_before;
  EXPECT_LT(cpu_ns, 200'000'000) << "the watchdog spun: " << cpu_ns / 1e6 << " ms of CPU in 600 ms";
  release.store(true);
  g_fake_gil_word = 1;
  syscall(SYS_futex, &g_fake_gil_word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  loop.join();
  for (int i = 0; i < 200 && !dog.HasFinished(); ++i) std::this_thread::sleep_for(milliseconds(2));
  ASSERT_TRUE(dog.HasFinished());
  const auto finished = dog.TakeFinished();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_GE(finished[0].blocked_s, 0.9);  // the whole starvation, counted from its first look
  EXPECT_GE(finished[0].blocked_min_s, 0) << "a range: it began between two looks";
  dog.RequestStop();
  dog.Join();
  SetGilReader(nullptr);
}

}  // namespace
}  // namespace aiowatchdog
