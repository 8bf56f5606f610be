// See loader_walk.h.
#include "proc/loader_walk.h"

#include <pthread.h>

namespace aiowatchdog {
namespace {

pthread_mutex_t g_walk = PTHREAD_MUTEX_INITIALIZER;

void LockForFork() { pthread_mutex_lock(&g_walk); }
// In the parent, and in the child, whose only thread is the forking one that
// took it: released by its owner, as a mutex must be.
void UnlockAfterFork() { pthread_mutex_unlock(&g_walk); }

// Registered when the module is loaded, before any walk of ours can run.
const int g_registered = pthread_atfork(LockForFork, UnlockAfterFork, UnlockAfterFork);

}  // namespace

int WalkLoadedObjects(int (*callback)(dl_phdr_info*, size_t, void*), void* data) {
  (void)g_registered;
  pthread_mutex_lock(&g_walk);
  const int result = dl_iterate_phdr(callback, data);
  pthread_mutex_unlock(&g_walk);
  return result;
}

}  // namespace aiowatchdog
