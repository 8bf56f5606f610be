// See report_writer.h.
#include "report_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "json_report.h"
#include "text_report.h"

namespace aiowatchdog {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrFormat("%s %s: %s", what, path, std::strerror(errno)));
}

struct tm LocalTm(int64_t unix_ns) {
  const time_t seconds = static_cast<time_t>(unix_ns / 1'000'000'000);
  struct tm tm;
  localtime_r(&seconds, &tm);
  return tm;
}

int Micros(int64_t unix_ns) { return static_cast<int>((unix_ns % 1'000'000'000) / 1000); }

}  // namespace

std::string ReportStem(int64_t unix_ns, int32_t sample_index) {
  const struct tm tm = LocalTm(unix_ns);
  char date[32];
  strftime(date, sizeof(date), "%Y%m%d-%H%M%S", &tm);
  return absl::StrFormat("stacktrace-%s.%06d-%d", date, Micros(unix_ns), sample_index);
}

std::string LocalIsoTime(int64_t unix_ns) {
  const struct tm tm = LocalTm(unix_ns);
  char date[32];
  char offset[8];
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  strftime(offset, sizeof(offset), "%z", &tm);
  return absl::StrFormat("%s.%06d%s", date, Micros(unix_ns), offset);
}

absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 const std::string& content) {
  const std::string final_path = dir + "/" + name;
  const std::string temp_path = absl::StrFormat("%s/.%s.%d.tmp", dir, name, getpid());
  const int fd = open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", temp_path);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status error = ErrnoError("cannot write", temp_path);
      close(fd);
      unlink(temp_path.c_str());
      return error;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    absl::Status error = ErrnoError("cannot fsync", temp_path);
    close(fd);
    unlink(temp_path.c_str());
    return error;
  }
  close(fd);
  if (rename(temp_path.c_str(), final_path.c_str()) != 0) {
    absl::Status error = ErrnoError("cannot rename to", final_path);
    unlink(temp_path.c_str());
    return error;
  }
  return absl::OkStatus();
}

absl::Status EnsureDirectory(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    errno = ENOTDIR;
    return ErrnoError("cannot write reports to", dir);
  }
  // Gone (removed, or a mount went away): make it again, parents first.
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create directory", prefix);
    }
    if (slash == std::string::npos) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<WrittenReport> WriteReportFiles(const std::string& dir, const SampleReport& report) {
  if (absl::Status s = EnsureDirectory(dir); !s.ok()) return s;
  const std::string stem = ReportStem(report.captured_unix_ns, report.sample_index);
  WrittenReport written{dir + "/" + stem + ".txt", dir + "/" + stem + ".json"};
  // The JSON twin first: a text report on disk always has its twin.
  if (absl::Status s = WriteFileAtomically(dir, stem + ".json", RenderJsonReport(report)); !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteFileAtomically(dir, stem + ".txt", RenderTextReport(report)); !s.ok()) {
    unlink(written.json_path.c_str());
    return s;
  }
  // Make the renames themselves durable.
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return written;
}

}  // namespace aiowatchdog
