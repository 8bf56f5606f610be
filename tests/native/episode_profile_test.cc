// A hang's blocked-time profile: stacks aggregated by identity, the table's
// bound, the file name tied to sample 0's report, and the JSON it renders.
#include "report/episode_profile.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aiowatchdog {
namespace {

std::vector<Frame> Stack(const std::string& leaf, int line = 7) {
  Frame outer{"python", "/app/main.py", 3, "main", "run()"};
  Frame inner{"python", "/app/work.py", line, leaf, ""};
  return {outer, inner};
}

TEST(EpisodeProfile, SameStacksAreCountedOnce) {
  EpisodeProfile p;
  p.Add(Stack("tax"));
  p.Add(Stack("tax"));
  p.Add(Stack("tax", 8));  // another line: another stack
  p.Add(Stack("render"));
  p.Discard();
  EXPECT_EQ(p.samples(), 4);
  EXPECT_EQ(p.distinct_stacks(), 3u);
  const std::string json = p.RenderJson(ProfileHeader{"1-2-3", 42, "CPython 3.11.7", 100, 0.25,
                                                      1700000000000000000, 0.5, true, 42, "Main"});
  EXPECT_NE(json.find("\"schema\": \"aiowatchdog.profile\""), std::string::npos);
  EXPECT_NE(json.find("\"samples\": 4,"), std::string::npos);
  EXPECT_NE(json.find("\"discarded_samples\": 1,"), std::string::npos);
  EXPECT_NE(json.find("{\"count\": 2, \"frames\": ["), std::string::npos);
  EXPECT_NE(json.find("\"line\": 8"), std::string::npos);
  EXPECT_NE(json.find("\"recovered\": true"), std::string::npos);
  p.Reset();
  EXPECT_EQ(p.samples(), 0);
  EXPECT_EQ(p.distinct_stacks(), 0u);
}

TEST(EpisodeProfile, FieldsCannotRunTogether) {
  // "ab"+"c" and "a"+"bc" must be different stacks.
  EpisodeProfile p;
  p.Add({Frame{"python", "ab", 1, "c", ""}});
  p.Add({Frame{"python", "a", 1, "bc", ""}});
  EXPECT_EQ(p.distinct_stacks(), 2u);
}

TEST(EpisodeProfile, NewStacksPastTheBoundAreDroppedKnownOnesStillCount) {
  EpisodeProfile p;
  for (size_t i = 0; i < EpisodeProfile::kMaxStacks; ++i) p.Add(Stack("f" + std::to_string(i)));
  p.Add(Stack("one too many"));
  p.Add(Stack("f0"));
  EXPECT_EQ(p.distinct_stacks(), EpisodeProfile::kMaxStacks);
  EXPECT_EQ(p.dropped(), 1);
  EXPECT_EQ(p.samples(), static_cast<int64_t>(EpisodeProfile::kMaxStacks) + 1);
}

TEST(EpisodeProfile, NamedAfterSampleZerosReport) {
  setenv("TZ", "UTC", 1);
  tzset();
  // 2023-11-14 22:13:20.123456 UTC
  EXPECT_EQ(ProfileFileName(1700000000123456789), "profile-20231114-221320.123456.json");
}

}  // namespace
}  // namespace aiowatchdog
