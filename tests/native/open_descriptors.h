// The process's open descriptors, for tests that check what a component
// keeps open (and that it is close-on-exec).
#ifndef AIOWATCHDOG_TESTS_NATIVE_OPEN_DESCRIPTORS_H_
#define AIOWATCHDOG_TESTS_NATIVE_OPEN_DESCRIPTORS_H_

#include <dirent.h>

#include <cstdlib>
#include <set>

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

}  // namespace testing
}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_TESTS_NATIVE_OPEN_DESCRIPTORS_H_
