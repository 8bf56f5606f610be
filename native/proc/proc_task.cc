// Readers for /proc/self/task/<tid>/{stat,status,wchan,schedstat,syscall};
// see proc_task.h.
// Raw open/read into stack buffers: a capture reads these for every thread,
// and iostreams cost several times more.
#include "proc/proc_task.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/dir_stream.h"

namespace aiowatchdog {
namespace {

// Reads one small /proc file into buf (NUL-terminated); its length or -1.
ssize_t ReadSmallFile(pid_t tid, const char* name, char* buf, size_t size) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/%s", static_cast<int>(tid), name);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = '\0';
  return n;
}

// A decimal number at the start of `text` (after spaces), advancing it past
// the number; nothing when there is none or it does not fit.
std::optional<int64_t> TakeNumber(std::string_view& text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  int64_t value = 0;
  while (!text.empty() && text.front() >= '0' && text.front() <= '9') {
    const int digit = text.front() - '0';
    if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    text.remove_prefix(1);
  }
  return negative ? -value : value;
}

bool AtFieldEnd(std::string_view text) {
  return text.empty() || text.front() == ' ' || text.front() == '\n';
}

}  // namespace

std::optional<KernelTaskInfo> ReadTaskInfo(pid_t tid) {
  char buf[1024];
  if (ReadSmallFile(tid, "stat", buf, sizeof(buf)) <= 0) return std::nullopt;
  // "tid (comm) S ...": comm may itself hold spaces and parentheses, so the
  // state is the field after the *last* closing parenthesis.
  const char* open = std::strchr(buf, '(');
  const char* close = std::strrchr(buf, ')');
  if (open == nullptr || close == nullptr || close < open || close[1] != ' ' || close[2] == '\0') {
    return std::nullopt;
  }
  KernelTaskInfo info;
  info.comm.assign(open + 1, close);
  info.state = close[2];
  // Fields 3 on follow the parenthesis, one space each: starttime is the
  // 22nd, the 19th after the state.
  const char* field = close + 2;
  for (int skip = 0; skip < 19 && field != nullptr; ++skip) {
    field = std::strchr(field, ' ');
    if (field != nullptr) ++field;
  }
  if (field != nullptr) {
    char* end = nullptr;
    const long long ticks = std::strtoll(field, &end, 10);
    if (end != field && (*end == ' ' || *end == '\0' || *end == '\n')) info.start_ticks = ticks;
  }
  return info;
}

std::optional<uint64_t> ReadBlockedSignals(pid_t tid) {
  char buf[2048];
  if (ReadSmallFile(tid, "status", buf, sizeof(buf)) <= 0) return std::nullopt;
  const char* line = std::strstr(buf, "\nSigBlk:");
  if (line == nullptr) return std::nullopt;
  return std::strtoull(line + 8, nullptr, 16);
}

std::string ReadWaitChannel(pid_t tid) {
  char buf[128];
  if (ReadSmallFile(tid, "wchan", buf, sizeof(buf)) <= 0) return "";
  buf[std::strcspn(buf, "\n")] = '\0';
  return std::strcmp(buf, "0") == 0 ? "" : buf;
}

std::optional<SchedStat> ParseSchedStat(std::string_view text) {
  SchedStat stat;
  int64_t* fields[] = {&stat.cpu_ns, &stat.runqueue_ns, &stat.timeslices};
  for (int64_t* field : fields) {
    const std::optional<int64_t> value = TakeNumber(text);
    if (!value || *value < 0 || !AtFieldEnd(text)) return std::nullopt;
    *field = *value;
  }
  return stat;
}

std::optional<SchedStat> ReadSchedStat(pid_t tid) {
  char buf[128];
  if (ReadSmallFile(tid, "schedstat", buf, sizeof(buf)) <= 0) return std::nullopt;
  return ParseSchedStat(buf);
}

std::optional<int64_t> ParseSyscallNumber(std::string_view text) {
  // "<nr> <args...> <sp> <pc>", "-1 <sp> <pc>" or "running".
  const std::optional<int64_t> number = TakeNumber(text);
  if (!number || !AtFieldEnd(text) || *number < kNotInSyscall) return std::nullopt;
  return number;
}

std::optional<int64_t> ReadSyscallNumber(pid_t tid) {
  char buf[256];
  if (ReadSmallFile(tid, "syscall", buf, sizeof(buf)) <= 0) return std::nullopt;
  return ParseSyscallNumber(buf);
}

std::optional<int64_t> ReadThreadCpuNs(pid_t tid) {
  // The clock id glibc's pthread_getcpuclockid makes for a thread: the
  // kernel's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED).
  const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 4 | 2);
  timespec ts;
  if (tid <= 0 || clock_gettime(clock, &ts) != 0) return std::nullopt;
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

SchedSnapshot ReadSchedSnapshot(pid_t tid) {
  SchedSnapshot snapshot;
  if (const std::optional<KernelTaskInfo> info = ReadTaskInfo(tid)) snapshot.state = info->state;
  snapshot.syscall = ReadSyscallNumber(tid);
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  snapshot.at_ns = now.tv_sec * 1'000'000'000LL + now.tv_nsec;
  snapshot.cpu_ns = ReadThreadCpuNs(tid);
  snapshot.sched = ReadSchedStat(tid);
  return snapshot;
}

std::vector<pid_t> ListTaskIds() {
  std::vector<pid_t> ids;
  DirStream dir(opendir("/proc/self/task"));
  if (dir == nullptr) return ids;
  while (const dirent* entry = readdir(dir.get())) {
    char* end = nullptr;
    const long tid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && tid > 0) ids.push_back(static_cast<pid_t>(tid));
  }
  return ids;
}

}  // namespace aiowatchdog
