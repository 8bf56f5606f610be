// Our walks of the loaded objects never leave a forked child with the
// loader's lock held (loader_walk.h): forks while a thread walks slowly, and
// each child then walks the objects itself, as its first dlopen would lock.
#include "proc/loader_walk.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace aiowatchdog {
namespace {

int SlowCopy(dl_phdr_info*, size_t, void*) noexcept {
  usleep(500);  // a walk long enough for forks to land inside it
  return 0;
}

int Count(dl_phdr_info*, size_t, void* data) {
  ++*static_cast<int*>(data);
  return 0;
}

TEST(LoaderWalk, AForkDuringAWalkLeavesTheChildTheLoader) {
  std::atomic<bool> stop{false};
  std::thread walker([&] {
    while (!stop.load()) WalkLoadedObjects(SlowCopy, nullptr);
  });
  int hung = 0;
  for (int i = 0; i < 30; ++i) {
    usleep(1000);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      alarm(5);  // the loader's lock held: SIGALRM ends the child
      int objects = 0;
      dl_iterate_phdr(Count, &objects);
      _exit(objects > 0 ? 0 : 3);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++hung;
  }
  stop.store(true);
  walker.join();
  EXPECT_EQ(hung, 0) << "children whose dl_iterate_phdr waited for our walk's lock";
}

}  // namespace
}  // namespace aiowatchdog
