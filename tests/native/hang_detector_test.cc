// The watchdog's timing and episode rules, on made-up times: the detector is
// a pure state machine, so the clock here is just the numbers passed in.
#include "detect/hang_detector.h"

#include <gtest/gtest.h>

namespace aiowatchdog {
namespace {

constexpr int64_t kMs = 1'000'000;
// Made-up times start at an arbitrary base: a stamp of 0 means "not armed".
constexpr int64_t kBase = 7'000'000 * kMs;
using Kind = Decision::Kind;

int64_t T(int64_t ms) { return kBase + ms * kMs; }

HangDetector MakeDetector() { return HangDetector({250 * kMs, 3, 1000 * kMs, 1000 * kMs}); }
LoopState Busy(int64_t since_ms) { return {T(since_ms), false}; }
LoopState Idle(int64_t since_ms) { return {T(since_ms), true}; }

TEST(HangDetector, NotArmedUntilTheFirstTransition) {
  HangDetector d = MakeDetector();
  EXPECT_EQ(d.Next(T(5000), LoopState{}).kind, Kind::kPark);
}

TEST(HangDetector, BusyLoopOnlySleepsUntilItWouldBeLate) {
  HangDetector d = MakeDetector();
  Decision next = d.Next(T(100), Busy(1));
  EXPECT_EQ(next.kind, Kind::kSleepUntil);
  EXPECT_EQ(next.deadline_ns, T(251) + 1);
  // Exactly `interval` busy is not yet a hang.
  EXPECT_EQ(d.Next(T(251), Busy(1)).kind, Kind::kSleepUntil);
  EXPECT_FALSE(d.in_episode());
}

TEST(HangDetector, AnIdleLoopIsNeverHungAndParksTheWatchdog) {
  HangDetector d = MakeDetector();
  // Recently idle: poll once an interval, so a busy spell that begins without
  // waking the watchdog is still checked in time.
  Decision poll = d.Next(T(500), Idle(0));
  ASSERT_EQ(poll.kind, Kind::kSleepUntil);
  EXPECT_EQ(poll.deadline_ns, T(750));
  // Idle for park_after: park until the loop's next transition.
  EXPECT_EQ(d.Next(T(1000), Idle(0)).kind, Kind::kPark);
  EXPECT_EQ(d.Next(T(3'600'000), Idle(0)).kind, Kind::kPark);
  EXPECT_FALSE(d.in_episode());
}

TEST(HangDetector, OneEpisodeTakesSamplesOnScheduleThenEndsOnRecovery) {
  HangDetector d = MakeDetector();
  Decision s0 = d.Next(T(251), Busy(0));
  ASSERT_EQ(s0.kind, Kind::kSample);
  EXPECT_EQ(s0.sample_index, 0);
  EXPECT_EQ(s0.blocked_ns, 251 * kMs);
  EXPECT_EQ(s0.episode_seq, 1);

  Decision wait = d.Next(T(260), Busy(0));
  ASSERT_EQ(wait.kind, Kind::kSleepUntil);
  EXPECT_EQ(wait.deadline_ns, T(1251));

  Decision s1 = d.Next(T(1251), Busy(0));
  ASSERT_EQ(s1.kind, Kind::kSample);
  EXPECT_EQ(s1.sample_index, 1);
  Decision s2 = d.Next(T(2251), Busy(0));
  ASSERT_EQ(s2.kind, Kind::kSample);
  EXPECT_EQ(s2.sample_index, 2);

  // All samples taken: park until the recovery wakes the watchdog.
  EXPECT_EQ(d.Next(T(3251), Busy(0)).kind, Kind::kPark);
  EXPECT_TRUE(d.in_episode());

  // The loop went back to its selector at 3900 ms: blocked all that time.
  Decision ended = d.Next(T(4000), Idle(3900));
  ASSERT_EQ(ended.kind, Kind::kEpisodeEnded);
  EXPECT_EQ(ended.blocked_ns, 3900 * kMs);
  EXPECT_FALSE(d.in_episode());
}

TEST(HangDetector, NoSampleAfterTheLoopRecovers) {
  HangDetector d = MakeDetector();
  ASSERT_EQ(d.Next(T(300), Busy(0)).kind, Kind::kSample);
  // A new busy spell began before sample 1 was due: the episode ends instead.
  Decision next = d.Next(T(1300), Busy(500));
  EXPECT_EQ(next.kind, Kind::kEpisodeEnded);
  EXPECT_EQ(next.blocked_ns, 500 * kMs);
  EXPECT_EQ(d.Next(T(1300), Busy(1290)).kind, Kind::kSleepUntil);
}

TEST(HangDetector, ReArmsForTheNextHangAsANewEpisode) {
  HangDetector d = MakeDetector();
  ASSERT_EQ(d.Next(T(300), Busy(0)).episode_seq, 1);
  ASSERT_EQ(d.Next(T(400), Idle(390)).kind, Kind::kEpisodeEnded);
  Decision second = d.Next(T(700), Busy(400));
  ASSERT_EQ(second.kind, Kind::kSample);
  EXPECT_EQ(second.sample_index, 0);
  EXPECT_EQ(second.episode_seq, 2);
}

TEST(HangDetector, AStalledWatchdogDoesNotBurstSamples) {
  HangDetector d = MakeDetector();
  ASSERT_EQ(d.Next(T(300), Busy(0)).kind, Kind::kSample);
  // Woken 5 s late (machine suspended, say): one sample now, the next one a
  // full sample interval later, not three at once.
  Decision late = d.Next(T(5300), Busy(0));
  ASSERT_EQ(late.kind, Kind::kSample);
  Decision next = d.Next(T(5300), Busy(0));
  ASSERT_EQ(next.kind, Kind::kSleepUntil);
  EXPECT_EQ(next.deadline_ns, T(6300));
}

TEST(HangDetector, SingleSampleEpisodes) {
  HangDetector d({10 * kMs, 1, 1000 * kMs, 1000 * kMs});
  ASSERT_EQ(d.Next(T(11), Busy(0)).kind, Kind::kSample);
  EXPECT_EQ(d.Next(T(5000), Busy(0)).kind, Kind::kPark);
}

// profile_hz: ticks every 10 ms from detection to recovery, between the
// samples and after the last one; none while the loop is healthy.
HangDetector MakeProfilingDetector() {
  DetectorConfig config{250 * kMs, 2, 1000 * kMs, 1000 * kMs};
  config.profile_interval_ns = 10 * kMs;
  return HangDetector(config);
}

TEST(HangDetector, ProfileTicksOnlyDuringAHang) {
  HangDetector d = MakeProfilingDetector();
  // Healthy: busy for less than the interval, then idle for long: no tick.
  EXPECT_EQ(d.Next(T(100), Busy(0)).kind, Kind::kSleepUntil);
  EXPECT_EQ(d.Next(T(2000), Idle(200)).kind, Kind::kPark);
  // A hang: sample 0 first, then the next wake-up is the first tick.
  ASSERT_EQ(d.Next(T(2500), Busy(2240)).kind, Kind::kSample);
  Decision wait = d.Next(T(2501), Busy(2240));
  ASSERT_EQ(wait.kind, Kind::kSleepUntil);
  EXPECT_EQ(wait.deadline_ns, T(2510));
  Decision tick = d.Next(T(2510), Busy(2240));
  ASSERT_EQ(tick.kind, Kind::kProfile);
  EXPECT_EQ(tick.blocked_ns, 270 * kMs);
  EXPECT_EQ(tick.episode_seq, 1);
  EXPECT_EQ(d.Next(T(2511), Busy(2240)).deadline_ns, T(2520));
}

TEST(HangDetector, ProfileTicksKeepTheSamplesOnSchedule) {
  HangDetector d = MakeProfilingDetector();
  ASSERT_EQ(d.Next(T(300), Busy(0)).kind, Kind::kSample);
  int ticks = 0;
  int64_t now = 300;
  Decision next{Kind::kSleepUntil};
  // Act on every decision at its deadline until sample 1 comes.
  for (;;) {
    next = d.Next(T(now), Busy(0));
    if (next.kind == Kind::kSample) break;
    if (next.kind == Kind::kProfile) ++ticks;
    if (next.kind == Kind::kSleepUntil) now = (next.deadline_ns - kBase) / kMs;
  }
  EXPECT_EQ(next.sample_index, 1);
  EXPECT_EQ(now, 1300);  // on time, as without profiling
  EXPECT_EQ(ticks, 99);  // 310 ms .. 1290 ms (the tick at 1300 comes after the sample)
  // After the last sample: the tick due at 1300, then ticks until recovery,
  // no park.
  EXPECT_EQ(d.Next(T(1301), Busy(0)).kind, Kind::kProfile);
  Decision after = d.Next(T(1302), Busy(0));
  ASSERT_EQ(after.kind, Kind::kSleepUntil);
  EXPECT_EQ(after.deadline_ns, T(1310));
  EXPECT_EQ(d.Next(T(1310), Busy(0)).kind, Kind::kProfile);
  Decision ended = d.Next(T(1400), Idle(1390));
  EXPECT_EQ(ended.kind, Kind::kEpisodeEnded);
  EXPECT_EQ(ended.blocked_ns, 1390 * kMs);
}

TEST(HangDetector, MissedProfileTicksAreSkippedNotOwed) {
  HangDetector d = MakeProfilingDetector();
  ASSERT_EQ(d.Next(T(300), Busy(0)).kind, Kind::kSample);
  // The watchdog stalled 95 ms: one tick now, the next a full period later.
  ASSERT_EQ(d.Next(T(405), Busy(0)).kind, Kind::kProfile);
  EXPECT_EQ(d.Next(T(406), Busy(0)).deadline_ns, T(415));
}

// SIGSTOP/SIGCONT of the whole process: the watchdog wakes 3 s late with a
// heartbeat loop's last beat 3.1 s old. The stall, not the loop, explains it:
// one more interval for the loop, and no episode when it beats meanwhile.
TEST(HangDetector, AStoppedProcessIsNotAHang) {
  HangDetector d = MakeDetector();
  Decision next = d.Next(T(100), Busy(100));
  ASSERT_EQ(next.kind, Kind::kSleepUntil);
  EXPECT_EQ(next.deadline_ns, T(350) + 1);
  next = d.Next(T(3350), Busy(100));  // woke 3 s late: stopped
  ASSERT_EQ(next.kind, Kind::kSleepUntil);
  EXPECT_EQ(next.deadline_ns, T(3600));
  EXPECT_FALSE(d.in_episode());
  // The loop's heartbeat comes after the resume: healthy.
  next = d.Next(T(3400), Busy(3390));
  EXPECT_EQ(next.kind, Kind::kSleepUntil);
  EXPECT_FALSE(d.in_episode());
}

// A real block across the stop is still reported, from its own start, one
// interval after the resume.
TEST(HangDetector, ARealBlockAcrossAStopIsStillReported) {
  HangDetector d = MakeDetector();
  ASSERT_EQ(d.Next(T(100), Busy(100)).kind, Kind::kSleepUntil);
  ASSERT_EQ(d.Next(T(3350), Busy(100)).kind, Kind::kSleepUntil);  // the stall
  const Decision sample = d.Next(T(3600), Busy(100));              // on time
  ASSERT_EQ(sample.kind, Kind::kSample);
  EXPECT_EQ(sample.sample_index, 0);
  EXPECT_EQ(sample.blocked_ns, 3500 * kMs);
}

// A watchdog a little late (scheduling noise) declares as before: the loop
// was over its interval before the lateness began.
TEST(HangDetector, SmallLatenessDoesNotDelayDetection) {
  HangDetector d = MakeDetector();
  ASSERT_EQ(d.Next(T(100), Busy(100)).kind, Kind::kSleepUntil);
  EXPECT_EQ(d.Next(T(380), Busy(100)).kind, Kind::kSample);  // 30 ms late
}

}  // namespace
}  // namespace aiowatchdog
