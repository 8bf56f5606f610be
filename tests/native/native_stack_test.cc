// The watchdog thread's thread-local storage warm-up against the dynamic
// loader's locks: a program imports extension modules (dlopen) from any of its
// threads at any time, and a watchdog thread starts whenever start() is called.
#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "capture/native_stack.h"

namespace aiowatchdog {
namespace {

// A library with thread-local storage that the test binary does not load at
// startup: each dlopen of it makes a module whose block no thread has yet.
constexpr const char* kTlsLibrary = "libuuid.so.1";

int64_t MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// In a child (a deadlocked thread cannot be taken back): one thread loads and
// unloads the library over and over, the other starts fresh threads that
// each warm their storage up, for a second. The child exits 0 when done; the
// parent gives it 30 s. Before the fix, the warm-up touched each module's block
// inside dl_iterate_phdr, and the two deadlocked within milliseconds.
TEST(NativeStack, ThreadLocalWarmUpNeverDeadlocksWithADlopenElsewhere) {
#if defined(__SANITIZE_THREAD__)
  // TSan does not see the loader's own lock (dl_load_lock, inside ld.so), so
  // a dlclose in one thread freeing what a dlopen in another allocated reads
  // to it as a race (seen in _dl_close_worker against _dl_check_map_versions).
  GTEST_SKIP() << "TSan cannot see ld.so's lock between dlopen and dlclose";
#endif
  void* probe = dlopen(kTlsLibrary, RTLD_NOW | RTLD_LOCAL);
  if (probe == nullptr) GTEST_SKIP() << "no " << kTlsLibrary << " here";
  dlclose(probe);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(60);  // never outlives the parent's wait by much
    std::atomic<bool> done{false};
    std::thread loader([&done] {
      while (!done.load()) {
        void* handle = dlopen(kTlsLibrary, RTLD_NOW | RTLD_LOCAL);
        if (handle != nullptr) dlclose(handle);
      }
    });
    const int64_t end = MonotonicMs() + 1000;
    while (MonotonicMs() < end) std::thread(WarmUpThreadLocalStorage).join();
    done.store(true);
    loader.join();
    _exit(0);
  }
  int status = 0;
  pid_t waited = 0;
  for (int i = 0; i < 3000 && (waited = waitpid(child, &status, WNOHANG)) == 0; ++i) usleep(10000);
  if (waited == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL() << "the warm-up and a dlopen in another thread deadlocked";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace aiowatchdog
