/* Native code for the integration tests, built at test time into a shared
 * library (tests/runner.py) and loaded with ctypes.PyDLL, which keeps the GIL
 * held during calls: the case no Python-level watchdog can see.
 *
 * Every wait retries on EINTR for the time remaining, as well-behaved C code
 * does, so a capture signal never shortens it. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>

static struct timespec deadline_after_ms(int ms) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec += 1;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

static void sleep_until(struct timespec deadline) {
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR) {
  }
}

/* Sleeps `ms` milliseconds in native code; called through PyDLL, with the GIL. */
__attribute__((noinline)) void awd_test_sleep_holding_gil(int ms) {
  sleep_until(deadline_after_ms(ms));
}

/* Spins `ms` milliseconds on the CPU; called through PyDLL, with the GIL. */
__attribute__((noinline)) long awd_test_spin_holding_gil(int ms) {
  struct timespec deadline = deadline_after_ms(ms), now;
  volatile long n = 0;
  do {
    for (int i = 0; i < 10000; ++i) n += i;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (now.tv_sec < deadline.tv_sec ||
           (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec));
  return n;
}

__attribute__((noinline)) static void *awd_test_native_thread_body(void *arg) {
  sleep_until(deadline_after_ms((int)(long)arg));
  return NULL;
}

/* Starts a thread that never runs Python and sleeps `ms` milliseconds. */
int awd_test_start_native_thread(int ms) {
  pthread_t thread;
  if (pthread_create(&thread, NULL, awd_test_native_thread_body, (void *)(long)ms) != 0) {
    return -1;
  }
  return pthread_detach(thread);
}
