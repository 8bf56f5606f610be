// See report_writer.h.
#include "report/report_writer.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "report/json_report.h"
#include "report/text_report.h"
#include "common/utf8_text.h"

namespace aiowatchdog {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path, int error = errno) {
  return absl::UnavailableError(
      absl::StrFormat("%s %s: %s", what, EscapeInvalidUtf8(path), std::strerror(error)));
}

struct tm LocalTm(int64_t unix_ns) {
  const time_t seconds = static_cast<time_t>(unix_ns / 1'000'000'000);
  struct tm tm;
  localtime_r(&seconds, &tm);
  return tm;
}

int Micros(int64_t unix_ns) { return static_cast<int>((unix_ns % 1'000'000'000) / 1000); }

// 64 unpredictable bits for a temporary name (the kernel's CSPRNG; should it
// fail, the clock and a counter: O_EXCL still refuses any planted name).
uint64_t RandomBits() {
  uint64_t bits = 0;
  if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) == static_cast<ssize_t>(sizeof(bits))) {
    return bits;
  }
  static std::atomic<uint64_t> counter{0};
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (static_cast<uint64_t>(now.tv_nsec) << 20) ^ static_cast<uint64_t>(now.tv_sec) ^
         (counter.fetch_add(1) * 0x9E3779B97F4A7C15ULL);
}

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

absl::Status CheckDirectoryOwnership(const std::string& dir, uid_t owner, mode_t mode) {
  const uid_t self = geteuid();
  if (owner != self && owner != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "stack_output_dir %s is owned by another user (uid %d, we are uid %d): that user could "
        "replace or read our reports; use a directory of our own",
        EscapeInvalidUtf8(dir), owner, self));
  }
  if ((mode & (S_IWGRP | S_IWOTH)) != 0 && (mode & S_ISVTX) == 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "stack_output_dir %s is writable by %s (mode %04o) without the sticky bit: another user "
        "could plant or remove files in it; remove that write permission (chmod go-w)",
        EscapeInvalidUtf8(dir), (mode & S_IWOTH) ? "others" : "its group", mode & 07777));
  }
  return absl::OkStatus();
}

absl::Status EnsureDirectory(const std::string& dir, mode_t dir_mode) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return ErrnoError("cannot write reports to", dir, ENOTDIR);
  }
  // Gone (removed, or a mount went away): make it again, parents first.
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (mkdir(prefix.c_str(), dir_mode) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create directory", prefix);
    }
    if (slash == std::string::npos) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<int> OpenReportDirectory(const std::string& dir, mode_t dir_mode) {
  if (dir.empty()) return absl::InvalidArgumentError("stack_output_dir must not be empty");
  if (absl::Status s = EnsureDirectory(dir, dir_mode); !s.ok()) return s;
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return absl::PermissionDeniedError(absl::StrFormat(
          "stack_output_dir %s is a symbolic link or not a directory: give the directory itself",
          EscapeInvalidUtf8(dir)));
    }
    return ErrnoError("cannot open report directory", dir);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    absl::Status error = ErrnoError("cannot stat report directory", dir);
    close(fd);
    return error;
  }
  if (absl::Status s = CheckDirectoryOwnership(dir, st.st_uid, st.st_mode); !s.ok()) {
    close(fd);
    return s;
  }
  return fd;
}

bool DirectoryRemoved(int dir_fd) {
  struct stat st;
  return fstat(dir_fd, &st) != 0 || st.st_nlink == 0;
}

absl::Status WriteFileAtomically(int dir_fd, const std::string& dir, const std::string& name,
                                 const std::string& content, mode_t file_mode) {
  const std::string final_path = dir + "/" + name;
  std::string temp;
  int fd = -1;
  // A name taken (planted, or a collision of 64 random bits) is never
  // opened: try another, a few times.
  for (int attempt = 0; attempt < 4 && fd < 0; ++attempt) {
    temp = absl::StrFormat(".%s.%016x.%d.tmp", name, RandomBits(), getpid());
    fd = openat(dir_fd, temp.c_str(),
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, file_mode);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) return ErrnoError("cannot create", dir + "/" + temp);
  const auto fail = [&](const char* what) {
    absl::Status error = ErrnoError(what, dir + "/" + temp);
    close(fd);
    unlinkat(dir_fd, temp.c_str(), 0);
    return error;
  };
  // Exactly file_mode, whatever the umask took away.
  if (fchmod(fd, file_mode) != 0) return fail("cannot set the mode of");
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("cannot fsync");
  close(fd);
  if (renameat(dir_fd, temp.c_str(), dir_fd, name.c_str()) != 0) {
    absl::Status error = ErrnoError("cannot rename to", final_path);
    unlinkat(dir_fd, temp.c_str(), 0);
    return error;
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 const std::string& content) {
  absl::StatusOr<int> fd = OpenReportDirectory(dir);
  if (!fd.ok()) return fd.status();
  absl::Status s = WriteFileAtomically(*fd, dir, name, content);
  close(*fd);
  return s;
}

absl::StatusOr<WrittenReport> WriteReportFiles(int dir_fd, const std::string& dir,
                                               const SampleReport& report, mode_t file_mode) {
  const std::string stem = ReportStem(report.captured_unix_ns, report.sample_index);
  WrittenReport written{dir + "/" + stem + ".txt", dir + "/" + stem + ".json"};
  // The JSON twin first: a text report on disk always has its twin.
  if (absl::Status s = WriteFileAtomically(dir_fd, dir, stem + ".json", RenderJsonReport(report),
                                           file_mode);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteFileAtomically(dir_fd, dir, stem + ".txt", RenderTextReport(report),
                                           file_mode);
      !s.ok()) {
    unlinkat(dir_fd, (stem + ".json").c_str(), 0);
    return s;
  }
  // Make the renames themselves durable.
  fsync(dir_fd);
  return written;
}

absl::StatusOr<WrittenReport> WriteReportFiles(const std::string& dir, const SampleReport& report) {
  absl::StatusOr<int> fd = OpenReportDirectory(dir);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<WrittenReport> written = WriteReportFiles(*fd, dir, report, kDefaultFileMode);
  close(*fd);
  return written;
}

}  // namespace aiowatchdog
