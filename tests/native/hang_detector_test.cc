// The watchdog's timing and episode rules, on made-up times: the detector is
// a pure state machine, so the clock here is just the numbers passed in.
#include "hang_detector.h"

#include <gtest/gtest.h>

namespace aiowatchdog {
namespace {

constexpr int64_t kMs = 1'000'000;
using Kind = Decision::Kind;

HangDetector MakeDetector() { return HangDetector({250 * kMs, 3, 1000 * kMs}); }

TEST(HangDetector, HealthyLoopOnlySleepsUntilTheHeartbeatIsLate) {
  HangDetector d = MakeDetector();
  Decision next = d.Next(100 * kMs, 0);
  EXPECT_EQ(next.kind, Kind::kSleepUntil);
  EXPECT_EQ(next.deadline_ns, 250 * kMs + 1);
  // Exactly `interval` without a beat is not yet a hang.
  EXPECT_EQ(d.Next(250 * kMs, 0).kind, Kind::kSleepUntil);
  EXPECT_FALSE(d.in_episode());
}

TEST(HangDetector, OneEpisodeTakesSamplesOnScheduleThenEndsOnRecovery) {
  HangDetector d = MakeDetector();
  Decision s0 = d.Next(251 * kMs, 0);
  ASSERT_EQ(s0.kind, Kind::kSample);
  EXPECT_EQ(s0.sample_index, 0);
  EXPECT_EQ(s0.blocked_ns, 251 * kMs);
  EXPECT_EQ(s0.episode_seq, 1);

  Decision wait = d.Next(260 * kMs, 0);
  ASSERT_EQ(wait.kind, Kind::kSleepUntil);
  EXPECT_EQ(wait.deadline_ns, 1251 * kMs);

  Decision s1 = d.Next(1251 * kMs, 0);
  ASSERT_EQ(s1.kind, Kind::kSample);
  EXPECT_EQ(s1.sample_index, 1);
  Decision s2 = d.Next(2251 * kMs, 0);
  ASSERT_EQ(s2.kind, Kind::kSample);
  EXPECT_EQ(s2.sample_index, 2);

  // All samples taken: only waiting for the recovery beat now.
  Decision idle = d.Next(3251 * kMs, 0);
  EXPECT_EQ(idle.kind, Kind::kSleepUntil);
  EXPECT_TRUE(d.in_episode());

  Decision ended = d.Next(4000 * kMs, 3900 * kMs);
  ASSERT_EQ(ended.kind, Kind::kEpisodeEnded);
  EXPECT_EQ(ended.blocked_ns, 3900 * kMs);
  EXPECT_FALSE(d.in_episode());
}

TEST(HangDetector, NoSampleAfterTheLoopRecovers) {
  HangDetector d = MakeDetector();
  ASSERT_EQ(d.Next(300 * kMs, 0).kind, Kind::kSample);
  // The beat came back before sample 1 was due: the episode ends instead.
  Decision next = d.Next(1300 * kMs, 500 * kMs);
  EXPECT_EQ(next.kind, Kind::kEpisodeEnded);
  EXPECT_EQ(next.blocked_ns, 500 * kMs);
  EXPECT_EQ(d.Next(1300 * kMs, 1290 * kMs).kind, Kind::kSleepUntil);
}

TEST(HangDetector, ReArmsForTheNextHangAsANewEpisode) {
  HangDetector d = MakeDetector();
  ASSERT_EQ(d.Next(300 * kMs, 0).episode_seq, 1);
  ASSERT_EQ(d.Next(400 * kMs, 390 * kMs).kind, Kind::kEpisodeEnded);
  Decision second = d.Next(700 * kMs, 400 * kMs);
  ASSERT_EQ(second.kind, Kind::kSample);
  EXPECT_EQ(second.sample_index, 0);
  EXPECT_EQ(second.episode_seq, 2);
}

TEST(HangDetector, AStalledWatchdogDoesNotBurstSamples) {
  HangDetector d = MakeDetector();
  ASSERT_EQ(d.Next(300 * kMs, 0).kind, Kind::kSample);
  // Woken 5 s late (machine suspended, say): one sample now, the next one a
  // full sample interval later, not three at once.
  Decision late = d.Next(5300 * kMs, 0);
  ASSERT_EQ(late.kind, Kind::kSample);
  Decision next = d.Next(5300 * kMs, 0);
  ASSERT_EQ(next.kind, Kind::kSleepUntil);
  EXPECT_EQ(next.deadline_ns, 6300 * kMs);
}

TEST(HangDetector, SingleSampleEpisodes) {
  HangDetector d({10 * kMs, 1, 1000 * kMs});
  ASSERT_EQ(d.Next(11 * kMs, 0).kind, Kind::kSample);
  EXPECT_EQ(d.Next(5000 * kMs, 0).kind, Kind::kSleepUntil);
}

}  // namespace
}  // namespace aiowatchdog
