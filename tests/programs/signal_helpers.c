/* Native helpers for tests/integration/test_signal_coexistence.py, built at
 * test time into a shared library and loaded with ctypes.CDLL (the GIL is
 * released during calls):
 *
 * - an application's own SA_SIGINFO handler for a signal, installed with
 *   sigaction, that counts what reaches it by si_code and, on request, passes
 *   every signal on to the handler it replaced by calling it, as chain-aware
 *   libraries do;
 * - sigqueue with a value, for a process that is not the one under test;
 * - the address of a signal's current handler, to tell whose is on top;
 * - single read/recv/waitpid calls that do NOT retry on EINTR, as careless C
 *   extensions do: they return the right result under a storm of capture
 *   signals only because the capture handler is installed with SA_RESTART. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kUser, kTkill, kQueueForeign, kQueueSelf, kOther, kKinds };

static volatile long counts[kKinds];
static volatile uintptr_t last_queue_value;
static volatile pid_t last_queue_pid;
static struct sigaction replaced; /* what awd_sig_install replaced */
static int forward;

/* Runs in a signal handler: atomic increments and plain stores only. */
static void app_handler(int signo, siginfo_t* info, void* context) {
  int kind = kOther;
  if (info->si_code == SI_USER) {
    kind = kUser;
  } else if (info->si_code == SI_TKILL) {
    kind = kTkill;
  } else if (info->si_code == SI_QUEUE) {
    kind = info->si_pid == getpid() ? kQueueSelf : kQueueForeign;
    if (kind == kQueueForeign) {
      last_queue_value = (uintptr_t)info->si_value.sival_ptr;
      last_queue_pid = info->si_pid;
    }
  }
  __atomic_add_fetch(&counts[kind], 1, __ATOMIC_SEQ_CST);
  if (forward && (replaced.sa_flags & SA_SIGINFO) && replaced.sa_sigaction != NULL) {
    replaced.sa_sigaction(signo, info, context);
  }
}

/* Installs app_handler for `signo`; with `forward_to_replaced`, it passes
 * each signal on to the handler it replaces. Returns 0 or an errno. */
int awd_sig_install(int signo, int forward_to_replaced) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_sigaction = app_handler;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  forward = forward_to_replaced;
  return sigaction(signo, &action, &replaced) == 0 ? 0 : errno;
}

/* Signals app_handler has seen of one kind: 0 SI_USER (kill), 1 SI_TKILL
 * (pthread_kill), 2 SI_QUEUE from another process, 3 SI_QUEUE from this one
 * (where aiowatchdog's own capture signals would land), 4 anything else. */
long awd_sig_count(int kind) {
  return kind >= 0 && kind < kKinds ? __atomic_load_n(&counts[kind], __ATOMIC_SEQ_CST) : -1;
}

uint64_t awd_sig_last_queue_value(void) { return last_queue_value; }
int awd_sig_last_queue_pid(void) { return last_queue_pid; }

/* sigqueue(pid, signo) carrying `value`; 0 or an errno. */
int awd_sig_queue(int pid, int signo, uint64_t value) {
  union sigval sv;
  sv.sival_ptr = (void*)(uintptr_t)value;
  return sigqueue(pid, signo, sv) == 0 ? 0 : errno;
}

/* The address of `signo`'s current handler (or SIG_DFL/SIG_IGN's value). */
uintptr_t awd_sig_handler_address(int signo) {
  struct sigaction current;
  if (sigaction(signo, NULL, &current) != 0) return 0;
  return (current.sa_flags & SA_SIGINFO) ? (uintptr_t)current.sa_sigaction
                                         : (uintptr_t)current.sa_handler;
}

/* One read(2), no retry: the byte count, or -errno (-EINTR if interrupted). */
long awd_sig_raw_read(int fd, char* buffer, long size) {
  ssize_t n = read(fd, buffer, (size_t)size);
  return n >= 0 ? (long)n : -(long)errno;
}

/* One recv(2), no retry: the byte count, or -errno. */
long awd_sig_raw_recv(int fd, char* buffer, long size) {
  ssize_t n = recv(fd, buffer, (size_t)size, 0);
  return n >= 0 ? (long)n : -(long)errno;
}

/* One waitpid(2), no retry: the child's exit code, or -errno. */
int awd_sig_raw_waitpid(int pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -errno;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}
