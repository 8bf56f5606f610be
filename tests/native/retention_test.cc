// What stays in a report directory: the newest reports within max_reports and
// max_bytes, never a file that is not ours, no temporary of a dead writer; and
// the episode rate limit's sliding window.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "detect/episode_rate_limit.h"
#include "report/report_retention.h"

namespace aiowatchdog {
namespace {

std::string MakeDir() {
  char templ[] = "/tmp/aiowatchdog-retention-XXXXXX";
  return mkdtemp(templ);
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A file of `bytes` bytes, modified `age_s` seconds ago: starting with our
// own header when it is named like a report (retention removes only those).
void MakeFile(const std::string& path, size_t bytes, int age_s = 0) {
  std::string content(bytes, 'x');
  std::string header;
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".txt") == 0) {
    header = "# aiowatchdog hang report (schema 1)\n";
  } else if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    header = path.find("/profile-") != std::string::npos
                 ? "{\n  \"schema\": \"aiowatchdog.profile\",\n"
                 : "{\n  \"schema\": \"aiowatchdog.report\",\n";
  }
  content.replace(0, std::min(header.size(), content.size()), header.substr(0, content.size()));
  std::ofstream(path) << content;
  timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= age_s;
  times[1] = times[0];
  utimensat(AT_FDCWD, path.c_str(), times, 0);
}

// Report i (0 oldest): a .txt and a .json of `bytes` each.
void MakeReport(const std::string& dir, int i, size_t bytes = 100) {
  const std::string stem = dir + "/stacktrace-20261122-1011" + std::to_string(10 + i) + ".000000-0";
  MakeFile(stem + ".txt", bytes, 100 - i);
  MakeFile(stem + ".json", bytes, 100 - i);
}

TEST(ReportNames, OnlyTheWritersOwnNamesAreReports) {
  std::string_view stem;
  EXPECT_TRUE(ParseReportFileName("stacktrace-20261122-101112.123456-0.txt", &stem));
  EXPECT_EQ(stem, "stacktrace-20261122-101112.123456-0");
  EXPECT_TRUE(ParseReportFileName("stacktrace-20261122-101112.123456-12.json", &stem));
  // An episode's profile (profile_hz) is a unit of its own.
  EXPECT_TRUE(ParseReportFileName("profile-20261122-101112.123456.json", &stem));
  EXPECT_EQ(stem, "profile-20261122-101112.123456");
  for (const char* other : {"stacktrace-20261122-101112.123456-0.txt.bak", "stacktrace-.txt",
                            "stacktrace-20261122-101112.123456-.txt", "notes.txt",
                            ".stacktrace-20261122-101112.123456-0.txt.42.tmp",
                            "stacktrace-2026112-101112.123456-0.txt",
                            "stacktrace-20261122-101112.123456-0x.json",
                            "profile-20261122-101112.123456.txt",
                            "profile-20261122-101112.123456-0.json",
                            "profile-20261122-101112.12345.json"}) {
    EXPECT_FALSE(ParseReportFileName(other, &stem)) << other;
  }
}

TEST(ReportNames, TemporariesCarryTheirWritersPid) {
  pid_t pid = 0;
  EXPECT_TRUE(ParseTempFileName(".stacktrace-20261122-101112.123456-0.json.4242.tmp", &pid));
  EXPECT_EQ(pid, 4242);
  EXPECT_TRUE(ParseTempFileName(".profile-20261122-101112.123456.json.4243.tmp", &pid));
  EXPECT_EQ(pid, 4243);
  EXPECT_TRUE(ParseTempFileName(".aiowatchdog-probe-140001.77.tmp", &pid));
  EXPECT_EQ(pid, 77);
  for (const char* other : {"stacktrace-20261122-101112.123456-0.txt", ".other.42.tmp",
                            ".stacktrace-x.tmp", ".stacktrace-x.0.tmp", ".stacktrace-x.42"}) {
    EXPECT_FALSE(ParseTempFileName(other, &pid)) << other;
  }
}

TEST(PruneReports, KeepsTheNewestMaxReportsAndNothingElseIsTouched) {
  const std::string dir = MakeDir();
  for (int i = 0; i < 5; ++i) MakeReport(dir, i);
  MakeFile(dir + "/notes.txt", 10, 1000);
  MakeFile(dir + "/stacktrace-bad.txt", 10, 1000);
  const PruneResult result = PruneReports(dir, RetentionLimits{3, 1 << 20});
  EXPECT_EQ(result.kept_reports, 3);
  EXPECT_EQ(result.removed_reports, 2);
  EXPECT_EQ(result.removed_bytes, 400);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{
                            "notes.txt", "stacktrace-20261122-101112.000000-0.json",
                            "stacktrace-20261122-101112.000000-0.txt",
                            "stacktrace-20261122-101113.000000-0.json",
                            "stacktrace-20261122-101113.000000-0.txt",
                            "stacktrace-20261122-101114.000000-0.json",
                            "stacktrace-20261122-101114.000000-0.txt", "stacktrace-bad.txt"}));
}

TEST(PruneReports, KeepsWithinMaxBytesOldestFirst) {
  const std::string dir = MakeDir();
  for (int i = 0; i < 4; ++i) MakeReport(dir, i, 100);  // 200 bytes a report
  const PruneResult result = PruneReports(dir, RetentionLimits{100, 450});
  EXPECT_EQ(result.kept_reports, 2);
  EXPECT_EQ(Names(dir).front(), "stacktrace-20261122-101112.000000-0.json");
}

TEST(PruneReports, TheNewestReportStaysEvenOverMaxBytes) {
  const std::string dir = MakeDir();
  MakeReport(dir, 0, 100);
  MakeReport(dir, 1, 5000);
  const PruneResult result = PruneReports(dir, RetentionLimits{100, 1000});
  EXPECT_EQ(result.kept_reports, 1);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{"stacktrace-20261122-101111.000000-0.json",
                                                  "stacktrace-20261122-101111.000000-0.txt"}));
}

TEST(PruneReports, ALoneTwinCountsAsAReport) {
  const std::string dir = MakeDir();
  MakeFile(dir + "/stacktrace-20261122-101110.000000-0.json", 100, 200);  // killed before its .txt
  MakeReport(dir, 5);
  EXPECT_EQ(PruneReports(dir, RetentionLimits{1, 1 << 20}).removed_reports, 1);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{"stacktrace-20261122-101115.000000-0.json",
                                                  "stacktrace-20261122-101115.000000-0.txt"}));
}

// aiodebug writes the same names: its reports (and anything without our
// header, links and FIFOs) are neither counted nor removed.
TEST(PruneReports, NeverCountsOrRemovesWhatWeCannotProveWeWrote) {
  const std::string dir = MakeDir();
  const std::string outside = MakeDir() + "/precious";
  std::ofstream(outside) << "# aiowatchdog hang report (schema 1)\nkeep me";
  std::ofstream(dir + "/stacktrace-20261122-101101.000000-0.txt") << "Stack for thread 1\n";
  std::ofstream(dir + "/stacktrace-20261122-101102.000000-0.txt") << "Stack for thread 2\n";
  std::ofstream(dir + "/stacktrace-20261122-101103.000000-0.json") << "{\"not\": \"ours\"}";
  ASSERT_EQ(symlink(outside.c_str(), (dir + "/stacktrace-20261122-101104.000000-0.txt").c_str()), 0);
  ASSERT_EQ(mkfifo((dir + "/stacktrace-20261122-101105.000000-0.txt").c_str(), 0600), 0);
  MakeReport(dir, 0);
  MakeReport(dir, 1);
  MakeReport(dir, 2);
  const PruneResult result = PruneReports(dir, RetentionLimits{1, 1 << 20});
  EXPECT_EQ(result.kept_reports, 1);
  EXPECT_EQ(result.removed_reports, 2);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{"stacktrace-20261122-101101.000000-0.txt",
                                                  "stacktrace-20261122-101102.000000-0.txt",
                                                  "stacktrace-20261122-101103.000000-0.json",
                                                  "stacktrace-20261122-101104.000000-0.txt",
                                                  "stacktrace-20261122-101105.000000-0.txt",
                                                  "stacktrace-20261122-101112.000000-0.json",
                                                  "stacktrace-20261122-101112.000000-0.txt"}));
  std::ifstream in(outside);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "# aiowatchdog hang report (schema 1)\nkeep me");
}

pid_t DeadPid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

TEST(RemoveStaleTempFiles, RemovesTheDeadWritersAndTheOldOnlyAndOnlyTemporaries) {
  const std::string dir = MakeDir();
  const std::string dead = std::to_string(DeadPid());
  const std::string self = std::to_string(getpid());
  MakeFile(dir + "/.stacktrace-20261122-101112.123456-0.json." + dead + ".tmp", 10);
  MakeFile(dir + "/.aiowatchdog-probe-1." + dead + ".tmp", 0);
  MakeFile(dir + "/.stacktrace-20261122-101112.123456-0.txt." + self + ".tmp", 10);  // being written
  MakeFile(dir + "/.stacktrace-20261122-101112.123456-1.txt." + self + ".tmp", 10, 3600);  // pid reused
  MakeFile(dir + "/unrelated." + dead + ".tmp", 10);
  // A link or FIFO at a temporary's name is not ours: left alone, not followed.
  ASSERT_EQ(symlink("/etc/hostname",
                    (dir + "/.stacktrace-20261122-101112.123456-2.txt." + dead + ".tmp").c_str()), 0);
  ASSERT_EQ(mkfifo((dir + "/.stacktrace-20261122-101112.123456-3.txt." + dead + ".tmp").c_str(), 0600), 0);
  MakeReport(dir, 0);
  EXPECT_EQ(RemoveStaleTempFiles(dir), 3);
  EXPECT_EQ(Names(dir), (std::vector<std::string>{
                            ".stacktrace-20261122-101112.123456-0.txt." + self + ".tmp",
                            ".stacktrace-20261122-101112.123456-2.txt." + dead + ".tmp",
                            ".stacktrace-20261122-101112.123456-3.txt." + dead + ".tmp",
                            "stacktrace-20261122-101110.000000-0.json",
                            "stacktrace-20261122-101110.000000-0.txt", "unrelated." + dead + ".tmp"}));
}

TEST(EpisodeRateLimit, AdmitsAtMostNInAnySlidingWindow) {
  EpisodeRateLimit limit(/*max_per_window=*/2, /*window_ns=*/1000);
  EXPECT_TRUE(limit.Admit(0));
  EXPECT_TRUE(limit.Admit(10));
  EXPECT_FALSE(limit.Admit(20));
  EXPECT_FALSE(limit.Admit(999));
  EXPECT_TRUE(limit.Admit(1000)) << "the episode at 0 left the window";
  EXPECT_FALSE(limit.Admit(1005));
  EXPECT_TRUE(limit.Admit(1010));
  EXPECT_FALSE(limit.Admit(1999));
}

}  // namespace
}  // namespace aiowatchdog
