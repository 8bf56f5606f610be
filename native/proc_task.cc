// Readers for /proc/self/task/<tid>/{stat,status,wchan}; see proc_task.h.
// Raw open/read into stack buffers: a capture reads these for every thread,
// and iostreams cost several times more.
#include "proc_task.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

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

std::vector<pid_t> ListTaskIds() {
  std::vector<pid_t> ids;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return ids;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long tid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && tid > 0) ids.push_back(static_cast<pid_t>(tid));
  }
  closedir(dir);
  return ids;
}

}  // namespace aiowatchdog
