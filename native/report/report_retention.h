// What stays in a report directory: the newest reports within the limits
// (`max_reports` reports, `max_bytes` bytes; the oldest go first), and no
// temporary file of a writer that was killed.
//
// A report is one sample: its ".txt" and its ".json" twin, counted and
// removed together; an episode's profile file (profile_hz) counts as one
// report of its own. Only files we can prove we wrote are ever counted or
// touched: a name a report writer makes
// (stacktrace-YYYYMMDD-HHMMSS.ffffff-N.{txt,json},
// profile-YYYYMMDD-HHMMSS.ffffff.json, and the temporaries
// .<such a name>[.<random>].<pid>.tmp and .aiowatchdog-probe-<tid>.<pid>.tmp),
// a regular file (never followed: a symlink is not one) owned by this
// process's effective user, and for reports and profiles content that starts
// with our own header ("# aiowatchdog hang report", or the JSON's
// "aiowatchdog.report"/"aiowatchdog.profile" schema). aiodebug writes the
// same stacktrace-*.txt names: its files fail the header test and are
// neither counted nor removed; so is anything else in the directory. The
// limits hold for the directory, so processes sharing one directory share
// its bound.
//
// Watchdog thread (pruning) and the thread calling Start (temporaries); plain
// file-system calls, no locks of ours.
#ifndef AIOWATCHDOG_REPORT_RETENTION_H_
#define AIOWATCHDOG_REPORT_RETENTION_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace aiowatchdog {

struct RetentionLimits {
  int32_t max_reports = 100;
  int64_t max_bytes = 64LL << 20;
};

struct PruneResult {
  int32_t kept_reports = 0;
  int32_t removed_reports = 0;
  int64_t removed_bytes = 0;
};

// Removes the oldest reports (by modification time, then name) until at most
// `max_reports` remain and they take at most `max_bytes`. The newest report
// is always kept, even when it alone is over `max_bytes`.
// Everything relative to `dir_fd`, the directory opened once
// (report_writer.h: OpenReportDirectory); the path forms open it themselves.
PruneResult PruneReports(int dir_fd, const RetentionLimits& limits);
PruneResult PruneReports(const std::string& dir, const RetentionLimits& limits);

// Temporary files whose writer is gone (no such process), or that are older
// than kStaleTempAgeNs whoever wrote them (a pid reused since), are removed.
// Returns how many.
inline constexpr int64_t kStaleTempAgeNs = 600'000'000'000;  // 10 minutes
int RemoveStaleTempFiles(int dir_fd);
int RemoveStaleTempFiles(const std::string& dir);

// Whether the file `name` in `dir_fd` is a report file we wrote (see above):
// a regular file of ours whose first bytes are our header. Never blocks
// (O_NONBLOCK|O_NOFOLLOW) and reads at most a few hundred bytes.
bool IsOurReportFile(int dir_fd, std::string_view name);

// "stacktrace-20261122-101112.123456-0.txt" -> stem without the suffix.
bool ParseReportFileName(std::string_view name, std::string_view* stem);
// ".stacktrace-....json.4242.tmp" or ".aiowatchdog-probe-7.4242.tmp" -> 4242.
bool ParseTempFileName(std::string_view name, pid_t* writer);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_REPORT_RETENTION_H_
