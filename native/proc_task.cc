// Readers for /proc/self/task/<tid>/{stat,status}; see proc_task.h.
#include "proc_task.h"

#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace aiowatchdog {

std::optional<TaskInfo> ReadTaskInfo(pid_t tid) {
  const std::string base = "/proc/self/task/" + std::to_string(tid);
  std::ifstream stat(base + "/stat");
  std::string line;
  if (!stat || !std::getline(stat, line)) return std::nullopt;
  TaskInfo info;
  // "tid (comm) S ...": comm may itself hold spaces and parentheses, so the
  // state is the field after the *last* closing parenthesis.
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= line.size()) {
    return std::nullopt;
  }
  info.comm = line.substr(open + 1, close - open - 1);
  info.state = line[close + 2];

  std::ifstream status(base + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("SigBlk:", 0) == 0) {
      info.blocked_signals = std::strtoull(line.c_str() + 7, nullptr, 16);
      break;
    }
  }
  return info;
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
