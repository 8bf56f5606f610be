// The process's open descriptors, for tests that check what a component
// keeps open (and that it is close-on-exec).
#ifndef AIOWATCHDOG_TESTS_NATIVE_OPEN_DESCRIPTORS_H_
#define AIOWATCHDOG_TESTS_NATIVE_OPEN_DESCRIPTORS_H_

#include <dirent.h>
#include <fcntl.h>

#include <cstdlib>
#include <set>
#include <vector>

namespace aiowatchdog {
namespace testing {

inline std::set<int> OpenDescriptors() {
  std::set<int> fds;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') fds.insert(std::atoi(entry->d_name));
    }
    closedir(dir);
  }
  return fds;
}

// Descriptors opened since `before` (still open): how many, and those
// without FD_CLOEXEC, which an exec'd program would inherit.
struct NewDescriptors {
  int count = 0;
  std::vector<int> inheritable;
};

inline NewDescriptors DescriptorsOpenedSince(const std::set<int>& before) {
  NewDescriptors found;
  for (int fd : OpenDescriptors()) {
    if (before.count(fd)) continue;
    const int flags = fcntl(fd, F_GETFD);
    if (flags < 0) continue;  // opendir's own, closed since
    ++found.count;
    if (!(flags & FD_CLOEXEC)) found.inheritable.push_back(fd);
  }
  return found;
}

}  // namespace testing
}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_TESTS_NATIVE_OPEN_DESCRIPTORS_H_
