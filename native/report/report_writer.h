// Writes one sample's report files, atomically: each goes to a temporary name
// that starts with a dot and ends in ".tmp" (no reader takes it for a report),
// is fsync'ed, then renamed to its final name; the directory is fsync'ed last.
// A process killed at any moment leaves complete reports or none.
//
// Names follow aiodebug: stacktrace-YYYYMMDD-HHMMSS.ffffff-N.txt (local time of
// the capture, N the sample's index in its episode), the JSON twin beside it
// with ".json".
//
// A report directory may be shared with, or prepared by, another user. So the
// directory is opened once (OpenReportDirectory: O_DIRECTORY|O_NOFOLLOW, and
// refused when another user could plant names in it) and every file is made
// relative to that descriptor: temporaries get an unpredictable name and are
// created with O_CREAT|O_EXCL|O_NOFOLLOW|O_NONBLOCK, so a symlink, FIFO or
// file planted at any name we use is never followed, opened, waited on or
// adopted (the create fails, and the report is counted as not written); the
// rename replaces a planted final name itself, never what it points to.
#ifndef AIOWATCHDOG_REPORT_WRITER_H_
#define AIOWATCHDOG_REPORT_WRITER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/report_model.h"

namespace aiowatchdog {

struct WrittenReport {
  std::string text_path;
  std::string json_path;
};

inline constexpr mode_t kDefaultFileMode = 0600;
inline constexpr mode_t kDefaultDirMode = 0700;

// "stacktrace-20261122-101112.123456-0" for that wall-clock time and index.
std::string ReportStem(int64_t unix_ns, int32_t sample_index);

// ISO 8601 local time with microseconds and UTC offset.
std::string LocalIsoTime(int64_t unix_ns);

// Whether a directory with this owner and mode may hold our reports: owned by
// us (the effective user) or by root, and not writable by group or others
// unless the sticky bit is set (as sshd's StrictModes and cron check). An
// error naming `dir` and what is wrong otherwise (PermissionDenied).
absl::Status CheckDirectoryOwnership(const std::string& dir, uid_t owner, mode_t mode);

// Makes `dir` (and missing parents, with `dir_mode`) if it does not exist,
// opens it O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC and checks it with
// CheckDirectoryOwnership. Returns the descriptor (the caller closes it).
absl::StatusOr<int> OpenReportDirectory(const std::string& dir, mode_t dir_mode = kDefaultDirMode);

// Makes `dir` (and its parents) if it does not exist; an error if it is not a
// directory or cannot be made.
absl::Status EnsureDirectory(const std::string& dir, mode_t dir_mode = kDefaultDirMode);

// Renders and writes both files into the directory open at `dir_fd` (`dir`
// names it, for the paths returned and for messages); on error nothing is
// left under a final name.
absl::StatusOr<WrittenReport> WriteReportFiles(int dir_fd, const std::string& dir,
                                               const SampleReport& report,
                                               mode_t file_mode = kDefaultFileMode);
// The same into `dir` by path: opened (made again if it was removed) and
// checked for this write alone.
absl::StatusOr<WrittenReport> WriteReportFiles(const std::string& dir, const SampleReport& report);

// Writes `content` to `name` in the directory open at `dir_fd` through a
// temporary file (see the file comment), fsync and renameat; the file gets
// exactly `file_mode` whatever the umask.
absl::Status WriteFileAtomically(int dir_fd, const std::string& dir, const std::string& name,
                                 const std::string& content, mode_t file_mode = kDefaultFileMode);
absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 const std::string& content);

// Whether the directory open at `dir_fd` was removed (no link left): writing
// there would succeed and be lost.
bool DirectoryRemoved(int dir_fd);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_REPORT_WRITER_H_
