// A stand-in for the CPython frame walker: the native tests run without an
// interpreter, so the "Python stack" each thread records is this one frame,
// stamped with the thread's kernel id so a test can tell who answered.
#ifndef AIOWATCHDOG_TESTS_FAKE_WALKER_H_
#define AIOWATCHDOG_TESTS_FAKE_WALKER_H_

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "model/py_stack.h"

namespace aiowatchdog::testing {

// The signal every native test uses: one capture signal per process.
inline int TestSignal() { return SIGRTMIN + 7; }

// Runs in a signal handler: plain stores and gettid only.
inline void FakeWalker(awd_py_stack* out) {
  const long tid = syscall(SYS_gettid);
  out->has_python = 1;
  out->thread_ident = static_cast<uint64_t>(tid) * 10;
  out->depth = 2;
  std::strcpy(out->frames[0].file, "/fake/inner.py");
  std::strcpy(out->frames[0].func, "blocking_call");
  out->frames[0].line = 7;
  out->frames[0].is_coroutine = 0;
  std::strcpy(out->frames[1].file, "/fake/outer.py");
  std::strcpy(out->frames[1].func, "main");
  out->frames[1].line = static_cast<int32_t>(tid);
  out->frames[1].is_coroutine = 1;
}

}  // namespace aiowatchdog::testing

#endif  // AIOWATCHDOG_TESTS_FAKE_WALKER_H_
