// See report_retention.h.
#include "report/report_retention.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <tuple>
#include <vector>

#include <unordered_map>

#include "common/dir_stream.h"

namespace aiowatchdog {
namespace {

// Debian's Abseil has its own string_view, so these few are done by hand.
bool Digits(std::string_view s, size_t count) {
  if (s.size() < count) return false;
  for (size_t i = 0; i < count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (!StartsWith(*s, prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

bool ConsumeSuffix(std::string_view* s, std::string_view suffix) {
  if (s->size() < suffix.size() || s->substr(s->size() - suffix.size()) != suffix) return false;
  s->remove_suffix(suffix.size());
  return true;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

struct StoredReport {
  std::string stem;
  int64_t newest_mtime_ns = 0;
  int64_t bytes = 0;
  std::string text_name;  // empty when absent
  std::string json_name;  // empty when absent
};

// Calls visit(name) for each entry of the directory open at dir_fd (read
// through a descriptor of its own, so dir_fd's offset is untouched); false
// if it cannot be read.
template <typename Visit>
bool ForEachEntry(int dir_fd, Visit visit) {
  const int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  DirStream d(fdopendir(fd));
  if (d == nullptr) {
    close(fd);
    return false;
  }
  while (struct dirent* entry = readdir(d.get())) visit(std::string_view(entry->d_name));
  return true;
}

// A regular file owned by us, not followed if a link: its stat.
bool StatOurRegularFile(int dir_fd, const std::string& name, struct stat* st) {
  return fstatat(dir_fd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st->st_mode) &&
         st->st_uid == geteuid();
}

// Runs `body` with the directory at `dir` opened (O_NOFOLLOW), or returns
// `fallback` when it cannot be.
template <typename T, typename Body>
T WithDirectory(const std::string& dir, T fallback, Body body) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fallback;
  T result = body(fd);
  close(fd);
  return result;
}

}  // namespace

namespace {

// "YYYYMMDD-HHMMSS.ffffff" at the start of `rest`, consumed.
bool ConsumeTimestamp(std::string_view* rest) {
  std::string_view r = *rest;
  if (!Digits(r, 8) || r.size() < 9 || r[8] != '-') return false;
  r.remove_prefix(9);
  if (!Digits(r, 6) || r.size() < 7 || r[6] != '.') return false;
  r.remove_prefix(7);
  if (!Digits(r, 6)) return false;
  r.remove_prefix(6);
  *rest = r;
  return true;
}

}  // namespace

bool ParseReportFileName(std::string_view name, std::string_view* stem) {
  std::string_view rest = name;
  // profile-YYYYMMDD-HHMMSS.ffffff.json: one file, its own unit.
  if (ConsumePrefix(&rest, "profile-")) {
    if (!ConsumeSuffix(&rest, ".json") || !ConsumeTimestamp(&rest) || !rest.empty()) return false;
    *stem = name.substr(0, name.size() - 5);
    return true;
  }
  // stacktrace-YYYYMMDD-HHMMSS.ffffff-N.{txt,json}
  constexpr std::string_view kPrefix = "stacktrace-";
  if (!ConsumePrefix(&rest, kPrefix)) return false;
  if (!ConsumeSuffix(&rest, ".txt") && !ConsumeSuffix(&rest, ".json")) return false;
  const std::string_view timestamp = rest;
  if (!ConsumeTimestamp(&rest) || rest.size() < 2 || rest[0] != '-') return false;
  rest.remove_prefix(1);
  if (!Digits(rest, rest.size())) return false;
  *stem = name.substr(0, kPrefix.size() + timestamp.size());
  return true;
}

bool ParseTempFileName(std::string_view name, pid_t* writer) {
  if (!StartsWith(name, ".stacktrace-") && !StartsWith(name, ".profile-") &&
      !StartsWith(name, ".aiowatchdog-probe-")) {
    return false;
  }
  std::string_view rest = name;
  if (!ConsumeSuffix(&rest, ".tmp")) return false;
  const size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos) return false;
  const std::string_view pid_text = rest.substr(dot + 1);
  if (pid_text.empty() || !Digits(pid_text, pid_text.size())) return false;
  if (pid_text.size() > 9) return false;  // pids are below 2^22
  int32_t pid = 0;
  for (char c : pid_text) pid = pid * 10 + (c - '0');
  if (pid <= 0) return false;
  *writer = static_cast<pid_t>(pid);
  return true;
}

bool IsOurReportFile(int dir_fd, std::string_view name) {
  const std::string file(name);
  struct stat st;
  if (!StatOurRegularFile(dir_fd, file, &st)) return false;
  const int fd = openat(dir_fd, file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  char head[256];
  ssize_t got = 0;
  struct stat opened;
  if (fstat(fd, &opened) == 0 && S_ISREG(opened.st_mode) && opened.st_uid == geteuid()) {
    do {
      got = pread(fd, head, sizeof(head), 0);
    } while (got < 0 && errno == EINTR);
  }
  close(fd);
  if (got <= 0) return false;
  const std::string_view text(head, static_cast<size_t>(got));
  if (ConsumeSuffix(&name, ".txt")) return StartsWith(text, "# aiowatchdog hang report (schema ");
  // Our JSON renderers put the schema first (json_report.cc, episode_profile.cc).
  const std::string_view schema = StartsWith(name, "profile-") ? "\"schema\": \"aiowatchdog.profile\""
                                                                : "\"schema\": \"aiowatchdog.report\"";
  return StartsWith(text, "{") && text.find(schema) != std::string_view::npos &&
         text.find(schema) < 16;
}

PruneResult PruneReports(const std::string& dir, const RetentionLimits& limits) {
  return WithDirectory(dir, PruneResult{}, [&](int fd) { return PruneReports(fd, limits); });
}

int RemoveStaleTempFiles(const std::string& dir) {
  return WithDirectory(dir, 0, [](int fd) { return RemoveStaleTempFiles(fd); });
}

PruneResult PruneReports(int dir_fd, const RetentionLimits& limits) {
  std::unordered_map<std::string, StoredReport> by_stem;  // exception-safe on OOM
  ForEachEntry(dir_fd, [&](std::string_view name) {
    std::string_view stem;  // name ends in ".txt" or ".json" from here on
    if (!ParseReportFileName(name, &stem)) return;
    std::string file(name);
    struct stat st;
    if (!StatOurRegularFile(dir_fd, file, &st) || !IsOurReportFile(dir_fd, name)) return;
    StoredReport& report = by_stem[std::string(stem)];
    report.stem = std::string(stem);
    report.newest_mtime_ns = std::max(report.newest_mtime_ns, MtimeNs(st));
    report.bytes += st.st_size;
    (name.back() == 't' ? report.text_name : report.json_name) = std::move(file);
  });
  std::vector<StoredReport*> newest_first;
  newest_first.reserve(by_stem.size());
  for (auto& [stem, report] : by_stem) newest_first.push_back(&report);
  std::sort(newest_first.begin(), newest_first.end(), [](const StoredReport* a, const StoredReport* b) {
    return std::tie(a->newest_mtime_ns, a->stem) > std::tie(b->newest_mtime_ns, b->stem);
  });

  PruneResult result;
  int64_t kept_bytes = 0;
  for (const StoredReport* report : newest_first) {
    const bool fits = result.kept_reports < limits.max_reports &&
                      kept_bytes + report->bytes <= limits.max_bytes;
    if (fits || result.kept_reports == 0) {
      ++result.kept_reports;
      kept_bytes += report->bytes;
      continue;
    }
    // Past the first report over a limit everything older goes too, so that
    // what is kept is always the newest run of reports, without gaps.
    // The .txt before its .json (the reverse of writing), so that a process
    // killed in between never leaves a text report without its twin.
    bool removed = false;
    for (const std::string* name : {&report->text_name, &report->json_name}) {
      if (!name->empty()) removed |= unlinkat(dir_fd, name->c_str(), 0) == 0;
    }
    if (removed) {
      ++result.removed_reports;
      result.removed_bytes += report->bytes;
    }
    kept_bytes = limits.max_bytes + 1;  // nothing older fits any more
  }
  return result;
}

int RemoveStaleTempFiles(int dir_fd) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  const int64_t now_ns = static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  int removed = 0;
  ForEachEntry(dir_fd, [&](std::string_view name) {
    pid_t writer = 0;
    if (!ParseTempFileName(name, &writer)) return;
    const std::string file(name);
    struct stat st;
    if (!StatOurRegularFile(dir_fd, file, &st)) return;  // not ours, or not a file
    const bool writer_gone = kill(writer, 0) != 0 && errno == ESRCH;
    const bool too_old = now_ns - MtimeNs(st) > kStaleTempAgeNs;
    if ((writer_gone || too_old) && unlinkat(dir_fd, file.c_str(), 0) == 0) ++removed;
  });
  return removed;
}

}  // namespace aiowatchdog
