// See gc_callback.h.
#include "gc_callback.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "detect/gc_phase.h"

namespace aiowatchdog {
namespace {

// gettid() is a system call: asked once per thread. A forked child's only
// thread is a copy of the forking one with a new id: forget it there.
// initial-exec: in the static TLS block, so the fork child handler's store
// never makes glibc allocate this module's block (lazily, with malloc) for a
// thread that never touched it: a fork handler must not allocate.
__attribute__((tls_model("initial-exec"))) thread_local pid_t t_tid = 0;

pid_t CurrentTid() {
  if (t_tid == 0) t_tid = static_cast<pid_t>(syscall(SYS_gettid));
  return t_tid;
}

void ForgetTidInChild() { t_tid = 0; }

// gc calls it with ("start" | "stop", info); any phase but "start" ends the
// collection. Never raises: an exception here would be printed on every
// collection.
PyObject* GcCallback(PyObject* /*self*/, PyObject* const* args, Py_ssize_t nargs) {
  const bool start = nargs >= 1 && PyUnicode_Check(args[0]) &&
                     PyUnicode_CompareWithASCIIString(args[0], "start") == 0;
  NoteCollectingThread(start ? CurrentTid() : 0);
  Py_RETURN_NONE;
}

PyMethodDef g_gc_callback_def = {
    "gc_callback", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(GcCallback)),
    METH_FASTCALL,
    "gc_callback(phase, info)\n--\n\nFor gc.callbacks: notes the thread a collection runs on "
    "(phase \"start\") until it ends (\"stop\"), for the loop's activity in hang reports."};

}  // namespace

PyObject* NewGcCallback(PyObject* module_name) {
  static const int registered = pthread_atfork(nullptr, nullptr, ForgetTidInChild);
  (void)registered;
  return PyCFunction_NewEx(&g_gc_callback_def, nullptr, module_name);
}

}  // namespace aiowatchdog
