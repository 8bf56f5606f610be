/* Memory short for threads other than the main one, as a process near its
 * limit finds it: with LD_PRELOAD, malloc of 64 KiB or more fails (ENOMEM)
 * in every thread but the main thread (the one whose tid is the pid).
 * Smaller requests, and the main thread's, are served as usual. For
 * limits.py's "none" run: the watchdog thread is then the only one short of
 * memory, whatever the interpreter's own allocations happened to leave free,
 * which a real RLIMIT_AS run cannot promise. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);

void *malloc(size_t size) {
  if (size >= (64 << 10) && syscall(SYS_gettid) != getpid()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_malloc(size);
}
