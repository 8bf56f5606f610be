// Writes one sample's report files, atomically: each goes to a temporary name
// that starts with a dot and ends in ".tmp" (no reader takes it for a report),
// is fsync'ed, then renamed to its final name; the directory is fsync'ed last.
// A process killed at any moment leaves complete reports or none.
//
// Names follow aiodebug: stacktrace-YYYYMMDD-HHMMSS.ffffff-N.txt (local time of
// the capture, N the sample's index in its episode), the JSON twin beside it
// with ".json".
#ifndef AIOWATCHDOG_REPORT_WRITER_H_
#define AIOWATCHDOG_REPORT_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "report_model.h"

namespace aiowatchdog {

struct WrittenReport {
  std::string text_path;
  std::string json_path;
};

// "stacktrace-20261122-101112.123456-0" for that wall-clock time and index.
std::string ReportStem(int64_t unix_ns, int32_t sample_index);

// ISO 8601 local time with microseconds and UTC offset.
std::string LocalIsoTime(int64_t unix_ns);

// Makes `dir` (and its parents) if it does not exist; an error if it is not a
// directory or cannot be made.
absl::Status EnsureDirectory(const std::string& dir);

// Renders and writes both files, into `dir` made again if it was removed; on
// error nothing is left under a final name.
absl::StatusOr<WrittenReport> WriteReportFiles(const std::string& dir, const SampleReport& report);

// Writes `content` to dir/name through a temporary file, fsync and rename.
absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 const std::string& content);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_REPORT_WRITER_H_
